package httpapi_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/incident"
	"github.com/incidentbot/incidentbot/incident/desk"
	"github.com/incidentbot/incidentbot/incident/httpapi"
)

// GET /api/incidents/{n} lists the primary and affected services, each with
// impact, share, loss rate, loss so far and effectiveness: PRODUCT.md's
// worked example for more than one service.
func TestIncidentServices(t *testing.T) {
	e := newEnv(t, envOptions{})
	inc := e.declare("ecommerce-platform", "Checkout down", incident.ImpactBlocked, false)
	deg := incident.DefaultShares.Impact(incident.ImpactDegraded)
	if _, err := e.desk.Affect(e.ctx, inc.Number, desk.Op{Actor: alice}, "bedroom", &deg); err != nil {
		t.Fatal(err)
	}
	var open httpapi.Incident
	e.get("/api/incidents/1").json(t, &open)
	if len(open.Services) != 2 || open.Figures.Rate.Formatted != "$910,000" || open.Services[1].LossRate.Formatted != "$100,000" || open.Services[1].Effectiveness != nil {
		t.Fatalf("open incident: rate %s, services %+v", open.Figures.Rate.Formatted, open.Services)
	}
	e.clock.Advance(30 * time.Minute)
	e.resolve(inc.Number, alice)
	r := e.get("/api/incidents/1")
	wantStatus(t, r, http.StatusOK)
	var got httpapi.Incident
	r.json(t, &got)
	if got.Figures.LossSoFar.Formatted != "$455,000" || got.Effectiveness == nil || got.Effectiveness.PercentText != "-49.6%" || got.Effectiveness.RatioBP != -4963 {
		t.Errorf("incident: loss %s, effectiveness %+v", got.Figures.LossSoFar.Formatted, got.Effectiveness)
	}
	for i, want := range []struct {
		name, team, level, share, target, tolerable, loss, atTol, protected string
		primary                                                             bool
	}{
		{"ecommerce-platform", "platform-team", "blocked", "100%", "99.9%", "0:10:05", "$405,000", "$136,080", "-$268,920", true},
		{"bedroom", "bedroom-team", "degraded", "50%", "99.0%", "1:40:48", "$50,000", "$168,000", "$118,000", false},
	} {
		s := got.Services[i]
		if s.Name != want.name || s.Team != want.team || s.Primary != want.primary || s.Impact.Level != want.level || s.Share != want.share ||
			s.Target != want.target || s.TolerableUnavailability != want.tolerable || s.LossSoFar.Formatted != want.loss || s.LossRate.MinorUnits != 0 {
			t.Errorf("services[%d] = %+v", i, s)
		}
		if s.Effectiveness == nil || s.Effectiveness.LossAtTolerable.Formatted != want.atTol || s.Effectiveness.Protected.Formatted != want.protected {
			t.Errorf("services[%d].effectiveness = %+v", i, s.Effectiveness)
		}
	}
	// The attachment is on the timeline, naming the service.
	var attached bool
	for _, ev := range got.Timeline {
		attached = attached || (ev.Kind == "service_affected" && ev.Service == "bedroom" && ev.Impact != nil && ev.Impact.Level == "degraded")
	}
	if !attached {
		t.Errorf("no service_affected event for bedroom on the timeline")
	}
}

// A merged incident shows where it went; the one it went into lists it;
// ?status=merged lists merged incidents.
func TestMergedIncidentInTheAPI(t *testing.T) {
	e := newEnv(t, envOptions{})
	a := e.declare("bedroom", "Beds slow", incident.ImpactDegraded, false)
	b := e.declare("appointments", "Bookings slow", incident.ImpactBlocked, false)
	e.clock.Advance(10 * time.Minute)
	if _, err := e.desk.Merge(e.ctx, a.Number, b.Number, desk.Op{Actor: alice}, "same outage"); err != nil {
		t.Fatal(err)
	}
	var merged, into httpapi.Incident
	e.get("/api/incidents/2").json(t, &merged)
	e.get("/api/incidents/1").json(t, &into)
	if merged.Status != "merged" || merged.MergedInto == nil || *merged.MergedInto != 1 || merged.Effectiveness != nil {
		t.Errorf("merged incident: %s into %v", merged.Status, merged.MergedInto)
	}
	if len(into.Merged) != 1 || into.Merged[0] != 2 || len(into.Services) != 2 || into.Services[1].From != 2 {
		t.Errorf("incident merged into: merged %v, services %+v", into.Merged, into.Services)
	}
	var from2 int
	for _, ev := range into.Timeline {
		if ev.From == 2 {
			from2++
		}
	}
	if from2 == 0 {
		t.Error("no timeline event marked as from #2")
	}
	var list httpapi.IncidentList
	r := e.get("/api/incidents?status=merged")
	wantStatus(t, r, http.StatusOK)
	r.json(t, &list)
	if list.Count != 1 || list.Incidents[0].Number != 2 {
		t.Errorf("merged incidents: %+v", list.Incidents)
	}
}
