package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/incidentbot/incidentbot/incident"
	"github.com/incidentbot/incidentbot/incident/desk"
)

// jobColumns are the columns scanJob reads, in order.
const jobColumns = `id, kind, queue, incident, payload, due_at, attempts, last_error, coalescing, gen`

// Enqueue adds jobs to the queue, durably and idempotently on Job.ID; see
// desk.Store. A coalescing job asked for while pending absorbs the request
// (Gen+1, the earlier due time, the latest payload).
func (s *Store) Enqueue(ctx context.Context, jobs ...desk.Job) error {
	err := s.tx(ctx, func(tx pgx.Tx) error {
		n, err := s.enqueueTx(ctx, tx, jobs)
		if err == nil && n == 0 {
			return errNoChange
		}
		return err
	})
	if err != nil && !errors.Is(err, errNoChange) {
		return fmt.Errorf("pgstore: enqueue: %w", err)
	}
	return nil
}

func (s *Store) enqueueTx(ctx context.Context, tx pgx.Tx, jobs []desk.Job) (int, error) {
	added := 0
	for _, j := range jobs {
		if j.ID == "" || j.Kind == "" {
			return added, incident.Errorf(incident.EINVALID, "job %q (kind %q) needs an ID and a kind", clipKey(j.ID), j.Kind)
		}
		if err := checkStoredKey("job ID", j.ID); err != nil {
			return added, err
		}
		if j.DueAt.IsZero() {
			j.DueAt = s.now()
		}
		var payload []byte
		if len(j.Payload) > 0 {
			payload = j.Payload
		}
		q := `INSERT INTO jobs (` + jobColumns + `) SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10
			WHERE NOT EXISTS (SELECT 1 FROM jobs_done WHERE id = $1)
			ON CONFLICT (id) DO NOTHING`
		if j.Coalesce {
			q = `INSERT INTO jobs (` + jobColumns + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
			ON CONFLICT (id) DO UPDATE SET gen = jobs.gen + 1, due_at = least(jobs.due_at, excluded.due_at), payload = excluded.payload`
		}
		tag, err := tx.Exec(ctx, q, j.ID, j.Kind, j.Queue, j.Incident, payload, j.DueAt, j.Attempts, j.LastError, j.Coalesce, j.Gen)
		if err != nil {
			return added, fmt.Errorf("job %s: %w", j.ID, err)
		}
		added += int(tag.RowsAffected())
	}
	return added, nil
}

// scanJob reads a row of jobColumns.
func scanJob(row pgx.Row) (desk.Job, error) {
	var j desk.Job
	var payload []byte
	if err := row.Scan(&j.ID, &j.Kind, &j.Queue, &j.Incident, &payload, &j.DueAt, &j.Attempts, &j.LastError, &j.Coalesce, &j.Gen); err != nil {
		return j, err
	}
	if payload != nil {
		j.Payload = json.RawMessage(payload)
	}
	j.DueAt = j.DueAt.UTC()
	return j, nil
}

func (s *Store) queryJobs(ctx context.Context, q string, args ...any) ([]desk.Job, error) {
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []desk.Job
	for rows.Next() {
		j, err := scanJob(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, j)
	}
	return out, rows.Err()
}

// Due returns up to limit (≤ 0: all) pending jobs of a queue due at or
// before now, by due time then ID.
func (s *Store) Due(ctx context.Context, queue string, now time.Time, limit int) ([]desk.Job, error) {
	var lim *int
	if limit > 0 {
		lim = &limit
	}
	out, err := s.queryJobs(ctx, `SELECT `+jobColumns+` FROM jobs WHERE queue = $1 AND due_at <= $2 ORDER BY due_at, id LIMIT $3`, queue, now, lim)
	if err != nil {
		return nil, fmt.Errorf("pgstore: due jobs: %w", err)
	}
	return out, nil
}

// Pending returns every pending job by due time (effects before input,
// then ID, at the same time).
func (s *Store) Pending(ctx context.Context) ([]desk.Job, error) {
	out, err := s.queryJobs(ctx, `SELECT `+jobColumns+` FROM jobs ORDER BY due_at, queue, id`)
	if err != nil {
		return nil, fmt.Errorf("pgstore: pending jobs: %w", err)
	}
	return out, nil
}

// NextDue returns the earliest due time of a queue's pending jobs.
func (s *Store) NextDue(ctx context.Context, queue string) (time.Time, bool, error) {
	var at *time.Time
	if err := s.pool.QueryRow(ctx, `SELECT min(due_at) FROM jobs WHERE queue = $1`, queue).Scan(&at); err != nil {
		return time.Time{}, false, fmt.Errorf("pgstore: next due job: %w", err)
	}
	if at == nil {
		return time.Time{}, false, nil
	}
	return at.UTC(), true, nil
}

// Complete removes a pending job and leaves a tombstone; see desk.JobStore.
func (s *Store) Complete(ctx context.Context, id string) error {
	return s.complete(ctx, id, -1)
}

// CompleteJob completes the job as it was run: a coalescing job asked for
// again since (its Gen moved on) stays pending, unclaimed, and runs again.
func (s *Store) CompleteJob(ctx context.Context, run desk.Job) error {
	if !run.Coalesce {
		return s.complete(ctx, run.ID, -1)
	}
	return s.complete(ctx, run.ID, run.Gen)
}

func (s *Store) complete(ctx context.Context, id string, gen int) error {
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var coalescing bool
		var cur int
		err := tx.QueryRow(ctx, `SELECT coalescing, gen FROM jobs WHERE id = $1 FOR UPDATE`, id).Scan(&coalescing, &cur)
		if errors.Is(err, pgx.ErrNoRows) {
			var done bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM jobs_done WHERE id = $1)`, id).Scan(&done); err != nil {
				return err
			}
			if done {
				return errNoChange
			}
			return incident.Errorf(incident.ENOTFOUND, "There is no job %q.", id)
		}
		if err != nil {
			return err
		}
		if gen >= 0 && cur != gen {
			// Asked for again while running: run once more.
			_, err := tx.Exec(ctx, `UPDATE jobs SET claimed_by = NULL, claimed_until = NULL WHERE id = $1`, id)
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM jobs WHERE id = $1`, id); err != nil {
			return err
		}
		if coalescing {
			return nil
		}
		_, err = tx.Exec(ctx, `INSERT INTO jobs_done (id, done_at) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET done_at = excluded.done_at`, id, s.now())
		return err
	})
	if err != nil && !errors.Is(err, errNoChange) {
		return fmt.Errorf("pgstore: complete job %s: %w", id, err)
	}
	return nil
}

// Retry records a failed attempt: Attempts+1, LastError, the new due time;
// the claim on the job ends.
func (s *Store) Retry(ctx context.Context, id string, due time.Time, errText string) error {
	errText = strings.ReplaceAll(strings.ToValidUTF8(errText, "\uFFFD"), "\x00", "")
	tag, err := s.pool.Exec(ctx, `UPDATE jobs SET attempts = attempts + 1, last_error = $2, due_at = $3,
		claimed_by = NULL, claimed_until = NULL WHERE id = $1`, id, errText, due)
	if err != nil {
		return fmt.Errorf("pgstore: retry job %s: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("pgstore: retry job %s: %w", id, incident.Errorf(incident.ENOTFOUND, "There is no pending job %q.", id))
	}
	return nil
}

// PruneDone forgets tombstones recorded before olderThan.
func (s *Store) PruneDone(ctx context.Context, olderThan time.Time) (int, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM jobs_done WHERE done_at < $1`, olderThan)
	if err != nil {
		return 0, fmt.Errorf("pgstore: prune done jobs: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

// Housekeep forgets deduplication keys older than a week and job
// tombstones older than 30 days.
func (s *Store) Housekeep(ctx context.Context, now time.Time) error {
	if _, err := s.PruneSeen(ctx, now.Add(-7*24*time.Hour)); err != nil {
		return err
	}
	_, err := s.PruneDone(ctx, now.Add(-30*24*time.Hour))
	return err
}
