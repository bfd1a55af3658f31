package boltstore

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/incidentbot/incidentbot/incident"
)

// Seen records that key was seen in namespace (say "slack.event" and an
// event_id, or "pagerduty.webhook" and an X-Webhook-Id) at the given time,
// durably. first is true only the first time a key is ever seen (until
// PruneSeen forgets it).
func (s *Store) Seen(ctx context.Context, namespace, key string, at time.Time) (first bool, err error) {
	k, err := seenKey(namespace, key)
	if err != nil {
		return false, fmt.Errorf("boltstore: seen %s/%s: %w", namespace, clipKey(key), err)
	}
	err = s.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bSeen)
		if b.Get(k) != nil {
			first = false
			return errNoChange
		}
		first = true
		return b.Put(k, be64(timeKey(at)))
	})
	if err != nil && err != errNoChange {
		return false, fmt.Errorf("boltstore: seen %s/%s: %w", namespace, clipKey(key), err)
	}
	return first, nil
}

// WasSeen reports whether key was recorded with Seen in namespace, without
// recording it: a handler can skip a redelivery up front and call Seen only
// once its effect is stored.
func (s *Store) WasSeen(ctx context.Context, namespace, key string) (bool, error) {
	k, err := seenKey(namespace, key)
	if err != nil {
		return false, fmt.Errorf("boltstore: was seen %s/%s: %w", namespace, clipKey(key), err)
	}
	var seen bool
	err = s.view(ctx, func(tx *bolt.Tx) error {
		seen = tx.Bucket(bSeen).Get(k) != nil
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("boltstore: was seen %s/%s: %w", namespace, clipKey(key), err)
	}
	return seen, nil
}

// PruneSeen forgets the keys seen before olderThan and returns how many it
// removed. Keep them for longer than senders redeliver (Slack and PagerDuty
// retry for minutes to hours).
func (s *Store) PruneSeen(ctx context.Context, olderThan time.Time) (int, error) {
	return s.pruneOlder(ctx, bSeen, olderThan, "prune seen")
}

func seenKey(namespace, key string) ([]byte, error) {
	if namespace == "" || key == "" || strings.IndexByte(namespace, 0) >= 0 {
		return nil, incident.Errorf(incident.EINVALID, "a seen key needs a namespace without NUL and a key")
	}
	return append([]byte(namespace+"\x00"), indexKey(key)...), nil
}

// Put stores value under key in the named bucket of adapter state (Slack
// channel per incident, card message ts, e-mail cache, review drafts…),
// durably. Buckets are created on first use and are separate from the
// store's own.
func (s *Store) Put(ctx context.Context, bucket, key string, value []byte) error {
	if bucket == "" || key == "" {
		return fmt.Errorf("boltstore: put %s/%s: %w", bucket, clipKey(key), incident.Errorf(incident.EINVALID, "bucket and key are required"))
	}
	err := s.update(ctx, func(tx *bolt.Tx) error {
		b, err := tx.Bucket(bKV).CreateBucketIfNotExists([]byte(bucket))
		if err != nil {
			return err
		}
		if value == nil {
			value = []byte{} // bbolt stores nil as empty; keep GetKV's ok true
		}
		return b.Put([]byte(key), value)
	})
	if err != nil {
		return fmt.Errorf("boltstore: put %s/%s: %w", bucket, clipKey(key), err)
	}
	return nil
}

// GetKV returns a copy of the value under key in the named bucket; ok is
// false if there is none.
func (s *Store) GetKV(ctx context.Context, bucket, key string) ([]byte, bool, error) {
	var out []byte
	var ok bool
	err := s.view(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bKV).Bucket([]byte(bucket))
		if b == nil || key == "" {
			return nil
		}
		if v := b.Get([]byte(key)); v != nil {
			out, ok = clone(v), true
		}
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("boltstore: get %s/%s: %w", bucket, clipKey(key), err)
	}
	return out, ok, nil
}

// Delete removes key from the named bucket; a missing key is no error.
func (s *Store) Delete(ctx context.Context, bucket, key string) error {
	err := s.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bKV).Bucket([]byte(bucket))
		if b == nil || key == "" || b.Get([]byte(key)) == nil {
			return errNoChange
		}
		return b.Delete([]byte(key))
	})
	if err != nil && err != errNoChange {
		return fmt.Errorf("boltstore: delete %s/%s: %w", bucket, clipKey(key), err)
	}
	return nil
}

// Scan calls fn, in key order, for every key of the named bucket that starts
// with prefix. It reads a consistent snapshot and calls fn after the read
// transaction has ended, so fn may use the Store; value is fn's to keep. An
// error from fn stops the scan and is returned.
func (s *Store) Scan(ctx context.Context, bucket, prefix string, fn func(key string, value []byte) error) error {
	type kv struct {
		k string
		v []byte
	}
	var items []kv
	err := s.view(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bKV).Bucket([]byte(bucket))
		if b == nil {
			return nil
		}
		p := []byte(prefix)
		c := b.Cursor()
		for k, v := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, v = c.Next() {
			items = append(items, kv{string(k), clone(v)})
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("boltstore: scan %s/%s: %w", bucket, prefix, err)
	}
	for _, it := range items {
		if err := fn(it.k, it.v); err != nil {
			return err
		}
	}
	return nil
}

// txRecords are the adapter-state buckets inside an update transaction.
type txRecords struct {
	tx    *bolt.Tx
	dirty bool
}

func (r *txRecords) Get(bucket, key string) ([]byte, bool, error) {
	b := r.tx.Bucket(bKV).Bucket([]byte(bucket))
	if b == nil || key == "" {
		return nil, false, nil
	}
	v := b.Get([]byte(key))
	return clone(v), v != nil, nil
}

func (r *txRecords) Put(bucket, key string, value []byte) error {
	if bucket == "" || key == "" {
		return incident.Errorf(incident.EINVALID, "bucket and key are required")
	}
	b, err := r.tx.Bucket(bKV).CreateBucketIfNotExists([]byte(bucket))
	if err != nil {
		return fmt.Errorf("boltstore: put %s/%s: %w", bucket, key, err)
	}
	if value == nil {
		value = []byte{}
	}
	r.dirty = true
	return b.Put([]byte(key), value)
}
