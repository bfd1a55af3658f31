package pagerduty_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/incident"
	"github.com/incidentbot/incidentbot/incident/pagerduty"
)

var bedroomPD = pdInc{id: "PINC001", title: "Bed configurator returns 500s", service: "PBEDROOM", number: 41}

func TestTriggeredOpensIncidentForMappedService(t *testing.T) {
	e := newEnv(t, envOptions{})
	r := e.ok("W1", incidentEvent(pagerduty.EventTriggered, bedroomPD, "Alice Anders"))
	if r.Incident != 1 || r.Event != pagerduty.EventTriggered {
		t.Fatalf("response %+v", r)
	}
	inc, st := e.get(1)
	if inc.Service.Name != "bedroom" || inc.Unmapped || inc.Title != bedroomPD.title {
		t.Errorf("incident %q for %q unmapped=%v", inc.Title, inc.Service.Name, inc.Unmapped)
	}
	if len(st.Alerts) != 1 || st.Alerts[0].Key != "pd:PINC001" || st.Alerts[0].Source != incident.ActorPagerDuty || !st.Alerts[0].Firing {
		t.Fatalf("alerts %+v", st.Alerts)
	}
	if !strings.Contains(st.Alerts[0].Summary, "#41") || st.Alerts[0].Labels["pagerduty_service"] != "PBEDROOM" {
		t.Errorf("alert %+v", st.Alerts[0])
	}
	if inc.Events[0].Actor != incident.ActorPagerDuty {
		t.Errorf("declared by %q", inc.Events[0].Actor)
	}
	if !e.seen("W1") {
		t.Error("webhook not marked seen")
	}
}

func TestTriggeredForUnknownServiceIsUnmapped(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.ok("W1", incidentEvent(pagerduty.EventTriggered, pdInc{id: "PX", title: "Robots stopped", service: "PROBOTS", serviceName: "Warehouse Robots"}, ""))
	inc, _ := e.get(1)
	if !inc.Unmapped || inc.Service.Name != "Warehouse Robots" {
		t.Errorf("unmapped=%v service=%q", inc.Unmapped, inc.Service.Name)
	}
}

func TestRedeliveryIsProcessedOnce(t *testing.T) {
	e := newEnv(t, envOptions{})
	body := incidentEvent(pagerduty.EventTriggered, bedroomPD, "")
	e.ok("W1", body)
	ack := incidentEvent(pagerduty.EventAcknowledged, bedroomPD, "Alice Anders")
	e.ok("W2", ack)
	inc, _ := e.get(1)
	events := len(inc.Events)
	for range 3 {
		if r := e.ok("W2", ack); !r.Duplicate {
			t.Errorf("redelivery not recognised: %+v", r)
		}
		if r := e.ok("W1", body); !r.Duplicate {
			t.Errorf("redelivery not recognised: %+v", r)
		}
	}
	if inc, _ := e.get(1); len(inc.Events) != events {
		t.Errorf("redeliveries added %d events", len(inc.Events)-events)
	}
	if n := len(e.incidents()); n != 1 {
		t.Errorf("%d incidents", n)
	}
}

// A crash after the effect was stored and before the webhook was marked
// seen: the redelivery runs again and changes nothing.
func TestMarkedSeenOnlyAfterTheEffectIsStored(t *testing.T) {
	e := newEnv(t, envOptions{})
	var atSeen []int
	e.store.onSeen = func(string) {
		all, _ := e.desk.List(context.Background(), boltFilterAll)
		n := 0
		for _, inc := range all {
			n += len(inc.Events)
		}
		atSeen = append(atSeen, n)
	}
	e.ok("W1", incidentEvent(pagerduty.EventTriggered, bedroomPD, ""))
	// Seen is called for X-Webhook-Id and for event.id, both after.
	if len(atSeen) != 2 || atSeen[0] == 0 || atSeen[1] == 0 {
		t.Fatalf("Seen was called before the incident was stored: %v", atSeen)
	}

	// Simulate the crash: the effect is stored but the mark is lost.
	ack := incidentEvent(pagerduty.EventAcknowledged, bedroomPD, "Bob")
	e.store.fail.Store(false)
	e.ok("W2", ack)
	inc, _ := e.get(1)
	before := len(inc.Events)
	// Forget W2 by using a store without it: redeliver under a handler
	// whose store says nothing was seen.
	h := pagerduty.WebhookHandler(e.desk, forgetful{e.store}, pagerduty.Options{Secret: secret})
	req := httptest.NewRequest(http.MethodPost, pagerduty.WebhookPath, bytes.NewReader(ack))
	req.Header.Set("X-PagerDuty-Signature", sign(ack, secret))
	req.Header.Set("X-Webhook-Id", "W2")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("redelivery: %d %s", rec.Code, rec.Body)
	}
	if inc, _ := e.get(1); len(inc.Events) != before || countKind(inc, incident.EventAcknowledged) != 1 {
		t.Errorf("the redelivery after a lost mark changed the timeline (%d → %d events)", before, len(inc.Events))
	}
}

