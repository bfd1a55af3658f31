package boltstore

// What every storage adapter must do with jobs, seen keys and records is
// the conformance suite's (incident/desk/storetest); these tests check
// bbolt's encoding of them.

import (
	"context"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/incidentbot/incidentbot/incident/desk"
)

// Complete leaves a tombstone holding the completion time, which PruneDone
// compares with.
func TestCompleteTombstoneHoldsCompletionTime(t *testing.T) {
	s, clk := newStore(t)
	ctx := context.Background()
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	if err := s.Enqueue(ctx, desk.Job{ID: "b", Kind: "slack.post", DueAt: at(1)}); err != nil {
		t.Fatal(err)
	}
	clk.Set(at(3))
	if err := s.Complete(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	_ = s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bJobsDone).Get([]byte("b")); !keyTime(beUint(v)).Equal(at(3)) {
			t.Errorf("tombstone of b = %x, want completion time %v", v, at(3))
		}
		return nil
	})
}

func TestTimeKey(t *testing.T) {
	if timeKey(time.Time{}) != 0 || timeKey(time.Unix(-5, 0)) != 0 {
		t.Error("times before 1970 should encode as 0")
	}
	if timeKey(time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)) != 1<<63-1 {
		t.Error("times after 2262 should encode as the maximum")
	}
	a, b := timeKey(t0), timeKey(t0.Add(time.Nanosecond))
	if b != a+1 || !keyTime(a).Equal(t0) {
		t.Error("nanosecond precision lost")
	}
}

func beUint(v []byte) uint64 {
	if len(v) != 8 {
		return 0
	}
	return uint64(v[0])<<56 | uint64(v[1])<<48 | uint64(v[2])<<40 | uint64(v[3])<<32 |
		uint64(v[4])<<24 | uint64(v[5])<<16 | uint64(v[6])<<8 | uint64(v[7])
}
