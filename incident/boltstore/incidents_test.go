package boltstore

// What every storage adapter must do with incidents is the conformance
// suite's (incident/desk/storetest, run by conformance_test.go); these
// tests check what only bbolt has: its indexes, its transactions and the
// context its errors carry.

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/incidentbot/incidentbot/incident"
	"github.com/incidentbot/incidentbot/incident/desk"
)

// The by_service index holds exactly one entry per incident, however often
// its incident is updated, resolved and reopened.
func TestByServiceIndexHoldsOneEntryPerIncident(t *testing.T) {
	s, _ := newStore(t)
	create(t, s, "bedroom", t0,
		incident.Event{At: t0, Kind: incident.EventAlertFired, Actor: incident.ActorAlertmanager, Key: "am/bedroom", Source: "alertmanager"})
	create(t, s, "appointments", t0.Add(time.Minute))
	create(t, s, "Bedroom", t0.Add(2*time.Minute))
	appendEvents(t, s, 1, incident.Event{At: t0.Add(7 * time.Minute), Kind: incident.EventNote, Actor: "U02", Text: "rolled back"})
	appendEvents(t, s, 1, incident.Event{At: t0.Add(30 * time.Minute), Kind: incident.EventResolved, Actor: "U02", Text: "fixed"})
	appendEvents(t, s, 1, incident.Event{At: t0.Add(31 * time.Minute), Kind: incident.EventNote, Actor: "U02", Text: "after"})
	appendEvents(t, s, 1, incident.Event{At: t0.Add(40 * time.Minute), Kind: incident.EventReopened, Actor: "U02"})
	appendEvents(t, s, 1,
		incident.Event{At: t0.Add(41 * time.Minute), Kind: incident.EventResolved, Actor: "U02"},
		incident.Event{At: t0.Add(42 * time.Minute), Kind: incident.EventReopened, Actor: "U02"},
		incident.Event{At: t0.Add(43 * time.Minute), Kind: incident.EventResolved, Actor: "U02"})
	create(t, s, "bedroom", t0.Add(time.Hour), incident.Event{At: t0.Add(time.Hour), Kind: incident.EventResolved})
	_ = s.db.View(func(tx *bolt.Tx) error {
		if n := tx.Bucket(bByService).Stats().KeyN; n != 4 {
			t.Errorf("by_service has %d keys, want 4", n)
		}
		return nil
	})
}

// An update whose fn fails, or that changes nothing (a redelivered Slack
// event that Append drops on its Idem key), commits no transaction.
func TestUpdatesThatChangeNothingDoNotCommit(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	create(t, s, "bedroom", t0)
	appendEvents(t, s, 1, incident.Event{At: t0, Kind: incident.EventMessage, Key: "1.1", Text: "hi", Idem: "Ev1"})
	before := txID(t, s)
	boom := incident.Errorf(incident.ECONFLICT, "The incident is already resolved.")
	_, err := s.Update(ctx, 1, func(inc *incident.Incident) ([]desk.Job, error) {
		inc.Append(incident.Event{At: t0.Add(time.Hour), Kind: incident.EventResolved},
			incident.Event{At: t0.Add(time.Hour), Kind: incident.EventAlertFired, Key: "k"})
		return []desk.Job{{ID: "slack.post/1", Kind: "slack.post"}}, boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update error = %v, want fn's error", err)
	}
	if after := txID(t, s); after != before {
		t.Fatalf("failed Update committed (tx %d → %d)", before, after)
	}
	inc, err := s.Update(ctx, 1, func(inc *incident.Incident) ([]desk.Job, error) {
		inc.Append(incident.Event{At: t0, Kind: incident.EventMessage, Key: "1.1", Text: "hi", Idem: "Ev1"})
		return nil, nil
	})
	if err != nil || len(inc.Events) != 2 {
		t.Fatalf("no-op Update = %v, %v", inc, err)
	}
	if after := txID(t, s); after != before {
		t.Fatalf("no-op Update committed a transaction (%d → %d)", before, after)
	}
}

// Refused and failed updates say which store and incident they concern.
func TestUpdateErrorsNameTheStore(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	create(t, s, "bedroom", t0)
	_, err := s.Update(ctx, 12, func(*incident.Incident) ([]desk.Job, error) { return nil, nil })
	if !strings.Contains(err.Error(), "boltstore: update incident 12:") {
		t.Errorf("not found: error lacks context: %v", err)
	}
	_, err = s.Update(ctx, 1, func(inc *incident.Incident) ([]desk.Job, error) {
		inc.Title = "renamed"
		inc.Append(incident.Event{At: t0, Kind: incident.EventNote, Text: "b"})
		return nil, nil
	})
	if err == nil || !strings.Contains(err.Error(), "boltstore: update incident 1:") {
		t.Errorf("rewritten header: Update error = %v, want a refusal naming the store", err)
	}
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
