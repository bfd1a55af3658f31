package bot_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/bot"
	"github.com/incidentbot/incidentbot/incident"
	"github.com/incidentbot/incidentbot/incident/boltstore"
	"github.com/incidentbot/incidentbot/incident/boltstore/bolttest"
	"github.com/incidentbot/incidentbot/incident/desk"
	"github.com/incidentbot/incidentbot/incident/incidenttest"
)

func TestCardEvery(t *testing.T) {
	for _, c := range []struct{ open, want int }{{0, 1}, {1, 1}, {40, 1}, {41, 2}, {80, 2}, {81, 3}, {400, 10}} {
		if got := bot.CardEvery(c.open); got != c.want {
			t.Errorf("CardEvery(%d) = %d, want %d", c.open, got, c.want)
		}
	}
}

// The planner puts the channel, announcement and App Home jobs of a new
// incident in the same transaction as the incident, and the managers and
// reminder jobs of a Major.
func TestPlannerPlansANewMajor(t *testing.T) {
	st := bolttest.Open(t, boltstore.Options{})
	clk := incidenttest.NewClock(incidenttest.T0)
	d := desk.New(st, incidenttest.Furniture(), desk.Options{Now: clk.Now, Planners: []desk.Planner{bot.Planner{}}})
	blocked := incident.DefaultShares.Impact(incident.ImpactBlocked)
	if _, err := d.Declare(context.Background(), desk.DeclareRequest{Service: "bedroom", Title: "Beds", Actor: "UA", Impact: blocked}); err != nil {
		t.Fatal(err)
	}
	jobs, _ := st.Pending(context.Background())
	kinds := map[string]bool{}
	for _, j := range jobs {
		kinds[j.Kind] = true
	}
	for _, k := range []string{bot.JobChannel, bot.JobAnnounce, bot.JobHomes, bot.JobManagers, bot.JobRemind, desk.JobCommander, desk.JobCallout} {
		if !kinds[k] {
			t.Errorf("no %s job planned: %v", k, kinds)
		}
	}
}

// The refresh ticks every open incident each minute, but with more than 40
// open it refreshes each card only every other minute, so scheduled
// chat.update calls stay inside Slack's Tier 3 limit; resolved incidents
// stop refreshing.
func TestRefreshSpreadsCardUpdates(t *testing.T) {
	st := bolttest.Open(t, boltstore.Options{})
	clk := incidenttest.NewClock(incidenttest.T0)
	d := desk.New(st, incidenttest.Furniture(), desk.Options{Now: clk.Now, Planners: []desk.Planner{bot.Planner{}}})
	ctx := context.Background()
	var numbers []int64
	for i := range 41 {
		inc, err := d.Declare(ctx, desk.DeclareRequest{Service: "bedroom", Title: "Beds " + string(rune('a'+i%26)), Actor: "UA"})
		if err != nil {
			t.Fatal(err)
		}
		numbers = append(numbers, inc.Number)
	}
	var (
		mu       sync.Mutex
		refresh  = map[int]int{} // cycle → next-refresh jobs enqueued for it
		cards    = map[int]int{} // cycle that ran → card jobs it enqueued
		lastCycl = map[int64]int{}
	)
	enqueue := func(ctx context.Context, jobs ...desk.Job) error {
		mu.Lock()
		var ran int
		for _, j := range jobs {
			if j.Kind == desk.JobRefresh {
				var p desk.Payload
				if err := json.Unmarshal(j.Payload, &p); err != nil {
					t.Error(err)
				}
				refresh[p.Cycle]++
				ran = p.Cycle - 1
				lastCycl[j.Incident] = p.Cycle
			}
		}
		for _, j := range jobs {
			if j.Kind == bot.JobCard {
				cards[ran]++
			}
		}
		mu.Unlock()
		return st.Enqueue(ctx, jobs...)
	}
	r := desk.NewRunner(st, desk.RunnerOptions{Now: clk.Now, Poll: 5 * time.Millisecond})
	(&desk.Duties{Desk: d, OnCall: desk.RotationFinder{}, Enqueue: enqueue, CountOpen: st.CountOpen}).Register(r)
	r.Handle(bot.JobCard, func(context.Context, desk.Job) error { return nil })
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- r.Run(rctx) }()
	defer func() { cancel(); <-done }()

	waitCycle := func(cycle, want int) {
		t.Helper()
		incidenttest.Eventually(t, "refreshes of the cycle", func() bool {
			mu.Lock()
			defer mu.Unlock()
			if refresh[cycle+1] > want {
				t.Fatalf("cycle %d: %d refreshes, want %d", cycle, refresh[cycle+1], want)
			}
			return refresh[cycle+1] == want
		})
	}
	for cycle := range 3 {
		clk.Advance(time.Minute)
		r.Wake()
		waitCycle(cycle, 41)
	}
	// Two resolved: 39 open, back to a card a minute each.
	for _, n := range numbers[:2] {
		if _, err := d.Resolve(ctx, n, desk.Op{Actor: incident.ActorSystem}, ""); err != nil {
			t.Fatal(err)
		}
	}
	clk.Advance(time.Minute)
	r.Wake()
	waitCycle(3, 39)
	clk.Advance(time.Minute)
	r.Wake()
	waitCycle(4, 39)

	mu.Lock()
	defer mu.Unlock()
	want := map[int]int{0: 41, 1: 0, 2: 41, 3: 39, 4: 39}
	for c, n := range want {
		if cards[c] != n {
			t.Errorf("cycle %d refreshed %d cards, want %d (all: %v)", c, cards[c], n, cards)
		}
	}
	for _, n := range numbers[:2] {
		if lastCycl[n] != 3 {
			t.Errorf("resolved incident %d kept refreshing: last cycle %d", n, lastCycl[n])
		}
	}
}

