package boltstore

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/incidentbot/incidentbot/incident/desk"
	"github.com/incidentbot/incidentbot/incident/desk/storetest"
)

// A database written by schema version 1 (testdata/schema-v1.db, made by the
// code of that version) opens, is upgraded in place, and keeps everything:
// incidents and timelines, indexes, pending jobs (they stay in the effects
// queue and run there), job tombstones, adapter state and dedupe keys.
func TestUpgradeFromSchemaV1(t *testing.T) {
	raw, err := os.ReadFile("testdata/schema-v1.db")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "v1.db")
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	s := openStore(t, path, Options{Now: func() time.Time { return t0 }})
	ctx := context.Background()
	_ = s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bMeta).Get(kSchemaVersion); string(v) != strconv.Itoa(SchemaVersion) {
			t.Errorf("schema_version after upgrade = %q, want %d", v, SchemaVersion)
		}
		return nil
	})
	inc, err := s.Get(ctx, 1)
	if err != nil || inc.Service.Name != "bedroom" || len(inc.Events) != 2 || inc.Events[1].Text != "rolled back" {
		t.Fatalf("incident 1 after upgrade = %+v, %v", inc, err)
	}
	if !inc.HasIdem("inbox/E1") {
		t.Error("incident 1 lost its idempotency key")
	}
	if n, ok, err := s.ByAlertKey(ctx, `{}:{alertname="X"}`); err != nil || !ok || n != 2 {
		t.Errorf("alert key index = %d, %v, %v; want incident 2", n, ok, err)
	}
	due, err := s.Due(ctx, desk.QueueEffects, t0.Add(2*time.Hour), 0)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := storetest.JobIDs(due), []string{"slack.card/1", "inbox/E2"}; !slices.Equal(got, want) {
		t.Errorf("pending effects after upgrade = %v, want %v", got, want)
	}
	if in, _ := s.Due(ctx, desk.QueueInput, t0.Add(2*time.Hour), 0); len(in) != 0 {
		t.Errorf("input queue after upgrade = %v, want empty", storetest.JobIDs(in))
	}
	// The tombstone holds: the completed job is not enqueued again.
	if err := s.Enqueue(ctx, desk.Job{ID: "slack.channel/1", Kind: "slack.channel", Incident: 1}); err != nil {
		t.Fatal(err)
	}
	if p, _ := s.Pending(ctx); len(p) != 2 {
		t.Errorf("completed job came back: %v", storetest.JobIDs(p))
	}
	if v, ok, err := s.GetKV(ctx, "reviews", "1"); err != nil || !ok || string(v) != `{"number":1}` {
		t.Errorf("kv reviews/1 = %q, %v, %v", v, ok, err)
	}
	if first, err := s.Seen(ctx, "pagerduty", "W1", t0); err != nil || first {
		t.Errorf("dedupe key forgotten: first=%v err=%v", first, err)
	}
	// New input goes to the new queue.
	if err := s.Enqueue(ctx, desk.Job{ID: "inbox/E3", Kind: "slack.inbox", Queue: desk.QueueInput, Incident: 1, DueAt: t0}); err != nil {
		t.Fatal(err)
	}
	if in, _ := s.Due(ctx, desk.QueueInput, t0, 0); len(in) != 1 || in[0].ID != "inbox/E3" {
		t.Errorf("input queue = %v, want inbox/E3", storetest.JobIDs(in))
	}
	if err := s.Check(); err != nil {
		t.Fatal(err)
	}
}
