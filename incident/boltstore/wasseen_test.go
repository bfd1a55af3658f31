package boltstore

import (
	"context"
	"path/filepath"
	"testing"
)

func TestWasSeenDoesNotRecord(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "db"), Options{})
	ctx := context.Background()
	for i := 0; i < 2; i++ {
		if seen, err := s.WasSeen(ctx, "pagerduty.webhook", "W1"); err != nil || seen {
			t.Fatalf("WasSeen before Seen = %v, %v", seen, err)
		}
	}
	if first, err := s.Seen(ctx, "pagerduty.webhook", "W1", t0); err != nil || !first {
		t.Fatalf("Seen = %v, %v; WasSeen must not have recorded the key", first, err)
	}
	if seen, err := s.WasSeen(ctx, "pagerduty.webhook", "W1"); err != nil || !seen {
		t.Fatalf("WasSeen after Seen = %v, %v", seen, err)
	}
	if seen, _ := s.WasSeen(ctx, "other", "W1"); seen {
		t.Fatal("namespaces are separate")
	}
	if _, err := s.WasSeen(ctx, "", "W1"); err == nil {
		t.Fatal("WasSeen without a namespace must fail")
	}
}
