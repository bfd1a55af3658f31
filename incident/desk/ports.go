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
	// TakenOver is set by JobStore.Claim, never stored: the job was
	// claimed from another owner whose claim had not ended: it ran out
	// without being renewed, or the store knows its owner is gone (that
	// replica died or stalled while running it).
	TakenOver bool `json:"-"`
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
	Locker
}

// Records give an operation read and write access, inside its
// transaction, to the records kept beside an incident's timeline (the
// buckets of review/reviewstore: a review, improvement actions).
type Records interface {
	Get(bucket, key string) ([]byte, bool, error)
	Put(bucket, key string, value []byte) error
}

// JobStore is what the runner needs from storage. Jobs are claimed: a
// replica runs a job only while it holds an unexpired claim on it, renews
// the claim while the job runs, and a claim that is not renewed (its
// replica died) expires after the lease, so that another replica runs the
// job. Complete, CompleteJob and Retry end the claim.
type JobStore interface {
	// Claim claims for owner, until now+lease, up to limit due jobs of a
	// queue that nobody holds an unexpired claim on, by due time then ID.
	// Within a queue one job of an incident is claimed at a time, the
	// earliest due: an incident with a claimed job has none claimable, so
	// each channel's effects keep their order across replicas.
	Claim(ctx context.Context, queue, owner string, now time.Time, limit int, lease time.Duration) ([]Job, error)
	// Renew extends owner's claims on the jobs until until; claims owner
	// no longer holds are left alone.
	Renew(ctx context.Context, owner string, ids []string, until time.Time) error
	// Release ends owner's claims on the jobs, which stay due.
	Release(ctx context.Context, owner string, ids []string) error
	NextDue(ctx context.Context, queue string) (time.Time, bool, error)
	Complete(ctx context.Context, id string) error
	CompleteJob(ctx context.Context, run Job) error
	Retry(ctx context.Context, id string, due time.Time, errText string) error
}

// Locker serialises, across every process on the same storage, what a
// process mutex serialises in one (an alert storm opening one incident per
// service). fn runs while the named lock is held; keep it short.
type Locker interface {
	WithLock(ctx context.Context, name string, fn func(ctx context.Context) error) error
}

// Dedupe remembers keys seen (Slack event ids, webhook ids), durably.
type Dedupe interface {
	// Seen records key in namespace at the given time; first is true only
	// the first time the key is ever recorded (until PruneSeen forgets it).
	Seen(ctx context.Context, namespace, key string, at time.Time) (first bool, err error)
	// WasSeen reports whether key was recorded, without recording it.
	WasSeen(ctx context.Context, namespace, key string) (bool, error)
	// PruneSeen forgets keys seen before olderThan and says how many.
	PruneSeen(ctx context.Context, olderThan time.Time) (int, error)
}

// KV is the adapters' small key/value state (Slack channel per incident,
// card timestamps, review drafts…), in named buckets.
type KV interface {
	Put(ctx context.Context, bucket, key string, value []byte) error
	GetKV(ctx context.Context, bucket, key string) ([]byte, bool, error)
	Delete(ctx context.Context, bucket, key string) error
	// Scan calls fn in key (byte) order for the keys starting with prefix,
	// after the read is over: fn may use the store.
	Scan(ctx context.Context, bucket, prefix string, fn func(key string, value []byte) error) error
}

// Storage is a whole storage adapter: what serve wires into the desk, the
// runner, the adapters and the HTTP API. incident/desk/storetest checks an
// adapter against it; incident/boltstore and incident/pgstore pass.
type Storage interface {
	Store
	JobStore
	Dedupe
	KV
	// Due lists up to limit (≤ 0: all) pending jobs of a queue due at or
	// before now, by due time then ID, claimed or not.
	Due(ctx context.Context, queue string, now time.Time, limit int) ([]Job, error)
	// Pending lists every pending job by due time.
	Pending(ctx context.Context) ([]Job, error)
	CountOpen(ctx context.Context) (int, error)
	// PruneDone forgets job tombstones recorded before olderThan.
	PruneDone(ctx context.Context, olderThan time.Time) (int, error)
	// Housekeep prunes dedupe keys older than a week and tombstones older
	// than 30 days.
	Housekeep(ctx context.Context, now time.Time) error
	// Ping reports whether the store can serve a read (for /readyz).
	Ping(ctx context.Context) error
	Close() error
}
