// Package reviewstore keeps post-incident reviews, their improvement actions
// and their readers in the bot's key-value store (the adapter-state buckets
// of the store), and computes the measures from them; reads decode fresh
// copies.
//
// Every write happens in the transaction of the review's incident
// (desk.Records), so a review, its actions, the timeline events that record
// what happened to them and the jobs they cause are stored together.
//
// Layout:
//
//	reviews              incident number → Record (a review.Review in JSON,
//	                     plus the idempotency keys applied)
//	actions              action ID ("42-1") → review.Action, a mirror of the
//	                     actions held by the reviews, written before the review
//	review_readers       "<number>/<reader>" → RFC 3339 time of the first read
//	review_reader_counts incident number → its number of unique readers
//	review_keys          "secret" → the database's secret (hex), made once;
//	                     preview links and reader cookies are signed with keys
//	                     derived from it
//
// The reviews bucket is the source of truth for reviews and actions;
// readers live in their own bucket so that counting a reader never races
// with an edit of the review, and each review's count in a counter so that
// showing a review reads one key, however many people read it.
package reviewstore

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/incidentbot/incidentbot/incident"
	"github.com/incidentbot/incidentbot/incident/desk"
	"github.com/incidentbot/incidentbot/review"
)

// Bucket names.
const (
	BucketReviews = "reviews"
	BucketActions = "actions"
	BucketReaders = "review_readers"
)

// KV is the key-value part of storage; *boltstore.Store satisfies it.
type KV interface {
	Put(ctx context.Context, bucket, key string, value []byte) error
	GetKV(ctx context.Context, bucket, key string) ([]byte, bool, error)
	Scan(ctx context.Context, bucket, prefix string, fn func(key string, value []byte) error) error
}

// Record is a stored review: the review itself, with what only the server
// needs. Its JSON is a review.Review's with one more field. (Records of
// earlier versions also held a random preview token; it is ignored: preview
// links are signed, see PreviewToken.)
type Record struct {
	review.Review
	// Applied are the idempotency keys (job IDs) of the operations already
	// applied to the record, newest last, so that a retried job changes
	// nothing twice.
	Applied []string `json:"applied,omitempty"`
}

// maxApplied bounds Applied: retries come soon after the first attempt.
const maxApplied = 200

// HasApplied reports whether the operation with idempotency key k was
// applied.
func (r *Record) HasApplied(k string) bool {
	if k == "" {
		return false
	}
	for _, a := range r.Applied {
		if a == k {
			return true
		}
	}
	return false
}

// MarkApplied records that the operation with key k was applied.
func (r *Record) MarkApplied(k string) {
	if k == "" || r.HasApplied(k) {
		return
	}
	r.Applied = append(r.Applied, k)
	if len(r.Applied) > maxApplied {
		r.Applied = append([]string(nil), r.Applied[len(r.Applied)-maxApplied:]...)
	}
}

// Storage is what the review store needs: reading adapter-state buckets,
// and updating an incident together with its records in one transaction
// (*boltstore.Store satisfies it).
type Storage interface {
	KV
	UpdateRecords(ctx context.Context, number int64, fn func(inc *incident.Incident, recs desk.Records) ([]desk.Job, error)) (*incident.Incident, error)
}

// Store keeps reviews. It is safe for concurrent use: every write of a
// review is one transaction of the storage, on the review's incident; the
// reader counters are serialised by the Store (use one per database).
type Store struct {
	kv     Storage
	readMu sync.Mutex // serialises the reader counters
	keyMu  sync.Mutex
	key    []byte // the database's secret, once loaded
}

// New returns a Store over st.
func New(st Storage) *Store { return &Store{kv: st} }

func key(n int64) string { return strconv.FormatInt(n, 10) }

// Record returns the stored record of incident n's review with its number
// of readers (ReaderTotal; Readers is not loaded).
func (s *Store) Record(ctx context.Context, n int64) (*Record, bool, error) {
	rec, ok, err := s.load(ctx, n)
	if err != nil || !ok {
		return nil, ok, err
	}
	if rec.ReaderTotal, err = s.ReaderCount(ctx, n); err != nil {
		return nil, false, err
	}
	return rec, true, nil
}