// forgetful is a store that never remembers a webhook: every delivery looks
// new, as after a crash between storing and marking.
type forgetful struct{ s *store }

func (f forgetful) Seen(context.Context, string, string, time.Time) (bool, error) { return true, nil }

func (f forgetful) ByAlertKey(ctx context.Context, key string) (int64, bool, error) {
	return f.s.ByAlertKey(ctx, key)
}

func (f forgetful) GetKV(ctx context.Context, bucket, key string) ([]byte, bool, error) {
	return f.s.GetKV(ctx, bucket, key)
}

func (f forgetful) Put(ctx context.Context, bucket, key string, value []byte) error {
	return f.s.Put(ctx, bucket, key, value)
}

func TestSignatures(t *testing.T) {
	e := newEnv(t, envOptions{})
	body := incidentEvent(pagerduty.EventTriggered, bedroomPD, "")
	for _, c := range []struct {
		name, sig string
	}{
		{"missing", "-"},
		{"wrong secret", sign(body, "not-the-secret")},
		{"of another body", sign([]byte(`{"event":{}}`), secret)},
		{"not hex", "v1=zzzz"},
		{"other version", strings.Replace(sign(body, secret), "v1=", "v2=", 1)},
		{"empty", "v1="},
	} {
		t.Run(c.name, func(t *testing.T) {
			rec := e.deliver(delivery{id: "W-" + c.name, body: body, signature: c.sig})
			if rec.Code != http.StatusUnauthorized {
				t.Fatalf("status %d, want 401", rec.Code)
			}
			assertJSONError(t, rec)
			if n := len(e.incidents()); n != 0 {
				t.Fatalf("%d incidents stored", n)
			}
			if e.seen("W-" + c.name) {
				t.Error("a refused delivery was marked seen")
			}
		})
	}
	// During a secret rotation PagerDuty signs with the old and the new
	// secret: either one verifies.
	rot := sign(body, "old-secret") + "," + sign(body, secret)
	if rec := e.deliver(delivery{id: "W-rot", body: body, signature: rot}); rec.Code != http.StatusOK {
		t.Fatalf("rotation (new second): %d %s", rec.Code, rec.Body)
	}
	body2 := incidentEvent(pagerduty.EventAcknowledged, bedroomPD, "")
	rot = sign(body2, secret) + ", " + sign(body2, "next-secret")
	rot = strings.ReplaceAll(rot, " ", "")
	if rec := e.deliver(delivery{id: "W-rot2", body: body2, signature: rot}); rec.Code != http.StatusOK {
		t.Fatalf("rotation (new first): %d %s", rec.Code, rec.Body)
	}

	// Without a configured secret nothing is accepted.
	h := pagerduty.WebhookHandler(e.desk, e.store, pagerduty.Options{})
	req := httptest.NewRequest(http.MethodPost, pagerduty.WebhookPath, bytes.NewReader(body))
	req.Header.Set("X-PagerDuty-Signature", sign(body, ""))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusUnauthorized {
		t.Errorf("no secret configured: %d", rec.Code)
	}
}

