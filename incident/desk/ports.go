package desk

import (
	"context"
	"encoding/json"
	"time"

	"github.com/incidentbot/incidentbot/incident"
)

// The ports of the application: what the desk, its runner and the adapters
// need from storage. Storage adapters (incident/boltstore) implement them and
// pass one conformance suite; nothing else imports a storage adapter.

// Job is a side effect to carry out (create a Slack channel, post the card,
// page PagerDuty…), stored durably so that it survives crashes and outages
// and is retried until it is done. ID is its idempotency key: a job is
// enqueued once, however often the state that asks for it is replayed.
type Job struct {
	ID        string          `json:"id"` // unique, e.g. "slack.channel/12"
	Kind      string          `json:"kind"`
	Incident  int64           `json:"incident,omitempty"`
	Payload   json.RawMessage `json:"payload,omitempty"`
	DueAt     time.Time       `json:"due_at"`
	Attempts  int             `json:"attempts,omitempty"`
	LastError string          `json:"last_error,omitempty"`
	// Queue names the queue the job waits in: QueueEffects (the zero
	// value) for effects on Slack and PagerDuty, QueueInput for what
	// people and alerts said. Each queue has its own runner, so recording
	// input never waits for an effect.
	Queue string `json:"queue,omitempty"`
	// Coalesce marks a job that always acts on the latest state (refresh a
	// card, publish App Home): enqueueing it while it is pending or running
	// asks for one more run instead of being ignored, and completing it
	// leaves no tombstone, so it can be asked for again later.
	Coalesce bool `json:"coalesce,omitempty"`
	// Gen counts the requests a pending coalescing job has absorbed.
	Gen int `json:"gen,omitempty"`
}

// Queues.
const (
	QueueEffects = ""      // effects: Slack and PagerDuty calls
	QueueInput   = "input" // received envelopes, recorded through the desk
)

// Filter selects incidents.
type Filter struct {
	OpenOnly bool      // only incidents that are open
	Service  string    // only this service (case-insensitive)
	Since    time.Time // only incidents that started (StartedAt) at or after Since
	Limit    int       // at most this many; 0 means no limit
	Before   int64     // only incidents numbered below Before (paging); 0 means no bound
}

// Store is what the desk needs from storage.
type Store interface {
	Create(ctx context.Context, fn func(number int64) (*incident.Incident, []Job, error)) (*incident.Incident, error)
	Update(ctx context.Context, number int64, fn func(inc *incident.Incident) ([]Job, error)) (*incident.Incident, error)
	// UpdateRecords is Update whose fn may also read and write the
	// incident's records (its review and improvement actions) in the same
	// transaction.
	UpdateRecords(ctx context.Context, number int64, fn func(inc *incident.Incident, recs Records) ([]Job, error)) (*incident.Incident, error)
	Get(ctx context.Context, number int64) (*incident.Incident, error)
	List(ctx context.Context, f Filter) ([]*incident.Incident, error)
	OpenByService(ctx context.Context, service string) ([]*incident.Incident, error)
	ByAlertKey(ctx context.Context, key string) (int64, bool, error)
	ByIdem(ctx context.Context, key string) (int64, bool, error)
	Enqueue(ctx context.Context, jobs ...Job) error
}

// Records give an operation read and write access, inside its
// transaction, to the records kept beside an incident's timeline (the
// buckets of review/reviewstore: a review, improvement actions).
type Records interface {
	Get(bucket, key string) ([]byte, bool, error)
	Put(bucket, key string, value []byte) error
}

// JobStore is what the runner needs from storage.
type JobStore interface {
	Due(ctx context.Context, queue string, now time.Time, limit int) ([]Job, error)
	NextDue(ctx context.Context, queue string) (time.Time, bool, error)
	Complete(ctx context.Context, id string) error
	CompleteJob(ctx context.Context, run Job) error
	Retry(ctx context.Context, id string, due time.Time, errText string) error
}
