package incident_test

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/incident"
)

var tl0 = time.Date(2026, 11, 17, 10, 0, 0, 0, time.UTC)

func record(t *testing.T, c *incident.Catalogue, inc *incident.Incident, at time.Time, e incident.Event) []incident.Event {
	t.Helper()
	evs, err := inc.Record(c.Policy, at, e)
	if err != nil {
		t.Fatalf("record %s: %v", e.Kind, err)
	}
	return evs
}

func msgEvent(kind incident.EventKind, user, ts, text string) incident.Event {
	return incident.Event{Kind: kind, Actor: user, Key: ts, Text: text}
}

// Recording a deletion erases the text of the message and of its edits from
// their events and names them; nothing later brings the text back onto the
// timeline (an edit or a catch-up of the deleted message, a second deletion).
func TestDeletionErasesTheMessageAndItsEdits(t *testing.T) {
	c := furniture(t)
	inc := declare(t, c, "bedroom", incident.ImpactNone, tl0)
	at := tl0.Add(time.Minute)
	msg := record(t, c, inc, at, msgEvent(incident.EventMessage, "U1", "1.1", "db password is hunter2"))[0]
	record(t, c, inc, at, msgEvent(incident.EventMessage, "U2", "1.2", "thanks"))
	edit := record(t, c, inc, at, msgEvent(incident.EventMessageEdited, "U1", "1.1", "db password is hunter3"))[0]
	record(t, c, inc, at, msgEvent(incident.EventKeyEvent, "U2", "1.1", ""))

	del := record(t, c, inc, at, incident.Event{Kind: incident.EventMessageDeleted, Key: "1.1"})
	if len(del) != 1 || !reflect.DeepEqual(del[0].Erases, []int{msg.Seq, edit.Seq}) {
		t.Fatalf("deletion %+v, want one event erasing %d and %d", del, msg.Seq, edit.Seq)
	}
	for _, e := range inc.Events {
		if e.Key == "1.1" && e.Text != "" {
			t.Errorf("event %d (%s) still reads %q", e.Seq, e.Kind, e.Text)
		}
	}
	n := len(inc.Events)
	for _, e := range []incident.Event{
		msgEvent(incident.EventMessageEdited, "U1", "1.1", "hunter4"),
		msgEvent(incident.EventMessage, "U1", "1.1", "hunter2"),
		{Kind: incident.EventMessageDeleted, Key: "1.1"},
	} {
		if evs := record(t, c, inc, at, e); len(evs) != 0 {
			t.Errorf("%s of the deleted message recorded %+v", e.Kind, evs)
		}
	}
	if len(inc.Events) != n {
		t.Errorf("the timeline grew from %d to %d events", n, len(inc.Events))
	}
	st := inc.State(c.Policy, at)
	if len(st.Messages) != 1 || st.Messages[0].Text != "thanks" {
		t.Errorf("messages %+v, want only the one not deleted", st.Messages)
	}
}

