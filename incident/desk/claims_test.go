package desk_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/incident/boltstore"
	"github.com/incidentbot/incidentbot/incident/desk"
	"github.com/incidentbot/incidentbot/incident/incidenttest"
)

// countingStore counts the runner's claims and records its renewals.
type countingStore struct {
	*boltstore.Store
	mu     sync.Mutex
	claims int
	renews []time.Time
}

func (s *countingStore) Claim(ctx context.Context, queue, owner string, now time.Time, limit int, lease time.Duration) ([]desk.Job, error) {
	jobs, err := s.Store.Claim(ctx, queue, owner, now, limit, lease)
	s.mu.Lock()
	s.claims++
	s.mu.Unlock()
	return jobs, err
}

func (s *countingStore) Renew(ctx context.Context, owner string, ids []string, until time.Time) error {
	s.mu.Lock()
	s.renews = append(s.renews, until)
	s.mu.Unlock()
	return s.Store.Renew(ctx, owner, ids, until)
}

func (s *countingStore) claimCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.claims
}

func (s *countingStore) renewedUntil(t time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, u := range s.renews {
		if !u.Before(t) {
			return true
		}
	}
	return false
}

// runRunner runs r until the test ends.
func runRunner(t *testing.T, r *desk.Runner) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = r.Run(ctx); close(done) }()
	stop = func() { cancel(); <-done }
	t.Cleanup(stop)
	return stop
}

type runLog struct {
	mu   sync.Mutex
	runs map[string]int
}

func (l *runLog) handler(ctx context.Context, j desk.Job) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.runs == nil {
		l.runs = map[string]int{}
	}
	l.runs[j.ID]++
	return nil
}

func (l *runLog) count(id string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.runs[id]
}

// A job claimed by a replica that died (it never renews) runs on another
// replica once the claim's lease has run out, and not before.
func TestRunnerTakesOverAnExpiredClaim(t *testing.T) {
	_, bst, clk := setup(t)
	st := &countingStore{Store: bst}
	ctx := context.Background()
	if err := st.Enqueue(ctx, desk.Job{ID: "orphan", Kind: "k", Incident: 1, DueAt: clk.Now()}); err != nil {
		t.Fatal(err)
	}
	if got, _ := st.Store.Claim(ctx, desk.QueueEffects, "dead-replica", clk.Now(), 0, 10*time.Second); len(got) != 1 {
		t.Fatalf("the dead replica claimed %v", got)
	}
	var log runLog
	r := desk.NewRunner(st, desk.RunnerOptions{Now: clk.Now, Poll: time.Millisecond, Lease: 10 * time.Second})
	r.Handle("k", log.handler)
	runRunner(t, r)
	// The runner looks for jobs a few times while the claim holds.
	incidenttest.Eventually(t, "claims", func() bool { return st.claimCount() >= 6 })
	if n := log.count("orphan"); n != 0 {
		t.Fatalf("the job ran %d times while another replica's claim held", n)
	}
	clk.Advance(10 * time.Second)
	incidenttest.Eventually(t, "the orphaned job to run", func() bool { return log.count("orphan") == 1 })
	incidenttest.Eventually(t, "the job to complete", func() bool { p, _ := bst.Pending(ctx); return len(p) == 0 })
}

// A runner renews its claim while the job runs, so a second replica does
// not take a job that is merely slow.
func TestRunnerRenewsItsClaims(t *testing.T) {
	_, bst, clk := setup(t)
	st := &countingStore{Store: bst}
	ctx := context.Background()
	t0 := clk.Now()
	if err := st.Enqueue(ctx, desk.Job{ID: "slow", Kind: "slow", DueAt: t0}); err != nil {
		t.Fatal(err)
	}
	started, finish := make(chan struct{}), make(chan struct{})
	var runs int
	r := desk.NewRunner(st, desk.RunnerOptions{Now: clk.Now, Poll: time.Millisecond, Lease: 10 * time.Second,
		RenewEvery: time.Millisecond, JobTimeout: time.Hour})
	r.Handle("slow", func(ctx context.Context, j desk.Job) error {
		runs++
		close(started)
		<-finish
		return nil
	})
	runRunner(t, r)
	<-started
	clk.Advance(8 * time.Second)
	incidenttest.Eventually(t, "a renewal from +8s", func() bool { return st.renewedUntil(t0.Add(18 * time.Second)) })
	clk.Advance(7 * time.Second) // +15s: past the first lease, within the renewed one
	if got, err := bst.Claim(ctx, desk.QueueEffects, "other-replica", clk.Now(), 0, 10*time.Second); err != nil || len(got) != 0 {
		t.Fatalf("another replica claimed %v (%v) while the job was running and renewed", got, err)
	}
	close(finish)
	incidenttest.Eventually(t, "the job to complete", func() bool { p, _ := bst.Pending(ctx); return len(p) == 0 })
	if runs != 1 {
		t.Fatalf("ran %d times", runs)
	}
}

// A runner shutting down gives its claims back: another replica runs the
// interrupted job at once instead of after the lease.
func TestRunnerReleasesClaimsOnShutdown(t *testing.T) {
	_, st, clk := setup(t)
	ctx := context.Background()
	if err := st.Enqueue(ctx, desk.Job{ID: "j", Kind: "block", Incident: 3, DueAt: clk.Now()}); err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{})
	r := desk.NewRunner(st, desk.RunnerOptions{Now: clk.Now, Poll: time.Millisecond})
	r.Handle("block", func(ctx context.Context, j desk.Job) error {
		close(started)
		<-ctx.Done()
		return ctx.Err()
	})
	stop := runRunner(t, r)
	<-started
	stop()
	got, err := st.Claim(ctx, desk.QueueEffects, "other-replica", clk.Now(), 0, 10*time.Second)
	if err != nil || len(got) != 1 || got[0].ID != "j" {
		t.Fatalf("after shutdown another replica claims %v (%v), want j at once", got, err)
	}
}
