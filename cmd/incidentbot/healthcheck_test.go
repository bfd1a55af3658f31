package main

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

// listenOf is the host:port of a test server.
func listenOf(srv *httptest.Server) string { return strings.TrimPrefix(srv.URL, "http://") }

func TestHealthcheckFollowsReadyz(t *testing.T) {
	var status int
	var path string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path = r.URL.Path
		w.WriteHeader(status)
		_, _ = w.Write([]byte(`{"ready": false, "reason": "slack is not connected"}`))
	}))
	defer srv.Close()
	env := map[string]string{"INCIDENTBOT_HTTP_LISTEN": listenOf(srv)}

	status = http.StatusOK
	if code, out, errOut := runCLI(t, env, "healthcheck"); code != 0 || path != "/readyz" || !strings.Contains(out, "ready") {
		t.Errorf("ready: exit %d, GET %s, %q %q", code, path, out, errOut)
	}
	status = http.StatusServiceUnavailable
	if code, _, errOut := runCLI(t, env, "healthcheck"); code != 1 || !strings.Contains(errOut, "503") || !strings.Contains(errOut, "slack is not connected") {
		t.Errorf("not ready: exit %d, %q", code, errOut)
	}
}

// TestHealthcheckHasADeadline: a bot that does not answer fails the check
// after --timeout instead of hanging the container runtime's check.
func TestHealthcheckHasADeadline(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)
	done := make(chan [2]any, 1)
	go func() {
		code, _, errOut := runCLI(t, map[string]string{"INCIDENTBOT_HTTP_LISTEN": listenOf(srv)}, "healthcheck", "--timeout", "100ms")
		done <- [2]any{code, errOut}
	}()
	select {
	case r := <-done:
		if r[0] != 1 || !strings.Contains(r[1].(string), "deadline") {
			t.Errorf("silent bot: exit %v, %q", r[0], r[1])
		}
	case <-time.After(20 * time.Second):
		t.Fatal("healthcheck waited past its --timeout")
	}
}

// TestHealthcheckAgainstServe checks a running serve (the sandbox, as in
// the Docker image with --sandbox): ready while it runs, not once stopped.
func TestHealthcheckAgainstServe(t *testing.T) {
	t.Chdir(t.TempDir())
	s := startServe(t, map[string]string{"INCIDENTBOT_HTTP_LISTEN": "127.0.0.1:0"}, "serve", "--sandbox")
	s.waitReady()
	s.stop()
	if code, _, errOut := runCLI(t, map[string]string{"INCIDENTBOT_HTTP_LISTEN": s.addr}, "healthcheck"); code != 1 || !strings.Contains(errOut, "not ready") {
		t.Errorf("after serve stopped: exit %d, %q", code, errOut)
	}
}

// TestDockerfileHealthcheck: the image checks its health with the binary's
// own command (distroless has no shell), in exec form.
func TestDockerfileHealthcheck(t *testing.T) {
	raw, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.ReplaceAll(string(raw), "\\\n", " ")
	m := regexp.MustCompile(`(?m)^HEALTHCHECK .*CMD (\[.*\])`).FindStringSubmatch(text)
	if m == nil || !strings.HasPrefix(m[1], `["incidentbot", "healthcheck"`) {
		t.Fatalf("no exec-form HEALTHCHECK running `incidentbot healthcheck`: %q", m)
	}
	if code, _, errOut := runCLI(t, nil, "healthcheck", "--help"); code != 0 {
		t.Errorf("healthcheck --help: %d %s", code, errOut)
	}
}

// TestLogsWriteDurationsForPeople: serve's logger writes durations as "2s",
// not as nanoseconds, in groups too.
func TestLogsWriteDurationsForPeople(t *testing.T) {
	var b bytes.Buffer
	newLogger(&b, slog.LevelInfo).Info("job failed; will retry", "retry_in", 2*time.Second,
		slog.Group("backup", "took", 1500*time.Millisecond), "attempts", 3)
	out := b.String()
	for _, want := range []string{`"retry_in":"2s"`, `"took":"1.5s"`, `"attempts":3`} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %s: %s", want, out)
		}
	}
}

// TestWebhookErrorsAreJSON: the PagerDuty webhook without a secret is off
// and says so as a JSON 404, and a webhook asked with GET answers a JSON
// 405, like every other error of the HTTP endpoints.
func TestWebhookErrorsAreJSON(t *testing.T) {
	t.Chdir(t.TempDir())
	s := startServe(t, map[string]string{"INCIDENTBOT_HTTP_LISTEN": "127.0.0.1:0"}, "serve", "--sandbox")
	for _, tc := range []struct {
		method, path string
		status       int
		says         string
	}{
		{"POST", "/webhooks/pagerduty", 404, "pagerduty.webhook_secret"},
		{"GET", "/webhooks/pagerduty", 404, "pagerduty.webhook_secret"},
		{"GET", "/webhooks/alertmanager", 405, "POST only"},
	} {
		code, body := s.do(tc.method, tc.path, "", nil)
		var e struct{ Error string }
		if code != tc.status || json.Unmarshal([]byte(body), &e) != nil || !strings.Contains(e.Error, tc.says) {
			t.Errorf("%s %s: %d %s", tc.method, tc.path, code, body)
		}
	}
}
