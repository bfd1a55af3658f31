// Package bottest runs the real bot against the Slack-workspace emulator
// (internal/fakeslack) the way `incidentbot serve` wires it, for the Slack
// adapter's tests and the end-to-end tests.
package bottest

import (
	"context"
	"log/slog"
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
	Alice    = "UALICE001" // bedroom-team member, on call this week
	Bob      = "UBOB00002" // bedroom-team member
	Carol    = "UCAROL003" // incident manager
	Dave     = "UDAVE0004" // someone from another team
	Erin     = "UERIN0005" // appointments-team
	Frank    = "UFRANK006" // furniture domain on-call
	Grace    = "UGRACE007" // platform-team
	Announce = "CANNOUNCE1"
)

// TuesdayNoon is in working hours in London.
var TuesdayNoon = time.Date(2026, 11, 17, 12, 0, 0, 0, time.UTC)

// Catalogue is the playbook's furniture retailer, staffed by the fake
// workspace's people.
func Catalogue(t testing.TB) *incident.Catalogue {
	t.Helper()
	c := incidenttest.Furniture()
	incidenttest.Domain(c, "furniture").OnCall = incidenttest.Rotation(Frank)
	incidenttest.Staff(c, "platform-team", incidenttest.Rotation(Grace), Grace)
	incidenttest.Staff(c, "appointments-team", incidenttest.Rotation(Erin), Erin)
	incidenttest.Staff(c, "bedroom-team", incidenttest.Rotation(Alice), Alice, Bob)
	bedroom := incidenttest.Service(c, "bedroom")
	bedroom.Runbook, bedroom.Peaks = "https://runbooks.example/bedroom", nil
	c.IncidentManagers, c.IncidentManagerOnCall = []string{Carol}, incidenttest.Rotation(Carol)
	return incidenttest.Valid(t, c)
}

// NewFake starts a fake workspace of those people, with #incidents and
// #general; it closes when the test ends.
func NewFake(t testing.TB) *fakeslack.Server {
	t.Helper()
	var users []fakeslack.User
	for _, u := range []string{Alice, Bob, Carol, Dave, Erin, Frank, Grace} {
		users = append(users, fakeslack.User{ID: u, Name: strings.ToLower(u[1:6]), Email: strings.ToLower(u[1:6]) + "@example.com"})
	}
	all := []string{Alice, Bob, Carol, Dave, Erin, Frank, Grace, "U0FAKEBOT1"}
	fs := fakeslack.New(fakeslack.Options{
		Users:     users,
		Channels:  []fakeslack.ChannelSeed{{ID: Announce, Name: "incidents", Members: all}, {Name: "general", Members: all}},
		APIEvents: true,
	})
	if err := fs.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fs.Close)
	return fs
}

// Instance is one running bot process, in-process.
type Instance struct {
	Store  *boltstore.Store
	Desk   *desk.Desk
	Bot    *bot.Bot
	Runner *desk.Runner
	cancel context.CancelFunc
	done   chan error
}

// Run runs the runner and the bot's Socket Mode loop until Stop.
func Run(st *boltstore.Store, d *desk.Desk, b *bot.Bot, runner *desk.Runner, sm *socketmode.Client) *Instance {
	ctx, cancel := context.WithCancel(context.Background())
	inst := &Instance{Store: st, Desk: d, Bot: b, Runner: runner, cancel: cancel, done: make(chan error, 2)}
	go func() { inst.done <- runner.Run(ctx) }()
	go func() { inst.done <- b.Serve(ctx, sm) }()
	return inst
}

// Stop shuts the bot down cleanly and checks the database.
func (inst *Instance) Stop(t testing.TB) {
	t.Helper()
	inst.cancel()
	for i := 0; i < 2; i++ {
		select {
		case <-inst.done:
		case <-time.After(10 * time.Second):
			t.Errorf("bot did not stop")
		}
	}
	if err := inst.Store.Check(); err != nil {
		t.Errorf("database check: %v", err)
	}
	inst.Store.Close()
}

// Config is what Start needs.
type Config struct {
	APIURL, BotToken, AppToken, Path string
	Clock                            *incidenttest.Clock
	Catalogue                        *incident.Catalogue
	Log                              *slog.Logger
	// CallTimeout bounds each Slack Web API call and JobTimeout each job
	// run (the defaults of serve when zero).
	CallTimeout, JobTimeout time.Duration
}

// Start runs a bot on the database at c.Path the way `incidentbot serve`
// wires it.
func Start(t testing.TB, c Config) *Instance {
	t.Helper()
	clk, cat, log := c.Clock, c.Catalogue, c.Log
	st, err := boltstore.Open(c.Path, boltstore.Options{Logger: log, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	d := desk.New(st, cat, desk.Options{Logger: log, Now: clk.Now, Planners: []desk.Planner{bot.Planner{}}})
	runner := desk.NewRunner(st, desk.RunnerOptions{Logger: log, Now: clk.Now, Classify: bot.Classify, Poll: 50 * time.Millisecond, JobTimeout: c.JobTimeout})
	api := bot.NewClient(bot.ClientOptions{BotToken: c.BotToken, AppToken: c.AppToken, APIURL: c.APIURL, Timeout: c.CallTimeout})
	b := bot.New(api, d, st, bot.Options{Logger: log, Now: clk.Now, AnnounceChannel: "incidents", Wake: runner.Wake})
	b.Register(runner)
	(&desk.Duties{Desk: d, OnCall: desk.RotationFinder{Location: cat.WorkingHours.Location}, Enqueue: st.Enqueue, CountOpen: st.CountOpen}).Register(runner)
	return Run(st, d, b, runner, socketmode.New(api))
}
