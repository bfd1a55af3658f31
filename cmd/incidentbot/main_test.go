package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/viper"

	"github.com/incidentbot/incidentbot/incident/boltstore"
)

// invoke runs the command line with an app whose clock and context the test
// controls, and returns the exit code and outputs.
func invoke(t *testing.T, a *app, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	a.stdout, a.stderr = &stdout, &stderr
	if a.now == nil {
		a.now = time.Now
	}
	if a.ctx == nil {
		a.ctx = context.Background()
	}
	code := a.run(args)
	return code, stdout.String(), stderr.String()
}

func runCLI(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(args, &stdout, &stderr, envMap(env))
	return code, stdout.String(), stderr.String()
}

// row returns the table line that starts with name.
func row(t *testing.T, out, name string) string {
	t.Helper()
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) > 0 && f[0] == name {
			return l
		}
	}
	t.Fatalf("no row %q in:\n%s", name, out)
	return ""
}

func fieldsOf(l string) []string { return strings.Fields(l) }

func TestInitThenCheck(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "conf")
	code, out, errOut := runCLI(t, nil, "init", "--dir", dir)
	if code != 0 {
		t.Fatalf("init: %d\n%s", code, errOut)
	}
	for _, f := range []string{"incidentbot.yaml", "slack-app-manifest.yaml"} {
		if !strings.Contains(out, filepath.Join(dir, f)) {
			t.Errorf("init output lacks %s:\n%s", f, out)
		}
	}
	if fi, err := os.Stat(filepath.Join(dir, "incidentbot.yaml")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("incidentbot.yaml mode: %v %v", fi.Mode(), err)
	}

	// Outside Black Friday.
	a := &app{env: noEnv, now: func() time.Time { return time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC) }}
	code, out, errOut = invoke(t, a, "check", "--config", filepath.Join(dir, "incidentbot.yaml"))
	if code != 0 {
		t.Fatalf("check: %d\n%s", code, errOut)
	}
	if errOut != "" {
		t.Errorf("check stderr: %s", errOut)
	}
	for _, want := range []struct {
		service string
		fields  []string
	}{
		{"ecommerce-platform", []string{"platform-team", "online", "$810,000", "99.9%", "0:10:05", "team/team"}},
		{"appointments", []string{"appointments-team", "online", "$6,000", "95.0%", "8:24:00", "team/none"}},
		{"bedroom", []string{"bedroom-team", "furniture", "$200,000", "99.0%", "1:40:48", "team/domain", "next:", "Black", "Friday"}},
	} {
		got := fieldsOf(row(t, out, want.service))
		for i, f := range want.fields {
			if i+1 >= len(got) || got[i+1] != f {
				t.Errorf("%s row %q: field %d = ?, want %q", want.service, got, i+1, f)
				break
			}
		}
	}
	// The bands table.
	for _, want := range [][]string{
		{"1", "$7,000", "95.0%", "8:24:00", "team/none"},
		{"2", "$250,000", "99.0%", "1:40:48", "team/domain"},
		{"3", "$800,000", "99.9%", "0:10:05", "team/team"},
	} {
		if got := fieldsOf(row(t, out, want[0])); strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("band row %q, want %q", got, want)
		}
	}
	if !strings.Contains(out, "Europe/London") || !strings.Contains(out, "$100,000") {
		t.Errorf("check output lacks the organisation:\n%s", out)
	}

	// During Black Friday the bedroom's peak is in force.
	a = &app{env: noEnv, now: func() time.Time { return time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC) }}
	_, out, _ = invoke(t, a, "check", "--config", filepath.Join(dir, "incidentbot.yaml"))
	if l := row(t, out, "bedroom"); !strings.Contains(l, "now: Black Friday $900,000 → 99.9% until 2026-11-30T23:59:59Z") {
		t.Errorf("bedroom during Black Friday: %s", l)
	}
	if l := row(t, out, "appointments"); !strings.HasSuffix(strings.TrimSpace(l), "-") {
		t.Errorf("appointments has no peak: %s", l)
	}
}

