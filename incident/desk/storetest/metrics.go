package storetest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/incident/desk"
)

// addedEnqueuer is what the Socket Mode intake asks of a store to count
// redelivered envelopes apart (bot's intake metrics).
type addedEnqueuer interface {
	EnqueueAdded(ctx context.Context, jobs ...desk.Job) (int, error)
}

// EnqueueAdded tells new jobs from ones already pending or done (a
// redelivered envelope), and counts a coalescing job asked for again.
func testEnqueueAdded(t *testing.T, e *env) {
	s, ok := e.s.(addedEnqueuer)
	if !ok {
		t.Fatalf("%T has no EnqueueAdded: redelivered envelopes cannot be counted", e.s)
	}
	count := func(jobs ...desk.Job) int {
		t.Helper()
		n, err := s.EnqueueAdded(e.ctx, jobs...)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	inbox := desk.Job{ID: "inbox/E1", Kind: "slack.inbox", Queue: desk.QueueInput, DueAt: T0}
	if n := count(inbox, desk.Job{ID: "inbox/E2", Kind: "slack.inbox", Queue: desk.QueueInput, DueAt: T0}); n != 2 {
		t.Errorf("two new jobs: added %d", n)
	}
	if n := count(inbox); n != 0 {
		t.Errorf("a pending job again: added %d", n)
	}
	if err := e.s.Complete(e.ctx, inbox.ID); err != nil {
		t.Fatal(err)
	}
	if n := count(inbox); n != 0 {
		t.Errorf("a done job again: added %d", n)
	}
	home := desk.Job{ID: "slack.home/U1", Kind: "slack.home", Coalesce: true, DueAt: T0}
	if n := count(home) + count(home); n != 2 {
		t.Errorf("a coalescing job twice: added %d", n)
	}
	if _, err := s.EnqueueAdded(e.ctx, desk.Job{ID: "no-kind"}); err == nil {
		t.Error("a job without a kind was added")
	}
}

// A claim marks the jobs it takes over from another owner whose claim ran
// out (a lease takeover, for metrics), and no other: not a fresh job, not
// one whose claim ended (released, rescheduled), not the owner's own.
func testClaimTakeover(t *testing.T, e *env) {
	const q = desk.QueueEffects
	e.enqueue(t, desk.Job{ID: "dead", Kind: "x", DueAt: T0}, desk.Job{ID: "released", Kind: "x", DueAt: T0},
		desk.Job{ID: "retried", Kind: "x", DueAt: T0}, desk.Job{ID: "stalled", Kind: "x", DueAt: T0}, desk.Job{ID: "fresh", Kind: "x", DueAt: T0.Add(5 * time.Second)})
	r := e.Replica(t)
	if g := e.claim(t, r, q, "A", T0, 3); !slices.Equal(g, []string{"dead", "released", "retried"}) {
		t.Fatalf("A claims %v", g)
	}
	if g := e.claim(t, e.s, q, "B", T0, 0); !slices.Equal(g, []string{"stalled"}) {
		t.Fatalf("B claims %v", g)
	}
	if err := r.Release(e.ctx, "A", []string{"released"}); err != nil {
		t.Fatal(err)
	}
	if err := e.s.Retry(e.ctx, "retried", T0, "429"); err != nil {
		t.Fatal(err)
	}
	after := T0.Add(lease + time.Second)
	taken := func(s desk.Storage, owner string) map[string]bool {
		t.Helper()
		jobs, err := s.Claim(e.ctx, q, owner, after, 0, lease)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]bool{}
		for _, j := range jobs {
			out[j.ID] = j.TakenOver
		}
		return out
	}
	got := taken(e.s, "C")
	want := map[string]bool{"dead": true, "stalled": true, "released": false, "retried": false, "fresh": false}
	for id, w := range want {
		if v, ok := got[id]; !ok || v != w {
			t.Errorf("C's claim of %s: taken over %v (claimed %v), want %v", id, v, ok, w)
		}
	}
	// C's own claim running out and C claiming again is no takeover.
	after = after.Add(lease + time.Second)
	for id, v := range taken(e.s, "C") {
		if v {
			t.Errorf("C took over its own claim of %s", id)
		}
	}
}
