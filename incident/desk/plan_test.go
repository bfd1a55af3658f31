package desk_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/incident"
	"github.com/incidentbot/incidentbot/incident/boltstore"
	"github.com/incidentbot/incidentbot/incident/boltstore/bolttest"
	"github.com/incidentbot/incidentbot/incident/desk"
	"github.com/incidentbot/incidentbot/incident/incidenttest"
)

// recorder is a planner that remembers what it was shown and plans one job
// per change.
type recorder struct{ changes []desk.Change }

func (r *recorder) Plan(c *desk.Change) []desk.Job {
	r.changes = append(r.changes, *c)
	return []desk.Job{desk.JobFor("test.effect", c.Incident.Number, c.Now.Format("150405.000")+"-"+string(rune('a'+len(r.changes))), c.Now, desk.Payload{})}
}

// The desk calls every planner with each change — opened, the events
// added, the seq that made it Major — and stores the planned jobs with the
// change; a repeated operation plans nothing.
func TestPlannersSeeEachChange(t *testing.T) {
	st := bolttest.Open(t, boltstore.Options{})
	clk := incidenttest.NewClock(incidenttest.T0)
	rec := &recorder{}
	d := desk.New(st, incidenttest.Furniture(), desk.Options{Now: clk.Now, Planners: []desk.Planner{rec}})
	ctx := context.Background()
	inc, err := d.Declare(ctx, desk.DeclareRequest{Service: "bedroom", Title: "Beds", Actor: "UA"})
	if err != nil {
		t.Fatal(err)
	}
	op := desk.Op{Actor: "UA", Idem: "env-1"}
	blocked := incident.DefaultShares.Impact(incident.ImpactBlocked)
	for range 2 { // the second is a redelivery
		if _, err := d.SetImpact(ctx, inc.Number, op, blocked); err != nil {
			t.Fatal(err)
		}
	}
	if len(rec.changes) != 2 {
		t.Fatalf("planners saw %d changes, want 2 (the redelivery changes nothing)", len(rec.changes))
	}
	opened, impact := rec.changes[0], rec.changes[1]
	if !opened.Opened || opened.MajorAt != 0 || len(opened.Added) == 0 {
		t.Errorf("opening change = %+v", opened)
	}
	if impact.Opened || impact.MajorAt == 0 || impact.State().Class != incident.Major {
		t.Errorf("impact change: opened %v, MajorAt %d, class %v; want the seq of the upgrade", impact.Opened, impact.MajorAt, impact.State().Class)
	}
	jobs, _ := st.Pending(ctx)
	n := 0
	for _, j := range jobs {
		if j.Kind == "test.effect" {
			n++
		}
	}
	if n != 2 {
		t.Errorf("%d planned jobs stored, want 2", n)
	}
}

// A review operation stores its records, its timeline events and the jobs
// planned from them in one transaction: when it fails, none of them is
// stored; when it succeeds, all are, and a repeat changes nothing.
func TestReviewOperationIsOneTransaction(t *testing.T) {
	st := bolttest.Open(t, boltstore.Options{})
	clk := incidenttest.NewClock(incidenttest.T0)
	rec := &recorder{}
	d := desk.New(st, incidenttest.Furniture(), desk.Options{Now: clk.Now, Planners: []desk.Planner{rec}})
	ctx := context.Background()
	inc, err := d.Declare(ctx, desk.DeclareRequest{Service: "bedroom", Title: "Beds", Actor: "UA"})
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	op := func(fail bool) error {
		_, err := d.Review(ctx, inc.Number, desk.Op{Actor: "UA", Idem: "act-1"}, func(inc *incident.Incident, _ incident.State, recs desk.Records, now time.Time) ([]incident.Event, error) {
			if err := recs.Put("reviews", "1", []byte(`{"number":1}`)); err != nil {
				return nil, err
			}
			evs, err := inc.Record(incidenttest.Furniture().Policy, now, incident.Event{Kind: incident.EventActionAdded, Actor: "UA", Key: "1-1", Text: "canary", Idem: "act-1"})
			if fail {
				return nil, boom
			}
			return evs, err
		})
		return err
	}
	if err := op(true); !errors.Is(err, boom) {
		t.Fatalf("failing operation: %v", err)
	}
	got, _ := st.Get(ctx, inc.Number)
	if _, ok, _ := st.GetKV(ctx, "reviews", "1"); ok || len(got.Events) != len(inc.Events) || len(rec.changes) != 1 {
		t.Fatalf("a failed operation left something behind: record %v, %d events (had %d), %d plans", ok, len(got.Events), len(inc.Events), len(rec.changes))
	}
	for range 2 {
		if err := op(false); err != nil {
			t.Fatal(err)
		}
	}
	got, _ = st.Get(ctx, inc.Number)
	if _, ok, _ := st.GetKV(ctx, "reviews", "1"); !ok || len(got.Events) != len(inc.Events)+1 || len(rec.changes) != 2 {
		t.Fatalf("after the operation and its repeat: record %v, %d events (had %d), %d plans", ok, len(got.Events), len(inc.Events), len(rec.changes))
	}
}

// A payload that does not decode is a permanent failure, not a zero value
// that a handler would act on.
func TestDecodePayload(t *testing.T) {
	p, err := desk.DecodePayload(desk.JobFor("x", 1, "", incidenttest.T0, desk.Payload{Seq: 7}))
	if err != nil || p.Seq != 7 {
		t.Fatalf("DecodePayload = %+v, %v", p, err)
	}
	if p, err := desk.DecodePayload(desk.Job{ID: "x/1"}); err != nil || p.Seq != 0 {
		t.Errorf("no payload: %+v, %v", p, err)
	}
	_, err = desk.DecodePayload(desk.Job{ID: "x/1", Payload: []byte(`{"seq":"seven"}`)})
	var pe *desk.PermanentError
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), "x/1") {
		t.Errorf("malformed payload: %v, want a permanent error naming the job", err)
	}
}
