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
	"github.com/incidentbot/incidentbot/incident/internal/stored"
)

// Create numbers a new incident and stores it with its jobs, in one
// transaction; see desk.Store. The number comes from a counter row whose
// lock serialises creations across replicas; a failed fn rolls it back, so
// numbers have no gaps.
func (s *Store) Create(ctx context.Context, fn func(number int64) (*incident.Incident, []desk.Job, error)) (*incident.Incident, error) {
	var out *incident.Incident
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var number int64
		if err := tx.QueryRow(ctx, `UPDATE counters SET value = value + 1 WHERE name = 'incident' RETURNING value`).Scan(&number); err != nil {
			return fmt.Errorf("pgstore: create incident: next number: %w", err)
		}
		inc, jobs, err := fn(number)
		if err != nil {
			return err // the caller's own error, unwrapped
		}
		if err := stored.CheckNew(number, inc); err != nil {
			return fmt.Errorf("pgstore: create incident %d: %w", number, err)
		}
		if err := insertIncident(ctx, tx, inc); err != nil {
			return fmt.Errorf("pgstore: create incident %d: %w", number, err)
		}
		for i := range jobs {
			if jobs[i].Incident == 0 {
				jobs[i].Incident = number
			}
		}
		if _, err := s.enqueueTx(ctx, tx, jobs); err != nil {
			return fmt.Errorf("pgstore: create incident %d: %w", number, err)
		}
		out = inc
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.cache.Put(out.Number, out.Events)
	return out, nil
}

// insertIncident stores a new incident: header, events, indexes.
func insertIncident(ctx context.Context, tx pgx.Tx, inc *incident.Incident) error {
	hdr, err := stored.MarshalHeader(inc)
	if err != nil {
		return fmt.Errorf("encode header: %w", err)
	}
	_, err = tx.Exec(ctx, `INSERT INTO incidents (number, service, started_at, open, last_seq, header) VALUES ($1, $2, $3, $4, $5, $6)`,
		inc.Number, serviceKey(inc.Service.Name), inc.StartedAt, isOpen(inc.Events), len(inc.Events), hdr)
	if err != nil {
		return err
	}
	if err := indexServices(ctx, tx, inc.Number, []string{inc.Service.Name}); err != nil {
		return err
	}
	return appendEvents(ctx, tx, inc.Number, inc.Events)
}

// Update appends to an incident's timeline and enqueues jobs in one
// transaction; see desk.Store. The incident's row is locked for the
// transaction, so concurrent updates (from any replica) take turns.
func (s *Store) Update(ctx context.Context, number int64, fn func(inc *incident.Incident) ([]desk.Job, error)) (*incident.Incident, error) {
	return s.UpdateRecords(ctx, number, func(inc *incident.Incident, _ desk.Records) ([]desk.Job, error) { return fn(inc) })
}

// UpdateRecords is Update whose fn may also read and write adapter-state
// buckets (the incident's review and actions) in the same transaction,
// under the incident's row lock.
func (s *Store) UpdateRecords(ctx context.Context, number int64, fn func(inc *incident.Incident, recs desk.Records) ([]desk.Job, error)) (*incident.Incident, error) {
	var out *incident.Incident
	err := s.tx(ctx, func(tx pgx.Tx) error {
		inc, err := s.loadIncident(ctx, tx, number, true)
		if err != nil {
			return fmt.Errorf("pgstore: update incident %d: %w", number, err)
		}
		hdr, err := stored.MarshalHeader(inc)
		if err != nil {
			return fmt.Errorf("pgstore: update incident %d: encode header: %w", number, err)
		}
		prevLen := len(inc.Events)
		recs := &txRecords{ctx: ctx, tx: tx}
		jobs, err := fn(inc, recs)
		if err != nil {
			return err // the caller's own error, unwrapped
		}
		if err := stored.CheckAppend(inc, hdr, prevLen, prevLen); err != nil {
			return fmt.Errorf("pgstore: update incident %d: %w", number, err)
		}
		added := inc.Events[prevLen:]
		if len(added) > 0 {
			if err := appendEvents(ctx, tx, number, added); err != nil {
				return fmt.Errorf("pgstore: update incident %d: %w", number, err)
			}
			if err := rewriteErased(ctx, tx, number, inc.Events, added); err != nil {
				return fmt.Errorf("pgstore: update incident %d: %w", number, err)
			}
			if _, err := tx.Exec(ctx, `UPDATE incidents SET open = $2, last_seq = $3 WHERE number = $1`, number, isOpen(inc.Events), len(inc.Events)); err != nil {
				return fmt.Errorf("pgstore: update incident %d: %w", number, err)
			}
		}
		n, err := s.enqueueTx(ctx, tx, jobs)
		if err != nil {
			return fmt.Errorf("pgstore: update incident %d: %w", number, err)
		}
		out = inc
		if len(added) == 0 && n == 0 && !recs.dirty {
			return errNoChange
		}
		return nil
	})
	if errors.Is(err, errNoChange) {
		err = nil
	}
	if err != nil {
		return nil, err
	}
	s.cache.Put(number, out.Events)
	return out, nil
}

