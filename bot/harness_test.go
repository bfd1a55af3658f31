package bot_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack/socketmode"

	"github.com/incidentbot/incidentbot/bot"
	"github.com/incidentbot/incidentbot/incident"
	"github.com/incidentbot/incidentbot/incident/boltstore"
	"github.com/incidentbot/incidentbot/incident/desk"
	"github.com/incidentbot/incidentbot/incident/incidenttest"
	"github.com/incidentbot/incidentbot/internal/fakeslack"
)

// People of the fake workspace.
const (
	alice   = "UALICE001" // bedroom-team member, on call this week
	bob     = "UBOB00002" // bedroom-team member
	carol   = "UCAROL003" // incident manager
	dave    = "UDAVE0004" // someone from another team
	erin    = "UERIN0005" // appointments-team
	frank   = "UFRANK006" // furniture domain on-call
	grace   = "UGRACE007" // platform-team
	announc = "CANNOUNCE1"
)

type clock = incidenttest.Clock

func newClock(base time.Time) *clock { return incidenttest.NewRunningClock(base) }

// tuesdayNoon is in working hours in London.
var tuesdayNoon = time.Date(2026, 11, 17, 12, 0, 0, 0, time.UTC)

func catalogue(t testing.TB) *incident.Catalogue {
	t.Helper()
	c := incidenttest.Furniture()
	incidenttest.Domain(c, "furniture").OnCall = incidenttest.Rotation(frank)
	incidenttest.Staff(c, "platform-team", incidenttest.Rotation(grace), grace)
	incidenttest.Staff(c, "appointments-team", incidenttest.Rotation(erin), erin)
	incidenttest.Staff(c, "bedroom-team", incidenttest.Rotation(alice), alice, bob)
	bedroom := incidenttest.Service(c, "bedroom")
	bedroom.Runbook, bedroom.Peaks = "https://runbooks.example/bedroom", nil
	c.IncidentManagers, c.IncidentManagerOnCall = []string{carol}, incidenttest.Rotation(carol)
	return incidenttest.Valid(t, c)
}

func newFake(t testing.TB) *fakeslack.Server {
	t.Helper()
	var users []fakeslack.User
	for _, u := range []string{alice, bob, carol, dave, erin, frank, grace} {
		users = append(users, fakeslack.User{ID: u, Name: strings.ToLower(u[1:6]), Email: strings.ToLower(u[1:6]) + "@example.com"})
	}
	all := []string{alice, bob, carol, dave, erin, frank, grace, "U0FAKEBOT1"}
	fs := fakeslack.New(fakeslack.Options{
		Users:     users,
		Channels:  []fakeslack.ChannelSeed{{ID: announc, Name: "incidents", Members: all}, {Name: "general", Members: all}},
		APIEvents: true,
	})
	if err := fs.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fs.Close)
	return fs
}

// instance is one running bot process, in-process.
type instance struct {
	store  *boltstore.Store
	desk   *desk.Desk
	bot    *bot.Bot
	runner *desk.Runner
	cancel context.CancelFunc
	done   chan error
}

type env struct {
	t testing.TB
	// callTimeout bounds each Slack Web API call and jobTimeout each job
	// run (the defaults of serve when zero).
	callTimeout, jobTimeout time.Duration
	fs                      *fakeslack.Server
	clock                   *clock
	cat                     *incident.Catalogue
	path                    string
	inst                    *instance
	// logs, when set, receives the bot's log (JSON lines).
	logs io.Writer
	// api, when set, is the Web API URL the bot calls instead of the
	// fake's own (a recording proxy in front of it).
	api string
}

func (e *env) apiURL() string {
	if e.api != "" {
		return e.api
	}
	return e.fs.APIURL()
}

func newEnv(t testing.TB, start time.Time, opts ...func(*env)) *env {
	t.Helper()
	e := &env{t: t, fs: newFake(t), clock: newClock(start), cat: catalogue(t), path: filepath.Join(t.TempDir(), "incidentbot.db")}
	for _, o := range opts {
		o(e)
	}
	e.start()
	t.Cleanup(e.stop)
	return e
}

