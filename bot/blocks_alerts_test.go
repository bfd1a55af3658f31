package bot

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/incident"
)

// The card's alert summary lists the linked alerts: counts, then the first
// few, firing first, with status, labels (escaped), times and fingerprint.
func TestCardAlertSummary(t *testing.T) {
	c := &incident.Catalogue{Policy: incident.Policy{Currency: incident.USD}}
	start := time.Date(2026, 11, 17, 11, 0, 0, 0, time.UTC)
	var alerts []incident.Alert
	for i := range 7 {
		a := incident.Alert{Fingerprint: fmt.Sprintf("fp%d", i), Status: incident.AlertFiring, StartsAt: start,
			Labels: map[string]string{"alertname": "Down", "service": "bedroom", "instance": fmt.Sprintf("host-%d", i)}}
		if i == 0 {
			a.Status, a.EndsAt = incident.AlertResolved, start.Add(time.Minute)
			a.Labels["instance"] = "<!channel>"
		}
		alerts = append(alerts, a)
	}
	st := incident.State{Alerts: []incident.AlertState{
		{Key: "am:g", Source: incident.ActorAlertmanager, Firing: true, Alerts: alerts},
		{Key: "pd:P1", Source: incident.ActorPagerDuty, Firing: true, Summary: "PagerDuty: checkout", FiredAt: start},
	}}
	v := view{inc: &incident.Incident{Number: 1, Title: "t", Service: incident.Service{Name: "bedroom"}}, st: st, cat: c, now: start}
	got := alertSummary(v)
	lines := strings.Split(got, "\n")
	if lines[0] != "🚨 *Alerts*: 7 firing, 1 resolved" {
		t.Errorf("head %q", lines[0])
	}
	if want := "• 🔴 firing *Down* instance=host-1 · since <!date^" + fmt.Sprint(start.Unix()) + "^{date_short_pretty} {time}|2026-11-17 11:00 UTC> · fp fp1"; lines[1] != want {
		t.Errorf("first line\n got %q\nwant %q", lines[1], want)
	}
	if len(lines) != 1+maxCardAlerts+1 || lines[len(lines)-1] != "… and 3 more" {
		t.Errorf("lines %q", lines)
	}
	// The resolved alert comes last, escaped; shown when there is room.
	v.st.Alerts[0].Alerts = alerts[:1]
	got = alertSummary(v)
	if !strings.Contains(got, "• 🟢 resolved *Down* instance=&lt;!channel&gt;") || !strings.Contains(got, "ended <!date^") ||
		!strings.Contains(got, "• 🔴 firing PagerDuty: checkout") || strings.Index(got, "🟢") < strings.Index(got, "PagerDuty") {
		t.Errorf("summary %q", got)
	}
	raw, _ := json.Marshal(cardBlocks(v))
	if !strings.Contains(string(raw), "*Alerts*: 1 firing, 1 resolved") {
		t.Errorf("the card has no alert summary: %s", raw)
	}
	v.st.Alerts = v.st.Alerts[1:]
	if s := alertSummary(v); !strings.HasPrefix(s, "🚨 *Alerts*: 1 firing\n") {
		t.Errorf("summary %q, want no resolved count when none is", s)
	}
	v.st.Alerts = nil
	if s := alertSummary(v); s != "" {
		t.Errorf("summary without alerts %q", s)
	}
}