// The timeline as it reads now: each human message once, at its place, with
// its edits, pins and 📌 reactions folded in and a deleted one without text;
// other events in order; a pin of a message the timeline does not hold
// stays listed.
func TestTimelineFoldsMessages(t *testing.T) {
	c := furniture(t)
	inc := declare(t, c, "bedroom", incident.ImpactNone, tl0)
	at := func(m int) time.Time { return tl0.Add(time.Duration(m) * time.Minute) }
	record(t, c, inc, at(1), msgEvent(incident.EventKeyEvent, "U2", "3.3", "")) // pinned before the catch-up recorded it
	record(t, c, inc, at(2), msgEvent(incident.EventMessage, "U1", "1.1", "latency is up"))
	if _, err := inc.AddNote(c.Policy, at(3), "U1", "restarting"); err != nil {
		t.Fatal(err)
	}
	record(t, c, inc, at(4), msgEvent(incident.EventMessage, "U2", "2.2", "my password is hunter2"))
	record(t, c, inc, at(5), msgEvent(incident.EventMessageEdited, "U1", "1.1", "p99 latency is up 10x"))
	record(t, c, inc, at(6), msgEvent(incident.EventKeyEvent, "U2", "1.1", ""))
	record(t, c, inc, at(7), incident.Event{Kind: incident.EventMessageDeleted, Key: "2.2"})
	record(t, c, inc, at(8), msgEvent(incident.EventMessage, "U3", "3.3", "rollback done"))
	record(t, c, inc, at(9), msgEvent(incident.EventKeyEvent, "U2", "9.9", "")) // a bot post
	record(t, c, inc, at(9), msgEvent(incident.EventMessageEdited, "U2", "8.8", "never recorded"))

	type line struct {
		kind incident.EventKind
		text string
		msg  *incident.Message
	}
	var got []line
	for _, e := range incident.Timeline(inc.Events, at(10)) {
		got = append(got, line{e.Kind, e.Text, e.Message})
	}
	want := []line{
		{incident.EventDeclared, "", nil},
		{incident.EventMessage, "p99 latency is up 10x", &incident.Message{TS: "1.1", At: at(2), User: "U1", Text: "p99 latency is up 10x", Edited: true, Key: true}},
		{incident.EventNote, "restarting", nil},
		{incident.EventMessage, "", &incident.Message{TS: "2.2", At: at(4), User: "U2", Deleted: true}},
		{incident.EventMessage, "rollback done", &incident.Message{TS: "3.3", At: at(8), User: "U3", Text: "rollback done", Key: true}},
		{incident.EventKeyEvent, "", nil},
	}
	if !reflect.DeepEqual(got, want) {
		for i := range max(len(got), len(want)) {
			var g, w line
			if i < len(got) {
				g = got[i]
			}
			if i < len(want) {
				w = want[i]
			}
			if !reflect.DeepEqual(g, w) {
				t.Errorf("entry %d:\n got %s %q %+v\nwant %s %q %+v", i, g.kind, g.text, g.msg, w.kind, w.text, w.msg)
			}
		}
	}
	// As it read earlier: before the edit and the deletion.
	early := map[string]incident.Message{}
	for _, e := range incident.Timeline(inc.Events, at(4)) {
		if e.Message != nil {
			early[e.Message.TS] = *e.Message
		}
	}
	// The text was erased when the deletion was recorded: even the past no
	// longer shows it.
	if m, ok := early["2.2"]; !ok || m.Text != "" {
		t.Errorf("message 2.2 as of before its deletion: %+v", m)
	}
	if m := early["1.1"]; m.Text != "latency is up" || m.Edited || m.Key {
		t.Errorf("message 1.1 as of before its edit: %+v", m)
	}
}

// notificationEvent is an Alertmanager notification of group "am:g" as the
// desk records it.
func notificationEvent(resolved bool, alerts ...incident.Alert) incident.Event {
	kind := incident.EventAlertFired
	if resolved {
		kind = incident.EventAlertResolved
	}
	return incident.Event{Kind: kind, Actor: incident.ActorAlertmanager, Source: incident.ActorAlertmanager, Key: "am:g", Text: "summary", Alerts: alerts}
}

func firingAlert(i int, startsAt time.Time) incident.Alert {
	return incident.Alert{Fingerprint: fmt.Sprintf("fp%d", i), Status: incident.AlertFiring, StartsAt: startsAt,
		Labels: map[string]string{"alertname": "Down", "instance": fmt.Sprint("host-", i)}}
}

func resolvedAlert(a incident.Alert, endsAt time.Time) incident.Alert {
	a.Status, a.EndsAt = incident.AlertResolved, endsAt
	return a
}