func assertJSONError(t *testing.T, rec *httptest.ResponseRecorder) {
	t.Helper()
	var body struct {
		Error string `json:"error"`
	}
	if !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
		t.Errorf("content type %q", rec.Header().Get("Content-Type"))
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Error == "" {
		t.Errorf("body %q is not a JSON error", rec.Body)
	}
	if strings.Contains(rec.Body.String(), secret) {
		t.Error("the secret leaked")
	}
}

func TestBadInputStoresNothing(t *testing.T) {
	e := newEnv(t, envOptions{})
	big := incidentEvent(pagerduty.EventTriggered, pdInc{id: "PBIG", service: "PBEDROOM", title: strings.Repeat("x", 1<<20)}, "")
	for _, c := range []struct {
		name   string
		body   []byte
		method string
		want   int
	}{
		{"too large", big, "", http.StatusRequestEntityTooLarge},
		{"malformed JSON", []byte(`{"event": {"event_type": "incident.triggered", "data": {`), "", http.StatusBadRequest},
		{"no event", []byte(`{"something": "else"}`), "", http.StatusBadRequest},
		{"no event type", []byte(`{"event": {"id": "E1", "data": {}}}`), "", http.StatusBadRequest},
		{"data not an incident", eventBody(pagerduty.EventTriggered, []int{1}, ""), "", http.StatusBadRequest},
		{"incident without id", eventBody(pagerduty.EventTriggered, map[string]any{"title": "x"}, ""), "", http.StatusBadRequest},
		{"GET", nil, http.MethodGet, http.StatusMethodNotAllowed},
	} {
		t.Run(c.name, func(t *testing.T) {
			method := c.method
			if method == "" {
				method = http.MethodPost
			}
			req := httptest.NewRequest(method, pagerduty.WebhookPath, bytes.NewReader(c.body))
			req.Header.Set("X-PagerDuty-Signature", sign(c.body, secret))
			req.Header.Set("X-Webhook-Id", "W-"+c.name)
			rec := httptest.NewRecorder()
			e.hook.ServeHTTP(rec, req)
			if rec.Code != c.want {
				t.Fatalf("status %d, want %d: %s", rec.Code, c.want, rec.Body)
			}
			assertJSONError(t, rec)
			if n := len(e.incidents()); n != 0 {
				t.Fatalf("%d incidents stored", n)
			}
			if e.seen("W-" + c.name) {
				t.Error("marked seen")
			}
		})
	}
	// Events the bot does not act on are acknowledged and change nothing.
	r := e.ok("W-ping", eventBody(pagerduty.EventPing, map[string]any{}, ""))
	if !r.Ignored {
		t.Errorf("ping: %+v", r)
	}
	r = e.ok("W-prio", eventBody("incident.priority_updated", map[string]any{"id": "PX"}, ""))
	if !r.Ignored || len(e.incidents()) != 0 {
		t.Errorf("priority_updated: %+v", r)
	}
}

