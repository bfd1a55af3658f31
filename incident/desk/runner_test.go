package desk_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/incident/boltstore"
	"github.com/incidentbot/incidentbot/incident/desk"
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
