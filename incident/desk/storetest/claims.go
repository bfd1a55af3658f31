package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/incident/desk"
)

const lease = 10 * time.Second

func (e *env) claim(t *testing.T, s desk.Storage, queue, owner string, now time.Time, limit int) []string {
	t.Helper()
	jobs, err := s.Claim(e.ctx, queue, owner, now, limit, lease)
	if err != nil {
		t.Fatal(err)
	}
	return JobIDs(jobs)
}

func (e *env) enqueue(t *testing.T, jobs ...desk.Job) {
	t.Helper()
	if err := e.s.Enqueue(e.ctx, jobs...); err != nil {
		t.Fatal(err)
	}
}

func testClaims(t *testing.T, e *env) {
	const q = desk.QueueEffects
	e.enqueue(t, desk.Job{ID: "a", Kind: "x", DueAt: T0}, desk.Job{ID: "b", Kind: "x", DueAt: T0}, desk.Job{ID: "later", Kind: "x", DueAt: at(5)})
	if g := e.claim(t, e.s, q, "A", T0, 1); !slices.Equal(g, []string{"a"}) {
		t.Fatalf("A claims %v, want a", g)
	}
	r := e.Replica(t)
	if g := e.claim(t, r, q, "B", T0, 0); !slices.Equal(g, []string{"b"}) {
		t.Fatalf("B claims %v, want b (a is A's, later is not due)", g)
	}
	if g := e.claim(t, r, q, "B", T0.Add(lease-time.Second), 0); len(g) != 0 {
		t.Fatalf("claimed jobs claimed again before their lease ran out: %v", g)
	}
	// Claimed jobs are still pending and due.
	if g := e.due(t, q, T0, 0); !slices.Equal(g, []string{"a", "b"}) {
		t.Fatalf("Due = %v", g)
	}
	// A's and B's claims run out: whoever claims next gets the jobs.
	if g := e.claim(t, r, q, "C", T0.Add(lease), 0); !slices.Equal(g, []string{"a", "b"}) {
		t.Fatalf("after the lease C claims %v, want a b", g)
	}
}

func testClaimLanes(t *testing.T, e *env) {
	const q = desk.QueueEffects
	e.enqueue(t,
		desk.Job{ID: "i1/2", Kind: "x", Incident: 1, DueAt: at(1)},
		desk.Job{ID: "i1/1", Kind: "x", Incident: 1, DueAt: T0},
		desk.Job{ID: "i1/3", Kind: "x", Incident: 1, DueAt: at(1)},
		desk.Job{ID: "i2/1", Kind: "x", Incident: 2, DueAt: at(2)},
		desk.Job{ID: "free", Kind: "x", DueAt: at(3)},
		desk.Job{ID: "in/i1", Kind: "x", Incident: 1, DueAt: T0, Queue: desk.QueueInput},
	)
	now := at(10)
	if g := e.claim(t, e.s, q, "A", now, 0); !slices.Equal(g, []string{"i1/1", "i2/1", "free"}) {
		t.Fatalf("A claims %v, want the head of each incident's lane and the free job", g)
	}
	r := e.Replica(t)
	if g := e.claim(t, r, q, "B", now, 0); len(g) != 0 {
		t.Fatalf("B claims %v while each lane has a claimed job", g)
	}
	// Lanes are per queue.
	if g := e.claim(t, r, desk.QueueInput, "B", now, 0); !slices.Equal(g, []string{"in/i1"}) {
		t.Fatalf("input queue: B claims %v", g)
	}
	if err := e.s.Complete(e.ctx, "i1/1"); err != nil {
		t.Fatal(err)
	}
	if g := e.claim(t, r, q, "B", now, 0); !slices.Equal(g, []string{"i1/2"}) {
		t.Fatalf("after i1/1 completed B claims %v, want i1/2 (due time, then ID)", g)
	}
	// A retried job ends its claim and leaves the lane free for the next.
	if err := r.Retry(e.ctx, "i1/2", at(60), "boom"); err != nil {
		t.Fatal(err)
	}
	if g := e.claim(t, e.s, q, "A", now, 0); !slices.Equal(g, []string{"i1/3"}) {
		t.Fatalf("after i1/2 was retried later A claims %v, want i1/3", g)
	}
	// A limit counts jobs.
	if err := e.s.Release(e.ctx, "A", []string{"i1/3", "i2/1", "free"}); err != nil {
		t.Fatal(err)
	}
	if g := e.claim(t, r, q, "B", now, 2); !slices.Equal(g, []string{"i1/3", "i2/1"}) {
		t.Fatalf("B claims %v with limit 2", g)
	}
}

