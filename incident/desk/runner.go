package desk

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/incidentbot/incidentbot/incident/boltstore"
)

// JobStore is what the runner needs from storage.
type JobStore interface {
	Due(ctx context.Context, now time.Time, limit int) ([]boltstore.Job, error)
	NextDue(ctx context.Context) (time.Time, bool, error)
	Complete(ctx context.Context, id string) error
	CompleteJob(ctx context.Context, run boltstore.Job) error
	Retry(ctx context.Context, id string, due time.Time, errText string) error
}

// Handler performs one job. It must be idempotent: a crash after the effect
// and before Complete runs it again.
type Handler func(ctx context.Context, j boltstore.Job) error

// RetryAfterError asks for the job to run again after Delay (a 429's
// Retry-After, or "the channel is not there yet").
type RetryAfterError struct {
	Delay time.Duration
	Err   error
}

func (e *RetryAfterError) Error() string {
	return fmt.Sprintf("retry after %s: %v", e.Delay, e.Err)
}
func (e *RetryAfterError) Unwrap() error { return e.Err }

// PermanentError gives up on a job: retrying cannot help.
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return "permanent: " + e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// Permanent wraps err as a PermanentError.
func Permanent(err error) error { return &PermanentError{Err: err} }

// RunnerOptions configure a Runner.
type RunnerOptions struct {
	Logger      *slog.Logger
	Now         func() time.Time
	Concurrency int           // jobs at once, default 4; one at a time per incident
	MaxBackoff  time.Duration // default 5m
	Poll        time.Duration // how often to look for due jobs when idle, default 1s
	// Classify maps an adapter error to a retry delay (e.g. a Slack 429);
	// ok=false leaves the default handling.
	Classify func(err error) (delay time.Duration, permanent bool, ok bool)
}

// Runner executes durable jobs: each due job is handed to the handler for
// its kind; success completes it, failure reschedules it with backoff.
type Runner struct {
	store    JobStore
	handlers map[string]Handler
	opts     RunnerOptions
	log      *slog.Logger
	wake     chan struct{}

	mu      sync.Mutex
	running map[string]bool // job IDs in flight
	busy    map[int64]bool  // incidents with a job in flight
	// finished holds the jobs that finished since the current listing of
	// due jobs began: a job that finishes after Due listed it but before
	// the loop reaches it must not start again from that stale listing.
	finished map[string]bool
}

// NewRunner returns a Runner.
func NewRunner(store JobStore, opts RunnerOptions) *Runner {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = 4
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 5 * time.Minute
	}
	if opts.Poll <= 0 {
		opts.Poll = time.Second
	}
	return &Runner{store: store, handlers: map[string]Handler{}, opts: opts, log: opts.Logger,
		wake: make(chan struct{}, 1), running: map[string]bool{}, busy: map[int64]bool{}, finished: map[string]bool{}}
}

// Handle registers the handler for a job kind.
func (r *Runner) Handle(kind string, h Handler) { r.handlers[kind] = h }

// Wake makes the runner look for due jobs now.
func (r *Runner) Wake() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Run executes jobs until ctx is done.
func (r *Runner) Run(ctx context.Context) error {
	sem := make(chan struct{}, r.opts.Concurrency)
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		r.mu.Lock()
		clear(r.finished) // the listing below sees their outcome
		r.mu.Unlock()
		jobs, err := r.store.Due(ctx, r.opts.Now(), 4*r.opts.Concurrency)
		if err != nil && ctx.Err() == nil {
			r.log.Error("listing due jobs", "err", err)
		}
		started := 0
		for _, j := range jobs {
			r.mu.Lock()
			skip := r.running[j.ID] || (j.Incident != 0 && r.busy[j.Incident]) || r.finished[j.ID]
			if !skip {
				r.running[j.ID] = true
				if j.Incident != 0 {
					r.busy[j.Incident] = true
				}
			}
			r.mu.Unlock()
			if skip {
				continue
			}
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				r.release(j)
				return ctx.Err()
			}
			started++
			wg.Add(1)
			go func(j boltstore.Job) {
				defer wg.Done()
				defer func() { <-sem }()
				defer r.release(j)
				r.runOne(ctx, j)
				r.Wake()
			}(j)
		}
		wait := r.opts.Poll
		if started == 0 {
			if next, ok, err := r.store.NextDue(ctx); err == nil && ok {
				if d := next.Sub(r.opts.Now()); d > 0 && d < wait {
					wait = d
				}
			}
		} else {
			wait = r.opts.Poll
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-r.wake:
		case <-t.C:
		}
		t.Stop()
	}
}

func (r *Runner) release(j boltstore.Job) {
	r.mu.Lock()
	delete(r.running, j.ID)
	r.finished[j.ID] = true
	if j.Incident != 0 {
		delete(r.busy, j.Incident)
	}
	r.mu.Unlock()
}

func (r *Runner) runOne(ctx context.Context, j boltstore.Job) {
	h := r.handlerFor(j.Kind)
	if h == nil {
		// No adapter for this kind in this process (e.g. PagerDuty not
		// configured): nothing will ever run it.
		r.log.Warn("no handler for job; dropping", "job", j.ID)
		_ = r.store.Complete(ctx, j.ID)
		return
	}
	err := safeCall(ctx, h, j)
	if err == nil {
		if cerr := r.store.CompleteJob(ctx, j); cerr != nil && ctx.Err() == nil {
			r.log.Error("completing job", "job", j.ID, "err", cerr)
		}
		return
	}
	if ctx.Err() != nil {
		return // shutting down: the job stays due and runs after restart
	}
	delay, permanent := r.classify(err, j.Attempts)
	if permanent {
		r.log.Error("job failed permanently", "job", j.ID, "attempts", j.Attempts+1, "err", err)
		_ = r.store.Complete(ctx, j.ID)
		return
	}
	r.log.Warn("job failed; will retry", "job", j.ID, "attempts", j.Attempts+1, "retry_in", delay, "err", err)
	if rerr := r.store.Retry(ctx, j.ID, r.opts.Now().Add(delay), err.Error()); rerr != nil && ctx.Err() == nil {
		r.log.Error("rescheduling job", "job", j.ID, "err", rerr)
	}
}

func safeCall(ctx context.Context, h Handler, j boltstore.Job) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = Permanent(fmt.Errorf("panic in job %s: %v", j.ID, p))
		}
	}()
	return h(ctx, j)
}

func (r *Runner) handlerFor(kind string) Handler {
	if h, ok := r.handlers[kind]; ok {
		return h
	}
	// A family handler: "slack" handles "slack.*".
	if fam, _, ok := strings.Cut(kind, "."); ok {
		return r.handlers[fam]
	}
	return nil
}

func (r *Runner) classify(err error, attempts int) (time.Duration, bool) {
	var ra *RetryAfterError
	if errors.As(err, &ra) {
		return ra.Delay, false
	}
	var pe *PermanentError
	if errors.As(err, &pe) {
		return 0, true
	}
	if r.opts.Classify != nil {
		if d, perm, ok := r.opts.Classify(err); ok {
			return d, perm
		}
	}
	return Backoff(attempts, r.opts.MaxBackoff), false
}

// Backoff is 1 s doubling per attempt, capped.
func Backoff(attempts int, max time.Duration) time.Duration {
	d := time.Second
	for i := 0; i < attempts && d < max; i++ {
		d *= 2
	}
	if d > max {
		d = max
	}
	return d
}
