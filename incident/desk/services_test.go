package desk_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/incident"
	"github.com/incidentbot/incidentbot/incident/boltstore"
	"github.com/incidentbot/incidentbot/incident/boltstore/bolttest"
	"github.com/incidentbot/incidentbot/incident/desk"
	"github.com/incidentbot/incidentbot/incident/incidenttest"
)

// relatedCatalogue: bedroom; appointments (another team, 95.0%, no
// out-of-hours on-call) and search (bedroom's team) depend on it.
func relatedCatalogue(t *testing.T) *incident.Catalogue {
	c := testCatalogue()
	wh, err := incident.ParseWorkingHours([]string{"mon", "tue", "wed", "thu", "fri"}, "09:00", "17:30", time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	c.WorkingHours = wh
	c.Teams = []incident.Team{
		{Name: "bedroom-team", Members: []string{"UA"}, OnCall: incident.OnCall{Rotation: incident.Rotation{Users: []string{"UB"}}}},
		{Name: "ops-team", Members: []string{"UO"}, OnCall: incident.OnCall{Rotation: incident.Rotation{Users: []string{"UO2"}}}},
	}
	c.Services = append(c.Services,
		incident.Service{Name: "appointments", Team: "ops-team", HourlyExposure: incident.USD.Major(6_000), DependsOn: []string{"bedroom"}},
		incident.Service{Name: "search", Team: "bedroom-team", HourlyExposure: incident.USD.Major(1_000), DependsOn: []string{"bedroom"}},
	)
	c.Normalize()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	return c
}

func relatedDesk(t *testing.T, at time.Time) (*desk.Desk, *boltstore.Store, *incidenttest.Clock) {
	st := bolttest.Open(t, boltstore.Options{})
	clk := incidenttest.NewClock(at)
	return desk.New(st, relatedCatalogue(t), desk.Options{Now: clk.Now}), st, clk
}

func fireAlert(t *testing.T, d *desk.Desk, svc string) desk.AlertResult {
	t.Helper()
	r, err := d.Alert(context.Background(), desk.Alert{Source: incident.ActorAlertmanager, Key: "g/" + svc, Service: svc, Title: svc + " down", Firing: true, Idem: "n/" + svc})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// Each affected service's owning team is called out, once per team, under
// the same out-of-hours rules as the primary's.
func TestAffectedServicesAreCalledOut(t *testing.T) {
	d, st, clk := relatedDesk(t, time.Date(2026, 11, 17, 12, 0, 0, 0, time.UTC)) // Tuesday noon
	ctx := context.Background()
	first := fireAlert(t, d, "bedroom")
	for _, svc := range []string{"appointments", "search"} {
		if r := fireAlert(t, d, svc); r.Number != first.Number || !r.Related {
			t.Fatalf("%s: %+v, want attached to #%d as related", svc, r, first.Number)
		}
	}
	r := desk.NewRunner(st, desk.RunnerOptions{Now: clk.Now, Poll: 5 * time.Millisecond})
	(&desk.Duties{Desk: d, OnCall: desk.RotationFinder{}}).Register(r)
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- r.Run(rctx) }()
	defer func() { cancel(); <-done }()
	incidenttest.Eventually(t, "the callouts", func() bool {
		jobs, _ := st.Pending(ctx)
		for _, j := range jobs {
			if j.Kind == desk.JobCallout {
				return false
			}
		}
		return true
	})
	inc, _ := d.Get(ctx, first.Number)
	called := map[string][]string{}
	for _, e := range inc.Events {
		if e.Kind == incident.EventCalledOut {
			called[e.Key] = e.Users
		}
	}
	if len(called) != 2 || len(called["bedroom-team"]) != 1 || called["bedroom-team"][0] != "UB" || len(called["ops-team"]) != 1 || called["ops-team"][0] != "UO2" {
		t.Errorf("called out %v, want bedroom-team (UB) and ops-team (UO2) once each", called)
	}
}

func TestAffectedServiceCalloutDeferredOutOfHours(t *testing.T) {
	d, _, _ := relatedDesk(t, time.Date(2026, 11, 21, 23, 0, 0, 0, time.UTC)) // Saturday night
	ctx := context.Background()
	first := fireAlert(t, d, "bedroom")
	fireAlert(t, d, "appointments")
	inc, _ := d.Get(ctx, first.Number)
	monday := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	var deferred []incident.Event
	for _, e := range inc.Events {
		if e.Kind == incident.EventCalloutDeferred {
			deferred = append(deferred, e)
		}
	}
	if len(deferred) != 1 || deferred[0].Service != "appointments" || !deferred[0].Until.Equal(monday) || deferred[0].Text != "ops-team" {
		t.Errorf("deferred callouts %+v, want ops-team's for appointments until Monday 09:00", deferred)
	}
}

// failingStore fails the next update of one incident, as a crash between
// the two steps of a merge would leave it.
type failingStore struct {
	*boltstore.Store
	failOn int64
}

func (s *failingStore) Update(ctx context.Context, n int64, fn func(*incident.Incident) ([]desk.Job, error)) (*incident.Incident, error) {
	if n == s.failOn {
		s.failOn = 0
		return nil, errCrash
	}
	return s.Store.Update(ctx, n, fn)
}

func (s *failingStore) UpdateRecords(ctx context.Context, n int64, fn func(*incident.Incident, desk.Records) ([]desk.Job, error)) (*incident.Incident, error) {
	if n == s.failOn {
		s.failOn = 0
		return nil, errCrash
	}
	return s.Store.UpdateRecords(ctx, n, fn)
}

var errCrash = errors.New("crashed")

// A merge that stops between closing the merged incident and moving its
// timeline completes once, from the job the first step planned; running
// the command again changes nothing.
func TestMergeCompletesOnceAfterACrash(t *testing.T) {
	d0, st, clk := relatedDesk(t, time.Date(2026, 11, 17, 12, 0, 0, 0, time.UTC))
	ctx := context.Background()
	a, _ := d0.Declare(ctx, desk.DeclareRequest{Service: "bedroom", Title: "Beds", Actor: "UA", Impact: incident.DefaultShares.Impact(incident.ImpactDegraded)})
	b, _ := d0.Declare(ctx, desk.DeclareRequest{Service: "appointments", Title: "Bookings", Actor: "UO", Impact: incident.DefaultShares.Impact(incident.ImpactBlocked)})
	clk.Advance(10 * time.Minute)
	fs := &failingStore{Store: st, failOn: a.Number}
	d := desk.New(fs, relatedCatalogue(t), desk.Options{Now: clk.Now})
	op := desk.Op{Actor: "UA", Idem: "env-merge"}
	if _, err := d.Merge(ctx, a.Number, b.Number, op, "one outage"); !errors.Is(err, errCrash) {
		t.Fatalf("merge = %v, want the crash", err)
	}
	if bi, _ := d.Get(ctx, b.Number); d.State(bi).Status != incident.StatusMerged {
		t.Fatalf("#%d was not closed by the first step", b.Number)
	}
	// After the restart the runner finishes the merge.
	r := desk.NewRunner(st, desk.RunnerOptions{Now: clk.Now, Poll: 5 * time.Millisecond})
	(&desk.Duties{Desk: d, OnCall: desk.RotationFinder{}}).Register(r)
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- r.Run(rctx) }()
	incidenttest.Eventually(t, "the merge completed by its job", func() bool {
		ai, _ := d.Get(ctx, a.Number)
		return len(d.State(ai).Merged) == 1
	})
	cancel()
	<-done
	// The command run again (its inbox job after a crash) and the job's
	// work done again change nothing.
	for range 2 {
		if _, err := d.Merge(ctx, a.Number, b.Number, op, "one outage"); err != nil {
			t.Fatal(err)
		}
	}
	ai, _ := d.Get(ctx, a.Number)
	bi, _ := d.Get(ctx, b.Number)
	merged, into := 0, 0
	for _, e := range ai.Events {
		if e.Kind == incident.EventMerged {
			merged++
		}
	}
	for _, e := range bi.Events {
		if e.Kind == incident.EventMergedInto {
			into++
		}
	}
	if merged != 1 || into != 1 {
		t.Errorf("%d merged events, %d merged_into events; want 1 each", merged, into)
	}
	// 10 min of bedroom degraded ($100,000/h) and appointments blocked
	// ($6,000/h), counted once.
	if st := d.State(ai); st.LossSoFar != 1_766_667 || len(st.Services) != 2 {
		t.Errorf("loss %d over %d services", st.LossSoFar, len(st.Services))
	}
	// Another person merging again is told it is done.
	if _, err := d.Merge(ctx, a.Number, b.Number, desk.Op{Actor: "UA", Idem: "env-2"}, ""); incident.ErrorCode(err) != incident.ECONFLICT {
		t.Errorf("merging again: %v", err)
	}
	// An alert of the merged incident's now goes where it went.
	if r := fireAlert(t, d, "appointments"); r.Number != a.Number {
		t.Errorf("appointments alert went to #%d, want #%d", r.Number, a.Number)
	}
}

// A drill and a real incident are never merged: the drill is left out of
// every measure, the real one never.
func TestDrillsAreNotMergedWithRealIncidents(t *testing.T) {
	d, _, _ := relatedDesk(t, time.Date(2026, 11, 17, 12, 0, 0, 0, time.UTC))
	ctx := context.Background()
	real, _ := d.Declare(ctx, desk.DeclareRequest{Service: "bedroom", Title: "Beds", Actor: "UA"})
	drill, _ := d.Declare(ctx, desk.DeclareRequest{Service: "appointments", Title: "Practice", Actor: "UA", Drill: true})
	for _, pair := range [][2]int64{{real.Number, drill.Number}, {drill.Number, real.Number}} {
		if _, err := d.Merge(ctx, pair[0], pair[1], desk.Op{Actor: "UA"}, ""); incident.ErrorCode(err) != incident.ECONFLICT {
			t.Errorf("merge #%d into #%d: %v", pair[1], pair[0], err)
		}
	}
	// Nor does a related alert join a drill.
	if r := fireAlert(t, d, "search"); r.Number == drill.Number {
		t.Errorf("a real alert joined the drill")
	}
}
