package incident_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/incident"
	"github.com/incidentbot/incidentbot/incident/incidenttest"
)

func service(t *testing.T, c *incident.Catalogue, name string) incident.Service {
	t.Helper()
	s, ok := c.Service(name)
	if !ok {
		t.Fatalf("no service %s", name)
	}
	return s
}

func impactPtr(i incident.Impact) *incident.Impact { return &i }

// PRODUCT.md's worked example for an incident on more than one service.
func TestGoldenTwoServices(t *testing.T) {
	c := furniture(t)
	t0 := time.Date(2026, 11, 17, 10, 0, 0, 0, time.UTC)
	inc := declare(t, c, "ecommerce-platform", incident.ImpactBlocked, t0)
	if _, err := inc.Affect(c.Policy, t0, "U1", service(t, c, "bedroom"), impactPtr(c.Shares.Impact(incident.ImpactDegraded))); err != nil {
		t.Fatal(err)
	}
	if st := inc.State(c.Policy, t0.Add(time.Minute)); st.Rate != usd.Major(910_000) {
		t.Errorf("rate = %s/h, want $910,000/h", usd.Format(st.Rate))
	}
	if _, err := inc.Resolve(c.Policy, t0.Add(30*time.Minute), "U1", "restored"); err != nil {
		t.Fatal(err)
	}
	st := inc.State(c.Policy, t0.Add(3*time.Hour))
	if st.LossSoFar != usd.Major(455_000) {
		t.Errorf("loss = %s, want $455,000", usd.Format(st.LossSoFar))
	}
	for _, want := range []struct {
		name      string
		loss      int64
		atTol     int64
		tolerable string
		short     string
		protected int64
		target    string
	}{
		{"ecommerce-platform", 405_000, 136_080, "0:10:05", "10 min 4.8 s", -268_920, "99.9%"},
		{"bedroom", 50_000, 168_000, "1:40:48", "1 h 40 min 48 s", 118_000, "99.0%"},
	} {
		s, ok := st.Service(want.name)
		if !ok {
			t.Fatalf("%s is not among the services: %+v", want.name, st.Services)
		}
		e := s.Effectiveness
		if e == nil {
			t.Fatalf("%s: no effectiveness", want.name)
		}
		if s.LossSoFar() != usd.Major(want.loss) || e.LossAtTolerable != usd.Major(want.atTol) || e.Protected != usd.Major(want.protected) {
			t.Errorf("%s: loss %s, at tolerable %s, protected %s; want $%d, $%d, $%d", want.name,
				usd.Format(s.LossSoFar()), usd.Format(e.LossAtTolerable), usd.Format(e.Protected), want.loss, want.atTol, want.protected)
		}
		if incident.FormatHMS(e.TolerableUnavailability) != want.tolerable || incident.FormatExact(e.TolerableUnavailability) != want.short || s.Target.String() != want.target {
			t.Errorf("%s: tolerable %s (%s), target %s", want.name, incident.FormatHMS(e.TolerableUnavailability), incident.FormatExact(e.TolerableUnavailability), s.Target)
		}
	}
	e := st.Effectiveness
	if e == nil {
		t.Fatal("no incident effectiveness")
	}
	if e.Protected != usd.Major(-150_920) || e.LossAtTolerable != usd.Major(304_080) || e.Ratio != -4963 {
		t.Errorf("incident: protected %s of %s at tolerable, ratio %d bp; want -$150,920 of $304,080, -4963 bp", usd.Format(e.Protected), usd.Format(e.LossAtTolerable), e.Ratio)
	}
	if got := e.PercentText(); got != "-49.6%" {
		t.Errorf("incident effectiveness = %s, want -49.6%%", got)
	}
	if st.Services[0].Service.Name != "ecommerce-platform" || !st.Services[0].Primary || st.Services[1].Primary {
		t.Errorf("services order: %+v", st.Services)
	}
}