func (s *Store) load(ctx context.Context, n int64) (*Record, bool, error) {
	raw, ok, err := s.kv.GetKV(ctx, BucketReviews, key(n))
	if err != nil || !ok {
		return nil, false, err
	}
	var rec Record
	if err := json.Unmarshal(raw, &rec); err != nil {
		return nil, false, fmt.Errorf("reviewstore: review %d: %w", n, err)
	}
	return &rec, true, nil
}

// ErrNoChange, returned by an Update function, leaves the record as it was.
var ErrNoChange = fmt.Errorf("reviewstore: no change")

// Update applies fn to incident n's record in one transaction (see Edit).
// The record fn sees carries no readers.
func (s *Store) Update(ctx context.Context, n int64, fn func(rec *Record, exists bool) error) (*Record, error) {
	var out *Record
	_, err := s.kv.UpdateRecords(ctx, n, func(_ *incident.Incident, recs desk.Records) ([]desk.Job, error) {
		rec, err := Edit(recs, n, fn)
		out = rec
		return nil, err
	})
	return out, err
}

// Edit applies fn to incident n's record read from recs (a zero record with
// Number set when there is none: exists is false) and writes it back with
// its actions mirror, unless fn fails or returns ErrNoChange. It runs
// inside the transaction that gave recs, with the incident's other changes.
func Edit(recs desk.Records, n int64, fn func(rec *Record, exists bool) error) (*Record, error) {
	rec, ok, err := decode(recs, n)
	if err != nil {
		return nil, err
	}
	if err := fn(rec, ok); err != nil {
		if err == ErrNoChange {
			return rec, nil
		}
		return nil, err
	}
	if rec.Number != n {
		return nil, fmt.Errorf("reviewstore: the record of incident %d says %d", n, rec.Number)
	}
	return rec, save(recs, rec)
}

func decode(recs desk.Records, n int64) (*Record, bool, error) {
	raw, ok, err := recs.Get(BucketReviews, key(n))
	if err != nil || !ok {
		return &Record{Review: review.Review{Number: n}}, false, err
	}
	var rec Record
	if err := json.Unmarshal(raw, &rec); err != nil {
		return nil, false, fmt.Errorf("reviewstore: review %d: %w", n, err)
	}
	return &rec, true, nil
}

// save writes the actions mirror and the review, in the caller's
// transaction.
func save(recs desk.Records, rec *Record) error {
	for _, a := range rec.Actions {
		raw, err := json.Marshal(a)
		if err != nil {
			return err
		}
		if err := recs.Put(BucketActions, a.ID, raw); err != nil {
			return err
		}
	}
	c := *rec
	c.Readers, c.ReaderTotal = nil, 0 // kept in their own buckets
	raw, err := json.Marshal(&c)
	if err != nil {
		return err
	}
	return recs.Put(BucketReviews, key(rec.Number), raw)
}

// Records returns every stored record with its number of readers
// (ReaderTotal), by incident number.
func (s *Store) Records(ctx context.Context) ([]*Record, error) {
	out, err := s.records(ctx)
	if err != nil {
		return nil, err
	}
	ns := make([]int64, len(out))
	for i, r := range out {
		ns[i] = r.Number
	}
	counts, err := s.counts(ctx, ns)
	if err != nil {
		return nil, err
	}
	for _, r := range out {
		r.ReaderTotal = counts[r.Number]
	}
	return out, nil
}

// recordsWithReaders returns every record with every reader loaded: for
// the measures only.
func (s *Store) recordsWithReaders(ctx context.Context) ([]*Record, error) {
	out, err := s.records(ctx)
	if err != nil {
		return nil, err
	}
	readers, err := s.readers(ctx)
	if err != nil {
		return nil, err
	}
	for _, r := range out {
		r.Readers = readers[r.Number]
		if r.Readers == nil {
			r.Readers = map[string]time.Time{}
		}
	}
	return out, nil
}

