package boltstore

import (
	"context"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/incidentbot/incidentbot/incident"
)

// Keys over bbolt's 32 KiB limit (a groupKey, a service name from an alert
// label, a webhook id) are stored in a hashed form no longer than bbolt
// takes, which is not itself a key that finds them. (That they are found,
// deduplicated and grouped like short ones is the conformance suite's
// OutsideKeys.)
func TestKeysOverBboltsLimitAreStored(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	long := func(c string) string { return strings.Repeat(c, 40<<10) }
	alertKey, idem, svc := "am:"+long("g"), "pd:"+long("i"), long("s")
	inc := create(t, s, svc, t0, incident.Event{At: t0, Kind: incident.EventAlertFired, Key: alertKey, Idem: idem, Text: "fired"})
	if n, ok, err := s.ByAlertKey(ctx, alertKey); err != nil || !ok || n != inc.Number {
		t.Errorf("ByAlertKey = %d %v %v", n, ok, err)
	}
	if _, err := s.Seen(ctx, "pagerduty.webhook", long("w"), t0); err != nil {
		t.Fatal(err)
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
