// Package amtest builds Alertmanager webhook notifications and posts them
// to a handler, for the adapter's own tests and the end-to-end tests.
package amtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/incident/alertmanager"
)

// Notification builds a v4 notification of one group.
func Notification(groupKey, status string, common map[string]string, alerts ...alertmanager.Alert) alertmanager.Notification {
	return alertmanager.Notification{
		Version: "4", GroupKey: groupKey, Status: status, Receiver: "incidentbot",
		GroupLabels: common, CommonLabels: common,
		CommonAnnotations: map[string]string{},
		ExternalURL:       "http://alertmanager.example:9093",
		Alerts:            alerts,
	}
}

// Firing is a firing alert with a summary annotation.
func Firing(fp string, startsAt time.Time, labels map[string]string, summary string) alertmanager.Alert {
	return alertmanager.Alert{Status: alertmanager.StatusFiring, Labels: labels, Fingerprint: fp, StartsAt: startsAt,
		Annotations: map[string]string{"summary": summary}}
}

// Resolved is a, resolved at endsAt.
func Resolved(a alertmanager.Alert, endsAt time.Time) alertmanager.Alert {
	a.Status, a.EndsAt = alertmanager.StatusResolved, endsAt
	return a
}

// Labels makes a label set of key, value pairs.
func Labels(kv ...string) map[string]string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

// GroupKey is the group key Alertmanager gives a group by alertname and
// service.
func GroupKey(service, alertname string) string {
	return fmt.Sprintf(`{}:{alertname="%s", service="%s"}`, alertname, service)
}

// MustJSON encodes v or fails the test.
func MustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Post sends a body to the handler directly, with auth as its
// Authorization header when not empty.
func Post(h http.Handler, body []byte, auth string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, alertmanager.Path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}
