package pgstore

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/incidentbot/incidentbot/incident/desk"
)

// Advisory lock classes of the two-key form: claims (one claimer per
// queue at a time, the object being hashtext(queue)) and WithLock's names.
const (
	lockClassClaim = lockClass + 1
	lockClassNamed = lockClass + 2
)

// claimSQL claims the due jobs that are free: the earliest due job of each
// incident lane that has no live claim, and every job of no incident that
// has none. A claim is live until its lease runs out, or until its owner is
// no longer present (see presence.go). Rows another transaction is writing
// are skipped, not waited for.
var claimSQL = `WITH alive AS (` + aliveSQL("$6") + `
), held AS (
	SELECT id, incident FROM jobs
	 WHERE queue = $1 AND claimed_until > $2
	   AND hashtext(claimed_by)::oid IN (SELECT objid FROM alive)
), busy AS (
	SELECT DISTINCT incident FROM held WHERE incident <> 0
), heads AS (
	SELECT DISTINCT ON (incident) id FROM jobs
	 WHERE queue = $1 AND incident <> 0 AND due_at <= $2
	   AND incident NOT IN (SELECT incident FROM busy)
	 ORDER BY incident, due_at, id
), candidates AS (
	SELECT id FROM heads
	UNION ALL
	SELECT id FROM jobs
	 WHERE queue = $1 AND incident = 0 AND due_at <= $2
	   AND id NOT IN (SELECT id FROM held)
), picked AS (
	SELECT j.id, j.claimed_by AS held_by FROM jobs j JOIN candidates c ON c.id = j.id
	 ORDER BY j.due_at, j.id
	 LIMIT $3
	 FOR UPDATE OF j SKIP LOCKED
)
UPDATE jobs SET claimed_by = $4, claimed_until = $5
  FROM picked WHERE jobs.id = picked.id
RETURNING ` + qualified("jobs", jobColumns) + `, coalesce(picked.held_by <> $4, false)` // a claim that ended (done, rescheduled, released) left held_by NULL

// presentSQL reports whether owner ($1) is present: a replica whose
// presence is lost (PostgreSQL restarted) claims nothing until it is back,
// since its claims would look abandoned to the others.
var presentSQL = `SELECT hashtext($1)::oid IN (` + aliveSQL("$2") + `)`

func qualified(table, cols string) string {
	parts := strings.Split(cols, ",")
	for i, p := range parts {
		parts[i] = table + "." + strings.TrimSpace(p)
	}
	return strings.Join(parts, ", ")
}

// Claim claims up to limit due jobs of a queue for owner until now+lease;
// see desk.JobStore. Claimers of a queue take turns (an advisory lock), so
// that two replicas never claim two jobs of one incident at once.
func (s *Store) Claim(ctx context.Context, queue, owner string, now time.Time, limit int, lease time.Duration) ([]desk.Job, error) {
	var lim *int
	if limit > 0 {
		lim = &limit
	}
	s.presence.ensure(ctx, owner)
	var out []desk.Job
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext($2))`, lockClassClaim, queue); err != nil {
			return err
		}
		var present bool
		if err := tx.QueryRow(ctx, presentSQL, owner, lockClassLive).Scan(&present); err != nil || !present {
			return err
		}
		rows, err := tx.Query(ctx, claimSQL, queue, now, lim, owner, now.Add(lease), lockClassLive)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var takenOver bool // the claim replaced another owner's that ran out
			j, err := scanJob(rows, &takenOver)
			if err != nil {
				return err
			}
			j.TakenOver = takenOver
			out = append(out, j)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("pgstore: claim jobs: %w", err)
	}
	sort.Slice(out, func(i, k int) bool {
		if !out[i].DueAt.Equal(out[k].DueAt) {
			return out[i].DueAt.Before(out[k].DueAt)
		}
		return out[i].ID < out[k].ID
	})
	return out, nil
}

// Renew extends owner's claims on ids until until.
func (s *Store) Renew(ctx context.Context, owner string, ids []string, until time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	if _, err := s.pool.Exec(ctx, `UPDATE jobs SET claimed_until = $3 WHERE id = ANY($2) AND claimed_by = $1`, owner, ids, until); err != nil {
		return fmt.Errorf("pgstore: renew claims: %w", err)
	}
	return nil
}

// Release ends owner's claims on ids.
func (s *Store) Release(ctx context.Context, owner string, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	if _, err := s.pool.Exec(ctx, `UPDATE jobs SET claimed_by = NULL, claimed_until = NULL WHERE id = ANY($2) AND claimed_by = $1`, owner, ids); err != nil {
		return fmt.Errorf("pgstore: release claims: %w", err)
	}
	return nil
}

// WithLock runs fn holding the named lock across every replica: a
// transaction-scoped advisory lock, held by a transaction that stays open
// while fn runs (fn's own calls use other connections) and released when
// it ends, also when this process dies.
func (s *Store) WithLock(ctx context.Context, name string, fn func(ctx context.Context) error) error {
	var fnErr error
	ran := false
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext($2))`, lockClassNamed, name); err != nil {
			return fmt.Errorf("pgstore: lock %s: %w", name, err)
		}
		ran, fnErr = true, fn(ctx)
		return nil
	})
	if ran {
		// Ending the lock's transaction cannot undo what fn did.
		return fnErr
	}
	return err
}