// Notifications of a group arrive in any order: the alerts the incident
// knows, each tracked by its fingerprint, are the same whatever the order.
// A smaller, older notification arriving last forgets nothing; a resolution
// stays resolved against older firing reports; a later firing (a later
// startsAt) fires again. Only news is stored.
func TestAlertsMergeByFingerprintInAnyOrder(t *testing.T) {
	c := furniture(t)
	start := tl0.Add(-time.Hour)
	var ns []incident.Event
	var all []incident.Alert
	for k := range 8 { // the k-th notification carries the first k+1 alerts
		all = append(all, firingAlert(k, start.Add(time.Duration(k)*time.Minute)))
		ns = append(ns, notificationEvent(false, append([]incident.Alert(nil), all...)...))
	}
	ns = append(ns,
		notificationEvent(true, resolvedAlert(all[1], tl0), resolvedAlert(all[2], tl0.Add(time.Second))),
		notificationEvent(false, firingAlert(1, tl0.Add(time.Minute))), // alert 1 fires again
	)
	want := map[string]incident.Alert{}
	for i, a := range all {
		a.SeenAt = tl0.Add(2 * time.Minute)
		switch i {
		case 1:
			a.StartsAt = tl0.Add(time.Minute)
		case 2:
			a = resolvedAlert(a, tl0.Add(time.Second))
		}
		want[a.Fingerprint] = a
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 200 {
		order := rng.Perm(len(ns))
		inc := declare(t, c, "bedroom", incident.ImpactNone, tl0)
		stored := 0
		for _, i := range order {
			for _, e := range record(t, c, inc, tl0.Add(2*time.Minute), ns[i]) {
				stored += len(e.Alerts)
			}
		}
		st := inc.State(c.Policy, tl0.Add(3*time.Minute))
		if len(st.Alerts) != 1 || !st.Alerts[0].Firing {
			t.Fatalf("order %v: groups %+v, want one firing", order, st.Alerts)
		}
		got := map[string]incident.Alert{}
		for _, a := range st.Alerts[0].Alerts {
			got[a.Fingerprint] = a
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("order %v (round %d):\n got %+v\nwant %+v", order, round, got, want)
		}
		if stored > 8+2+1 {
			t.Errorf("order %v stored %d alert reports; the news is at most 11", order, stored)
		}
	}
}

// An alert is resolved once its endsAt has passed, and the group with it;
// the group's resolution time is its last alert's end.
func TestAlertResolvedWhenItsEndHasPassed(t *testing.T) {
	c := furniture(t)
	inc := declare(t, c, "bedroom", incident.ImpactNone, tl0)
	a, b := firingAlert(1, tl0), firingAlert(2, tl0)
	a.EndsAt = tl0.Add(10 * time.Minute)
	record(t, c, inc, tl0.Add(time.Minute), notificationEvent(false, a, b))
	record(t, c, inc, tl0.Add(2*time.Minute), notificationEvent(true, resolvedAlert(b, tl0.Add(2*time.Minute))))
	st := inc.State(c.Policy, tl0.Add(5*time.Minute))
	if g := st.Alerts[0]; !g.Firing || g.Alerts[0].Status != incident.AlertFiring || g.Alerts[1].Status != incident.AlertResolved {
		t.Errorf("before alert 1 ends: %+v", g)
	}
	st = inc.State(c.Policy, tl0.Add(10*time.Minute))
	if g := st.Alerts[0]; g.Firing || g.Alerts[0].Status != incident.AlertResolved || !g.ClosedAt.Equal(tl0.Add(10*time.Minute)) {
		t.Errorf("once alert 1 ended: %+v", g)
	}
}

// Alerts without a fingerprint cannot be tracked: the event is recorded as
// a group-level one, not dropped as old news.
func TestAlertsWithoutFingerprintKeepTheEvent(t *testing.T) {
	c := furniture(t)
	inc := declare(t, c, "bedroom", incident.ImpactNone, tl0)
	e := notificationEvent(false, incident.Alert{Status: incident.AlertFiring})
	if evs := record(t, c, inc, tl0.Add(time.Minute), e); len(evs) != 1 || len(evs[0].Alerts) != 0 {
		t.Fatalf("recorded %+v", evs)
	}
	if st := inc.State(c.Policy, tl0.Add(time.Minute)); len(st.Alerts) != 1 || !st.Alerts[0].Firing {
		t.Errorf("groups %+v", st.Alerts)
	}
}