func TestLifecycleFromPagerDuty(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.pd.addIncident(bedroomPD.id, "PBEDROOM", bedroomPD.title)
	e.startRunner(pagerduty.SyncOptions{})
	e.ok("W1", incidentEvent(pagerduty.EventTriggered, bedroomPD, ""))
	e.ok("W2", incidentEvent(pagerduty.EventAcknowledged, bedroomPD, "Alice Anders"))
	e.ok("W3", incidentEvent(pagerduty.EventReassigned, bedroomPD, "Bob Brown"))
	e.ok("W4", noteEvent(bedroomPD.id, "Rolled back the configurator deploy", "Alice Anders"))
	e.ok("W5", incidentEvent(pagerduty.EventResolved, bedroomPD, "Alice Anders"))

	inc, st := e.get(1)
	if !st.Acknowledged || st.Status != incident.StatusResolved {
		t.Fatalf("acknowledged=%v status=%s", st.Acknowledged, st.Status)
	}
	var notes []string
	for _, ev := range inc.Events {
		switch ev.Kind {
		case incident.EventNote:
			notes = append(notes, ev.Text)
			if ev.Actor != incident.ActorPagerDuty {
				t.Errorf("note by %q", ev.Actor)
			}
		case incident.EventAcknowledged:
			if ev.Source != incident.ActorPagerDuty || !strings.Contains(ev.Text, "Alice Anders") {
				t.Errorf("ack %+v", ev)
			}
		case incident.EventResolved:
			if ev.Actor != incident.ActorPagerDuty {
				t.Errorf("resolved by %q", ev.Actor)
			}
		}
	}
	if len(notes) != 2 || !strings.Contains(notes[0], "Reassigned in PagerDuty to Alice Anders by Bob Brown") ||
		!strings.Contains(notes[1], "Rolled back the configurator deploy") {
		t.Errorf("notes %q", notes)
	}
	if st.Alerts[0].Firing {
		t.Errorf("the PagerDuty alert is still firing")
	}
	// The runner had the note jobs: nothing is echoed back to PagerDuty,
	// and the resolution (which came from PagerDuty) is not sent back.
	waitFor(t, "jobs to drain", 5*time.Second, e.drained)
	if n := len(e.pd.incident(bedroomPD.id).Notes); n != 0 {
		t.Errorf("%d notes echoed back to PagerDuty", n)
	}
	if n := e.pd.countRequests(http.MethodPut, "/incidents", 0); n != 0 {
		t.Errorf("%d status changes sent back to PagerDuty", n)
	}
}

func TestOutOfOrderDelivery(t *testing.T) {
	e := newEnv(t, envOptions{})
	// Acknowledged arrives before triggered: the incident opens from the
	// acknowledgement's data and the acknowledgement is kept.
	e.ok("W-ack", incidentEvent(pagerduty.EventAcknowledged, bedroomPD, "Alice Anders"))
	e.ok("W-trig", incidentEvent(pagerduty.EventTriggered, bedroomPD, ""))
	if n := len(e.incidents()); n != 1 {
		t.Fatalf("%d incidents, want 1", n)
	}
	inc, st := e.get(1)
	if !st.Acknowledged || inc.Service.Name != "bedroom" || inc.Title != bedroomPD.title {
		t.Errorf("acknowledged=%v service=%q title=%q", st.Acknowledged, inc.Service.Name, inc.Title)
	}
	if n := countKind(inc, incident.EventAlertFired); n != 1 {
		t.Errorf("%d alert_fired events", n)
	}

	// Resolved arrives before triggered for another PagerDuty incident of
	// another service: it opens resolved, and the late trigger does not
	// open it again.
	other := pdInc{id: "PINC777", title: "Checkout slow", service: "PECOMM"}
	e.ok("W-res", incidentEvent(pagerduty.EventResolved, other, "Grace"))
	e.ok("W-trig2", incidentEvent(pagerduty.EventTriggered, other, ""))
	if n := len(e.incidents()); n != 2 {
		t.Fatalf("%d incidents, want 2", n)
	}
	inc, st = e.get(2)
	if st.Status != incident.StatusResolved || inc.Service.Name != "ecommerce-platform" {
		t.Errorf("status=%s service=%q", st.Status, inc.Service.Name)
	}

	// A note for an incident the bot never saw: fetched from the REST API.
	e.pd.addIncident("PINC900", "PBEDROOM", "Wardrobe images missing")
	r := e.ok("W-note", noteEvent("PINC900", "CDN purge running", "Bob"))
	inc, _ = e.get(r.Incident)
	if countKind(inc, incident.EventNote) != 1 || inc.Service.Name != "bedroom" {
		t.Errorf("note on %q: %d notes", inc.Service.Name, countKind(inc, incident.EventNote))
	}
}

func TestNoteForUnknownIncidentWithoutRESTIsRedelivered(t *testing.T) {
	e := newEnv(t, envOptions{noGet: true})
	body := noteEvent("PNEVER", "hello", "Bob")
	rec := e.deliver(delivery{id: "W1", body: body})
	if rec.Code < 500 {
		t.Fatalf("status %d, want 5xx so that PagerDuty redelivers", rec.Code)
	}
	if len(e.incidents()) != 0 || e.seen("W1") {
		t.Fatal("stored or marked")
	}
	// Once the trigger arrived, the redelivered note lands.
	e.ok("W0", incidentEvent(pagerduty.EventTriggered, pdInc{id: "PNEVER", service: "PBEDROOM", title: "x"}, ""))
	e.ok("W1", body)
	if inc, _ := e.get(1); countKind(inc, incident.EventNote) != 1 {
		t.Error("note missing")
	}
}

