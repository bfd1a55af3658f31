package desk_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/incident"
	"github.com/incidentbot/incidentbot/incident/boltstore"
	"github.com/incidentbot/incidentbot/incident/desk"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func setup(t testing.TB) (*desk.Desk, *boltstore.Store, *clock) {
	t.Helper()
	c := testCatalogue()
	st, err := boltstore.Open(filepath.Join(t.TempDir(), "x.db"), boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := st.Check(); err != nil {
			t.Errorf("check: %v", err)
		}
		st.Close()
	})
	clk := &clock{t: time.Date(2026, 11, 17, 12, 0, 0, 0, time.UTC)}
	return desk.New(st, c, desk.Options{Now: clk.Now, GroupingWindow: 30 * time.Minute}), st, clk
}

func testCatalogue() *incident.Catalogue {
	usd := incident.USD
	return &incident.Catalogue{
		Policy: incident.Policy{
			Currency:   usd,
			Bands:      incident.Bands{{MaxHourlyExposure: usd.Major(7_000), Availability: 95_000}, {MaxHourlyExposure: usd.Major(250_000), Availability: 99_000}},
			Shares:     incident.DefaultShares,
			Thresholds: incident.Thresholds{High: usd.Major(100_000), Medium: usd.Major(10_000)},
			Horizon:    time.Hour,
		},
		Teams:            []incident.Team{{Name: "bedroom-team", Members: []string{"UA"}}},
		Services:         []incident.Service{{Name: "bedroom", Team: "bedroom-team", HourlyExposure: usd.Major(200_000)}},
		IncidentManagers: []string{"UM"},
	}
}

