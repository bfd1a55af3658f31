package boltstore

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"slices"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/incidentbot/incidentbot/incident"
	"github.com/incidentbot/incidentbot/incident/desk"
)

func TestJobQueue(t *testing.T) {
	s, clk := newStore(t)
	ctx := context.Background()
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }

	if _, ok, err := s.NextDue(ctx, desk.QueueEffects); ok || err != nil {
		t.Fatalf("NextDue on an empty queue = %v, %v", ok, err)
	}
	err := s.Enqueue(ctx,
		desk.Job{ID: "a", Kind: "slack.post", DueAt: at(2), Payload: json.RawMessage(`{"text":"hi"}`)},
		desk.Job{ID: "c", Kind: "slack.post", DueAt: at(1)},
		desk.Job{ID: "b", Kind: "slack.post", DueAt: at(1)},
		desk.Job{ID: "now", Kind: "slack.post"}, // no due time: due now
	)
	if err != nil {
		t.Fatal(err)
	}
	due := func(now time.Time, limit int) []string {
		t.Helper()
		jobs, err := s.Due(ctx, desk.QueueEffects, now, limit)
		if err != nil {
			t.Fatal(err)
		}
		return jobIDs(jobs)
	}
	if g := due(t0, 0); !slices.Equal(g, []string{"now"}) {
		t.Fatalf("Due(t0) = %v, want [now]", g)
	}
	if g := due(at(1), 0); !slices.Equal(g, []string{"now", "b", "c"}) {
		t.Fatalf("Due(+1m) = %v, want now b c (due time, then ID)", g)
	}
	if g := due(at(5), 2); !slices.Equal(g, []string{"now", "b"}) {
		t.Fatalf("Due(+5m, 2) = %v, want now b", g)
	}
	if next, ok, err := s.NextDue(ctx, desk.QueueEffects); err != nil || !ok || !next.Equal(t0) {
		t.Fatalf("NextDue = %v %v %v, want %v", next, ok, err, t0)
	}

	// Idempotent: enqueueing a pending ID again changes nothing.
	if err := s.Enqueue(ctx, desk.Job{ID: "a", Kind: "slack.post", DueAt: at(0), Payload: json.RawMessage(`{"text":"other"}`)}); err != nil {
		t.Fatal(err)
	}
	jobs, _ := s.Due(ctx, desk.QueueEffects, at(5), 0)
	if g := jobIDs(jobs); !slices.Equal(g, []string{"now", "b", "c", "a"}) {
		t.Fatalf("after re-enqueue Due = %v", g)
	}
	if string(jobs[3].Payload) != `{"text":"hi"}` || !jobs[3].DueAt.Equal(at(2)) {
		t.Fatalf("re-enqueue changed job a: %+v", jobs[3])
	}

	// Retry moves the job and records the failure.
	if err := s.Retry(ctx, "now", at(10), "ratelimited: retry after 600s"); err != nil {
		t.Fatal(err)
	}
	if err := s.Retry(ctx, "now", at(20), "ratelimited again"); err != nil {
		t.Fatal(err)
	}
	if g := due(at(10), 0); !slices.Equal(g, []string{"b", "c", "a"}) {
		t.Fatalf("Due(+10m) after retry = %v, want b c a", g)
	}
	pending, _ := s.Pending(ctx)
	if g := jobIDs(pending); !slices.Equal(g, []string{"b", "c", "a", "now"}) {
		t.Fatalf("Pending = %v, want b c a now", g)
	}
	if j := pending[3]; j.Attempts != 2 || j.LastError != "ratelimited again" || !j.DueAt.Equal(at(20)) {
		t.Fatalf("retried job = %+v", j)
	}
	if next, _, _ := s.NextDue(ctx, desk.QueueEffects); !next.Equal(at(1)) {
		t.Fatalf("NextDue = %v, want %v", next, at(1))
	}

	// Complete leaves a tombstone that stops re-enqueueing.
	clk.Set(at(3))
	for _, id := range []string{"b", "b"} { // twice: completing a done job is fine
		if err := s.Complete(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Enqueue(ctx, desk.Job{ID: "b", Kind: "slack.post", DueAt: at(0)}); err != nil {
		t.Fatal(err)
	}
	if g := due(at(30), 0); !slices.Equal(g, []string{"c", "a", "now"}) {
		t.Fatalf("Due after Complete(b) and re-enqueue = %v, want c a now", g)
	}
	_ = s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bJobsDone).Get([]byte("b")); !keyTime(beUint(v)).Equal(at(3)) {
			t.Errorf("tombstone of b = %x, want completion time %v", v, at(3))
		}
		return nil
	})
	if err := s.Complete(ctx, "nope"); incident.ErrorCode(err) != incident.ENOTFOUND {
		t.Fatalf("Complete(unknown) = %v, want %s", err, incident.ENOTFOUND)
	}
	if err := s.Retry(ctx, "b", at(40), "x"); incident.ErrorCode(err) != incident.ENOTFOUND {
		t.Fatalf("Retry(done) = %v, want %s", err, incident.ENOTFOUND)
	}
	if err := s.Enqueue(ctx, desk.Job{Kind: "x"}); incident.ErrorCode(err) != incident.EINVALID {
		t.Fatalf("Enqueue without ID = %v, want %s", err, incident.EINVALID)
	}

	// Pruned tombstones let the ID be enqueued again.
	if n, err := s.PruneDone(ctx, at(3)); n != 0 || err != nil {
		t.Fatalf("PruneDone(at completion) = %d, %v; want 0", n, err)
	}
	if n, err := s.PruneDone(ctx, at(4)); n != 1 || err != nil {
		t.Fatalf("PruneDone = %d, %v; want 1", n, err)
	}
	if err := s.Enqueue(ctx, desk.Job{ID: "b", Kind: "slack.post", DueAt: at(0)}); err != nil {
		t.Fatal(err)
	}
	if g := due(at(0), 0); !slices.Equal(g, []string{"b"}) {
		t.Fatalf("Due after pruning = %v, want b", g)
	}

	// The queue survives a reopen.
	path := s.Path()
	mustCheck(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, path, Options{})
	pending, err = s.Pending(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if g := jobIDs(pending); !slices.Equal(g, []string{"b", "c", "a", "now"}) {
		t.Fatalf("Pending after reopen = %v", g)
	}
	mustCheck(t, s)
}

