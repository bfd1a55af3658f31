package desk

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// Handler performs one job. It must be idempotent: a crash after the effect
// and before Complete runs it again.
type Handler func(ctx context.Context, j Job) error

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

// RunnerOptions configure a Runner. The zero value is usable.
type RunnerOptions struct {
	Logger *slog.Logger
	Now    func() time.Time
	// Concurrency is how many effect jobs run at once, default 4, and
	// InputConcurrency how many input jobs, default 4. Within a queue one
	// job at a time runs per incident, so a channel's messages keep their
	// order; the queues never wait for each other.
	Concurrency      int
	InputConcurrency int
	MaxBackoff       time.Duration // default 5m
	Poll             time.Duration // how often to look for due jobs when idle, default 1s
	// JobTimeout is the deadline of one run of a job, default 30s. A run
	// that exceeds it is retried with backoff like a 5xx; one whose handler
	// ignores its context is abandoned JobTimeout/2 (at least 1 s) later (its lane goes on,
	// and the job is not started again while the abandoned run is alive).
	JobTimeout time.Duration
	// Classify maps an adapter error to a retry delay (e.g. a Slack 429);
	// ok=false leaves the default handling.
	Classify func(err error) (delay time.Duration, permanent bool, ok bool)
	// Owner names this runner in its job claims; default host name,
	// process id and a random suffix, unique per runner.
	Owner string
	// Lease is how long a claim on a job lasts without renewal (default
	// 10s): a replica that stops renewing loses its claims at most Lease
	// later, and another replica runs the jobs within Poll more. (A store
	// may end a dead owner's claims sooner: pgstore does when the owner's
	// process is gone.) Claims are renewed every RenewEvery, default
	// Lease/4.
	Lease      time.Duration
	RenewEvery time.Duration
	// Observe, if set, is told what happens to each run of a job (for
	// metrics); it must be quick and must not block.
	Observe func(JobEvent)
}

// Runner executes durable jobs from the two queues: each due job is handed
// to the handler for its kind under a deadline; success completes it,
// failure reschedules it with backoff.
type Runner struct {
	store    JobStore
	handlers map[string]Handler
	opts     RunnerOptions
	log      *slog.Logger
	queues   []*queueLoop
}

// queueLoop runs the jobs of one queue.
type queueLoop struct {
	queue string
	conc  int
	wake  chan struct{}

	mu      sync.Mutex
	running map[string]bool // job IDs in flight (abandoned runs included)
	busy    map[int64]bool  // incidents with a job in flight
	// finished holds the jobs that finished since the current claim
	// began: the store's listing may predate their completion, and a
	// finished job must not start again from it.
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
	if opts.InputConcurrency <= 0 {
		opts.InputConcurrency = 4
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 5 * time.Minute
	}
	if opts.Poll <= 0 {
		opts.Poll = time.Second
	}
	if opts.JobTimeout <= 0 {
		opts.JobTimeout = 30 * time.Second
	}
	if opts.Owner == "" {
		opts.Owner = defaultOwner()
	}
	if opts.Lease <= 0 {
		opts.Lease = 10 * time.Second
	}
	if opts.RenewEvery <= 0 {
		opts.RenewEvery = opts.Lease / 4
	}
	r := &Runner{store: store, handlers: map[string]Handler{}, opts: opts, log: opts.Logger}
	r.queues = []*queueLoop{newQueueLoop(QueueEffects, opts.Concurrency), newQueueLoop(QueueInput, opts.InputConcurrency)}
	return r
}

func newQueueLoop(queue string, conc int) *queueLoop {
	return &queueLoop{queue: queue, conc: conc, wake: make(chan struct{}, 1),
		running: map[string]bool{}, busy: map[int64]bool{}, finished: map[string]bool{}}
}

// defaultOwner names a runner uniquely: host, process, random suffix.
func defaultOwner() string {
	host, _ := os.Hostname()
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s/%d/%x", host, os.Getpid(), b)
}

// Owner is the name of the runner's claims.
func (r *Runner) Owner() string { return r.opts.Owner }

