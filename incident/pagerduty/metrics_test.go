package pagerduty_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	pd "github.com/PagerDuty/go-pagerduty"

	"github.com/incidentbot/incidentbot/incident"
	"github.com/incidentbot/incidentbot/incident/httpapi"
	"github.com/incidentbot/incidentbot/incident/incidenttest"
	"github.com/incidentbot/incidentbot/incident/pagerduty"
	"github.com/incidentbot/incidentbot/internal/apicall"
)

// Each webhook delivery's outcome is told: failed when storage fails,
// accepted on the redelivery, duplicate on the next, refused for a bad
// signature.
func TestWebhookOutcomesAreObserved(t *testing.T) {
	var mu sync.Mutex
	var got []httpapi.WebhookOutcome
	e := newEnv(t, envOptions{webhook: pagerduty.Options{Observe: func(o httpapi.WebhookOutcome) {
		mu.Lock()
		got = append(got, o)
		mu.Unlock()
	}}})
	body := incidentEvent(pagerduty.EventTriggered, bedroomPD, "")
	e.store.fail.Store(true)
	e.deliver(delivery{id: "W1", body: body})
	e.store.fail.Store(false)
	e.ok("W1", body)
	e.ok("W1", body)
	e.deliver(delivery{id: "W2", body: body, signature: sign(body, "another secret")})
	mu.Lock()
	defer mu.Unlock()
	want := []httpapi.WebhookOutcome{httpapi.WebhookFailed, httpapi.WebhookAccepted, httpapi.WebhookDuplicate, httpapi.WebhookRefused}
	if !slices.Equal(got, want) {
		t.Errorf("observed %v, want %v", got, want)
	}
}

// Route replaces every ID in a path: no PagerDuty ID reaches a label.
func TestRouteReplacesIDs(t *testing.T) {
	for _, c := range []struct{ method, path, want string }{
		{"POST", "/incidents/PINC001/notes", "POST /incidents/{id}/notes"},
		{"GET", "/incidents/Q0RIJJZL24RC6W", "GET /incidents/{id}"},
		{"GET", "/users/pu1x", "GET /users/{id}"},
		{"GET", "/oncalls", "GET /oncalls"},
		{"PUT", "/incidents", "PUT /incidents"},
		{"GET", "/escalation_policies/PBEDPOL/on_call", "GET /escalation_policies/{id}/on_call"},
		{"GET", "/a/b/c/d/e", "GET other"},
		{"GET", `/incidents/Checkout "down"`, "GET /incidents/{id}"},
	} {
		if got := pagerduty.Route(c.method, c.path); got != c.want {
			t.Errorf("Route(%s %s) = %q, want %q", c.method, c.path, got, c.want)
		}
	}
}

// The client tells each REST call under its normalised route with its
// outcome, a 429 included; the API URL's own path is not part of a route.
func TestClientCallsAreObserved(t *testing.T) {
	e := newEnv(t, envOptions{})
	setUpOnCall(e)
	e.pd.addIncident("PINC001", "PBEDROOM", "Checkout down")
	var mu sync.Mutex
	var got []string
	c := pagerduty.NewClient(pagerduty.ClientOptions{Token: e.pd.token, APIURL: e.pd.URL() + "/", FromEmail: fromEmail, Users: e.users,
		Observe: func(route string, o apicall.Outcome, took time.Duration) {
			mu.Lock()
			got = append(got, route+" "+string(o))
			mu.Unlock()
		}})
	ctx := context.Background()
	oc := incident.OnCall{EscalationPolicy: "PBEDPOL"}
	e.pd.rateLimit(1, "1")
	if _, err := c.OnCall(ctx, oc, time.Now()); err == nil {
		t.Fatal("a rate-limited call succeeded")
	}
	if _, err := c.OnCall(ctx, oc, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := c.API().CreateIncidentNoteWithContext(ctx, "PINC001", pd.IncidentNote{Content: "Checkout down", User: pd.APIObject{Summary: fromEmail}}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) < 3 || got[0] != "GET /oncalls 429" || got[1] != "GET /oncalls ok" || got[len(got)-1] != "POST /incidents/{id}/notes ok" {
		t.Errorf("observed %v", got)
	}
	for _, g := range got {
		if strings.Contains(g, "PINC001") || strings.Contains(g, "PBEDPOL") || strings.Contains(g, "Checkout") {
			t.Errorf("an ID or text in a route: %q", g)
		}
	}
}

// Two deliveries of one webhook at once both pass the "seen" check; the
// one that marks it seen second is the duplicate. (W0's delivery made one
// check, each of W1's one more.)
func TestConcurrentRedeliveryIsObservedAsDuplicate(t *testing.T) {
	var mu sync.Mutex
	var got []httpapi.WebhookOutcome
	e := newEnv(t, envOptions{webhook: pagerduty.Options{Observe: func(o httpapi.WebhookOutcome) {
		mu.Lock()
		got = append(got, o)
		mu.Unlock()
	}}})
	e.ok("W0", incidentEvent(pagerduty.EventTriggered, bedroomPD, ""))
	mu.Lock()
	got = nil
	mu.Unlock()
	gate := make(chan struct{})
	e.store.gate.Store(&gate)
	body := incidentEvent(pagerduty.EventAcknowledged, bedroomPD, "Alice Anders")
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() { e.deliver(delivery{id: "W1", body: body}) })
	}
	// Both are past the "seen" check, and one waits at the gate (the
	// other for its turn to apply) before it opens.
	incidenttest.Eventually(t, "both deliveries checked, one at the gate", func() bool {
		return e.store.checked.Load() == 3 && e.store.waiting.Load() == 1
	})
	close(gate)
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	slices.Sort(got)
	if want := []httpapi.WebhookOutcome{httpapi.WebhookAccepted, httpapi.WebhookDuplicate}; !slices.Equal(got, want) {
		t.Errorf("observed %v, want %v", got, want)
	}
}
