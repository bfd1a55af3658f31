package boltstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/incidentbot/incidentbot/incident"
	"github.com/incidentbot/incidentbot/incident/desk"
)

func TestRoundTripNumbersAndIndexes(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()

	a := create(t, s, "bedroom", t0,
		incident.Event{At: t0, Kind: incident.EventAlertFired, Actor: incident.ActorAlertmanager, Key: "am/bedroom", Source: "alertmanager",
			Labels: map[string]string{"alertname": "CheckoutErrors", "service": "bedroom"}, Text: "5xx > 5%"})
	b := create(t, s, "appointments", t0.Add(time.Minute))
	c := create(t, s, "Bedroom", t0.Add(2*time.Minute))
	if got := []int64{a.Number, b.Number, c.Number}; !slices.Equal(got, []int64{1, 2, 3}) {
		t.Fatalf("numbers = %v, want 1 2 3", got)
	}

	// Several events through several updates.
	appendEvents(t, s, 1,
		incident.Event{At: t0.Add(5 * time.Minute), Kind: incident.EventImpactChanged, Actor: "U01",
			Impact: &incident.Impact{Level: incident.ImpactDegraded, Share: 5000}},
		incident.Event{At: t0.Add(6 * time.Minute), Kind: incident.EventCommander, Actor: "U01", User: "U02"})
	appendEvents(t, s, 1, incident.Event{At: t0.Add(7 * time.Minute), Kind: incident.EventNote, Actor: "U02", Text: "rolled back"})
	want := appendEvents(t, s, 1, incident.Event{At: t0.Add(8 * time.Minute), Kind: incident.EventCostAdded, Actor: "U02",
		Amount: incident.USD.Major(1200), Text: "overtime", Idem: "slack:Ev1"})

	got, err := s.Get(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Events) != 6 {
		t.Fatalf("incident 1 has %d events, want 6", len(got.Events))
	}
	assertTimeline(t, got)
	if g, w := mustJSON(t, got), mustJSON(t, want); g != w {
		t.Fatalf("Get differs from what Update returned:\n got %s\nwant %s", g, w)
	}
	if got.Title != a.Title || got.Service.HourlyExposure != a.Service.HourlyExposure || !got.StartedAt.Equal(t0) {
		t.Fatalf("header not round-tripped: %+v", got)
	}
	if got.Events[1].Labels["alertname"] != "CheckoutErrors" || got.Events[5].Idem != "slack:Ev1" {
		t.Fatalf("event fields not round-tripped: %+v", got.Events)
	}

	// The domain reads the stored timeline like the in-memory one.
	p := incident.Policy{Bands: incident.Bands{{MaxHourlyExposure: incident.USD.Major(250_000), Availability: 99_000}}, Horizon: time.Hour}
	if g, w := got.State(p, t0.Add(time.Hour)).Commander, "U02"; g != w {
		t.Fatalf("commander = %q, want %q", g, w)
	}

	// Lists, newest first.
	all, err := s.List(ctx, desk.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if g := numbers(all); !slices.Equal(g, []int64{3, 2, 1}) {
		t.Fatalf("List = %v, want 3 2 1", g)
	}
	if len(all[2].Events) != 6 {
		t.Fatalf("List does not carry timelines: %d events", len(all[2].Events))
	}
	bySvc, err := s.OpenByService(ctx, "BEDROOM")
	if err != nil {
		t.Fatal(err)
	}
	if g := numbers(bySvc); !slices.Equal(g, []int64{3, 1}) {
		t.Fatalf("OpenByService(bedroom) = %v, want 3 1", g)
	}
	if n, ok, err := s.ByAlertKey(ctx, "am/bedroom"); err != nil || !ok || n != 1 {
		t.Fatalf("ByAlertKey = %d %v %v, want 1", n, ok, err)
	}
	if _, ok, err := s.ByAlertKey(ctx, "am/unknown"); err != nil || ok {
		t.Fatalf("ByAlertKey(unknown) = %v %v", ok, err)
	}

	// Resolving leaves the open set; reopening comes back.
	assertOpen(t, s, 3, 2, 1)
	appendEvents(t, s, 1, incident.Event{At: t0.Add(30 * time.Minute), Kind: incident.EventResolved, Actor: "U02", Text: "fixed"})
	assertOpen(t, s, 3, 2)
	if g := listNumbers(t, s, desk.Filter{OpenOnly: true, Service: "bedroom"}); !slices.Equal(g, []int64{3}) {
		t.Fatalf("open bedroom incidents = %v, want 3", g)
	}
	// Events after the resolution that are neither resolved nor reopened keep it closed.
	appendEvents(t, s, 1, incident.Event{At: t0.Add(31 * time.Minute), Kind: incident.EventNote, Actor: "U02", Text: "after"})
	assertOpen(t, s, 3, 2)
	appendEvents(t, s, 1, incident.Event{At: t0.Add(40 * time.Minute), Kind: incident.EventReopened, Actor: "U02"})
	assertOpen(t, s, 3, 2, 1)
	appendEvents(t, s, 1,
		incident.Event{At: t0.Add(41 * time.Minute), Kind: incident.EventResolved, Actor: "U02"},
		incident.Event{At: t0.Add(42 * time.Minute), Kind: incident.EventReopened, Actor: "U02"},
		incident.Event{At: t0.Add(43 * time.Minute), Kind: incident.EventResolved, Actor: "U02"})
	assertOpen(t, s, 3, 2)

	// Created resolved: never open.
	create(t, s, "bedroom", t0.Add(time.Hour), incident.Event{At: t0.Add(time.Hour), Kind: incident.EventResolved})
	assertOpen(t, s, 3, 2)

	// The by_service index holds exactly one entry per incident.
	_ = s.db.View(func(tx *bolt.Tx) error {
		if n := tx.Bucket(bByService).Stats().KeyN; n != 4 {
			t.Errorf("by_service has %d keys, want 4", n)
		}
		return nil
	})
	mustCheck(t, s)
}

func TestListFilters(t *testing.T) {
	s, _ := newStore(t)
	for i := range 6 {
		svc := []string{"bedroom", "appointments"}[i%2]
		create(t, s, svc, t0.Add(time.Duration(i)*time.Hour))
	}
	appendEvents(t, s, 5, incident.Event{At: t0.Add(10 * time.Hour), Kind: incident.EventResolved})
	cases := []struct {
		f    desk.Filter
		want []int64
	}{
		{desk.Filter{}, []int64{6, 5, 4, 3, 2, 1}},
		{desk.Filter{Limit: 2}, []int64{6, 5}},
		{desk.Filter{OpenOnly: true}, []int64{6, 4, 3, 2, 1}},
		{desk.Filter{OpenOnly: true, Limit: 2}, []int64{6, 4}},
		{desk.Filter{Service: "bedroom"}, []int64{5, 3, 1}},
		{desk.Filter{Service: "bedroom", OpenOnly: true}, []int64{3, 1}},
		{desk.Filter{Service: "bed"}, nil},
		{desk.Filter{Service: "nope"}, nil},
		{desk.Filter{Since: t0.Add(3 * time.Hour)}, []int64{6, 5, 4}},
		{desk.Filter{Since: t0.Add(3 * time.Hour), Service: "appointments", Limit: 1}, []int64{6}},
		// Pages: numbers below Before.
		{desk.Filter{Before: 5}, []int64{4, 3, 2, 1}},
		{desk.Filter{Before: 5, Limit: 2}, []int64{4, 3}},
		{desk.Filter{Before: 99}, []int64{6, 5, 4, 3, 2, 1}},
		{desk.Filter{Before: 1}, nil},
		{desk.Filter{OpenOnly: true, Before: 6}, []int64{4, 3, 2, 1}},
		{desk.Filter{Service: "bedroom", Before: 5}, []int64{3, 1}},
		{desk.Filter{Service: "bedroom", Before: 4, Limit: 1}, []int64{3}},
		{desk.Filter{Service: "appointments", Before: 2}, nil},
		{desk.Filter{Service: "bedroom", OpenOnly: true, Before: 3}, []int64{1}},
	}
	for _, c := range cases {
		if got := listNumbers(t, s, c.f); !slices.Equal(got, c.want) {
			t.Errorf("List(%+v) = %v, want %v", c.f, got, c.want)
		}
	}
	mustCheck(t, s)
}

func TestAlertKeys(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	fired := func(key string, at time.Time) incident.Event {
		return incident.Event{At: at, Kind: incident.EventAlertFired, Key: key, Source: "alertmanager"}
	}
	create(t, s, "bedroom", t0, fired("k1", t0))
	appendEvents(t, s, 1, fired("k2", t0.Add(time.Minute)), fired("k1", t0.Add(2*time.Minute)))
	// A second incident firing k1 while incident 1 is open does not take it.
	create(t, s, "bedroom", t0.Add(time.Hour), fired("k1", t0.Add(time.Hour)), fired("k3", t0.Add(time.Hour)))
	for key, want := range map[string]int64{"k1": 1, "k2": 1, "k3": 2} {
		if n, ok, err := s.ByAlertKey(ctx, key); err != nil || !ok || n != want {
			t.Errorf("ByAlertKey(%s) = %d %v %v, want %d", key, n, ok, err, want)
		}
	}
	// Once incident 1 is resolved, the next incident firing k1 takes it over,
	// so that repeats attach to the incident that is open.
	appendEvents(t, s, 1, incident.Event{At: t0.Add(2 * time.Hour), Kind: incident.EventResolved})
	if n, _, _ := s.ByAlertKey(ctx, "k1"); n != 1 {
		t.Errorf("resolving moved k1 to %d", n)
	}
	create(t, s, "bedroom", t0.Add(3*time.Hour), fired("k1", t0.Add(3*time.Hour)))
	if n, _, _ := s.ByAlertKey(ctx, "k1"); n != 3 {
		t.Errorf("k1 → %d after incident 1 was resolved and 3 fired it, want 3", n)
	}
	// Incident 1 reopened and firing k1 again does not take it back from the open 3.
	appendEvents(t, s, 1, incident.Event{At: t0.Add(4 * time.Hour), Kind: incident.EventReopened}, fired("k1", t0.Add(4*time.Hour)))
	if n, _, _ := s.ByAlertKey(ctx, "k1"); n != 3 {
		t.Errorf("k1 → %d, want 3 (still open)", n)
	}
	mustCheck(t, s)
}

func TestFailedFnChangesNothing(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	boom := incident.Errorf(incident.ECONFLICT, "The incident is already resolved.")

	// Create: nothing stored, the number is not used up.
	_, err := s.Create(ctx, func(n int64) (*incident.Incident, []desk.Job, error) {
		return declared(n, "bedroom", t0), []desk.Job{{ID: "x/1", Kind: "x"}}, boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Create error = %v, want fn's error", err)
	}
	if all := listNumbers(t, s, desk.Filter{}); len(all) != 0 {
		t.Fatalf("failed Create stored %v", all)
	}
	if jobs, _ := s.Pending(ctx); len(jobs) != 0 {
		t.Fatalf("failed Create enqueued %v", jobIDs(jobs))
	}
	inc := create(t, s, "bedroom", t0)
	if inc.Number != 1 {
		t.Fatalf("first stored incident is %d, want 1", inc.Number)
	}

	// Update: fn appended in memory, enqueued jobs, then failed.
	before := txID(t, s)
	_, err = s.Update(ctx, 1, func(inc *incident.Incident) ([]desk.Job, error) {
		inc.Append(incident.Event{At: t0.Add(time.Hour), Kind: incident.EventResolved},
			incident.Event{At: t0.Add(time.Hour), Kind: incident.EventAlertFired, Key: "k"})
		return []desk.Job{{ID: "slack.post/1", Kind: "slack.post"}}, boom
	})
	if !errors.Is(err, boom) || incident.ErrorCode(err) != incident.ECONFLICT {
		t.Fatalf("Update error = %v, want fn's error", err)
	}
	if after := txID(t, s); after != before {
		t.Fatalf("failed Update committed (tx %d → %d)", before, after)
	}
	got, _ := s.Get(ctx, 1)
	if len(got.Events) != 1 {
		t.Fatalf("failed Update stored events: %d", len(got.Events))
	}
	assertOpen(t, s, 1)
	if _, ok, _ := s.ByAlertKey(ctx, "k"); ok {
		t.Fatal("failed Update indexed an alert key")
	}
	if jobs, _ := s.Pending(ctx); len(jobs) != 0 {
		t.Fatalf("failed Update enqueued %v", jobIDs(jobs))
	}

	// A cancelled context stops before anything is written.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Create(cctx, func(n int64) (*incident.Incident, []desk.Job, error) {
		t.Error("fn called with a cancelled context")
		return declared(n, "bedroom", t0), nil, nil
	}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Create with cancelled context: %v", err)
	}
	mustCheck(t, s)
}

