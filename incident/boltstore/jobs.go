package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/incidentbot/incidentbot/incident"
	"github.com/incidentbot/incidentbot/incident/desk"
)

// Enqueue adds jobs to the queue, durably. It is idempotent on desk.Job.ID: a job
// that is already pending is left as it is (its due time, attempts and
// payload unchanged), and a job that was completed is not added again. A job
// without a due time is due now.
func (s *Store) Enqueue(ctx context.Context, jobs ...desk.Job) error {
	err := s.update(ctx, func(tx *bolt.Tx) error {
		if n, err := s.enqueueTx(tx, jobs); err != nil {
			return err
		} else if n == 0 {
			return errNoChange
		}
		return nil
	})
	if err != nil && err != errNoChange {
		return fmt.Errorf("boltstore: enqueue: %w", err)
	}
	return nil
}

// enqueueTx adds the jobs that are neither pending nor done and returns how
// many it added.
func (s *Store) enqueueTx(tx *bolt.Tx, jobs []desk.Job) (int, error) {
	pending, done := tx.Bucket(bJobs), tx.Bucket(bJobsDone)
	added := 0
	for _, j := range jobs {
		if j.ID == "" || j.Kind == "" {
			return added, incident.Errorf(incident.EINVALID, "job %q (kind %q) needs an ID and a kind", clipKey(j.ID), clipKey(j.Kind))
		}
		id := []byte(j.ID)
		if j.DueAt.IsZero() {
			j.DueAt = s.now()
		}
		if j.Coalesce {
			cur, err := getJob(tx, j.ID)
			if err != nil {
				return added, err
			}
			if cur != nil {
				if err := dueBucket(tx, cur.Queue).Delete(dueKey(cur.DueAt, cur.ID)); err != nil {
					return added, err
				}
				cur.Gen++
				if j.DueAt.Before(cur.DueAt) {
					cur.DueAt = j.DueAt
				}
				cur.Payload = j.Payload
				j = *cur
			}
		} else if pending.Get(id) != nil || done.Get(id) != nil {
			continue
		}
		v, err := json.Marshal(j)
		if err != nil {
			return added, fmt.Errorf("job %s: encode: %w", clipKey(j.ID), err)
		}
		if err := pending.Put(id, v); err != nil {
			return added, fmt.Errorf("job %s: %w", clipKey(j.ID), err)
		}
		if err := dueBucket(tx, j.Queue).Put(dueKey(j.DueAt, j.ID), empty); err != nil {
			return added, fmt.Errorf("job %s: index: %w", clipKey(j.ID), err)
		}
		added++
	}
	return added, nil
}

