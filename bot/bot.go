// Package bot is the Slack adapter of incidentbot. It receives Socket Mode
// envelopes, acknowledges them at once after writing them to the durable
// inbox, processes them from the job queue through the incident desk, and
// performs the Slack side effects the desk plans (channels, cards,
// announcements, invitations, reminders), retrying them until done.
package bot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/slack-go/slack"

	"github.com/incidentbot/incidentbot/incident"
	"github.com/incidentbot/incidentbot/incident/desk"
	"github.com/incidentbot/incidentbot/review"
	"github.com/incidentbot/incidentbot/review/reviewstore"
)

// SlackAPI is the subset of *slack.Client the bot calls.
type SlackAPI interface {
	AuthTestContext(ctx context.Context) (*slack.AuthTestResponse, error)
	CreateConversationContext(ctx context.Context, params slack.CreateConversationParams) (*slack.Channel, error)
	GetConversationsContext(ctx context.Context, params *slack.GetConversationsParameters) ([]slack.Channel, string, error)
	SetTopicOfConversationContext(ctx context.Context, channelID, topic string) (*slack.Channel, error)
	InviteUsersToConversationContext(ctx context.Context, channelID string, users ...string) (*slack.Channel, error)
	OpenConversationContext(ctx context.Context, params *slack.OpenConversationParameters) (*slack.Channel, bool, bool, error)
	PostMessageContext(ctx context.Context, channelID string, options ...slack.MsgOption) (string, string, error)
	UpdateMessageContext(ctx context.Context, channelID, timestamp string, options ...slack.MsgOption) (string, string, string, error)
	PostEphemeralContext(ctx context.Context, channelID, userID string, options ...slack.MsgOption) (string, error)
	AddPinContext(ctx context.Context, channel string, item slack.ItemRef) error
	AddBookmarkContext(ctx context.Context, channelID string, params slack.AddBookmarkParameters) (slack.Bookmark, error)
	OpenViewContext(ctx context.Context, triggerID string, view slack.ModalViewRequest) (*slack.ViewResponse, error)
	PublishViewContext(ctx context.Context, req slack.PublishViewContextRequest) (*slack.ViewResponse, error)
	GetConversationHistoryContext(ctx context.Context, params *slack.GetConversationHistoryParameters) (*slack.GetConversationHistoryResponse, error)
	JoinConversationContext(ctx context.Context, channelID string) (*slack.Channel, string, []string, error)
	ArchiveConversationContext(ctx context.Context, channelID string) error
	GetUserInfoContext(ctx context.Context, user string, options ...slack.GetUserInfoOption) (*slack.User, error)
}

// Store is what the bot keeps besides incidents: the inbox and job queue,
// deduplication, and small adapter state (channel IDs, card timestamps).
type Store interface {
	Enqueue(ctx context.Context, jobs ...desk.Job) error
	Put(ctx context.Context, bucket, key string, value []byte) error
	GetKV(ctx context.Context, bucket, key string) ([]byte, bool, error)
	Scan(ctx context.Context, bucket, prefix string, fn func(key string, value []byte) error) error
	UpdateRecords(ctx context.Context, number int64, fn func(inc *incident.Incident, recs desk.Records) ([]desk.Job, error)) (*incident.Incident, error)
}

// Options configure a Bot. The zero value is usable.
type Options struct {
	Logger          *slog.Logger
	Now             func() time.Time
	AnnounceChannel string // name or ID of the org-wide announce channel
	PublicURL       string
	// StoreTimeout bounds each storage call of the Socket Mode intake; an
	// envelope not stored by then is left unacknowledged, and Slack
	// delivers it again. Default 10 s.
	StoreTimeout time.Duration
	// HTTPClient posts to response_url; nil uses a client with a timeout.
	HTTPClient *http.Client
	// Wake is called after new jobs were enqueued (the runner's Wake).
	Wake func()
	// Renderer drafts and renders post-incident reviews; nil uses the
	// embedded templates (review.Default).
	Renderer *review.Renderer
	// ObserveEnvelope, if set, is told what became of each Socket Mode
	// envelope and how long its acknowledgement took (for metrics).
	ObserveEnvelope func(EnvelopeEvent)
	// PreviewTTL is how long a review's preview link works (0:
	// DefaultPreviewTTL; review.preview_ttl).
	PreviewTTL time.Duration
}

