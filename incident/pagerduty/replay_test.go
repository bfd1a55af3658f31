package pagerduty_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/incident"
	"github.com/incidentbot/incidentbot/incident/pagerduty"
)

// occurred returns body with event.occurred_at set to at.
func occurred(t *testing.T, body []byte, at time.Time) []byte {
	t.Helper()
	var m map[string]map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	m["event"]["occurred_at"] = at.UTC().Format(time.RFC3339Nano)
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// forgetAllSeen drops every remembered delivery, as the daily housekeeping
// does after a week.
func (e *env) forgetAllSeen() {
	e.t.Helper()
	if _, err := e.store.PruneSeen(context.Background(), time.Now().Add(1000*time.Hour)); err != nil {
		e.t.Fatal(err)
	}
}

// The same signed body resent under new X-Webhook-Ids (which are not
// signed) used to add the same note again and toggle the incident.
func TestReplayUnderANewWebhookID(t *testing.T) {
	e := newEnv(t, envOptions{})
	base := time.Now().Add(-time.Hour)
	e.ok("W1", occurred(t, incidentEvent(pagerduty.EventTriggered, bedroomPD, ""), base))
	note := occurred(t, noteEvent(bedroomPD.id, "Restarted the configurator", "Alice"), base.Add(time.Minute))
	e.ok("W2", note)
	resolved := occurred(t, incidentEvent(pagerduty.EventResolved, bedroomPD, "Alice"), base.Add(2*time.Minute))
	e.ok("W3", resolved)
	for _, id := range []string{"W4", "W5", "W6"} {
		if r := e.ok(id, note); !r.Duplicate {
			t.Errorf("the note under %s: %+v, want a duplicate", id, r)
		}
	}
	e.ok("W7", occurred(t, incidentEvent(pagerduty.EventReopened, bedroomPD, "Bob"), base.Add(3*time.Minute)))
	if r := e.ok("W8", resolved); !r.Duplicate {
		t.Errorf("the old resolution under a new id: %+v", r)
	}
	inc, st := e.get(1)
	if n := countKind(inc, incident.EventNote); n != 1 {
		t.Errorf("%d notes, want 1", n)
	}
	if st.Status != incident.StatusOpen {
		t.Fatalf("the replayed resolution toggled the incident: %s", st.Status)
	}

	// After a week the deliveries are forgotten; the timeline still knows
	// the event ids.
	e.forgetAllSeen()
	e.ok("W9", note)
	e.ok("W10", resolved)
	inc, st = e.get(1)
	if n := countKind(inc, incident.EventNote); n != 1 || st.Status != incident.StatusOpen {
		t.Errorf("after forgetting deliveries: %d notes, status %s", n, st.Status)
	}
}

// An event that occurred before the newest applied one of its PagerDuty
// incident is ignored: a late delivery, or the replay of a resolution that
// changed nothing when it came (so no timeline event holds its id).
func TestOlderEventsAreIgnored(t *testing.T) {
	e := newEnv(t, envOptions{})
	base := time.Now().Add(-time.Hour)
	e.ok("W1", occurred(t, incidentEvent(pagerduty.EventTriggered, bedroomPD, ""), base))
	e.ok("W2", occurred(t, incidentEvent(pagerduty.EventResolved, bedroomPD, "Alice"), base.Add(time.Minute)))
	again := occurred(t, incidentEvent(pagerduty.EventResolved, bedroomPD, "Alice"), base.Add(2*time.Minute))
	e.ok("W3", again) // resolved already: nothing recorded
	e.ok("W4", occurred(t, incidentEvent(pagerduty.EventReopened, bedroomPD, "Bob"), base.Add(3*time.Minute)))

	e.forgetAllSeen()
	if r := e.ok("W5", again); !r.Ignored || r.Incident != 1 {
		t.Errorf("replayed old resolution: %+v, want ignored", r)
	}
	late := occurred(t, incidentEvent(pagerduty.EventAcknowledged, bedroomPD, "Carol"), base.Add(90*time.Second))
	if r := e.ok("W6", late); !r.Ignored {
		t.Errorf("late acknowledgement: %+v, want ignored", r)
	}
	_, st := e.get(1)
	if st.Status != incident.StatusOpen || st.Acknowledged {
		t.Errorf("status %s, acknowledged %v: an older event was applied", st.Status, st.Acknowledged)
	}
	// A newer one is applied.
	e.ok("W7", occurred(t, incidentEvent(pagerduty.EventAcknowledged, bedroomPD, "Carol"), base.Add(4*time.Minute)))
	if _, st := e.get(1); !st.Acknowledged {
		t.Errorf("a newer acknowledgement was not applied")
	}
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// A 40 KB X-Webhook-Id used to answer 500 forever (the key could not be
// stored): it is processed once, deduplicated, and logged cut short.
func TestLongWebhookID(t *testing.T) {
	var logs syncBuf
	e := newEnv(t, envOptions{webhook: pagerduty.Options{Logger: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}})
	id := "W" + strings.Repeat("x", 40<<10)
	body := incidentEvent(pagerduty.EventTriggered, bedroomPD, "")
	if r := e.ok(id, body); r.Incident != 1 {
		t.Fatalf("first delivery: %+v", r)
	}
	if r := e.ok(id, body); !r.Duplicate {
		t.Errorf("redelivery: %+v", r)
	}
	rec := e.deliver(delivery{id: id, body: noteEvent(bedroomPD.id, "a note", "Alice")})
	if rec.Code != http.StatusOK {
		t.Errorf("another event under the same long id: %d %s", rec.Code, rec.Body)
	}
	if out := logs.String(); strings.Contains(out, strings.Repeat("x", 200)) {
		t.Errorf("the log holds the long id (%d bytes of log)", len(out))
	}
}

// FuzzWebhook parses a body as PagerDuty's webhook and, when it parses,
// delivers it signed: whatever it holds, the answer is a JSON 2xx, 4xx or
// 503 (redeliver later), never a 500.
func FuzzWebhook(f *testing.F) {
	for _, typ := range []string{pagerduty.EventTriggered, pagerduty.EventAcknowledged, pagerduty.EventReassigned,
		pagerduty.EventResolved, pagerduty.EventReopened, pagerduty.EventPing} {
		f.Add(incidentEvent(typ, bedroomPD, "Alice"))
	}
	f.Add(noteEvent(bedroomPD.id, "Rolled back", "Bob"))
	f.Add(noteEvent("PNEVER", "hello", "Bob"))
	f.Add([]byte(`{"event":{"id":"E1","event_type":"incident.resolved","occurred_at":"2026-01-01T00:00:00Z","data":{"id":"P1","service":{"id":"PBEDROOM"}}}}`))
	f.Add([]byte(`{"event":{"event_type":"incident.triggered","data":{"id":"P2","incident_key":"incidentbot-major-1"}}}`))
	f.Add([]byte(`{"event":{"id":"E3","event_type":"incident.annotated","data":[]}}`))
	f.Add([]byte(`{"event":null}`))
	e := newEnv(f, envOptions{noGet: true})
	var deliveries atomic.Int64
	f.Fuzz(func(t *testing.T, body []byte) {
		ev, err := pagerduty.ParseEvent(body)
		if err != nil {
			if incident.ErrorCode(err) != incident.EINVALID {
				t.Fatalf("ParseEvent: %v is not an invalid-input error", err)
			}
			return
		}
		if ev.EventType == "" {
			t.Fatalf("an event without a type parsed")
		}
		rec := e.deliver(delivery{id: fmt.Sprint("F", deliveries.Add(1)), body: body})
		switch rec.Code {
		case http.StatusOK, http.StatusBadRequest, http.StatusServiceUnavailable:
		default:
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		var out map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			t.Fatalf("the answer is not JSON: %q", rec.Body)
		}
	})
}

// An unmapped PagerDuty service with a 40 KB summary is named in one
// bounded line.
func TestLongServiceSummary(t *testing.T) {
	e := newEnv(t, envOptions{})
	inc := pdInc{id: "PLONG", title: "Down", service: "PUNKNOWN", serviceName: strings.Repeat("name\n", 8<<10)}
	r := e.ok("W1", incidentEvent(pagerduty.EventTriggered, inc, ""))
	got, _ := e.get(r.Incident)
	if !got.Unmapped || len(got.Service.Name) > 100 || strings.Contains(got.Service.Name, "\n") {
		t.Errorf("service name of %d bytes: %.60q", len(got.Service.Name), got.Service.Name)
	}
}