// Effectiveness is written to one decimal, truncated toward zero, so that
// it never reads better than it is.
func TestPercentText(t *testing.T) {
	for ratio, want := range map[incident.Share]string{7000: "70%", -4963: "-49.6%", 4995: "49.9%", 9955: "99.5%", -4: "0%", 15: "0.1%", 10000: "100%"} {
		if got := (incident.Effectiveness{Ratio: ratio}).PercentText(); got != want {
			t.Errorf("%d bp = %s, want %s", ratio, got, want)
		}
	}
}

func TestAffectedServiceStartsWithoutImpact(t *testing.T) {
	c := furniture(t)
	t0 := time.Date(2026, 11, 17, 10, 0, 0, 0, time.UTC)
	inc := declare(t, c, "bedroom", incident.ImpactBlocked, t0)
	if _, err := inc.Affect(c.Policy, t0.Add(10*time.Minute), "U1", service(t, c, "appointments"), nil); err != nil {
		t.Fatal(err)
	}
	st := inc.State(c.Policy, t0.Add(20*time.Minute))
	ap, ok := st.Service("appointments")
	if !ok || ap.Impact.Level != incident.ImpactNone || ap.Rate != 0 || !ap.Active {
		t.Fatalf("appointments = %+v", ap)
	}
	if st.Rate != usd.Major(200_000) {
		t.Errorf("rate = %s", usd.Format(st.Rate))
	}
	// Revised independently: blocked from 20 min, then ended at 50 min.
	if _, err := inc.SetServiceImpact(c.Policy, t0.Add(20*time.Minute), "U1", "appointments", c.Shares.Impact(incident.ImpactBlocked)); err != nil {
		t.Fatal(err)
	}
	if _, err := inc.Unaffect(c.Policy, t0.Add(50*time.Minute), "U1", "appointments", "bookings work again"); err != nil {
		t.Fatal(err)
	}
	st = inc.State(c.Policy, t0.Add(time.Hour))
	ap, _ = st.Service("appointments")
	if ap.Loss != usd.Major(3_000) || ap.Active || ap.Rate != 0 || ap.Reason != "bookings work again" {
		t.Errorf("appointments after 30 min blocked, then ended = %+v", ap)
	}
	if st.Rate != usd.Major(200_000) || st.LossSoFar != usd.Major(203_000) {
		t.Errorf("rate %s, loss %s; want $200,000/h and $203,000", usd.Format(st.Rate), usd.Format(st.LossSoFar))
	}
	if st.Impact.Level != incident.ImpactBlocked {
		t.Errorf("the primary's impact = %s", st.Impact)
	}
	// Unaffecting again, or the primary, is refused; impact of a service
	// not in the incident too.
	for _, err := range []error{
		func() error {
			_, err := inc.Unaffect(c.Policy, t0.Add(time.Hour), "U1", "appointments", "again")
			return err
		}(),
		func() error { _, err := inc.Unaffect(c.Policy, t0.Add(time.Hour), "U1", "bedroom", "x"); return err }(),
		func() error {
			_, err := inc.Unaffect(c.Policy, t0.Add(time.Hour), "U1", "appointments", " ")
			return err
		}(),
		func() error {
			_, err := inc.SetServiceImpact(c.Policy, t0.Add(time.Hour), "U1", "ecommerce-platform", c.Shares.Impact(incident.ImpactBlocked))
			return err
		}(),
		func() error {
			_, err := inc.Affect(c.Policy, t0.Add(time.Hour), "U1", service(t, c, "bedroom"), nil)
			return err
		}(),
	} {
		if incident.ErrorCode(err) != incident.ECONFLICT && incident.ErrorCode(err) != incident.EINVALID {
			t.Errorf("err = %v, want a conflict or invalid input", err)
		}
	}
	// Affecting it again brings it back.
	if _, err := inc.Affect(c.Policy, t0.Add(time.Hour), "U1", service(t, c, "appointments"), impactPtr(c.Shares.Impact(incident.ImpactDegraded))); err != nil {
		t.Fatal(err)
	}
	if ap, _ := inc.State(c.Policy, t0.Add(2*time.Hour)).Service("appointments"); ap.Loss != usd.Major(6_000) || !ap.Active {
		t.Errorf("appointments back degraded for an hour = %+v", ap)
	}
}

