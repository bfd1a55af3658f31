package incident_test

import (
	"errors"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/incident"
)

var usd = incident.USD

func declare(t *testing.T, c *incident.Catalogue, service string, imp incident.ImpactLevel, at time.Time) *incident.Incident {
	t.Helper()
	s, ok := c.Service(service)
	if !ok {
		t.Fatalf("no service %s", service)
	}
	inc, err := incident.Declare(c.Policy, 7, incident.Declaration{Title: "t", Service: s, Actor: "U1", Impact: c.Shares.Impact(imp)}, at)
	if err != nil {
		t.Fatal(err)
	}
	return inc
}

func TestLossRevisionsPiecewise(t *testing.T) {
	c := furniture(t)
	t0 := time.Date(2026, 11, 17, 10, 0, 0, 0, time.UTC)
	inc := declare(t, c, "bedroom", incident.ImpactBlocked, t0) // $200,000/h
	// 15 min blocked: $50,000. Then degraded (50%) for 30 min: $50,000.
	if _, err := inc.SetImpact(c.Policy, t0.Add(15*time.Minute), "U1", c.Shares.Impact(incident.ImpactDegraded)); err != nil {
		t.Fatal(err)
	}
	// Then an explicit 5% for 60 min: $10,000.
	if _, err := inc.SetImpact(c.Policy, t0.Add(45*time.Minute), "U1", incident.Impact{Level: incident.ImpactPartial, Share: 500, Explicit: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := inc.AddCost(c.Policy, t0.Add(50*time.Minute), "U1", usd.Major(1234)+56, "overtime"); err != nil {
		t.Fatal(err)
	}
	st := inc.State(c.Policy, t0.Add(105*time.Minute))
	if want := usd.Major(110_000) + usd.Major(1234) + 56; st.LossSoFar != want {
		t.Errorf("loss so far = %s, want %s", usd.Format(st.LossSoFar), usd.Format(want))
	}
	if st.Rate != usd.Major(10_000) {
		t.Errorf("rate = %s, want $10,000", usd.Format(st.Rate))
	}
	// Estimate: loss so far + rate × 1 h (costs counted once).
	if want := st.LossSoFar + usd.Major(10_000); st.Estimated != want {
		t.Errorf("estimated = %s, want %s", usd.Format(st.Estimated), usd.Format(want))
	}
	// The timeline is auditable: the state at an earlier instant is the
	// state as it was then.
	early := inc.State(c.Policy, t0.Add(15*time.Minute))
	if early.LossSoFar != usd.Major(50_000) || early.Rate != usd.Major(100_000) {
		t.Errorf("state at 15 min = %s at %s/h, want $50,000 at $100,000/h", usd.Format(early.LossSoFar), usd.Format(early.Rate))
	}
	// Each revision carries its figures.
	var revisions int
	for _, e := range inc.Events {
		if e.Kind == incident.EventImpactChanged || e.Kind == incident.EventCostAdded {
			revisions++
			if e.Figures == nil {
				t.Errorf("revision %d has no figures", e.Seq)
			}
		}
	}
	if revisions != 3 {
		t.Errorf("revisions = %d", revisions)
	}
}

func TestLossAcrossPeakBoundary(t *testing.T) {
	c := furniture(t)
	// Black Friday starts 2026-11-27T00:00Z at $900,000/h for bedroom.
	t0 := time.Date(2026, 11, 26, 23, 30, 0, 0, time.UTC)
	inc := declare(t, c, "bedroom", incident.ImpactBlocked, t0)
	if _, err := inc.Resolve(c.Policy, t0.Add(time.Hour), "U1", ""); err != nil {
		t.Fatal(err)
	}
	st := inc.State(c.Policy, t0.Add(2*time.Hour))
	// 30 min at $200,000 + 30 min at $900,000.
	if want := usd.Major(100_000 + 450_000); st.LossSoFar != want {
		t.Errorf("loss = %s, want %s", usd.Format(st.LossSoFar), usd.Format(want))
	}
	// The target in force at the start (99.0%) measures effectiveness.
	if st.Target.String() != "99.0%" {
		t.Errorf("target = %s", st.Target)
	}
	// During the peak the target is the 99.9% of $900,000.
	bedroom, _ := c.Service("bedroom")
	if got := c.TargetAt(bedroom, t0.Add(time.Hour)); got.String() != "99.9%" {
		t.Errorf("target during peak = %s", got)
	}
	if p, ok := bedroom.PeakAt(t0.Add(time.Hour)); !ok || p.Name != "Black Friday" {
		t.Errorf("peak = %v %v", p, ok)
	}
	// The auto upgrade happened when the rate jumped at the boundary: the
	// estimate before the peak was $100,000+ only at 23:30+30min... check
	// the exact instant: blocked at $200,000/h from 23:30 means the estimate
	// (loss so far + 1h of rate) starts at $200,000 ≥ $100,000 → Major at once.
	if st.Class != incident.Major || !st.UpgradedAt.Equal(t0) {
		t.Errorf("class %s upgraded at %v, want major at %v", st.Class, st.UpgradedAt, t0)
	}
}

func TestAutomaticUpgradeAtExactCrossing(t *testing.T) {
	c := furniture(t)
	t0 := time.Date(2026, 11, 17, 10, 0, 0, 0, time.UTC)
	// appointments: $6,000/h blocked. Estimate = 6000·h + 6000 crosses
	// $10,000 (medium) at 40 min and never gets near $100,000 quickly.
	inc := declare(t, c, "appointments", incident.ImpactBlocked, t0)
	if st := inc.State(c.Policy, t0); st.Class != incident.Minor || st.Priority != incident.PriorityLow {
		t.Fatalf("at start: %s/%s", st.Class, st.Priority)
	}
	if st := inc.State(c.Policy, t0.Add(40*time.Minute)); st.Priority != incident.PriorityMedium {
		t.Errorf("at 40 min priority = %s, want medium (%s)", st.Priority, usd.Format(st.Estimated))
	}
	if st := inc.State(c.Policy, t0.Add(40*time.Minute-time.Second)); st.Priority != incident.PriorityLow {
		t.Errorf("just before 40 min priority = %s, want low", st.Priority)
	}
	// A cost of $90,000 makes the estimate ≥ $100,000: Major at once.
	evs, err := inc.AddCost(c.Policy, t0.Add(time.Hour), "U1", usd.Major(90_000), "refunds")
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 || evs[1].Kind != incident.EventClassChanged || evs[1].Actor != incident.ActorSystem || evs[1].Class != incident.Major {
		t.Fatalf("events = %+v, want cost then automatic upgrade", evs)
	}
	if evs[0].Figures.Class != incident.Major {
		t.Errorf("figures after cost say %s", evs[0].Figures.Class)
	}
	st := inc.State(c.Policy, t0.Add(time.Hour))
	if st.Class != incident.Major || st.Priority != incident.PriorityHigh || st.Priority.ResponseMethod() != "restore availability immediately" {
		t.Errorf("after cost: %s %s", st.Class, st.Priority)
	}

	// Time alone crosses the threshold: bedroom degraded at $100,000/h has
	// an estimate of exactly $100,000 at the start → Major at once; at 10%
	// ($20,000/h) the estimate 20,000·(h+1) reaches $100,000 at 4 h.
	inc2 := declare(t, c, "bedroom", incident.ImpactPartial, t0)
	if st := inc2.State(c.Policy, t0.Add(4*time.Hour-time.Nanosecond)); st.Class != incident.Minor {
		t.Errorf("before 4h: %s", st.Class)
	}
	st = inc2.State(c.Policy, t0.Add(5*time.Hour))
	if st.Class != incident.Major || !st.UpgradedAt.Equal(t0.Add(4*time.Hour)) {
		t.Errorf("class %s upgraded at %v, want 4h", st.Class, st.UpgradedAt.Sub(t0))
	}
	// Tick records it once.
	if evs := inc2.Tick(c.Policy, t0.Add(5*time.Hour)); len(evs) != 1 {
		t.Fatalf("tick added %d events", len(evs))
	}
	if evs := inc2.Tick(c.Policy, t0.Add(6*time.Hour)); len(evs) != 0 {
		t.Errorf("second tick added %d events", len(evs))
	}
}

func TestDowngradeNeedsPersonAndReason(t *testing.T) {
	c := furniture(t)
	t0 := time.Date(2026, 11, 17, 10, 0, 0, 0, time.UTC)
	inc := declare(t, c, "bedroom", incident.ImpactBlocked, t0)
	inc.Tick(c.Policy, t0)
	if st := inc.State(c.Policy, t0); st.Class != incident.Major {
		t.Fatalf("blocked bedroom should be major, is %s", st.Class)
	}
	n := len(inc.Events)
	if _, err := inc.Reclassify(c.Policy, t0.Add(time.Minute), "U1", incident.Minor, "  "); incident.ErrorCode(err) != incident.EINVALID {
		t.Errorf("downgrade without reason: %v", err)
	}
	if _, err := inc.Reclassify(c.Policy, t0.Add(time.Minute), incident.ActorSystem, incident.Minor, "x"); incident.ErrorCode(err) != incident.EFORBIDDEN {
		t.Errorf("downgrade by system: %v", err)
	}
	if len(inc.Events) != n {
		t.Fatalf("rejected commands changed the timeline")
	}
	if _, err := inc.Reclassify(c.Policy, t0.Add(time.Minute), "UM", incident.Minor, "only internal users"); err != nil {
		t.Fatal(err)
	}
	st := inc.State(c.Policy, t0.Add(2*time.Minute))
	if st.Class != incident.Minor || !st.Downgraded {
		t.Fatalf("after downgrade: %s", st.Class)
	}
	last, _ := inc.LastEvent()
	if last.Actor != "UM" || last.Text != "only internal users" {
		t.Errorf("downgrade recorded as %+v", last)
	}
	// Time passing does not undo a person's decision…
	if evs := inc.Tick(c.Policy, t0.Add(3*time.Hour)); len(evs) != 0 {
		t.Errorf("tick re-upgraded a downgraded incident")
	}
	// …but a new revision is a new fact and is evaluated again.
	evs, err := inc.SetImpact(c.Policy, t0.Add(3*time.Hour), "U1", c.Shares.Impact(incident.ImpactBlocked))
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 || evs[1].Class != incident.Major {
		t.Errorf("revision after downgrade: %+v", evs)
	}
}

func TestSecurityAlwaysMajor(t *testing.T) {
	c := furniture(t)
	t0 := time.Date(2026, 11, 17, 10, 0, 0, 0, time.UTC)
	inc := declare(t, c, "appointments", incident.ImpactNone, t0)
	if st := inc.State(c.Policy, t0); st.Class != incident.Minor {
		t.Fatalf("%s", st.Class)
	}
	if _, err := inc.MarkSecurity(c.Policy, t0.Add(time.Minute), "U1"); err != nil {
		t.Fatal(err)
	}
	st := inc.State(c.Policy, t0.Add(time.Minute))
	if st.Class != incident.Major || !st.Security || st.Estimated != 0 {
		t.Errorf("security: %s %v %s", st.Class, st.Security, usd.Format(st.Estimated))
	}
	_, err := inc.Reclassify(c.Policy, t0.Add(2*time.Minute), "UM", incident.Minor, "no data leaked")
	if incident.ErrorCode(err) != incident.ECONFLICT {
		t.Errorf("downgrading a security incident: %v", err)
	}
	if _, err := incident.Declare(c.Policy, 2, incident.Declaration{Title: "leak", Service: c.Services[0], Security: true}, t0); err != nil {
		t.Fatal(err)
	}
}

func TestNegativeEffectiveness(t *testing.T) {
	c := furniture(t)
	t0 := time.Date(2026, 11, 17, 10, 0, 0, 0, time.UTC)
	// ecommerce-platform (99.9%: 10 min 4.8 s tolerable) blocked 1 hour.
	inc := declare(t, c, "ecommerce-platform", incident.ImpactBlocked, t0)
	if _, err := inc.Resolve(c.Policy, t0.Add(time.Hour), "U1", ""); err != nil {
		t.Fatal(err)
	}
	e := inc.State(c.Policy, t0.Add(time.Hour)).Effectiveness
	// Loss $810,000; at tolerable 810,000 × 0.168 = $136,080.
	if e.LossAtTolerable != usd.Major(136_080) || e.Protected != usd.Major(136_080-810_000) {
		t.Errorf("at tolerable %s protected %s", usd.Format(e.LossAtTolerable), usd.Format(e.Protected))
	}
	// -673,920 / 136,080 = -4.9524…; the ratio is kept in basis points.
	if e.Ratio != -49524 || e.PercentText() != "-495.2%" {
		t.Errorf("effectiveness %d bp (%s), want -49524 bp (-495.2%%)", e.Ratio, e.PercentText())
	}
}

func TestReopenResumesLoss(t *testing.T) {
	c := furniture(t)
	t0 := time.Date(2026, 11, 17, 10, 0, 0, 0, time.UTC)
	inc := declare(t, c, "bedroom", incident.ImpactBlocked, t0)
	must(t)(inc.Resolve(c.Policy, t0.Add(10*time.Minute), "U1", "fixed"))
	if _, err := inc.Resolve(c.Policy, t0.Add(11*time.Minute), "U1", ""); incident.ErrorCode(err) != incident.ECONFLICT {
		t.Errorf("double resolve: %v", err)
	}
	if _, err := inc.SetImpact(c.Policy, t0.Add(11*time.Minute), "U1", c.Shares.Impact(incident.ImpactPartial)); incident.ErrorCode(err) != incident.ECONFLICT {
		t.Errorf("impact on resolved: %v", err)
	}
	must(t)(inc.Reopen(c.Policy, t0.Add(60*time.Minute), "U1"))
	must(t)(inc.Resolve(c.Policy, t0.Add(70*time.Minute), "U1", ""))
	st := inc.State(c.Policy, t0.Add(2*time.Hour))
	// Blocked 10 + 10 minutes; nothing while resolved.
	if want := incident.Money(6_666_667); st.LossSoFar != want { // $66,666.666… rounds up
		t.Errorf("loss = %s, want %s", usd.Format(st.LossSoFar), usd.Format(want))
	}
	if st.TimeToRestore != 70*time.Minute {
		t.Errorf("time to restore = %v", st.TimeToRestore)
	}
	// Average rate is over the time the incident was open (20 min).
	if st.Effectiveness.AverageRate != usd.Major(200_000) {
		t.Errorf("average rate %s", usd.Format(st.Effectiveness.AverageRate))
	}
}

func must(t *testing.T) func([]incident.Event, error) {
	return func(_ []incident.Event, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestMoneyRounding(t *testing.T) {
	c := furniture(t)
	t0 := time.Date(2026, 11, 17, 10, 0, 0, 0, time.UTC)
	// appointments $6,000/h at 0.01% = $0.60/h = 1/60 cent per second.
	c.Shares.Partial = 1
	inc := declare(t, c, "appointments", incident.ImpactPartial, t0)
	for _, tc := range []struct {
		after time.Duration
		want  incident.Money
	}{
		{29 * time.Second, 0},    // 0.483 cent → 0
		{30 * time.Second, 1},    // 0.5 cent → 1 (half away from zero)
		{89 * time.Second, 1},    // 1.483 → 1
		{90 * time.Second, 2},    // 1.5 → 2
		{time.Hour, 60},          // $0.60 exactly
		{100 * time.Minute, 100}, // $1.00
	} {
		if got := inc.State(c.Policy, t0.Add(tc.after)).LossSoFar; got != tc.want {
			t.Errorf("after %v: %d cents, want %d", tc.after, got, tc.want)
		}
	}
	// Rounding happens once over the whole timeline: twenty revisions a
	// minute apart, each slice worth less than a cent, still add to the
	// exact total, never 20 × 0.
	inc2 := declare(t, c, "appointments", incident.ImpactPartial, t0)
	for i := 1; i <= 20; i++ {
		if _, err := inc2.AddNote(c.Policy, t0.Add(time.Duration(i)*time.Minute), "U1", "tick"); err != nil {
			t.Fatal(err)
		}
	}
	if got := inc2.State(c.Policy, t0.Add(100*time.Hour)).LossSoFar; got != 6000 {
		t.Errorf("100 h at $0.60/h = %d cents, want 6000", got)
	}
}

func TestMoneyParseFormat(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want incident.Money
	}{
		{"1500", 150_000}, {"1,500.50", 150_050}, {"$1500", 150_000}, {"2.5k", 250_000},
		{"1.2m", 120_000_000}, {"0.01", 1}, {" USD 7 ", 700},
	} {
		got, err := usd.Parse(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("Parse(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "abc", "1.001", "1e5", "--1", "1/2", "$"} {
		if _, err := usd.Parse(bad); incident.ErrorCode(err) != incident.EINVALID {
			t.Errorf("Parse(%q) err = %v, want invalid", bad, err)
		}
	}
	for _, tc := range []struct {
		m    incident.Money
		want string
	}{
		{usd.Major(200_000), "$200,000"}, {123_456, "$1,234.56"}, {5, "$0.05"}, {-usd.Major(574_000), "-$574,000"}, {0, "$0"},
	} {
		if got := usd.Format(tc.m); got != tc.want {
			t.Errorf("Format(%d) = %s, want %s", tc.m, got, tc.want)
		}
	}
	jpy, _ := incident.LookupCurrency("jpy")
	if got := jpy.Format(jpy.Major(1_500_000)); got != "¥1,500,000" {
		t.Errorf("JPY %s", got)
	}
}

func TestParseShareAndAvailability(t *testing.T) {
	if got := incident.Share(-2350).String(); got != "-23.5%" {
		t.Errorf("negative share = %s", got)
	}
	for in, want := range map[string]incident.Share{"30%": 3000, "30": 3000, "2.5%": 250, "100%": 10000, "0%": 0} {
		if got, err := incident.ParseShare(in); err != nil || got != want {
			t.Errorf("ParseShare(%q) = %d %v", in, got, err)
		}
	}
	for _, bad := range []string{"101%", "-1", "x", "1.234"} {
		if _, err := incident.ParseShare(bad); err == nil {
			t.Errorf("ParseShare(%q) accepted", bad)
		}
	}
	for in, want := range map[string]string{"99.9": "99.9%", "95": "95.0%", "99.95%": "99.95%"} {
		a, err := incident.ParseAvailability(in)
		if err != nil || a.String() != want {
			t.Errorf("ParseAvailability(%q) = %s %v", in, a, err)
		}
	}
	for _, bad := range []string{"100", "0", "100.5", "-1", "abc", "99.9999"} {
		if _, err := incident.ParseAvailability(bad); err == nil {
			t.Errorf("ParseAvailability(%q) accepted", bad)
		}
	}
}

func TestTargetAboveAllBandsIsTopBand(t *testing.T) {
	c := furniture(t)
	if got := c.Bands.Target(usd.Major(5_000_000)); got.String() != "99.9%" {
		t.Errorf("above all bands: %s", got)
	}
	if got := c.Bands.Target(usd.Major(7_000)); got.String() != "95.0%" {
		t.Errorf("at the band maximum: %s", got)
	}
	if got := c.Bands.Target(usd.Major(7_000) + 1); got.String() != "99.0%" {
		t.Errorf("a cent above: %s", got)
	}
}

func TestDeclareValidation(t *testing.T) {
	c := furniture(t)
	t0 := time.Date(2026, 11, 17, 10, 0, 0, 0, time.UTC)
	s := c.Services[0]
	for name, d := range map[string]incident.Declaration{
		"no title":   {Service: s},
		"long title": {Title: string(make([]byte, 151)), Service: s},
		"no service": {Title: "x"},
		"future":     {Title: "x", Service: s, StartedAt: t0.Add(time.Hour)},
	} {
		_, err := incident.Declare(c.Policy, 1, d, t0)
		var ierr *incident.Error
		if !errors.As(err, &ierr) || ierr.Code != incident.EINVALID || ierr.Message == "" {
			t.Errorf("%s: %v", name, err)
		}
	}
}
