package httpapi_test

import (
	"bytes"
	"net/http"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/incident"
	"github.com/incidentbot/incidentbot/incident/desk"
	"github.com/incidentbot/incidentbot/incident/httpapi"
)

func (e *env) record(n int64, ev incident.Event) {
	e.t.Helper()
	if _, err := e.desk.Record(e.ctx, n, ev); err != nil {
		e.t.Fatal(err)
	}
}

// GET /api/incidents/{n} shows what happened: each human message once, as
// it reads now (edited, key, deleted without its text), in order with the
// other events; edits, pins and deletions are not entries of their own.
func TestIncidentTimelineShowsMessagesAsTheyReadNow(t *testing.T) {
	e := newEnv(t, envOptions{})
	inc := e.declare("bedroom", "Beds cannot be ordered", "", false)
	step := func() { e.clock.Advance(time.Minute) }
	step()
	e.record(inc.Number, incident.Event{Kind: incident.EventMessage, Actor: alice, Key: "1.1", Text: "latency is up"})
	step()
	e.record(inc.Number, incident.Event{Kind: incident.EventMessage, Actor: erin, Key: "2.2", Text: "db password is hunter2"})
	step()
	if _, err := e.desk.AddNote(e.ctx, inc.Number, desk.Op{Actor: alice}, "restarting the pods"); err != nil {
		t.Fatal(err)
	}
	step()
	e.record(inc.Number, incident.Event{Kind: incident.EventMessageEdited, Actor: alice, Key: "1.1", Text: "p99 latency is up 10x"})
	e.record(inc.Number, incident.Event{Kind: incident.EventKeyEvent, Actor: erin, Key: "1.1"})
	e.record(inc.Number, incident.Event{Kind: incident.EventMessageEdited, Actor: erin, Key: "2.2", Text: "db password is hunter3"})
	step()
	e.record(inc.Number, incident.Event{Kind: incident.EventMessageDeleted, Key: "2.2", Idem: "ev/del"})

	r := e.get("/api/incidents/1")
	wantStatus(t, r, http.StatusOK)
	if bytes.Contains(r.body, []byte("hunter")) {
		t.Errorf("the API shows a deleted message's text:\n%s", r.body)
	}
	var got httpapi.Incident
	r.json(t, &got)
	type line struct {
		kind, actor, text string
		msg               httpapi.Message
	}
	var lines []line
	for _, ev := range got.Timeline {
		l := line{kind: ev.Kind, actor: ev.Actor, text: ev.Text}
		if ev.Message != nil {
			l.msg = *ev.Message
		}
		lines = append(lines, l)
	}
	want := []line{
		{kind: "declared", actor: alice},
		{kind: "message", actor: alice, text: "p99 latency is up 10x", msg: httpapi.Message{TS: "1.1", Edited: true, Key: true}},
		{kind: "message", actor: erin, msg: httpapi.Message{TS: "2.2", Edited: true, Deleted: true}},
		{kind: "note", actor: alice, text: "restarting the pods"},
	}
	if len(lines) != len(want) {
		t.Fatalf("timeline:\n%+v\nwant\n%+v", lines, want)
	}
	for i := range want {
		if lines[i] != want[i] {
			t.Errorf("entry %d: %+v, want %+v", i, lines[i], want[i])
		}
	}
}

// The linked alerts are listed with each alert's fingerprint, labels,
// status and times.
func TestIncidentListsLinkedAlerts(t *testing.T) {
	e := newEnv(t, envOptions{})
	starts := tuesdayNoon.Add(-10 * time.Minute)
	if _, err := e.desk.Alert(e.ctx, desk.Alert{
		Source: incident.ActorAlertmanager, Key: "am:g", Service: "bedroom", Title: "Down", Summary: "2 firing", Firing: true, Idem: "n1",
		Alerts: []incident.Alert{
			{Fingerprint: "fa", Status: incident.AlertFiring, Labels: map[string]string{"instance": "a"}, StartsAt: starts},
			{Fingerprint: "fb", Status: incident.AlertResolved, Labels: map[string]string{"instance": "b"}, StartsAt: starts, EndsAt: starts.Add(time.Minute)},
		},
	}); err != nil {
		t.Fatal(err)
	}
	var got httpapi.Incident
	e.get("/api/incidents/1").json(t, &got)
	if len(got.Alerts) != 1 || !got.Alerts[0].Firing || len(got.Alerts[0].Alerts) != 2 {
		t.Fatalf("alerts %+v", got.Alerts)
	}
	a, b := got.Alerts[0].Alerts[0], got.Alerts[0].Alerts[1]
	if a.Fingerprint != "fa" || a.Status != "firing" || a.Labels["instance"] != "a" || a.StartsAt == nil || !a.StartsAt.Equal(starts) || a.EndsAt != nil {
		t.Errorf("alert a %+v", a)
	}
	if b.Fingerprint != "fb" || b.Status != "resolved" || b.EndsAt == nil || !b.EndsAt.Equal(starts.Add(time.Minute)) {
		t.Errorf("alert b %+v", b)
	}
}
