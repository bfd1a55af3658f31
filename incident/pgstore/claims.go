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
// incident lane that has no claimed job, and every job of no incident that
// nobody holds. Rows another transaction is writing are skipped, not
// waited for.
var claimSQL = `WITH busy AS (
	SELECT DISTINCT incident FROM jobs
	 WHERE queue = $1 AND incident <> 0 AND claimed_until > $2
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
	   AND (claimed_until IS NULL OR claimed_until <= $2)
), picked AS (
	SELECT j.id FROM jobs j JOIN candidates c ON c.id = j.id
	 ORDER BY j.due_at, j.id
	 LIMIT $3
	 FOR UPDATE OF j SKIP LOCKED
)
UPDATE jobs SET claimed_by = $4, claimed_until = $5
  FROM picked WHERE jobs.id = picked.id
RETURNING ` + qualified("jobs", jobColumns)

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
	var out []desk.Job
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext($2))`, lockClassClaim, queue); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, claimSQL, queue, now, lim, owner, now.Add(lease))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			j, err := scanJob(rows)
			if err != nil {
				return err
			}
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
