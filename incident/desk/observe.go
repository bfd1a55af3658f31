package desk

import "errors"

// JobOutcome is what happened to one run of a job, as told to
// RunnerOptions.Observe. The set is fixed, so that it can label metrics.
type JobOutcome string

// Job outcomes. Every run that starts is told as JobStarted, then as at most
// one of JobDone, JobRetried and JobFailed (none when the runner stops in
// the middle: the job stays due for the next start). JobAbandoned is told in
// addition, for a run that did not finish within RunnerOptions.JobTimeout.
const (
	JobStarted JobOutcome = "started" // claimed and handed to its handler
	JobDone    JobOutcome = "done"    // succeeded and completed
	JobRetried JobOutcome = "retried" // failed; rescheduled with a delay
	JobFailed  JobOutcome = "failed"  // failed permanently; dropped
	// JobAbandoned: the run hit its deadline (its handler gave up at the
	// deadline, or ignored it and was left running); the job is retried.
	JobAbandoned JobOutcome = "abandoned"
	// JobDropped: no handler for the kind in this process (PagerDuty not
	// configured, say); the job is completed without running.
	JobDropped JobOutcome = "dropped"
	// JobLeaseTakeover: this replica claimed a job whose lease, held by
	// another replica, ran out without renewal (see Runner.LeaseTakenOver).
	JobLeaseTakeover JobOutcome = "lease_takeover"
)

// JobOutcomes lists every JobOutcome.
var JobOutcomes = []JobOutcome{JobStarted, JobDone, JobRetried, JobFailed, JobAbandoned, JobDropped, JobLeaseTakeover}

// JobEvent is one thing the runner did with a job, for metrics. It names
// the job's kind and queue only: never its ID, incident or payload, so that
// metric labels stay few and carry no incident text.
type JobEvent struct {
	Kind    string
	Queue   string // QueueEffects ("") or QueueInput
	Outcome JobOutcome
}

// observe tells the observer, if any, about j.
func (r *Runner) observe(j Job, o JobOutcome) {
	if r.opts.Observe != nil {
		r.opts.Observe(JobEvent{Kind: j.Kind, Queue: j.Queue, Outcome: o})
	}
}

// LeaseTakenOver tells the observer of a lease takeover of j
// (JobLeaseTakeover): the claim this runner got replaced another owner's
// that ran out. The runner calls it for every claimed job whose TakenOver
// the store set. Safe on any Runner, with or without an observer.
func (r *Runner) LeaseTakenOver(j Job) { r.observe(j, JobLeaseTakeover) }

// deadlineError marks the error of a run that hit its deadline; its text
// is that of the wrapped error.
type deadlineError struct{ err error }

func (e *deadlineError) Error() string { return e.err.Error() }
func (e *deadlineError) Unwrap() error { return e.err }

func hitDeadline(err error) bool {
	var de *deadlineError
	return errors.As(err, &de)
}
