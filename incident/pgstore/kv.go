package pgstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/incidentbot/incidentbot/incident"
)

// Seen records that key was seen in namespace at the given time; first is
// true only the first time, on whichever replica.
func (s *Store) Seen(ctx context.Context, namespace, key string, at time.Time) (bool, error) {
	if err := checkSeen(namespace, key); err != nil {
		return false, fmt.Errorf("pgstore: seen %s/%s: %w", clipKey(namespace), clipKey(key), err)
	}
	if err := ctx.Err(); err != nil {
		return false, err
	}
	tag, err := s.pool.Exec(ctx, `INSERT INTO seen (namespace, key, seen_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, indexKey(namespace), indexKey(key), at)
	if err != nil {
		return false, fmt.Errorf("pgstore: seen %s/%s: %w", clipKey(namespace), clipKey(key), err)
	}
	return tag.RowsAffected() == 1, nil
}

// WasSeen reports whether key was recorded with Seen, without recording it.
func (s *Store) WasSeen(ctx context.Context, namespace, key string) (bool, error) {
	if err := checkSeen(namespace, key); err != nil {
		return false, fmt.Errorf("pgstore: was seen %s/%s: %w", clipKey(namespace), clipKey(key), err)
	}
	var seen bool
	if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM seen WHERE namespace = $1 AND key = $2)`, indexKey(namespace), indexKey(key)).Scan(&seen); err != nil {
		return false, fmt.Errorf("pgstore: was seen %s/%s: %w", clipKey(namespace), clipKey(key), err)
	}
	return seen, nil
}

// PruneSeen forgets the keys seen before olderThan.
func (s *Store) PruneSeen(ctx context.Context, olderThan time.Time) (int, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM seen WHERE seen_at < $1`, olderThan)
	if err != nil {
		return 0, fmt.Errorf("pgstore: prune seen: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

func checkSeen(namespace, key string) error {
	if namespace == "" || key == "" || strings.IndexByte(namespace, 0) >= 0 {
		return incident.Errorf(incident.EINVALID, "a seen key needs a namespace without NUL and a key")
	}
	return nil
}

// Put stores value under key in the named bucket of adapter state.
func (s *Store) Put(ctx context.Context, bucket, key string, value []byte) error {
	if bucket == "" || key == "" {
		return fmt.Errorf("pgstore: put %s/%s: %w", bucket, key, incident.Errorf(incident.EINVALID, "bucket and key are required"))
	}
	if err := checkKV(bucket, key); err != nil {
		return fmt.Errorf("pgstore: put: %w", err)
	}
	if value == nil {
		value = []byte{}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO kv (bucket, key, value) VALUES ($1, $2, $3)
		ON CONFLICT (bucket, key) DO UPDATE SET value = excluded.value`, bucket, key, value)
	if err != nil {
		return fmt.Errorf("pgstore: put %s/%s: %w", bucket, key, err)
	}
	return nil
}

// GetKV returns the value under key in the named bucket.
func (s *Store) GetKV(ctx context.Context, bucket, key string) ([]byte, bool, error) {
	var v []byte
	err := s.pool.QueryRow(ctx, `SELECT value FROM kv WHERE bucket = $1 AND key = $2`, bucket, key).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("pgstore: get %s/%s: %w", bucket, key, err)
	}
	if v == nil {
		v = []byte{}
	}
	return v, true, nil
}

// Delete removes key from the named bucket; a missing key is no error.
func (s *Store) Delete(ctx context.Context, bucket, key string) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM kv WHERE bucket = $1 AND key = $2`, bucket, key); err != nil {
		return fmt.Errorf("pgstore: delete %s/%s: %w", bucket, key, err)
	}
	return nil
}

// Scan calls fn, in key order, for the keys of the bucket starting with
// prefix, after the read is over.
func (s *Store) Scan(ctx context.Context, bucket, prefix string, fn func(key string, value []byte) error) error {
	type kv struct {
		k string
		v []byte
	}
	var items []kv
	rows, err := s.pool.Query(ctx, `SELECT key, value FROM kv WHERE bucket = $1 AND starts_with(key, $2) ORDER BY key`, bucket, prefix)
	if err != nil {
		return fmt.Errorf("pgstore: scan %s/%s: %w", bucket, prefix, err)
	}
	for rows.Next() {
		var it kv
		if err := rows.Scan(&it.k, &it.v); err != nil {
			rows.Close()
			return fmt.Errorf("pgstore: scan %s/%s: %w", bucket, prefix, err)
		}
		items = append(items, it)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("pgstore: scan %s/%s: %w", bucket, prefix, err)
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
	ctx   context.Context
	tx    pgx.Tx
	dirty bool
}

func (r *txRecords) Get(bucket, key string) ([]byte, bool, error) {
	var v []byte
	err := r.tx.QueryRow(r.ctx, `SELECT value FROM kv WHERE bucket = $1 AND key = $2`, bucket, key).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("pgstore: get %s/%s: %w", bucket, key, err)
	}
	if v == nil {
		v = []byte{}
	}
	return v, true, nil
}

func (r *txRecords) Put(bucket, key string, value []byte) error {
	if bucket == "" || key == "" {
		return incident.Errorf(incident.EINVALID, "bucket and key are required")
	}
	if err := checkKV(bucket, key); err != nil {
		return err
	}
	if value == nil {
		value = []byte{}
	}
	if _, err := r.tx.Exec(r.ctx, `INSERT INTO kv (bucket, key, value) VALUES ($1, $2, $3)
		ON CONFLICT (bucket, key) DO UPDATE SET value = excluded.value`, bucket, key, value); err != nil {
		return fmt.Errorf("pgstore: put %s/%s: %w", bucket, key, err)
	}
	r.dirty = true
	return nil
}

func checkKV(bucket, key string) error {
	if err := checkStoredKey("bucket", bucket); err != nil {
		return err
	}
	return checkStoredKey("key", key)
}
