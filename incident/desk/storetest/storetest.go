// Package storetest is the conformance suite of storage adapters: every
// adapter (incident/boltstore, incident/pgstore) runs Run against itself, so
// that the desk, the runner and the adapters can rely on one behaviour
// whichever storage is configured.
package storetest

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/incident"
	"github.com/incidentbot/incidentbot/incident/desk"
	"github.com/incidentbot/incidentbot/incident/incidenttest"
)

// Backend is one fresh, empty database opened by an adapter for a test.
type Backend struct {
	// Store is the open store. The adapter closes it (and any other handle
	// below) at the end of the test.
	Store desk.Storage
	// Reopen closes Store and opens the same data again, with the same
	// clock, as a restarted process would.
	Reopen func(t *testing.T) desk.Storage
	// Replica opens another handle on the same data, as another replica
	// would have; an adapter that allows one process only (bbolt) returns
	// Store itself.
	Replica func(t *testing.T) desk.Storage
}

// Open opens a fresh backend whose store uses now as its clock (completion
// tombstones, the due time of a job enqueued without one).
type Open func(t *testing.T, now func() time.Time) Backend

// Run runs the whole suite, each test on a fresh backend.
func Run(t *testing.T, open Open) {
	tests := []struct {
		name string
		fn   func(t *testing.T, e *env)
	}{
		{"RoundTripNumbersAndIndexes", testRoundTrip},
		{"ListFilters", testListFilters},
		{"AlertKeys", testAlertKeys},
		{"ServicesAndMerges", testServicesAndMerges},
		{"Idem", testIdem},
		{"FailedFnChangesNothing", testFailedFn},
		{"UpdateRejectsRewritingHistory", testRejectsRewriting},
		{"UpdateNoChange", testUpdateNoChange},
		{"UpdateRecords", testUpdateRecords},
		{"Erasure", testErasure},
		{"NotFound", testNotFound},
		{"ConcurrentUpdates", testConcurrentUpdates},
		{"NumbersAcrossReplicas", testNumbersAcrossReplicas},
		{"JobQueue", testJobQueue},
		{"JobsWithIncidents", testJobsWithIncidents},
		{"Coalescing", testCoalescing},
		{"QueuesAreSeparate", testQueues},
		{"Seen", testSeen},
		{"WasSeen", testWasSeen},
		{"KV", testKV},
		{"OutsideKeys", testOutsideKeys},
		{"Housekeep", testHousekeep},
		{"CountOpenAndPing", testCountOpenAndPing},
		{"CancelledContext", testCancelled},
		{"Claims", testClaims},
		{"ClaimLanes", testClaimLanes},
		{"RenewRelease", testRenewRelease},
		{"ClaimCoalescing", testClaimCoalescing},
		{"ConcurrentClaims", testConcurrentClaims},
		{"WithLock", testWithLock},
		{"EnqueueAdded", testEnqueueAdded},
		{"ClaimTakeover", testClaimTakeover},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk := incidenttest.NewClock(T0)
			b := open(t, clk.Now)
			tc.fn(t, &env{Backend: b, s: b.Store, clk: clk, ctx: context.Background()})
		})
	}
}

// T0 is the suite's fixed "now".
var T0 = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

// env is one test's backend and helpers.
type env struct {
	Backend
	s   desk.Storage
	clk *incidenttest.Clock
	ctx context.Context
}

func at(m int) time.Time { return T0.Add(time.Duration(m) * time.Minute) }

func service(name string) incident.Service {
	return incident.Service{Name: name, Team: name + "-team", Domain: "furniture", HourlyExposure: incident.USD.Major(200_000)}
}

// declared builds a new incident with its declaration event.
func declared(number int64, svc string, at time.Time, more ...incident.Event) *incident.Incident {
	inc := &incident.Incident{Number: number, Title: "Checkout down on " + svc, Service: service(svc), StartedAt: at}
	inc.Append(incident.Event{At: at, Kind: incident.EventDeclared, Actor: "U01",
		Impact: &incident.Impact{Level: incident.ImpactBlocked, Share: incident.FullShare}, Text: "declared"})
	inc.Append(more...)
	return inc
}

func (e *env) create(t *testing.T, svc string, at time.Time, more ...incident.Event) *incident.Incident {
	t.Helper()
	return create(t, e.s, svc, at, more...)
}

func create(t *testing.T, s desk.Store, svc string, at time.Time, more ...incident.Event) *incident.Incident {
	t.Helper()
	inc, err := s.Create(context.Background(), func(n int64) (*incident.Incident, []desk.Job, error) {
		return declared(n, svc, at, more...), nil, nil
	})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	return inc
}

func (e *env) appendEvents(t *testing.T, number int64, evs ...incident.Event) *incident.Incident {
	t.Helper()
	inc, err := e.s.Update(e.ctx, number, func(inc *incident.Incident) ([]desk.Job, error) {
		inc.Append(evs...)
		return nil, nil
	})
	if err != nil {
		t.Fatalf("Update %d: %v", number, err)
	}
	return inc
}

func (e *env) listNumbers(t *testing.T, f desk.Filter) []int64 {
	t.Helper()
	incs, err := e.s.List(e.ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	if len(incs) == 0 {
		return nil
	}
	return Numbers(incs)
}

func (e *env) pending(t *testing.T) []desk.Job {
	t.Helper()
	js, err := e.s.Pending(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

func (e *env) due(t *testing.T, queue string, now time.Time, limit int) []string {
	t.Helper()
	jobs, err := e.s.Due(e.ctx, queue, now, limit)
	if err != nil {
		t.Fatal(err)
	}
	return JobIDs(jobs)
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Numbers lists the incidents' numbers, in order.
func Numbers(incs []*incident.Incident) []int64 {
	out := make([]int64, 0, len(incs))
	for _, inc := range incs {
		out = append(out, inc.Number)
	}
	return out
}

// JobIDs lists the jobs' IDs, in order.
func JobIDs(jobs []desk.Job) []string {
	out := make([]string, 0, len(jobs))
	for _, j := range jobs {
		out = append(out, j.ID)
	}
	return out
}

// assertTimeline checks that seqs are 1..n in order.
func assertTimeline(t *testing.T, inc *incident.Incident) {
	t.Helper()
	for i, e := range inc.Events {
		if e.Seq != i+1 {
			t.Fatalf("incident %d: event %d has seq %d, want %d", inc.Number, i, e.Seq, i+1)
		}
	}
}
