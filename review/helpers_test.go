package review_test

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"
	_ "time/tzdata" // golden files use Europe/London whatever the host has

	"github.com/incidentbot/incidentbot/incident"
	"github.com/incidentbot/incidentbot/incident/incidenttest"
	"github.com/incidentbot/incidentbot/review"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

var usd = incident.USD

// furniture is PRODUCT.md's worked example: a furniture retailer.
func furniture(t testing.TB) *incident.Catalogue {
	t.Helper()
	c := incidenttest.Furniture()
	incidenttest.Service(c, "bedroom").Peaks = nil
	return incidenttest.Valid(t, c)
}

var names = map[string]string{"U1": "Alice", "U2": "Bilal", "U3": "Chen", "UB1": "Dana", "UA1": "Ezra", "UA2": "Fatima"}

func name(u string) string { return names[u] }

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// bedroomIncident is the playbook's worked example with a realistic
// timeline: bedroom, $200,000/h, blocked for 30 min → loss $100,000; at the
// tolerable unavailability of 99.0% (1:40:48) $336,000; protected $236,000;
// effectiveness 70%.
func bedroomIncident(t testing.TB, c *incident.Catalogue) *incident.Incident {
	t.Helper()
	p := c.Policy
	bedroom, _ := c.Service("bedroom")
	t0 := time.Date(2026, 11, 17, 10, 0, 0, 0, time.UTC)
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	inc := must(incident.Declare(p, 1, incident.Declaration{
		Title: "Bedroom checkout down", Description: "Checkout returns 502 for every basket.",
		Service: bedroom, Actor: "U1", Impact: c.Shares.Impact(incident.ImpactBlocked),
	}, t0))
	rec := func(m int, e incident.Event) {
		e.At = at(m)
		must(inc.Record(p, at(m), e))
	}
	rec(1, incident.Event{Kind: incident.EventAlertFired, Actor: incident.ActorAlertmanager, Source: incident.ActorAlertmanager, Key: "ak1", Text: "CheckoutErrorRate above 5% | bedroom"})
	rec(2, incident.Event{Kind: incident.EventAlertFired, Actor: incident.ActorAlertmanager, Source: incident.ActorAlertmanager, Key: "ak1", Text: "CheckoutErrorRate above 5% | bedroom"})
	rec(2, incident.Event{Kind: incident.EventAcknowledged, Actor: incident.ActorPagerDuty, Source: incident.ActorPagerDuty})
	rec(2, incident.Event{Kind: incident.EventCalledOut, Actor: incident.ActorSystem, Users: []string{"UB1"}, Text: "bedroom-team rotation"})
	must(inc.SetCommander(p, at(3), "U1", "U1", "volunteered"))
	rec(4, incident.Event{Kind: incident.EventMessage, Actor: "U2", Key: "1.1", Text: "502s on the <https://grafana.example/d/1|checkout dashboard> since the 09:58 deploy"})
	rec(5, incident.Event{Kind: incident.EventMessage, Actor: "U1", Key: "1.2", Text: "looking at the logs"})
	rec(5, incident.Event{Kind: incident.EventParticipantJoined, User: "UB1", Actor: "UB1"})
	rec(6, incident.Event{Kind: incident.EventKeyEvent, Actor: "U1", Key: "1.1"})
	rec(7, incident.Event{Kind: incident.EventMessageEdited, Actor: "U2", Key: "1.1", Text: "502s on the <https://grafana.example/d/1|checkout dashboard> since the 09:58 deploy of cart-service &lt;1.4.3&gt;, cc <@U1>"})
	must(inc.Reclassify(p, at(8), "U2", incident.Minor, "only internal test accounts seemed affected"))
	must(inc.Reclassify(p, at(10), "U3", incident.Major, "real customers are affected"))
	must(inc.SetCommander(p, at(12), "U1", "U2", "appointed"))
	must(inc.AddNote(p, at(15), "U2", "Rolling back cart-service to 1.4.2"))
	must(inc.AddUpdate(p, at(20), "U2", "Checkout is down for all customers; rollback in progress, next update 10:50."))
	rec(29, incident.Event{Kind: incident.EventAlertResolved, Actor: incident.ActorAlertmanager, Source: incident.ActorAlertmanager, Key: "ak1"})
	must(inc.Resolve(p, at(30), "U2", "Rolled back cart-service 1.4.3 to 1.4.2."))
	return inc
}

// appointmentsIncident restores slower than the target tolerates, so its
// effectiveness is negative: $6,000/h, 95.0% (8:24:00 per week), blocked for
// 4 h then degraded for 6 h: impact loss $42,000 plus $1,500 of costs;
// average rate $4,200/h; at tolerable unavailability $35,280; protected
// −$8,220; effectiveness −23%.
func appointmentsIncident(t testing.TB, c *incident.Catalogue) *incident.Incident {
	t.Helper()
	p := c.Policy
	svc, _ := c.Service("appointments")
	t0 := time.Date(2026, 11, 18, 8, 0, 0, 0, time.UTC)
	at := func(h int) time.Time { return t0.Add(time.Duration(h) * time.Hour) }
	inc := must(incident.Declare(p, 2, incident.Declaration{
		Title: "Appointment booking unavailable", Service: svc, Actor: "UA1",
		Impact: c.Shares.Impact(incident.ImpactBlocked),
	}, t0))
	must(inc.AddCost(p, at(2), "UA1", usd.Major(1_500), "overtime for the booking team"))
	must(inc.SetImpact(p, at(4), "UA2", c.Shares.Impact(incident.ImpactDegraded)))
	must(inc.AddNote(p, at(5), "UA1", "Calendar sync is retrying against the supplier API"))
	must(inc.Resolve(p, at(10), "UA1", "Supplier API recovered; queue drained."))
	return inc
}

func draft(t testing.TB, c *incident.Catalogue, inc *incident.Incident, prev *review.Review) *review.Review {
	t.Helper()
	st := inc.State(c.Policy, inc.Events[len(inc.Events)-1].At.Add(time.Hour))
	r, err := review.Draft(inc, st, c, review.DraftOptions{Previous: prev, Name: name, Now: st.ResolvedAt.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./review/ -update to create it)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs from the golden file (go test ./review/ -update to accept):\n--- got ---\n%s", name, got)
	}
}
