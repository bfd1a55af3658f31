package fakeslack

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"
	"github.com/slack-go/slack/socketmode"
)

var (
	alice = User{ID: "U0ALICE001", Name: "alice", RealName: "Alice Adams", Email: "alice@example.com"}
	bob   = User{ID: "U0BOB00001", Name: "bob", RealName: "Bob Brown", Email: "bob@example.com"}
)

func newServer(t *testing.T, opts Options) *Server {
	t.Helper()
	if opts.Users == nil {
		opts.Users = []User{alice, bob}
	}
	srv := New(opts)
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return srv
}

func client(srv *Server) *slack.Client {
	return slack.New(srv.BotToken(), slack.OptionAPIURL(srv.APIURL()), slack.OptionAppLevelToken(srv.AppToken()))
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func slackErr(t *testing.T, err error, code string) {
	t.Helper()
	var se slack.SlackErrorResponse
	if !errors.As(err, &se) {
		t.Fatalf("want SlackErrorResponse %q, got %T %v", code, err, err)
	}
	if se.Err != code {
		t.Fatalf("want error %q, got %q", code, se.Err)
	}
}

// bot is a minimal app on a real socketmode.Client.
type bot struct {
	api    *slack.Client
	sm     *socketmode.Client
	mu     sync.Mutex
	events []socketmode.Event
	hellos []*socketmode.Request
	bump   chan struct{} // closed and replaced when events change
	done   chan error
	cancel context.CancelFunc
}

// startBot runs a socketmode client; handle is called for every request
// event and must ack it (nil handle acks everything with no payload).
func startBot(t *testing.T, srv *Server, handle func(b *bot, evt socketmode.Event)) *bot {
	t.Helper()
	api := client(srv)
	b := &bot{
		api:  api,
		sm:   socketmode.New(api, socketmode.OptionLog(log.New(io.Discard, "", 0))),
		done: make(chan error, 1),
		bump: make(chan struct{}),
	}
	ctx, cancel := context.WithCancel(context.Background())
	b.cancel = cancel
	go func() { b.done <- b.sm.RunContext(ctx) }()
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case evt := <-b.sm.Events:
				b.mu.Lock()
				b.events = append(b.events, evt)
				if evt.Type == socketmode.EventTypeHello {
					b.hellos = append(b.hellos, evt.Request)
				}
				close(b.bump)
				b.bump = make(chan struct{})
				b.mu.Unlock()
				if evt.Request == nil || evt.Request.EnvelopeID == "" {
					continue
				}
				if handle != nil {
					handle(b, evt)
				} else {
					_ = b.sm.Ack(*evt.Request)
				}
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-b.done:
		case <-time.After(5 * time.Second):
			t.Error("socketmode client did not stop")
		}
	})
	if err := srv.WaitConnected(ctxT(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	return b
}

// waitEvents waits until the bot has seen n events of typ and returns them.
func (b *bot) waitEvents(t *testing.T, typ socketmode.EventType, n int) []socketmode.Event {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		b.mu.Lock()
		ch := b.bump
		b.mu.Unlock()
		if evs := b.eventsOf(typ); len(evs) >= n {
			return evs
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("bot saw %d %s events, want %d", len(b.eventsOf(typ)), typ, n)
		}
	}
}

