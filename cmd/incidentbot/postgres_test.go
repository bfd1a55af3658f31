package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/incident"
	"github.com/incidentbot/incidentbot/incident/boltstore"
	"github.com/incidentbot/incidentbot/incident/desk"
	"github.com/incidentbot/incidentbot/incident/incidenttest"
	"github.com/incidentbot/incidentbot/incident/pgstore"
	"github.com/incidentbot/incidentbot/internal/fakeslack"
	"github.com/incidentbot/incidentbot/internal/pgtest"
)

func TestMain(m *testing.M) {
	if os.Getenv(childServeEnv) != "" {
		// A replica of the failover test: serve until killed.
		os.Exit(run([]string{"serve"}, os.Stdout, os.Stderr, os.Getenv))
	}
	pgtest.Main(m)
}

var (
	longAlertKey = "am/" + strings.Repeat("g", 5000)
	longHookID   = strings.Repeat("w", 5000)
)

// bboltWithEverything writes a bbolt database with incidents, timelines,
// alert and idempotency keys, pending and done jobs, dedupe keys and
// adapter state, as a bot would have.
func bboltWithEverything(t *testing.T, path string) {
	t.Helper()
	ctx := context.Background()
	st, err := boltstore.Open(path, boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	clk := incidenttest.NewClock(incidenttest.T0)
	d := desk.New(st, incidenttest.Valid(t, incidenttest.Furniture()), desk.Options{Now: clk.Now})
	inc, err := d.Declare(ctx, desk.DeclareRequest{Service: "bedroom", Title: "Beds cannot be ordered", Actor: "U0ALICE", Idem: "env-1",
		Impact: incident.Impact{Level: incident.ImpactBlocked}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.AddNote(ctx, inc.Number, desk.Op{Actor: "U0ALICE", Idem: "env-2"}, "rolled back the release"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Alert(ctx, desk.Alert{Source: incident.ActorAlertmanager, Key: "am/search", Service: "search", Title: "Search down", Firing: true, Idem: "n1"}); err != nil {
		t.Fatal(err)
	}
	if err := st.Enqueue(ctx, desk.Job{ID: "done/1", Kind: "x"}); err != nil {
		t.Fatal(err)
	}
	if err := st.Complete(ctx, "done/1"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Seen(ctx, "slack.event", "Ev1", clk.Now()); err != nil {
		t.Fatal(err)
	}
	// Keys bbolt stores as their hash.
	if _, err := d.Alert(ctx, desk.Alert{Source: incident.ActorAlertmanager, Key: longAlertKey, Service: "search", Title: "Search down", Firing: true, Idem: "n2"}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Seen(ctx, "pagerduty.webhook", longHookID, clk.Now()); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{"review/1": `{"number":1,"summary":"x"}`, "review/2": `{}`} {
		if err := st.Put(ctx, "reviews", k, []byte(v)); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Put(ctx, "slack.channel", "1", []byte("C0123")); err != nil {
		t.Fatal(err)
	}
}

// `incidentbot migrate` copies everything a bbolt database holds into
// PostgreSQL, prints counts that match, and changes nothing when run again;
// a target holding other data is refused.
func TestMigrateCopiesEverything(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "incidentbot.db")
	bboltWithEverything(t, path)
	url := pgtest.DB(t)

	code, out, errOut := runCLI(t, nil, "migrate", "--from", path, "--to", url)
	if code != 0 {
		t.Fatalf("migrate: %d\n%s%s", code, out, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 11 {
		t.Fatalf("want the source, a header, 8 counts and a verdict:\n%s", out)
	}
	for _, l := range lines[2:10] {
		if f := fieldsOf(l); f[len(f)-1] != f[len(f)-2] || f[len(f)-1] == "0" {
			t.Errorf("counts differ or are zero: %q", l)
		}
	}
	if !strings.Contains(out, "Copied.") {
		t.Errorf("output:\n%s", out)
	}
	code, again, errOut := runCLI(t, nil, "migrate", "--from", path, "--to", url)
	if code != 0 || !strings.Contains(again, "Nothing to copy") {
		t.Fatalf("second migrate: %d\n%s%s", code, again, errOut)
	}
	if strings.ReplaceAll(again, "Nothing to copy: the PostgreSQL database already holds all of it.", "") !=
		strings.ReplaceAll(out, "Copied. Set storage.driver: postgres and storage.postgres.url, then start incidentbot serve.", "") {
		t.Errorf("the second run's counts differ:\n%s\n%s", out, again)
	}

	src, err := boltstore.Open(path, boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := pgstore.Open(ctx, url, pgstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	sameJSON(t, "incidents", func(s desk.Storage) any { l, _ := s.List(ctx, desk.Filter{}); return l }, src, dst)
	sameJSON(t, "pending jobs", func(s desk.Storage) any { p, _ := s.Pending(ctx); return p }, src, dst)
	sameJSON(t, "reviews", func(s desk.Storage) any {
		var kv []string
		_ = s.Scan(ctx, "reviews", "", func(k string, v []byte) error { kv = append(kv, k+"="+string(v)); return nil })
		return kv
	}, src, dst)
	for _, k := range []string{"am/search", longAlertKey} {
		a, _, _ := src.ByAlertKey(ctx, k)
		b, ok, _ := dst.ByAlertKey(ctx, k)
		if !ok || a != b {
			t.Errorf("alert key %s: %d in bbolt, %d (%v) in postgres", k, a, b, ok)
		}
	}
	if n, ok, _ := dst.ByIdem(ctx, "env-2"); !ok || n != 1 {
		t.Errorf("idempotency key env-2 → %d %v", n, ok)
	}
	if seen, _ := dst.WasSeen(ctx, "slack.event", "Ev1"); !seen {
		t.Error("dedupe key not copied")
	}
	if seen, _ := dst.WasSeen(ctx, "pagerduty.webhook", longHookID); !seen {
		t.Error("a long dedupe key, which bbolt stores as its hash, is not found after the copy")
	}
	if err := dst.Enqueue(ctx, desk.Job{ID: "done/1", Kind: "x"}); err != nil {
		t.Fatal(err)
	}
	if p, _ := dst.Pending(ctx); len(p) != len(mustPendingOf(t, src)) {
		t.Error("a done job could be enqueued again: its tombstone was not copied")
	}
	// Numbering goes on after the copied incidents.
	inc, err := dst.Create(ctx, func(n int64) (*incident.Incident, []desk.Job, error) {
		return &incident.Incident{Number: n, Title: "next", Service: incident.Service{Name: "bedroom"}}, nil, nil
	})
	if err != nil || inc.Number != 3 {
		t.Fatalf("next incident = %v, %v; want #3", inc, err)
	}

	// A database that holds other data is left alone.
	_ = src.Close()
	code, out, errOut = runCLI(t, nil, "migrate", "--from", path, "--to", url)
	if code != 1 || !strings.Contains(errOut, "holds other data") {
		t.Fatalf("migrate into a database with other data: %d\n%s%s", code, out, errOut)
	}
	if c, _ := dst.Counts(ctx); c.Incidents != 3 {
		t.Errorf("a refused migrate changed the database: %+v", c)
	}
}

func mustPendingOf(t *testing.T, s desk.Storage) []desk.Job {
	t.Helper()
	p, err := s.Pending(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func sameJSON(t *testing.T, what string, get func(desk.Storage) any, a, b desk.Storage) {
	t.Helper()
	ja, _ := json.Marshal(get(a))
	jb, _ := json.Marshal(get(b))
	if !bytes.Equal(ja, jb) {
		t.Errorf("%s differ:\nbbolt    %s\npostgres %s", what, ja, jb)
	}
}

// `incidentbot check` says which storage it would use and whether it can
// reach it, without showing the password.
func TestCheckReportsPostgres(t *testing.T) {
	url := pgtest.DB(t)
	env := map[string]string{
		"INCIDENTBOT_STORAGE_DRIVER":                      "postgres",
		"INCIDENTBOT_STORAGE_POSTGRES_URL":                url,
		"INCIDENTBOT_ORGANISATION_LOSS_THRESHOLDS_HIGH":   "100000",
		"INCIDENTBOT_ORGANISATION_LOSS_THRESHOLDS_MEDIUM": "10000",
		"INCIDENTBOT_ORGANISATION_EXPOSURE_BANDS":         `[{"max_hourly_exposure":7000,"availability":95.0}]`,
	}
	t.Chdir(t.TempDir())
	code, out, errOut := runCLI(t, env, "check")
	if code != 0 || !strings.Contains(out, "Storage: PostgreSQL ") || !strings.Contains(out, "reachable, empty: serve creates the schema") {
		t.Fatalf("check: %d\n%s%s", code, out, errOut)
	}
	env["INCIDENTBOT_STORAGE_POSTGRES_URL"] = "postgres://bot:pw-secret@/incidentbot?host=" + t.TempDir() + "&connect_timeout=5"
	code, out, errOut = runCLI(t, env, "check")
	if code != 1 || !strings.Contains(out, "NOT reachable") || !strings.Contains(out, "postgres://bot:[redacted]@/incidentbot") {
		t.Fatalf("check on an unreachable database: %d\n%s%s", code, out, errOut)
	}
	if strings.Contains(out+errOut, "pw-secret") {
		t.Fatalf("check showed the password:\n%s%s", out, errOut)
	}
}

// serve on PostgreSQL: when the database stops, /readyz fails and webhooks
// get 5xx (the sender retries); when it is back, serve carries on by itself.
func TestServeOnPostgresRidesOutAnOutage(t *testing.T) {
	cluster := pgtest.NewCluster(t)
	url := cluster.NewDB(t)
	fs := fakeslack.New(fakeslack.Options{
		Channels: []fakeslack.ChannelSeed{{Name: "incidents", Members: []string{"U0FAKEBOT1", "UALICE001"}}},
		Users:    []fakeslack.User{{ID: "UALICE001", Name: "alice"}},
	})
	if err := fs.Start(); err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	addrc := make(chan net.Addr, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a := &app{
		env: envMap(map[string]string{
			"INCIDENTBOT_HTTP_LISTEN":                         "127.0.0.1:0",
			"INCIDENTBOT_STORAGE_DRIVER":                      "postgres",
			"INCIDENTBOT_STORAGE_POSTGRES_URL":                url,
			"INCIDENTBOT_STORAGE_POSTGRES_LEASE":              "2s",
			"INCIDENTBOT_SLACK_BOT_TOKEN":                     fs.BotToken(),
			"INCIDENTBOT_SLACK_APP_TOKEN":                     fs.AppToken(),
			"INCIDENTBOT_SLACK_API_URL":                       fs.APIURL(),
			"INCIDENTBOT_SLACK_ANNOUNCE_CHANNEL":              "incidents",
			"INCIDENTBOT_ORGANISATION_LOSS_THRESHOLDS_HIGH":   "100000",
			"INCIDENTBOT_ORGANISATION_LOSS_THRESHOLDS_MEDIUM": "10000",
			"INCIDENTBOT_ORGANISATION_EXPOSURE_BANDS":         `[{"max_hourly_exposure":7000,"availability":95.0},{"max_hourly_exposure":250000,"availability":99.0}]`,
			"INCIDENTBOT_TEAMS":                               `[{"name":"bedroom-team","members":["UALICE001"],"oncall":{"rotation":["UALICE001"]}}]`,
			"INCIDENTBOT_SERVICES":                            `[{"name":"bedroom","team":"bedroom-team","hourly_exposure":200000}]`,
		}),
		ctx:      ctx,
		onListen: func(addr net.Addr) { addrc <- addr },
	}
	stderr := &lockedWriter{w: &bytes.Buffer{}}
	a.stdout, a.stderr, a.now = io.Discard, stderr, time.Now
	done := make(chan int, 1)
	go func() { done <- a.run([]string{"serve"}) }()
	wctx, wcancel := context.WithTimeout(ctx, 60*time.Second)
	defer wcancel()
	if err := fs.WaitConnected(wctx); err != nil {
		t.Fatalf("the bot did not connect: %v\n%s", err, stderr.String())
	}
	addr := (<-addrc).String()
	announce, _ := fs.Channel("incidents")
	if ack, err := fs.SlashCommand(wctx, "UALICE001", announce.ID, "declare bedroom Beds cannot be ordered"); err != nil || ack.Late {
		t.Fatalf("slash command: %v", err)
	}
	if err := fs.WaitFor(wctx, func() bool { ch, ok := fs.Channel("inc-1-beds-cannot-be-ordered"); return ok && len(ch.Pins) == 1 }); err != nil {
		t.Fatalf("no incident channel: %v\n%s", err, stderr.String())
	}
	status := func(method, path, body string) int {
		req, _ := http.NewRequest(method, "http://"+addr+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	alert := `{"version":"4","groupKey":"{}:{alertname=\"SearchDown\"}","status":"firing","receiver":"incidentbot",
		"groupLabels":{"alertname":"SearchDown"},"commonLabels":{"alertname":"SearchDown","service":"search"},
		"commonAnnotations":{"summary":"Search failing"},"externalURL":"http://am","alerts":[{"status":"firing",
		"labels":{"alertname":"SearchDown","service":"search"},"annotations":{"summary":"Search failing"},
		"startsAt":"2026-11-17T11:58:00Z","endsAt":"0001-01-01T00:00:00Z","fingerprint":"abc"}]}`

	if err := cluster.Stop(); err != nil {
		t.Fatal(err)
	}
	incidenttest.Eventually(t, "/readyz to fail with the database down", func() bool { return status("GET", "/readyz", "") == 503 })
	if code := status("POST", "/webhooks/alertmanager", alert); code < 500 {
		t.Fatalf("webhook with the database down: %d, want 5xx so that Alertmanager retries", code)
	}
	if err := cluster.Start(); err != nil {
		t.Fatal(err)
	}
	incidenttest.Eventually(t, "/readyz once the database is back", func() bool { return status("GET", "/readyz", "") == 200 })
	if code := status("POST", "/webhooks/alertmanager", alert); code != 200 {
		t.Fatalf("webhook once the database is back: %d", code)
	}
	if err := fs.WaitFor(wctx, func() bool { ch, ok := fs.Channel("inc-2-search-failing"); return ok && len(ch.Pins) == 1 }); err != nil {
		t.Fatalf("no channel for the alert after the outage: %v\n%s", err, stderr.String())
	}
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("serve exited %d", code)
	}
}