func TestUpdateRejectsRewritingHistory(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	create(t, s, "bedroom", t0, incident.Event{At: t0, Kind: incident.EventNote, Text: "a"})
	cases := map[string]func(inc *incident.Incident){
		"header":   func(inc *incident.Incident) { inc.Title = "renamed" },
		"service":  func(inc *incident.Incident) { inc.Service.Name = "other" },
		"truncate": func(inc *incident.Incident) { inc.Events = inc.Events[:1] },
		"bad seq": func(inc *incident.Incident) {
			inc.Events = append(inc.Events, incident.Event{Seq: 7, At: t0, Kind: incident.EventNote})
		},
	}
	for name, mutate := range cases {
		_, err := s.Update(ctx, 1, func(inc *incident.Incident) ([]desk.Job, error) {
			inc.Append(incident.Event{At: t0, Kind: incident.EventNote, Text: "b"})
			mutate(inc)
			return nil, nil
		})
		if err == nil || !strings.Contains(err.Error(), "boltstore: update incident 1:") {
			t.Errorf("%s: Update error = %v, want a refusal", name, err)
		}
	}
	got, _ := s.Get(ctx, 1)
	if len(got.Events) != 2 || got.Title != "Checkout down on bedroom" {
		t.Fatalf("refused updates changed the incident: %+v", got)
	}
	mustCheck(t, s)
}

