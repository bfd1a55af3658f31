package desk_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/incident/boltstore"
	"github.com/incidentbot/incidentbot/incident/boltstore/bolttest"
	"github.com/incidentbot/incidentbot/incident/desk"
	"github.com/incidentbot/incidentbot/incident/incidenttest"
)

// jobEvents records what a runner tells its observer.
type jobEvents struct {
	mu  sync.Mutex
	evs []desk.JobEvent
}

func (r *jobEvents) observe(ev desk.JobEvent) {
	r.mu.Lock()
	r.evs = append(r.evs, ev)
	r.mu.Unlock()
}

// of returns the outcomes told for kind, in order.
func (r *jobEvents) of(kind string) []desk.JobOutcome {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []desk.JobOutcome
	for _, ev := range r.evs {
		if ev.Kind == kind {
			out = append(out, ev.Outcome)
		}
	}
	return out
}

// The observer is told each run's start and its one outcome: done,
// retried, failed permanently, abandoned at its deadline (and retried), or
// dropped for want of a handler; the queue comes with the kind.
func TestRunnerTellsTheObserverEachOutcome(t *testing.T) {
	st := bolttest.Open(t, boltstore.Options{})
	clk := incidenttest.NewClock(incidenttest.T0)
	ctx := context.Background()
	rec := &jobEvents{}
	r := desk.NewRunner(st, desk.RunnerOptions{Now: clk.Now, Poll: 5 * time.Millisecond, JobTimeout: 50 * time.Millisecond, Observe: rec.observe})
	var mu sync.Mutex
	flaky := 0
	r.Handle("flaky", func(context.Context, desk.Job) error {
		mu.Lock()
		defer mu.Unlock()
		if flaky++; flaky == 1 {
			return &desk.RetryAfterError{Err: errors.New("429")} // due again at once
		}
		return nil
	})
	r.Handle("broken", func(context.Context, desk.Job) error { return desk.Permanent(errors.New("channel_not_found")) })
	hung := make(chan struct{})
	r.Handle("hang", func(ctx context.Context, j desk.Job) error {
		<-ctx.Done()
		close(hung)
		return ctx.Err()
	})
	if err := st.Enqueue(ctx,
		desk.Job{ID: "flaky/1", Kind: "flaky", Queue: desk.QueueInput, DueAt: clk.Now()},
		desk.Job{ID: "broken/1", Kind: "broken", DueAt: clk.Now()},
		desk.Job{ID: "hang/1", Kind: "hang", DueAt: clk.Now()},
		desk.Job{ID: "orphan/1", Kind: "orphan", DueAt: clk.Now()}); err != nil {
		t.Fatal(err)
	}
	runFor(t, r)
	<-hung
	want := map[string][]desk.JobOutcome{
		"flaky":  {desk.JobStarted, desk.JobRetried, desk.JobStarted, desk.JobDone},
		"broken": {desk.JobStarted, desk.JobFailed},
		"hang":   {desk.JobStarted, desk.JobAbandoned, desk.JobRetried},
		"orphan": {desk.JobDropped},
	}
	for kind, w := range want {
		incidenttest.Eventually(t, kind+" outcomes", func() bool { return slices.Equal(rec.of(kind), w) })
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for _, ev := range rec.evs {
		if (ev.Queue == desk.QueueInput) != (ev.Kind == "flaky") {
			t.Errorf("event %+v: wrong queue", ev)
		}
	}
}

// A handler that ignores its deadline is told abandoned once, and done
// when its late success completes the job.
func TestRunnerTellsALateSuccessDone(t *testing.T) {
	st := bolttest.Open(t, boltstore.Options{})
	clk := incidenttest.NewClock(incidenttest.T0)
	rec := &jobEvents{}
	r := desk.NewRunner(st, desk.RunnerOptions{Now: clk.Now, Poll: 5 * time.Millisecond, JobTimeout: 20 * time.Millisecond, Observe: rec.observe,
		Classify: func(error) (time.Duration, bool, bool) { return time.Hour, false, true }})
	release := make(chan struct{})
	r.Handle("stuck", func(context.Context, desk.Job) error { <-release; return nil })
	if err := st.Enqueue(context.Background(), desk.Job{ID: "stuck/1", Kind: "stuck", DueAt: clk.Now()}); err != nil {
		t.Fatal(err)
	}
	runFor(t, r)
	abandoned := []desk.JobOutcome{desk.JobStarted, desk.JobAbandoned, desk.JobRetried}
	incidenttest.Eventually(t, "the stuck run abandoned", func() bool { return slices.Equal(rec.of("stuck"), abandoned) })
	close(release)
	incidenttest.Eventually(t, "the late success told", func() bool {
		return slices.Equal(rec.of("stuck"), append(abandoned, desk.JobDone))
	})
}

// A job whose claim by a dead replica ran out is taken over: the runner
// that claims it tells a lease takeover, then runs it. LeaseTakenOver is
// safe on a runner without an observer.
func TestRunnerTellsALeaseTakeover(t *testing.T) {
	st := bolttest.Open(t, boltstore.Options{})
	clk := incidenttest.NewClock(incidenttest.T0)
	ctx := context.Background()
	if err := st.Enqueue(ctx, desk.Job{ID: "post/1", Kind: "post", Incident: 1, DueAt: clk.Now()}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Claim(ctx, desk.QueueEffects, "dead-replica", clk.Now(), 0, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	clk.Advance(11 * time.Second) // the dead replica's lease ran out
	rec := &jobEvents{}
	r := desk.NewRunner(st, desk.RunnerOptions{Now: clk.Now, Poll: 5 * time.Millisecond, Lease: 10 * time.Second, Observe: rec.observe})
	r.Handle("post", func(context.Context, desk.Job) error { return nil })
	runFor(t, r)
	want := []desk.JobOutcome{desk.JobLeaseTakeover, desk.JobStarted, desk.JobDone}
	incidenttest.Eventually(t, "the takeover told", func() bool { return slices.Equal(rec.of("post"), want) })
	desk.NewRunner(st, desk.RunnerOptions{}).LeaseTakenOver(desk.Job{Kind: "post"})
}