func TestJobsWithIncidents(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	inc, err := s.Create(ctx, func(n int64) (*incident.Incident, []desk.Job, error) {
		return declared(n, "bedroom", t0), []desk.Job{
			{ID: "slack.create_channel/1", Kind: "slack.create_channel", DueAt: t0},
			{ID: "slack.announce/1", Kind: "slack.announce", DueAt: t0, Incident: 99},
		}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	pending, _ := s.Pending(ctx)
	if len(pending) != 2 || pending[0].Incident != 99 || pending[1].Incident != inc.Number {
		t.Fatalf("pending = %+v; want Incident filled in where zero", pending)
	}
	if err := s.Complete(ctx, "slack.create_channel/1"); err != nil {
		t.Fatal(err)
	}
	// An update that asks again for the done job and the pending one adds
	// only the new job.
	_, err = s.Update(ctx, inc.Number, func(inc *incident.Incident) ([]desk.Job, error) {
		inc.Append(incident.Event{At: t0.Add(time.Minute), Kind: incident.EventNote, Text: "x"})
		return []desk.Job{
			{ID: "slack.create_channel/1", Kind: "slack.create_channel", DueAt: t0},
			{ID: "slack.announce/1", Kind: "slack.announce", DueAt: t0.Add(time.Hour)},
			{ID: "slack.card/1", Kind: "slack.card", DueAt: t0},
		}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	pending, _ = s.Pending(ctx)
	if g := jobIDs(pending); !slices.Equal(g, []string{"slack.announce/1", "slack.card/1"}) {
		t.Fatalf("pending = %v", g)
	}
	if !pending[0].DueAt.Equal(t0) {
		t.Fatalf("re-enqueue moved slack.announce/1 to %v", pending[0].DueAt)
	}
	// An update that only enqueues a job commits it.
	if _, err := s.Update(ctx, inc.Number, func(*incident.Incident) ([]desk.Job, error) {
		return []desk.Job{{ID: "pd.ack/1", Kind: "pd.ack"}}, nil
	}); err != nil {
		t.Fatal(err)
	}
	// A bad job fails the whole update.
	_, err = s.Update(ctx, inc.Number, func(inc *incident.Incident) ([]desk.Job, error) {
		inc.Append(incident.Event{At: t0.Add(time.Minute), Kind: incident.EventNote, Text: "y"})
		return []desk.Job{{ID: "", Kind: "x"}}, nil
	})
	if incident.ErrorCode(err) != incident.EINVALID {
		t.Fatalf("Update with a bad job = %v", err)
	}
	got, _ := s.Get(ctx, inc.Number)
	pending, _ = s.Pending(ctx)
	if len(got.Events) != 2 || len(pending) != 3 {
		t.Fatalf("after failed update: %d events, %d jobs; want 2, 3", len(got.Events), len(pending))
	}
	mustCheck(t, s)
}

func TestSeenSurvivesReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "incidentbot.db")
	ctx := context.Background()
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	seen := func(s *Store, ns, key string, at time.Time) bool {
		t.Helper()
		first, err := s.Seen(ctx, ns, key, at)
		if err != nil {
			t.Fatal(err)
		}
		return first
	}
	if !seen(s, "slack.event", "Ev1", t0) {
		t.Fatal("first sighting not first")
	}
	if seen(s, "slack.event", "Ev1", t0.Add(time.Second)) {
		t.Fatal("redelivery reported as first")
	}
	if !seen(s, "pagerduty.webhook", "Ev1", t0) {
		t.Fatal("namespaces are not separate")
	}
	if !seen(s, "slack.event", "Ev2", t0.Add(time.Hour)) {
		t.Fatal("Ev2 not first")
	}
	if _, err := s.Seen(ctx, "", "x", t0); incident.ErrorCode(err) != incident.EINVALID {
		t.Fatalf("Seen without namespace = %v", err)
	}
	mustCheck(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openStore(t, path, Options{})
	if seen(s, "slack.event", "Ev1", t0.Add(time.Minute)) {
		t.Fatal("Seen forgot Ev1 across a reopen")
	}
	n, err := s.PruneSeen(ctx, t0.Add(time.Minute))
	if err != nil || n != 2 {
		t.Fatalf("PruneSeen = %d, %v; want 2 (both Ev1)", n, err)
	}
	if seen(s, "slack.event", "Ev2", t0.Add(2*time.Hour)) {
		t.Fatal("PruneSeen removed Ev2, which is newer")
	}
	if !seen(s, "slack.event", "Ev1", t0.Add(2*time.Hour)) {
		t.Fatal("pruned Ev1 still seen")
	}
	mustCheck(t, s)
}

func TestKV(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	if _, ok, err := s.GetKV(ctx, "slack.channel", "1"); ok || err != nil {
		t.Fatalf("GetKV on a missing bucket = %v, %v", ok, err)
	}
	for k, v := range map[string]string{"1": "C01", "2": "C02", "12": "C12", "3": ""} {
		if err := s.Put(ctx, "slack.channel", k, []byte(v)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Put(ctx, "slack.card", "1", []byte("1700000000.000100")); err != nil {
		t.Fatal(err)
	}
	v, ok, err := s.GetKV(ctx, "slack.channel", "1")
	if err != nil || !ok || string(v) != "C01" {
		t.Fatalf("GetKV = %q %v %v", v, ok, err)
	}
	v[0] = 'X' // the copy is ours
	if v, _, _ := s.GetKV(ctx, "slack.channel", "1"); string(v) != "C01" {
		t.Fatalf("modifying a returned value changed the store: %q", v)
	}
	if v, ok, _ := s.GetKV(ctx, "slack.channel", "3"); !ok || len(v) != 0 {
		t.Fatalf("empty value: %q %v", v, ok)
	}
	if err := s.Put(ctx, "slack.channel", "2", []byte("C02b")); err != nil {
		t.Fatal(err)
	}

	var keys []string
	err = s.Scan(ctx, "slack.channel", "1", func(k string, v []byte) error {
		keys = append(keys, k+"="+string(v))
		// fn may write: the scan holds no transaction.
		return s.Put(ctx, "scanned", k, v)
	})
	if err != nil || !slices.Equal(keys, []string{"1=C01", "12=C12"}) {
		t.Fatalf("Scan(prefix 1) = %v, %v", keys, err)
	}
	keys = nil
	stop := errors.New("stop")
	err = s.Scan(ctx, "slack.channel", "", func(k string, v []byte) error {
		keys = append(keys, k+"="+string(v))
		if len(keys) == 3 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || !slices.Equal(keys, []string{"1=C01", "12=C12", "2=C02b"}) {
		t.Fatalf("Scan(all) = %v, %v", keys, err)
	}
	if err := s.Scan(ctx, "missing", "", func(string, []byte) error { t.Error("called"); return nil }); err != nil {
		t.Fatal(err)
	}

	for range 2 { // deleting a missing key is fine
		if err := s.Delete(ctx, "slack.channel", "1"); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok, _ := s.GetKV(ctx, "slack.channel", "1"); ok {
		t.Fatal("deleted key still there")
	}
	if err := s.Delete(ctx, "missing", "1"); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, "", "k", nil); incident.ErrorCode(err) != incident.EINVALID {
		t.Fatalf("Put without bucket = %v", err)
	}
	// Adapter buckets do not collide with the store's own.
	if err := s.Put(ctx, "incidents", "x", []byte("y")); err != nil {
		t.Fatal(err)
	}
	if all := listNumbers(t, s, desk.Filter{}); len(all) != 0 {
		t.Fatalf("kv write showed up as incidents: %v", all)
	}
	mustCheck(t, s)
}

func TestTimeKey(t *testing.T) {
	if timeKey(time.Time{}) != 0 || timeKey(time.Unix(-5, 0)) != 0 {
		t.Error("times before 1970 should encode as 0")
	}
	if timeKey(time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)) != 1<<63-1 {
		t.Error("times after 2262 should encode as the maximum")
	}
	a, b := timeKey(t0), timeKey(t0.Add(time.Nanosecond))
	if b != a+1 || !keyTime(a).Equal(t0) {
		t.Error("nanosecond precision lost")
	}
}

func beUint(v []byte) uint64 {
	if len(v) != 8 {
		return 0
	}
	return uint64(v[0])<<56 | uint64(v[1])<<48 | uint64(v[2])<<40 | uint64(v[3])<<32 |
		uint64(v[4])<<24 | uint64(v[5])<<16 | uint64(v[6])<<8 | uint64(v[7])
}

func TestCoalescingJobRunsAgainWhenAskedWhileRunning(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	card := desk.Job{ID: "slack.card/1", Kind: "slack.card", Incident: 1, Coalesce: true}
	if err := s.Enqueue(ctx, card); err != nil {
		t.Fatal(err)
	}
	due, err := s.Due(ctx, desk.QueueEffects, time.Now().Add(time.Hour), 0)
	if err != nil || len(due) != 1 {
		t.Fatalf("due = %v, %v", due, err)
	}
	running := due[0]
	// A new change asks for the card while it is being refreshed.
	if err := s.Enqueue(ctx, card); err != nil {
		t.Fatal(err)
	}
	if err := s.CompleteJob(ctx, running); err != nil {
		t.Fatal(err)
	}
	due, _ = s.Due(ctx, desk.QueueEffects, time.Now().Add(time.Hour), 0)
	if len(due) != 1 || due[0].Gen != 1 {
		t.Fatalf("the re-requested card must stay pending once more: %+v", due)
	}
	if err := s.CompleteJob(ctx, due[0]); err != nil {
		t.Fatal(err)
	}
	if due, _ := s.Due(ctx, desk.QueueEffects, time.Now().Add(time.Hour), 0); len(due) != 0 {
		t.Fatalf("still pending: %+v", due)
	}
	// No tombstone: it can be asked for again later.
	if err := s.Enqueue(ctx, card); err != nil {
		t.Fatal(err)
	}
	if due, _ := s.Due(ctx, desk.QueueEffects, time.Now().Add(time.Hour), 0); len(due) != 1 {
		t.Fatalf("a completed coalescing job could not be enqueued again")
	}
	// An ordinary job keeps its tombstone.
	once := desk.Job{ID: "slack.post/1/3", Kind: "slack.post"}
	_ = s.Enqueue(ctx, once)
	_ = s.CompleteJob(ctx, once)
	_ = s.Enqueue(ctx, once)
	for _, j := range mustPending(t, s) {
		if j.ID == once.ID {
			t.Fatalf("a completed job was enqueued again")
		}
	}
	mustCheck(t, s)
}

func mustPending(t *testing.T, s *Store) []desk.Job {
	t.Helper()
	js, err := s.Pending(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return js
}