// rewriteErased stores again the earlier events whose text a new message
// deletion erased (the seqs in its Erases), so that the text leaves the
// events table in the transaction that records the deletion. (PostgreSQL
// keeps the old row version until VACUUM reclaims it.)
func rewriteErased(ctx context.Context, tx pgx.Tx, number int64, all, added []incident.Event) error {
	_, err := stored.RewriteErased(all, added, func(seq int, data []byte) error {
		_, err := tx.Exec(ctx, `UPDATE events SET data = $3 WHERE incident = $1 AND seq = $2`, number, seq, data)
		return err
	})
	return err
}

// appendEvents stores events and indexes their idempotency and alert keys.
func appendEvents(ctx context.Context, tx pgx.Tx, number int64, evs []incident.Event) error {
	if len(evs) == 0 {
		return nil
	}
	var b pgx.Batch
	for _, e := range evs {
		v, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("encode event %d: %w", e.Seq, err)
		}
		b.Queue(`INSERT INTO events (incident, seq, data) VALUES ($1, $2, $3)`, number, e.Seq, v)
		if e.Idem != "" {
			b.Queue(`INSERT INTO idem (key, incident) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING`, indexKey(e.Idem), number)
		}
		if e.Kind == incident.EventAlertFired && e.Key != "" {
			// A key stays with its incident while that is open; then the
			// next incident it fires on takes it over.
			b.Queue(`INSERT INTO alert_keys (key, incident) VALUES ($1, $2)
				ON CONFLICT (key) DO UPDATE SET incident = excluded.incident
				WHERE alert_keys.incident <> excluded.incident
				  AND NOT EXISTS (SELECT 1 FROM incidents i WHERE i.number = alert_keys.incident AND i.open AND i.number <> excluded.incident)`,
				indexKey(e.Key), number)
		}
	}
	if err := tx.SendBatch(ctx, &b).Close(); err != nil {
		return fmt.Errorf("store events: %w", err)
	}
	return indexServices(ctx, tx, number, attachedServices(evs))
}

// isOpen says whether a timeline is open (incident.Open).
func isOpen(evs []incident.Event) bool { return incident.Open(evs) }

// attachedServices lists the services events attach to their incident
// besides its primary one: affected services, and the primary services of
// incidents merged in.
func attachedServices(evs []incident.Event) []string {
	var out []string
	for _, e := range evs {
		switch {
		case e.Kind == incident.EventServiceAffected && e.Entry != nil:
			out = append(out, e.Entry.Name)
		case e.Kind == incident.EventMerged && e.Merged != nil:
			out = append(out, e.Merged.Service.Name)
		}
	}
	return out
}

// indexServices records the services an incident is found by.
func indexServices(ctx context.Context, tx pgx.Tx, number int64, names []string) error {
	var b pgx.Batch
	for _, name := range names {
		if name != "" {
			b.Queue(`INSERT INTO incident_services (service, incident) VALUES ($1, $2) ON CONFLICT DO NOTHING`, serviceKey(name), number)
		}
	}
	if b.Len() == 0 {
		return nil
	}
	if err := tx.SendBatch(ctx, &b).Close(); err != nil {
		return fmt.Errorf("index services: %w", err)
	}
	return nil
}

func notFound(number int64) error {
	return incident.Errorf(incident.ENOTFOUND, "There is no incident #%d.", number)
}

// loadIncident reads an incident with its timeline; forUpdate locks its row.
func (s *Store) loadIncident(ctx context.Context, tx pgx.Tx, number int64, forUpdate bool) (*incident.Incident, error) {
	q := `SELECT header, last_seq FROM incidents WHERE number = $1`
	if forUpdate {
		q += ` FOR UPDATE`
	}
	var hdr []byte
	var last int
	if err := tx.QueryRow(ctx, q, number).Scan(&hdr, &last); errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound(number)
	} else if err != nil {
		return nil, err
	}
	inc := new(incident.Incident)
	if err := json.Unmarshal(hdr, inc); err != nil {
		return nil, fmt.Errorf("decode header: %w", err)
	}
	evs, err := s.loadEvents(ctx, tx, map[int64]int{number: last})
	if err != nil {
		return nil, err
	}
	inc.Events = evs[number]
	return inc, nil
}

