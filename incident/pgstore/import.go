package pgstore

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/incidentbot/incidentbot/incident"
	"github.com/incidentbot/incidentbot/incident/desk"
	"github.com/incidentbot/incidentbot/incident/internal/stored"
)

// Counts are how many of each kind of record the database holds.
type Counts struct {
	Incidents, Events, AlertKeys, IdemKeys, Jobs, DoneJobs, SeenKeys, KV int
}

// countsSQL counts every table the way Counts lists them.
const countsSQL = `SELECT
	(SELECT count(*) FROM incidents), (SELECT count(*) FROM events),
	(SELECT count(*) FROM alert_keys), (SELECT count(*) FROM idem),
	(SELECT count(*) FROM jobs), (SELECT count(*) FROM jobs_done),
	(SELECT count(*) FROM seen), (SELECT count(*) FROM kv)`

func scanCounts(row pgx.Row) (Counts, error) {
	var c Counts
	err := row.Scan(&c.Incidents, &c.Events, &c.AlertKeys, &c.IdemKeys, &c.Jobs, &c.DoneJobs, &c.SeenKeys, &c.KV)
	return c, err
}

// Counts returns how many records of each kind the database holds.
func (s *Store) Counts(ctx context.Context) (Counts, error) {
	c, err := scanCounts(s.pool.QueryRow(ctx, countsSQL))
	if err != nil {
		return c, fmt.Errorf("pgstore: counts: %w", err)
	}
	return c, nil
}

// Importer copies records into the database in one transaction, each
// record as it is (no derived index is recomputed): what is there already
// is left alone, so importing the same records twice changes nothing.
// Commit or Rollback it.
type Importer struct {
	tx pgx.Tx
}

// Import starts an import.
func (s *Store) Import(ctx context.Context) (*Importer, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("pgstore: import: %w", err)
	}
	// One import at a time, and no replica claiming meanwhile.
	if _, err := tx.Exec(ctx, `LOCK TABLE incidents, incident_services, events, alert_keys, idem, jobs, jobs_done, seen, kv, counters IN EXCLUSIVE MODE`); err != nil {
		_ = tx.Rollback(ctx)
		return nil, fmt.Errorf("pgstore: import: %w", err)
	}
	return &Importer{tx: tx}, nil
}

// Incident copies an incident with its timeline.
func (im *Importer) Incident(ctx context.Context, inc *incident.Incident) error {
	hdr, err := stored.MarshalHeader(inc)
	if err != nil {
		return fmt.Errorf("pgstore: import incident %d: %w", inc.Number, err)
	}
	tag, err := im.tx.Exec(ctx, `INSERT INTO incidents (number, service, started_at, open, last_seq, header)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (number) DO NOTHING`,
		inc.Number, serviceKey(inc.Service.Name), inc.StartedAt, isOpen(inc.Events), len(inc.Events), hdr)
	if err != nil {
		return fmt.Errorf("pgstore: import incident %d: %w", inc.Number, err)
	}
	if tag.RowsAffected() == 0 {
		return nil // imported before
	}
	if err := indexServices(ctx, im.tx, inc.Number, append([]string{inc.Service.Name}, attachedServices(inc.Events)...)); err != nil {
		return fmt.Errorf("pgstore: import incident %d: %w", inc.Number, err)
	}
	rows := make([][]any, 0, len(inc.Events))
	for _, e := range inc.Events {
		v, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("pgstore: import incident %d: event %d: %w", inc.Number, e.Seq, err)
		}
		rows = append(rows, []any{inc.Number, e.Seq, string(v)})
	}
	if _, err := im.tx.CopyFrom(ctx, pgx.Identifier{"events"}, []string{"incident", "seq", "data"}, pgx.CopyFromRows(rows)); err != nil {
		return fmt.Errorf("pgstore: import incident %d: events: %w", inc.Number, err)
	}
	return nil
}

func (im *Importer) exec(ctx context.Context, what, q string, args ...any) error {
	if _, err := im.tx.Exec(ctx, q, args...); err != nil {
		return fmt.Errorf("pgstore: import %s: %w", what, err)
	}
	return nil
}

// AlertKey copies an alert key's incident.
func (im *Importer) AlertKey(ctx context.Context, key string, number int64) error {
	return im.exec(ctx, "alert key", `INSERT INTO alert_keys (key, incident) VALUES ($1, $2) ON CONFLICT DO NOTHING`, fromBolt(key), number)
}

// Idem copies an idempotency key's incident.
func (im *Importer) Idem(ctx context.Context, key string, number int64) error {
	return im.exec(ctx, "idempotency key", `INSERT INTO idem (key, incident) VALUES ($1, $2) ON CONFLICT DO NOTHING`, fromBolt(key), number)
}

// Job copies a pending job, unclaimed.
func (im *Importer) Job(ctx context.Context, j desk.Job) error {
	var payload []byte
	if len(j.Payload) > 0 {
		payload = j.Payload
	}
	return im.exec(ctx, "job "+j.ID, `INSERT INTO jobs (`+jobColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING`,
		j.ID, j.Kind, j.Queue, j.Incident, payload, j.DueAt, j.Attempts, j.LastError, j.Coalesce, j.Gen)
}

// Done copies a job tombstone.
func (im *Importer) Done(ctx context.Context, id string, at time.Time) error {
	return im.exec(ctx, "done job", `INSERT INTO jobs_done (id, done_at) VALUES ($1, $2) ON CONFLICT DO NOTHING`, id, at)
}

// Seen copies a dedupe key.
func (im *Importer) Seen(ctx context.Context, namespace, key string, at time.Time) error {
	return im.exec(ctx, "seen key", `INSERT INTO seen (namespace, key, seen_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, indexKey(namespace), fromBolt(key), at)
}

// KV copies adapter state.
func (im *Importer) KV(ctx context.Context, bucket, key string, value []byte) error {
	if value == nil {
		value = []byte{}
	}
	return im.exec(ctx, "adapter state", `INSERT INTO kv (bucket, key, value) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, bucket, key, value)
}

// Counts returns the counts the database will hold once committed.
func (im *Importer) Counts(ctx context.Context) (Counts, error) {
	c, err := scanCounts(im.tx.QueryRow(ctx, countsSQL))
	if err != nil {
		return c, fmt.Errorf("pgstore: import: counts: %w", err)
	}
	return c, nil
}

// Commit makes the import durable; incident numbering goes on after the
// highest imported number.
func (im *Importer) Commit(ctx context.Context) error {
	if err := im.exec(ctx, "numbering", `UPDATE counters SET value = greatest(value, (SELECT coalesce(max(number), 0) FROM incidents)) WHERE name = 'incident'`); err != nil {
		return err
	}
	if err := im.tx.Commit(ctx); err != nil {
		return fmt.Errorf("pgstore: import: commit: %w", err)
	}
	return nil
}

// Rollback abandons the import.
func (im *Importer) Rollback(ctx context.Context) error { return im.tx.Rollback(ctx) }

// Backup is not offered on PostgreSQL: back up the database with its own
// tools (pg_dump, or the provider's snapshots).
func (s *Store) Backup(io.Writer) (int64, error) {
	return 0, incident.Errorf(incident.EINVALID, "With storage.driver postgres, back up the database with pg_dump or your provider's snapshots.")
}