func TestTotalCrossesThresholdAtExactInstant(t *testing.T) {
	c := furniture(t)
	t0 := time.Date(2026, 11, 17, 10, 0, 0, 0, time.UTC)
	// appointments blocked at $6,000/h is minor on its own; bedroom partial
	// ($20,000/h) from 30 min makes the total $26,000/h.
	inc := declare(t, c, "appointments", incident.ImpactBlocked, t0)
	at := t0.Add(30 * time.Minute)
	if _, err := inc.Affect(c.Policy, at, "U1", service(t, c, "bedroom"), impactPtr(c.Shares.Impact(incident.ImpactPartial))); err != nil {
		t.Fatal(err)
	}
	st := inc.State(c.Policy, t0.Add(5*time.Hour))
	if st.Class != incident.Major {
		t.Fatalf("class %s, estimate %s", st.Class, usd.Format(st.Estimated))
	}
	// Estimate = $3,000 + $26,000 × (h − 0.5) + $26,000 reaches $100,000
	// after 71/26 h past 30 min.
	want := at.Add(time.Duration((71*int64(time.Hour) + 25) / 26))
	if !st.UpgradedAt.Equal(want) {
		t.Errorf("upgraded at %v, want %v", st.UpgradedAt, want)
	}
	if before := inc.State(c.Policy, want.Add(-time.Nanosecond)); before.Class != incident.Minor {
		t.Errorf("a nanosecond before: %s", before.Class)
	}
	// Attaching a big enough service upgrades at the instant it is attached.
	inc2 := declare(t, c, "appointments", incident.ImpactBlocked, t0)
	if _, err := inc2.Affect(c.Policy, at, "U1", service(t, c, "bedroom"), impactPtr(c.Shares.Impact(incident.ImpactDegraded))); err != nil {
		t.Fatal(err)
	}
	if st := inc2.State(c.Policy, at); st.Class != incident.Major || !st.UpgradedAt.Equal(at) {
		t.Errorf("class %s at %v, want major at %v", st.Class, st.UpgradedAt, at)
	}
	var recorded bool
	for _, e := range inc2.Events {
		recorded = recorded || (e.Kind == incident.EventClassChanged && e.Actor == incident.ActorSystem && e.At.Equal(at))
	}
	if !recorded {
		t.Error("the automatic upgrade is not on the timeline")
	}
}

