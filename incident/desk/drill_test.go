package desk_test

import (
	"context"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/incident"
	"github.com/incidentbot/incidentbot/incident/desk"
)

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
