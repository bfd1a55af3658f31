package incident_test

import (
	"strings"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/incident"
)

func TestCallout(t *testing.T) {
	c := furniture(t)
	london := c.WorkingHours.Location
	tuesdayNoon := time.Date(2026, 11, 17, 12, 0, 0, 0, london)
	saturdayNight := time.Date(2026, 11, 21, 23, 0, 0, 0, london)
	mondayNine := time.Date(2026, 11, 23, 9, 0, 0, 0, london)
	for _, tc := range []struct {
		service  string
		class    incident.Class
		at       time.Time
		level    incident.OnCallLevel
		owner    string
		deferred time.Time
	}{
		{"appointments", incident.Minor, tuesdayNoon, incident.OnCallTeam, "appointments-team", time.Time{}},
		{"appointments", incident.Minor, saturdayNight, incident.OnCallTeam, "appointments-team", mondayNine},
		{"appointments", incident.Major, saturdayNight, incident.OnCallTeam, "appointments-team", time.Time{}},
		{"bedroom", incident.Minor, saturdayNight, incident.OnCallDomain, "furniture", time.Time{}},
		{"bedroom", incident.Minor, tuesdayNoon, incident.OnCallTeam, "bedroom-team", time.Time{}},
		{"ecommerce-platform", incident.Minor, saturdayNight, incident.OnCallTeam, "platform-team", time.Time{}},
	} {
		s, _ := c.Service(tc.service)
		co := c.CalloutFor(s, tc.class, tc.at)
		if co.Level != tc.level || co.Owner != tc.owner || !co.DeferredUntil.Equal(tc.deferred) {
			t.Errorf("%s %s at %v: %+v", tc.service, tc.class, tc.at, co)
		}
	}
}

func TestWorkingHours(t *testing.T) {
	c := furniture(t)
	wh := c.WorkingHours
	london := wh.Location
	for _, tc := range []struct {
		at time.Time
		in bool
	}{
		{time.Date(2026, 11, 17, 9, 0, 0, 0, london), true},
		{time.Date(2026, 11, 17, 8, 59, 0, 0, london), false},
		{time.Date(2026, 11, 17, 17, 29, 0, 0, london), true},
		{time.Date(2026, 11, 17, 17, 30, 0, 0, london), false},
		{time.Date(2026, 11, 22, 12, 0, 0, 0, london), false}, // Sunday
		// Summer time: 08:30 UTC is 09:30 in London.
		{time.Date(2026, 7, 14, 8, 30, 0, 0, time.UTC), true},
	} {
		if got := wh.InHours(tc.at); got != tc.in {
			t.Errorf("InHours(%v) = %v", tc.at, got)
		}
	}
	// Friday evening → Monday 09:00 London.
	got := wh.NextStart(time.Date(2026, 11, 20, 18, 0, 0, 0, london))
	if want := time.Date(2026, 11, 23, 9, 0, 0, 0, london); !got.Equal(want) {
		t.Errorf("NextStart = %v, want %v", got, want)
	}
	// Across the October clock change the start stays 09:00 local.
	got = wh.NextStart(time.Date(2026, 10, 24, 12, 0, 0, 0, london))
	if want := time.Date(2026, 10, 26, 9, 0, 0, 0, london); !got.Equal(want) {
		t.Errorf("NextStart over DST = %v, want %v", got, want)
	}
	for _, bad := range [][3]string{{"mon", "17:00", "09:00"}, {"funday", "09:00", "17:00"}, {"mon", "9am", "17:00"}, {"mon", "09:00", "25:00"}} {
		if _, err := incident.ParseWorkingHours([]string{bad[0]}, bad[1], bad[2], london); err == nil || !strings.Contains(err.Error(), "organisation.working_hours") {
			t.Errorf("ParseWorkingHours(%v) = %v", bad, err)
		}
	}
}

func TestRotation(t *testing.T) {
	loc := time.UTC
	r := incident.Rotation{Users: []string{"A", "B", "C"}, HandoffDay: time.Monday, HandoffMinutes: 9 * 60}
	mon := time.Date(2026, 11, 16, 9, 0, 0, 0, loc)
	first := r.OnCallAt(mon, loc)
	if got := r.OnCallAt(mon.Add(-time.Minute), loc); got == first {
		t.Errorf("handoff did not happen at Monday 09:00: %s both sides", got)
	}
	if got := r.OnCallAt(mon.Add(6*24*time.Hour), loc); got != first {
		t.Errorf("mid-week changed hands: %s vs %s", got, first)
	}
	seen := map[string]bool{}
	for w := 0; w < 3; w++ {
		seen[r.OnCallAt(mon.AddDate(0, 0, 7*w), loc)] = true
	}
	if len(seen) != 3 {
		t.Errorf("three weeks gave %v", seen)
	}
	if got := r.OnCallAt(mon.AddDate(0, 0, 21), loc); got != first {
		t.Errorf("after a full cycle %s, want %s", got, first)
	}
	if got := (incident.Rotation{}).OnCallAt(mon, loc); got != "" {
		t.Errorf("empty rotation: %q", got)
	}
	if d, m, err := incident.ParseHandoff("tue 08:30"); err != nil || d != time.Tuesday || m != 510 {
		t.Errorf("ParseHandoff: %v %v %v", d, m, err)
	}
}