// loadEvents reads the timelines of incidents (number → last seq), from
// the cache where it holds them as stored.
func (s *Store) loadEvents(ctx context.Context, tx pgx.Tx, last map[int64]int) (map[int64][]incident.Event, error) {
	out := make(map[int64][]incident.Event, len(last))
	var missing []int64
	for n, seq := range last {
		if evs, ok := s.cache.Get(n, seq); ok {
			out[n] = evs
		} else {
			missing = append(missing, n)
		}
	}
	if len(missing) == 0 {
		return out, nil
	}
	rows, err := tx.Query(ctx, `SELECT incident, data FROM events WHERE incident = ANY($1) ORDER BY incident, seq`, missing)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var n int64
	var data []byte
	for rows.Next() {
		if err := rows.Scan(&n, &data); err != nil {
			return nil, err
		}
		var e incident.Event
		if err := json.Unmarshal(data, &e); err != nil {
			return nil, fmt.Errorf("decode event of incident %d: %w", n, err)
		}
		out[n] = append(out[n], e)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	// What was read is committed (Update reads before it writes, with
	// the incident's row locked), so it may be cached.
	for _, n := range missing {
		s.cache.Put(n, out[n])
	}
	return out, nil
}

// Get returns incident number with its full timeline, or an
// incident.ENOTFOUND error.
func (s *Store) Get(ctx context.Context, number int64) (*incident.Incident, error) {
	var inc *incident.Incident
	err := s.snapshot(ctx, func(tx pgx.Tx) error {
		var err error
		inc, err = s.loadIncident(ctx, tx, number, false)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("pgstore: get incident %d: %w", number, err)
	}
	return inc, nil
}

// List returns the incidents matching f, newest first, with their timelines.
func (s *Store) List(ctx context.Context, f desk.Filter) ([]*incident.Incident, error) {
	var out []*incident.Incident
	err := s.snapshot(ctx, func(tx pgx.Tx) error {
		var since *time.Time
		if !f.Since.IsZero() {
			since = &f.Since
		}
		var limit *int
		if f.Limit > 0 {
			limit = &f.Limit
		}
		rows, err := tx.Query(ctx, `SELECT number, header, last_seq FROM incidents
			WHERE (NOT $1 OR open)
			  AND ($2 = '' OR number IN (SELECT incident FROM incident_services WHERE service = $2))
			  AND ($3::timestamptz IS NULL OR started_at >= $3)
			  AND ($5 = 0 OR number < $5)
			ORDER BY number DESC LIMIT $4`, f.OpenOnly, serviceKey(f.Service), since, limit, f.Before)
		if err != nil {
			return err
		}
		last := map[int64]int{}
		for rows.Next() {
			var n int64
			var hdr []byte
			var seq int
			if err := rows.Scan(&n, &hdr, &seq); err != nil {
				return err
			}
			inc := new(incident.Incident)
			if err := json.Unmarshal(hdr, inc); err != nil {
				return fmt.Errorf("decode header of incident %d: %w", n, err)
			}
			out, last[n] = append(out, inc), seq
		}
		if err := rows.Err(); err != nil {
			return err
		}
		evs, err := s.loadEvents(ctx, tx, last)
		if err != nil {
			return err
		}
		for _, inc := range out {
			inc.Events = evs[inc.Number]
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("pgstore: list incidents: %w", err)
	}
	return out, nil
}

// OpenByService returns the open incidents of a service (case-insensitive),
// newest first.
func (s *Store) OpenByService(ctx context.Context, service string) ([]*incident.Incident, error) {
	return s.List(ctx, desk.Filter{OpenOnly: true, Service: service})
}

// CountOpen returns how many incidents are open.
func (s *Store) CountOpen(ctx context.Context) (int, error) {
	var n int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM incidents WHERE open`).Scan(&n); err != nil {
		return 0, fmt.Errorf("pgstore: count open incidents: %w", err)
	}
	return n, nil
}

// ByAlertKey returns the incident an alert key is attached to.
func (s *Store) ByAlertKey(ctx context.Context, key string) (int64, bool, error) {
	return s.lookup(ctx, `SELECT incident FROM alert_keys WHERE key = $1`, key, "alert key")
}

// ByIdem returns the incident whose timeline holds an event with the
// idempotency key.
func (s *Store) ByIdem(ctx context.Context, key string) (int64, bool, error) {
	return s.lookup(ctx, `SELECT incident FROM idem WHERE key = $1`, key, "idempotency key")
}

func (s *Store) lookup(ctx context.Context, q, key, what string) (int64, bool, error) {
	var n int64
	err := s.pool.QueryRow(ctx, q, indexKey(key)).Scan(&n)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("pgstore: %s %q: %w", what, clipKey(key), err)
	}
	return n, true, nil
}

// serviceKey is the stored form of a service name: lower-cased, hashed
// when long.
func serviceKey(name string) string {
	if name == "" {
		return ""
	}
	return indexKey(strings.ToLower(name))
}
