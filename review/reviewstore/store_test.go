package reviewstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/incident"
	"github.com/incidentbot/incidentbot/incident/boltstore"
	"github.com/incidentbot/incidentbot/incident/boltstore/bolttest"
	"github.com/incidentbot/incidentbot/incident/desk"
	"github.com/incidentbot/incidentbot/review"
	"github.com/incidentbot/incidentbot/review/reviewstore"
)

var t0 = time.Date(2026, 11, 17, 12, 0, 0, 0, time.UTC)

func open(t *testing.T, path string) *boltstore.Store {
	t.Helper()
	st, err := boltstore.Open(path, boltstore.Options{Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	if incs, _ := st.List(context.Background(), desk.Filter{}); len(incs) == 0 {
		bolttest.Incidents(t, st, 5, t0) // reviews belong to incidents
	}
	return st
}

func TestRecordsActionsReadersDurable(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "db")
	st := open(t, path)
	rs := reviewstore.New(st)

	if _, ok, err := rs.Get(ctx, 1); ok || err != nil {
		t.Fatalf("empty store: %v %v", ok, err)
	}
	// A record holding only an action is not a review yet.
	rec, err := rs.Update(ctx, 1, func(rec *reviewstore.Record, exists bool) error {
		if exists {
			t.Error("exists on first update")
		}
		rec.Title, rec.Service = "Checkout", "bedroom"
		_, err := rec.AddAction("Alert on queue depth", "U1", t0)
		return err
	})
	if err != nil || rec.Number != 1 {
		t.Fatalf("update: %v", err)
	}
	if _, ok, _ := rs.Get(ctx, 1); ok {
		t.Error("a record without a draft is served as a review")
	}
	if list, _ := rs.List(ctx); len(list) != 0 {
		t.Errorf("list = %d", len(list))
	}
	raw, ok, _ := st.GetKV(ctx, reviewstore.BucketActions, "1-1")
	var a review.Action
	if !ok || json.Unmarshal(raw, &a) != nil || a.Text != "Alert on queue depth" {
		t.Errorf("actions mirror: %s", raw)
	}
	// The stored JSON is a review.Review.
	raw, _, _ = st.GetKV(ctx, reviewstore.BucketReviews, "1")
	var plain review.Review
	if err := json.Unmarshal(raw, &plain); err != nil || plain.Title != "Checkout" || len(plain.Actions) != 1 {
		t.Errorf("stored JSON is not a review: %v %s", err, raw)
	}

	token, err := rs.PreviewToken(ctx, 1, t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	_, err = rs.Update(ctx, 1, func(rec *reviewstore.Record, exists bool) error {
		rec.Status, rec.DraftedAt = incident.ReviewDrafted, t0
		return rec.Publish(t0)
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range []string{"r1", "r2", "r1"} {
		if c, err := rs.Read(ctx, 1, r, t0, nil); err != nil || c != min(i+1, 2) {
			t.Fatalf("read %d: %d %v", i, c, err)
		}
	}
	if _, err := rs.Read(ctx, 1, "bad/reader", t0, nil); err == nil {
		t.Error("a reader ID with / accepted")
	}
	// Failing and no-change updates change nothing.
	boom := errors.New("boom")
	if _, err := rs.Update(ctx, 1, func(rec *reviewstore.Record, _ bool) error { rec.Title = "x"; return boom }); err != boom {
		t.Errorf("err = %v", err)
	}
	if _, err := rs.Update(ctx, 1, func(rec *reviewstore.Record, _ bool) error { rec.Title = "x"; return reviewstore.ErrNoChange }); err != nil {
		t.Error(err)
	}
	st.Close()

	st = open(t, path)
	defer st.Close()
	rs = reviewstore.New(st)
	r, ok, err := rs.Get(ctx, 1)
	if err != nil || !ok || !r.Published() || r.Title != "Checkout" || r.ReaderCount() != 2 {
		t.Fatalf("after reopening: %v %v %+v", err, ok, r)
	}
	if ok, _ := rs.CheckPreview(ctx, 1, token, t0); !ok {
		t.Error("preview token lost")
	}
	for _, bad := range []string{"", "x", token[:len(token)-1]} {
		if ok, _ := rs.CheckPreview(ctx, 1, bad, t0); ok {
			t.Errorf("token %q accepted", bad)
		}
	}
	acts, err := rs.Actions(ctx)
	if err != nil || len(acts) != 1 {
		t.Errorf("actions = %v %v", acts, err)
	}
	// Reads return copies.
	r.Title = "changed"
	r2, _, _ := rs.Get(ctx, 1)
	if r2.Title != "Checkout" {
		t.Error("Get returned shared state")
	}
}

// Concurrent updates of one review are serialised: none is lost.
func TestConcurrentUpdates(t *testing.T) {
	ctx := context.Background()
	st := open(t, filepath.Join(t.TempDir(), "db"))
	defer st.Close()
	rs := reviewstore.New(st)
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := rs.Update(ctx, 3, func(rec *reviewstore.Record, _ bool) error {
				_, err := rec.AddAction("an action", "U1", t0)
				return err
			}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	rec, _, _ := rs.Record(ctx, 3)
	if len(rec.Actions) != 20 || rec.Actions[19].ID != "3-20" {
		t.Errorf("actions = %d", len(rec.Actions))
	}
}

// Two Stores over one storage, as two replicas have, serialise their
// updates through the storage's lock: none is lost.
func TestConcurrentUpdatesAcrossStores(t *testing.T) {
	ctx := context.Background()
	st := open(t, filepath.Join(t.TempDir(), "db"))
	defer st.Close()
	replicas := []*reviewstore.Store{reviewstore.New(st), reviewstore.New(st)}
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := replicas[i%2].Update(ctx, 3, func(rec *reviewstore.Record, _ bool) error {
				_, err := rec.AddAction("an action", "U1", t0)
				time.Sleep(time.Millisecond) // widen the read-modify-write window
				return err
			}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	rec, _, _ := replicas[0].Record(ctx, 3)
	if len(rec.Actions) != 20 {
		t.Errorf("actions = %d, want 20: updates from the two stores were lost", len(rec.Actions))
	}
}

func TestApplied(t *testing.T) {
	var r reviewstore.Record
	for i := 0; i < 250; i++ {
		r.MarkApplied(time.Duration(i).String())
	}
	if len(r.Applied) != 200 || r.HasApplied("0s") || !r.HasApplied("249ns") || r.HasApplied("") {
		t.Errorf("applied: %d", len(r.Applied))
	}
}

func TestParsePeriod(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"30d": 30 * 24 * time.Hour, "7D": 7 * 24 * time.Hour, "2w": 14 * 24 * time.Hour, "12h": 12 * time.Hour, "all": 0,
	} {
		if got, err := reviewstore.ParsePeriod(in); err != nil || got != want {
			t.Errorf("ParsePeriod(%q) = %v, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "d", "0d", "-3d", "30", "30m", "abc", "99999d"} {
		if _, err := reviewstore.ParsePeriod(in); err == nil {
			t.Errorf("ParsePeriod(%q) accepted", in)
		}
	}
}

// fakeIncidents records the filter Measures asks for.
type fakeIncidents struct {
	list []*incident.Incident
	got  desk.Filter
}

func (f *fakeIncidents) List(_ context.Context, fl desk.Filter) ([]*incident.Incident, error) {
	f.got = fl
	var out []*incident.Incident
	for _, inc := range f.list {
		if fl.Since.IsZero() || !inc.StartedAt.Before(fl.Since) {
			out = append(out, inc)
		}
	}
	return out, nil
}

// Measures reads only the period's incidents, and counts the actions and
// readers of the stored reviews.
func TestMeasures(t *testing.T) {
	ctx := context.Background()
	st := open(t, filepath.Join(t.TempDir(), "db"))
	defer st.Close()
	rs := reviewstore.New(st)
	_, err := rs.Update(ctx, 1, func(rec *reviewstore.Record, _ bool) error {
		rec.Title, rec.Service, rec.Team, rec.Status = "T", "bedroom", "bedroom-team", incident.ReviewDrafted
		a, _ := rec.AddAction("one", "U1", t0.Add(-72*time.Hour))
		rec.AddAction("two", "U2", t0.Add(-24*time.Hour))
		if err := rec.CompleteAction(a.ID, t0.Add(-12*time.Hour)); err != nil {
			return err
		}
		return rec.Publish(t0.Add(-time.Hour))
	})
	if err != nil {
		t.Fatal(err)
	}
	_, _ = rs.Read(ctx, 1, "r1", t0, nil)
	_, _ = rs.Read(ctx, 1, "r2", t0, nil)
	incs := &fakeIncidents{}
	m, err := rs.Measures(ctx, incs, incident.Policy{}, 7*24*time.Hour, "", t0)
	if err != nil {
		t.Fatal(err)
	}
	if !incs.got.Since.Equal(t0.Add(-7 * 24 * time.Hour)) {
		t.Errorf("filter since %v", incs.got.Since)
	}
	if m.ActionsDefined != 2 || m.ActionsDone != 1 || m.ActionsOpen != 1 || m.MedianActionLeadTime != 60*time.Hour || m.UniqueReaders != 2 || len(m.Reviews) != 1 {
		t.Errorf("measures: %+v", m)
	}
	if _, err := rs.Measures(ctx, incs, incident.Policy{}, 0, "", t0); err != nil || !incs.got.Since.IsZero() {
		t.Errorf("all time: since %v, %v", incs.got.Since, err)
	}
}

// Preview tokens are signed for one review by the database's secret and
// expire; the secret is made once and survives reopening; the random,
// unsigned tokens of earlier versions no longer open anything.
func TestPreviewTokensSignedAndExpiring(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "db")
	st := open(t, path)
	rs := reviewstore.New(st)
	exp := t0.Add(7 * 24 * time.Hour)
	tok, err := rs.PreviewToken(ctx, 3, exp)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		n     int64
		token string
		at    time.Time
		ok    bool
	}{
		{3, tok, t0, true},
		{3, tok, exp.Add(-time.Second), true},
		{3, tok, exp, false}, // expired
		{4, tok, t0, false},  // another review's
		{3, "99999999999" + tok[strings.Index(tok, "."):], t0, false}, // a later expiry, same signature
		{3, "0" + tok, t0, false},
		{3, "0123456789abcdef0123456789abcdef", t0, false}, // an old random token
		{3, sameBits(tok), t0, false},                      // another spelling of the signature
		{3, "", t0, false},
	} {
		if ok, err := rs.CheckPreview(ctx, tc.n, tc.token, tc.at); ok != tc.ok || err != nil {
			t.Errorf("CheckPreview(%d, %q, %v) = %v, %v", tc.n, tc.token, tc.at, ok, err)
		}
	}
	var secret []byte
	_ = st.Scan(ctx, reviewstore.BucketKeys, "", func(k string, v []byte) error { secret = append(secret, v...); return nil })
	if len(secret) != 64 || strings.Contains(tok, string(secret)) {
		t.Errorf("stored secret %q", secret)
	}
	st.Close()

	st = open(t, path)
	defer st.Close()
	rs = reviewstore.New(st)
	if ok, _ := rs.CheckPreview(ctx, 3, tok, t0); !ok {
		t.Error("the secret changed on reopening: the token no longer opens the review")
	}
	again, _ := rs.PreviewToken(ctx, 3, exp)
	if again != tok {
		t.Errorf("the same review and expiry signed differently: %q %q", tok, again)
	}
	other := reviewstore.New(open(t, filepath.Join(t.TempDir(), "other")))
	if ok, _ := other.CheckPreview(ctx, 3, tok, t0); ok {
		t.Error("another database's store accepted the token")
	}
}

// Each review's readers are counted in a counter: a reader counts once, a
// refused write counts nothing, and reading the count costs the same with
// 5 readers or 2,000. A database from before the counters is counted once.
func TestReaderCounter(t *testing.T) {
	ctx := context.Background()
	st := open(t, filepath.Join(t.TempDir(), "db"))
	defer st.Close()
	kv := &countingKV{Storage: st}
	rs := reviewstore.New(kv)
	no := func() bool { return false }
	if c, err := rs.Read(ctx, 1, "refused", t0, no); err != nil || c != 0 {
		t.Fatalf("refused write: %d %v", c, err)
	}
	for i := 0; i < 5; i++ {
		_, _ = rs.Read(ctx, 1, "r"+strconv.Itoa(i), t0, nil)
	}
	if c, _ := rs.Read(ctx, 1, "r0", t0, no); c != 5 {
		t.Errorf("a known reader, writes refused: count %d, want 5", c)
	}
	cost := func() int {
		kv.rows = 0
		if _, _, err := rs.Get(ctx, 1); err != nil {
			t.Fatal(err)
		}
		if _, err := rs.Read(ctx, 1, "r0", t0, nil); err != nil {
			t.Fatal(err)
		}
		return kv.rows
	}
	few := cost()
	for i := 5; i < 2000; i++ {
		_, _ = rs.Read(ctx, 1, "r"+strconv.Itoa(i), t0, nil)
	}
	if many := cost(); many != few {
		t.Errorf("a view reads %d keys with 5 readers and %d with 2,000", few, many)
	}
	if c, _ := rs.ReaderCount(ctx, 1); c != 2000 {
		t.Errorf("count %d", c)
	}
	// Readers written before the counters existed.
	for _, r := range []string{"old1", "old2"} {
		_ = st.Put(ctx, reviewstore.BucketReaders, "7/"+r, []byte(t0.Format(time.RFC3339Nano)))
	}
	if c, _ := rs.ReaderCount(ctx, 7); c != 2 {
		t.Errorf("pre-counter readers: %d", c)
	}
	if raw, ok, _ := st.GetKV(ctx, reviewstore.BucketReaderCounts, "7"); !ok || string(raw) != "2" {
		t.Errorf("pre-counter count not kept: %q", raw)
	}
}

// countingKV counts the keys read (GetKV and every row a Scan visits).
type countingKV struct {
	reviewstore.Storage
	rows int
}

func (c *countingKV) GetKV(ctx context.Context, bucket, key string) ([]byte, bool, error) {
	c.rows++
	return c.Storage.GetKV(ctx, bucket, key)
}

func (c *countingKV) Scan(ctx context.Context, bucket, prefix string, fn func(string, []byte) error) error {
	return c.Storage.Scan(ctx, bucket, prefix, func(k string, v []byte) error { c.rows++; return fn(k, v) })
}

// sameBits respells a token's last base64 character so that a lax decoder
// reads the same bytes (only its 2 high bits carry data).
func sameBits(tok string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	i := strings.IndexByte(alphabet, tok[len(tok)-1])
	return tok[:len(tok)-1] + string(alphabet[i^1])
}
