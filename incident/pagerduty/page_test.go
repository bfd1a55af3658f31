package pagerduty_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/incident"
	"github.com/incidentbot/incidentbot/incident/desk"
	"github.com/incidentbot/incidentbot/incident/pagerduty"
)

func (e *env) teamPage(n int64) (fakeIncident, bool) {
	for _, inc := range e.pd.allIncidents() {
		if strings.HasPrefix(inc.IncidentKey, fmt.Sprintf("%s%d/", pagerduty.TeamPageKeyPrefix, n)) {
			return inc, true
		}
	}
	return fakeIncident{}, false
}

func pagedSeq(t *testing.T, inc *incident.Incident) int {
	for _, ev := range inc.Events {
		if ev.Kind == incident.EventPaged {
			return ev.Seq
		}
	}
	t.Fatal("no page on the timeline")
	return 0
}

// /incident page <team> for a team with an escalation policy opens a
// PagerDuty incident on that policy, linked to this one (recorded on its
// timeline, resolved with it); its own webhooks neither open nor resolve
// anything here.
func TestPageTeamThroughPagerDuty(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.startRunner(pagerduty.SyncOptions{})
	ctx := context.Background()
	n := e.open("PINC001")
	if _, err := e.desk.Page(ctx, n, desk.Op{Actor: alice, Idem: "env-page"}, "platform-team", "the database is down"); err != nil {
		t.Fatal(err)
	}
	var page fakeIncident
	waitFor(t, "the team's page", 10*time.Second, func() bool {
		var ok bool
		page, ok = e.teamPage(n)
		return ok && e.drained()
	})
	if page.PolicyID != "PPLATFORM" || page.ServiceID != "PECOMM" || page.Urgency != "high" || page.CreatedBy != fromEmail ||
		page.Title != "Incident #1 Bed configurator returns 500s: platform-team is paged" {
		t.Errorf("page %+v", page)
	}
	inc, st := e.get(n)
	var linked bool
	for _, ev := range inc.Events {
		linked = linked || (ev.Kind == incident.EventCalledOut && ev.Source == incident.ActorPagerDuty && strings.Contains(ev.Text, page.ID))
	}
	if !linked {
		t.Error("the PagerDuty page is not on the timeline")
	}
	// The same team again within minutes: already paged.
	if _, err := e.desk.Page(ctx, n, desk.Op{Actor: bob, Idem: "env-page-2"}, "platform-team", ""); incident.ErrorCode(err) != incident.ECONFLICT {
		t.Errorf("paging again: %v", err)
	}
	// The paged team resolving its page resolves nothing here.
	e.ok("W-page-resolved", incidentEvent(pagerduty.EventResolved, pdInc{id: page.ID, service: "PECOMM", title: page.Title, key: page.IncidentKey}, ""))
	if _, st = e.get(n); st.Status != incident.StatusOpen || len(e.incidents()) != 1 {
		t.Errorf("the page's webhook changed things: %s, %d incidents", st.Status, len(e.incidents()))
	}
	e.pd.mu.Lock()
	e.pd.incidents[page.ID].Status = "triggered"
	e.pd.mu.Unlock()
	if _, err := e.desk.Resolve(ctx, n, desk.Op{Actor: alice}, "fixed"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "page resolved with the incident", 10*time.Second, func() bool { return e.pd.incident(page.ID).Status == "resolved" })
	if k := e.pd.countRequests(http.MethodPost, "/incidents", 0); k != 1 {
		t.Errorf("%d PagerDuty incidents created, want 1", k)
	}
}

// The page was opened but the process died before recording it: the retry
// finds it by its incident_key instead of paging the team twice.
func TestTeamPageIsNotDuplicatedAfterACrash(t *testing.T) {
	e := newEnv(t, envOptions{})
	ctx := context.Background()
	n := e.open("PINC001")
	inc, err := e.desk.Page(ctx, n, desk.Op{Actor: alice, Idem: "env-page"}, "platform-team", "db")
	if err != nil {
		t.Fatal(err)
	}
	key := fmt.Sprintf("%s%d/%d", pagerduty.TeamPageKeyPrefix, n, pagedSeq(t, inc))
	e.pd.mu.Lock()
	e.pd.incidents["PEARLIER"] = &fakeIncident{ID: "PEARLIER", Status: "triggered", IncidentKey: key, ServiceID: "PECOMM", PolicyID: "PPLATFORM"}
	e.pd.order = append(e.pd.order, "PEARLIER")
	e.pd.mu.Unlock()
	e.startRunner(pagerduty.SyncOptions{})
	waitFor(t, "jobs to drain", 10*time.Second, e.drained)
	if k := len(e.pd.allIncidents()); k != 2 {
		t.Errorf("%d PagerDuty incidents, want 2 (the alert and one page)", k)
	}
	inc, _ = e.get(n)
	found := 0
	for _, ev := range inc.Events {
		if ev.Kind == incident.EventCalledOut && strings.Contains(ev.Text, "PEARLIER") {
			found++
		}
	}
	if found != 1 {
		t.Errorf("the existing page is recorded %d times, want once", found)
	}
}

// A team without an escalation policy is not paged in PagerDuty (its
// rotation is called out by the desk instead).
func TestPageTeamWithoutPolicy(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.startRunner(pagerduty.SyncOptions{})
	n := e.open("PINC001")
	if _, err := e.desk.Page(context.Background(), n, desk.Op{Actor: alice}, "appointments-team", "bookings"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "jobs to drain", 10*time.Second, e.drained)
	if _, ok := e.teamPage(n); ok {
		t.Error("a team without an escalation policy was paged in PagerDuty")
	}
}
