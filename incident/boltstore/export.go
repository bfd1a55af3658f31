package boltstore

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/incidentbot/incidentbot/incident"
	"github.com/incidentbot/incidentbot/incident/desk"
)

// Sink receives everything a database holds, for copying it into another
// store (`incidentbot migrate`).
type Sink interface {
	Incident(ctx context.Context, inc *incident.Incident) error
	AlertKey(ctx context.Context, key string, number int64) error
	Idem(ctx context.Context, key string, number int64) error
	Job(ctx context.Context, j desk.Job) error
	Done(ctx context.Context, id string, at time.Time) error
	Seen(ctx context.Context, namespace, key string, at time.Time) error
	KV(ctx context.Context, bucket, key string, value []byte) error
}

// Counts are how many of each kind of record a database holds.
type Counts struct {
	Incidents, Events, AlertKeys, IdemKeys, Jobs, DoneJobs, SeenKeys, KV int
}

// Export hands everything the database holds to sink, from one consistent
// read: incidents with their timelines (oldest first), alert and
// idempotency keys, pending jobs, job tombstones, dedupe keys and adapter
// state. It returns the counts of what it handed over.
func (s *Store) Export(ctx context.Context, sink Sink) (Counts, error) {
	var c Counts
	err := s.view(ctx, func(tx *bolt.Tx) error {
		for _, step := range []func(*bolt.Tx, Sink, *Counts) error{
			s.exportIncidents, exportKeys, exportJobs, exportDone, exportSeen, exportKV,
		} {
			if err := step(tx, sink, &c); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return c, fmt.Errorf("boltstore: export: %w", err)
	}
	return c, nil
}

func (s *Store) exportIncidents(tx *bolt.Tx, sink Sink, c *Counts) error {
	ctx := context.Background()
	return tx.Bucket(bIncidents).ForEach(func(k, _ []byte) error {
		inc, err := s.loadIncident(tx, int64(binary.BigEndian.Uint64(k)))
		if err != nil {
			return err
		}
		c.Incidents++
		c.Events += len(inc.Events)
		return sink.Incident(ctx, inc)
	})
}

func exportKeys(tx *bolt.Tx, sink Sink, c *Counts) error {
	ctx := context.Background()
	err := tx.Bucket(bAlertKeys).ForEach(func(k, v []byte) error {
		c.AlertKeys++
		return sink.AlertKey(ctx, string(k), int64(binary.BigEndian.Uint64(v)))
	})
	if err != nil {
		return err
	}
	return tx.Bucket(bIdem).ForEach(func(k, v []byte) error {
		c.IdemKeys++
		return sink.Idem(ctx, string(k), int64(binary.BigEndian.Uint64(v)))
	})
}

func exportJobs(tx *bolt.Tx, sink Sink, c *Counts) error {
	return tx.Bucket(bJobs).ForEach(func(k, v []byte) error {
		var j desk.Job
		if err := json.Unmarshal(v, &j); err != nil {
			return fmt.Errorf("job %s: decode: %w", k, err)
		}
		c.Jobs++
		return sink.Job(context.Background(), j)
	})
}

func exportDone(tx *bolt.Tx, sink Sink, c *Counts) error {
	return tx.Bucket(bJobsDone).ForEach(func(k, v []byte) error {
		c.DoneJobs++
		return sink.Done(context.Background(), string(k), keyTime(binary.BigEndian.Uint64(v)))
	})
}

func exportSeen(tx *bolt.Tx, sink Sink, c *Counts) error {
	return tx.Bucket(bSeen).ForEach(func(k, v []byte) error {
		ns, key, ok := splitSeen(k)
		if !ok {
			return fmt.Errorf("bad seen key %q", k)
		}
		c.SeenKeys++
		return sink.Seen(context.Background(), ns, key, keyTime(binary.BigEndian.Uint64(v)))
	})
}

func splitSeen(k []byte) (string, string, bool) {
	for i, b := range k {
		if b == 0 {
			return string(k[:i]), string(k[i+1:]), true
		}
	}
	return "", "", false
}

func exportKV(tx *bolt.Tx, sink Sink, c *Counts) error {
	return tx.Bucket(bKV).ForEachBucket(func(name []byte) error {
		return tx.Bucket(bKV).Bucket(name).ForEach(func(k, v []byte) error {
			c.KV++
			return sink.KV(context.Background(), string(name), string(k), clone(v))
		})
	})
}
