package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/incident"
	"github.com/incidentbot/incidentbot/incident/boltstore"
	"github.com/incidentbot/incidentbot/incident/boltstore/bolttest"
	"github.com/incidentbot/incidentbot/incident/desk"
	"github.com/incidentbot/incidentbot/incident/httpapi"
	"github.com/incidentbot/incidentbot/incident/incidenttest"
)

// People of the furniture retailer.
const (
	alice = "UALICE001" // bedroom-team
	carol = "UCAROL003" // incident manager
	erin  = "UERIN0005" // appointments-team
	frank = "UFRANK006" // furniture domain on-call
	grace = "UGRACE007" // platform-team

	token = "s3cret-api-token-for-tests"
)

// tuesdayNoon is in working hours in London.
var tuesdayNoon = time.Date(2026, 11, 17, 12, 0, 0, 0, time.UTC)

// blackFriday is the appointments service's peak.
var blackFriday = incident.Peak{
	Name:  "Black Friday",
	Start: time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC),
	End:   time.Date(2026, 11, 30, 23, 59, 59, 0, time.UTC),
}

type clock = incidenttest.Clock

// catalogue is the playbook's furniture retailer.
func catalogue(t testing.TB) *incident.Catalogue {
	t.Helper()
	c := incidenttest.Furniture()
	incidenttest.Domain(c, "furniture").OnCall = incidenttest.Rotation(frank)
	incidenttest.Staff(c, "platform-team", incidenttest.Rotation(grace), grace)
	incidenttest.Staff(c, "appointments-team", incidenttest.Rotation(erin), erin)
	incidenttest.Staff(c, "bedroom-team", incidenttest.Rotation(alice), alice)
	peak := blackFriday
	peak.HourlyExposure = incident.USD.Major(300_000)
	incidenttest.Service(c, "appointments").Peaks = []incident.Peak{peak}
	bedroom := incidenttest.Service(c, "bedroom")
	bedroom.Runbook, bedroom.PagerDutyServiceID, bedroom.Peaks = "https://runbooks.example/bedroom", "PBEDROOM", nil
	c.IncidentManagers, c.IncidentManagerOnCall = []string{carol}, incidenttest.Rotation(carol)
	return incidenttest.Valid(t, c)
}

// env is a store, a desk and the API served over HTTP.
type env struct {
	t      testing.TB
	clock  *clock
	store  *boltstore.Store
	desk   *desk.Desk
	srv    *httptest.Server
	api    *httpapi.Server
	ready  atomic.Bool
	reason atomic.Value // string
	logs   *syncBuffer
	ctx    context.Context
}

type envOptions struct {
	token   string
	noToken bool
}

func newEnv(t testing.TB, o envOptions) *env {
	t.Helper()
	if o.token == "" && !o.noToken {
		o.token = token
	}
	e := &env{t: t, clock: incidenttest.NewClock(tuesdayNoon), logs: &syncBuffer{}, ctx: context.Background()}
	e.ready.Store(true)
	e.reason.Store("")
	log := slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	st := bolttest.Open(t, boltstore.Options{Logger: log, Now: e.clock.Now})
	e.store = st
	e.desk = desk.New(st, catalogue(t), desk.Options{Logger: log, Now: e.clock.Now})
	e.api = httpapi.New(httpapi.Options{
		Desk: e.desk, Store: st, APIToken: o.token, Logger: log, Version: "v1.2.3",
		Ready: func() (bool, string) { return e.ready.Load(), e.reason.Load().(string) },
	})
	mux := http.NewServeMux()
	e.api.Routes(mux)
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)
	return e
}

// declare opens an incident with an impact level ("" for none).
func (e *env) declare(service, title string, level incident.ImpactLevel, security bool) *incident.Incident {
	e.t.Helper()
	imp := incident.Impact{Level: incident.ImpactNone}
	if level != "" {
		imp = incident.DefaultShares.Impact(level)
	}
	inc, err := e.desk.Declare(e.ctx, desk.DeclareRequest{Service: service, Title: title, Impact: imp, Security: security, Actor: alice})
	if err != nil {
		e.t.Fatal(err)
	}
	return inc
}

func (e *env) resolve(number int64, actor string) {
	e.t.Helper()
	if _, err := e.desk.Resolve(e.ctx, number, desk.Op{Actor: actor}, "restored"); err != nil {
		e.t.Fatal(err)
	}
}

// response is an answer with its body read.
type response struct {
	*http.Response
	body []byte
}

func (r response) json(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("%s: body is not JSON: %v\n%s", r.Request.URL, err, r.body)
	}
}

// do sends a request; auth is the Authorization header ("" for none).
func (e *env) do(method, path, auth string) response {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return response{resp, body}
}

func (e *env) get(path string) response { return e.do(http.MethodGet, path, "Bearer "+token) }

// wantStatus checks the status and, for JSON answers, the headers.
func wantStatus(t testing.TB, r response, status int) {
	t.Helper()
	if r.StatusCode != status {
		t.Fatalf("%s %s: status %d, want %d; body %s", r.Request.Method, r.Request.URL.Path, r.StatusCode, status, r.body)
	}
	if got := r.Header.Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("%s: X-Content-Type-Options %q", r.Request.URL.Path, got)
	}
}

func wantJSONError(t testing.TB, r response, status int) string {
	t.Helper()
	wantStatus(t, r, status)
	if ct := r.Header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
		t.Errorf("%s: Content-Type %q", r.Request.URL, ct)
	}
	var body map[string]any
	r.json(t, &body)
	msg, ok := body["error"].(string)
	if !ok || msg == "" || len(body) != 1 {
		t.Errorf("%s: error body %s, want {\"error\": msg}", r.Request.URL, r.body)
	}
	return msg
}

// syncBuffer is a log sink safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func deskOp(actor string) desk.Op { return desk.Op{Actor: actor} }
