package bot

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"
	"github.com/slack-go/slack/socketmode"

	"github.com/incidentbot/incidentbot/incident"
	"github.com/incidentbot/incidentbot/incident/desk"
)

// Job kinds owned by the bot.
const (
	JobInbox = "slack.inbox" // a received envelope, processed once
	JobHome  = "slack.home"  // publish one user's App Home
	// JobCatchUp reads back the history of open incident channels after a
	// (re)connection and records human messages the timeline lacks.
	JobCatchUp = "slack.catchup"
)

// inboxItem is an envelope as written to the durable inbox.
type inboxItem struct {
	Type       string          `json:"type"` // slash, interaction, event
	EnvelopeID string          `json:"envelope_id"`
	Payload    json.RawMessage `json:"payload"`
	Received   time.Time       `json:"received"`
	// Command is a slash command as parsed at intake, so that it is
	// parsed once (items stored before it was kept are parsed again).
	Command *Command `json:"command,omitempty"`
}

// Acker acknowledges Socket Mode envelopes.
type Acker interface {
	Ack(req socketmode.Request, payload ...any) error
}

// Serve runs the Socket Mode client and handles its events until ctx is
// done. It returns an error when Slack rejects the tokens (invalid_auth,
// token_revoked): looping on those would never succeed.
func (b *Bot) Serve(ctx context.Context, sm *socketmode.Client) error {
	b.identify(ctx)
	runErr := make(chan error, 1)
	go func() { runErr <- sm.RunContext(ctx) }()
	// Envelopes are handled concurrently so that a slow disk write never
	// blocks the socket reader; bbolt serialises the writes.
	sem := make(chan struct{}, 64)
	for {
		select {
		case <-ctx.Done():
			b.connected.Store(false)
			return nil
		case err := <-runErr:
			b.connected.Store(false)
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("slack socket mode stopped: %w (check slack.app_token and slack.bot_token)", err)
		case evt, ok := <-sm.Events:
			if !ok {
				return nil
			}
			switch evt.Type {
			case socketmode.EventTypeConnected:
				b.connected.Store(true)
			case socketmode.EventTypeHello:
				b.connected.Store(true)
				b.logConnected()
				// Events sent while we were away may never be replayed:
				// read back what the incident channels missed.
				if err := b.store.Enqueue(ctx, desk.Job{ID: JobCatchUp, Kind: JobCatchUp, Coalesce: true, DueAt: b.now()}); err != nil {
					b.log.Warn("could not schedule the catch-up", "err", err)
				}
				b.opts.Wake()
			case socketmode.EventTypeConnecting, socketmode.EventTypeDisconnect:
				b.connected.Store(false)
			case socketmode.EventTypeConnectionError:
				b.connected.Store(false)
				b.log.Warn("slack connection error; the client reconnects", "err", evt.Data)
			case socketmode.EventTypeInvalidAuth:
				b.connected.Store(false)
				b.log.Error("slack rejected the app token (invalid_auth)")
			case socketmode.EventTypeSlashCommand, socketmode.EventTypeInteractive, socketmode.EventTypeEventsAPI:
				if evt.Request == nil {
					continue
				}
				select {
				case sem <- struct{}{}:
				case <-ctx.Done():
					b.connected.Store(false)
					return nil
				}
				go func(evt socketmode.Event) {
					defer func() { <-sem }()
					b.Intake(ctx, sm, evt)
				}(evt)
			}
		}
	}
}

// identify learns the bot's own user ID (to tell its messages and channels
// apart). It retries in the background until it succeeds.
func (b *Bot) identify(ctx context.Context) {
	try := func() bool {
		r, err := b.api.AuthTestContext(ctx)
		if err != nil {
			b.log.Warn("slack auth.test failed; will retry", "err", err)
			return false
		}
		b.botUserID.Store(r.UserID)
		b.identity.Store(r)
		return true
	}
	if try() {
		return
	}
	go func() {
		for i := 0; ctx.Err() == nil; i++ {
			select {
			case <-ctx.Done():
				return
			case <-time.After(min(time.Duration(1<<min(i, 6))*time.Second, time.Minute)):
			}
			if try() {
				return
			}
		}
	}()
}

