package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/internal/fakeslack"
)

// TestServeRunsTheBotAgainstSlack starts `incidentbot serve` configured from
// the environment alone against a fake Slack, declares an incident with a
// slash command and sees its channel open; then a revoked token stops serve
// with a clear error instead of looping.
func TestServeRunsTheBotAgainstSlack(t *testing.T) {
	fs := fakeslack.New(fakeslack.Options{
		Channels: []fakeslack.ChannelSeed{{Name: "incidents", Members: []string{"U0FAKEBOT1", "UALICE001"}}},
		Users:    []fakeslack.User{{ID: "UALICE001", Name: "alice"}},
	})
	if err := fs.Start(); err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	dir := t.TempDir()
	addrc := make(chan net.Addr, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a := &app{
		env: envMap(map[string]string{
			"INCIDENTBOT_HTTP_LISTEN":                         "127.0.0.1:0",
			"INCIDENTBOT_STORAGE_PATH":                        filepath.Join(dir, "incidentbot.db"),
			"INCIDENTBOT_SLACK_BOT_TOKEN":                     fs.BotToken(),
			"INCIDENTBOT_SLACK_APP_TOKEN":                     fs.AppToken(),
			"INCIDENTBOT_SLACK_API_URL":                       fs.APIURL(),
			"INCIDENTBOT_SLACK_ANNOUNCE_CHANNEL":              "incidents",
			"INCIDENTBOT_HTTP_API_TOKEN":                      "api-secret",
			"INCIDENTBOT_ORGANISATION_LOSS_THRESHOLDS_HIGH":   "100000",
			"INCIDENTBOT_ORGANISATION_LOSS_THRESHOLDS_MEDIUM": "10000",
			"INCIDENTBOT_ORGANISATION_EXPOSURE_BANDS":         `[{"max_hourly_exposure":7000,"availability":95.0},{"max_hourly_exposure":250000,"availability":99.0}]`,
			"INCIDENTBOT_TEAMS":                               `[{"name":"bedroom-team","members":["UALICE001"],"oncall":{"rotation":["UALICE001"],"handoff":"mon 09:00"}}]`,
			"INCIDENTBOT_SERVICES":                            `[{"name":"bedroom","team":"bedroom-team","hourly_exposure":200000}]`,
		}),
		ctx:      ctx,
		onListen: func(addr net.Addr) { addrc <- addr },
	}
	var stdout bytes.Buffer
	stderr := &lockedWriter{w: &bytes.Buffer{}}
	a.stdout, a.stderr, a.now = &stdout, stderr, time.Now
	done := make(chan int, 1)
	go func() { done <- a.run([]string{"serve"}) }()

	wctx, wcancel := context.WithTimeout(ctx, 15*time.Second)
	defer wcancel()
	if err := fs.WaitConnected(wctx); err != nil {
		t.Fatalf("the bot did not connect over Socket Mode: %v\n%s", err, stderr.String())
	}
	announce, _ := fs.Channel("incidents")
	ack, err := fs.SlashCommand(wctx, "UALICE001", announce.ID, "declare bedroom Beds cannot be ordered")
	if err != nil || ack.Late {
		t.Fatalf("slash command: %v late=%v", err, ack != nil && ack.Late)
	}
	err = fs.WaitFor(wctx, func() bool {
		ch, ok := fs.Channel("inc-1-beds-cannot-be-ordered")
		return ok && len(ch.Pins) == 1
	})
	if err != nil {
		t.Fatalf("no incident channel with a pinned card: %v\n%s", err, stderr.String())
	}

	addr := (<-addrc).String()
	get := func(path, token string) (int, string) {
		req, _ := http.NewRequest("GET", "http://"+addr+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if code, body := get("/readyz", ""); code != 200 {
		t.Errorf("readyz while connected: %d %s", code, body)
	}
	if code, _ := get("/api/incidents/1", ""); code != 401 {
		t.Errorf("API without a token: %d", code)
	}
	if code, body := get("/api/incidents/1", "api-secret"); code != 200 || !strings.Contains(body, "Beds cannot be ordered") {
		t.Errorf("API: %d %s", code, body)
	}

	if code, body := get("/reviews/", ""); code != 200 || !strings.Contains(body, "<html") {
		t.Errorf("review site: %d %.200s", code, body)
	}
	if code, _ := get("/api/stats", ""); code != 401 {
		t.Errorf("stats without a token: %d", code)
	}
	if code, body := get("/api/stats?period=30d", "api-secret"); code != 200 || !strings.Contains(body, "{") {
		t.Errorf("stats: %d %s", code, body)
	}

	// An Alertmanager notification for a service outside the catalogue opens a second, unmapped incident with its channel.
	payload := `{"version":"4","groupKey":"{}:{alertname=\"BedsDown\"}","status":"firing","receiver":"incidentbot",
		"groupLabels":{"alertname":"BedsDown"},"commonLabels":{"alertname":"BedsDown","service":"search"},
		"commonAnnotations":{"summary":"Bed orders failing"},"externalURL":"http://am","alerts":[{"status":"firing",
		"labels":{"alertname":"BedsDown","service":"search"},"annotations":{"summary":"Bed orders failing"},
		"startsAt":"2026-11-17T11:58:00Z","endsAt":"0001-01-01T00:00:00Z","fingerprint":"abc"}]}`
	resp, err := http.Post("http://"+addr+"/webhooks/alertmanager", "application/json", strings.NewReader(payload))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("alertmanager webhook: %d", resp.StatusCode)
	}
	if err := fs.WaitFor(wctx, func() bool { ch, ok := fs.Channel("inc-2-bed-orders-failing"); return ok && len(ch.Pins) == 1 }); err != nil {
		t.Fatalf("no channel for the alert: %v", err)
	}

	fs.RevokeToken()
	fs.DropConnection()
	select {
	case code := <-done:
		if code == 0 {
			t.Errorf("serve exited 0 after the token was revoked")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve kept running with a revoked token")
	}
	logs := stderr.String()
	if !strings.Contains(logs, "token_revoked") && !strings.Contains(logs, "invalid_auth") {
		t.Errorf("logs do not say why serve stopped:\n%s", logs)
	}
	if strings.Contains(logs, fs.BotToken()) || strings.Contains(logs, fs.AppToken()) {
		t.Errorf("a token was logged")
	}
}

// TestSandboxWithNoConfig is the README's first command on a fresh machine:
// no config file, no tokens. It serves /sandbox, keeps its data out of
// incidentbot.db, and prints where to look.
func TestSandboxWithNoConfig(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addrc := make(chan net.Addr, 1)
	a := &app{
		env:      envMap(map[string]string{"INCIDENTBOT_HTTP_LISTEN": "127.0.0.1:0"}),
		ctx:      ctx,
		onListen: func(addr net.Addr) { addrc <- addr },
	}
	stdout := &lockedWriter{w: &bytes.Buffer{}}
	stderr := &lockedWriter{w: &bytes.Buffer{}}
	a.stdout, a.stderr, a.now = stdout, stderr, time.Now
	done := make(chan int, 1)
	go func() { done <- a.run([]string{"serve", "--sandbox"}) }()
	var addr string
	select {
	case ad := <-addrc:
		addr = ad.String()
	case code := <-done:
		t.Fatalf("serve --sandbox exited %d:\n%s", code, stderr.String())
	case <-time.After(15 * time.Second):
		t.Fatal("no listener")
	}
	deadline := time.Now().Add(15 * time.Second)
	var body string
	for {
		resp, err := http.Get("http://" + addr + "/sandbox")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			body = string(b)
			if resp.StatusCode == 200 && strings.Contains(body, "bedroom") {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET /sandbox never showed the catalogue: %v %s\n%s", err, body, stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := os.Stat(filepath.Join(dir, "incidentbot.db")); err == nil {
		t.Errorf("the sandbox wrote the real database file")
	}
	if !strings.Contains(stdout.String(), "/sandbox") {
		t.Errorf("serve --sandbox did not print the URL: %q", stdout.String())
	}
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("exit %d:\n%s", code, stderr.String())
	}
}

// The sandbox keeps to its own database even when the configuration points
// at PostgreSQL (here one that cannot be reached): it never touches the
// real database.
func TestSandboxIgnoresPostgres(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addrc := make(chan net.Addr, 1)
	a := &app{
		env: envMap(map[string]string{"INCIDENTBOT_HTTP_LISTEN": "127.0.0.1:0", "INCIDENTBOT_STORAGE_DRIVER": "postgres",
			"INCIDENTBOT_STORAGE_POSTGRES_URL": "postgres://bot:pw@/incidentbot?host=" + filepath.Join(dir, "nowhere") + "&connect_timeout=1"}),
		ctx:      ctx,
		onListen: func(addr net.Addr) { addrc <- addr },
	}
	stderr := &lockedWriter{w: &bytes.Buffer{}}
	a.stdout, a.stderr, a.now = io.Discard, stderr, time.Now
	done := make(chan int, 1)
	go func() { done <- a.run([]string{"serve", "--sandbox"}) }()
	select {
	case <-addrc:
	case code := <-done:
		t.Fatalf("serve --sandbox exited %d:\n%s", code, stderr.String())
	case <-time.After(15 * time.Second):
		t.Fatal("no listener")
	}
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("exit %d:\n%s", code, stderr.String())
	}
}

// The sandbox has no authentication: it refuses a listener other machines
// can reach unless --sandbox-public asks for one, and then serves only its
// own host names, refuses foreign and "null" origins on state-changing
// requests, and its workspace's tokens are made for the run.
func TestSandboxOnANetwork(t *testing.T) {
	t.Chdir(t.TempDir())
	var stderr bytes.Buffer
	refused, stopRefused := context.WithCancel(context.Background())
	defer stopRefused()
	a := &app{env: envMap(map[string]string{"INCIDENTBOT_HTTP_LISTEN": "0.0.0.0:0"}), ctx: refused, stdout: io.Discard, stderr: &stderr, now: time.Now,
		onListen: func(net.Addr) { t.Error("serve --sandbox listened on 0.0.0.0 without --sandbox-public"); stopRefused() }}
	if code := a.run([]string{"serve", "--sandbox"}); code != 1 || !strings.Contains(stderr.String(), "--sandbox-public") || !strings.Contains(stderr.String(), "127.0.0.1") {
		t.Fatalf("serve --sandbox on 0.0.0.0: exit %d\n%s", code, stderr.String())
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addrc := make(chan net.Addr, 1)
	logs := &lockedWriter{w: &bytes.Buffer{}}
	a = &app{env: envMap(map[string]string{"INCIDENTBOT_HTTP_LISTEN": "0.0.0.0:0", "INCIDENTBOT_HTTP_PUBLIC_URL": "http://sandbox.test:8080"}),
		ctx: ctx, stdout: io.Discard, stderr: logs, now: time.Now, onListen: func(ad net.Addr) { addrc <- ad }}
	done := make(chan int, 1)
	go func() { done <- a.run([]string{"serve", "--sandbox", "--sandbox-public"}) }()
	var port string
	select {
	case ad := <-addrc:
		_, port, _ = net.SplitHostPort(ad.String())
	case code := <-done:
		t.Fatalf("serve --sandbox --sandbox-public exited %d:\n%s", code, logs.String())
	case <-time.After(15 * time.Second):
		t.Fatal("no listener")
	}
	base := "http://127.0.0.1:" + port
	do := func(method, path, host, origin, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		if host != "" {
			req.Host = host
		}
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		if body != "" {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		req.Header.Set("Accept", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := do("GET", "/sandbox", "", "", ""); code != 200 {
		t.Errorf("GET /sandbox on 127.0.0.1: %d", code)
	}
	if code, _ := do("GET", "/sandbox", "sandbox.test:8080", "", ""); code != 200 {
		t.Errorf("GET /sandbox as http.public_url's host: %d", code)
	}
	for _, host := range []string{"evil.example:" + port, "rebound.example"} {
		if code, _ := do("GET", "/sandbox/state.json", host, "", ""); code != http.StatusForbidden {
			t.Errorf("GET with Host %s: %d, want 403", host, code)
		}
		if code, _ := do("GET", "/healthz", host, "", ""); code != http.StatusForbidden {
			t.Errorf("GET /healthz with Host %s: %d, want 403", host, code)
		}
	}
	send := "user=U0SANDRESP&channel=general&text=hi"
	for _, origin := range []string{"null", "https://evil.example"} {
		if code, _ := do("POST", "/sandbox/send", "", origin, send); code != http.StatusForbidden {
			t.Errorf("POST /sandbox/send with Origin %s: %d, want 403", origin, code)
		}
	}
	if code, body := do("POST", "/sandbox/slack/api/auth.test", "", "", "token=xoxb-fakeslack-bot-token"); code != 200 || !strings.Contains(body, "invalid_auth") {
		t.Errorf("the old fixed bot token: %d %s", code, body)
	}
	if !strings.Contains(logs.String(), "sandbox-public") {
		t.Errorf("no warning about the public sandbox:\n%s", logs.String())
	}
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("exit %d:\n%s", code, logs.String())
	}
}