func TestUpdateNoChangeDoesNotCommit(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	create(t, s, "bedroom", t0)
	appendEvents(t, s, 1, incident.Event{At: t0, Kind: incident.EventMessage, Key: "1.1", Text: "hi", Idem: "Ev1"})
	before := txID(t, s)
	// A redelivered Slack event: Append drops it on its Idem key.
	inc, err := s.Update(ctx, 1, func(inc *incident.Incident) ([]desk.Job, error) {
		if added := inc.Append(incident.Event{At: t0, Kind: incident.EventMessage, Key: "1.1", Text: "hi", Idem: "Ev1"}); len(added) != 0 {
			t.Errorf("Append added a duplicate: %+v", added)
		}
		return nil, nil
	})
	if err != nil || len(inc.Events) != 2 {
		t.Fatalf("no-op Update = %v, %v", inc, err)
	}
	if after := txID(t, s); after != before {
		t.Fatalf("no-op Update committed a transaction (%d → %d)", before, after)
	}
	mustCheck(t, s)
}

func TestNotFound(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	_, err := s.Get(ctx, 12)
	if incident.ErrorCode(err) != incident.ENOTFOUND {
		t.Fatalf("Get(12) = %v (code %q), want %s", err, incident.ErrorCode(err), incident.ENOTFOUND)
	}
	if msg := incident.ErrorMessage(err); msg != "There is no incident #12." {
		t.Errorf("user message = %q", msg)
	}
	called := false
	_, err = s.Update(ctx, 12, func(*incident.Incident) ([]desk.Job, error) { called = true; return nil, nil })
	if incident.ErrorCode(err) != incident.ENOTFOUND || called {
		t.Fatalf("Update(12) = %v (fn called %v), want %s", err, called, incident.ENOTFOUND)
	}
	if !strings.Contains(err.Error(), "boltstore: update incident 12:") {
		t.Errorf("error lacks context: %v", err)
	}
	mustCheck(t, s)
}

