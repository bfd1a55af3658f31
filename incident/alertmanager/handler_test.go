package alertmanager_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/incident"
	"github.com/incidentbot/incidentbot/incident/alertmanager"
)

func TestFiringOpensIncidentForCatalogueService(t *testing.T) {
	e := newEnv(t, alertmanager.Options{BearerToken: token})
	start := time.Now().Add(-3 * time.Minute).UTC().Truncate(time.Second)
	lb := labels("alertname", "HighLatency", "service", "bedroom", "severity", "page")
	n := notification(gk("bedroom", "HighLatency"), alertmanager.StatusFiring, lb,
		firing("fp2", start.Add(time.Minute), labels("alertname", "HighLatency", "service", "bedroom", "instance", "b:9100"), "p99 is 3s on b"),
		firing("fp1", start, labels("alertname", "HighLatency", "service", "bedroom", "instance", "a:9100"), "p99 is 2s on a"),
	)
	r := e.send(n)
	if !r.Created || r.Incident != 1 {
		t.Fatalf("response %+v, want incident 1 created", r)
	}
	inc, st := e.get(1)
	if inc.Service.Name != "bedroom" || inc.Unmapped {
		t.Errorf("service %q unmapped=%v", inc.Service.Name, inc.Unmapped)
	}
	if inc.Title != "HighLatency on bedroom" {
		t.Errorf("title %q", inc.Title)
	}
	if !inc.StartedAt.Equal(start) {
		t.Errorf("started %v, want the earliest startsAt %v", inc.StartedAt, start)
	}
	if len(st.Alerts) != 1 || st.Alerts[0].Key != "am:"+n.GroupKey || !st.Alerts[0].Firing || st.Alerts[0].Source != incident.ActorAlertmanager {
		t.Fatalf("alerts %+v", st.Alerts)
	}
	if s := st.Alerts[0].Summary; !strings.Contains(s, "p99 is 2s on a") || !strings.Contains(s, "(b:9100)") {
		t.Errorf("summary %q", s)
	}
	if st.Alerts[0].Labels["severity"] != "page" {
		t.Errorf("labels %v", st.Alerts[0].Labels)
	}

	// An identical re-send (Alertmanager's retry or repeat_interval) is a no-op.
	before := len(inc.Events)
	if r := e.send(n); r.Incident != 1 || r.Created {
		t.Fatalf("re-send: %+v", r)
	}
	if inc, _ := e.get(1); len(inc.Events) != before {
		t.Errorf("re-send added %d events", len(inc.Events)-before)
	}
	// The same alerts in another order are the same notification.
	n2 := n
	n2.Alerts = []alertmanager.Alert{n.Alerts[1], n.Alerts[0]}
	e.send(n2)
	if inc, _ := e.get(1); len(inc.Events) != before {
		t.Errorf("reordered re-send added %d events", len(inc.Events)-before)
	}
}

func TestSummaryAnnotationIsTheTitle(t *testing.T) {
	e := newEnv(t, alertmanager.Options{})
	n := notification("g1", alertmanager.StatusFiring, labels("alertname", "Down", "service", "appointments"),
		firing("f", time.Now().Add(-time.Minute), labels("alertname", "Down", "service", "appointments"), "x"))
	n.CommonAnnotations = map[string]string{"summary": "Appointments   booking\nis down"}
	e.send(n)
	if inc, _ := e.get(1); inc.Title != "Appointments booking is down" {
		t.Errorf("title %q", inc.Title)
	}
}

func TestGroupingAttachesToOneIncident(t *testing.T) {
	e := newEnv(t, alertmanager.Options{BearerToken: token})
	now := time.Now().Add(-time.Minute)
	a := firing("a1", now, labels("alertname", "HighLatency", "service", "bedroom"), "slow")
	r1 := e.send(notification(gk("bedroom", "HighLatency"), "firing", labels("alertname", "HighLatency", "service", "bedroom"), a))
	// The group grows: one more alert in the same group.
	b := firing("a2", now, labels("alertname", "HighLatency", "service", "bedroom", "instance", "x"), "slower")
	r2 := e.send(notification(gk("bedroom", "HighLatency"), "firing", labels("alertname", "HighLatency", "service", "bedroom"), a, b))
	// Another group for the same service within the grouping window.
	c := firing("a3", now, labels("alertname", "Errors", "service", "bedroom"), "5xx")
	r3 := e.send(notification(gk("bedroom", "Errors"), "firing", labels("alertname", "Errors", "service", "bedroom"), c))
	// Another service: another incident.
	d := firing("a4", now, labels("alertname", "Errors", "service", "appointments"), "5xx")
	r4 := e.send(notification(gk("appointments", "Errors"), "firing", labels("alertname", "Errors", "service", "appointments"), d))
	if !r1.Created || r2.Incident != r1.Incident || r2.Created || r3.Incident != r1.Incident || r3.Created {
		t.Fatalf("responses %+v %+v %+v", r1, r2, r3)
	}
	if !r4.Created || r4.Incident == r1.Incident {
		t.Fatalf("other service: %+v", r4)
	}
	inc, st := e.get(r1.Incident)
	if len(st.Alerts) != 2 {
		t.Errorf("alerts %+v, want the two groups", st.Alerts)
	}
	if n := countKind(inc, incident.EventAlertFired); n != 3 {
		t.Errorf("%d alert_fired events, want 3", n)
	}
}