func TestInitRefusesToOverwrite(t *testing.T) {
	dir := t.TempDir()
	manifest := filepath.Join(dir, "slack-app-manifest.yaml")
	if err := os.WriteFile(manifest, []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := runCLI(t, nil, "init", "--dir", dir)
	if code != 1 || !strings.Contains(errOut, "already exists") || !strings.Contains(errOut, "--force") {
		t.Errorf("init over an existing file: %d %s", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, "incidentbot.yaml")); err == nil {
		t.Errorf("a refused init wrote incidentbot.yaml")
	}
	if code, _, errOut := runCLI(t, nil, "init", "--force", "--dir", dir); code != 0 {
		t.Fatalf("init --force: %d %s", code, errOut)
	}
	if b, _ := os.ReadFile(manifest); string(b) == "mine" {
		t.Errorf("--force did not overwrite")
	}
}

func TestSlackManifest(t *testing.T) {
	dir := t.TempDir()
	if code, _, errOut := runCLI(t, nil, "init", "--dir", dir); code != 0 {
		t.Fatal(errOut)
	}
	v := viper.New()
	v.SetConfigFile(filepath.Join(dir, "slack-app-manifest.yaml"))
	if err := v.ReadInConfig(); err != nil {
		t.Fatal(err)
	}
	scopes := strings.Join(v.GetStringSlice("oauth_config.scopes.bot"), " ")
	want := "bookmarks:write channels:history channels:join channels:manage channels:read chat:write commands " +
		"groups:history groups:read groups:write im:write pins:read pins:write reactions:read users:read users:read.email"
	if scopes != want {
		t.Errorf("bot scopes\n %s\nwant\n %s", scopes, want)
	}
	events := strings.Join(v.GetStringSlice("settings.event_subscriptions.bot_events"), " ")
	if events != "app_home_opened member_joined_channel message.channels message.groups pin_added reaction_added" {
		t.Errorf("bot events %s", events)
	}
	if !v.GetBool("settings.socket_mode_enabled") || !v.GetBool("settings.interactivity.is_enabled") || !v.GetBool("features.app_home.home_tab_enabled") {
		t.Errorf("socket mode, interactivity and the Home tab must be on")
	}
	cmds, _ := v.Get("features.slash_commands").([]any)
	if len(cmds) != 1 {
		t.Fatalf("slash commands %v", cmds)
	}
	if m, _ := cmds[0].(map[string]any); m["command"] != "/incident" || m["should_escape"] != true {
		t.Errorf("slash command %v", cmds[0])
	}
}

func TestBadConfigExitsNonZero(t *testing.T) {
	for name, c := range map[string]struct {
		text string
		env  map[string]string
		want string
	}{
		"invalid value": {
			text: "organisation:\n  exposure_bands: [{max_hourly_exposure: 7000, availability: 100.5}]\n",
			want: "config: organisation.exposure_bands[0].availability: 100.5 is outside (0, 100)",
		},
		"not yaml": {text: "slack: [\n", want: "config: "},
		"bad env": {
			text: "",
			env:  map[string]string{"INCIDENTBOT_TEAMS": "not json"},
			want: "config: teams (INCIDENTBOT_TEAMS): must be a JSON array",
		},
	} {
		t.Run(name, func(t *testing.T) {
			path := writeConfig(t, c.text)
			for _, cmd := range []string{"check", "serve"} {
				code, out, errOut := runCLI(t, c.env, cmd, "--config", path)
				if code != 1 || !strings.Contains(errOut, c.want) || out != "" {
					t.Errorf("%s: code %d, stdout %q, stderr %q; want 1 and %q", cmd, code, out, errOut, c.want)
				}
			}
		})
	}
	code, _, errOut := runCLI(t, nil, "check", "--config", filepath.Join(t.TempDir(), "missing.yaml"))
	if code != 1 || !strings.Contains(errOut, "missing.yaml: file not found") {
		t.Errorf("missing file: %d %s", code, errOut)
	}
	// No file, no environment: the error and a hint.
	t.Chdir(t.TempDir())
	code, _, errOut = runCLI(t, nil, "check")
	if code != 1 || !strings.Contains(errOut, "organisation.exposure_bands") || !strings.Contains(errOut, "incidentbot init") {
		t.Errorf("nothing configured: %d %s", code, errOut)
	}
}

func TestDefaultConfigFileInWorkingDirectory(t *testing.T) {
	dir := t.TempDir()
	if code, _, errOut := runCLI(t, nil, "init", "--dir", dir); code != 0 {
		t.Fatal(errOut)
	}
	t.Chdir(dir)
	code, out, errOut := runCLI(t, nil, "check")
	if code != 0 || !strings.Contains(out, "incidentbot.yaml and environment") {
		t.Errorf("check in the config's directory: %d %s %s", code, out, errOut)
	}
}

func TestServeWithoutTokensMentionsSandbox(t *testing.T) {
	code, out, errOut := runCLI(t, nil, "serve", "--config", writeStarter(t))
	if code != 1 || out != "" {
		t.Errorf("code %d stdout %q", code, out)
	}
	if !strings.Contains(errOut, "config: slack.bot_token: is required to serve") || !strings.Contains(errOut, "--sandbox") {
		t.Errorf("stderr: %s", errOut)
	}
	code, _, errOut = runCLI(t, map[string]string{"INCIDENTBOT_SLACK_BOT_TOKEN": "xoxb-1"}, "serve", "--config", writeStarter(t))
	if code != 1 || !strings.Contains(errOut, "slack.app_token") || !strings.Contains(errOut, "--sandbox") {
		t.Errorf("no app token: %d %s", code, errOut)
	}
}

func TestServeSandboxHealthzAndGracefulShutdown(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addrc := make(chan net.Addr, 1)
	a := &app{
		env: envMap(map[string]string{
			"INCIDENTBOT_HTTP_LISTEN":     "127.0.0.1:0",
			"INCIDENTBOT_STORAGE_PATH":    filepath.Join(dir, "incidentbot.db"),
			"INCIDENTBOT_SLACK_BOT_TOKEN": "xoxb-very-secret",
		}),
		ctx:      ctx,
		onListen: func(addr net.Addr) { addrc <- addr },
	}
	var stdout, stderr bytes.Buffer
	done := make(chan int, 1)
	a.stdout, a.stderr, a.now = &stdout, &lockedWriter{w: &stderr}, time.Now
	go func() { done <- a.run([]string{"serve", "--sandbox", "--config", writeStarter(t)}) }()

	var addr net.Addr
	select {
	case addr = <-addrc:
	case code := <-done:
		t.Fatalf("serve exited %d: %s", code, a.stderr.(*lockedWriter).String())
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not listen")
	}
	resp, err := http.Get("http://" + addr.String() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != 200 || strings.TrimSpace(string(body)) != `{"status":"ok"}` || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Errorf("healthz: %d %q %q", resp.StatusCode, body, resp.Header.Get("Content-Type"))
	}
	if _, err := os.Stat(filepath.Join(dir, "incidentbot.db")); err == nil {
		t.Errorf("the sandbox opened storage.path: it must never touch the real database")
	}

	cancel() // as SIGTERM would
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("serve exited %d", code)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not shut down")
	}
	logs := a.stderr.(*lockedWriter).String()
	if strings.Contains(logs, "xoxb-very-secret") {
		t.Errorf("the bot token was logged: %s", logs)
	}
	for _, want := range []string{`"msg":"incidentbot starting"`, `"bot_token":"[redacted]"`, `"msg":"shutting down"`, `"msg":"incidentbot stopped"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %s:\n%s", want, logs)
		}
	}
}

// lockedWriter is a goroutine-safe buffer: serve logs from its goroutines.
type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (l *lockedWriter) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.String()
}

func TestBackupOffline(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "incidentbot.db")
	st, err := boltstore.Open(db, boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"INCIDENTBOT_STORAGE_PATH": db}
	dest := filepath.Join(dir, "copy.db")
	code, out, errOut := runCLI(t, env, "backup", dest, "--config", writeStarter(t))
	if code != 0 || !strings.Contains(out, "wrote "+dest) {
		t.Fatalf("backup: %d %s %s", code, out, errOut)
	}
	if fi, err := os.Stat(dest); err != nil || fi.Size() == 0 {
		t.Fatalf("backup file: %v", err)
	}
	// The copy is a database.
	st, err = boltstore.Open(dest, boltstore.Options{})
	if err != nil {
		t.Fatalf("open the copy: %v", err)
	}
	_ = st.Close()

	// Refusals.
	if code, _, errOut := runCLI(t, env, "backup", db, "--config", writeStarter(t)); code != 1 || !strings.Contains(errOut, "the database itself") {
		t.Errorf("backup onto the database: %d %s", code, errOut)
	}
	if code, _, errOut := runCLI(t, map[string]string{"INCIDENTBOT_STORAGE_PATH": filepath.Join(dir, "none.db")}, "backup", dest, "--config", writeStarter(t)); code != 1 || !strings.Contains(errOut, "none.db") {
		t.Errorf("backup of a missing database: %d %s", code, errOut)
	}
	if code, _, _ := runCLI(t, env, "backup"); code != 2 {
		t.Errorf("backup without FILE: %d, want 2", code)
	}
}

func TestBackupWhileServingUsesTheAPI(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "incidentbot.db")
	st, err := boltstore.Open(db, boltstore.Options{}) // held, as by a serving bot
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = st.Close() }()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || r.URL.Path != "/api/backup" {
			http.NotFound(w, r)
			return
		}
		if r.Header.Get("Authorization") != "Bearer api-secret" {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"error":"unauthorized"}`)
			return
		}
		_, _ = st.Backup(w)
	}))
	defer srv.Close()
	listen := strings.TrimPrefix(srv.URL, "http://")
	env := map[string]string{
		"INCIDENTBOT_STORAGE_PATH":   db,
		"INCIDENTBOT_HTTP_LISTEN":    listen,
		"INCIDENTBOT_HTTP_API_TOKEN": "api-secret",
	}
	dest := filepath.Join(dir, "copy.db")
	code, _, errOut := runCLI(t, env, "backup", dest, "--config", writeStarter(t))
	if code != 0 {
		t.Fatalf("backup: %d %s", code, errOut)
	}
	if fi, err := os.Stat(dest); err != nil || fi.Size() == 0 || fi.Mode().Perm() != 0o600 {
		t.Fatalf("backup file: %v %v", fi, err)
	}

	env["INCIDENTBOT_HTTP_API_TOKEN"] = "wrong"
	code, _, errOut = runCLI(t, env, "backup", filepath.Join(dir, "copy2.db"), "--config", writeStarter(t))
	if code != 1 || !strings.Contains(errOut, "401") || strings.Contains(errOut, "wrong") {
		t.Errorf("wrong token: %d %s", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, "copy2.db")); err == nil {
		t.Errorf("a failed backup left a file")
	}
	delete(env, "INCIDENTBOT_HTTP_API_TOKEN")
	code, _, errOut = runCLI(t, env, "backup", filepath.Join(dir, "copy3.db"), "--config", writeStarter(t))
	if code != 1 || !strings.Contains(errOut, "http.api_token") {
		t.Errorf("no token: %d %s", code, errOut)
	}
}