// A timeline stored before incidents had several services (impact events
// without a service) replays to the same figures.
func TestStoredSingleServiceTimelineReplays(t *testing.T) {
	c := furniture(t)
	raw := `{"number":3,"title":"Bedroom checkout down","service":{"name":"bedroom","team":"bedroom-team","domain":"furniture","hourly_exposure":20000000},
	"started_at":"2026-11-17T10:00:00Z","events":[
	{"seq":1,"at":"2026-11-17T10:00:00Z","kind":"declared","actor":"U1","impact":{"level":"none","share":0}},
	{"seq":2,"at":"2026-11-17T10:05:00Z","kind":"impact_changed","actor":"U1","impact":{"level":"blocked","share":10000}},
	{"seq":3,"at":"2026-11-17T10:05:00Z","kind":"class_changed","actor":"system","class":"major"},
	{"seq":4,"at":"2026-11-17T10:20:00Z","kind":"impact_changed","actor":"U1","impact":{"level":"degraded","share":5000}},
	{"seq":5,"at":"2026-11-17T10:25:00Z","kind":"cost_added","actor":"U1","amount":150000,"text":"overtime"},
	{"seq":6,"at":"2026-11-17T10:35:00Z","kind":"resolved","actor":"U1"}]}`
	var inc incident.Incident
	if err := json.Unmarshal([]byte(raw), &inc); err != nil {
		t.Fatal(err)
	}
	st := inc.State(c.Policy, time.Date(2026, 11, 17, 12, 0, 0, 0, time.UTC))
	// 15 min blocked ($50,000) + 15 min degraded ($25,000) + $1,500.
	if st.LossSoFar != usd.Major(76_500) || st.Impact.Level != incident.ImpactDegraded || st.Class != incident.Major {
		t.Errorf("loss %s, impact %s, class %s", usd.Format(st.LossSoFar), st.Impact, st.Class)
	}
	if len(st.Services) != 1 || st.Services[0].LossSoFar() != st.LossSoFar {
		t.Errorf("services = %+v", st.Services)
	}
	e := st.Effectiveness
	// average $75,000 over 35 min → $128,571.43/h; at tolerable 1:40:48 $216,000.
	if e == nil || e.LossAtTolerable != usd.Major(216_000) || e.Protected != usd.Major(216_000-76_500) {
		t.Errorf("effectiveness = %+v", e)
	}
}