// Bot is the Slack adapter.
type Bot struct {
	api   SlackAPI
	desk  *desk.Desk
	store Store
	cat   *incident.Catalogue
	log   *slog.Logger
	now   func() time.Time
	opts  Options
	http  *http.Client

	botUserID atomic.Value // string
	identity  atomic.Pointer[slack.AuthTestResponse]
	connected atomic.Bool

	reviews   *reviewstore.Store
	rd        *review.Renderer
	nameCache *nameCache // user ID → display name, for reviews
}

// New returns a Bot.
func New(api SlackAPI, d *desk.Desk, store Store, opts Options) *Bot {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = d.Now
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if opts.StoreTimeout <= 0 {
		opts.StoreTimeout = 10 * time.Second
	}
	if opts.Wake == nil {
		opts.Wake = func() {}
	}
	if opts.Renderer == nil {
		rd, err := review.Default()
		if err != nil {
			panic(fmt.Sprintf("bot: the embedded review templates do not load: %v", err))
		}
		opts.Renderer = rd
	}
	b := &Bot{api: api, desk: d, store: store, cat: d.Catalogue(), log: opts.Logger, now: opts.Now, opts: opts, http: opts.HTTPClient,
		reviews: reviewstore.New(store), rd: opts.Renderer, nameCache: newNameCache(nameCacheSize)}
	b.botUserID.Store("")
	return b
}

// Connected reports whether the Socket Mode connection is up (for /readyz).
func (b *Bot) Connected() bool { return b.connected.Load() }

func (b *Bot) botUser() string { return b.botUserID.Load().(string) }

// logConnected says, once a connection is up, which workspace and bot user
// the bot runs as (empty until auth.test has answered).
func (b *Bot) logConnected() {
	id := b.identity.Load()
	if id == nil {
		id = &slack.AuthTestResponse{}
	}
	b.log.Info("connected to Slack", "team", id.Team, "team_id", id.TeamID, "bot_user", id.User, "bot_user_id", id.UserID)
}

// Register installs the bot's job handlers on a runner.
func (b *Bot) Register(r *desk.Runner) {
	r.Handle(JobInbox, b.handleInbox)
	r.Handle(JobReply, b.sendReply)
	r.Handle(JobChannel, b.ensureChannel)
	r.Handle(JobPrivateChannel, b.makePrivate)
	r.Handle(JobCard, b.updateCard)
	r.Handle(JobPost, b.postEvent)
	r.Handle(JobAnnounce, b.announce)
	r.Handle(JobManagers, b.notifyManagers)
	r.Handle(JobInvite, b.invite)
	r.Handle(JobRemind, b.remind)
	r.Handle(JobConfirmResolve, b.confirmResolve)
	r.Handle(JobHomes, b.publishHomes)
	r.Handle(JobHome, b.publishHome)
	r.Handle(JobCatchUp, b.catchUp)
	r.Handle(desk.JobReview, b.draftReview)
	r.Handle(JobArchive, b.archiveMerged)
	r.Handle(JobPageDM, b.pageDM)
	r.Handle(JobReviewDrafted, b.reviewDrafted)
	r.Handle(JobReviewPosted, b.reviewPublished)
	r.Handle(JobActionPosted, b.actionPosted)
	r.Handle(JobActionDone, b.actionDone)
}

// Classify maps errors to retry decisions for the runner: a 429 waits for
// its Retry-After; 5xx and network errors back off; Slack's error codes
// that retrying cannot fix, and the desk's refusals (invalid input, not
// found, conflict, forbidden), are permanent: the runner logs the job once
// with the reason and drops it.
func Classify(err error) (time.Duration, bool, bool) {
	var rl *slack.RateLimitedError
	if errors.As(err, &rl) {
		d := rl.RetryAfter
		if d <= 0 {
			d = time.Second
		}
		return d, false, true
	}
	var se slack.SlackErrorResponse
	if errors.As(err, &se) {
		switch {
		case transientSlack[se.Err]:
			return 0, false, false
		case permanentSlack[se.Err]:
			return 0, true, true
		}
	}
	switch incident.ErrorCode(err) {
	case incident.EINVALID, incident.ENOTFOUND, incident.ECONFLICT, incident.EFORBIDDEN:
		return 0, true, true
	}
	return 0, false, false
}