// Due returns up to limit pending jobs of a queue due at or before now,
// ordered by due time then ID. A limit of 0 or less means no limit.
func (s *Store) Due(ctx context.Context, queue string, now time.Time, limit int) ([]desk.Job, error) {
	var out []desk.Job
	err := s.view(ctx, func(tx *bolt.Tx) error {
		var err error
		out, err = scanDue(tx, queue, timeKey(now), limit)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("boltstore: due jobs: %w", err)
	}
	return out, nil
}

// Pending returns every pending job, ordered by due time then ID.
func (s *Store) Pending(ctx context.Context) ([]desk.Job, error) {
	var out []desk.Job
	err := s.view(ctx, func(tx *bolt.Tx) error {
		for _, q := range queues {
			jobs, err := scanDue(tx, q, 1<<64-1, 0)
			if err != nil {
				return err
			}
			out = append(out, jobs...)
		}
		sort.SliceStable(out, func(i, j int) bool { return out[i].DueAt.Before(out[j].DueAt) })
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("boltstore: pending jobs: %w", err)
	}
	return out, nil
}

func scanDue(tx *bolt.Tx, queue string, until uint64, limit int) ([]desk.Job, error) {
	var out []desk.Job
	pending := tx.Bucket(bJobs)
	c := dueBucket(tx, queue).Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		if len(k) < 9 {
			return nil, fmt.Errorf("bad jobs_due key %x", k)
		}
		if binary.BigEndian.Uint64(k) > until || (limit > 0 && len(out) >= limit) {
			break
		}
		id := k[9:]
		v := pending.Get(id)
		if v == nil {
			return nil, fmt.Errorf("jobs_due names job %q, which is not pending", id)
		}
		var j desk.Job
		if err := json.Unmarshal(v, &j); err != nil {
			return nil, fmt.Errorf("job %s: decode: %w", id, err)
		}
		out = append(out, j)
	}
	return out, nil
}

// NextDue returns the earliest due time of a queue's pending jobs; ok is
// false when none is pending.
func (s *Store) NextDue(ctx context.Context, queue string) (time.Time, bool, error) {
	var at time.Time
	var ok bool
	err := s.view(ctx, func(tx *bolt.Tx) error {
		k, _ := dueBucket(tx, queue).Cursor().First()
		if k == nil {
			return nil
		}
		jobs, err := scanDue(tx, queue, binary.BigEndian.Uint64(k), 1)
		if err != nil {
			return err
		}
		if len(jobs) == 1 {
			at, ok = jobs[0].DueAt, true
		}
		return nil
	})
	if err != nil {
		return time.Time{}, false, fmt.Errorf("boltstore: next due job: %w", err)
	}
	return at, ok, nil
}

// Complete removes a pending job and records that it is done (a tombstone
// with the completion time), so that enqueueing it again does nothing.
// Completing a job that is already done does nothing; an unknown job gives an
// incident.ENOTFOUND error.
func (s *Store) Complete(ctx context.Context, id string) error {
	return s.complete(ctx, id, -1)
}

// CompleteJob completes the job as it was run: a coalescing job that was
// asked for again since (its Gen moved on) stays pending and runs again.
func (s *Store) CompleteJob(ctx context.Context, run desk.Job) error {
	if !run.Coalesce {
		return s.complete(ctx, run.ID, -1)
	}
	return s.complete(ctx, run.ID, run.Gen)
}

func (s *Store) complete(ctx context.Context, id string, gen int) error {
	err := s.update(ctx, func(tx *bolt.Tx) error {
		j, err := getJob(tx, id)
		if err != nil {
			return err
		}
		if j == nil {
			if tx.Bucket(bJobsDone).Get([]byte(id)) != nil {
				return errNoChange
			}
			return incident.Errorf(incident.ENOTFOUND, "There is no job %q.", id)
		}
		if gen >= 0 && j.Gen != gen {
			return errNoChange // asked for again while running: run once more
		}
		if err := dueBucket(tx, j.Queue).Delete(dueKey(j.DueAt, id)); err != nil {
			return err
		}
		if err := tx.Bucket(bJobs).Delete([]byte(id)); err != nil {
			return err
		}
		if j.Coalesce {
			return nil
		}
		return tx.Bucket(bJobsDone).Put([]byte(id), be64(timeKey(s.now())))
	})
	if err != nil && err != errNoChange {
		return fmt.Errorf("boltstore: complete job %s: %w", id, err)
	}
	s.unclaim(id)
	return nil
}

// Retry records a failed attempt of a pending job: Attempts+1, LastError,
// and the new due time. An unknown or completed job gives an
// incident.ENOTFOUND error.
func (s *Store) Retry(ctx context.Context, id string, due time.Time, errText string) error {
	err := s.update(ctx, func(tx *bolt.Tx) error {
		j, err := getJob(tx, id)
		if err != nil {
			return err
		}
		if j == nil {
			return incident.Errorf(incident.ENOTFOUND, "There is no pending job %q.", id)
		}
		if err := dueBucket(tx, j.Queue).Delete(dueKey(j.DueAt, id)); err != nil {
			return err
		}
		j.Attempts++
		j.LastError = errText
		j.DueAt = due
		v, err := json.Marshal(j)
		if err != nil {
			return fmt.Errorf("encode: %w", err)
		}
		if err := tx.Bucket(bJobs).Put([]byte(id), v); err != nil {
			return err
		}
		return dueBucket(tx, j.Queue).Put(dueKey(due, id), empty)
	})
	if err != nil {
		return fmt.Errorf("boltstore: retry job %s: %w", id, err)
	}
	s.unclaim(id)
	return nil
}

// PruneDone forgets completion tombstones recorded before olderThan and
// returns how many it removed. A pruned job ID can be enqueued again, so keep
// tombstones for longer than anything may replay the state that enqueues
// the job.
func (s *Store) PruneDone(ctx context.Context, olderThan time.Time) (int, error) {
	return s.pruneOlder(ctx, bJobsDone, olderThan, "prune done jobs")
}

// pruneOlder deletes the entries of a bucket whose value, a big-endian time
// key, is before olderThan.
func (s *Store) pruneOlder(ctx context.Context, bucket []byte, olderThan time.Time, what string) (int, error) {
	n := 0
	err := s.update(ctx, func(tx *bolt.Tx) error {
		limit := timeKey(olderThan)
		b := tx.Bucket(bucket)
		var old [][]byte
		err := b.ForEach(func(k, v []byte) error {
			if len(v) == 8 && binary.BigEndian.Uint64(v) < limit {
				old = append(old, clone(k))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range old {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		n = len(old)
		if n == 0 {
			return errNoChange
		}
		return nil
	})
	if err != nil && err != errNoChange {
		return 0, fmt.Errorf("boltstore: %s: %w", what, err)
	}
	return n, nil
}

// Housekeep forgets deduplication keys older than a week and job
// tombstones older than 30 days: long after any sender redelivers or any
// replay could ask for the job again.
func (s *Store) Housekeep(ctx context.Context, now time.Time) error {
	if _, err := s.PruneSeen(ctx, now.Add(-7*24*time.Hour)); err != nil {
		return err
	}
	_, err := s.PruneDone(ctx, now.Add(-30*24*time.Hour))
	return err
}

func getJob(tx *bolt.Tx, id string) (*desk.Job, error) {
	v := tx.Bucket(bJobs).Get([]byte(id))
	if v == nil {
		return nil, nil
	}
	j := new(desk.Job)
	if err := json.Unmarshal(v, j); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	return j, nil
}

// dueKey is the jobs_due key: be64(unix nanos) 0x00 id.
func dueKey(due time.Time, id string) []byte {
	var b bytes.Buffer
	b.Grow(9 + len(id))
	b.Write(be64(timeKey(due)))
	b.WriteByte(0)
	b.WriteString(id)
	return b.Bytes()
}

// queues are the job queues, each with its own due index.
var queues = []string{desk.QueueEffects, desk.QueueInput}

// dueBucket is a queue's due index: jobs_due for effects (the only queue of
// schema version 1), jobs_due_input for input.
func dueBucket(tx *bolt.Tx, queue string) *bolt.Bucket {
	if queue == desk.QueueInput {
		return tx.Bucket(bJobsDueInput)
	}
	return tx.Bucket(bJobsDue)
}
