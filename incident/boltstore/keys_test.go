package boltstore

import (
	"context"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/incidentbot/incidentbot/incident"
	"github.com/incidentbot/incidentbot/incident/desk"
)

// Keys over bbolt's 32 KiB limit (a groupKey, a service name from an alert
// label, a webhook id) are stored, found, deduplicated and grouped like
// short ones.
func TestKeysOverBboltsLimitAreStored(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	long := func(c string) string { return strings.Repeat(c, 40<<10) }
	alertKey, idem, svc := "am:"+long("g"), "pd:"+long("i"), long("s")
	inc := create(t, s, svc, t0, incident.Event{At: t0, Kind: incident.EventAlertFired, Key: alertKey, Idem: idem, Text: "fired"})

	if n, ok, err := s.ByAlertKey(ctx, alertKey); err != nil || !ok || n != inc.Number {
		t.Errorf("ByAlertKey = %d %v %v", n, ok, err)
	}
	if n, ok, err := s.ByIdem(ctx, idem); err != nil || !ok || n != inc.Number {
		t.Errorf("ByIdem = %d %v %v", n, ok, err)
	}
	if open, err := s.OpenByService(ctx, strings.ToUpper(svc)); err != nil || len(open) != 1 {
		t.Errorf("OpenByService = %d incidents, %v", len(open), err)
	}
	if open, err := s.OpenByService(ctx, svc[:len(svc)-1]); err != nil || len(open) != 0 {
		t.Errorf("a shorter name found %d incidents, %v", len(open), err)
	}
	hookID := long("w")
	for i, want := range []bool{true, false} {
		if first, err := s.Seen(ctx, "pagerduty.webhook", hookID, t0); err != nil || first != want {
			t.Errorf("Seen #%d = %v %v", i+1, first, err)
		}
	}
	if seen, err := s.WasSeen(ctx, "pagerduty.webhook", hookID); err != nil || !seen {
		t.Errorf("WasSeen = %v %v", seen, err)
	}

	// The stored form of a long key, sent as a key, is not the long key.
	if _, ok, _ := s.ByAlertKey(ctx, string(indexKey(alertKey))); ok {
		t.Errorf("a short key passed for the hash of a long one")
	}
	// Nothing stored is longer than maxIndexKey plus the index's suffix.
	err := s.db.View(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bAlertKeys, bIdem, bByService, bSeen} {
			c := tx.Bucket(b).Cursor()
			for k, _ := c.First(); k != nil; k, _ = c.Next() {
				if len(k) > maxIndexKey+64 {
					t.Errorf("bucket %s holds a key of %d bytes", b, len(k))
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	mustCheck(t, s)
}

// A key between maxIndexKey and bbolt's limit stored as is by an earlier
// version is still found.
func TestLongKeysStoredAsIsAreFound(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	inc := create(t, s, "bedroom", t0)
	key := "am:" + strings.Repeat("k", 2000)
	err := s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bAlertKeys).Put([]byte(key), be64(uint64(inc.Number))) })
	if err != nil {
		t.Fatal(err)
	}
	if n, ok, err := s.ByAlertKey(ctx, key); err != nil || !ok || n != inc.Number {
		t.Errorf("ByAlertKey = %d %v %v", n, ok, err)
	}
}

// What bbolt can never store is invalid input (4xx), not a failure to retry.
func TestWhatCanNeverBeStoredIsInvalid(t *testing.T) {
	s, _ := newStore(t)
	err := s.Put(context.Background(), "bucket", strings.Repeat("k", 40<<10), []byte("v"))
	if incident.ErrorCode(err) != incident.EINVALID {
		t.Errorf("Put of a 40 KiB key: %v (code %s)", err, incident.ErrorCode(err))
	}
	_, err = s.Create(context.Background(), func(n int64) (*incident.Incident, []desk.Job, error) {
		return declared(n, "bedroom", t0), []desk.Job{{ID: strings.Repeat("j", 40<<10), Kind: "x"}}, nil
	})
	if incident.ErrorCode(err) != incident.EINVALID {
		t.Errorf("a job with a 40 KiB id: %v (code %s)", err, incident.ErrorCode(err))
	}
}