func (s *Store) records(ctx context.Context) ([]*Record, error) {
	var out []*Record
	err := s.kv.Scan(ctx, BucketReviews, "", func(k string, v []byte) error {
		var rec Record
		if err := json.Unmarshal(v, &rec); err != nil {
			return fmt.Errorf("reviewstore: review %s: %w", k, err)
		}
		out = append(out, &rec)
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Number < out[j].Number })
	return out, nil
}

// --- what the review site needs (review/site.Reviews) ---------------------

// Get returns incident n's review with its number of readers; ok is false
// when there is none or it was never drafted (a record holding only
// actions).
func (s *Store) Get(ctx context.Context, n int64) (*review.Review, bool, error) {
	rec, ok, err := s.Record(ctx, n)
	if err != nil || !ok || rec.Status == incident.ReviewNone {
		return nil, false, err
	}
	r := rec.Review
	return &r, true, nil
}

// List returns every drafted or published review with its number of
// readers.
func (s *Store) List(ctx context.Context) ([]*review.Review, error) {
	recs, err := s.Records(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]*review.Review, 0, len(recs))
	for _, rec := range recs {
		if rec.Status != incident.ReviewNone {
			r := rec.Review
			out = append(out, &r)
		}
	}
	return out, nil
}

// --- actions and measures -------------------------------------------------

// Actions returns every improvement action of every review, with the
// review it belongs to, oldest first.
func (s *Store) Actions(ctx context.Context) ([]review.Action, error) {
	recs, err := s.Records(ctx)
	if err != nil {
		return nil, err
	}
	return actionsOf(recs), nil
}

func actionsOf(recs []*Record) []review.Action {
	var out []review.Action
	for _, r := range recs {
		out = append(out, r.Actions...)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.Before(out[j].CreatedAt)
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// Incidents lists incidents; *desk.Desk and *boltstore.Store satisfy it.
type Incidents interface {
	List(ctx context.Context, f desk.Filter) ([]*incident.Incident, error)
}

// Measures computes review.Stats over every incident, action and review,
// for the period ending at now (period ≤ 0: all time) and one service ("":
// all).
func (s *Store) Measures(ctx context.Context, incs Incidents, p incident.Policy, period time.Duration, service string, now time.Time) (review.Measures, error) {
	// Only incidents that started within the period are measured (and
	// their state computed); actions carry their service themselves.
	f := desk.Filter{}
	if period > 0 {
		f.Since = now.Add(-period)
	}
	list, err := incs.List(ctx, f)
	if err != nil {
		return review.Measures{}, err
	}
	in := make([]review.StatsInput, 0, len(list))
	for _, inc := range list {
		in = append(in, review.StatsInput{Incident: inc, State: inc.State(p, now)})
	}
	recs, err := s.recordsWithReaders(ctx)
	if err != nil {
		return review.Measures{}, err
	}
	reviews := make([]*review.Review, 0, len(recs))
	for _, rec := range recs {
		r := rec.Review
		reviews = append(reviews, &r)
	}
	return review.Stats(in, actionsOf(recs), reviews, period, service, now), nil
}

// ParsePeriod reads a measuring period as people type it: "30d", "7d",
// "90d", "2w", "12h", or "all" (0: everything).
func ParsePeriod(s string) (time.Duration, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "all" {
		return 0, nil
	}
	bad := incident.Errorf(incident.EINVALID, "A period is a number of days, weeks or hours, like `30d`, `2w` or `12h`, or `all`.")
	if len(s) < 2 {
		return 0, bad
	}
	n, err := strconv.Atoi(s[:len(s)-1])
	if err != nil || n <= 0 || n > 3660 {
		return 0, bad
	}
	switch s[len(s)-1] {
	case 'd':
		return time.Duration(n) * 24 * time.Hour, nil
	case 'w':
		return time.Duration(n) * 7 * 24 * time.Hour, nil
	case 'h':
		return time.Duration(n) * time.Hour, nil
	}
	return 0, bad
}
