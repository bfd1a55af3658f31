package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/internal/sandbox"
)

// served is a running `incidentbot serve` started by a test.
type served struct {
	t              *testing.T
	addr           string
	stdout, stderr *lockedWriter
	cancel         context.CancelFunc
	done           chan int
	once           sync.Once
	code           int
}

// startServe runs `incidentbot <args>` with the environment and waits for
// its listener.
func startServe(t *testing.T, env map[string]string, args ...string) *served {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan net.Addr, 1)
	s := &served{t: t, stdout: &lockedWriter{w: &bytes.Buffer{}}, stderr: &lockedWriter{w: &bytes.Buffer{}}, cancel: cancel, done: make(chan int, 1)}
	a := &app{env: envMap(env), ctx: ctx, now: time.Now, stdout: s.stdout, stderr: s.stderr, onListen: func(addr net.Addr) { addrc <- addr }}
	go func() { s.done <- a.run(args) }()
	select {
	case ad := <-addrc:
		s.addr = ad.String()
	case code := <-s.done:
		cancel()
		t.Fatalf("%v exited %d:\n%s", args, code, s.stderr.String())
	case <-time.After(15 * time.Second):
		cancel()
		t.Fatal("no listener")
	}
	t.Cleanup(func() { s.stop() })
	return s
}

// stop ends serve and returns its exit code.
func (s *served) stop() int {
	s.once.Do(func() {
		s.cancel()
		select {
		case s.code = <-s.done:
		case <-time.After(30 * time.Second):
			s.t.Error("serve did not stop")
			s.code = -1
		}
	})
	return s.code
}

// do sends a request to serve and returns the status and body.
func (s *served) do(method, path, token string, form url.Values) (int, string) {
	s.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, "http://"+s.addr+path, body)
	if err != nil {
		s.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Accept", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(raw)
}

// waitReady polls `incidentbot healthcheck` until it says ready.
func (s *served) waitReady() {
	s.t.Helper()
	env := map[string]string{"INCIDENTBOT_HTTP_LISTEN": s.addr}
	deadline := time.Now().Add(20 * time.Second)
	for {
		code, _, errOut := runCLI(s.t, env, "healthcheck", "--timeout", "2s")
		if code == 0 {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("healthcheck never passed: %s\n%s", errOut, s.stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitLog waits until serve has logged substr.
func (s *served) waitLog(substr string) {
	s.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(s.stderr.String(), substr) {
		if time.Now().After(deadline) {
			s.t.Fatalf("serve never logged %s:\n%s", substr, s.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var tokenLine = regexp.MustCompile(`API token for this run: ([0-9a-f]{32})`)

// sandboxRunResult is what one sandbox run showed.
type sandboxRunResult struct {
	token    string
	before   int    // incidents listed by the API at the start
	incident int64  // what the sample alert did
	message  string // the sandbox's answer to the alert
}

// oneSandboxRun starts `serve --sandbox`, checks that the API answers with
// the printed token and not without, fires a sample alert and stops.
func oneSandboxRun(t *testing.T, env map[string]string) (sandboxRunResult, *served) {
	t.Helper()
	s := startServe(t, env, "serve", "--sandbox")
	s.waitReady()
	s.waitLog(`"msg":"connected to Slack"`)
	m := tokenLine.FindStringSubmatch(s.stdout.String())
	if m == nil {
		t.Fatalf("serve --sandbox printed no API token:\n%s", s.stdout.String())
	}
	res := sandboxRunResult{token: m[1]}
	if !strings.Contains(s.stdout.String(), "curl -H 'Authorization: Bearer "+res.token+"' http://"+s.addr+"/api/incidents") {
		t.Errorf("serve --sandbox does not say how to call the API:\n%s", s.stdout.String())
	}
	if code, body := s.do("GET", "/api/incidents", "", nil); code != http.StatusUnauthorized {
		t.Errorf("API without the token: %d %s", code, body)
	}
	code, body := s.do("GET", "/api/incidents", res.token, nil)
	var list struct{ Count int }
	if code != http.StatusOK || json.Unmarshal([]byte(body), &list) != nil {
		t.Fatalf("API with the printed token: %d %s", code, body)
	}
	res.before = list.Count
	code, body = s.do("POST", "/sandbox/alert", "", url.Values{"user": {sandbox.ResponderID}, "service": {"bedroom"}})
	var r struct {
		Incident int64
		Message  string
	}
	if code != http.StatusOK || json.Unmarshal([]byte(body), &r) != nil {
		t.Fatalf("sample alert: %d %s", code, body)
	}
	res.incident, res.message = r.Incident, r.Message
	if strings.Contains(s.stderr.String(), res.token) {
		t.Errorf("the API token was logged")
	}
	if code := s.stop(); code != 0 {
		t.Errorf("serve --sandbox exited %d:\n%s", code, s.stderr.String())
	}
	return res, s
}

// TestSandboxStartsCleanAndKeepsOffTheDatabase runs `serve --sandbox`
// twice in a row in the same directory, with the Docker image's
// INCIDENTBOT_STORAGE_PATH set. Each run prints its own API token, which
// the API accepts; each starts clean (the second does not find the first
// one's incident, whose channel died with the first workspace) and says so;
// neither touches storage.path, and nothing is left behind.
func TestSandboxStartsCleanAndKeepsOffTheDatabase(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	tmp := filepath.Join(dir, "tmp")
	if err := os.Mkdir(tmp, 0o700); err != nil {
		t.Fatal(err)
	}
	real := filepath.Join(dir, "data", "incidentbot.db")
	env := map[string]string{"INCIDENTBOT_HTTP_LISTEN": "127.0.0.1:0", "INCIDENTBOT_STORAGE_PATH": real, "TMPDIR": tmp}

	first, s1 := oneSandboxRun(t, env)
	second, s2 := oneSandboxRun(t, env)
	for i, r := range []sandboxRunResult{first, second} {
		if r.before != 0 || r.incident != 1 || !strings.Contains(r.message, "incident #1 opened") {
			t.Errorf("run %d: %d incidents at the start; the alert: #%d %q", i+1, r.before, r.incident, r.message)
		}
	}
	if first.token == second.token {
		t.Errorf("both runs printed the same API token")
	}
	for i, s := range []*served{s1, s2} {
		if !strings.Contains(s.stdout.String(), "It starts clean each time") {
			t.Errorf("run %d does not say it starts clean:\n%s", i+1, s.stdout.String())
		}
		logs := s.stderr.String()
		if !strings.Contains(logs, "sandbox: starting clean") || !strings.Contains(logs, "storage.path is not used") {
			t.Errorf("run %d does not log that it starts clean without storage.path:\n%s", i+1, logs)
		}
		// One line says the bot is connected, to which workspace, as whom.
		if n := strings.Count(logs, `"msg":"connected to Slack"`); n != 1 ||
			!regexp.MustCompile(`"msg":"connected to Slack","team":"incidentbot sandbox","team_id":"T\w+","bot_user":"\w+","bot_user_id":"`+sandbox.BotUserID+`"`).MatchString(logs) {
			t.Errorf("run %d: %d connection lines:\n%s", i+1, n, logs)
		}
	}
	for _, f := range []string{real, filepath.Join(dir, "data"), filepath.Join(dir, "incidentbot.db"), filepath.Join(dir, "incidentbot-sandbox.db")} {
		if _, err := os.Stat(f); err == nil {
			t.Errorf("the sandbox wrote %s", f)
		}
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("the sandbox left %v behind in its temporary directory", left)
	}
}