// Handle registers the handler for a job kind, whichever queue it is in.
func (r *Runner) Handle(kind string, h Handler) { r.handlers[kind] = h }

// Wake makes the runner look for due jobs now.
func (r *Runner) Wake() {
	for _, q := range r.queues {
		select {
		case q.wake <- struct{}{}:
		default:
		}
	}
}

// Run executes jobs until ctx is done.
func (r *Runner) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, q := range r.queues {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.loop(ctx, q)
		}()
	}
	wg.Wait()
	return ctx.Err()
}

// loop runs one queue's due jobs until ctx is done: it claims as many as
// it has free slots, and renews the claims of the jobs in flight.
func (r *Runner) loop(ctx context.Context, q *queueLoop) {
	sem := make(chan struct{}, q.conc)
	var wg sync.WaitGroup
	defer wg.Wait()
	go r.renew(ctx, q)
	for ctx.Err() == nil {
		started := 0
		if free := cap(sem) - len(sem); free > 0 {
			q.mu.Lock()
			clear(q.finished) // the claim below sees their outcome
			q.mu.Unlock()
			jobs, err := r.store.Claim(ctx, q.queue, r.opts.Owner, r.opts.Now(), free, r.opts.Lease)
			if err != nil && ctx.Err() == nil {
				r.log.Error("claiming due jobs", "queue", q.name(), "err", err)
			}
			var skipped []string
			for _, j := range jobs {
				if j.TakenOver {
					r.LeaseTakenOver(j)
				}
				if !q.claim(j) {
					skipped = append(skipped, j.ID) // an abandoned run of it is still alive here
					continue
				}
				sem <- struct{}{} // never blocks: at most free jobs were claimed
				started++
				wg.Add(1)
				go func(j Job) {
					defer wg.Done()
					defer func() { <-sem }()
					r.runOne(ctx, q, j)
					r.Wake()
				}(j)
			}
			r.release(ctx, skipped...)
		}
		r.idle(ctx, q, started)
	}
}

// renew extends the claims of the queue's jobs in flight until ctx is done.
func (r *Runner) renew(ctx context.Context, q *queueLoop) {
	t := time.NewTicker(r.opts.RenewEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		ids := q.inFlight()
		if len(ids) == 0 {
			continue
		}
		if err := r.store.Renew(ctx, r.opts.Owner, ids, r.opts.Now().Add(r.opts.Lease)); err != nil && ctx.Err() == nil {
			r.log.Warn("renewing job claims", "queue", q.name(), "jobs", len(ids), "err", err)
		}
	}
}

// release gives claims back, also while shutting down, so that another
// replica need not wait for the lease to run the jobs.
func (r *Runner) release(ctx context.Context, ids ...string) {
	if len(ids) == 0 {
		return
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	if err := r.store.Release(rctx, r.opts.Owner, ids); err != nil {
		r.log.Warn("releasing job claims", "jobs", len(ids), "err", err)
	}
}

// idle waits for a wake-up, the poll interval or the next due job.
func (r *Runner) idle(ctx context.Context, q *queueLoop, started int) {
	wait := r.opts.Poll
	if started == 0 {
		if next, ok, err := r.store.NextDue(ctx, q.queue); err == nil && ok {
			if d := next.Sub(r.opts.Now()); d > 0 && d < wait {
				wait = d
			}
		}
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-q.wake:
	case <-t.C:
	}
}

func (q *queueLoop) name() string {
	if q.queue == QueueEffects {
		return "effects"
	}
	return q.queue
}

// claim marks a job in flight unless it, or its incident's lane, is busy
// here (an abandoned run is still alive).
func (q *queueLoop) claim(j Job) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.running[j.ID] || (j.Incident != 0 && q.busy[j.Incident]) || q.finished[j.ID] {
		return false
	}
	q.running[j.ID] = true
	if j.Incident != 0 {
		q.busy[j.Incident] = true
	}
	return true
}

// release frees the incident's lane and, when the run is over, the job.
func (q *queueLoop) release(j Job, over bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if over {
		delete(q.running, j.ID)
		q.finished[j.ID] = true
	}
	if j.Incident != 0 {
		delete(q.busy, j.Incident)
	}
}

