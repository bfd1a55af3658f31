package pagerduty_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/incident"
	"github.com/incidentbot/incidentbot/incident/desk"
	"github.com/incidentbot/incidentbot/incident/pagerduty"
)

// drained reports whether no PagerDuty job is pending.
func (e *env) drained() bool {
	jobs, err := e.store.Pending(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	for _, j := range jobs {
		if strings.HasPrefix(j.Kind, "pagerduty.") {
			return false
		}
	}
	return true
}

func (e *env) open(pdID string) int64 {
	e.t.Helper()
	e.pd.addIncident(pdID, "PBEDROOM", "Bed configurator returns 500s")
	r := e.ok("W-open-"+pdID, incidentEvent(pagerduty.EventTriggered, pdInc{id: pdID, service: "PBEDROOM", title: "Bed configurator returns 500s"}, ""))
	return r.Incident
}

// PagerDuty is down while the incident is worked on in Slack: the note,
// the update and the resolution are retried from durable state and land,
// once each, after it comes back.
func TestSyncLandsAfterPagerDutyOutage(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	e.startRunner(pagerduty.SyncOptions{Names: func(_ context.Context, id string) string {
		if id == alice {
			return "Alice Anders"
		}
		return ""
	}})
	n := e.open("PINC001")
	e.pd.setDown(true)
	ctx := context.Background()
	if _, err := e.desk.AddNote(ctx, n, desk.Op{Actor: alice, Idem: "Ev1"}, "Restarted the configurator pods"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.desk.AddUpdate(ctx, n, desk.Op{Actor: bob, Idem: "Ev2"}, "Customers can configure beds again"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.desk.Resolve(ctx, n, desk.Op{Actor: alice, Idem: "Ev3"}, "Pods restarted"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "retries during the outage", 10*time.Second, func() bool {
		return e.pd.countRequests(http.MethodGet, "/incidents/PINC001/notes", http.StatusServiceUnavailable) >= 4 &&
			e.pd.countRequests(http.MethodPut, "/incidents", http.StatusServiceUnavailable) >= 2
	})
	if got := e.pd.incident("PINC001"); len(got.Notes) != 0 || got.Status != "triggered" {
		t.Fatalf("changed during the outage: %+v", got)
	}
	e.pd.setDown(false)
	waitFor(t, "the sync after the outage", 10*time.Second, func() bool {
		got := e.pd.incident("PINC001")
		return len(got.Notes) == 2 && got.Status == "resolved" && e.drained()
	})
	notes := e.pd.noteContents("PINC001")
	if !strings.HasPrefix(notes[0], "Note from Alice Anders in Slack: Restarted the configurator pods") ||
		!strings.HasPrefix(notes[1], "Stakeholder update from UBOB00002 in Slack: Customers can configure beds again") {
		t.Errorf("notes %q", notes)
	}
	for _, note := range e.pd.incident("PINC001").Notes {
		if note.From != fromEmail {
			t.Errorf("note from %q", note.From)
		}
	}
	// PagerDuty announces the copied notes with incident.annotated: they
	// are not copied back onto the timeline.
	inc, _ := e.get(n)
	before := countKind(inc, incident.EventNote)
	for i, content := range notes {
		if r := e.ok("W-echo-"+strconv.Itoa(i), noteEvent("PINC001", content, "incidentbot")); !r.Ignored {
			t.Errorf("echo of %q: %+v", content, r)
		}
	}
	if inc, _ := e.get(n); countKind(inc, incident.EventNote) != before {
		t.Error("a copied note came back onto the timeline")
	}
}

func TestRateLimitHonoursRetryAfter(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	e.startRunner(pagerduty.SyncOptions{})
	n := e.open("PINC001")
	e.pd.rateLimit(1, "1")
	if _, err := e.desk.AddNote(context.Background(), n, desk.Op{Actor: alice}, "Checked the dashboards"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the note", 10*time.Second, func() bool { return len(e.pd.incident("PINC001").Notes) == 1 })
	var limitedAt, retriedAt time.Time
	for _, r := range e.pd.requests() {
		if r.Status == http.StatusTooManyRequests {
			limitedAt = r.At
		} else if !limitedAt.IsZero() && retriedAt.IsZero() && strings.HasPrefix(r.Path, "/incidents/PINC001/notes") {
			retriedAt = r.At
		}
	}
	if limitedAt.IsZero() || retriedAt.Sub(limitedAt) < 900*time.Millisecond {
		t.Errorf("retried %s after the 429, want ≥ 1 s (Retry-After)", retriedAt.Sub(limitedAt))
	}
}

// The job ran, the note was created, and the process died before the job
// was completed: the next run finds the note and does not add it again.
func TestNoteIsNotDuplicatedAfterACrash(t *testing.T) {
	e := newEnv(t, envOptions{})
	n := e.open("PINC001")
	inc, err := e.desk.AddNote(context.Background(), n, desk.Op{Actor: alice}, "Checked the dashboards")
	if err != nil {
		t.Fatal(err)
	}
	last, _ := inc.LastEvent()
	e.pd.addNote("PINC001", "Note from UALICE001 in Slack: Checked the dashboards\n\n[incidentbot #1/"+strconv.Itoa(last.Seq)+"]")
	e.startRunner(pagerduty.SyncOptions{})
	waitFor(t, "jobs to drain", 10*time.Second, e.drained)
	if n := len(e.pd.incident("PINC001").Notes); n != 1 {
		t.Errorf("%d notes, want 1", n)
	}
	if n := e.pd.countRequests(http.MethodPost, "/incidents/PINC001/notes", 0); n != 0 {
		t.Errorf("%d note posts", n)
	}
}

// A 4xx other than 429 cannot be fixed by retrying: the job gives up.
func TestClientErrorGivesUp(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.pd.validFrom = map[string]bool{"someone-else@example.com": true}
	e.startRunner(pagerduty.SyncOptions{})
	n := e.open("PINC001")
	if _, err := e.desk.AddNote(context.Background(), n, desk.Op{Actor: alice}, "note"); err != nil {
		t.Fatal(err)
	}
	// Drained: the job is no longer pending, so it was not rescheduled.
	waitFor(t, "jobs to drain", 10*time.Second, e.drained)
	if n := e.pd.countRequests(http.MethodPost, "/incidents/PINC001/notes", http.StatusBadRequest); n != 1 {
		t.Errorf("%d attempts, want 1", n)
	}
}

// A resolution in Slack resolves the PagerDuty incident; one already
// resolved in PagerDuty is success.
func TestResolveSync(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.startRunner(pagerduty.SyncOptions{})
	ctx := context.Background()
	n := e.open("PINC001")
	if _, err := e.desk.Resolve(ctx, n, desk.Op{Actor: alice}, "fixed"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "PagerDuty resolved", 10*time.Second, func() bool { return e.pd.incident("PINC001").Status == "resolved" && e.drained() })

	// Reopened and resolved again while PagerDuty has it resolved already.
	if _, err := e.desk.Reopen(ctx, n, desk.Op{Actor: alice}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.desk.Resolve(ctx, n, desk.Op{Actor: alice}, "fixed again"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "jobs to drain", 10*time.Second, e.drained)
	if n := e.pd.countRequests(http.MethodPut, "/incidents", http.StatusBadRequest); n != 1 {
		t.Errorf("%d refused resolves, want 1 (then checked)", n)
	}
	if n := e.pd.countRequests(http.MethodGet, "/incidents/PINC001", http.StatusOK); n < 1 {
		t.Error("the refusal was not checked against the incident's status")
	}

	// An incident without a PagerDuty incident needs nothing.
	inc, err := e.desk.Declare(ctx, desk.DeclareRequest{Service: "appointments", Title: "Bookings down", Actor: alice})
	if err != nil {
		t.Fatal(err)
	}
	before := len(e.pd.requests())
	if _, err := e.desk.Resolve(ctx, inc.Number, desk.Op{Actor: "UERIN0005"}, "ok"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "jobs to drain", 10*time.Second, e.drained)
	if after := len(e.pd.requests()); after != before {
		t.Errorf("%d PagerDuty calls for an incident without a PagerDuty incident", after-before)
	}
}

func TestAcknowledgeJob(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.startRunner(pagerduty.SyncOptions{})
	n := e.open("PINC001")
	ctx := context.Background()
	if err := e.store.Enqueue(ctx, desk.JobFor(pagerduty.JobAcknowledge, n, "act-1", time.Time{}, desk.Payload{Users: []string{alice}})); err != nil {
		t.Fatal(err)
	}
	e.runner.Wake()
	waitFor(t, "PagerDuty acknowledged", 10*time.Second, func() bool { return e.pd.incident("PINC001").Status == "acknowledged" })
	// Resolved in PagerDuty meanwhile: acknowledging is no error.
	e.pd.mu.Lock()
	e.pd.incidents["PINC001"].Status = "resolved"
	e.pd.mu.Unlock()
	if err := e.sync.Acknowledge(ctx, n, bob); err != nil {
		t.Errorf("acknowledge a resolved incident: %v", err)
	}
}

// A major incident pages the incident managers' escalation policy, once,
// and resolving the incident resolves the page.
func TestManagersArePagedForMajors(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.startRunner(pagerduty.SyncOptions{ManagerPolicy: "PMANAGERS"})
	ctx := context.Background()
	n := e.open("PINC001")
	blocked := e.cat.Shares.Impact(incident.ImpactBlocked)
	if _, err := e.desk.SetImpact(ctx, n, desk.Op{Actor: alice}, blocked); err != nil {
		t.Fatal(err)
	}
	var page fakeIncident
	waitFor(t, "the page", 10*time.Second, func() bool {
		for _, inc := range e.pd.allIncidents() {
			if inc.IncidentKey == pagerduty.ManagerPageKeyPrefix+"1" {
				page = inc
			}
		}
		return page.ID != "" && e.drained()
	})
	if page.PolicyID != "PMANAGERS" || page.ServiceID != "PBEDROOM" || page.CreatedBy != fromEmail ||
		!strings.HasPrefix(page.Title, "Major incident #1 bedroom: ") || page.Urgency != "high" {
		t.Errorf("page %+v", page)
	}
	if v, ok, _ := e.store.GetKV(ctx, pagerduty.PagesBucket, "1"); !ok || string(v) != page.ID {
		t.Errorf("page not remembered: %q %v", v, ok)
	}
	// Its webhooks do not come back as a new incident.
	e.ok("W-page", incidentEvent(pagerduty.EventTriggered, pdInc{id: page.ID, service: "PBEDROOM", title: page.Title, key: page.IncidentKey}, ""))
	if k := len(e.incidents()); k != 1 {
		t.Errorf("%d incidents", k)
	}
	if _, err := e.desk.Resolve(ctx, n, desk.Op{Actor: alice}, "fixed"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "both resolved", 10*time.Second, func() bool {
		return e.pd.incident(page.ID).Status == "resolved" && e.pd.incident("PINC001").Status == "resolved"
	})
	if k := e.pd.countRequests(http.MethodPost, "/incidents", 0); k != 1 {
		t.Errorf("%d pages created", k)
	}
}

// The page was created but the process died before remembering it: the
// retry finds it by its incident_key instead of paging twice.
func TestManagerPageIsNotDuplicatedAfterACrash(t *testing.T) {
	e := newEnv(t, envOptions{})
	ctx := context.Background()
	n := e.open("PINC001")
	e.pd.mu.Lock()
	e.pd.incidents["PEARLIER"] = &fakeIncident{ID: "PEARLIER", Status: "triggered", IncidentKey: pagerduty.ManagerPageKeyPrefix + "1", ServiceID: "PBEDROOM"}
	e.pd.order = append(e.pd.order, "PEARLIER")
	e.pd.mu.Unlock()
	if _, err := e.desk.SetImpact(ctx, n, desk.Op{Actor: alice}, e.cat.Shares.Impact(incident.ImpactBlocked)); err != nil {
		t.Fatal(err)
	}
	e.startRunner(pagerduty.SyncOptions{ManagerPolicy: "PMANAGERS"})
	waitFor(t, "jobs to drain", 10*time.Second, e.drained)
	if v, ok, _ := e.store.GetKV(ctx, pagerduty.PagesBucket, "1"); !ok || string(v) != "PEARLIER" {
		t.Errorf("remembered %q %v, want the existing page", v, ok)
	}
	if k := len(e.pd.allIncidents()); k != 2 {
		t.Errorf("%d PagerDuty incidents, want 2", k)
	}
}

// PagerDuty needs a service to open an incident: a major incident of a
// service without pagerduty_service_id is not paged (and not an error).
func TestNoPageWithoutPagerDutyService(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.startRunner(pagerduty.SyncOptions{ManagerPolicy: "PMANAGERS"})
	if _, err := e.desk.Declare(context.Background(), desk.DeclareRequest{Service: "appointments", Title: "Card data exposed", Security: true, Actor: alice}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "jobs to drain", 10*time.Second, e.drained)
	if k := len(e.pd.requests()); k != 0 {
		t.Errorf("%d PagerDuty calls", k)
	}
}