func TestConcurrentUpdates(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	create(t, s, "bedroom", t0)
	const writers, each = 8, 25
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				_, err := s.Update(ctx, 1, func(inc *incident.Incident) ([]desk.Job, error) {
					inc.Append(incident.Event{At: t0.Add(time.Second), Kind: incident.EventNote, Actor: fmt.Sprintf("U%d", w), Text: fmt.Sprint(i)})
					return []desk.Job{{ID: fmt.Sprintf("j/%d/%d", w, i), Kind: "x"}}, nil
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
		wg.Add(1)
		go func() { // readers alongside
			defer wg.Done()
			for range each {
				if _, err := s.List(ctx, desk.Filter{OpenOnly: true}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	inc, err := s.Get(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(inc.Events) != 1+writers*each {
		t.Fatalf("%d events, want %d", len(inc.Events), 1+writers*each)
	}
	assertTimeline(t, inc)
	if jobs, _ := s.Pending(ctx); len(jobs) != writers*each {
		t.Fatalf("%d jobs, want %d", len(jobs), writers*each)
	}
	mustCheck(t, s)
}

func TestClosedStore(t *testing.T) {
	s, err := Open(t.TempDir()+"/x.db", Options{})
	if err != nil {
		t.Fatal(err)
	}
	create(t, s, "bedroom", t0)
	mustCheck(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(context.Background(), 1); err == nil {
		t.Fatal("Get on a closed store succeeded")
	}
}

func assertOpen(t testing.TB, s *Store, want ...int64) {
	t.Helper()
	if got := listNumbers(t, s, desk.Filter{OpenOnly: true}); !slices.Equal(got, want) {
		t.Fatalf("open incidents = %v, want %v", got, want)
	}
}

func listNumbers(t testing.TB, s *Store, f desk.Filter) []int64 {
	t.Helper()
	incs, err := s.List(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	if len(incs) == 0 {
		return nil
	}
	return numbers(incs)
}