// Intake handles one envelope: validates what can be validated at once,
// writes it to the durable inbox, and acknowledges it. It never calls the
// Slack Web API before acknowledging, so a slow Slack cannot delay the ack.
func (b *Bot) Intake(ctx context.Context, ack Acker, evt socketmode.Event) {
	start := time.Now() // a duration, measured on the monotonic clock
	ctx, rec := withIntakeRecord(ctx)
	req := *evt.Request
	var (
		resp any
		err  error
	)
	switch evt.Type {
	case socketmode.EventTypeSlashCommand:
		resp, err = b.intakeSlash(ctx, req, evt.Data)
	case socketmode.EventTypeInteractive:
		resp, err = b.intakeInteraction(ctx, req, evt.Data)
	case socketmode.EventTypeEventsAPI:
		err = b.intakeEvent(ctx, req, evt.Data)
	}
	if err != nil {
		// Not stored: do not acknowledge, so Slack delivers it again.
		b.log.Error("could not store envelope; leaving it unacknowledged for redelivery", "envelope", req.EnvelopeID, "err", err)
		b.observeEnvelope(evt.Type, EnvelopeNotStored, 0)
		return
	}
	if resp != nil {
		err = ack.Ack(req, resp)
	} else {
		err = ack.Ack(req)
	}
	if err != nil {
		b.log.Warn("ack failed", "envelope", req.EnvelopeID, "err", err)
	}
	b.observeEnvelope(evt.Type, rec.outcome(), time.Since(start))
	b.opts.Wake()
}

func ephemeral(text string) map[string]any {
	return map[string]any{"response_type": "ephemeral", "text": text}
}

func (b *Bot) persist(ctx context.Context, id string, number int64, typ string, req socketmode.Request, cmd ...Command) error {
	it := inboxItem{Type: typ, EnvelopeID: req.EnvelopeID, Payload: withoutToken(req.Payload), Received: b.now()}
	if len(cmd) > 0 {
		it.Command = &cmd[0]
	}
	raw, _ := json.Marshal(it)
	ctx, cancel := context.WithTimeout(ctx, b.opts.StoreTimeout)
	defer cancel()
	return b.enqueueEnvelope(ctx, desk.Job{ID: id, Kind: JobInbox, Queue: desk.QueueInput, Incident: number, Payload: raw, DueAt: b.now()})
}

func (b *Bot) intakeSlash(ctx context.Context, req socketmode.Request, data any) (any, error) {
	cmd, ok := data.(slack.SlashCommand)
	if !ok {
		return nil, nil
	}
	parsed, perr := ParseCommand(cmd.Text, cmd.UserID, b.cat.Currency, b.cat.Shares)
	if perr != nil {
		return ephemeral(incident.ErrorMessage(perr)), nil
	}
	if parsed.Verb == "modal" {
		go b.openModal(ctx, cmd.TriggerID, declareModal(b.cat, cmd.ChannelID))
		return nil, nil
	}
	var number int64
	if parsed.InChannel() {
		n, ok, err := b.incidentOfChannel(ctx, cmd.ChannelID)
		if err != nil {
			return nil, err
		}
		if !ok {
			return ephemeral("`/incident " + parsed.Verb + "` works inside an incident channel. Use `/incident list` to find one."), nil
		}
		number = n
	}
	return nil, b.persist(ctx, "inbox/"+req.EnvelopeID, number, "slash", req, parsed)
}

// openModal opens a modal; it runs beside the acknowledgement, under the
// trigger's 3 s life and the bot's shutdown.
func (b *Bot) openModal(ctx context.Context, triggerID string, v slack.ModalViewRequest) {
	ctx, cancel := context.WithTimeout(ctx, triggerLife)
	defer cancel()
	if _, err := b.api.OpenViewContext(ctx, triggerID, v); err != nil {
		b.log.Warn("could not open modal", "callback", v.CallbackID, "err", err)
	}
}

func (b *Bot) intakeInteraction(ctx context.Context, req socketmode.Request, data any) (any, error) {
	cb, ok := data.(slack.InteractionCallback)
	if !ok {
		return nil, nil
	}
	switch cb.Type {
	case slack.InteractionTypeBlockActions:
		if len(cb.ActionCallback.BlockActions) == 0 {
			return nil, nil
		}
		a := cb.ActionCallback.BlockActions[0]
		if b.reviewIntake(ctx, cb, a) {
			return nil, nil
		}
		n, _, err := b.incidentOfChannel(ctx, cb.Channel.ID)
		if err != nil {
			return nil, err
		}
		switch a.ActionID {
		case ActNote:
			go b.openModal(ctx, cb.TriggerID, noteModal(n))
			return nil, nil
		case ActResolve, ActConfirmResolve:
			go b.openModal(ctx, cb.TriggerID, resolveModal(n))
			return nil, nil
		}
		return nil, b.persist(ctx, "inbox/"+req.EnvelopeID, n, "interaction", req)
	case slack.InteractionTypeViewSubmission:
		if cb.View.CallbackID == ViewDeclare {
			if errs := b.validateDeclare(cb.View.State); len(errs) > 0 {
				return map[string]any{"response_action": "errors", "errors": errs}, nil
			}
		}
		n, _ := strconv.ParseInt(cb.View.PrivateMetadata, 10, 64)
		if cb.View.CallbackID != ViewDeclare && cb.View.CallbackID != ViewNote && cb.View.CallbackID != ViewResolve {
			// A review modal: checked now so that problems show in the
			// modal, then stored for reviewInteraction.
			if errs := b.reviewValidate(ctx, cb); len(errs) > 0 {
				return map[string]any{"response_action": "errors", "errors": errs}, nil
			}
			return nil, b.persist(ctx, "inbox/"+req.EnvelopeID, reviewViewIncident(cb), "interaction", req)
		}
		if cb.View.CallbackID != ViewDeclare && n == 0 {
			return nil, nil
		}
		return nil, b.persist(ctx, "inbox/"+req.EnvelopeID, n, "interaction", req)
	}
	return nil, nil
}

