package desk_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/incident"
	"github.com/incidentbot/incidentbot/incident/desk"
)

// A drill runs like a real incident in Slack but plans no PagerDuty job at
// all: not on declaration, not when it turns major, not for notes,
// updates, acknowledgements or its resolution.
func TestDrillNeverPagesPagerDuty(t *testing.T) {
	_, st, clk := setup(t)
	d := desk.New(st, testCatalogue(), desk.Options{Now: clk.Now, Effects: []string{"slack", "pagerduty"}})
	ctx := context.Background()
	kinds := func() map[string]int {
		jobs, err := st.Pending(ctx)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]int{}
		for _, j := range jobs {
			out[j.Kind]++
		}
		return out
	}
	run := func(drill bool) {
		inc, err := d.Declare(ctx, desk.DeclareRequest{Service: "bedroom", Title: "Beds", Actor: "UA", Drill: drill, Impact: incident.DefaultShares.Impact(incident.ImpactBlocked)})
		if err != nil {
			t.Fatal(err)
		}
		if inc.Drill != drill {
			t.Fatalf("declared drill = %v, want %v", inc.Drill, drill)
		}
		op := func(s string) desk.Op {
			return desk.Op{Actor: "UA", Idem: s + inc.Title + string(rune('0'+inc.Number))}
		}
		for _, f := range []func() error{
			func() error { _, err := d.AddNote(ctx, inc.Number, op("n"), "looking"); return err },
			func() error { _, err := d.AddUpdate(ctx, inc.Number, op("u"), "still down"); return err },
			func() error { _, err := d.Acknowledge(ctx, inc.Number, op("a")); return err },
			func() error { _, err := d.Resolve(ctx, inc.Number, op("r"), "done"); return err },
		} {
			if err := f(); err != nil {
				t.Fatal(err)
			}
		}
	}
	run(true)
	for k, n := range kinds() {
		if strings.HasPrefix(k, "pagerduty.") {
			t.Errorf("a drill planned %d %s jobs", n, k)
		}
	}
	if k := kinds(); k[desk.JobChannel] != 1 || k[desk.JobManagers] != 1 || k[desk.JobReview] != 1 {
		t.Errorf("a drill should run like a real incident in Slack: jobs %v", k)
	}
	// The same steps on a real incident do plan PagerDuty jobs.
	run(false)
	k := kinds()
	for _, want := range []string{desk.JobPagerDutyManager, desk.JobPagerDutyNote, desk.JobPagerDutyAck, desk.JobPagerDutyResolve} {
		if k[want] == 0 {
			t.Errorf("a real incident planned no %s job: %v", want, k)
		}
	}
}

// A real alert for a service never joins an open drill of that service.
func TestAlertNeverJoinsADrill(t *testing.T) {
	d, _, _ := setup(t)
	ctx := context.Background()
	drill, err := d.Declare(ctx, desk.DeclareRequest{Service: "bedroom", Title: "Practice", Actor: "UA", Drill: true})
	if err != nil {
		t.Fatal(err)
	}
	res, err := d.Alert(ctx, desk.Alert{Source: incident.ActorAlertmanager, Key: "g1", Service: "bedroom", Title: "Beds down", Firing: true, Idem: "w1"})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Created || res.Number == drill.Number {
		t.Errorf("alert result %+v: it joined drill #%d instead of opening a real incident", res, drill.Number)
	}
}

// The desk's budgets read every incident that may overlap the rolling
// week: an old one still open counts, a drill does not.
func TestWeeklyBudgets(t *testing.T) {
	d, _, clk := setup(t)
	ctx := context.Background()
	blocked := incident.DefaultShares.Impact(incident.ImpactBlocked)
	long, err := d.Declare(ctx, desk.DeclareRequest{Service: "bedroom", Title: "Slow burn", Actor: "UA", Impact: incident.DefaultShares.Impact(incident.ImpactPartial)})
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(60 * 24 * time.Hour) // long open: 10% of the last 7 days = 16h48m
	if _, err := d.Declare(ctx, desk.DeclareRequest{Service: "bedroom", Title: "Practice", Actor: "UA", Drill: true, Impact: blocked}); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Hour)
	bs, err := d.WeeklyBudgets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(bs) != 1 || bs[0].Service != "bedroom" || bs[0].Used != 16*time.Hour+48*time.Minute {
		t.Fatalf("budgets = %+v, want bedroom used 16h48m by incident #%d alone", bs, long.Number)
	}
	b, ok, err := d.WeeklyBudget(ctx, "BEDROOM")
	if err != nil || !ok || b != bs[0] || !b.Over() {
		t.Errorf("WeeklyBudget = %+v, %v, %v; want %+v, over", b, ok, err, bs[0])
	}
	if _, ok, _ := d.WeeklyBudget(ctx, "nope"); ok {
		t.Error("a service not in the catalogue has a budget")
	}
}
