package storetest

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/incident"
	"github.com/incidentbot/incidentbot/incident/desk"
)

func testJobQueue(t *testing.T, e *env) {
	s, ctx := e.s, e.ctx
	const q = desk.QueueEffects
	if _, ok, err := s.NextDue(ctx, q); ok || err != nil {
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
	if g := e.due(t, q, T0, 0); !slices.Equal(g, []string{"now"}) {
		t.Fatalf("Due(t0) = %v, want [now]", g)
	}
	if g := e.due(t, q, at(1), 0); !slices.Equal(g, []string{"now", "b", "c"}) {
		t.Fatalf("Due(+1m) = %v, want now b c (due time, then ID)", g)
	}
	if g := e.due(t, q, at(5), 2); !slices.Equal(g, []string{"now", "b"}) {
		t.Fatalf("Due(+5m, 2) = %v, want now b", g)
	}
	if next, ok, err := s.NextDue(ctx, q); err != nil || !ok || !next.Equal(T0) {
		t.Fatalf("NextDue = %v %v %v, want %v", next, ok, err, T0)
	}

	// Idempotent: enqueueing a pending ID again changes nothing.
	if err := s.Enqueue(ctx, desk.Job{ID: "a", Kind: "slack.post", DueAt: at(0), Payload: json.RawMessage(`{"text":"other"}`)}); err != nil {
		t.Fatal(err)
	}
	jobs, _ := s.Due(ctx, q, at(5), 0)
	if g := JobIDs(jobs); !slices.Equal(g, []string{"now", "b", "c", "a"}) {
		t.Fatalf("after re-enqueue Due = %v", g)
	}
	if string(jobs[3].Payload) != `{"text":"hi"}` || !jobs[3].DueAt.Equal(at(2)) || jobs[3].Kind != "slack.post" {
		t.Fatalf("re-enqueue changed job a: %+v", jobs[3])
	}

	// Retry moves the job and records the failure.
	if err := s.Retry(ctx, "now", at(10), "ratelimited: retry after 600s"); err != nil {
		t.Fatal(err)
	}
	if err := s.Retry(ctx, "now", at(20), "ratelimited again"); err != nil {
		t.Fatal(err)
	}
	if g := e.due(t, q, at(10), 0); !slices.Equal(g, []string{"b", "c", "a"}) {
		t.Fatalf("Due(+10m) after retry = %v, want b c a", g)
	}
	pending := e.pending(t)
	if g := JobIDs(pending); !slices.Equal(g, []string{"b", "c", "a", "now"}) {
		t.Fatalf("Pending = %v, want b c a now", g)
	}
	if j := pending[3]; j.Attempts != 2 || j.LastError != "ratelimited again" || !j.DueAt.Equal(at(20)) {
		t.Fatalf("retried job = %+v", j)
	}
	if next, _, _ := s.NextDue(ctx, q); !next.Equal(at(1)) {
		t.Fatalf("NextDue = %v, want %v", next, at(1))
	}

	// Complete leaves a tombstone that stops re-enqueueing.
	e.clk.Set(at(3))
	for range 2 { // twice: completing a done job is fine
		if err := s.Complete(ctx, "b"); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Enqueue(ctx, desk.Job{ID: "b", Kind: "slack.post", DueAt: at(0)}); err != nil {
		t.Fatal(err)
	}
	if g := e.due(t, q, at(30), 0); !slices.Equal(g, []string{"c", "a", "now"}) {
		t.Fatalf("Due after Complete(b) and re-enqueue = %v, want c a now", g)
	}
	if err := s.Complete(ctx, "nope"); incident.ErrorCode(err) != incident.ENOTFOUND {
		t.Fatalf("Complete(unknown) = %v, want %s", err, incident.ENOTFOUND)
	}
	if err := s.Retry(ctx, "b", at(40), "x"); incident.ErrorCode(err) != incident.ENOTFOUND {
		t.Fatalf("Retry(done) = %v, want %s", err, incident.ENOTFOUND)
	}
	for _, bad := range []desk.Job{{Kind: "x"}, {ID: "y"}} {
		if err := s.Enqueue(ctx, bad); incident.ErrorCode(err) != incident.EINVALID {
			t.Fatalf("Enqueue(%+v) = %v, want %s", bad, err, incident.EINVALID)
		}
	}
	// A bad job fails the whole call.
	if err := s.Enqueue(ctx, desk.Job{ID: "fine", Kind: "x"}, desk.Job{Kind: "x"}); err == nil {
		t.Fatal("Enqueue with a bad job succeeded")
	}
	if slices.Contains(JobIDs(e.pending(t)), "fine") {
		t.Fatal("a failed Enqueue stored the good job beside the bad one")
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
	if g := e.due(t, q, at(0), 0); !slices.Equal(g, []string{"b"}) {
		t.Fatalf("Due after pruning = %v, want b", g)
	}

	// The queue survives a reopen.
	s = e.Reopen(t)
	pending, err = s.Pending(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if g := JobIDs(pending); !slices.Equal(g, []string{"b", "c", "a", "now"}) {
		t.Fatalf("Pending after reopen = %v", g)
	}
	if string(pending[2].Payload) != `{"text":"hi"}` || pending[3].Attempts != 2 {
		t.Fatalf("jobs changed across a reopen: %+v", pending)
	}
}

func testJobsWithIncidents(t *testing.T, e *env) {
	s, ctx := e.s, e.ctx
	inc, err := s.Create(ctx, func(n int64) (*incident.Incident, []desk.Job, error) {
		return declared(n, "bedroom", T0), []desk.Job{
			{ID: "slack.create_channel/1", Kind: "slack.create_channel", DueAt: T0},
			{ID: "slack.announce/1", Kind: "slack.announce", DueAt: T0, Incident: 99},
		}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	pending := e.pending(t)
	if len(pending) != 2 || pending[0].Incident != 99 || pending[1].Incident != inc.Number {
		t.Fatalf("pending = %+v; want Incident filled in where zero", pending)
	}
	if err := s.Complete(ctx, "slack.create_channel/1"); err != nil {
		t.Fatal(err)
	}
	// An update that asks again for the done job and the pending one adds
	// only the new job.
	_, err = s.Update(ctx, inc.Number, func(inc *incident.Incident) ([]desk.Job, error) {
		inc.Append(incident.Event{At: at(1), Kind: incident.EventNote, Text: "x"})
		return []desk.Job{
			{ID: "slack.create_channel/1", Kind: "slack.create_channel", DueAt: T0},
			{ID: "slack.announce/1", Kind: "slack.announce", DueAt: at(60)},
			{ID: "slack.card/1", Kind: "slack.card", DueAt: T0},
		}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	pending = e.pending(t)
	if g := JobIDs(pending); !slices.Equal(g, []string{"slack.announce/1", "slack.card/1"}) {
		t.Fatalf("pending = %v", g)
	}
	if !pending[0].DueAt.Equal(T0) {
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
		inc.Append(incident.Event{At: at(1), Kind: incident.EventNote, Text: "y"})
		return []desk.Job{{ID: "", Kind: "x"}}, nil
	})
	if incident.ErrorCode(err) != incident.EINVALID {
		t.Fatalf("Update with a bad job = %v", err)
	}
	got, _ := s.Get(ctx, inc.Number)
	if pending = e.pending(t); len(got.Events) != 2 || len(pending) != 3 {
		t.Fatalf("after failed update: %d events, %d jobs; want 2, 3", len(got.Events), len(pending))
	}
}

func testCoalescing(t *testing.T, e *env) {
	s, ctx := e.s, e.ctx
	card := desk.Job{ID: "slack.card/1", Kind: "slack.card", Incident: 1, Coalesce: true, DueAt: at(5), Payload: json.RawMessage(`{"v":1}`)}
	if err := s.Enqueue(ctx, card); err != nil {
		t.Fatal(err)
	}
	due, err := s.Due(ctx, desk.QueueEffects, at(60), 0)
	if err != nil || len(due) != 1 || !due[0].Coalesce {
		t.Fatalf("due = %+v, %v", due, err)
	}
	running := due[0]
	// A new change asks for the card while it is being refreshed: the
	// earlier due time and the latest payload win.
	card2 := card
	card2.DueAt, card2.Payload = at(1), json.RawMessage(`{"v":2}`)
	if err := s.Enqueue(ctx, card2); err != nil {
		t.Fatal(err)
	}
	if err := s.CompleteJob(ctx, running); err != nil {
		t.Fatal(err)
	}
	due, _ = s.Due(ctx, desk.QueueEffects, at(60), 0)
	if len(due) != 1 || due[0].Gen != 1 || !due[0].DueAt.Equal(at(1)) || string(due[0].Payload) != `{"v":2}` {
		t.Fatalf("the re-requested card must stay pending once more with the latest payload: %+v", due)
	}
	if err := s.CompleteJob(ctx, due[0]); err != nil {
		t.Fatal(err)
	}
	if due, _ := s.Due(ctx, desk.QueueEffects, at(60), 0); len(due) != 0 {
		t.Fatalf("still pending: %+v", due)
	}
	// No tombstone: it can be asked for again later.
	if err := s.Enqueue(ctx, card); err != nil {
		t.Fatal(err)
	}
	if due, _ := s.Due(ctx, desk.QueueEffects, at(60), 0); len(due) != 1 || due[0].Gen != 0 {
		t.Fatalf("a completed coalescing job could not be enqueued again: %+v", due)
	}
	// An ordinary job keeps its tombstone.
	once := desk.Job{ID: "slack.post/1/3", Kind: "slack.post"}
	for _, step := range []func() error{
		func() error { return s.Enqueue(ctx, once) },
		func() error { return s.CompleteJob(ctx, once) },
		func() error { return s.Enqueue(ctx, once) },
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	if slices.Contains(JobIDs(e.pending(t)), once.ID) {
		t.Fatalf("a completed job was enqueued again")
	}
}

func testQueues(t *testing.T, e *env) {
	s, ctx := e.s, e.ctx
	if err := s.Enqueue(ctx,
		desk.Job{ID: "in/1", Kind: "inbox", Queue: desk.QueueInput, DueAt: at(2)},
		desk.Job{ID: "fx/1", Kind: "slack.post", DueAt: at(1)},
	); err != nil {
		t.Fatal(err)
	}
	if g := e.due(t, desk.QueueInput, at(5), 0); !slices.Equal(g, []string{"in/1"}) {
		t.Fatalf("input queue = %v", g)
	}
	if g := e.due(t, desk.QueueEffects, at(5), 0); !slices.Equal(g, []string{"fx/1"}) {
		t.Fatalf("effects queue = %v", g)
	}
	if next, ok, _ := s.NextDue(ctx, desk.QueueInput); !ok || !next.Equal(at(2)) {
		t.Fatalf("NextDue(input) = %v %v", next, ok)
	}
	if err := s.Retry(ctx, "in/1", at(9), "x"); err != nil {
		t.Fatal(err)
	}
	if g := JobIDs(e.pending(t)); !slices.Equal(g, []string{"fx/1", "in/1"}) {
		t.Fatalf("Pending = %v", g)
	}
	if p := e.pending(t); p[1].Queue != desk.QueueInput {
		t.Fatalf("a retried job left its queue: %+v", p[1])
	}
	if err := s.Complete(ctx, "in/1"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.NextDue(ctx, desk.QueueInput); ok {
		t.Fatal("the input queue is not empty")
	}
}

func testHousekeep(t *testing.T, e *env) {
	s, ctx := e.s, e.ctx
	day := 24 * time.Hour
	if _, err := s.Seen(ctx, "slack.event", "old", T0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Seen(ctx, "slack.event", "new", T0.Add(25*day)); err != nil {
		t.Fatal(err)
	}
	for i, id := range []string{"old", "new"} {
		e.clk.Set(T0.Add(time.Duration(i) * 20 * day))
		if err := s.Enqueue(ctx, desk.Job{ID: id, Kind: "x"}); err != nil {
			t.Fatal(err)
		}
		if err := s.Complete(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Housekeep(ctx, T0.Add(31*day)); err != nil {
		t.Fatal(err)
	}
	if seen, _ := s.WasSeen(ctx, "slack.event", "old"); seen {
		t.Error("a key seen 31 days ago is still remembered")
	}
	if seen, _ := s.WasSeen(ctx, "slack.event", "new"); !seen {
		t.Error("a key seen 6 days before housekeeping was forgotten; keys are kept for a week")
	}
	for _, id := range []string{"old", "new"} {
		if err := s.Enqueue(ctx, desk.Job{ID: id, Kind: "x"}); err != nil {
			t.Fatal(err)
		}
	}
	if g := JobIDs(e.pending(t)); !slices.Equal(g, []string{"old"}) {
		t.Fatalf("after housekeeping %v could be enqueued again, want only old (done 31 days ago)", g)
	}
	if err := s.Complete(ctx, "nope"); incident.ErrorCode(err) != incident.ENOTFOUND {
		t.Fatalf("Complete(unknown) = %v", err)
	}
	if err := s.Housekeep(ctx, T0); err != nil {
		t.Fatalf("Housekeep with nothing to do: %v", err)
	}
}