func TestDeclareIsIdempotent(t *testing.T) {
	d, st, _ := setup(t)
	ctx := context.Background()
	req := desk.DeclareRequest{Service: "bedroom", Title: "Beds", Actor: "UA", Idem: "env-1"}
	a, err := d.Declare(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	b, err := d.Declare(ctx, req)
	if err != nil || b.Number != a.Number {
		t.Fatalf("redelivered declaration made incident %d (first %d): %v", b.Number, a.Number, err)
	}
	if _, err := d.Declare(ctx, desk.DeclareRequest{Service: "nope", Title: "x"}); incident.ErrorCode(err) != incident.ENOTFOUND {
		t.Errorf("unknown service: %v", err)
	}
	incs, _ := st.List(ctx, desk.Filter{})
	if len(incs) != 1 {
		t.Errorf("%d incidents", len(incs))
	}
	// The declaration planned the channel, announcement and callout jobs.
	jobs, _ := st.Pending(ctx)
	kinds := map[string]bool{}
	for _, j := range jobs {
		kinds[j.Kind] = true
	}
	for _, k := range []string{desk.JobChannel, desk.JobAnnounce, desk.JobCallout} {
		if !kinds[k] {
			t.Errorf("no %s job planned: %v", k, kinds)
		}
	}
}

func TestAlertGrouping(t *testing.T) {
	d, st, clk := setup(t)
	ctx := context.Background()
	fire := func(key, svc, idem string) desk.AlertResult {
		t.Helper()
		r, err := d.Alert(ctx, desk.Alert{Source: incident.ActorAlertmanager, Key: key, Service: svc, Title: "alert " + key, Firing: true, Idem: idem})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	first := fire("g1", "bedroom", "n1")
	if !first.Created {
		t.Fatalf("first alert did not open an incident: %+v", first)
	}
	if r := fire("g1", "bedroom", "n2"); !r.Attached || r.Number != first.Number {
		t.Errorf("same key: %+v", r)
	}
	if r := fire("g2", "bedroom", "n3"); !r.Attached || r.Number != first.Number {
		t.Errorf("same service within the window: %+v", r)
	}
	if r := fire("g1", "bedroom", "n1"); r.Number != first.Number {
		t.Errorf("a repeated notification: %+v", r)
	}
	clk.Advance(31 * time.Minute)
	if r := fire("g3", "bedroom", "n4"); !r.Created {
		t.Errorf("a new group after the window should open a new incident: %+v", r)
	}
	if r := fire("g9", "warehouse-robots", "n5"); !r.Created {
		t.Errorf("unknown service: %+v", r)
	} else if inc, _ := st.Get(ctx, r.Number); !inc.Unmapped || inc.Service.Name != "warehouse-robots" {
		t.Errorf("unmapped incident: %+v", inc)
	}
	// Alerts without a service group only by key, never with everything open.
	if r := fire("g10", "", "n7"); !r.Created {
		t.Errorf("an alert without a service joined an unrelated incident: %+v", r)
	}
	// Resolved notifications go on the timeline.
	if r, err := d.Alert(ctx, desk.Alert{Source: incident.ActorAlertmanager, Key: "g1", Service: "bedroom", Firing: false, Idem: "n6"}); err != nil || r.Number != first.Number {
		t.Fatalf("resolved: %+v %v", r, err)
	}
	inc, _ := st.Get(ctx, first.Number)
	st1 := inc.State(d.Policy(), clk.Now())
	firing := 0
	for _, a := range st1.Alerts {
		if a.Firing {
			firing++
		}
	}
	if len(st1.Alerts) != 2 || firing != 1 {
		t.Errorf("alerts = %+v", st1.Alerts)
	}
	// A resolved notification for nothing known is ignored.
	if r, _ := d.Alert(ctx, desk.Alert{Source: incident.ActorAlertmanager, Key: "zzz", Service: "bedroom", Firing: false}); !r.Ignored {
		t.Errorf("unknown resolved: %+v", r)
	}
}

func TestPermissions(t *testing.T) {
	d, _, _ := setup(t)
	ctx := context.Background()
	inc, err := d.Declare(ctx, desk.DeclareRequest{Service: "bedroom", Title: "Beds", Actor: "UX", Impact: incident.DefaultShares.Impact(incident.ImpactBlocked)})
	if err != nil {
		t.Fatal(err)
	}
	n := inc.Number
	if _, err := d.Resolve(ctx, n, desk.Op{Actor: "UX"}, ""); incident.ErrorCode(err) != incident.EFORBIDDEN {
		t.Errorf("outsider resolve: %v", err)
	}
	if _, err := d.Reclassify(ctx, n, desk.Op{Actor: "UX"}, incident.Minor, "meh"); incident.ErrorCode(err) != incident.EFORBIDDEN {
		t.Errorf("outsider downgrade: %v", err)
	}
	// Anyone may volunteer; then only the commander, managers or team hand over.
	if _, err := d.SetCommander(ctx, n, desk.Op{Actor: "UY"}, "UY", "volunteered"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.SetCommander(ctx, n, desk.Op{Actor: "UX"}, "UX", "volunteered"); incident.ErrorCode(err) != incident.EFORBIDDEN {
		t.Errorf("an outsider took command from the sitting commander: %v", err)
	}
	if _, err := d.SetCommander(ctx, n, desk.Op{Actor: "UY"}, "UX", "handed over"); err != nil {
		t.Errorf("the commander hands over: %v", err)
	}
	if _, err := d.Resolve(ctx, n, desk.Op{Actor: "UX", Idem: "e1"}, "fixed"); err != nil {
		t.Errorf("the commander may resolve: %v", err)
	}
	// Repeating the same envelope changes nothing.
	if _, err := d.Resolve(ctx, n, desk.Op{Actor: "UX", Idem: "e1"}, "fixed"); err != nil {
		t.Errorf("redelivered resolve: %v", err)
	}
	if _, err := d.Reopen(ctx, n, desk.Op{Actor: "UM"}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Resolve(ctx, n, desk.Op{Actor: "UM"}, ""); err != nil {
		t.Errorf("an incident manager may resolve: %v", err)
	}
}

// A person's acknowledgement is synced to PagerDuty when it is configured;
// PagerDuty's own acknowledgement is not echoed back.
func TestAcknowledgePlansPagerDutySync(t *testing.T) {
	_, st, clk := setup(t)
	d := desk.New(st, testCatalogue(), desk.Options{Now: clk.Now, Effects: []string{"slack", "pagerduty"}})
	ctx := context.Background()
	inc, err := d.Declare(ctx, desk.DeclareRequest{Service: "bedroom", Title: "Beds", Actor: "UA"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Acknowledge(ctx, inc.Number, desk.Op{Actor: "UA", Idem: "a1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Record(ctx, inc.Number, incident.Event{Kind: incident.EventAcknowledged, Actor: incident.ActorPagerDuty}); err != nil {
		t.Fatal(err)
	}
	jobs, _ := st.Pending(ctx)
	n := 0
	for _, j := range jobs {
		if j.Kind == desk.JobPagerDutyAck {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d PagerDuty acknowledge jobs, want 1", n)
	}
}

// Housekeeping prunes through the store and schedules tomorrow's run.
func TestHousekeepingRunsDaily(t *testing.T) {
	d, st, clk := setup(t)
	ctx := context.Background()
	if _, err := st.Seen(ctx, "slack", "old-envelope", clk.Now()); err != nil {
		t.Fatal(err)
	}
	clk.Advance(8 * 24 * time.Hour)
	r := desk.NewRunner(st, desk.RunnerOptions{Now: clk.Now, Poll: 10 * time.Millisecond})
	(&desk.Duties{Desk: d, OnCall: desk.RotationFinder{}, Enqueue: st.Enqueue, CountOpen: st.CountOpen, Housekeep: st.Housekeep}).Register(r)
	if err := st.Enqueue(ctx, desk.HousekeepingJob(clk.Now())); err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- r.Run(rctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		jobs, _ := st.Pending(ctx)
		if len(jobs) == 1 && jobs[0].DueAt.Equal(clk.Now().Add(24*time.Hour)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("tomorrow's housekeeping not scheduled: %+v", jobs)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	if first, err := st.Seen(ctx, "slack", "old-envelope", clk.Now()); err != nil || !first {
		t.Errorf("the week-old key was not pruned (first=%v, %v)", first, err)
	}
}

func TestCardEvery(t *testing.T) {
	for _, c := range []struct{ open, want int }{{0, 1}, {1, 1}, {40, 1}, {41, 2}, {80, 2}, {81, 3}, {400, 10}} {
		if got := desk.CardEvery(c.open); got != c.want {
			t.Errorf("CardEvery(%d) = %d, want %d", c.open, got, c.want)
		}
	}
}

// The refresh ticks every open incident each minute, but with more than 40
// open it refreshes each card only every other minute, so scheduled
// chat.update calls stay inside Slack's Tier 3 limit; resolved incidents
// stop refreshing.
func TestRefreshSpreadsCardUpdates(t *testing.T) {
	d, st, clk := setup(t)
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
			if j.Kind == desk.JobCard {
				cards[ran]++
			}
		}
		mu.Unlock()
		return st.Enqueue(ctx, jobs...)
	}
	r := desk.NewRunner(st, desk.RunnerOptions{Now: clk.Now, Poll: 5 * time.Millisecond})
	(&desk.Duties{Desk: d, OnCall: desk.RotationFinder{}, Enqueue: enqueue, CountOpen: st.CountOpen}).Register(r)
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- r.Run(rctx) }()
	defer func() { cancel(); <-done }()

	waitCycle := func(cycle, want int) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			mu.Lock()
			got := refresh[cycle+1]
			mu.Unlock()
			if got == want {
				// Let any stray job land before counting cards.
				time.Sleep(20 * time.Millisecond)
				return
			}
			if got > want || time.Now().After(deadline) {
				t.Fatalf("cycle %d: %d refreshes, want %d", cycle, got, want)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	for cycle := range 3 {
		clk.Advance(time.Minute)
		r.Wake()
		waitCycle(cycle, 41)
	}
	// Two resolved: 39 open, back to a card a minute each.
	for _, n := range numbers[:2] {
		if _, err := d.Resolve(ctx, n, desk.Op{Actor: "UA"}, ""); err != nil {
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

// Resolving when every alert resolved checks and resolves in one step: a
// declared incident without alerts and one with an alert still firing stay
// open; once the last alert resolves it resolves, exactly once.
func TestResolveIfAlertsResolved(t *testing.T) {
	d, st, _ := setup(t)
	ctx := context.Background()
	op := desk.Op{Actor: incident.ActorAlertmanager}
	declared, err := d.Declare(ctx, desk.DeclareRequest{Service: "bedroom", Title: "By hand", Actor: "UA"})
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := d.ResolveIfAlertsResolved(ctx, declared.Number, op, "x"); ok || err != nil {
		t.Errorf("an incident without alerts was resolved (%v, %v)", ok, err)
	}
	alert := func(key string, firing bool, idem string) int64 {
		t.Helper()
		r, err := d.Alert(ctx, desk.Alert{Source: incident.ActorAlertmanager, Key: key, Service: "bedroom", Title: key, Firing: firing, Idem: idem})
		if err != nil {
			t.Fatal(err)
		}
		return r.Number
	}
	n := alert("g1", true, "1") // joins the declared incident (same service, within the window)
	alert("g2", true, "2")
	alert("g1", false, "3")
	if ok, err := d.ResolveIfAlertsResolved(ctx, n, desk.Op{Actor: incident.ActorAlertmanager, Idem: "3/resolve"}, "x"); ok || err != nil {
		t.Errorf("resolved with g2 still firing (%v, %v)", ok, err)
	}
	alert("g2", false, "4")
	if ok, err := d.ResolveIfAlertsResolved(ctx, n, desk.Op{Actor: incident.ActorAlertmanager, Idem: "4/resolve"}, "all clear"); !ok || err != nil {
		t.Fatalf("not resolved once every alert resolved (%v, %v)", ok, err)
	}
	if ok, err := d.ResolveIfAlertsResolved(ctx, n, desk.Op{Actor: incident.ActorAlertmanager, Idem: "4/resolve"}, "all clear"); ok || err != nil {
		t.Errorf("a repeat resolved again (%v, %v)", ok, err)
	}
	inc, _ := st.Get(ctx, n)
	resolves := 0
	for _, e := range inc.Events {
		if e.Kind == incident.EventResolved {
			resolves++
		}
	}
	if s := inc.State(d.Policy(), d.Now()); s.Status != incident.StatusResolved || resolves != 1 {
		t.Errorf("status %s with %d resolutions", s.Status, resolves)
	}
}

// Marking an incident a security incident after it opened plans the move
// of its channel to a private one, once; an incident declared as a
// security incident gets a private channel from the start and no move.
func TestSecurityPlansThePrivateChannel(t *testing.T) {
	d, st, _ := setup(t)
	ctx := context.Background()
	moves := func() []desk.Job {
		jobs, _ := st.Pending(ctx)
		var out []desk.Job
		for _, j := range jobs {
			if j.Kind == desk.JobPrivateChannel {
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
	if _, err := d.MarkSecurity(ctx, inc.Number, op); err != nil {
		t.Fatal(err)
	}
	if _, err := d.MarkSecurity(ctx, inc.Number, op); err != nil { // redelivered
		t.Fatal(err)
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
