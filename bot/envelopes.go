package bot

import (
	"context"
	"time"

	"github.com/slack-go/slack/socketmode"

	"github.com/incidentbot/incidentbot/incident/desk"
)

// EnvelopeOutcome is what became of one Socket Mode envelope. The set is
// fixed, so that it can label metrics.
type EnvelopeOutcome string

// Envelope outcomes.
const (
	EnvelopeStored EnvelopeOutcome = "stored" // written to the inbox, then acknowledged
	// EnvelopeDuplicate: a redelivery of an envelope the inbox has
	// already (pending or done); acknowledged, nothing stored again.
	EnvelopeDuplicate EnvelopeOutcome = "duplicate"
	// EnvelopeIgnored: acknowledged with nothing to store (a malformed
	// command answered in the ack, a modal opened, the bot's own message,
	// a channel that is no incident's).
	EnvelopeIgnored EnvelopeOutcome = "ignored"
	// EnvelopeNotStored: storage failed; left unacknowledged so that
	// Slack delivers it again.
	EnvelopeNotStored EnvelopeOutcome = "not_stored"
)

// EnvelopeOutcomes lists every EnvelopeOutcome.
var EnvelopeOutcomes = []EnvelopeOutcome{EnvelopeStored, EnvelopeDuplicate, EnvelopeIgnored, EnvelopeNotStored}

// Envelope types.
const (
	EnvelopeSlash       = "slash"
	EnvelopeInteraction = "interaction"
	EnvelopeEventsAPI   = "event"
)

// EnvelopeTypes lists the envelope types.
var EnvelopeTypes = []string{EnvelopeSlash, EnvelopeInteraction, EnvelopeEventsAPI}

// EnvelopeEvent tells what became of one envelope, for metrics: its type
// and outcome only, never its content.
type EnvelopeEvent struct {
	Type    string // EnvelopeSlash, EnvelopeInteraction or EnvelopeEventsAPI
	Outcome EnvelopeOutcome
	// Ack is how long the envelope took from intake to its acknowledgement
	// (0 when it was not acknowledged).
	Ack time.Duration
}

func (b *Bot) observeEnvelope(t socketmode.EventType, o EnvelopeOutcome, ack time.Duration) {
	if b.opts.ObserveEnvelope == nil {
		return
	}
	typ := EnvelopeEventsAPI
	switch t {
	case socketmode.EventTypeSlashCommand:
		typ = EnvelopeSlash
	case socketmode.EventTypeInteractive:
		typ = EnvelopeInteraction
	}
	b.opts.ObserveEnvelope(EnvelopeEvent{Type: typ, Outcome: o, Ack: ack})
}

// intakeRecord is what the intake of one envelope stored.
type intakeRecord struct {
	stored, duplicate bool
}

func (r *intakeRecord) outcome() EnvelopeOutcome {
	switch {
	case r.duplicate:
		return EnvelopeDuplicate
	case r.stored:
		return EnvelopeStored
	}
	return EnvelopeIgnored
}

type intakeRecordKey struct{}

// withIntakeRecord gives the intake of one envelope a record that
// enqueueEnvelope fills in.
func withIntakeRecord(ctx context.Context) (context.Context, *intakeRecord) {
	r := &intakeRecord{}
	return context.WithValue(ctx, intakeRecordKey{}, r), r
}

// addedReporter is what a store may offer to tell a new job from one it
// has (*boltstore.Store does); without it a redelivery counts as stored.
type addedReporter interface {
	EnqueueAdded(ctx context.Context, jobs ...desk.Job) (int, error)
}

// enqueueEnvelope writes an envelope's inbox job and records, for the
// intake metrics, whether it was new.
func (b *Bot) enqueueEnvelope(ctx context.Context, j desk.Job) error {
	added := 1
	var err error
	if ar, ok := b.store.(addedReporter); ok {
		added, err = ar.EnqueueAdded(ctx, j)
	} else {
		err = b.store.Enqueue(ctx, j)
	}
	if r, ok := ctx.Value(intakeRecordKey{}).(*intakeRecord); ok && err == nil {
		r.stored, r.duplicate = true, added == 0
	}
	return err
}
