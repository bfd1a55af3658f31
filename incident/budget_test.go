package incident_test

import (
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/incident"
)

// budgetNow is a Tuesday outside any peak.
var budgetNow = time.Date(2026, 12, 8, 12, 0, 0, 0, time.UTC)

func resolveAt(t *testing.T, c *incident.Catalogue, inc *incident.Incident, at time.Time) {
	t.Helper()
	if _, err := inc.Resolve(c.Policy, at, "UB1", "fixed"); err != nil {
		t.Fatal(err)
	}
}

// TestGoldenWeeklyBudget is the worked example: bedroom (99.0%, 1:40:48)
// blocked 30 min and degraded 20 min in the last 7 days → used 0:40:00 of
// 1:40:48 = 39.7%; left 1:00:48.
func TestGoldenWeeklyBudget(t *testing.T) {
	c := furniture(t)
	bedroom, _ := c.Service("bedroom")
	t1 := budgetNow.Add(-3 * 24 * time.Hour)
	blocked := declare(t, c, "bedroom", incident.ImpactBlocked, t1)
	resolveAt(t, c, blocked, t1.Add(30*time.Minute))
	t2 := budgetNow.Add(-26 * time.Hour)
	degraded := declare(t, c, "bedroom", incident.ImpactDegraded, t2)
	resolveAt(t, c, degraded, t2.Add(20*time.Minute))

	b := c.WeeklyBudget(bedroom, []*incident.Incident{blocked, degraded}, budgetNow)
	if b.Target.String() != "99.0%" || incident.FormatHMS(b.Budget) != "1:40:48" {
		t.Errorf("budget = %s at %s, want 1:40:48 at 99.0%%", incident.FormatHMS(b.Budget), b.Target)
	}
	if b.Used != 40*time.Minute {
		t.Errorf("used = %v, want 40m exactly", b.Used)
	}
	if got := incident.FormatHMS(b.Used); got != "0:40:00" {
		t.Errorf("used = %s, want 0:40:00", got)
	}
	if got := b.UsedPercent(); got != "39.7%" {
		t.Errorf("used = %s, want 39.7%%", got)
	}
	if got := incident.FormatHMS(b.Left()); got != "1:00:48" {
		t.Errorf("left = %s, want 1:00:48", got)
	}
	if b.Over() {
		t.Error("39.7% is flagged as over budget")
	}
	if got, want := b.String(), "0:40:00 of 1:40:48 (39.7%), 1:00:48 left"; got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
}

// TestUnavailabilityShares: partial (10%) counts a tenth, an explicit share
// counts as given, the resolved gap of a reopened incident does not count.
func TestUnavailabilityShares(t *testing.T) {
	c := furniture(t)
	t0 := budgetNow.Add(-2 * time.Hour)
	inc := declare(t, c, "bedroom", incident.ImpactPartial, t0) // 10% for 30 min: 3 min
	if _, err := inc.SetImpact(c.Policy, t0.Add(30*time.Minute), "UB1", incident.Impact{Level: incident.ImpactDegraded, Share: 2500, Explicit: true}); err != nil {
		t.Fatal(err) // 25% for 20 min: 5 min
	}
	resolveAt(t, c, inc, t0.Add(50*time.Minute))
	if _, err := inc.Reopen(c.Policy, t0.Add(80*time.Minute), "UB1"); err != nil {
		t.Fatal(err) // 30 min resolved: nothing; then 25% for 12 min: 3 min
	}
	resolveAt(t, c, inc, t0.Add(92*time.Minute))
	if got := inc.Unavailability("bedroom", budgetNow.Add(-incident.Week), budgetNow); got != 11*time.Minute {
		t.Errorf("unavailability = %v, want 11m", got)
	}
	if got := inc.Unavailability("appointments", budgetNow.Add(-incident.Week), budgetNow); got != 0 {
		t.Errorf("another service's unavailability = %v, want 0", got)
	}
	// The window clips: from t0+40m only 10 min at 25% (2.5 min) and the 3 min after the reopening.
	if got := inc.Unavailability("bedroom", t0.Add(40*time.Minute), budgetNow); got != 5*time.Minute+30*time.Second {
		t.Errorf("clipped unavailability = %v, want 5m30s", got)
	}
}