func TestCatalogueValidation(t *testing.T) {
	for _, tc := range []struct {
		key    string
		mutate func(c *incident.Catalogue)
	}{
		{"services[0].hourly_exposure", func(c *incident.Catalogue) { c.Services[0].HourlyExposure = -1 }},
		{"services[2].team", func(c *incident.Catalogue) { c.Services[2].Team = "nobody" }},
		{"teams[0].domain", func(c *incident.Catalogue) { c.Teams[0].Domain = "nowhere" }},
		{"exposure_bands[1].max_hourly_exposure", func(c *incident.Catalogue) { c.Bands[1].MaxHourlyExposure = c.Bands[0].MaxHourlyExposure }},
		{"exposure_bands[0].availability", func(c *incident.Catalogue) { c.Bands[0].Availability = 100_000 }},
		{"services[1].peaks[0].end", func(c *incident.Catalogue) { p := &c.Services[1].Peaks[0]; p.End = p.Start }},
		{"organisation.loss_thresholds.medium", func(c *incident.Catalogue) { c.Thresholds.Medium = c.Thresholds.High + 1 }},
		{"organisation.impact_shares.blocked", func(c *incident.Catalogue) { c.Shares.Blocked = 10_001 }},
		{"services[1].pagerduty_service_id", func(c *incident.Catalogue) {
			c.Services[0].PagerDutyServiceID, c.Services[1].PagerDutyServiceID = "PX", "PX"
		}},
	} {
		c := furniture(t)
		tc.mutate(c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.key) {
			t.Errorf("%s: %v", tc.key, err)
		}
	}
}

func TestTimelineMessagesAndIdempotency(t *testing.T) {
	c := furniture(t)
	t0 := time.Date(2026, 11, 17, 10, 0, 0, 0, time.UTC)
	inc := declare(t, c, "bedroom", incident.ImpactNone, t0)
	rec := func(e incident.Event) []incident.Event {
		t.Helper()
		evs, err := inc.Record(c.Policy, e.At, e)
		if err != nil {
			t.Fatal(err)
		}
		return evs
	}
	rec(incident.Event{At: t0.Add(time.Minute), Kind: incident.EventMessage, Actor: "U2", Key: "1.1", Text: "db is slow", Idem: "Ev1"})
	if evs := rec(incident.Event{At: t0.Add(time.Minute), Kind: incident.EventMessage, Actor: "U2", Key: "1.1", Text: "db is slow", Idem: "Ev1"}); len(evs) != 0 {
		t.Errorf("redelivered event appended again")
	}
	rec(incident.Event{At: t0.Add(2 * time.Minute), Kind: incident.EventMessage, Actor: "U3", Key: "1.2", Text: "restarting", Idem: "Ev2"})
	rec(incident.Event{At: t0.Add(3 * time.Minute), Kind: incident.EventMessageEdited, Actor: "U2", Key: "1.1", Text: "db is very slow", Idem: "Ev3"})
	rec(incident.Event{At: t0.Add(4 * time.Minute), Kind: incident.EventKeyEvent, Actor: "U3", Key: "1.1", Idem: "Ev4"})
	rec(incident.Event{At: t0.Add(5 * time.Minute), Kind: incident.EventMessageDeleted, Actor: "U3", Key: "1.2", Idem: "Ev5"})
	st := inc.State(c.Policy, t0.Add(10*time.Minute))
	if len(st.Messages) != 1 || st.Messages[0].Text != "db is very slow" || !st.Messages[0].Edited || !st.Messages[0].Key {
		t.Errorf("messages = %+v", st.Messages)
	}
	if strings.Join(st.Participants, ",") != "U1,U2,U3" {
		t.Errorf("participants = %v", st.Participants)
	}
	// Sequence numbers are contiguous and time never goes backwards.
	for i, e := range inc.Events {
		if e.Seq != i+1 || (i > 0 && e.At.Before(inc.Events[i-1].At)) {
			t.Errorf("event %d: seq %d at %v", i, e.Seq, e.At)
		}
	}
	if _, err := inc.Record(c.Policy, t0, incident.Event{Kind: incident.EventResolved}); err == nil {
		t.Errorf("Record accepted a resolution, which must go through Resolve")
	}
	// Alerts.
	rec(incident.Event{Kind: incident.EventAlertFired, Key: "am/g1", Source: "alertmanager", Actor: incident.ActorAlertmanager, At: t0.Add(6 * time.Minute)})
	rec(incident.Event{Kind: incident.EventAlertResolved, Key: "am/g1", Source: "alertmanager", Actor: incident.ActorAlertmanager, At: t0.Add(7 * time.Minute)})
	st = inc.State(c.Policy, t0.Add(10*time.Minute))
	if len(st.Alerts) != 1 || st.Alerts[0].Firing {
		t.Errorf("alerts = %+v", st.Alerts)
	}
}
