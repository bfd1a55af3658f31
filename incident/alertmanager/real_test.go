package alertmanager_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/incident"
	"github.com/incidentbot/incidentbot/incident/alertmanager"
	"github.com/incidentbot/incidentbot/incident/incidenttest"
)

// realAlertmanager runs the Alertmanager binary (Debian's
// prometheus-alertmanager, installed by .ci/run) on loopback.
type realAlertmanager struct {
	t   *testing.T
	url string
	out *lockedBuffer
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func alertmanagerBinary(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"prometheus-alertmanager", "alertmanager"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("prometheus-alertmanager is not installed; .ci/run installs it (apt-get install prometheus-alertmanager)")
	}
	t.Skip("prometheus-alertmanager is not installed (apt-get install prometheus-alertmanager)")
	return ""
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startAlertmanager starts Alertmanager with a config whose receivers post
// to webhookURL: "incidentbot" with the right bearer token, and
// "wrong-token" (alerts labelled route="wrong-token") with a wrong one.
func startAlertmanager(t *testing.T, webhookURL string) *realAlertmanager {
	t.Helper()
	bin := alertmanagerBinary(t)
	dir := t.TempDir()
	cfg := fmt.Sprintf(`route:
  receiver: incidentbot
  group_by: [alertname, service]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
  routes:
    - receiver: wrong-token
      matchers: ['route="wrong-token"']
receivers:
  - name: incidentbot
    webhook_configs:
      - url: %[1]q
        send_resolved: true
        http_config:
          authorization:
            type: Bearer
            credentials: %[2]q
  - name: wrong-token
    webhook_configs:
      - url: %[1]q
        send_resolved: true
        http_config:
          authorization:
            type: Bearer
            credentials: not-the-token
`, webhookURL, token)
	cfgPath := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		port := freePort(t)
		am := &realAlertmanager{t: t, url: fmt.Sprintf("http://127.0.0.1:%d", port), out: &lockedBuffer{}}
		ctx, cancel := context.WithCancel(context.Background())
		cmd := exec.CommandContext(ctx, bin,
			"--config.file="+cfgPath,
			"--storage.path="+filepath.Join(dir, fmt.Sprint("data", attempt)),
			fmt.Sprintf("--web.listen-address=127.0.0.1:%d", port),
			"--cluster.listen-address=",
			"--log.level=info",
		)
		cmd.Stdout, cmd.Stderr = am.out, am.out
		if err := cmd.Start(); err != nil {
			cancel()
			t.Fatalf("starting %s: %v", bin, err)
		}
		exited := make(chan struct{})
		go func() { _ = cmd.Wait(); close(exited) }()
		stop := func() {
			cancel()
			select {
			case <-exited:
			case <-time.After(10 * time.Second):
				t.Errorf("alertmanager did not stop")
			}
		}
		if lastErr = am.waitReady(exited); lastErr == nil {
			t.Cleanup(func() {
				stop()
				if t.Failed() {
					t.Logf("alertmanager output:\n%s", am.out.String())
				}
			})
			return am
		}
		stop()
		t.Logf("alertmanager attempt %d: %v\n%s", attempt+1, lastErr, am.out.String())
	}
	t.Fatalf("alertmanager did not start: %v", lastErr)
	return nil
}

func (am *realAlertmanager) waitReady(exited <-chan struct{}) error {
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return fmt.Errorf("alertmanager exited")
		default:
		}
		resp, err := http.Get(am.url + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond) // polling with a deadline
	}
	return fmt.Errorf("not ready within 20s")
}

type postableAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	StartsAt     time.Time         `json:"startsAt,omitzero"`
	EndsAt       time.Time         `json:"endsAt,omitzero"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

// push posts alerts through Alertmanager's v2 API, as Prometheus does.
func (am *realAlertmanager) push(alerts ...postableAlert) {
	am.t.Helper()
	b, _ := json.Marshal(alerts)
	resp, err := http.Post(am.url+"/api/v2/alerts", "application/json", bytes.NewReader(b))
	if err != nil {
		am.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var body bytes.Buffer
		_, _ = body.ReadFrom(resp.Body)
		am.t.Fatalf("POST /api/v2/alerts: %d %s", resp.StatusCode, body.String())
	}
}

// recorder counts the answers the handler gave Alertmanager.
type recorder struct {
	h     http.Handler
	mu    sync.Mutex
	codes map[int]int
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	rec := httptest.NewRecorder()
	r.h.ServeHTTP(rec, req)
	r.mu.Lock()
	r.codes[rec.Code]++
	r.mu.Unlock()
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}

func (r *recorder) count(code int) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.codes[code]
}

func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	incidenttest.EventuallyWithin(t, timeout, what, cond)
}

func TestRealAlertmanager(t *testing.T) {
	t.Parallel()
	e := newEnv(t, alertmanager.Options{BearerToken: token, AutoResolve: true})
	rec := &recorder{h: e.h, codes: map[int]int{}}
	mux := http.NewServeMux()
	mux.Handle("POST "+alertmanager.Path, rec)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	am := startAlertmanager(t, srv.URL+alertmanager.Path)

	started := time.Now().Add(-2 * time.Minute).UTC().Truncate(time.Second)
	latencyA := postableAlert{Labels: labels("alertname", "HighLatency", "service", "bedroom", "instance", "web-a:9100"),
		Annotations: map[string]string{"summary": "p99 latency above 2s", "description": "Checkout of beds is slow"}, StartsAt: started}
	latencyB := postableAlert{Labels: labels("alertname", "HighLatency", "service", "bedroom", "instance", "web-b:9100"),
		Annotations: map[string]string{"summary": "p99 latency above 2s"}, StartsAt: started.Add(30 * time.Second)}
	errorsA := postableAlert{Labels: labels("alertname", "HighErrorRate", "service", "bedroom", "instance", "web-a:9100"),
		Annotations: map[string]string{"summary": "5xx above 5%"}, StartsAt: started.Add(time.Minute)}
	appts := postableAlert{Labels: labels("alertname", "HighErrorRate", "service", "appointments"),
		Annotations: map[string]string{"summary": "bookings failing"}, StartsAt: started}

	// Two alerts of one group open one incident.
	am.push(latencyA, latencyB)
	waitFor(t, "the first incident", 20*time.Second, func() bool { return len(e.incidents()) == 1 })
	inc, st := e.get(1)
	if inc.Service.Name != "bedroom" || inc.Unmapped || inc.Title != "p99 latency above 2s" {
		t.Errorf("incident %q for %q (unmapped %v)", inc.Title, inc.Service.Name, inc.Unmapped)
	}
	if !inc.StartedAt.Equal(started) {
		t.Errorf("started %v, want the earliest startsAt %v", inc.StartedAt, started)
	}
	if len(st.Alerts) != 1 || !strings.HasPrefix(st.Alerts[0].Key, "am:") || !strings.Contains(st.Alerts[0].Key, `alertname="HighLatency"`) {
		t.Fatalf("alerts %+v", st.Alerts)
	}
	// Alertmanager may send the group's first notification before both
	// alerts are in it; the next one carries both. Either way both alerts
	// reach this incident's timeline.
	waitFor(t, "both alerts on the timeline", 20*time.Second, func() bool {
		inc, _ := e.get(1)
		var texts strings.Builder
		for _, ev := range inc.Events {
			if ev.Kind == incident.EventAlertFired {
				texts.WriteString(ev.Text)
			}
		}
		return strings.Contains(texts.String(), "web-a:9100") && strings.Contains(texts.String(), "web-b:9100")
	})

	// Another group for the same service joins it; another service opens
	// its own incident.
	am.push(errorsA, appts)
	waitFor(t, "the second group to attach", 20*time.Second, func() bool {
		_, st := e.get(1)
		return len(st.Alerts) == 2 && len(e.incidents()) == 2
	})
	all := e.incidents()
	if all[0].Service.Name != "appointments" {
		t.Errorf("second incident is for %q", all[0].Service.Name)
	}

	// A receiver with the wrong token is refused and stores nothing.
	am.push(postableAlert{Labels: labels("alertname", "Down", "service", "ecommerce-platform", "route", "wrong-token"), StartsAt: started})
	waitFor(t, "the wrong-token notification", 20*time.Second, func() bool { return rec.count(http.StatusUnauthorized) > 0 })
	for _, inc := range e.incidents() {
		if inc.Service.Name == "ecommerce-platform" {
			t.Fatalf("a notification with the wrong token opened incident %d", inc.Number)
		}
	}

	// Resolving every bedroom alert resolves the incident.
	ended := time.Now().Add(-time.Second).UTC()
	for _, a := range []*postableAlert{&latencyA, &latencyB, &errorsA} {
		a.EndsAt = ended
	}
	am.push(latencyA, latencyB, errorsA)
	waitFor(t, "the incident to auto-resolve", 20*time.Second, func() bool {
		_, st := e.get(1)
		return st.Status == incident.StatusResolved
	})
	inc, st = e.get(1)
	if n := countKind(inc, incident.EventAlertResolved); n != 2 {
		t.Errorf("%d alert_resolved events, want one per group", n)
	}
	for _, a := range st.Alerts {
		if a.Firing {
			t.Errorf("alert %s still firing", a.Key)
		}
	}
	for _, ev := range inc.Events {
		if ev.Kind == incident.EventResolved && ev.Actor != incident.ActorAlertmanager {
			t.Errorf("resolved by %q", ev.Actor)
		}
	}
	if _, st := e.get(2); st.Status != incident.StatusOpen {
		t.Errorf("the appointments incident was resolved too")
	}
	if n := rec.count(http.StatusInternalServerError); n != 0 {
		t.Errorf("%d notifications failed", n)
	}
}