func TestBackupURL(t *testing.T) {
	for listen, want := range map[string]string{
		"0.0.0.0:8080":   "http://127.0.0.1:8080/api/backup",
		":8080":          "http://127.0.0.1:8080/api/backup",
		"[::]:8080":      "http://127.0.0.1:8080/api/backup",
		"10.0.0.5:9000":  "http://10.0.0.5:9000/api/backup",
		"localhost:8080": "http://localhost:8080/api/backup",
	} {
		if got, err := localURL(listen, "/api/backup"); err != nil || got != want {
			t.Errorf("localURL(%q) = %q, %v; want %q", listen, got, err, want)
		}
	}
}

func TestUsage(t *testing.T) {
	if code, _, errOut := runCLI(t, nil); code != 2 || !strings.Contains(errOut, "Usage:") {
		t.Errorf("no command: %d %s", code, errOut)
	}
	if code, _, errOut := runCLI(t, nil, "frobnicate"); code != 2 || !strings.Contains(errOut, `unknown command "frobnicate"`) || !strings.Contains(errOut, "Usage:") {
		t.Errorf("unknown command: %d %s", code, errOut)
	}
	if code, out, _ := runCLI(t, nil, "help"); code != 0 || !strings.Contains(out, "incidentbot serve") {
		t.Errorf("help: %d %s", code, out)
	}
	if code, _, errOut := runCLI(t, nil, "check", "--bogus"); code != 2 || !strings.Contains(errOut, "Usage: incidentbot check") {
		t.Errorf("bad flag: %d %s", code, errOut)
	}
	if code, _, _ := runCLI(t, nil, "check", "-h"); code != 0 {
		t.Errorf("check -h: %d", code)
	}
	if code, _, errOut := runCLI(t, nil, "check", "extra"); code != 2 || !strings.Contains(errOut, `unexpected argument "extra"`) {
		t.Errorf("extra argument: %d %s", code, errOut)
	}
}