// transientSlack are the Slack error codes worth retrying.
var transientSlack = set("internal_error", "fatal_error", "service_unavailable", "request_timeout", "ratelimited", "team_added_to_org")

// permanentSlack are the Slack error codes that the same call will meet
// again: the token, the message itself, or who and where it is for.
var permanentSlack = set(
	// the token and the app
	"invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive", "missing_scope",
	"not_allowed_token_type", "no_permission", "restricted_action", "ekm_access_denied", "team_access_not_granted",
	// the message
	"invalid_blocks", "invalid_blocks_format", "msg_too_long", "too_long", "no_text", "invalid_arguments",
	"invalid_attachments", "too_many_attachments", "invalid_metadata_format", "invalid_metadata_schema",
	"metadata_too_large", "invalid_json", "json_not_object", "invalid_form_data", "invalid_charset",
	// who and where
	"channel_not_found", "is_archived", "not_in_channel", "user_not_in_channel", "user_not_found",
	"users_not_found", "user_disabled", "cant_invite_self", "cant_invite", "message_not_found",
	"cant_update_message", "edit_window_closed", "cant_delete_message", "thread_not_found", "not_pinned",
	"no_item_specified", "bad_timestamp",
)

func set(codes ...string) map[string]bool {
	m := make(map[string]bool, len(codes))
	for _, c := range codes {
		m[c] = true
	}
	return m
}

// Bucket names of adapter state.
const (
	bucketChannels   = "slack_channels"      // incident number → channelState
	bucketChannelInc = "slack_channel_inc"   // channel ID → incident number, or movedMark + the new channel
	bucketMoves      = "slack_channel_moves" // incident number → moveState
	bucketHome       = "slack_home"          // user ID → last App Home open
)

type channelState struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Private    bool   `json:"private,omitempty"`
	Attempt    int    `json:"attempt,omitempty"`
	TopicSet   bool   `json:"topic_set,omitempty"`
	CardTS     string `json:"card_ts,omitempty"`
	Pinned     bool   `json:"pinned,omitempty"`
	Bookmarked bool   `json:"bookmarked,omitempty"`
	// MovedFrom is the public channel a security incident left for this
	// one (see makePrivate).
	MovedFrom string `json:"moved_from,omitempty"`
}

func (b *Bot) channelOf(ctx context.Context, number int64) (channelState, bool, error) {
	var cs channelState
	raw, ok, err := b.store.GetKV(ctx, bucketChannels, itoa(number))
	if err != nil || !ok {
		return cs, false, err
	}
	return cs, true, json.Unmarshal(raw, &cs)
}

func (b *Bot) saveChannel(ctx context.Context, number int64, cs channelState) error {
	raw, _ := json.Marshal(cs)
	return b.store.Put(ctx, bucketChannels, itoa(number), raw)
}

// incidentOfChannel maps an incident channel to its incident. A channel
// an incident moved away from maps to nothing.
func (b *Bot) incidentOfChannel(ctx context.Context, channelID string) (int64, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, b.opts.StoreTimeout)
	defer cancel()
	raw, ok, err := b.store.GetKV(ctx, bucketChannelInc, channelID)
	if err != nil || !ok || strings.HasPrefix(string(raw), movedMark) {
		return 0, false, err
	}
	var n int64
	_, err = fmt.Sscan(string(raw), &n)
	return n, err == nil, err
}

// load returns an incident with its state now.
func (b *Bot) load(ctx context.Context, number int64) (view, error) {
	inc, err := b.desk.Get(ctx, number)
	if err != nil {
		return view{}, err
	}
	now := b.now()
	return view{inc: inc, st: inc.State(b.cat.Policy, now), cat: b.cat, now: now}, nil
}

// loadCard is load with the service's weekly error budget, for the card
// and /incident status (unmapped services have none).
func (b *Bot) loadCard(ctx context.Context, number int64) (view, error) {
	v, err := b.load(ctx, number)
	if err != nil || v.inc.Unmapped {
		return v, err
	}
	bud, ok, err := b.desk.WeeklyBudget(ctx, v.inc.Service.Name)
	if err != nil {
		return v, err
	}
	if ok {
		v.budget = &bud
	}
	return v, nil
}

// notReady asks the runner to try again soon: the channel is not there yet.
func notReady(number int64) error {
	return &desk.RetryAfterError{Delay: 2 * time.Second, Err: fmt.Errorf("incident %d has no channel yet", number)}
}
