package desk_test

import (
	"context"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/incident"
	"github.com/incidentbot/incidentbot/incident/boltstore"
	"github.com/incidentbot/incidentbot/incident/boltstore/bolttest"
	"github.com/incidentbot/incidentbot/incident/desk"
	"github.com/incidentbot/incidentbot/incident/incidenttest"
)

func setup(t testing.TB) (*desk.Desk, *boltstore.Store, *incidenttest.Clock) {
	t.Helper()
	st := bolttest.Open(t, boltstore.Options{})
	clk := incidenttest.NewClock(incidenttest.T0)
	return desk.New(st, testCatalogue(), desk.Options{Now: clk.Now, GroupingWindow: 30 * time.Minute}), st, clk
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
	// The declaration planned the callout and the first refresh.
	jobs, _ := st.Pending(ctx)
	kinds := map[string]bool{}
	for _, j := range jobs {
		kinds[j.Kind] = true
	}
	for _, k := range []string{desk.JobCallout, desk.JobRefresh} {
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