func TestVersion(t *testing.T) {
	old := version
	version = "v9.9.9"
	defer func() { version = old }()
	code, out, _ := runCLI(t, nil, "version")
	if code != 0 || !strings.HasPrefix(out, "incidentbot v9.9.9\n") || !strings.Contains(out, "go1.") {
		t.Errorf("version: %d %q", code, out)
	}
}

func TestHMS(t *testing.T) {
	for d, want := range map[time.Duration]string{
		8*time.Hour + 24*time.Minute:                "8:24:00",
		time.Hour + 40*time.Minute + 48*time.Second: "1:40:48",
		10*time.Minute + 4800*time.Millisecond:      "0:10:05",
		10*time.Minute + 4400*time.Millisecond:      "0:10:04",
		0:                                           "0:00:00",
		168 * time.Hour:                             "168:00:00",
		-90 * time.Second:                           "-0:01:30",
	} {
		if got := hms(d); got != want {
			t.Errorf("hms(%s) = %s, want %s", d, got, want)
		}
	}
	if got := shortDuration(time.Hour); got != "1h" {
		t.Errorf("shortDuration(1h) = %s", got)
	}
	if got := shortDuration(90 * time.Minute); got != "1h30m" {
		t.Errorf("shortDuration(90m) = %s", got)
	}
}