func (b *bot) eventsOf(typ socketmode.EventType) []socketmode.Event {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []socketmode.Event
	for _, e := range b.events {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

func TestAuth(t *testing.T) {
	srv := newServer(t, Options{})
	api := client(srv)
	resp, err := api.AuthTest()
	if err != nil {
		t.Fatal(err)
	}
	if resp.UserID != srv.BotUserID() || resp.TeamID != srv.TeamID() || resp.BotID == "" {
		t.Fatalf("auth.test: %+v", resp)
	}
	_, err = slack.New("xoxb-wrong", slack.OptionAPIURL(srv.APIURL())).AuthTest()
	slackErr(t, err, "invalid_auth")
	_, err = slack.New("", slack.OptionAPIURL(srv.APIURL())).AuthTest()
	slackErr(t, err, "not_authed")
	_, err = slack.New(srv.AppToken(), slack.OptionAPIURL(srv.APIURL())).AuthTest()
	slackErr(t, err, "not_allowed_token_type")

	// Unknown methods.
	resp2, err := http.Post(srv.APIURL()+"nope.nope", "application/x-www-form-urlencoded", strings.NewReader("token="+srv.BotToken()))
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	_ = json.NewDecoder(resp2.Body).Decode(&body)
	resp2.Body.Close()
	if body["error"] != "unknown_method" {
		t.Fatalf("unknown method: %v", body)
	}

	srv.RevokeToken()
	_, err = api.AuthTest()
	slackErr(t, err, "token_revoked")
	srv.RestoreToken()
	if _, err := api.AuthTest(); err != nil {
		t.Fatal(err)
	}
	if got := srv.Calls("auth.test"); got != 6 {
		t.Fatalf("auth.test calls = %d, want 6", got)
	}
}

// Every server makes its own random tokens: a token is no public constant,
// and one workspace's token does not open another.
func TestTokensArePerServer(t *testing.T) {
	a, b := newServer(t, Options{}), newServer(t, Options{})
	if a.BotToken() == b.BotToken() || a.AppToken() == b.AppToken() || a.opts.VerificationToken == b.opts.VerificationToken {
		t.Fatalf("two servers share tokens: %q %q", a.BotToken(), b.BotToken())
	}
	for _, tok := range []string{a.BotToken(), a.AppToken(), a.opts.VerificationToken} {
		if len(tok) < 32 {
			t.Errorf("token %q is too short to be unguessable", tok)
		}
	}
	if !strings.HasPrefix(a.BotToken(), "xoxb-") || !strings.HasPrefix(a.AppToken(), "xapp-") {
		t.Errorf("token shapes: %q %q", a.BotToken(), a.AppToken())
	}
	for _, tok := range []string{b.BotToken(), "xoxb-fakeslack-bot-token"} {
		_, err := slack.New(tok, slack.OptionAPIURL(a.APIURL())).AuthTest()
		slackErr(t, err, "invalid_auth")
	}
	if _, err := client(a).AuthTest(); err != nil {
		t.Fatal(err)
	}
}

// Private channels are seen only by members; an archived channel keeps its
// history but takes no more posts, invites, pins, topics or commands, with
// Slack's error codes.
func TestPrivateAndArchivedChannels(t *testing.T) {
	srv := newServer(t, Options{Channels: []ChannelSeed{{Name: "general", Members: []string{alice.ID, bob.ID, "U0FAKEBOT1"}}, {Name: "elsewhere", Members: []string{alice.ID}}}})
	api := client(srv)
	ctx := ctxT(t, 10*time.Second)
	priv, err := api.CreateConversation(slack.CreateConversationParams{ChannelName: "inc-1-secret", IsPrivate: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := api.InviteUsersToConversation(priv.ID, alice.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.SlashCommand(ctx, bob.ID, priv.ID, "status"); err == nil {
		t.Error("a non-member ran a command in a private channel")
	}
	if _, err := srv.PostUserMessage(ctx, bob.ID, priv.ID, "hello?"); err == nil {
		t.Error("a non-member posted in a private channel")
	}
	pub, err := api.CreateConversation(slack.CreateConversationParams{ChannelName: "inc-1-open"})
	if err != nil {
		t.Fatal(err)
	}
	_, ts, err := api.PostMessage(pub.ID, slack.MsgOptionText("card", false))
	if err != nil {
		t.Fatal(err)
	}
	gen, _ := srv.Channel("general")
	other, _ := srv.Channel("elsewhere")
	slackErr(t, api.ArchiveConversation(gen.ID), "cant_archive_general")
	slackErr(t, api.ArchiveConversation(other.ID), "not_in_channel")
	slackErr(t, api.ArchiveConversation("C0NOTHERE0"), "channel_not_found")
	if err := api.ArchiveConversation(pub.ID); err != nil {
		t.Fatal(err)
	}
	slackErr(t, api.ArchiveConversation(pub.ID), "already_archived")
	if c, _ := srv.Channel(pub.ID); !c.IsArchived {
		t.Error("not archived")
	}
	msgs := srv.Messages(pub.ID)
	if last := msgs[len(msgs)-1]; last.Subtype != "channel_archive" {
		t.Errorf("no channel_archive message: %+v", last)
	}
	_, _, err = api.PostMessage(pub.ID, slack.MsgOptionText("more", false))
	slackErr(t, err, "is_archived")
	_, err = api.InviteUsersToConversation(pub.ID, alice.ID)
	slackErr(t, err, "is_archived")
	_, err = api.SetTopicOfConversation(pub.ID, "t")
	slackErr(t, err, "is_archived")
	slackErr(t, api.AddPin(pub.ID, slack.ItemRef{Timestamp: ts}), "is_archived")
	_, err = api.AddBookmark(pub.ID, slack.AddBookmarkParameters{Title: "x", Type: "link", Link: "https://example.com"})
	slackErr(t, err, "is_archived")
	if h, err := api.GetConversationHistory(&slack.GetConversationHistoryParameters{ChannelID: pub.ID}); err != nil || len(h.Messages) < 2 {
		t.Errorf("history of an archived channel: %v %v", h, err)
	}
	if _, err := srv.SlashCommand(ctx, alice.ID, pub.ID, "status"); err == nil {
		t.Error("a command ran in an archived channel")
	}
	if err := srv.JoinChannel(ctx, alice.ID, pub.ID); err == nil {
		t.Error("joined an archived channel")
	}
	chs, _, err := api.GetConversations(&slack.GetConversationsParameters{ExcludeArchived: true, Types: []string{"public_channel", "private_channel"}})
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, c := range chs {
		names[c.Name] = true
	}
	if names["inc-1-open"] || !names["inc-1-secret"] {
		t.Errorf("listed: %v", names)
	}
}

func TestChannelRules(t *testing.T) {
	srv := newServer(t, Options{})
	api := client(srv)
	for name, code := range map[string]string{
		"":                         "invalid_name_required",
		"Inc-1":                    "invalid_name_specials",
		"inc 1":                    "invalid_name_specials",
		strings.Repeat("a", 81):    "invalid_name_maxlength",
		"--":                       "invalid_name_punctuation",
		"inc-1-checkout.is-broken": "invalid_name_specials",
	} {
		_, err := api.CreateConversation(slack.CreateConversationParams{ChannelName: name})
		slackErr(t, err, code)
	}
	ch, err := api.CreateConversation(slack.CreateConversationParams{ChannelName: "inc-1-checkout", IsPrivate: true})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(ch.ID, "C") || ch.Name != "inc-1-checkout" || !ch.IsPrivate || !ch.IsMember {
		t.Fatalf("created: %+v", ch)
	}
	_, err = api.CreateConversation(slack.CreateConversationParams{ChannelName: "inc-1-checkout"})
	slackErr(t, err, "name_taken")
	if _, err := api.CreateConversation(slack.CreateConversationParams{ChannelName: strings.Repeat("a", 80)}); err != nil {
		t.Fatal(err)
	}

	// Topic, invite, pins, bookmarks.
	if _, err := api.SetTopicOfConversation(ch.ID, "SEV bedroom: blocked"); err != nil {
		t.Fatal(err)
	}
	if srv.Topic(ch.ID) != "SEV bedroom: blocked" {
		t.Fatalf("topic %q", srv.Topic(ch.ID))
	}
	_, err = api.InviteUsersToConversation(ch.ID, srv.BotUserID())
	slackErr(t, err, "cant_invite_self")
	_, err = api.InviteUsersToConversation(ch.ID, "U0NOBODY00")
	slackErr(t, err, "user_not_found")
	_, err = api.InviteUsersToConversation("C0NOTHERE0", alice.ID)
	slackErr(t, err, "channel_not_found")
	if _, err := api.InviteUsersToConversation(ch.ID, alice.ID, bob.ID); err != nil {
		t.Fatal(err)
	}
	_, err = api.InviteUsersToConversation(ch.ID, alice.ID)
	slackErr(t, err, "already_in_channel")
	members, _, err := api.GetUsersInConversation(&slack.GetUsersInConversationParameters{ChannelID: ch.ID})
	if err != nil || len(members) != 3 {
		t.Fatalf("members %v %v", members, err)
	}

	_, ts, err := api.PostMessage(ch.ID, slack.MsgOptionText("incident card", false))
	if err != nil {
		t.Fatal(err)
	}
	if err := api.AddPin(ch.ID, slack.ItemRef{Timestamp: ts}); err != nil {
		t.Fatal(err)
	}
	slackErr(t, api.AddPin(ch.ID, slack.ItemRef{Timestamp: ts}), "already_pinned")
	items, _, err := api.ListPins(ch.ID)
	if err != nil || len(items) != 1 || items[0].Message == nil || items[0].Message.Text != "incident card" {
		t.Fatalf("pins %+v %v", items, err)
	}
	if _, err := api.AddBookmark(ch.ID, slack.AddBookmarkParameters{Title: "Runbook", Type: "link", Link: "https://example.com"}); err != nil {
		t.Fatal(err)
	}
	bms, err := api.ListBookmarks(ch.ID)
	if err != nil || len(bms) != 1 || bms[0].Title != "Runbook" {
		t.Fatalf("bookmarks %+v %v", bms, err)
	}
	link, err := api.GetPermalink(&slack.PermalinkParameters{Channel: ch.ID, Ts: ts})
	if err != nil || !strings.Contains(link, "/archives/"+ch.ID+"/p") {
		t.Fatalf("permalink %q %v", link, err)
	}
	info, err := api.GetConversationInfo(&slack.GetConversationInfoInput{ChannelID: ch.ID, IncludeNumMembers: true})
	if err != nil || info.Topic.Value != "SEV bedroom: blocked" || info.NumMembers != 3 {
		t.Fatalf("info %+v %v", info, err)
	}

	// A private channel the bot is not in is invisible.
	other := srv.AddChannel(ChannelSeed{Name: "secret", IsPrivate: true, Members: []string{alice.ID}})
	_, err = api.GetConversationInfo(&slack.GetConversationInfoInput{ChannelID: other.ID})
	slackErr(t, err, "channel_not_found")
	_, _, err = api.PostMessage(other.ID, slack.MsgOptionText("x", false))
	slackErr(t, err, "channel_not_found")
	// A public channel the bot is not in needs a join (no chat:write.public).
	pub := srv.AddChannel(ChannelSeed{Name: "incidents", Members: []string{alice.ID}})
	_, _, err = api.PostMessage("#incidents", slack.MsgOptionText("x", false))
	slackErr(t, err, "not_in_channel")
	if _, _, _, err := api.JoinConversation(pub.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := api.PostMessage("incidents", slack.MsgOptionText("announce", false)); err != nil {
		t.Fatal(err)
	}
}

func TestMessageLimits(t *testing.T) {
	srv := newServer(t, Options{Channels: []ChannelSeed{{Name: "ops", Members: []string{"U0FAKEBOT1"}}}})
	api := client(srv)
	ch, _ := srv.Channel("ops")

	_, _, err := api.PostMessage(ch.ID)
	slackErr(t, err, "no_text")
	_, _, err = api.PostMessage(ch.ID, slack.MsgOptionText(strings.Repeat("x", 40001), false))
	slackErr(t, err, "msg_too_long")
	var many []slack.Block
	for range 51 {
		many = append(many, slack.NewDividerBlock())
	}
	_, _, err = api.PostMessage(ch.ID, slack.MsgOptionBlocks(many...))
	slackErr(t, err, "invalid_blocks")
	long := slack.NewSectionBlock(slack.NewTextBlockObject("mrkdwn", strings.Repeat("y", 3001), false, false), nil, nil)
	_, _, err = api.PostMessage(ch.ID, slack.MsgOptionBlocks(long))
	slackErr(t, err, "invalid_blocks")
	var se slack.SlackErrorResponse
	errors.As(err, &se)
	if len(se.ResponseMetadata.Messages) == 0 || !strings.Contains(se.ResponseMetadata.Messages[0], "/blocks/0/text/text") {
		t.Fatalf("messages %v", se.ResponseMetadata.Messages)
	}
	_, ts, err := api.PostMessage(ch.ID, slack.MsgOptionBlocks(many[:50]...), slack.MsgOptionText("fallback", false))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := api.UpdateMessage(ch.ID, ts, slack.MsgOptionText("updated", false)); err != nil {
		t.Fatal(err)
	}
	m, ok := srv.Message(ch.ID, ts)
	if !ok || m.Text != "updated" || m.EditedTS == "" {
		t.Fatalf("updated %+v", m)
	}
	hist, err := api.GetConversationHistory(&slack.GetConversationHistoryParameters{ChannelID: ch.ID, Limit: 10})
	if err != nil || len(hist.Messages) != 1 || hist.Messages[0].Text != "updated" {
		t.Fatalf("history %+v %v", hist, err)
	}
	if _, _, err := api.DeleteMessage(ch.ID, ts); err != nil {
		t.Fatal(err)
	}
	_, _, err = api.DeleteMessage(ch.ID, ts)
	slackErr(t, err, "message_not_found")

	// DMs via user ID and conversations.open.
	_, _, err = api.PostMessage(alice.ID, slack.MsgOptionText("tell me what you saw", false))
	if err != nil {
		t.Fatal(err)
	}
	dm, _, _, err := api.OpenConversation(&slack.OpenConversationParameters{Users: []string{alice.ID}})
	if err != nil || !strings.HasPrefix(dm.ID, "D") {
		t.Fatalf("open %+v %v", dm, err)
	}
	if d := srv.DMs(alice.ID); len(d) != 1 || d[0].Channel != dm.ID {
		t.Fatalf("dms %+v", d)
	}
	u, err := api.GetUserByEmail("bob@example.com")
	if err != nil || u.ID != bob.ID || u.RealName != "Bob Brown" {
		t.Fatalf("lookup %+v %v", u, err)
	}
	_, err = api.GetUserByEmail("nobody@example.com")
	slackErr(t, err, "users_not_found")
	users, err := api.GetUsers()
	if err != nil || len(users) != 3 {
		t.Fatalf("users %d %v", len(users), err)
	}
}

func TestListPagination(t *testing.T) {
	srv := newServer(t, Options{})
	api := client(srv)
	for _, n := range []string{"a", "b", "c", "d", "e"} {
		if _, err := api.CreateConversation(slack.CreateConversationParams{ChannelName: n, IsPrivate: n == "e"}); err != nil {
			t.Fatal(err)
		}
	}
	srv.AddChannel(ChannelSeed{Name: "hidden", IsPrivate: true})
	var names []string
	cursor := ""
	for pages := 0; ; pages++ {
		chs, next, err := api.GetConversations(&slack.GetConversationsParameters{Cursor: cursor, Limit: 2, Types: []string{"public_channel", "private_channel"}})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range chs {
			names = append(names, c.Name)
		}
		if next == "" {
			break
		}
		if pages > 5 {
			t.Fatal("pagination does not end")
		}
		cursor = next
	}
	if strings.Join(names, ",") != "a,b,c,d,e" {
		t.Fatalf("listed %v", names)
	}
}

func TestFaults(t *testing.T) {
	srv := newServer(t, Options{})
	api := client(srv)

	srv.RateLimit("conversations.create", 1, 1500*time.Millisecond)
	_, err := api.CreateConversation(slack.CreateConversationParams{ChannelName: "inc-1"})
	var rl *slack.RateLimitedError
	if !errors.As(err, &rl) || rl.RetryAfter != 2*time.Second {
		t.Fatalf("want RateLimitedError(2s), got %T %v", err, err)
	}
	if _, ok := srv.Channel("inc-1"); ok {
		t.Fatal("rate-limited call had an effect")
	}
	if _, err := api.CreateConversation(slack.CreateConversationParams{ChannelName: "inc-1"}); err != nil {
		t.Fatal(err)
	}

	srv.FailNext("conversations.create", "internal_error", true)
	_, err = api.CreateConversation(slack.CreateConversationParams{ChannelName: "inc-2"})
	slackErr(t, err, "internal_error")
	if _, ok := srv.Channel("inc-2"); !ok {
		t.Fatal("half-success did not create the channel")
	}
	srv.FailNext("conversations.create", "fatal_error", false)
	_, err = api.CreateConversation(slack.CreateConversationParams{ChannelName: "inc-3"})
	slackErr(t, err, "fatal_error")
	if _, ok := srv.Channel("inc-3"); ok {
		t.Fatal("plain failure had an effect")
	}

	srv.SetOutage(time.Minute)
	_, err = api.AuthTest()
	var sc slack.StatusCodeError
	if !errors.As(err, &sc) || sc.Code != http.StatusServiceUnavailable {
		t.Fatalf("want 503, got %T %v", err, err)
	}
	srv.SetOutage(0)

	srv.SetLatency("*", 50*time.Millisecond)
	start := time.Now()
	if _, err := api.AuthTest(); err != nil {
		t.Fatal(err)
	}
	if time.Since(start) < 50*time.Millisecond {
		t.Fatal("latency not applied")
	}
	if got := srv.Calls("conversations.create"); got != 4 {
		t.Fatalf("calls = %d", got)
	}
}

func TestSocketModeSlashCommand(t *testing.T) {
	srv := newServer(t, Options{Channels: []ChannelSeed{{Name: "ops", Members: []string{alice.ID}}}})
	var gotCmd slack.SlashCommand
	var mu sync.Mutex
	b := startBot(t, srv, func(b *bot, evt socketmode.Event) {
		if evt.Type == socketmode.EventTypeSlashCommand {
			mu.Lock()
			gotCmd = evt.Data.(slack.SlashCommand)
			mu.Unlock()
			_ = b.sm.Ack(*evt.Request, map[string]any{"text": "Usage: /incident declare <service> <title>"})
			return
		}
		_ = b.sm.Ack(*evt.Request)
	})
	hellos := b.waitEvents(t, socketmode.EventTypeHello, 1)
	if len(hellos) != 1 || hellos[0].Request.ConnectionInfo.AppID != srv.AppID() || hellos[0].Request.NumConnections != 1 {
		t.Fatalf("hello %+v", hellos)
	}

	ack, err := srv.SlashCommand(ctxT(t, 5*time.Second), alice.ID, "ops", "help")
	if err != nil {
		t.Fatal(err)
	}
	if ack.Late || !strings.Contains(string(ack.Payload), "Usage") {
		t.Fatalf("ack %+v", ack)
	}
	mu.Lock()
	cmd := gotCmd
	mu.Unlock()
	ch, _ := srv.Channel("ops")
	if cmd.Command != "/incident" || cmd.Text != "help" || cmd.UserID != alice.ID || cmd.UserName != "alice" ||
		cmd.ChannelID != ch.ID || cmd.ChannelName != "ops" || cmd.TeamID != srv.TeamID() || cmd.TriggerID == "" ||
		!strings.HasPrefix(cmd.ResponseURL, srv.BaseURL()) {
		t.Fatalf("command %+v", cmd)
	}
	eph := srv.Ephemerals(alice.ID)
	if len(eph) != 1 || eph[0].Source != "ack" || !strings.HasPrefix(eph[0].Text, "Usage") {
		t.Fatalf("ephemerals %+v", eph)
	}

	// The response_url works with slack-go and is recorded.
	if _, _, err := b.api.PostMessage("", slack.MsgOptionResponseURL(cmd.ResponseURL, slack.ResponseTypeInChannel), slack.MsgOptionText("declared", false)); err != nil {
		t.Fatal(err)
	}
	posts := srv.ResponseURLPosts()
	if len(posts) != 1 || posts[0].Text != "declared" || posts[0].ResponseType != "in_channel" || posts[0].UserID != alice.ID {
		t.Fatalf("posts %+v", posts)
	}
	if msgs := srv.Messages("ops"); len(msgs) != 1 || msgs[0].Text != "declared" || msgs[0].BotID == "" {
		t.Fatalf("in_channel response not posted: %+v", msgs)
	}

	// The trigger opens a modal once, within its lifetime.
	modal := slack.ModalViewRequest{
		Type:   slack.VTModal,
		Title:  slack.NewTextBlockObject("plain_text", "Declare", false, false),
		Submit: slack.NewTextBlockObject("plain_text", "Declare", false, false),
		Blocks: slack.Blocks{BlockSet: []slack.Block{
			slack.NewInputBlock("title", slack.NewTextBlockObject("plain_text", "Title", false, false), nil,
				slack.NewPlainTextInputBlockElement(nil, "title_input")),
			slack.NewInputBlock("impact", slack.NewTextBlockObject("plain_text", "Impact", false, false), nil,
				slack.NewOptionsSelectBlockElement("static_select", nil, "impact_select",
					slack.NewOptionBlockObject("blocked", slack.NewTextBlockObject("plain_text", "Blocked", false, false), nil),
					slack.NewOptionBlockObject("partial", slack.NewTextBlockObject("plain_text", "Partial", false, false), nil))),
		}},
		CallbackID: "declare",
	}
	vr, err := b.api.OpenView(cmd.TriggerID, modal)
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.api.OpenView(cmd.TriggerID, modal)
	slackErr(t, err, "exchanged_trigger_id")
	_, err = b.api.OpenView("123.456.bogus", modal)
	slackErr(t, err, "invalid_trigger_id")
	open := srv.OpenViews(alice.ID)
	if len(open) != 1 || open[0].ID != vr.ID || open[0].CallbackID != "declare" {
		t.Fatalf("open views %+v", open)
	}

	// Submitting sends a faithful view_submission; an errors ack keeps it open.
	var sub slack.InteractionCallback
	if _, err := srv.SubmitView(ctx5(t), alice.ID, vr.ID, map[string]map[string]string{"impact": {"impact_select": "blocked"}}); err == nil {
		t.Fatal("submitting without a required input should fail")
	}
	if _, err = srv.SubmitView(ctx5(t), alice.ID, vr.ID, map[string]map[string]string{
		"title":  {"title_input": "Checkout down"},
		"impact": {"impact_select": "blocked"},
	}); err != nil {
		t.Fatal(err)
	}
	for _, e := range b.eventsOf(socketmode.EventTypeInteractive) {
		sub = e.Data.(slack.InteractionCallback)
	}
	if sub.Type != slack.InteractionTypeViewSubmission || sub.View.ID != vr.ID || sub.View.CallbackID != "declare" ||
		sub.View.State.Values["title"]["title_input"].Value != "Checkout down" ||
		sub.View.State.Values["impact"]["impact_select"].SelectedOption.Value != "blocked" || sub.User.ID != alice.ID {
		t.Fatalf("submission %+v", sub)
	}
	if len(srv.OpenViews(alice.ID)) != 0 {
		t.Fatal("empty ack should close the modal")
	}
}

func ctx5(t *testing.T) context.Context { return ctxT(t, 5*time.Second) }

func TestViewSubmissionResponseActions(t *testing.T) {
	srv := newServer(t, Options{})
	var trigger string
	var mu sync.Mutex
	b := startBot(t, srv, func(b *bot, evt socketmode.Event) {
		switch evt.Type {
		case socketmode.EventTypeSlashCommand:
			mu.Lock()
			trigger = evt.Data.(slack.SlashCommand).TriggerID
			mu.Unlock()
			_ = b.sm.Ack(*evt.Request)
		case socketmode.EventTypeInteractive:
			_ = b.sm.Ack(*evt.Request, slack.NewErrorsViewSubmissionResponse(map[string]string{"title": "Too vague"}))
		default:
			_ = b.sm.Ack(*evt.Request)
		}
	})
	if _, err := srv.SlashCommand(ctx5(t), alice.ID, srv.BotUserID(), ""); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	trig := trigger
	mu.Unlock()
	vr, err := b.api.OpenView(trig, slack.ModalViewRequest{
		Type: slack.VTModal, Title: slack.NewTextBlockObject("plain_text", "Note", false, false),
		Submit: slack.NewTextBlockObject("plain_text", "Save", false, false),
		Blocks: slack.Blocks{BlockSet: []slack.Block{slack.NewInputBlock("title", slack.NewTextBlockObject("plain_text", "Title", false, false), nil, slack.NewPlainTextInputBlockElement(nil, "t"))}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.SubmitView(ctx5(t), alice.ID, vr.ID, map[string]map[string]string{"title": {"t": "x"}}); err != nil {
		t.Fatal(err)
	}
	open := srv.OpenViews(alice.ID)
	if len(open) != 1 || open[0].Errors["title"] != "Too vague" {
		t.Fatalf("open %+v", open)
	}
	// views.update keeps the ID and changes the hash; a stale hash conflicts.
	upd, err := b.api.UpdateView(slack.ModalViewRequest{Type: slack.VTModal, Title: slack.NewTextBlockObject("plain_text", "Note 2", false, false),
		Blocks: slack.Blocks{BlockSet: []slack.Block{slack.NewDividerBlock()}}}, "", vr.Hash, vr.ID)
	if err != nil || upd.ID != vr.ID || upd.Hash == vr.Hash {
		t.Fatalf("update %+v %v", upd, err)
	}
	_, err = b.api.UpdateView(slack.ModalViewRequest{Type: slack.VTModal, Title: slack.NewTextBlockObject("plain_text", "Note 3", false, false)}, "", vr.Hash, vr.ID)
	slackErr(t, err, "hash_conflict")

	// Expired trigger.
	srv2 := newServer(t, Options{TriggerTTL: time.Millisecond})
	srv2.mu.Lock()
	old := srv2.issueTriggerLocked(alice.ID)
	srv2.mu.Unlock()
	time.Sleep(5 * time.Millisecond) // let the 1 ms trigger lifetime pass
	_, err = client(srv2).OpenView(old, slack.ModalViewRequest{Type: slack.VTModal, Title: slack.NewTextBlockObject("plain_text", "x", false, false)})
	slackErr(t, err, "expired_trigger_id")
}

func TestClickButtonAndHome(t *testing.T) {
	srv := newServer(t, Options{Channels: []ChannelSeed{{Name: "inc-7", Members: []string{"U0FAKEBOT1", alice.ID}}}})
	b := startBot(t, srv, func(b *bot, evt socketmode.Event) {
		_ = b.sm.Ack(*evt.Request)
		if evt.Type == socketmode.EventTypeInteractive {
			cb := evt.Data.(slack.InteractionCallback)
			if cb.Container.Type == "message" {
				_, _, _ = b.api.PostMessage("", slack.MsgOptionReplaceOriginal(cb.ResponseURL), slack.MsgOptionText("acknowledged by "+cb.User.ID, false))
			}
		}
	})
	ch, _ := srv.Channel("inc-7")
	card := []slack.Block{
		slack.NewSectionBlock(slack.NewTextBlockObject("mrkdwn", "*Major* incident", false, false), nil, nil),
		slack.NewActionBlock("card_actions",
			slack.NewButtonBlockElement("ack", "7", slack.NewTextBlockObject("plain_text", "Acknowledge", false, false)),
			slack.NewButtonBlockElement("resolve", "7", slack.NewTextBlockObject("plain_text", "Resolve", false, false))),
	}
	_, ts, err := b.api.PostMessage(ch.ID, slack.MsgOptionBlocks(card...), slack.MsgOptionText("Incident 7", false))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.ClickButton(ctx5(t), alice.ID, ch.ID, ts, "nope"); err == nil {
		t.Fatal("clicking a missing button should fail")
	}
	if _, err := srv.ClickButton(ctx5(t), alice.ID, ch.ID, ts, "ack"); err != nil {
		t.Fatal(err)
	}
	var cb slack.InteractionCallback
	for _, e := range b.eventsOf(socketmode.EventTypeInteractive) {
		cb = e.Data.(slack.InteractionCallback)
	}
	if cb.Type != slack.InteractionTypeBlockActions || len(cb.ActionCallback.BlockActions) != 1 ||
		cb.ActionCallback.BlockActions[0].ActionID != "ack" || cb.ActionCallback.BlockActions[0].Value != "7" ||
		cb.Container.ChannelID != ch.ID || cb.Container.MessageTs != ts || cb.Message.Timestamp != ts || cb.TriggerID == "" {
		t.Fatalf("callback %+v", cb)
	}
	if err := srv.WaitFor(ctx5(t), func() bool {
		m, _ := srv.Message(ch.ID, ts)
		return m.Text == "acknowledged by "+alice.ID
	}); err != nil {
		t.Fatal(err)
	}

	// Home tab.
	if _, err := b.api.PublishView(alice.ID, slack.HomeTabViewRequest{Type: slack.VTHomeTab, Blocks: slack.Blocks{BlockSet: card}}, ""); err != nil {
		t.Fatal(err)
	}
	hv, ok := srv.HomeView(alice.ID)
	if !ok || !strings.Contains(hv.AllText(), "Major") {
		t.Fatalf("home %+v", hv)
	}
	if _, err := srv.ClickHomeButton(ctx5(t), alice.ID, "resolve", "7"); err != nil {
		t.Fatal(err)
	}
	if err := srv.OpenAppHome(ctx5(t), alice.ID); err != nil {
		t.Fatal(err)
	}
	evs := b.eventsOf(socketmode.EventTypeEventsAPI)
	if len(evs) != 1 {
		t.Fatalf("events %d", len(evs))
	}
	home, ok := evs[0].Data.(slackevents.EventsAPIEvent).InnerEvent.Data.(*slackevents.AppHomeOpenedEvent)
	if !ok || home.User != alice.ID || home.Tab != "home" || home.View == nil || home.View.ID != hv.ID {
		t.Fatalf("app_home_opened %+v", evs[0].Data)
	}
}

func TestEventsDisconnectRedeliver(t *testing.T) {
	srv := newServer(t, Options{Channels: []ChannelSeed{{Name: "inc-9", Members: []string{"U0FAKEBOT1", alice.ID}}}})
	b := startBot(t, srv, nil)

	ts, err := srv.PostUserMessage(ctx5(t), alice.ID, "inc-9", "rolled back the deploy")
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.EditUserMessage(ctx5(t), alice.ID, "inc-9", ts, "rolled back deploy 42"); err != nil {
		t.Fatal(err)
	}
	if err := srv.AddReaction(ctx5(t), alice.ID, "inc-9", ts, "pushpin"); err != nil {
		t.Fatal(err)
	}
	if err := srv.PinMessage(ctx5(t), alice.ID, "inc-9", ts); err != nil {
		t.Fatal(err)
	}
	if err := srv.JoinChannel(ctx5(t), bob.ID, "inc-9"); err != nil {
		t.Fatal(err)
	}
	if err := srv.DeleteUserMessage(ctx5(t), alice.ID, "inc-9", ts); err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, e := range b.eventsOf(socketmode.EventTypeEventsAPI) {
		ev := e.Data.(slackevents.EventsAPIEvent)
		typ := ev.InnerEvent.Type
		if me, ok := ev.InnerEvent.Data.(*slackevents.MessageEvent); ok && me.SubType != "" {
			typ += "/" + me.SubType
		}
		types = append(types, typ)
	}
	want := "message,message/message_changed,reaction_added,pin_added,member_joined_channel,message/channel_join,message/message_deleted"
	if strings.Join(types, ",") != want {
		t.Fatalf("events\n got %s\nwant %s", strings.Join(types, ","), want)
	}
	first := b.eventsOf(socketmode.EventTypeEventsAPI)[0]
	me := first.Data.(slackevents.EventsAPIEvent).InnerEvent.Data.(*slackevents.MessageEvent)
	if me.User != alice.ID || me.Text != "rolled back the deploy" || me.ChannelType != "channel" || me.TimeStamp != ts {
		t.Fatalf("message event %+v", me)
	}

	// Redelivery carries retry_attempt and the same event_id.
	envs := srv.Envelopes()
	ack, err := srv.Redeliver(ctx5(t), envs[0].ID)
	if err != nil || ack.Late {
		t.Fatal(err)
	}
	all := b.eventsOf(socketmode.EventTypeEventsAPI)
	last := all[len(all)-1]
	orig := first.Data.(slackevents.EventsAPIEvent).Data.(*slackevents.EventsAPICallbackEvent)
	again := last.Data.(slackevents.EventsAPIEvent).Data.(*slackevents.EventsAPICallbackEvent)
	if last.Request.RetryAttempt != 1 || last.Request.RetryReason != "timeout" || again.EventID != orig.EventID || last.Request.EnvelopeID == first.Request.EnvelopeID {
		t.Fatalf("redelivery %+v (event %s vs %s)", last.Request, again.EventID, orig.EventID)
	}

	// Disconnect makes the client reconnect.
	srv.Disconnect("")
	if err := srv.WaitFor(ctx5(t), func() bool { return srv.TotalConnections() == 2 && srv.Connections() == 1 }); err != nil {
		t.Fatal(err)
	}
	// So does a dropped connection.
	srv.DropConnection()
	if err := srv.WaitFor(ctx5(t), func() bool { return srv.TotalConnections() == 3 && srv.Connections() == 1 }); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.PostUserMessage(ctx5(t), alice.ID, "inc-9", "still there?"); err != nil {
		t.Fatal(err)
	}
	if late := srv.LateAcks(); len(late) != 0 {
		t.Fatalf("late acks %+v", late)
	}
}

func TestLateAcksAndRevoke(t *testing.T) {
	srv := newServer(t, Options{AckTimeout: 50 * time.Millisecond})
	b := startBot(t, srv, func(b *bot, evt socketmode.Event) {}) // never acks
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := srv.SlashCommand(ctx, alice.ID, srv.BotUserID(), "status"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want deadline exceeded, got %v", err)
	}
	late := srv.LateAcks()
	if len(late) != 1 || late[0].Type != "slash_commands" || late[0].Acked {
		t.Fatalf("late %+v", late)
	}

	srv.RevokeToken()
	select {
	case err := <-b.done:
		b.done <- err // for the cleanup
		if err == nil || err.Error() != "token_revoked" {
			t.Fatalf("RunContext ended with %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("socketmode client did not stop on token_revoked")
	}
}

func TestMountedHandler(t *testing.T) {
	srv := New(Options{APIPath: "/slack/api/", WSPath: "/slack/ws", ResponsePath: "/slack/hooks/", Users: []User{alice}})
	defer srv.Close()
	mux := http.NewServeMux()
	mux.Handle("/slack/", srv.Handler())
	hs := httptest.NewServer(mux)
	defer hs.Close()
	srv.SetBaseURL(hs.URL)
	if srv.APIURL() != hs.URL+"/slack/api/" {
		t.Fatalf("api url %s", srv.APIURL())
	}
	if _, err := client(srv).AuthTest(); err != nil {
		t.Fatal(err)
	}
	startBot(t, srv, nil)
	if _, err := srv.SlashCommand(ctx5(t), alice.ID, srv.BotUserID(), "list"); err != nil {
		t.Fatal(err)
	}
}

func TestPingsAndAPIEvents(t *testing.T) {
	srv := newServer(t, Options{PingInterval: 20 * time.Millisecond, APIEvents: true})
	b := startBot(t, srv, nil)
	if err := srv.WaitFor(ctx5(t), func() bool { return srv.Pongs() >= 2 }); err != nil {
		t.Fatal(err)
	}
	ch, err := b.api.CreateConversation(slack.CreateConversationParams{ChannelName: "inc-3-api"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.api.InviteUsersToConversation(ch.ID, alice.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.api.PostMessage(ch.ID, slack.MsgOptionText("card", false)); err != nil {
		t.Fatal(err)
	}
	// member_joined_channel + channel_join (bot), member_joined_channel +
	// channel_join (alice), the bot's own message.
	evs := b.waitEvents(t, socketmode.EventTypeEventsAPI, 5)
	var sawEcho, sawJoin bool
	for _, e := range evs {
		switch d := e.Data.(slackevents.EventsAPIEvent).InnerEvent.Data.(type) {
		case *slackevents.MessageEvent:
			if d.BotID == "" && d.SubType == "" {
				t.Fatalf("bot echo without bot_id: %+v", d)
			}
			sawEcho = sawEcho || (d.Text == "card" && d.User == srv.BotUserID())
		case *slackevents.MemberJoinedChannelEvent:
			sawJoin = sawJoin || (d.User == alice.ID && d.Inviter == srv.BotUserID() && d.Channel == ch.ID)
		}
	}
	if !sawEcho || !sawJoin {
		t.Fatalf("echo %v join %v", sawEcho, sawJoin)
	}
	if srv.TotalConnections() != 1 {
		t.Fatal("unexpected reconnect")
	}
}

// With SpreadEnvelopes, envelopes go to the app's connections in turn, and
// one whose connection dies before the ack is delivered again on another,
// as Slack does with several replicas.
func TestSpreadEnvelopesAndRedeliverToAnotherConnection(t *testing.T) {
	srv := newServer(t, Options{SpreadEnvelopes: true, Channels: []ChannelSeed{{Name: "ops", Members: []string{alice.ID}}}})
	var mu sync.Mutex
	dying := false
	got := map[string][]string{} // bot → envelope IDs
	handler := func(name string) func(b *bot, evt socketmode.Event) {
		return func(b *bot, evt socketmode.Event) {
			if evt.Type == socketmode.EventTypeSlashCommand {
				mu.Lock()
				got[name] = append(got[name], evt.Request.EnvelopeID)
				die := dying && name == "b"
				mu.Unlock()
				if die {
					b.cancel() // killed before acking
					return
				}
			}
			_ = b.sm.Ack(*evt.Request)
		}
	}
	startBot(t, srv, handler("a"))
	startBot(t, srv, handler("b"))
	deadline := time.Now().Add(5 * time.Second)
	for srv.Connections() < 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	for range 4 {
		if _, err := srv.SlashCommand(ctx5(t), alice.ID, "ops", "help"); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	if len(got["a"]) != 2 || len(got["b"]) != 2 {
		t.Fatalf("envelopes per connection = %d and %d, want 2 and 2", len(got["a"]), len(got["b"]))
	}
	dying = true
	mu.Unlock()
	for range 2 { // one of the two lands on b, which dies
		if _, err := srv.SlashCommand(ctx5(t), alice.ID, "ops", "help"); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	lost := got["b"][2]
	if !slices.Contains(got["a"], lost) {
		t.Fatalf("envelope %s, unacknowledged by the dead connection, was not delivered to the other: %v", lost, got)
	}
}

// The bot's own actions come back as Slack sends them: its card edit as a
// message_changed whose bot identity is only in the nested message, its
// pin as pin_added by the bot user, its channel creation as a
// member_joined_channel for itself, and one "set the channel topic"
// message per conversations.setTopic, even to the same text.
func TestAPIEventsEchoTheBotLikeSlack(t *testing.T) {
	srv := newServer(t, Options{APIEvents: true})
	b := startBot(t, srv, nil)
	ch, err := b.api.CreateConversation(slack.CreateConversationParams{ChannelName: "inc-4-echo"})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if _, err := b.api.SetTopicOfConversation(ch.ID, "Major · bedroom"); err != nil {
			t.Fatal(err)
		}
	}
	_, ts, err := b.api.PostMessage(ch.ID, slack.MsgOptionText("card", false))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := b.api.UpdateMessage(ch.ID, ts, slack.MsgOptionText("card, refreshed", false)); err != nil {
		t.Fatal(err)
	}
	if err := b.api.AddPin(ch.ID, slack.NewRefToMessage(ch.ID, ts)); err != nil {
		t.Fatal(err)
	}
	// member_joined_channel + channel_join (bot), 2 channel_topic, the
	// post, its message_changed, pin_added.
	evs := b.waitEvents(t, socketmode.EventTypeEventsAPI, 7)
	var joined, changed, pinned, topics int
	for _, e := range evs {
		switch d := e.Data.(slackevents.EventsAPIEvent).InnerEvent.Data.(type) {
		case *slackevents.MemberJoinedChannelEvent:
			if d.User == srv.BotUserID() && d.Channel == ch.ID {
				joined++
			}
		case *slackevents.MessageEvent:
			switch d.SubType {
			case "message_changed":
				if d.User != "" || d.BotID != "" || d.Message == nil || d.Message.User != srv.BotUserID() || d.Message.BotID == "" || d.Message.Text != "card, refreshed" {
					t.Errorf("message_changed not as Slack sends it: %+v %+v", d, d.Message)
				}
				changed++
			case "channel_topic":
				if d.User != srv.BotUserID() || d.Text != "set the channel topic: Major · bedroom" {
					t.Errorf("channel_topic: %+v", d)
				}
				topics++
			}
		case *slackevents.PinAddedEvent:
			if d.User == srv.BotUserID() && d.Channel == ch.ID {
				pinned++
			}
		}
	}
	if joined != 1 || changed != 1 || pinned != 1 || topics != 2 {
		t.Fatalf("joined %d changed %d pinned %d topics %d", joined, changed, pinned, topics)
	}
	n := 0
	for _, m := range srv.Messages(ch.ID) {
		if m.Subtype == "channel_topic" {
			n++
		}
	}
	if n != 2 {
		t.Fatalf("%d channel_topic messages in the channel, want 2", n)
	}
}

// People's messages have Slack's 40,000-character limit too: 35,000
// characters go through (the bot must cope with them), 40,001 do not.
func TestUserMessageLimit(t *testing.T) {
	srv := newServer(t, Options{Channels: []ChannelSeed{{Name: "ops", Members: []string{alice.ID}}}})
	ch, _ := srv.Channel("ops")
	ctx := context.Background()
	if _, err := srv.PostUserMessage(ctx, alice.ID, ch.ID, strings.Repeat("é", 35_000)); err != nil {
		t.Fatalf("a 35,000-character message: %v", err)
	}
	if _, err := srv.PostUserMessage(ctx, alice.ID, ch.ID, strings.Repeat("x", 40_001)); err == nil || err.Error() != "msg_too_long" {
		t.Fatalf("a 40,001-character message: %v", err)
	}
	if n := len(srv.Messages(ch.ID)); n != 1 {
		t.Errorf("%d messages stored", n)
	}
}

// A hung call ends when its client goes away (gives up or dies), as on a
// real server: Hanging counts only the calls still held for a live client.
func TestHungCallEndsWhenTheClientGoesAway(t *testing.T) {
	srv := newServer(t, Options{})
	srv.HangNext("chat.postMessage", 1)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, _, err := client(srv).PostMessageContext(ctx, "general", slack.MsgOptionText("hello", false))
		errc <- err
	}()
	if err := srv.WaitFor(ctxT(t, 10*time.Second), func() bool { return srv.Hanging("chat.postMessage") == 1 }); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("the client's call ended with %v, want context.Canceled", err)
	}
	if err := srv.WaitFor(ctxT(t, 10*time.Second), func() bool { return srv.Hanging("chat.postMessage") == 0 }); err != nil {
		t.Fatalf("the call still hangs after its client went away: %v", err)
	}
	if msgs := srv.Messages("general"); len(msgs) != 0 {
		t.Fatalf("a hung call had an effect: %v", msgs)
	}
}