func TestServiceFromFirstAlertWhenNotCommon(t *testing.T) {
	e := newEnv(t, alertmanager.Options{ServiceLabel: "app"})
	now := time.Now().Add(-time.Minute)
	n := notification("g", "firing", labels("alertname", "Down"),
		firing("1", now, labels("alertname", "Down"), "no label"),
		firing("2", now, labels("alertname", "Down", "app", "bedroom"), "has label"),
		firing("3", now, labels("alertname", "Down", "app", "appointments"), "other"))
	e.send(n)
	if inc, _ := e.get(1); inc.Service.Name != "bedroom" {
		t.Errorf("service %q", inc.Service.Name)
	}
}

func TestUnknownServiceOpensUnmappedIncident(t *testing.T) {
	e := newEnv(t, alertmanager.Options{})
	n := notification("g", "firing", labels("alertname", "Down", "service", "warehouse-robots"),
		firing("1", time.Now().Add(-time.Minute), labels("alertname", "Down", "service", "warehouse-robots"), "robots stopped"))
	r := e.send(n)
	inc, _ := e.get(r.Incident)
	if !inc.Unmapped || inc.Service.Name != "warehouse-robots" {
		t.Errorf("unmapped=%v service=%q", inc.Unmapped, inc.Service.Name)
	}
	// No service label at all.
	n = notification("g2", "firing", labels("alertname", "Mystery"), firing("2", time.Now(), labels("alertname", "Mystery"), ""))
	r = e.send(n)
	if inc, _ := e.get(r.Incident); !inc.Unmapped || inc.Title != "Mystery" {
		t.Errorf("unmapped=%v title=%q", inc.Unmapped, inc.Title)
	}
}

func TestResolvedGoesOnTimelineAndAutoResolves(t *testing.T) {
	for _, auto := range []bool{false, true} {
		t.Run(map[bool]string{false: "manual", true: "auto"}[auto], func(t *testing.T) {
			e := newEnv(t, alertmanager.Options{AutoResolve: auto})
			now := time.Now().Add(-10 * time.Minute)
			a := firing("a", now, labels("alertname", "Lat", "service", "bedroom"), "slow")
			b := firing("b", now, labels("alertname", "Err", "service", "bedroom"), "errors")
			e.send(notification("ga", "firing", labels("alertname", "Lat", "service", "bedroom"), a))
			e.send(notification("gb", "firing", labels("alertname", "Err", "service", "bedroom"), b))

			r := e.send(notification("ga", "resolved", labels("alertname", "Lat", "service", "bedroom"), resolved(a, time.Now())))
			if r.Incident != 1 || r.Resolved {
				t.Fatalf("first resolved: %+v", r)
			}
			_, st := e.get(1)
			if st.Status != incident.StatusOpen {
				t.Fatalf("resolved while group gb still fires")
			}
			ended := time.Now()
			r = e.send(notification("gb", "resolved", labels("alertname", "Err", "service", "bedroom"), resolved(b, ended)))
			inc, st := e.get(1)
			if n := countKind(inc, incident.EventAlertResolved); n != 2 {
				t.Errorf("%d alert_resolved events, want 2", n)
			}
			if !auto {
				if st.Status != incident.StatusOpen || r.Resolved {
					t.Errorf("resolved without auto_resolve")
				}
				return
			}
			if st.Status != incident.StatusResolved || !r.Resolved {
				t.Fatalf("not auto-resolved: %+v", r)
			}
			last, _ := inc.LastEvent()
			if last.Kind != incident.EventResolved || last.Actor != incident.ActorAlertmanager {
				t.Errorf("last event %+v", last)
			}
			// A re-sent resolved notification changes nothing.
			n := len(inc.Events)
			if r := e.send(notification("gb", "resolved", labels("alertname", "Err", "service", "bedroom"), resolved(b, ended))); r.Resolved {
				t.Errorf("re-send resolved again")
			}
			if inc, _ := e.get(1); len(inc.Events) != n {
				t.Errorf("re-send added events")
			}
		})
	}
}