func TestManagerPageWebhooksAreIgnored(t *testing.T) {
	e := newEnv(t, envOptions{})
	page := pdInc{id: "PPAGE", title: "Major incident #1", service: "PBEDROOM", key: pagerduty.ManagerPageKeyPrefix + "1"}
	for i, typ := range []string{pagerduty.EventTriggered, pagerduty.EventAcknowledged, pagerduty.EventResolved} {
		if r := e.ok("W"+string(rune('a'+i)), incidentEvent(typ, page, "Carol")); !r.Ignored {
			t.Errorf("%s: %+v", typ, r)
		}
	}
	if n := len(e.incidents()); n != 0 {
		t.Errorf("%d incidents", n)
	}
}

func TestStorageErrorIs500AndNotMarked(t *testing.T) {
	e := newEnv(t, envOptions{})
	body := incidentEvent(pagerduty.EventTriggered, bedroomPD, "")
	e.store.fail.Store(true)
	rec := e.deliver(delivery{id: "W1", body: body})
	if rec.Code != http.StatusInternalServerError {
		t.Fatalf("status %d", rec.Code)
	}
	assertJSONError(t, rec)
	if e.seen("W1") || len(e.incidents()) != 0 {
		t.Fatal("stored or marked")
	}
	e.store.fail.Store(false)
	if r := e.ok("W1", body); r.Incident != 1 || r.Duplicate {
		t.Fatalf("redelivery: %+v", r)
	}
}

// PagerDuty wants an answer within 5 s: stuck storage gets a 503 in time,
// and the redelivery is processed once.
func TestAnswersWithinTimeout(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{webhook: pagerduty.Options{Timeout: 300 * time.Millisecond}})
	gate := make(chan struct{})
	e.store.gate.Store(&gate)
	body := incidentEvent(pagerduty.EventTriggered, bedroomPD, "")
	start := time.Now()
	rec := e.deliver(delivery{id: "W1", body: body})
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("answered after %s", took)
	}
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503", rec.Code)
	}
	if e.seen("W1") {
		t.Fatal("marked seen")
	}
	close(gate)
	e.store.gate.Store(nil)
	if r := e.ok("W1", body); r.Incident != 1 {
		t.Fatalf("redelivery: %+v", r)
	}
	if r := e.ok("W1", body); !r.Duplicate {
		t.Fatalf("second redelivery: %+v", r)
	}
	if n := len(e.incidents()); n != 1 {
		t.Errorf("%d incidents", n)
	}
}

func TestDefaultTimeoutIsUnderFiveSeconds(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	gate := make(chan struct{})
	e.store.gate.Store(&gate)
	defer close(gate)
	start := time.Now()
	rec := e.deliver(delivery{id: "W1", body: incidentEvent(pagerduty.EventTriggered, bedroomPD, "")})
	took := time.Since(start)
	if rec.Code != http.StatusServiceUnavailable || took >= 5*time.Second || took < 3*time.Second {
		t.Errorf("status %d after %s; want 503 within PagerDuty's 5 s", rec.Code, took)
	}
}

func TestReopenedInPagerDuty(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.ok("W1", incidentEvent(pagerduty.EventTriggered, bedroomPD, ""))
	e.ok("W2", incidentEvent(pagerduty.EventResolved, bedroomPD, "Alice"))
	e.ok("W3", incidentEvent(pagerduty.EventReopened, bedroomPD, "Alice"))
	_, st := e.get(1)
	if st.Status != incident.StatusOpen || !st.Alerts[0].Firing {
		t.Errorf("status %s, alert firing %v", st.Status, st.Alerts[0].Firing)
	}
	if n := len(e.incidents()); n != 1 {
		t.Errorf("%d incidents", n)
	}
}
