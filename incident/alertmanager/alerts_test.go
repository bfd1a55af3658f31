package alertmanager_test

import (
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/incident"
	"github.com/incidentbot/incidentbot/incident/alertmanager"
)

// Each alert of a notification is linked to the incident by its
// fingerprint, with its own labels, status and times (a firing group may
// report some alerts resolved); an alert without a fingerprint gets one from
// its labels.
func TestAlertsAreLinkedByFingerprint(t *testing.T) {
	e := newEnv(t, alertmanager.Options{})
	start := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	lb := labels("alertname", "Down", "service", "bedroom")
	a := firing("fa", start, labels("alertname", "Down", "service", "bedroom", "instance", "a"), "a is down")
	b := resolved(firing("fb", start.Add(time.Minute), labels("alertname", "Down", "service", "bedroom", "instance", "b"), "b is down"), start.Add(2*time.Minute))
	c := firing("", start, labels("alertname", "Down", "service", "bedroom", "instance", "c"), "c is down")
	e.send(notification(gk("bedroom", "Down"), alertmanager.StatusFiring, lb, a, b, c))

	_, st := e.get(1)
	if len(st.Alerts) != 1 || len(st.Alerts[0].Alerts) != 3 {
		t.Fatalf("alerts %+v, want one group of three", st.Alerts)
	}
	got := st.Alerts[0].Alerts
	if g := got[0]; g.Fingerprint != "fa" || g.Status != incident.AlertFiring || !g.StartsAt.Equal(start) || !g.EndsAt.IsZero() ||
		g.Labels["instance"] != "a" || g.Summary != "a is down" {
		t.Errorf("alert a: %+v", g)
	}
	if g := got[1]; g.Fingerprint != "fb" || g.Status != incident.AlertResolved || !g.EndsAt.Equal(start.Add(2*time.Minute)) {
		t.Errorf("alert b: %+v", g)
	}
	if g := got[2]; g.Fingerprint == "" || g.Labels["instance"] != "c" {
		t.Errorf("alert c: %+v", g)
	}
	// The same labels make the same fingerprint: a re-send of c is old news.
	c2 := c
	c2.Annotations = map[string]string{"summary": "c is still down"}
	before := len(e.incidents()[0].Events)
	e.send(notification(gk("bedroom", "Down"), alertmanager.StatusFiring, lb, c2))
	if inc, st := e.get(1); len(inc.Events) != before || len(st.Alerts[0].Alerts) != 3 {
		t.Errorf("a notification with nothing new added %d events; %d alerts", len(inc.Events)-before, len(st.Alerts[0].Alerts))
	}
}

// A group's older, smaller notification arriving last forgets nothing: a
// resolved notification that leaves out an alert another notification
// reported firing does not resolve the incident, and an old firing
// notification arriving after the group resolved neither reopens it nor
// opens a new incident.
func TestOlderNotificationsArrivingLateChangeNothing(t *testing.T) {
	e := newEnv(t, alertmanager.Options{AutoResolve: true})
	start := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	lb := labels("alertname", "Down", "service", "bedroom")
	a := firing("fa", start, labels("alertname", "Down", "service", "bedroom", "instance", "a"), "a")
	b := firing("fb", start, labels("alertname", "Down", "service", "bedroom", "instance", "b"), "b")
	key := gk("bedroom", "Down")
	old := notification(key, alertmanager.StatusFiring, lb, a)
	e.send(notification(key, alertmanager.StatusFiring, lb, a, b))
	e.send(old)
	_, st := e.get(1)
	if len(st.Alerts[0].Alerts) != 2 {
		t.Fatalf("the older notification made the incident forget: %+v", st.Alerts[0].Alerts)
	}

	ended := time.Now().UTC().Truncate(time.Second)
	if r := e.send(notification(key, alertmanager.StatusResolved, lb, resolved(a, ended))); r.Resolved {
		t.Fatalf("resolved while alert b fires: %+v", r)
	}
	if _, st := e.get(1); st.Status != incident.StatusOpen || !st.Alerts[0].Firing {
		t.Fatalf("status %s, group firing %v: b still fires", st.Status, st.Alerts[0].Firing)
	}
	if r := e.send(notification(key, alertmanager.StatusResolved, lb, resolved(a, ended), resolved(b, ended))); !r.Resolved {
		t.Fatalf("not resolved once every alert is: %+v", r)
	}

	r := e.send(old)
	if r.Created || r.Incident != 1 {
		t.Errorf("the old firing notification: %+v, want it on incident 1", r)
	}
	if n := len(e.incidents()); n != 1 {
		t.Errorf("%d incidents, want 1", n)
	}
	if _, st := e.get(1); st.Status != incident.StatusResolved || st.Alerts[0].Firing {
		t.Errorf("status %s, group firing %v after the old notification", st.Status, st.Alerts[0].Firing)
	}
	// A new firing of a resolved alert (a later startsAt) is news: a new
	// incident, as before.
	again := a
	again.StartsAt = ended.Add(time.Second)
	if r := e.send(notification(key, alertmanager.StatusFiring, lb, again)); !r.Created {
		t.Errorf("a new firing: %+v, want a new incident", r)
	}
}
