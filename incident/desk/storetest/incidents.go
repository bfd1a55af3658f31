package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/incident"
	"github.com/incidentbot/incidentbot/incident/desk"
)

func testRoundTrip(t *testing.T, e *env) {
	s, ctx := e.s, e.ctx
	a := e.create(t, "bedroom", T0,
		incident.Event{At: T0, Kind: incident.EventAlertFired, Actor: incident.ActorAlertmanager, Key: "am/bedroom", Source: "alertmanager",
			Labels: map[string]string{"alertname": "CheckoutErrors", "service": "bedroom"}, Text: "5xx > 5%"})
	b := e.create(t, "appointments", at(1))
	c := e.create(t, "Bedroom", at(2))
	if got := []int64{a.Number, b.Number, c.Number}; !slices.Equal(got, []int64{1, 2, 3}) {
		t.Fatalf("numbers = %v, want 1 2 3", got)
	}
	e.appendEvents(t, 1,
		incident.Event{At: at(5), Kind: incident.EventImpactChanged, Actor: "U01", Impact: &incident.Impact{Level: incident.ImpactDegraded, Share: 5000}},
		incident.Event{At: at(6), Kind: incident.EventCommander, Actor: "U01", User: "U02"})
	e.appendEvents(t, 1, incident.Event{At: at(7), Kind: incident.EventNote, Actor: "U02", Text: "rolled back \u0000 «ünïcode» <b>&amp;"})
	want := e.appendEvents(t, 1, incident.Event{At: at(8).Add(123456789 * time.Nanosecond), Kind: incident.EventCostAdded, Actor: "U02",
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
	if got.Title != a.Title || got.Service.HourlyExposure != a.Service.HourlyExposure || !got.StartedAt.Equal(T0) {
		t.Fatalf("header not round-tripped: %+v", got)
	}
	if got.Events[1].Labels["alertname"] != "CheckoutErrors" || got.Events[5].Idem != "slack:Ev1" {
		t.Fatalf("event fields not round-tripped: %+v", got.Events)
	}
	// The domain reads the stored timeline like the in-memory one.
	p := incident.Policy{Bands: incident.Bands{{MaxHourlyExposure: incident.USD.Major(250_000), Availability: 99_000}}, Horizon: time.Hour}
	if g, w := got.State(p, at(60)).Commander, "U02"; g != w {
		t.Fatalf("commander = %q, want %q", g, w)
	}
	// Another replica reads the same.
	if r, err := e.Replica(t).Get(ctx, 1); err != nil || mustJSON(t, r) != mustJSON(t, want) {
		t.Fatalf("replica Get = %v, %v", r, err)
	}

	all, err := s.List(ctx, desk.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if g := Numbers(all); !slices.Equal(g, []int64{3, 2, 1}) {
		t.Fatalf("List = %v, want 3 2 1", g)
	}
	if len(all[2].Events) != 6 {
		t.Fatalf("List does not carry timelines: %d events", len(all[2].Events))
	}
	bySvc, err := s.OpenByService(ctx, "BEDROOM")
	if err != nil {
		t.Fatal(err)
	}
	if g := Numbers(bySvc); !slices.Equal(g, []int64{3, 1}) {
		t.Fatalf("OpenByService(bedroom) = %v, want 3 1", g)
	}
	if n, ok, err := s.ByAlertKey(ctx, "am/bedroom"); err != nil || !ok || n != 1 {
		t.Fatalf("ByAlertKey = %d %v %v, want 1", n, ok, err)
	}
	if _, ok, err := s.ByAlertKey(ctx, "am/unknown"); err != nil || ok {
		t.Fatalf("ByAlertKey(unknown) = %v %v", ok, err)
	}

	// Resolving leaves the open set; reopening comes back.
	e.assertOpen(t, 3, 2, 1)
	e.appendEvents(t, 1, incident.Event{At: at(30), Kind: incident.EventResolved, Actor: "U02", Text: "fixed"})
	e.assertOpen(t, 3, 2)
	if g := e.listNumbers(t, desk.Filter{OpenOnly: true, Service: "bedroom"}); !slices.Equal(g, []int64{3}) {
		t.Fatalf("open bedroom incidents = %v, want 3", g)
	}
	e.appendEvents(t, 1, incident.Event{At: at(31), Kind: incident.EventNote, Actor: "U02", Text: "after"})
	e.assertOpen(t, 3, 2)
	e.appendEvents(t, 1, incident.Event{At: at(40), Kind: incident.EventReopened, Actor: "U02"})
	e.assertOpen(t, 3, 2, 1)
	e.appendEvents(t, 1,
		incident.Event{At: at(41), Kind: incident.EventResolved, Actor: "U02"},
		incident.Event{At: at(42), Kind: incident.EventReopened, Actor: "U02"},
		incident.Event{At: at(43), Kind: incident.EventResolved, Actor: "U02"})
	e.assertOpen(t, 3, 2)
	// Created resolved: never open.
	e.create(t, "bedroom", at(60), incident.Event{At: at(60), Kind: incident.EventResolved})
	e.assertOpen(t, 3, 2)
	if g := e.listNumbers(t, desk.Filter{Service: "bedroom"}); !slices.Equal(g, []int64{4, 3, 1}) {
		t.Fatalf("bedroom incidents = %v, want 4 3 1", g)
	}
}

func testListFilters(t *testing.T, e *env) {
	for i := range 6 {
		svc := []string{"bedroom", "appointments"}[i%2]
		e.create(t, svc, T0.Add(time.Duration(i)*time.Hour))
	}
	e.create(t, "bedroom-extra", T0.Add(-time.Hour)) // a name that starts like another
	e.appendEvents(t, 5, incident.Event{At: T0.Add(10 * time.Hour), Kind: incident.EventResolved})
	cases := []struct {
		f    desk.Filter
		want []int64
	}{
		{desk.Filter{}, []int64{7, 6, 5, 4, 3, 2, 1}},
		{desk.Filter{Limit: 2}, []int64{7, 6}},
		{desk.Filter{OpenOnly: true}, []int64{7, 6, 4, 3, 2, 1}},
		{desk.Filter{OpenOnly: true, Limit: 2}, []int64{7, 6}},
		{desk.Filter{Service: "bedroom"}, []int64{5, 3, 1}},
		{desk.Filter{Service: "bedroom", OpenOnly: true}, []int64{3, 1}},
		{desk.Filter{Service: "bed"}, nil},
		{desk.Filter{Service: "nope"}, nil},
		{desk.Filter{Since: T0.Add(3 * time.Hour)}, []int64{6, 5, 4}},
		{desk.Filter{Since: T0.Add(3 * time.Hour), Service: "appointments", Limit: 1}, []int64{6}},
		{desk.Filter{Before: 6}, []int64{5, 4, 3, 2, 1}},
		{desk.Filter{Before: 6, Limit: 2}, []int64{5, 4}},
		{desk.Filter{Before: 5, OpenOnly: true}, []int64{4, 3, 2, 1}},
		{desk.Filter{Before: 5, Service: "bedroom"}, []int64{3, 1}},
		{desk.Filter{Before: 1}, nil},
		{desk.Filter{Before: 99}, []int64{7, 6, 5, 4, 3, 2, 1}},
		{desk.Filter{OpenOnly: true, Before: 6}, []int64{4, 3, 2, 1}},
		{desk.Filter{Service: "bedroom", Before: 4, Limit: 1}, []int64{3}},
		{desk.Filter{Service: "appointments", Before: 2}, nil},
		{desk.Filter{Service: "bedroom", OpenOnly: true, Before: 3}, []int64{1}},
	}
	for _, c := range cases {
		if got := e.listNumbers(t, c.f); !slices.Equal(got, c.want) {
			t.Errorf("List(%+v) = %v, want %v", c.f, got, c.want)
		}
	}
}

func testAlertKeys(t *testing.T, e *env) {
	s, ctx := e.s, e.ctx
	fired := func(key string, at time.Time) incident.Event {
		return incident.Event{At: at, Kind: incident.EventAlertFired, Key: key, Source: "alertmanager"}
	}
	e.create(t, "bedroom", T0, fired("k1", T0))
	e.appendEvents(t, 1, fired("k2", at(1)), fired("k1", at(2)))
	// A second incident firing k1 while incident 1 is open does not take it.
	e.create(t, "bedroom", at(60), fired("k1", at(60)), fired("k3", at(60)))
	for key, want := range map[string]int64{"k1": 1, "k2": 1, "k3": 2} {
		if n, ok, err := s.ByAlertKey(ctx, key); err != nil || !ok || n != want {
			t.Errorf("ByAlertKey(%s) = %d %v %v, want %d", key, n, ok, err, want)
		}
	}
	// Once incident 1 is resolved, the next incident firing k1 takes it over.
	e.appendEvents(t, 1, incident.Event{At: at(120), Kind: incident.EventResolved})
	if n, _, _ := s.ByAlertKey(ctx, "k1"); n != 1 {
		t.Errorf("resolving moved k1 to %d", n)
	}
	e.create(t, "bedroom", at(180), fired("k1", at(180)))
	if n, _, _ := s.ByAlertKey(ctx, "k1"); n != 3 {
		t.Errorf("k1 → %d after incident 1 was resolved and 3 fired it, want 3", n)
	}
	// Incident 1 reopened and firing k1 again does not take it back from the open 3.
	e.appendEvents(t, 1, incident.Event{At: at(240), Kind: incident.EventReopened}, fired("k1", at(240)))
	if n, _, _ := s.ByAlertKey(ctx, "k1"); n != 3 {
		t.Errorf("k1 → %d, want 3 (still open)", n)
	}
}

func testIdem(t *testing.T, e *env) {
	e.create(t, "bedroom", T0, incident.Event{At: T0, Kind: incident.EventNote, Text: "a", Idem: "env-1"})
	e.appendEvents(t, 1, incident.Event{At: at(1), Kind: incident.EventNote, Text: "b", Idem: "env-2"})
	e.create(t, "bedroom", at(2), incident.Event{At: at(2), Kind: incident.EventNote, Text: "c", Idem: "env-2"})
	for key, want := range map[string]int64{"env-1": 1, "env-2": 1} {
		if n, ok, err := e.s.ByIdem(e.ctx, key); err != nil || !ok || n != want {
			t.Errorf("ByIdem(%s) = %d %v %v, want %d (the first incident keeps it)", key, n, ok, err, want)
		}
	}
	if _, ok, err := e.s.ByIdem(e.ctx, "env-3"); ok || err != nil {
		t.Errorf("ByIdem(unknown) = %v %v", ok, err)
	}
}

func testFailedFn(t *testing.T, e *env) {
	s, ctx := e.s, e.ctx
	boom := incident.Errorf(incident.ECONFLICT, "The incident is already resolved.")
	_, err := s.Create(ctx, func(n int64) (*incident.Incident, []desk.Job, error) {
		return declared(n, "bedroom", T0), []desk.Job{{ID: "x/1", Kind: "x"}}, boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Create error = %v, want fn's error", err)
	}
	if all := e.listNumbers(t, desk.Filter{}); len(all) != 0 {
		t.Fatalf("failed Create stored %v", all)
	}
	if jobs := e.pending(t); len(jobs) != 0 {
		t.Fatalf("failed Create enqueued %v", JobIDs(jobs))
	}
	// The number of a failed Create is not used up.
	if inc := e.create(t, "bedroom", T0); inc.Number != 1 {
		t.Fatalf("first stored incident is %d, want 1", inc.Number)
	}
	_, err = s.Update(ctx, 1, func(inc *incident.Incident) ([]desk.Job, error) {
		inc.Append(incident.Event{At: at(60), Kind: incident.EventResolved, Idem: "i1"},
			incident.Event{At: at(60), Kind: incident.EventAlertFired, Key: "k"})
		return []desk.Job{{ID: "slack.post/1", Kind: "slack.post"}}, boom
	})
	if !errors.Is(err, boom) || incident.ErrorCode(err) != incident.ECONFLICT {
		t.Fatalf("Update error = %v, want fn's error", err)
	}
	if got, _ := s.Get(ctx, 1); len(got.Events) != 1 {
		t.Fatalf("failed Update stored events: %d", len(got.Events))
	}
	e.assertOpen(t, 1)
	if _, ok, _ := s.ByAlertKey(ctx, "k"); ok {
		t.Fatal("failed Update indexed an alert key")
	}
	if _, ok, _ := s.ByIdem(ctx, "i1"); ok {
		t.Fatal("failed Update indexed an idempotency key")
	}
	if jobs := e.pending(t); len(jobs) != 0 {
		t.Fatalf("failed Update enqueued %v", JobIDs(jobs))
	}
	// fn returning no incident, or another number, is refused.
	if _, err := s.Create(ctx, func(n int64) (*incident.Incident, []desk.Job, error) { return nil, nil, nil }); err == nil {
		t.Fatal("Create accepted a nil incident")
	}
	if _, err := s.Create(ctx, func(n int64) (*incident.Incident, []desk.Job, error) { return declared(n+5, "x", T0), nil, nil }); err == nil {
		t.Fatal("Create accepted another number")
	}
	if inc := e.create(t, "bedroom", T0); inc.Number != 2 {
		t.Fatalf("next incident is %d, want 2", inc.Number)
	}
}

func testRejectsRewriting(t *testing.T, e *env) {
	e.create(t, "bedroom", T0, incident.Event{At: T0, Kind: incident.EventNote, Text: "a"})
	cases := map[string]func(inc *incident.Incident){
		"header":   func(inc *incident.Incident) { inc.Title = "renamed" },
		"service":  func(inc *incident.Incident) { inc.Service.Name = "other" },
		"truncate": func(inc *incident.Incident) { inc.Events = inc.Events[:1] },
		"bad seq": func(inc *incident.Incident) {
			inc.Events = append(inc.Events, incident.Event{Seq: 7, At: T0, Kind: incident.EventNote})
		},
	}
	for name, mutate := range cases {
		_, err := e.s.Update(e.ctx, 1, func(inc *incident.Incident) ([]desk.Job, error) {
			inc.Append(incident.Event{At: T0, Kind: incident.EventNote, Text: "b"})
			mutate(inc)
			return nil, nil
		})
		if err == nil || !strings.Contains(err.Error(), "update incident 1:") {
			t.Errorf("%s: Update error = %v, want a refusal", name, err)
		}
	}
	got, _ := e.s.Get(e.ctx, 1)
	if len(got.Events) != 2 || got.Title != "Checkout down on bedroom" {
		t.Fatalf("refused updates changed the incident: %+v", got)
	}
}

func testUpdateNoChange(t *testing.T, e *env) {
	e.create(t, "bedroom", T0)
	e.appendEvents(t, 1, incident.Event{At: T0, Kind: incident.EventMessage, Key: "1.1", Text: "hi", Idem: "Ev1"})
	inc, err := e.s.Update(e.ctx, 1, func(inc *incident.Incident) ([]desk.Job, error) {
		if added := inc.Append(incident.Event{At: T0, Kind: incident.EventMessage, Key: "1.1", Text: "hi", Idem: "Ev1"}); len(added) != 0 {
			t.Errorf("Append added a duplicate: %+v", added)
		}
		return nil, nil
	})
	if err != nil || len(inc.Events) != 2 {
		t.Fatalf("no-op Update = %v, %v", inc, err)
	}
}

func testNotFound(t *testing.T, e *env) {
	_, err := e.s.Get(e.ctx, 12)
	if incident.ErrorCode(err) != incident.ENOTFOUND {
		t.Fatalf("Get(12) = %v (code %q), want %s", err, incident.ErrorCode(err), incident.ENOTFOUND)
	}
	if msg := incident.ErrorMessage(err); msg != "There is no incident #12." {
		t.Errorf("user message = %q", msg)
	}
	called := false
	_, err = e.s.Update(e.ctx, 12, func(*incident.Incident) ([]desk.Job, error) { called = true; return nil, nil })
	if incident.ErrorCode(err) != incident.ENOTFOUND || called {
		t.Fatalf("Update(12) = %v (fn called %v), want %s", err, called, incident.ENOTFOUND)
	}
	if !strings.Contains(err.Error(), "update incident 12:") {
		t.Errorf("error lacks context: %v", err)
	}
}

// testConcurrentUpdates appends from several writers, half of them on
// another replica's handle: none is lost, seqs stay 1..n.
func testConcurrentUpdates(t *testing.T, e *env) {
	e.create(t, "bedroom", T0)
	stores := []desk.Storage{e.s, e.Replica(t)}
	const writers, each = 8, 20
	var wg sync.WaitGroup
	for w := range writers {
		s := stores[w%2]
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := range each {
				_, err := s.Update(e.ctx, 1, func(inc *incident.Incident) ([]desk.Job, error) {
					inc.Append(incident.Event{At: at(1), Kind: incident.EventNote, Actor: fmt.Sprintf("U%d", w), Text: fmt.Sprint(i)})
					return []desk.Job{{ID: fmt.Sprintf("j/%d/%d", w, i), Kind: "x"}}, nil
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
		go func() { // readers alongside
			defer wg.Done()
			for range each {
				if _, err := s.List(e.ctx, desk.Filter{OpenOnly: true}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	inc, err := e.s.Get(e.ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(inc.Events) != 1+writers*each {
		t.Fatalf("%d events, want %d", len(inc.Events), 1+writers*each)
	}
	assertTimeline(t, inc)
	if jobs := e.pending(t); len(jobs) != writers*each {
		t.Fatalf("%d jobs, want %d", len(jobs), writers*each)
	}
}

// testNumbersAcrossReplicas creates incidents from two handles at once:
// numbers are 1..n without gaps or repeats.
func testNumbersAcrossReplicas(t *testing.T, e *env) {
	stores := []desk.Storage{e.s, e.Replica(t)}
	const n = 20
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			create(t, stores[i%2], "bedroom", T0)
		}()
	}
	wg.Wait()
	got := e.listNumbers(t, desk.Filter{})
	slices.Sort(got)
	for i, num := range got {
		if num != int64(i+1) {
			t.Fatalf("numbers = %v, want 1..%d", got, n)
		}
	}
	if len(got) != n {
		t.Fatalf("%d incidents, want %d", len(got), n)
	}
}

func testCancelled(t *testing.T, e *env) {
	cctx, cancel := context.WithCancel(e.ctx)
	cancel()
	if _, err := e.s.Create(cctx, func(n int64) (*incident.Incident, []desk.Job, error) {
		t.Error("fn called with a cancelled context")
		return declared(n, "bedroom", T0), nil, nil
	}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Create with cancelled context: %v", err)
	}
	if err := e.s.Enqueue(cctx, desk.Job{ID: "a", Kind: "x"}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Enqueue with cancelled context: %v", err)
	}
	if len(e.pending(t)) != 0 || len(e.listNumbers(t, desk.Filter{})) != 0 {
		t.Fatal("a cancelled call wrote")
	}
}

func (e *env) assertOpen(t *testing.T, want ...int64) {
	t.Helper()
	if got := e.listNumbers(t, desk.Filter{OpenOnly: true}); !slices.Equal(got, want) {
		t.Fatalf("open incidents = %v, want %v", got, want)
	}
	if n, err := e.s.CountOpen(e.ctx); err != nil || n != len(want) {
		t.Fatalf("CountOpen = %d, %v; want %d", n, err, len(want))
	}
}

// testUpdateRecords: records written by an update commit with it, and only
// with it; writers on two handles lose nothing.
func testUpdateRecords(t *testing.T, e *env) {
	e.create(t, "bedroom", T0)
	boom := errors.New("boom")
	_, err := e.s.UpdateRecords(e.ctx, 1, func(inc *incident.Incident, recs desk.Records) ([]desk.Job, error) {
		if err := recs.Put("reviews", "1", []byte("draft")); err != nil {
			return nil, err
		}
		return nil, boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("UpdateRecords = %v, want fn's error", err)
	}
	if _, ok, _ := e.s.GetKV(e.ctx, "reviews", "1"); ok {
		t.Fatal("a failed update wrote its record")
	}
	// A record alone is a change.
	if _, err := e.s.UpdateRecords(e.ctx, 1, func(_ *incident.Incident, recs desk.Records) ([]desk.Job, error) {
		if _, ok, err := recs.Get("reviews", "1"); ok || err != nil {
			t.Errorf("Get of a missing record = %v, %v", ok, err)
		}
		return nil, recs.Put("reviews", "1", []byte("0"))
	}); err != nil {
		t.Fatal(err)
	}
	if v, ok, _ := e.s.GetKV(e.ctx, "reviews", "1"); !ok || string(v) != "0" {
		t.Fatalf("record = %q %v", v, ok)
	}
	if err := e.s.Put(e.ctx, "reviews", "1", nil); err != nil {
		t.Fatal(err)
	}
	stores := []desk.Storage{e.s, e.Replica(t)}
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := stores[i%2].UpdateRecords(e.ctx, 1, func(inc *incident.Incident, recs desk.Records) ([]desk.Job, error) {
				v, _, err := recs.Get("reviews", "1")
				if err != nil {
					return nil, err
				}
				inc.Append(incident.Event{At: at(1), Kind: incident.EventNote, Text: fmt.Sprint(i)})
				return nil, recs.Put("reviews", "1", append(v, 'x'))
			})
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if v, _, _ := e.s.GetKV(e.ctx, "reviews", "1"); len(v) != 20 {
		t.Fatalf("record has %d of 20 writes: updates on two handles were lost", len(v))
	}
	if inc, _ := e.s.Get(e.ctx, 1); len(inc.Events) != 21 {
		t.Fatalf("%d events, want 21", len(inc.Events))
	}
}

// testServicesAndMerges: an incident is found by every service attached to
// it, not only its primary one; an incident merged into another is no
// longer open and its alert keys move to the one it went into.
func testServicesAndMerges(t *testing.T, e *env) {
	s, ctx := e.s, e.ctx
	e.create(t, "ecommerce-platform", T0)
	e.create(t, "appointments", T0, incident.Event{At: T0, Kind: incident.EventAlertFired, Key: "am/appointments", Source: "alertmanager"})
	e.appendEvents(t, 1, incident.Event{At: at(1), Kind: incident.EventServiceAffected, Service: "bedroom",
		Entry: &incident.Service{Name: "Bedroom", Team: "bedroom-team"}})
	open := func(service string) []int64 {
		t.Helper()
		incs, err := s.OpenByService(ctx, service)
		if err != nil {
			t.Fatal(err)
		}
		return Numbers(incs)
	}
	if got := open("bedroom"); !slices.Equal(got, []int64{1}) {
		t.Fatalf("open incidents of bedroom = %v, want [1]", got)
	}
	two, err := s.Get(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	e.appendEvents(t, 2, incident.Event{At: at(2), Kind: incident.EventMergedInto, Ref: 1})
	copied := incident.Event{At: T0, Kind: incident.EventAlertFired, Key: "am/appointments", Source: "alertmanager", From: 2}
	e.appendEvents(t, 1, incident.Event{At: at(2), Kind: incident.EventMerged, Ref: 2,
		Merged: &incident.MergedHeader{Number: 2, Service: two.Service, StartedAt: T0, Events: 1}}, copied)
	if got := open("appointments"); !slices.Equal(got, []int64{1}) {
		t.Errorf("open incidents of appointments = %v, want [1]", got)
	}
	if got := e.listNumbers(t, desk.Filter{Service: "appointments"}); !slices.Equal(got, []int64{2, 1}) {
		t.Errorf("incidents of appointments = %v, want [2 1]", got)
	}
	e.assertOpen(t, 1)
	if n, ok, err := s.ByAlertKey(ctx, "am/appointments"); err != nil || !ok || n != 1 {
		t.Errorf("alert key → %d %v %v, want 1", n, ok, err)
	}
}

// testErasure: a message deleted in Slack leaves no text on the stored
// timeline, on every handle, also one that had the timeline cached before
// the deletion and one that appends after it.
func testErasure(t *testing.T, e *env) {
	record := func(s desk.Storage, ev incident.Event) *incident.Incident {
		t.Helper()
		inc, err := s.Update(e.ctx, 1, func(inc *incident.Incident) ([]desk.Job, error) {
			_, err := inc.Record(incident.Policy{}, at(60), ev)
			return nil, err
		})
		if err != nil {
			t.Fatalf("record %s: %v", ev.Kind, err)
		}
		return inc
	}
	const secret, edited = "db password is hunter2", "db password is hunter3 now"
	e.create(t, "bedroom", T0)
	replica := e.Replica(t)
	record(e.s, incident.Event{At: T0, Kind: incident.EventMessage, Actor: "U02", Key: "1800.0001", Text: secret, Idem: "msg/1"})
	record(e.s, incident.Event{Kind: incident.EventMessageEdited, Actor: "U02", Key: "1800.0001", Text: edited})
	for _, s := range []desk.Storage{e.s, replica} { // both cache the timeline with the text
		if inc, err := s.Get(e.ctx, 1); err != nil || !strings.Contains(mustJSON(t, inc), "hunter2") {
			t.Fatalf("before the deletion: %v", err)
		}
	}
	got := record(e.s, incident.Event{Kind: incident.EventMessageDeleted, Key: "1800.0001", Idem: "ev/del"})
	if del := got.Events[len(got.Events)-1]; del.Kind != incident.EventMessageDeleted || len(del.Erases) != 2 {
		t.Fatalf("last event %+v, want a deletion erasing the message and its edit", del)
	}
	record(replica, incident.Event{At: T0, Kind: incident.EventMessage, Actor: "U02", Key: "1800.0002", Text: "see you", Idem: "msg/2"})
	check := func(i int, s desk.Storage) {
		t.Helper()
		inc, err := s.Get(e.ctx, 1)
		if err != nil {
			t.Fatal(err)
		}
		if j := mustJSON(t, inc); strings.Contains(j, "hunter") || !strings.Contains(j, "see you") {
			t.Errorf("handle %d: the timeline holds the deleted text or lost a message: %s", i, j)
		}
		if l, _ := s.List(e.ctx, desk.Filter{}); strings.Contains(mustJSON(t, l), "hunter") {
			t.Errorf("handle %d: List shows the deleted text", i)
		}
	}
	check(0, e.s)
	check(1, replica)
	check(2, e.Reopen(t))
}
