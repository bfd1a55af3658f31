package desk_test

import (
	"context"
	"testing"

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