// The verb table is the one list of verbs: every verb parses (none is
// answered "I don't know"), and the help text shows each one's syntax.
func TestVerbTableIsTheOneList(t *testing.T) {
	args := map[string]string{
		"declare": "bedroom Beds down", "drill": "bedroom Chaos Day", "services": "bedroom", "stats": "30d", "impact": "blocked",
		"cost": "100 refunds", "commander": "me", "note": "x", "update": "x", "major": "x", "minor": "x",
		"action": "x", "publish": "confirm",
		"affects": "bedroom", "unaffects": "bedroom fixed", "merge": "2", "page": "platform-team",
	}
	for _, v := range bot.Verbs() {
		c, err := bot.ParseCommand(v+" "+args[v], "U1", incident.USD, incident.DefaultShares)
		if err != nil {
			t.Errorf("/incident %s %s: %v", v, args[v], err)
		}
		if c.Verb != v {
			t.Errorf("/incident %s parsed as %q", v, c.Verb)
		}
		if !strings.Contains(bot.Usage, "/incident "+v) && !strings.Contains(bot.Usage, "|"+v) {
			t.Errorf("the help text does not show %q", v)
		}
	}
	if _, err := bot.ParseCommand("frobnicate", "U1", incident.USD, incident.DefaultShares); err == nil || !strings.Contains(incident.ErrorMessage(err), "frobnicate") {
		t.Errorf("an unknown verb: %v", err)
	}
}

// Marking an incident a security incident after it opened plans the move
// of its channel to a private one, once; an incident declared as a
// security incident gets a private channel from the start and no move.
func TestPlannerPlansThePrivateChannel(t *testing.T) {
	st := bolttest.Open(t, boltstore.Options{})
	clk := incidenttest.NewClock(incidenttest.T0)
	d := desk.New(st, incidenttest.Furniture(), desk.Options{Now: clk.Now, Planners: []desk.Planner{bot.Planner{}}})
	ctx := context.Background()
	moves := func() []desk.Job {
		jobs, _ := st.Pending(ctx)
		var out []desk.Job
		for _, j := range jobs {
			if j.Kind == bot.JobPrivateChannel {
				out = append(out, j)
			}
		}
		return out
	}
	inc, err := d.Declare(ctx, desk.DeclareRequest{Service: "bedroom", Title: "Beds", Actor: "UA", Idem: "e1"})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(moves()); n != 0 {
		t.Fatalf("%d moves planned at declaration", n)
	}
	op := desk.Op{Actor: "UA", Idem: "e2"}
	for range 2 { // the second is a redelivery
		if _, err := d.MarkSecurity(ctx, inc.Number, op); err != nil {
			t.Fatal(err)
		}
	}
	if m := moves(); len(m) != 1 || m[0].Incident != inc.Number {
		t.Fatalf("moves planned: %+v", m)
	}
	sec, err := d.Declare(ctx, desk.DeclareRequest{Service: "bedroom", Title: "Keys", Actor: "UA", Idem: "e3", Security: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range moves() {
		if j.Incident == sec.Number {
			t.Errorf("a move planned for an incident declared private: %+v", j)
		}
	}
}
