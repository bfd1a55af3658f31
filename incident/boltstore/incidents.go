package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/incidentbot/incidentbot/incident"
	"github.com/incidentbot/incidentbot/incident/desk"
	"github.com/incidentbot/incidentbot/incident/internal/stored"
)

// Create numbers a new incident and stores it. In one transaction it takes
// the next incident number (1, 2, 3…), calls fn with it, stores the header
// and events fn returns, indexes them and enqueues the jobs (idempotently, see
// Enqueue). If fn fails, nothing is stored, the number is not used, and fn's
// error is returned as is.
//
// fn runs inside the write transaction: keep it fast and do not call the
// Store from it.
func (s *Store) Create(ctx context.Context, fn func(number int64) (*incident.Incident, []desk.Job, error)) (*incident.Incident, error) {
	var out *incident.Incident
	var number int64
	err := s.update(ctx, func(tx *bolt.Tx) error {
		seq, err := tx.Bucket(bIncidents).NextSequence()
		if err != nil {
			return fmt.Errorf("boltstore: create incident: next number: %w", err)
		}
		number = int64(seq)
		inc, jobs, err := fn(number)
		if err != nil {
			return err // the caller's own error, unwrapped
		}
		if err := stored.CheckNew(number, inc); err != nil {
			return fmt.Errorf("boltstore: create incident %d: %w", number, err)
		}
		hdr, err := stored.MarshalHeader(inc)
		if err != nil {
			return fmt.Errorf("boltstore: create incident %d: encode header: %w", number, err)
		}
		key := be64(uint64(number))
		if err := tx.Bucket(bIncidents).Put(key, hdr); err != nil {
			return fmt.Errorf("boltstore: create incident %d: %w", number, err)
		}
		if _, err := tx.Bucket(bEvents).CreateBucket(key); err != nil {
			return fmt.Errorf("boltstore: create incident %d: events bucket: %w", number, err)
		}
		if err := putEvents(tx, number, inc.Events); err != nil {
			return fmt.Errorf("boltstore: create incident %d: %w", number, err)
		}
		if err := tx.Bucket(bByService).Put(serviceKey(inc.Service.Name, number), empty); err != nil {
			return fmt.Errorf("boltstore: create incident %d: index service: %w", number, err)
		}
		if err := indexTimeline(tx, number, inc.Events, inc.Events); err != nil {
			return fmt.Errorf("boltstore: create incident %d: %w", number, err)
		}
		for i := range jobs {
			if jobs[i].Incident == 0 {
				jobs[i].Incident = number
			}
		}
		if _, err := s.enqueueTx(tx, jobs); err != nil {
			return fmt.Errorf("boltstore: create incident %d: %w", number, err)
		}
		out = inc
		tx.OnCommit(func() { s.cache.Extend(number, inc.Events) })
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.log.Debug("incident created", "number", number, "events", len(out.Events))
	return out, nil
}

// errNoChange makes update roll back a transaction that changed nothing, so
// that a no-op (say, a redelivered event dropped by its Idem key) costs no
// fsync.
var errNoChange = errors.New("no change")

// Update loads incident number with its full timeline and calls fn, which
// appends events with inc.Append. In one transaction it then stores the new
// events (those with a Seq above the previous last one), stores again the
// earlier events a new event erased (incident.Event.Erases: a message
// deletion erases the message's text), updates the indexes and enqueues the
// jobs fn returns. After an erasure it zeroes the file's free pages before
// returning (see Scrub). If fn fails, nothing changes and fn's
// error is returned as is. An unknown number gives an incident.ENOTFOUND
// error. The header is immutable: fn must record changes as events.
//
// fn runs inside the write transaction: keep it fast and do not call the
// Store from it. Update does not use DB.Batch, so fn runs exactly once.
func (s *Store) Update(ctx context.Context, number int64, fn func(inc *incident.Incident) ([]desk.Job, error)) (*incident.Incident, error) {
	return s.UpdateRecords(ctx, number, func(inc *incident.Incident, _ desk.Records) ([]desk.Job, error) { return fn(inc) })
}

// UpdateRecords is Update whose fn may also read and write adapter-state
// buckets (the incident's review and actions) in the same transaction.
func (s *Store) UpdateRecords(ctx context.Context, number int64, fn func(inc *incident.Incident, recs desk.Records) ([]desk.Job, error)) (*incident.Incident, error) {
	var out *incident.Incident
	var added int
	borrowed, erased := false, false
	err := s.update(ctx, func(tx *bolt.Tx) error {
		inc, b, err := s.loadForWrite(tx, number)
		borrowed = b
		if err != nil {
			return fmt.Errorf("boltstore: update incident %d: %w", number, err)
		}
		// Compare headers as this version encodes them, so that a field added
		// to incident.Incident since the header was stored is no change.
		hdr, err := stored.MarshalHeader(inc)
		if err != nil {
			return fmt.Errorf("boltstore: update incident %d: encode header: %w", number, err)
		}
		prevLen := len(inc.Events)
		prevSeq := 0
		if prevLen > 0 {
			prevSeq = inc.Events[prevLen-1].Seq
		}
		recs := &txRecords{tx: tx}
		jobs, err := fn(inc, recs)
		if err != nil {
			return err // the caller's own error, unwrapped
		}
		// Only appending is allowed.
		if err := stored.CheckAppend(inc, hdr, prevLen, prevSeq); err != nil {
			return fmt.Errorf("boltstore: update incident %d: %w", number, err)
		}
		newEvents := inc.Events[prevLen:]
		if err := putEvents(tx, number, newEvents); err != nil {
			return fmt.Errorf("boltstore: update incident %d: %w", number, err)
		}
		if erased, err = rewriteErased(tx, number, inc.Events, newEvents); err != nil {
			return fmt.Errorf("boltstore: update incident %d: %w", number, err)
		}
		if err := indexTimeline(tx, number, inc.Events, newEvents); err != nil {
			return fmt.Errorf("boltstore: update incident %d: %w", number, err)
		}
		n, err := s.enqueueTx(tx, jobs)
		if err != nil {
			return fmt.Errorf("boltstore: update incident %d: %w", number, err)
		}
		out, added = inc, len(newEvents)
		if added == 0 && n == 0 && !recs.dirty {
			return errNoChange
		}
		if erased {
			tx.OnCommit(func() { s.cache.Erased(number, inc.Events) })
		} else {
			tx.OnCommit(func() { s.cache.Adopt(number, inc.Events) })
		}
		return nil
	})
	if errors.Is(err, errNoChange) {
		err = nil // nothing was appended: the borrowed timeline is as cached
	}
	if err != nil {
		if borrowed {
			s.cache.Drop(number) // rolled back: it may hold what was not stored
		}
		return nil, err
	}
	if erased {
		s.scrubAfterErasure()
	}
	s.log.Debug("incident updated", "number", number, "new_events", added)
	// The caller reads; its appends must not reach the cached array.
	out.Events = out.Events[:len(out.Events):len(out.Events)]
	return out, nil
}

// loadForWrite reads an incident for the write transaction, with the
// cached timeline itself when it is cached (borrowed reports so).
func (s *Store) loadForWrite(tx *bolt.Tx, number int64) (*incident.Incident, bool, error) {
	inc, err := loadHeader(tx, number)
	if err != nil {
		return nil, false, err
	}
	b := tx.Bucket(bEvents).Bucket(be64(uint64(number)))
	if b == nil {
		return nil, false, fmt.Errorf("events of incident %d are missing", number)
	}
	last := 0
	if k, _ := b.Cursor().Last(); len(k) == 8 {
		last = int(binary.BigEndian.Uint64(k))
	}
	if evs, ok := s.cache.Borrow(number, last); ok {
		inc.Events = evs
		return inc, true, nil
	}
	inc.Events, err = decodeEvents(b, number, last)
	return inc, false, err
}

// rewriteErased stores again the earlier events whose text a new message
// deletion erased (the seqs in its Erases), so that the text leaves the
// events bucket in the transaction that records the deletion, and marks the
// file's free pages for zeroing (the pages that held the text are free once
// this commits). It reports whether it rewrote anything.
func rewriteErased(tx *bolt.Tx, number int64, all, added []incident.Event) (bool, error) {
	b := tx.Bucket(bEvents).Bucket(be64(uint64(number)))
	erased, err := stored.RewriteErased(all, added, func(seq int, data []byte) error {
		return b.Put(be64(uint64(seq)), data)
	})
	if err != nil {
		return false, err
	}
	if erased {
		if err := tx.Bucket(bMeta).Put(kScrubDue, empty); err != nil {
			return false, fmt.Errorf("mark free pages for zeroing: %w", err)
		}
	}
	return erased, nil
}

// Get returns incident number with its full timeline, or an
// incident.ENOTFOUND error.
func (s *Store) Get(ctx context.Context, number int64) (*incident.Incident, error) {
	var inc *incident.Incident
	err := s.view(ctx, func(tx *bolt.Tx) error {
		var err error
		inc, err = s.loadIncident(tx, number)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("boltstore: get incident %d: %w", number, err)
	}
	return inc, nil
}

// List returns the incidents matching f, newest (highest number) first, each
// with its full timeline.
func (s *Store) List(ctx context.Context, f desk.Filter) ([]*incident.Incident, error) {
	var out []*incident.Incident
	err := s.view(ctx, func(tx *bolt.Tx) error {
		open := tx.Bucket(bOpen)
		visit := func(number int64) (bool, error) {
			if f.OpenOnly && open.Get(be64(uint64(number))) == nil {
				return true, nil
			}
			inc, err := loadHeader(tx, number)
			if err != nil {
				return false, err
			}
			if !f.Since.IsZero() && inc.StartedAt.Before(f.Since) {
				return true, nil
			}
			if inc.Events, err = s.loadEvents(tx, number); err != nil {
				return false, err
			}
			out = append(out, inc)
			return f.Limit <= 0 || len(out) < f.Limit, nil
		}
		switch {
		case f.Service != "":
			return eachByService(tx, f.Service, f.Before, visit)
		case f.OpenOnly:
			return eachNumber(open.Cursor(), f.Before, visit)
		default:
			return eachNumber(tx.Bucket(bIncidents).Cursor(), f.Before, visit)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("boltstore: list incidents: %w", err)
	}
	return out, nil
}

// CountOpen returns how many incidents are open, without decoding any.
func (s *Store) CountOpen(ctx context.Context) (int, error) {
	var n int
	err := s.view(ctx, func(tx *bolt.Tx) error {
		c := tx.Bucket(bOpen).Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			n++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("boltstore: count open incidents: %w", err)
	}
	return n, nil
}

// OpenByService returns the open incidents of a service (case-insensitive),
// newest first.
func (s *Store) OpenByService(ctx context.Context, service string) ([]*incident.Incident, error) {
	out, err := s.List(ctx, desk.Filter{OpenOnly: true, Service: service})
	if err != nil {
		return nil, fmt.Errorf("boltstore: open incidents of %q: %w", service, err)
	}
	return out, nil
}

// ByAlertKey returns the incident an alert key (Alertmanager groupKey,
// PagerDuty incident id: the Key of an alert_fired event) is attached to.
// A key stays with the first incident it fired on while that incident is
// open; once that incident is resolved, the next incident the key fires on
// takes it over.
// ByIdem returns the incident whose timeline holds an event with the
// idempotency key: the first incident created by a redelivered declaration.
func (s *Store) ByIdem(ctx context.Context, key string) (int64, bool, error) {
	var n int64
	var ok bool
	err := s.view(ctx, func(tx *bolt.Tx) error {
		if v := getIndexed(tx.Bucket(bIdem), key); len(v) == 8 {
			n, ok = int64(binary.BigEndian.Uint64(v)), true
		}
		return nil
	})
	if err != nil {
		return 0, false, fmt.Errorf("boltstore: idempotency key %q: %w", clipKey(key), err)
	}
	return n, ok, nil
}

func (s *Store) ByAlertKey(ctx context.Context, key string) (int64, bool, error) {
	var n int64
	var ok bool
	err := s.view(ctx, func(tx *bolt.Tx) error {
		if v := getIndexed(tx.Bucket(bAlertKeys), key); len(v) == 8 {
			n, ok = int64(binary.BigEndian.Uint64(v)), true
		}
		return nil
	})
	if err != nil {
		return 0, false, fmt.Errorf("boltstore: alert key %q: %w", clipKey(key), err)
	}
	return n, ok, nil
}

// eachNumber walks a bucket keyed by be64(number) from the newest.
func eachNumber(c *bolt.Cursor, before int64, visit func(int64) (bool, error)) error {
	for k := lastBelow(c, nil, before); k != nil; k, _ = c.Prev() {
		if len(k) != 8 {
			continue
		}
		more, err := visit(int64(binary.BigEndian.Uint64(k)))
		if err != nil || !more {
			return err
		}
	}
	return nil
}

// lastBelow positions c on the last key below prefix + be64(before) (below
// every key of the prefix when before is 0, that is past its end) and
// returns it.
func lastBelow(c *bolt.Cursor, prefix []byte, before int64) []byte {
	end := append(clone(prefix), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)
	if before > 0 {
		end = append(clone(prefix), be64(uint64(before))...)
	}
	if k, _ := c.Seek(end); k == nil {
		k, _ = c.Last()
		return k
	}
	k, _ := c.Prev()
	return k
}

// eachByService walks a service's incidents from the newest (below before,
// when it is not 0).
func eachByService(tx *bolt.Tx, service string, before int64, visit func(int64) (bool, error)) error {
	prefix := serviceKey(service, 0)
	prefix = prefix[:len(prefix)-8]
	c := tx.Bucket(bByService).Cursor()
	for k := lastBelow(c, prefix, before); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Prev() {
		if len(k) != len(prefix)+8 {
			continue // a longer service name that happens to share the prefix
		}
		more, err := visit(int64(binary.BigEndian.Uint64(k[len(prefix):])))
		if err != nil || !more {
			return err
		}
	}
	return nil
}

// serviceKey is the by_service key: the lower-cased service name (see
// indexKey), 0x00, and the number.
func serviceKey(service string, number int64) []byte {
	name := indexKey(strings.ToLower(service))
	k := make([]byte, 0, len(name)+9)
	k = append(k, name...)
	k = append(k, 0)
	return append(k, be64(uint64(number))...)
}

func notFound(number int64) error {
	return incident.Errorf(incident.ENOTFOUND, "There is no incident #%d.", number)
}

// loadHeader reads an incident's header (no events).
func loadHeader(tx *bolt.Tx, number int64) (*incident.Incident, error) {
	v := tx.Bucket(bIncidents).Get(be64(uint64(number)))
	if v == nil {
		return nil, notFound(number)
	}
	inc := new(incident.Incident)
	if err := json.Unmarshal(v, inc); err != nil {
		return nil, fmt.Errorf("decode header: %w", err)
	}
	return inc, nil
}

// loadIncident reads an incident with its timeline.
func (s *Store) loadIncident(tx *bolt.Tx, number int64) (*incident.Incident, error) {
	inc, err := loadHeader(tx, number)
	if err != nil {
		return nil, err
	}
	if inc.Events, err = s.loadEvents(tx, number); err != nil {
		return nil, err
	}
	return inc, nil
}

// loadEvents reads an incident's timeline, from the cache when it holds the
// timeline as stored.
func (s *Store) loadEvents(tx *bolt.Tx, number int64) ([]incident.Event, error) {
	b := tx.Bucket(bEvents).Bucket(be64(uint64(number)))
	if b == nil {
		return nil, fmt.Errorf("events of incident %d are missing", number)
	}
	last := 0
	if k, _ := b.Cursor().Last(); len(k) == 8 {
		last = int(binary.BigEndian.Uint64(k))
	}
	if evs, ok := s.cache.Get(number, last); ok {
		return evs, nil
	}
	evs, err := decodeEvents(b, number, last)
	if err != nil {
		return nil, err
	}
	if !tx.Writable() {
		// A writer caches the timeline it leaves, once it has committed.
		s.cache.Extend(number, evs)
	}
	return evs, nil
}

// decodeEvents decodes a timeline bucket; last is its last seq, which
// (seqs being 1..n) sizes the timeline.
func decodeEvents(b *bolt.Bucket, number int64, last int) ([]incident.Event, error) {
	evs := make([]incident.Event, 0, min(last, 1<<20)+8)
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		var e incident.Event
		if err := json.Unmarshal(v, &e); err != nil {
			return nil, fmt.Errorf("decode event %x of incident %d: %w", k, number, err)
		}
		evs = append(evs, e)
	}
	return evs, nil
}

func putEvents(tx *bolt.Tx, number int64, evs []incident.Event) error {
	if len(evs) == 0 {
		return nil
	}
	b := tx.Bucket(bEvents).Bucket(be64(uint64(number)))
	if b == nil {
		return fmt.Errorf("events of incident %d are missing", number)
	}
	// Appending in key order lets bbolt fill pages completely.
	b.FillPercent = 0.9
	for _, e := range evs {
		v, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("encode event %d: %w", e.Seq, err)
		}
		if err := b.Put(be64(uint64(e.Seq)), v); err != nil {
			return fmt.Errorf("store event %d: %w", e.Seq, err)
		}
	}
	return nil
}

// isOpen says whether a timeline is open (incident.Open): it is unless its
// last resolution, reopening or merge is a resolution or a merge into
// another incident.
func isOpen(evs []incident.Event) bool { return incident.Open(evs) }

// indexTimeline updates the open set from the whole timeline and the alert
// keys from the new events.
func indexTimeline(tx *bolt.Tx, number int64, all, added []incident.Event) error {
	// Only a resolution, a reopening or a merge into another incident (or
	// a new timeline) changes whether it is open: a chat message does not
	// rescan a long timeline.
	if changesStatus(added) || len(all) == len(added) {
		if err := indexOpen(tx, number, isOpen(all)); err != nil {
			return err
		}
	}
	return indexKeys(tx, number, added)
}

func changesStatus(added []incident.Event) bool {
	for _, e := range added {
		if e.Kind == incident.EventResolved || e.Kind == incident.EventReopened || e.Kind == incident.EventMergedInto {
			return true
		}
	}
	return false
}

func indexOpen(tx *bolt.Tx, number int64, isOpen bool) error {
	key, open := be64(uint64(number)), tx.Bucket(bOpen)
	switch {
	case isOpen && open.Get(key) == nil:
		if err := open.Put(key, empty); err != nil {
			return fmt.Errorf("index open: %w", err)
		}
	case !isOpen && open.Get(key) != nil:
		if err := open.Delete(key); err != nil {
			return fmt.Errorf("index open: %w", err)
		}
	}
	return nil
}

// indexKeys indexes the idempotency and alert keys of new events.
func indexKeys(tx *bolt.Tx, number int64, added []incident.Event) error {
	key, open := be64(uint64(number)), tx.Bucket(bOpen)
	idem := tx.Bucket(bIdem)
	for _, e := range added {
		if e.Idem != "" && getIndexed(idem, e.Idem) == nil {
			if err := idem.Put(indexKey(e.Idem), key); err != nil {
				return fmt.Errorf("index idempotency key: %w", err)
			}
		}
	}
	// Services attached to the incident (affected, or with an incident
	// merged in, also those its own events attached) are found by service
	// too.
	services := tx.Bucket(bByService)
	for _, e := range added {
		name := ""
		switch {
		case e.Kind == incident.EventServiceAffected && e.Entry != nil:
			name = e.Entry.Name
		case e.Kind == incident.EventMerged && e.Merged != nil:
			name = e.Merged.Service.Name
		}
		if name != "" {
			if err := services.Put(serviceKey(name, number), empty); err != nil {
				return fmt.Errorf("index service: %w", err)
			}
		}
	}
	keys := tx.Bucket(bAlertKeys)
	for _, e := range added {
		if e.Kind != incident.EventAlertFired || e.Key == "" {
			continue
		}
		cur := getIndexed(keys, e.Key)
		if len(cur) == 8 {
			owner := binary.BigEndian.Uint64(cur)
			// Keep the first mapping while its incident is open.
			if int64(owner) == number || open.Get(cur) != nil {
				continue
			}
		}
		if err := keys.Put(indexKey(e.Key), key); err != nil {
			return fmt.Errorf("index alert key %q: %w", clipKey(e.Key), err)
		}
	}
	return nil
}