func (e *env) logger() *slog.Logger {
	if e.logs != nil {
		return slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if os.Getenv("E2E_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// start runs a bot the way `incidentbot serve` wires it.
func (e *env) start() {
	e.t.Helper()
	e.inst = startBot(e.t, botConfig{apiURL: e.apiURL(), botToken: e.fs.BotToken(), appToken: e.fs.AppToken(),
		path: e.path, clock: e.clock, cat: e.cat, log: e.logger(), callTimeout: e.callTimeout, jobTimeout: e.jobTimeout})
	wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer wcancel()
	if err := e.fs.WaitConnected(wctx); err != nil {
		e.t.Fatal(err)
	}
}

// botConfig is what startBot needs.
type botConfig struct {
	apiURL, botToken, appToken, path string
	clock                            *clock
	cat                              *incident.Catalogue
	log                              *slog.Logger
	callTimeout, jobTimeout          time.Duration
}

func startBot(t testing.TB, c botConfig) *instance {
	t.Helper()
	clk, cat, log := c.clock, c.cat, c.log
	st, err := boltstore.Open(c.path, boltstore.Options{Logger: log, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	d := desk.New(st, cat, desk.Options{Logger: log, Now: clk.Now, Planners: []desk.Planner{bot.Planner{}}})
	runner := desk.NewRunner(st, desk.RunnerOptions{Logger: log, Now: clk.Now, Classify: bot.Classify, Poll: 50 * time.Millisecond, JobTimeout: c.jobTimeout})
	api := bot.NewClient(bot.ClientOptions{BotToken: c.botToken, AppToken: c.appToken, APIURL: c.apiURL, Timeout: c.callTimeout})
	b := bot.New(api, d, st, bot.Options{Logger: log, Now: clk.Now, AnnounceChannel: "incidents", Wake: runner.Wake})
	b.Register(runner)
	(&desk.Duties{Desk: d, OnCall: desk.RotationFinder{Location: cat.WorkingHours.Location}, Enqueue: st.Enqueue, CountOpen: st.CountOpen}).Register(runner)
	sm := socketmode.New(api)
	ctx, cancel := context.WithCancel(context.Background())
	inst := &instance{store: st, desk: d, bot: b, runner: runner, cancel: cancel, done: make(chan error, 2)}
	go func() { inst.done <- runner.Run(ctx) }()
	go func() { inst.done <- b.Serve(ctx, sm) }()
	return inst
}

// stop shuts the bot down cleanly and checks the database.
func (e *env) stop() {
	if e.inst == nil {
		return
	}
	e.inst.cancel()
	for i := 0; i < 2; i++ {
		select {
		case <-e.inst.done:
		case <-time.After(10 * time.Second):
			e.t.Errorf("bot did not stop")
		}
	}
	if err := e.inst.store.Check(); err != nil {
		e.t.Errorf("database check: %v", err)
	}
	e.inst.store.Close()
	e.inst = nil
}

// restart stops the bot, waits until the fake has seen its socket go (so
// nothing is sent to a dead connection), and starts it again.
func (e *env) restart() {
	e.stop()
	e.waitFor("old connection gone", func() bool { return e.fs.Connections() == 0 })
	e.start()
}

func (e *env) ctx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	e.t.Cleanup(cancel)
	return ctx
}

// waitFor waits until cond holds, or fails the test with what.
func (e *env) waitFor(what string, cond func() bool) {
	e.t.Helper()
	incidenttest.Eventually(e.t, what, cond)
}

func (e *env) slash(userID, channelID, text string) *fakeslack.Ack {
	e.t.Helper()
	ack, err := e.fs.SlashCommand(e.ctx(), userID, channelID, text)
	if err != nil {
		e.t.Fatalf("/incident %s: %v", text, err)
	}
	if ack.Late {
		e.t.Errorf("/incident %s acknowledged late: %v", text, ack.Latency)
	}
	return ack
}

func (e *env) channelOf(n int) fakeslack.Channel {
	e.t.Helper()
	var ch fakeslack.Channel
	e.waitFor("channel of incident", func() bool {
		for _, c := range e.fs.Channels() {
			if strings.HasPrefix(c.Name, "inc-"+itoaT(n)+"-") || c.Name == "inc-"+itoaT(n) {
				ch = c
				// Ready once the card is pinned.
				return len(e.fs.Pins(c.ID)) > 0
			}
		}
		return false
	})
	ch, _ = e.fs.Channel(ch.ID)
	return ch
}

// liveChannelOf is incident n's channel now: the one not archived.
func (e *env) liveChannelOf(n int) string {
	e.t.Helper()
	id := ""
	e.waitFor("live channel of incident", func() bool {
		for _, c := range e.fs.Channels() {
			if strings.HasPrefix(c.Name, "inc-"+itoaT(n)+"-") && !c.IsArchived && len(c.Pins) > 0 {
				id = c.ID
				return true
			}
		}
		return false
	})
	return id
}

func itoaT(n int) string { b, _ := json.Marshal(n); return string(b) }

func (e *env) incident(n int64) (*incident.Incident, incident.State) {
	e.t.Helper()
	inc, err := e.inst.desk.Get(context.Background(), n)
	if err != nil {
		e.t.Fatal(err)
	}
	return inc, inc.State(e.cat.Policy, e.clock.Now())
}

// botTexts are the texts (and block texts) of the bot's messages.
func (e *env) botTexts(channelID string) []string {
	var out []string
	for _, m := range e.fs.Messages(channelID) {
		if m.BotID != "" || m.User == e.fs.BotUserID() {
			out = append(out, m.AllText())
		}
	}
	return out
}

func (e *env) hasBotText(channelID, substr string) bool {
	for _, s := range e.botTexts(channelID) {
		if strings.Contains(s, substr) {
			return true
		}
	}
	return false
}

func (e *env) countBotText(channelID, substr string) int {
	n := 0
	for _, s := range e.botTexts(channelID) {
		if strings.Contains(s, substr) {
			n++
		}
	}
	return n
}

func (e *env) ephemeralText(userID string) string {
	var b strings.Builder
	for _, m := range e.fs.Ephemerals(userID) {
		b.WriteString(m.Text)
		b.WriteString(fakeslack.PlainText(m.Blocks))
		b.WriteString("\n")
	}
	return b.String()
}

var boltstoreFilterAll = desk.Filter{}

func fakeslackSeed(name, creator string) fakeslack.ChannelSeed {
	return fakeslack.ChannelSeed{Name: name, Members: []string{creator}, Creator: creator}
}

type fakeslackMessage = fakeslack.Message

func slogDiscard() *slog.Logger { return slog.New(slog.DiscardHandler) }

func (e *env) waitMember(user, channelID string) {
	e.t.Helper()
	e.waitFor(user+" in the channel", func() bool { return strings.Contains(strings.Join(e.fs.Members(channelID), ","), user) })
}
