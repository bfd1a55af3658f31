package desk_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/incident/boltstore"
	"github.com/incidentbot/incidentbot/incident/boltstore/bolttest"
	"github.com/incidentbot/incidentbot/incident/desk"
	"github.com/incidentbot/incidentbot/incident/incidenttest"
)

// Each due job runs once, also when jobs finish while the runner is
// claiming more.
func TestRunnerRunsEachJobOnce(t *testing.T) {
	_, st, clk := setup(t)
	ctx := context.Background()
	const n = 100
	var jobs []desk.Job
	for i := range n {
		// Incident 0: no per-incident serialisation hides a second run.
		jobs = append(jobs, desk.Job{ID: fmt.Sprintf("once/%d", i), Kind: "once", DueAt: clk.Now()})
	}
	if err := st.Enqueue(ctx, jobs...); err != nil {
		t.Fatal(err)
	}
	var (
		mu   sync.Mutex
		runs = map[string]int{}
	)
	// A slow claim: jobs in flight finish while Claim is still returning.
	r := desk.NewRunner(slowClaim{st}, desk.RunnerOptions{Now: clk.Now, Poll: time.Millisecond, Concurrency: 8})
	r.Handle("once", func(ctx context.Context, j desk.Job) error {
		mu.Lock()
		runs[j.ID]++
		mu.Unlock()
		time.Sleep(time.Millisecond)
		return nil
	})
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- r.Run(rctx) }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		pending, err := st.Pending(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(pending) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d jobs still pending", len(pending))
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	cancel()
	<-done
	mu.Lock()
	defer mu.Unlock()
	if len(runs) != n {
		t.Errorf("%d jobs ran, want %d", len(runs), n)
	}
	for id, k := range runs {
		if k != 1 {
			t.Errorf("job %s ran %d times", id, k)
		}
	}
}

// slowClaim is a job store whose claims take a while.
type slowClaim struct{ *boltstore.Store }

func (s slowClaim) Claim(ctx context.Context, queue, owner string, now time.Time, limit int, lease time.Duration) ([]desk.Job, error) {
	jobs, err := s.Store.Claim(ctx, queue, owner, now, limit, lease)
	time.Sleep(5 * time.Millisecond)
	return jobs, err
}

// runFor runs r until the test ends.
func runFor(t *testing.T, r *desk.Runner) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

// A job that does not finish within its deadline is retried like a 5xx:
// its context ends, the attempt is stored with the reason, and the
// incident's next job runs.
func TestRunnerJobDeadline(t *testing.T) {
	st := bolttest.Open(t, boltstore.Options{})
	clk := incidenttest.NewClock(incidenttest.T0)
	ctx := context.Background()
	r := desk.NewRunner(st, desk.RunnerOptions{Now: clk.Now, Poll: 5 * time.Millisecond, JobTimeout: 50 * time.Millisecond})
	next := make(chan struct{})
	r.Handle("hang", func(ctx context.Context, j desk.Job) error { <-ctx.Done(); return ctx.Err() })
	r.Handle("next", func(context.Context, desk.Job) error { close(next); return nil })
	if err := st.Enqueue(ctx, desk.Job{ID: "hang/1", Kind: "hang", Incident: 1, DueAt: clk.Now()}, desk.Job{ID: "next/1", Kind: "next", Incident: 1, DueAt: clk.Now().Add(time.Nanosecond)}); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Millisecond)
	runFor(t, r)
	<-next
	incidenttest.Eventually(t, "the hung job rescheduled", func() bool {
		jobs, _ := st.Pending(ctx)
		return len(jobs) == 1 && jobs[0].Attempts == 1 && strings.Contains(jobs[0].LastError, "no answer within 50ms")
	})
}

// A handler that ignores its context is abandoned after its deadline and
// half again: its incident's lane goes on, and the job is not started a
// second time while the abandoned run is still alive.
func TestRunnerAbandonsHandlerIgnoringDeadline(t *testing.T) {
	st := bolttest.Open(t, boltstore.Options{})
	clk := incidenttest.NewClock(incidenttest.T0)
	ctx := context.Background()
	r := desk.NewRunner(st, desk.RunnerOptions{Now: clk.Now, Poll: 5 * time.Millisecond, JobTimeout: 20 * time.Millisecond,
		Classify: func(error) (time.Duration, bool, bool) { return 0, false, true }}) // retry at once
	release := make(chan struct{})
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { close(release) }) })
	var mu sync.Mutex
	starts := 0
	r.Handle("stuck", func(context.Context, desk.Job) error {
		mu.Lock()
		starts++
		mu.Unlock()
		<-release
		return nil
	})
	next := make(chan struct{})
	r.Handle("next", func(context.Context, desk.Job) error { close(next); return nil })
	if err := st.Enqueue(ctx, desk.Job{ID: "stuck/1", Kind: "stuck", Incident: 1, DueAt: clk.Now()}, desk.Job{ID: "next/1", Kind: "next", Incident: 1, DueAt: clk.Now().Add(time.Nanosecond)}); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Millisecond)
	runFor(t, r)
	<-next // the lane went on past the stuck handler
	// The stuck job is due again at once, but its run is still alive.
	time.Sleep(50 * time.Millisecond)
	mu.Lock()
	n := starts
	mu.Unlock()
	if n != 1 {
		t.Fatalf("the stuck job started %d times while its first run was alive", n)
	}
	once.Do(func() { close(release) })
	incidenttest.Eventually(t, "the stuck job done after its release", func() bool {
		jobs, _ := st.Pending(ctx)
		return len(jobs) == 0
	})
	mu.Lock()
	defer mu.Unlock()
	if starts != 1 {
		t.Errorf("the stuck job ran %d times; its late success should complete it", starts)
	}
}