func stateValue(s *slack.ViewState, block, action string) slack.BlockAction {
	if s == nil {
		return slack.BlockAction{}
	}
	return s.Values[block][action]
}

func (b *Bot) validateDeclare(s *slack.ViewState) map[string]string {
	errs := map[string]string{}
	svc := stateValue(s, "service", "service").SelectedOption.Value
	if _, ok := b.cat.Service(svc); !ok {
		errs["service"] = "Pick a service from the catalogue."
	}
	if strings.TrimSpace(stateValue(s, "title", "title").Value) == "" {
		errs["title"] = "Say in a few words what is happening."
	}
	return errs
}

func (b *Bot) intakeEvent(ctx context.Context, req socketmode.Request, data any) error {
	ev, ok := data.(slackevents.EventsAPIEvent)
	if !ok || ev.Type != slackevents.CallbackEvent {
		return nil
	}
	var outer struct {
		EventID        string `json:"event_id"`
		Authorizations []struct {
			UserID string `json:"user_id"`
		} `json:"authorizations"`
	}
	_ = json.Unmarshal(req.Payload, &outer)
	id := "inbox/ev/" + outer.EventID
	if outer.EventID == "" {
		id = "inbox/" + req.EnvelopeID
	}
	self := b.botUser()
	if self == "" && len(outer.Authorizations) > 0 {
		self = outer.Authorizations[0].UserID // the bot user, before auth.test answered
	}
	if fromSelf(ev.InnerEvent.Data, self) {
		return nil
	}
	channel := ""
	switch e := ev.InnerEvent.Data.(type) {
	case *slackevents.MessageEvent:
		channel = e.Channel
		if e.SubType == "message_deleted" || e.SubType == "message_changed" {
			req.Payload = withoutPreviousMessage(req.Payload)
		}
	case *slackevents.ReactionAddedEvent:
		if e.Reaction != "pushpin" && e.Reaction != "round_pushpin" {
			return nil
		}
		channel = e.Item.Channel
	case *slackevents.PinAddedEvent:
		channel = e.Channel
	case *slackevents.MemberJoinedChannelEvent:
		channel = e.Channel
	case *slackevents.AppHomeOpenedEvent:
		if e.Tab != "" && e.Tab != "home" {
			return nil
		}
		return b.persist(ctx, id, 0, "event", req)
	default:
		return nil
	}
	n, ok, err := b.incidentOfChannel(ctx, channel)
	if err != nil || !ok {
		return err // not an incident channel: nothing to record
	}
	return b.persist(ctx, id, n, "event", req)
}

// fromSelf reports whether an event tells what the bot (or another bot)
// did itself: its posts, the edits of its card (message_changed, with the
// bot only inside the nested message), its pins and reactions, its joins.
// None of these is a person's doing.
func fromSelf(data any, self string) bool {
	isSelf := func(u string) bool { return u != "" && u == self }
	switch e := data.(type) {
	case *slackevents.MessageEvent:
		if e.BotID != "" || isSelf(e.User) || e.SubType == "bot_message" {
			return true
		}
		m := e.Message
		return m != nil && (m.BotID != "" || isSelf(m.User) || m.SubType == "bot_message")
	case *slackevents.ReactionAddedEvent:
		return isSelf(e.User)
	case *slackevents.PinAddedEvent:
		return isSelf(e.User)
	case *slackevents.MemberJoinedChannelEvent:
		return isSelf(e.User)
	}
	return false
}

// triggerLife is how long a trigger_id can open a modal.
const triggerLife = 3 * time.Second

// withoutToken is an envelope's payload without its "token": Slack's
// verification token is a secret the jobs never need (Socket Mode
// envelopes are authenticated by the connection), so it is not stored.
func withoutToken(payload json.RawMessage) json.RawMessage {
	var m map[string]json.RawMessage
	if json.Unmarshal(payload, &m) != nil {
		return payload
	}
	if _, ok := m["token"]; !ok {
		return payload
	}
	delete(m, "token")
	out, err := json.Marshal(m)
	if err != nil {
		return payload
	}
	return out
}
