package boltstore

import (
	"context"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/incident"
)

// An incident is found by the services attached to it, not only by its
// primary service; a merged incident is no longer open and its alert keys
// move to the incident it went into.
func TestAffectedServicesAndMerges(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	create(t, s, "ecommerce-platform", t0)
	create(t, s, "appointments", t0, incident.Event{At: t0, Kind: incident.EventAlertFired, Key: "am/appointments", Source: "alertmanager"})
	appendEvents(t, s, 1, incident.Event{At: t0.Add(time.Minute), Kind: incident.EventServiceAffected, Service: "bedroom",
		Entry: &incident.Service{Name: "bedroom", Team: "bedroom-team"}})
	open := func(service string) []int64 {
		incs, err := s.OpenByService(ctx, service)
		if err != nil {
			t.Fatal(err)
		}
		var ns []int64
		for _, inc := range incs {
			ns = append(ns, inc.Number)
		}
		return ns
	}
	if got := open("bedroom"); len(got) != 1 || got[0] != 1 {
		t.Fatalf("open incidents of bedroom = %v, want [1]", got)
	}
	// #2 merged into #1: closed on its side, absorbed on the other.
	two, err := s.Get(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	appendEvents(t, s, 2, incident.Event{At: t0.Add(2 * time.Minute), Kind: incident.EventMergedInto, Ref: 1})
	copied := incident.Event{At: t0, Kind: incident.EventAlertFired, Key: "am/appointments", Source: "alertmanager", From: 2}
	appendEvents(t, s, 1, incident.Event{At: t0.Add(2 * time.Minute), Kind: incident.EventMerged, Ref: 2,
		Merged: &incident.MergedHeader{Number: 2, Service: two.Service, StartedAt: t0, Events: 1}}, copied)
	if got := open("appointments"); len(got) != 1 || got[0] != 1 {
		t.Errorf("open incidents of appointments = %v, want [1]", got)
	}
	if n, err := s.CountOpen(ctx); err != nil || n != 1 {
		t.Errorf("open = %d, %v; want 1", n, err)
	}
	if n, ok, err := s.ByAlertKey(ctx, "am/appointments"); err != nil || !ok || n != 1 {
		t.Errorf("alert key → %d %v %v, want 1", n, ok, err)
	}
}
