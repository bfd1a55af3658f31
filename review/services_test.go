package review_test

import (
	"strings"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/incident"
	"github.com/incidentbot/incidentbot/incident/incidenttest"
	"github.com/incidentbot/incidentbot/review"
)

// The impact section of an incident on several services has a per-service
// loss table and names the dependency they share; events of a merged
// incident are in the key events, in the order they happened, marked.
func TestDraftOfAnIncidentOnSeveralServices(t *testing.T) {
	c := incidenttest.Furniture()
	incidenttest.Service(c, "bedroom").Peaks = nil
	c.Services = append(c.Services, incident.Service{Name: "database", Team: "platform-team", HourlyExposure: usd.Major(1_000)})
	incidenttest.Service(c, "bedroom").DependsOn = []string{"database"}
	incidenttest.Service(c, "ecommerce-platform").DependsOn = []string{"database"}
	c = incidenttest.Valid(t, c)
	p := c.Policy
	svc := func(n string) incident.Service { s, _ := c.Service(n); return s }
	t0 := time.Date(2026, 11, 17, 10, 0, 0, 0, time.UTC)
	inc := must(incident.Declare(p, 1, incident.Declaration{Title: "Checkout down", Service: svc("ecommerce-platform"), Actor: "U1", Impact: c.Shares.Impact(incident.ImpactBlocked)}, t0))
	// #2, bedroom degraded from the start, merged in after 20 minutes.
	other := must(incident.Declare(p, 2, incident.Declaration{Title: "Beds slow", Service: svc("bedroom"), Actor: "U2", Impact: c.Shares.Impact(incident.ImpactDegraded)}, t0))
	must(other.AddNote(p, t0.Add(5*time.Minute), "U2", "bedroom pages time out"))
	must(inc.AddNote(p, t0.Add(10*time.Minute), "U1", "checkout pages time out"))
	must(other.MergeInto(p, t0.Add(20*time.Minute), "U1", 1, "same database"))
	must(inc.Absorb(p, t0.Add(20*time.Minute), "U1", other, "same database"))
	must(inc.Resolve(p, t0.Add(30*time.Minute), "U1", "database failed over"))
	st := inc.State(p, t0.Add(time.Hour))
	r, err := review.Draft(inc, st, c, review.DraftOptions{Name: name, Location: time.UTC})
	if err != nil {
		t.Fatal(err)
	}
	impact := r.Sections[review.SectionImpact]
	for _, want := range []string{
		"| ecommerce-platform (primary) | platform-team | blocked (100%) | 99.9% | 0:10:05 (10 min 4.8 s) | $405,000 | $136,080 | -$268,920 | -197.6% |",
		"| bedroom | bedroom-team | degraded (50%) | 99.0% | 1:40:48 (1 h 40 min 48 s) | $50,000 | $168,000 | $118,000 | 70.2% |",
		"They share a dependency on database",
		"| Financial loss protection effectiveness | -49.6% |",
	} {
		if !strings.Contains(impact, want) {
			t.Errorf("impact section lacks %q:\n%s", want, impact)
		}
	}
	tl := r.Sections[review.SectionTimeline]
	a, b, m := strings.Index(tl, "(from #2) Note: bedroom pages"), strings.Index(tl, "Note: checkout pages"), strings.Index(tl, "Incident #2 merged in (Beds slow, bedroom): same database")
	if a < 0 || b < 0 || m < 0 || !(a < b && b < m) {
		t.Errorf("key events out of order or unmarked (%d %d %d):\n%s", a, b, m, tl)
	}
}
