package review_test

import (
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/incident"
	"github.com/incidentbot/incidentbot/review"
)

// Measures per service and per team count each service's own share of an
// incident on several services; a merged incident counts only in the one it
// went into.
func TestStatsCountEachServicesOwnShare(t *testing.T) {
	c := furniture(t)
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	t0 := time.Date(2026, 11, 17, 10, 0, 0, 0, time.UTC)
	svc := func(name string) incident.Service { s, _ := c.Service(name); return s }
	// The worked example: ecommerce-platform blocked, bedroom degraded, 30 min.
	inc := must(incident.Declare(c.Policy, 1, incident.Declaration{Title: "t", Service: svc("ecommerce-platform"), Actor: "U1", Impact: c.Shares.Impact(incident.ImpactBlocked)}, t0))
	deg := c.Shares.Impact(incident.ImpactDegraded)
	must(inc.Affect(c.Policy, t0, "U1", svc("bedroom"), &deg))
	// #2 on bedroom, merged into #1 after 10 min without impact.
	other := must(incident.Declare(c.Policy, 2, incident.Declaration{Title: "t", Service: svc("bedroom"), Actor: "U2"}, t0))
	must(other.MergeInto(c.Policy, t0.Add(10*time.Minute), "U1", 1, ""))
	must(inc.Absorb(c.Policy, t0.Add(10*time.Minute), "U1", other, ""))
	must(inc.Resolve(c.Policy, t0.Add(30*time.Minute), "U1", ""))
	in := []review.StatsInput{{Incident: inc, State: inc.State(c.Policy, now)}, {Incident: other, State: other.State(c.Policy, now)}}

	all := review.Stats(in, nil, nil, 30*24*time.Hour, "", now)
	if all.Incidents != 1 || all.TotalLoss != usd.Major(455_000) || all.Effectiveness != -4963 {
		t.Errorf("all: %d incidents, loss %s, effectiveness %d bp", all.Incidents, usd.Format(all.TotalLoss), all.Effectiveness)
	}
	wantLoss := func(name string, got []review.Loss, want map[string]int64) {
		t.Helper()
		if len(got) != len(want) {
			t.Errorf("%s: %+v", name, got)
		}
		for _, l := range got {
			if usd.Major(want[l.Name]) != l.Loss || l.Incidents != 1 {
				t.Errorf("%s %s: %s over %d incidents, want $%d over 1", name, l.Name, usd.Format(l.Loss), l.Incidents, want[l.Name])
			}
		}
	}
	wantLoss("by service", all.LossByService, map[string]int64{"ecommerce-platform": 405_000, "bedroom": 50_000})
	wantLoss("by team", all.LossByTeam, map[string]int64{"platform-team": 405_000, "bedroom-team": 50_000})

	bed := review.Stats(in, nil, nil, 30*24*time.Hour, "bedroom", now)
	// bedroom's own: $50,000 against $168,000 at tolerable → 70.24%.
	if bed.Incidents != 1 || bed.TotalLoss != usd.Major(50_000) || bed.Protected != usd.Major(118_000) || bed.Effectiveness != 7024 {
		t.Errorf("bedroom: %d incidents, loss %s, protected %s, %d bp", bed.Incidents, usd.Format(bed.TotalLoss), usd.Format(bed.Protected), bed.Effectiveness)
	}
	wantLoss("bedroom by service", bed.LossByService, map[string]int64{"bedroom": 50_000})
	if none := review.Stats(in, nil, nil, 30*24*time.Hour, "appointments", now); none.Incidents != 0 {
		t.Errorf("appointments: %d incidents", none.Incidents)
	}
}