func TestResolvedForUnknownGroupIsIgnored(t *testing.T) {
	e := newEnv(t, alertmanager.Options{AutoResolve: true})
	a := resolved(firing("a", time.Now().Add(-time.Hour), labels("alertname", "X", "service", "bedroom"), ""), time.Now())
	r := e.send(notification("nobody", "resolved", labels("alertname", "X", "service", "bedroom"), a))
	if !r.Ignored || r.Incident != 0 {
		t.Errorf("response %+v", r)
	}
	e.assertNothingStored()
}

func TestBadRequestsStoreNothing(t *testing.T) {
	e := newEnv(t, alertmanager.Options{BearerToken: token})
	good := mustJSON(t, notification("g", "firing", labels("service", "bedroom"), firing("f", time.Now(), labels("service", "bedroom"), "")))
	big := notification("g", "firing", labels("service", "bedroom"), firing("f", time.Now(), labels("service", "bedroom"), strings.Repeat("x", 1<<20)))
	cases := []struct {
		name    string
		body    []byte
		auth    string
		method  string
		want    int
		headers map[string]string // default Content-Type: application/json
	}{
		{"no token", good, "", "", http.StatusUnauthorized, nil},
		{"wrong token", good, "Bearer nope", "", http.StatusUnauthorized, nil},
		{"token prefix", good, "Bearer " + token[:5], "", http.StatusUnauthorized, nil},
		{"basic scheme", good, "Basic " + token, "", http.StatusUnauthorized, nil},
		{"too large", mustJSON(t, big), "Bearer " + token, "", http.StatusRequestEntityTooLarge, nil},
		{"malformed JSON", []byte(`{"groupKey": "g", "status": "firing", "alerts": [`), "Bearer " + token, "", http.StatusBadRequest, nil},
		{"not JSON", []byte(`hello`), "Bearer " + token, "", http.StatusBadRequest, nil},
		{"no group key", mustJSON(t, notification("", "firing", nil, firing("f", time.Now(), nil, ""))), "Bearer " + token, "", http.StatusBadRequest, nil},
		{"bad status", mustJSON(t, notification("g", "on fire", nil, firing("f", time.Now(), nil, ""))), "Bearer " + token, "", http.StatusBadRequest, nil},
		{"no alerts", mustJSON(t, notification("g", "firing", nil)), "Bearer " + token, "", http.StatusBadRequest, nil},
		{"GET", nil, "Bearer " + token, http.MethodGet, http.StatusMethodNotAllowed, nil},
		{"text/plain", good, "Bearer " + token, "", http.StatusUnsupportedMediaType, map[string]string{"Content-Type": "text/plain"}},
		{"text/plain;charset", good, "Bearer " + token, "", http.StatusUnsupportedMediaType, map[string]string{"Content-Type": "text/plain;charset=UTF-8"}},
		{"form", good, "Bearer " + token, "", http.StatusUnsupportedMediaType, map[string]string{"Content-Type": "application/x-www-form-urlencoded"}},
		{"no content type", good, "Bearer " + token, "", http.StatusUnsupportedMediaType, map[string]string{"Content-Type": ""}},
		{"json lookalike", good, "Bearer " + token, "", http.StatusUnsupportedMediaType, map[string]string{"Content-Type": "application/jsonp"}},
		{"cross-origin page", good, "Bearer " + token, "", http.StatusForbidden, map[string]string{"Origin": "https://evil.example"}},
		{"opaque origin", good, "Bearer " + token, "", http.StatusForbidden, map[string]string{"Origin": "null"}},
		{"same host other port", good, "Bearer " + token, "", http.StatusForbidden, map[string]string{"Origin": "http://example.com:8081"}},
		{"cross-site fetch", good, "Bearer " + token, "", http.StatusForbidden, map[string]string{"Sec-Fetch-Site": "cross-site"}},
		{"same-site fetch", good, "Bearer " + token, "", http.StatusForbidden, map[string]string{"Sec-Fetch-Site": "same-site"}},
		{"cross-origin without token", good, "", "", http.StatusForbidden, map[string]string{"Origin": "https://evil.example"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			method := c.method
			if method == "" {
				method = http.MethodPost
			}
			req := httptest.NewRequest(method, alertmanager.Path, bytes.NewReader(c.body))
			req.Header.Set("Content-Type", "application/json")
			for k, v := range c.headers {
				req.Header.Set(k, v)
			}
			if c.auth != "" {
				req.Header.Set("Authorization", c.auth)
			}
			rec := httptest.NewRecorder()
			e.h.ServeHTTP(rec, req)
			if rec.Code != c.want {
				t.Fatalf("status %d, want %d: %s", rec.Code, c.want, rec.Body)
			}
			if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("content type %q", ct)
			}
			var body struct {
				Error string `json:"error"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Error == "" {
				t.Errorf("body %q is not a JSON error", rec.Body)
			}
			if strings.Contains(rec.Body.String(), token) {
				t.Errorf("the token leaked into the answer")
			}
			e.assertNothingStored()
		})
	}
	// The good body is accepted with the token (the cases above were not
	// rejected for some other reason).
	if rec := e.post(good, "bearer "+token); rec.Code != http.StatusOK {
		t.Fatalf("good request: %d %s", rec.Code, rec.Body)
	}
	// A browser on the bot's own origin (say, a page served by the bot)
	// is not refused for its origin.
	req := httptest.NewRequest(http.MethodPost, "http://incidentbot.example:8080"+alertmanager.Path, bytes.NewReader(good))
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("Origin", "http://incidentbot.example:8080")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	req.Header.Set("Authorization", "Bearer "+token)
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("same-origin request: %d %s", rec.Code, rec.Body)
	}
}

func TestUnknownFieldsAndVersionsAreTolerated(t *testing.T) {
	e := newEnv(t, alertmanager.Options{})
	body := `{"version":"5","groupKey":"{}:{service=\"bedroom\"}","status":"firing","receiver":"r","futureField":{"x":[1,2]},
	"groupLabels":{"service":"bedroom"},"commonLabels":{"service":"bedroom","alertname":"Up"},"commonAnnotations":{},
	"externalURL":"http://am","alerts":[{"status":"firing","labels":{"service":"bedroom","alertname":"Up"},"annotations":{},
	"startsAt":"2020-01-01T00:00:00Z","endsAt":"0001-01-01T00:00:00Z","generatorURL":"http://prom","fingerprint":"abc","silenceURL":"x"}]}`
	rec := e.post([]byte(body), "")
	if rec.Code != http.StatusOK {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	if inc, _ := e.get(1); inc.Service.Name != "bedroom" {
		t.Errorf("service %q", inc.Service.Name)
	}
}

func TestStorageFailureIs500AndRetrySucceeds(t *testing.T) {
	e := newEnv(t, alertmanager.Options{})
	n := notification("g", "firing", labels("alertname", "Down", "service", "bedroom"),
		firing("f", time.Now().Add(-time.Minute), labels("alertname", "Down", "service", "bedroom"), "down"))
	e.store.fail.Store(true)
	rec := e.post(mustJSON(t, n), "")
	if rec.Code != http.StatusInternalServerError {
		t.Fatalf("status %d, want 500 so that Alertmanager retries", rec.Code)
	}
	if strings.Contains(rec.Body.String(), errDisk.Error()) {
		t.Errorf("internal detail leaked: %s", rec.Body)
	}
	e.assertNothingStored()
	e.store.fail.Store(false)
	if r := e.send(n); !r.Created {
		t.Fatalf("retry: %+v", r)
	}
	// Attaching fails the same way.
	e.store.fail.Store(true)
	n.Alerts = append(n.Alerts, firing("g", time.Now(), labels("alertname", "Down", "service", "bedroom", "instance", "2"), "down too"))
	if rec := e.post(mustJSON(t, n), ""); rec.Code != http.StatusInternalServerError {
		t.Fatalf("status %d", rec.Code)
	}
	e.store.fail.Store(false)
	if r := e.send(n); r.Incident != 1 || r.Created {
		t.Fatalf("retry: %+v", r)
	}
}

func TestLongTextIsCapped(t *testing.T) {
	e := newEnv(t, alertmanager.Options{})
	var alerts []alertmanager.Alert
	lb := labels("alertname", strings.Repeat("A", 400), "service", "bedroom")
	for i := range 60 {
		al := firing(fmt.Sprint("fp", i), time.Now().Add(-time.Minute),
			labels("alertname", "Big", "service", "bedroom", "n", strings.Repeat("é", 300)), strings.Repeat("ü", 5000))
		alerts = append(alerts, al)
	}
	for i := range 100 {
		lb[strings.Repeat("k", i+1)] = "v"
	}
	n := notification("big", "firing", lb, alerts...)
	n.CommonAnnotations = map[string]string{"summary": strings.Repeat("title ", 100)}
	r := e.send(n)
	inc, st := e.get(r.Incident)
	if len([]rune(inc.Title)) > incident.MaxTitle {
		t.Errorf("title of %d runes", len([]rune(inc.Title)))
	}
	if len(st.Alerts[0].Summary) > 4000 || !strings.Contains(st.Alerts[0].Summary, "more") {
		t.Errorf("summary of %d bytes", len(st.Alerts[0].Summary))
	}
	if len(st.Alerts[0].Labels) > 40 {
		t.Errorf("%d labels", len(st.Alerts[0].Labels))
	}
}