func testRenewRelease(t *testing.T, e *env) {
	const q = desk.QueueEffects
	e.enqueue(t, desk.Job{ID: "j", Kind: "x", Incident: 1, DueAt: T0}, desk.Job{ID: "k", Kind: "x", DueAt: T0})
	if g := e.claim(t, e.s, q, "A", T0, 0); len(g) != 2 {
		t.Fatalf("A claims %v", g)
	}
	r := e.Replica(t)
	// Only the owner renews or releases.
	if err := r.Renew(e.ctx, "B", []string{"j", "k"}, T0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := r.Release(e.ctx, "B", []string{"j", "k"}); err != nil {
		t.Fatal(err)
	}
	if g := e.claim(t, r, q, "B", T0.Add(time.Second), 0); len(g) != 0 {
		t.Fatalf("B claims %v: another owner's renewal or release changed A's claims", g)
	}
	if err := e.s.Renew(e.ctx, "A", []string{"j"}, T0.Add(8*time.Second+lease)); err != nil {
		t.Fatal(err)
	}
	if g := e.claim(t, r, q, "B", T0.Add(15*time.Second), 0); !slices.Equal(g, []string{"k"}) {
		t.Fatalf("at +15s B claims %v, want k (j's claim was renewed until +18s)", g)
	}
	if err := e.s.Release(e.ctx, "A", []string{"j"}); err != nil {
		t.Fatal(err)
	}
	if g := e.claim(t, r, q, "B", T0.Add(15*time.Second), 0); !slices.Equal(g, []string{"j"}) {
		t.Fatalf("after A released j B claims %v", g)
	}
	if err := e.s.Renew(e.ctx, "A", nil, T0); err != nil {
		t.Fatal(err)
	}
}

// testClaimCoalescing: a coalescing job asked for while it runs stays
// pending after the run, unclaimed, for one more run.
func testClaimCoalescing(t *testing.T, e *env) {
	const q = desk.QueueEffects
	card := desk.Job{ID: "slack.card/1", Kind: "slack.card", Incident: 1, Coalesce: true, DueAt: T0}
	e.enqueue(t, card)
	jobs, err := e.s.Claim(e.ctx, q, "A", T0, 0, lease)
	if err != nil || len(jobs) != 1 {
		t.Fatalf("claim = %v, %v", jobs, err)
	}
	e.enqueue(t, card)
	if err := e.s.CompleteJob(e.ctx, jobs[0]); err != nil {
		t.Fatal(err)
	}
	again, err := e.Replica(t).Claim(e.ctx, q, "B", T0, 0, lease)
	if err != nil || len(again) != 1 || again[0].Gen != 1 {
		t.Fatalf("B claims %+v, %v; want the card once more (Gen 1)", again, err)
	}
}

// testConcurrentClaims claims from several goroutines on two handles at
// once: no job is claimed twice, no incident has two claimed jobs.
func testConcurrentClaims(t *testing.T, e *env) {
	const q = desk.QueueEffects
	var jobs []desk.Job
	for i := range 40 {
		jobs = append(jobs, desk.Job{ID: fmt.Sprintf("j%02d", i), Kind: "x", Incident: int64(i % 5), DueAt: T0})
	}
	e.enqueue(t, jobs...)
	stores := []desk.Storage{e.s, e.Replica(t)}
	var (
		mu      sync.Mutex
		claimed = map[string]string{}
		lanes   = map[int64]int{}
		wg      sync.WaitGroup
	)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			owner := fmt.Sprint("w", w)
			for range 5 {
				got, err := stores[w%2].Claim(e.ctx, q, owner, T0, 3, lease)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				for _, j := range got {
					if prev, ok := claimed[j.ID]; ok {
						t.Errorf("%s claimed by %s and %s", j.ID, prev, owner)
					}
					claimed[j.ID] = owner
					lanes[j.Incident]++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	for inc, n := range lanes {
		if inc != 0 && n != 1 {
			t.Errorf("incident %d has %d claimed jobs, want 1", inc, n)
		}
	}
	if lanes[0] != 8 || len(claimed) != 12 {
		t.Errorf("claimed %d jobs (%d without incident), want 12 (the 8 without incident and one per incident)", len(claimed), lanes[0])
	}
}

// testWithLock: a named lock excludes holders on every handle; other names
// do not wait; fn's error is returned as is.
func testWithLock(t *testing.T, e *env) {
	stores := []desk.Storage{e.s, e.Replica(t)}
	var inside, most atomic.Int32
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := stores[i%2].WithLock(e.ctx, "desk.open", func(ctx context.Context) error {
				n := inside.Add(1)
				for {
					m := most.Load()
					if n <= m || most.CompareAndSwap(m, n) {
						break
					}
				}
				time.Sleep(5 * time.Millisecond)
				inside.Add(-1)
				return nil
			})
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if most.Load() != 1 {
		t.Fatalf("%d holders of one lock at once", most.Load())
	}
	held, release := make(chan struct{}), make(chan struct{})
	go func() {
		_ = e.s.WithLock(e.ctx, "a", func(context.Context) error { close(held); <-release; return nil })
	}()
	<-held
	boom := errors.New("boom")
	if err := stores[1].WithLock(e.ctx, "b", func(context.Context) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("WithLock(b) while a is held = %v, want fn's error", err)
	}
	close(release)
}
