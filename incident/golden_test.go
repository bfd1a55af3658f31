package incident_test

import (
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/incident"
	"github.com/incidentbot/incidentbot/incident/incidenttest"
)

// furniture is PRODUCT.md's worked example: a furniture retailer.
func furniture(t *testing.T) *incident.Catalogue {
	t.Helper()
	c := incidenttest.Furniture()
	incidenttest.Domain(c, "furniture").OnCall = incidenttest.Rotation("UD1", "UD2")
	incidenttest.Staff(c, "platform-team", incidenttest.Rotation("UP1", "UP2"), "UP1")
	incidenttest.Staff(c, "appointments-team", incidenttest.Rotation("UA1"), "UA1")
	incidenttest.Staff(c, "bedroom-team", incidenttest.Rotation("UB1", "UB2", "UB3"), "UB1")
	return incidenttest.Valid(t, c)
}

func TestGoldenBands(t *testing.T) {
	c := furniture(t)
	for _, tc := range []struct {
		band      int
		level     string
		tolerable time.Duration
		hms       string
		exact     string // as the playbook writes it
		short     string // rounded to the second, as people read durations
	}{
		{0, "95.0%", 8*time.Hour + 24*time.Minute, "8:24:00", "8 h 24 min", "8 h 24 min"},
		{1, "99.0%", time.Hour + 40*time.Minute + 48*time.Second, "1:40:48", "1 h 40 min 48 s", "1 h 40 min 48 s"},
		{2, "99.9%", 10*time.Minute + 4800*time.Millisecond, "0:10:05", "10 min 4.8 s", "10 min 5 s"},
	} {
		a := c.Bands[tc.band].Availability
		if got := a.String(); got != tc.level {
			t.Errorf("band %d level = %s, want %s", tc.band, got, tc.level)
		}
		tol := a.TolerableUnavailability()
		if tol != tc.tolerable {
			t.Errorf("band %d tolerable = %v, want %v exactly", tc.band, tol, tc.tolerable)
		}
		if got := incident.FormatHMS(tol); got != tc.hms {
			t.Errorf("band %d FormatHMS = %s, want %s", tc.band, got, tc.hms)
		}
		if got := incident.FormatExact(tol); got != tc.exact {
			t.Errorf("band %d FormatExact = %s, want %s", tc.band, got, tc.exact)
		}
		if got := incident.FormatShort(tol); got != tc.short {
			t.Errorf("band %d FormatShort = %s, want %s", tc.band, got, tc.short)
		}
	}
}

func TestGoldenServices(t *testing.T) {
	c := furniture(t)
	monday := time.Date(2026, 11, 16, 12, 0, 0, 0, time.UTC) // no peak
	for _, tc := range []struct {
		service        string
		target         string
		inHours, outOf incident.OnCallLevel
	}{
		{"ecommerce-platform", "99.9%", incident.OnCallTeam, incident.OnCallTeam},
		{"appointments", "95.0%", incident.OnCallTeam, incident.OnCallNone},
		{"bedroom", "99.0%", incident.OnCallTeam, incident.OnCallDomain},
	} {
		s, ok := c.Service(tc.service)
		if !ok {
			t.Fatalf("service %s missing", tc.service)
		}
		a := c.TargetAt(s, monday)
		if a.String() != tc.target {
			t.Errorf("%s target = %s, want %s", tc.service, a, tc.target)
		}
		in, out := incident.OnCallLevels(a)
		if in != tc.inHours || out != tc.outOf {
			t.Errorf("%s on-call = %s/%s, want %s/%s", tc.service, in, out, tc.inHours, tc.outOf)
		}
	}
}

func TestGoldenBedroomEffectiveness(t *testing.T) {
	c := furniture(t)
	bedroom, _ := c.Service("bedroom")
	start := time.Date(2026, 11, 17, 10, 0, 0, 0, time.UTC)
	inc, err := incident.Declare(c.Policy, 1, incident.Declaration{
		Title: "Bedroom checkout down", Service: bedroom, Actor: "U1",
		Impact: c.Shares.Impact(incident.ImpactBlocked),
	}, start)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := inc.Resolve(c.Policy, start.Add(30*time.Minute), "U1", "rolled back"); err != nil {
		t.Fatal(err)
	}
	st := inc.State(c.Policy, start.Add(2*time.Hour))
	usd := incident.USD
	e := st.Effectiveness
	if e == nil {
		t.Fatal("no effectiveness at resolution")
	}
	checks := []struct {
		name      string
		got, want incident.Money
	}{
		{"loss", st.LossSoFar, usd.Major(100_000)},
		{"loss at tolerable unavailability", e.LossAtTolerable, usd.Major(336_000)},
		{"protected", e.Protected, usd.Major(236_000)},
		{"average rate", e.AverageRate, usd.Major(200_000)},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %s, want %s", ch.name, usd.Format(ch.got), usd.Format(ch.want))
		}
	}
	// 236,000 / 336,000 = 70.24%: the playbook's "70%" to a whole percent;
	// people read it with one decimal.
	if e.Ratio != 7024 || e.PercentText() != "70.2%" {
		t.Errorf("effectiveness = %d bp (%s), want 7024 bp (70.2%%)", e.Ratio, e.PercentText())
	}
	if e.TolerableUnavailability != 6048*time.Second {
		t.Errorf("tolerable = %v, want 1h40m48s", e.TolerableUnavailability)
	}
	if st.TimeToRestore != 30*time.Minute {
		t.Errorf("time to restore = %v", st.TimeToRestore)
	}
}
