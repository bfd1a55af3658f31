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

	"github.com/incidentbot/incidentbot/bot/bottest"
	"github.com/incidentbot/incidentbot/incident"
	"github.com/incidentbot/incidentbot/incident/desk"
	"github.com/incidentbot/incidentbot/incident/incidenttest"
	"github.com/incidentbot/incidentbot/internal/fakeslack"
)

// People of the fake workspace.
const (
	alice   = bottest.Alice
	bob     = bottest.Bob
	carol   = bottest.Carol
	dave    = bottest.Dave
	erin    = bottest.Erin
	frank   = bottest.Frank
	grace   = bottest.Grace
	announc = bottest.Announce
)

type clock = incidenttest.Clock

func newClock(base time.Time) *clock { return incidenttest.NewRunningClock(base) }

var (
	tuesdayNoon = bottest.TuesdayNoon
	catalogue   = bottest.Catalogue
	newFake     = bottest.NewFake
)

type env struct {
	t testing.TB
	// callTimeout bounds each Slack Web API call and jobTimeout each job
	// run (the defaults of serve when zero).
	callTimeout, jobTimeout time.Duration
	fs                      *fakeslack.Server
	clock                   *clock
	cat                     *incident.Catalogue
	path                    string
	inst                    *bottest.Instance
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
	e.inst = bottest.Start(e.t, bottest.Config{APIURL: e.apiURL(), BotToken: e.fs.BotToken(), AppToken: e.fs.AppToken(),
		Path: e.path, Clock: e.clock, Catalogue: e.cat, Log: e.logger(), CallTimeout: e.callTimeout, JobTimeout: e.jobTimeout})
	wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer wcancel()
	if err := e.fs.WaitConnected(wctx); err != nil {
		e.t.Fatal(err)
	}
}

// stop shuts the bot down cleanly and checks the database.
func (e *env) stop() {
	if e.inst == nil {
		return
	}
	e.inst.Stop(e.t)
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
	inc, err := e.inst.Desk.Get(context.Background(), n)
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

func (e *env) waitMember(user, channelID string) {
	e.t.Helper()
	e.waitFor(user+" in the channel", func() bool { return strings.Contains(strings.Join(e.fs.Members(channelID), ","), user) })
}