// serve warns at start when the Alertmanager webhook takes requests without
// a token from beyond the machine; the storage path is a directory, so serve
// stops right after listening.
func TestServeWarnsAboutAnOpenWebhook(t *testing.T) {
	warning := "the Alertmanager webhook accepts requests from anyone"
	for _, c := range []struct {
		listen, token string
		warn          bool
	}{
		{"0.0.0.0:0", "", true},
		{"127.0.0.1:0", "", false},
		{"0.0.0.0:0", "am-secret", false},
	} {
		env := map[string]string{
			"INCIDENTBOT_SLACK_BOT_TOKEN": "xoxb-1", "INCIDENTBOT_SLACK_APP_TOKEN": "xapp-1",
			"INCIDENTBOT_HTTP_LISTEN": c.listen, "INCIDENTBOT_STORAGE_PATH": t.TempDir(),
			"INCIDENTBOT_ALERTMANAGER_BEARER_TOKEN": c.token,
		}
		code, _, errOut := runCLI(t, env, "serve", "--config", writeStarter(t))
		if code != 1 || !strings.Contains(errOut, "cannot open storage") {
			t.Fatalf("%s: serve exited %d: %s", c.listen, code, errOut)
		}
		if got := strings.Contains(errOut, warning); got != c.warn {
			t.Errorf("listen %s, token %q: warned %v, want %v:\n%s", c.listen, c.token, got, c.warn, errOut)
		}
		if c.token != "" && strings.Contains(errOut, c.token) {
			t.Errorf("the token was logged")
		}
	}
}