func TestDependsOnValidation(t *testing.T) {
	for _, tc := range []struct {
		name string
		deps map[string][]string
		want string
	}{
		{"unknown", map[string][]string{"bedroom": {"payments"}}, `services[1].depends_on[0]: unknown service "payments"`},
		{"self", map[string][]string{"bedroom": {"bedroom"}}, "services[1].depends_on: dependency cycle bedroom → bedroom"},
		{"cycle", map[string][]string{"bedroom": {"appointments"}, "appointments": {"ecommerce-platform"}, "ecommerce-platform": {"bedroom"}},
			"services[0].depends_on: dependency cycle appointments → ecommerce-platform → bedroom → appointments"},
	} {
		c := incidenttest.Furniture()
		c.Normalize() // appointments, bedroom, ecommerce-platform
		for name, deps := range tc.deps {
			incidenttest.Service(c, name).DependsOn = deps
		}
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
	c := incidenttest.Furniture()
	incidenttest.Service(c, "bedroom").DependsOn = []string{"ecommerce-platform"}
	incidenttest.Service(c, "appointments").DependsOn = []string{"Ecommerce-Platform"}
	incidenttest.Valid(t, c)
}

func TestRelated(t *testing.T) {
	c := incidenttest.Furniture()
	c.Services = append(c.Services,
		incident.Service{Name: "database", Team: "platform-team"},
		incident.Service{Name: "search", Team: "platform-team", DependsOn: []string{"database"}},
		incident.Service{Name: "sofa", Team: "bedroom-team"},
	)
	incidenttest.Service(c, "ecommerce-platform").DependsOn = []string{"search"}
	incidenttest.Service(c, "bedroom").DependsOn = []string{"database"}
	incidenttest.Service(c, "appointments").DependsOn = []string{"database"}
	incidenttest.Valid(t, c)
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"search", "database", true},             // direct
		{"database", "ecommerce-platform", true}, // transitive, either way round
		{"bedroom", "appointments", true},        // shared direct dependency
		{"bedroom", "search", true},              // shared direct dependency
		{"ecommerce-platform", "bedroom", false}, // only an indirect one shared
		{"sofa", "database", false},              // unrelated
		{"Bedroom", "bedroom", true},             // the same
		{"unknown", "database", false},           // not in the catalogue
	} {
		if got := c.Related(tc.a, tc.b); got != tc.want {
			t.Errorf("Related(%s, %s) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}

func merge(t *testing.T, c *incident.Catalogue, into, b *incident.Incident, at time.Time) {
	t.Helper()
	if _, err := b.MergeInto(c.Policy, at, "U9", into.Number, "same outage"); err != nil {
		t.Fatal(err)
	}
	if _, err := into.Absorb(c.Policy, at, "U9", b, "same outage"); err != nil {
		t.Fatal(err)
	}
}

func declareN(t *testing.T, c *incident.Catalogue, n int64, service string, imp incident.ImpactLevel, at time.Time, actor string) *incident.Incident {
	t.Helper()
	inc, err := incident.Declare(c.Policy, n, incident.Declaration{Title: "t", Service: service2(t, c, service), Actor: actor, Impact: c.Shares.Impact(imp)}, at)
	if err != nil {
		t.Fatal(err)
	}
	return inc
}

func service2(t *testing.T, c *incident.Catalogue, name string) incident.Service {
	return service(t, c, name)
}

// Where both incidents priced the same service at the same time, the
// higher share counts: no minute is counted twice.
func TestMergeCountsTheHigherShare(t *testing.T) {
	c := furniture(t)
	t0 := time.Date(2026, 11, 17, 10, 0, 0, 0, time.UTC)
	b := declareN(t, c, 2, "bedroom", incident.ImpactBlocked, t0, "U2")                      // $200,000/h from 0
	a := declareN(t, c, 3, "bedroom", incident.ImpactDegraded, t0.Add(10*time.Minute), "U3") // $100,000/h from 10 min
	m := t0.Add(30 * time.Minute)
	beforeMerge := a.State(c.Policy, m.Add(-time.Minute))
	merge(t, c, a, b, m)
	// Up to the merge: 30 min at 100% = $100,000 (not $100,000 + $33,333).
	st := a.State(c.Policy, m)
	if st.LossSoFar != usd.Major(100_000) {
		t.Errorf("loss at the merge = %s, want $100,000", usd.Format(st.LossSoFar))
	}
	// From then on, bedroom is priced at the higher share: blocked.
	st = a.State(c.Policy, m.Add(30*time.Minute))
	if st.Rate != usd.Major(200_000) || st.LossSoFar != usd.Major(200_000) || len(st.Services) != 1 {
		t.Errorf("30 min later: rate %s, loss %s, services %d", usd.Format(st.Rate), usd.Format(st.LossSoFar), len(st.Services))
	}
	if !st.StartedAt.Equal(t0) || st.Merged[0] != 2 {
		t.Errorf("started %v, merged %v", st.StartedAt, st.Merged)
	}
	// The timeline is auditable: before the merge nothing changed.
	if again := a.State(c.Policy, m.Add(-time.Minute)); again.LossSoFar != beforeMerge.LossSoFar || again.Rate != beforeMerge.Rate || len(again.Merged) != 0 {
		t.Errorf("state before the merge changed: %s at %s/h, merged %v", usd.Format(again.LossSoFar), usd.Format(again.Rate), again.Merged)
	}
	if early := a.State(c.Policy, t0.Add(20*time.Minute)); early.LossSoFar != 1_666_667 {
		t.Errorf("state at 20 min = %s; want A's own $16,666.67", usd.Format(early.LossSoFar))
	}
	// The merged incident is closed as merged, not resolved.
	bs := b.State(c.Policy, m.Add(time.Hour))
	if bs.Status != incident.StatusMerged || bs.MergedInto != 3 || bs.Effectiveness != nil || incident.Open(b.Events) {
		t.Errorf("merged incident: %s into %d, open %v", bs.Status, bs.MergedInto, incident.Open(b.Events))
	}
	if bs.Rate != 0 {
		t.Errorf("the merged incident's loss clock still runs: %s/h", usd.Format(bs.Rate))
	}
	if _, err := b.SetImpact(c.Policy, m.Add(time.Minute), "U2", c.Shares.Impact(incident.ImpactPartial)); incident.ErrorCode(err) != incident.ECONFLICT {
		t.Errorf("impact on a merged incident: %v", err)
	}
	if _, err := b.Reopen(c.Policy, m.Add(time.Minute), "U2"); incident.ErrorCode(err) != incident.ECONFLICT {
		t.Errorf("reopen a merged incident: %v", err)
	}
}

func TestMergeBringsServicesCostsPeopleAndAlerts(t *testing.T) {
	c := furniture(t)
	t0 := time.Date(2026, 11, 17, 10, 0, 0, 0, time.UTC)
	a := declareN(t, c, 1, "ecommerce-platform", incident.ImpactPartial, t0, "U1") // $81,000/h
	b := declareN(t, c, 2, "bedroom", incident.ImpactNone, t0.Add(5*time.Minute), "U2")
	if _, err := b.Record(c.Policy, t0.Add(5*time.Minute), incident.Event{Kind: incident.EventAlertFired, Actor: incident.ActorAlertmanager, Key: "g/bedroom", Source: incident.ActorAlertmanager}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.SetImpact(c.Policy, t0.Add(10*time.Minute), "U2", c.Shares.Impact(incident.ImpactDegraded)); err != nil {
		t.Fatal(err)
	}
	if _, err := b.AddCost(c.Policy, t0.Add(15*time.Minute), "U4", usd.Major(2_000), "refunds"); err != nil {
		t.Fatal(err)
	}
	m := t0.Add(40 * time.Minute)
	merge(t, c, a, b, m)
	n := len(a.Events)
	// Absorbing again changes nothing.
	if evs, err := a.Absorb(c.Policy, m.Add(time.Minute), "U9", b, ""); err != nil || len(evs) != 0 || len(a.Events) != n {
		t.Errorf("second absorb: %d events, %v", len(evs), err)
	}
	var from int
	for _, e := range a.Events {
		if e.From == 2 {
			from++
		}
	}
	if from != 5 { // declared, alert, impact, automatic upgrade, cost
		t.Errorf("%d events from #2, want 5", from)
	}
	if _, err := a.Resolve(c.Policy, t0.Add(time.Hour), "U1", ""); err != nil {
		t.Fatal(err)
	}
	st := a.State(c.Policy, t0.Add(2*time.Hour))
	bed, ok := st.Service("bedroom")
	// bedroom degraded from 10 min to 60 min: $100,000/h × 50 min.
	if !ok || bed.From != 2 || bed.Loss != usd.Major(250_000)/3 || bed.Costs != usd.Major(2_000) || bed.Impact.Level != incident.ImpactDegraded {
		t.Errorf("bedroom = %+v", bed)
	}
	// ecommerce partial for an hour: $81,000.
	if want := usd.Major(81_000) + usd.Major(250_000)/3 + usd.Major(2_000); st.LossSoFar != want || st.Costs != usd.Major(2_000) {
		t.Errorf("loss %s, want %s", usd.Format(st.LossSoFar), usd.Format(want))
	}
	if len(st.Alerts) != 1 || st.Alerts[0].Key != "g/bedroom" {
		t.Errorf("alerts = %+v", st.Alerts)
	}
	if strings.Join(st.Participants, ",") != "U1,U2,U4,U9" {
		t.Errorf("participants = %v", st.Participants)
	}
	if st.Effectiveness == nil || bed.Effectiveness == nil {
		t.Fatal("no effectiveness")
	}
	// bedroom's own: its loss over its 55 minutes in the incident (it
	// joined with #2, at 5 min, impact unknown until 10 min).
	if bed.Effectiveness.AverageRate != 9_090_909 {
		t.Errorf("bedroom average rate = %s", usd.Format(bed.Effectiveness.AverageRate))
	}
	var prot incident.Money
	for _, s := range st.Services {
		prot += s.Effectiveness.Protected
	}
	if st.Effectiveness.Protected != prot {
		t.Errorf("incident protected %s ≠ Σ %s", usd.Format(st.Effectiveness.Protected), usd.Format(prot))
	}
	if names := a.ServiceNames(); strings.Join(names, ",") != "ecommerce-platform,bedroom" {
		t.Errorf("service names = %v", names)
	}
}

func TestMergeOfAMergedIncident(t *testing.T) {
	c := furniture(t)
	t0 := time.Date(2026, 11, 17, 10, 0, 0, 0, time.UTC)
	a := declareN(t, c, 1, "ecommerce-platform", incident.ImpactNone, t0, "U1")
	b := declareN(t, c, 2, "bedroom", incident.ImpactPartial, t0, "U2")       // $20,000/h
	cc := declareN(t, c, 3, "appointments", incident.ImpactBlocked, t0, "U3") // $6,000/h
	merge(t, c, b, cc, t0.Add(30*time.Minute))
	merge(t, c, a, b, t0.Add(time.Hour))
	st := a.State(c.Policy, t0.Add(time.Hour))
	if st.LossSoFar != usd.Major(26_000) || st.Rate != usd.Major(26_000) || len(st.Services) != 3 {
		t.Errorf("loss %s, rate %s/h, %d services", usd.Format(st.LossSoFar), usd.Format(st.Rate), len(st.Services))
	}
	if len(st.Merged) != 2 || st.Merged[0] != 3 || st.Merged[1] != 2 {
		t.Errorf("merged = %v", st.Merged)
	}
	if _, err := cc.MergeInto(c.Policy, t0.Add(time.Hour), "U1", 1, ""); incident.ErrorCode(err) != incident.ECONFLICT {
		t.Errorf("merging a merged incident again: %v", err)
	}
	if _, err := a.Absorb(c.Policy, t0.Add(time.Hour), "U1", declareN(t, c, 4, "bedroom", incident.ImpactNone, t0, "U1"), ""); incident.ErrorCode(err) != incident.ECONFLICT {
		t.Errorf("absorbing an incident not merged into it: %v", err)
	}
}

// Unavailability counts each service's own impact: an affected service
// from when it joined until its impact ended; a merged incident's minutes
// count once, in the incident it went into.
func TestUnavailabilityOfSeveralServices(t *testing.T) {
	c := furniture(t)
	t0 := time.Date(2026, 11, 17, 10, 0, 0, 0, time.UTC)
	end := t0.Add(3 * time.Hour)
	inc := declareN(t, c, 1, "ecommerce-platform", incident.ImpactBlocked, t0, "U1")
	deg := c.Shares.Impact(incident.ImpactDegraded)
	if _, err := inc.Affect(c.Policy, t0.Add(10*time.Minute), "U1", service(t, c, "bedroom"), &deg); err != nil {
		t.Fatal(err) // bedroom 50% from 10 to 30 min: 10 min
	}
	if _, err := inc.Unaffect(c.Policy, t0.Add(30*time.Minute), "U1", "bedroom", "fine"); err != nil {
		t.Fatal(err)
	}
	// #2: appointments blocked from 0, merged in at 20 min; resolved at 40.
	other := declareN(t, c, 2, "appointments", incident.ImpactBlocked, t0, "U2")
	merge(t, c, inc, other, t0.Add(20*time.Minute))
	if _, err := inc.Resolve(c.Policy, t0.Add(40*time.Minute), "U1", ""); err != nil {
		t.Fatal(err)
	}
	for svc, want := range map[string]time.Duration{"ecommerce-platform": 40 * time.Minute, "bedroom": 10 * time.Minute, "appointments": 40 * time.Minute} {
		if got := incident.ServiceUnavailability([]*incident.Incident{inc, other}, svc, t0.Add(-time.Hour), end); got != want {
			t.Errorf("%s unavailability = %v, want %v", svc, got, want)
		}
	}
	if spans := other.ImpactSpans(end); len(spans) != 0 {
		t.Errorf("the merged incident still has spans: %+v", spans)
	}
}