// inFlight lists the jobs running here.
func (q *queueLoop) inFlight() []string {
	q.mu.Lock()
	defer q.mu.Unlock()
	ids := make([]string, 0, len(q.running))
	for id := range q.running {
		ids = append(ids, id)
	}
	return ids
}

func (r *Runner) runOne(ctx context.Context, q *queueLoop, j Job) {
	h := r.handlers[j.Kind]
	if h == nil {
		defer q.release(j, true)
		// No adapter for this kind in this process (e.g. PagerDuty not
		// configured): nothing will ever run it.
		r.log.Warn("no handler for job; dropping", "job", j.ID)
		_ = r.store.Complete(ctx, j.ID)
		r.observe(j, JobDropped)
		return
	}
	r.observe(j, JobStarted)
	abandoned, err := r.call(ctx, q, h, j)
	if !abandoned {
		defer q.release(j, true)
	}
	if err == nil {
		if cerr := r.store.CompleteJob(ctx, j); cerr != nil {
			if ctx.Err() == nil {
				r.log.Error("completing job", "job", j.ID, "err", cerr)
			}
			return
		}
		r.observe(j, JobDone)
		return
	}
	if hitDeadline(err) {
		r.observe(j, JobAbandoned)
	}
	if ctx.Err() != nil {
		// Shutting down: the job stays due and runs after a restart, or
		// at once on another replica.
		r.release(ctx, j.ID)
		return
	}
	r.fail(ctx, j, err)
}

// call runs the handler under the job deadline. A handler that is still
// running JobTimeout/2 (at least 1 s) after its deadline is abandoned: its lane is freed
// now (the job is rescheduled as failed), and the job itself when the
// handler finally returns, completing it if it succeeded after all.
func (r *Runner) call(ctx context.Context, q *queueLoop, h Handler, j Job) (abandoned bool, err error) {
	jctx, cancel := context.WithTimeout(ctx, r.opts.JobTimeout)
	done := make(chan error, 1)
	go func() {
		defer cancel()
		err := safeCall(jctx, h, j)
		if err != nil && errors.Is(jctx.Err(), context.DeadlineExceeded) {
			err = &deadlineError{fmt.Errorf("job %s: no answer within %s: %w", j.ID, r.opts.JobTimeout, err)}
		}
		done <- err
	}()
	grace := time.NewTimer(r.opts.JobTimeout + max(r.opts.JobTimeout/2, time.Second))
	defer grace.Stop()
	select {
	case err = <-done:
		return false, err
	case <-grace.C:
		go func() {
			if <-done == nil && r.store.CompleteJob(context.WithoutCancel(ctx), j) == nil {
				r.observe(j, JobDone) // a late success
			}
			q.release(j, true)
		}()
		q.release(j, false)
		return true, &deadlineError{fmt.Errorf("job %s: handler ignored its %s deadline; abandoned", j.ID, r.opts.JobTimeout)}
	}
}

// fail reschedules a failed job, or drops it when retrying cannot help.
func (r *Runner) fail(ctx context.Context, j Job, err error) {
	delay, permanent := r.classify(err, j.Attempts)
	if permanent {
		r.log.Error("job failed permanently", "job", j.ID, "attempts", j.Attempts+1, "err", err)
		_ = r.store.Complete(ctx, j.ID)
		r.observe(j, JobFailed)
		return
	}
	r.observe(j, JobRetried)
	r.log.Warn("job failed; will retry", "job", j.ID, "attempts", j.Attempts+1, "retry_in", delay.String(), "err", err)
	if rerr := r.store.Retry(ctx, j.ID, r.opts.Now().Add(delay), err.Error()); rerr != nil && ctx.Err() == nil {
		r.log.Error("rescheduling job", "job", j.ID, "err", rerr)
	}
}

func safeCall(ctx context.Context, h Handler, j Job) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = Permanent(fmt.Errorf("panic in job %s: %v", j.ID, p))
		}
	}()
	return h(ctx, j)
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