// TestWeeklyBudgetRolling: only the last 7 days count, an open incident
// counts up to now, a drill never counts, and past 100% is flagged.
func TestWeeklyBudgetRolling(t *testing.T) {
	c := furniture(t)
	apps, _ := c.Service("appointments") // 95.0%: 8:24:00
	old := declare(t, c, "appointments", incident.ImpactBlocked, budgetNow.Add(-7*24*time.Hour-time.Hour))
	resolveAt(t, c, old, budgetNow.Add(-7*24*time.Hour+2*time.Hour)) // 2 of its 3 hours are inside the window
	open := declare(t, c, "appointments", incident.ImpactBlocked, budgetNow.Add(-7*time.Hour))
	drill, err := incident.Declare(c.Policy, 9, incident.Declaration{Title: "practice", Service: apps, Actor: "UA1", Drill: true, Impact: c.Shares.Impact(incident.ImpactBlocked)}, budgetNow.Add(-24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	b := c.WeeklyBudget(apps, []*incident.Incident{old, open, drill}, budgetNow)
	if b.Used != 9*time.Hour {
		t.Errorf("used = %v, want 9h (2 h of the old incident, 7 h of the open one, none of the drill)", b.Used)
	}
	if !b.Over() || b.UsedPercent() != "107.1%" || incident.FormatHMS(b.Left()) != "-0:36:00" {
		t.Errorf("budget = %s (over %v, left %s), want 107.1%% over by 0:36:00", b.UsedPercent(), b.Over(), incident.FormatHMS(b.Left()))
	}
	if got, want := b.String(), "9:00:00 of 8:24:00 (107.1%), over by 0:36:00"; got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
	// A week later nothing is left in the window.
	later := c.WeeklyBudget(apps, []*incident.Incident{old, drill}, budgetNow.Add(8*24*time.Hour))
	if later.Used != 0 || later.UsedPercent() != "0.0%" {
		t.Errorf("a week later used = %v (%s), want 0", later.Used, later.UsedPercent())
	}
}

// TestGoldenMeasuredAvailability: 1 − unavailability ÷ period, never
// rounded up, shown beside the target.
func TestGoldenMeasuredAvailability(t *testing.T) {
	for _, tc := range []struct {
		down, period time.Duration
		want         string
		nines        float64
	}{
		{40 * time.Minute, incident.Week, "99.603%", 2.4},                            // the worked example's week
		{time.Hour + 40*time.Minute + 48*time.Second, incident.Week, "99.000%", 2.0}, // exactly the 99.0% budget
		{10*time.Minute + 4800*time.Millisecond, incident.Week, "99.900%", 3.0},      // exactly the 99.9% budget
		{10*time.Minute + 4801*time.Millisecond, incident.Week, "99.899%", 3.0},      // a hair over: rounded down
		{0, 90 * 24 * time.Hour, "100.000%", 5.0},                                    // nothing happened
		{8*time.Hour + 24*time.Minute, 4 * incident.Week, "98.750%", 1.9},            // one 95.0% budget over four weeks
		{2 * incident.Week, incident.Week, "0.000%", 0},                              // more than the period
	} {
		a := incident.MeasuredAvailability(tc.down, tc.period)
		if got := a.Measured(); got != tc.want {
			t.Errorf("%v over %v = %s, want %s", tc.down, tc.period, got, tc.want)
		}
		if got := a.Nines(); got != tc.nines {
			t.Errorf("%v over %v = %.1f nines, want %.1f", tc.down, tc.period, got, tc.nines)
		}
	}
}

func TestOneDecimal(t *testing.T) {
	for s, want := range map[incident.Share]string{3968: "39.7%", 10000: "100.0%", 0: "0.0%", 5: "0.1%", 4: "0.0%", 10714: "107.1%", -3968: "-39.7%"} {
		if got := incident.OneDecimal(s); got != want {
			t.Errorf("OneDecimal(%d) = %s, want %s", s, got, want)
		}
	}
}
