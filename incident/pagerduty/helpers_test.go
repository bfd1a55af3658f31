package pagerduty_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/incident"
	"github.com/incidentbot/incidentbot/incident/boltstore"
	"github.com/incidentbot/incidentbot/incident/boltstore/bolttest"
	"github.com/incidentbot/incidentbot/incident/desk"
	"github.com/incidentbot/incidentbot/incident/incidenttest"
	"github.com/incidentbot/incidentbot/incident/pagerduty"
)

const (
	secret    = "whsec-test-secret"
	fromEmail = "incidentbot@example.com"
	alice     = "UALICE001"
	bob       = "UBOB00002"
	carol     = "UCAROL003"
)

func catalogue(t testing.TB) *incident.Catalogue {
	t.Helper()
	c := incidenttest.Furniture()
	incidenttest.Domain(c, "furniture").OnCall = incidenttest.Rotation("UFRANK006")
	incidenttest.Staff(c, "platform-team", incident.OnCall{EscalationPolicy: "PPLATFORM"}, "UGRACE007")
	incidenttest.Staff(c, "appointments-team", incidenttest.Rotation("UERIN0005"), "UERIN0005")
	incidenttest.Staff(c, "bedroom-team", incident.OnCall{EscalationPolicy: "PBEDPOL"}, alice, bob)
	incidenttest.Service(c, "ecommerce-platform").PagerDutyServiceID = "PECOMM"
	bedroom := incidenttest.Service(c, "bedroom")
	bedroom.PagerDutyServiceID, bedroom.Peaks = "PBEDROOM", nil // the real clock must not meet Black Friday
	c.IncidentManagers = []string{carol}
	c.IncidentManagerOnCall = incident.OnCall{EscalationPolicy: "PMANAGERS", Rotation: incidenttest.Rotation(carol).Rotation}
	return incidenttest.Valid(t, c)
}

// store wraps the real store: a switch that makes writes fail, a gate that
// blocks them, and a hook on Seen.
type store struct {
	*boltstore.Store
	fail   atomic.Bool
	gate   atomic.Pointer[chan struct{}]
	onSeen func(key string)
	seenN  atomic.Int64
}

func (s *store) wait(ctx context.Context) error {
	if g := s.gate.Load(); g != nil {
		select {
		case <-*g:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if s.fail.Load() {
		return fmt.Errorf("disk on fire")
	}
	return nil
}

func (s *store) Create(ctx context.Context, fn func(int64) (*incident.Incident, []desk.Job, error)) (*incident.Incident, error) {
	if err := s.wait(ctx); err != nil {
		return nil, err
	}
	return s.Store.Create(ctx, fn)
}

func (s *store) Update(ctx context.Context, n int64, fn func(*incident.Incident) ([]desk.Job, error)) (*incident.Incident, error) {
	if err := s.wait(ctx); err != nil {
		return nil, err
	}
	return s.Store.Update(ctx, n, fn)
}

func (s *store) UpdateRecords(ctx context.Context, n int64, fn func(*incident.Incident, desk.Records) ([]desk.Job, error)) (*incident.Incident, error) {
	if err := s.wait(ctx); err != nil {
		return nil, err
	}
	return s.Store.UpdateRecords(ctx, n, fn)
}

func (s *store) Seen(ctx context.Context, ns, key string, at time.Time) (bool, error) {
	s.seenN.Add(1)
	if s.onSeen != nil {
		s.onSeen(key)
	}
	return s.Store.Seen(ctx, ns, key, at)
}

type env struct {
	t      testing.TB
	store  *store
	desk   *desk.Desk
	cat    *incident.Catalogue
	pd     *fakePD
	client *pagerduty.Client
	users  *mapUsers
	hook   http.Handler
	runner *desk.Runner
	sync   *pagerduty.Sync
}

type envOptions struct {
	webhook pagerduty.Options
	noGet   bool // no REST fetch for unknown incidents
	now     func() time.Time
}

// inHours is a clock running from a Tuesday noon in London (working hours).
func inHours() func() time.Time {
	base, start := time.Date(2026, 11, 17, 12, 0, 0, 0, time.UTC), time.Now()
	return func() time.Time { return base.Add(time.Since(start)) }
}

func newEnv(t testing.TB, o envOptions) *env {
	t.Helper()
	st := &store{Store: bolttest.Open(t, boltstore.Options{})}
	cat := catalogue(t)
	d := desk.New(st, cat, desk.Options{Planners: []desk.Planner{pagerduty.Planner{}}, Now: o.now})
	fake := newFakePD(t)
	users := &mapUsers{m: map[string]string{}}
	client := pagerduty.NewClient(pagerduty.ClientOptions{Token: fake.token, APIURL: fake.URL(), FromEmail: fromEmail, Users: users, RateLimitDelay: 100 * time.Millisecond})
	wo := o.webhook
	if wo.Secret == "" {
		wo.Secret = secret
	}
	if !o.noGet {
		wo.Incidents = client
	}
	e := &env{t: t, store: st, desk: d, cat: cat, pd: fake, client: client, users: users}
	e.hook = pagerduty.WebhookHandler(d, st, wo)
	return e
}

// startRunner runs the job runner with the PagerDuty handlers.
func (e *env) startRunner(opts pagerduty.SyncOptions) {
	e.t.Helper()
	if opts.KV == nil {
		opts.KV = e.store
	}
	e.runner = desk.NewRunner(e.store, desk.RunnerOptions{Poll: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond, Concurrency: 4, Now: e.desk.Now})
	e.sync = pagerduty.NewSync(e.client, e.desk, opts)
	e.sync.Register(e.runner)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = e.runner.Run(ctx); close(done) }()
	e.t.Cleanup(func() {
		cancel()
		<-done
	})
}

type mapUsers struct {
	m     map[string]string
	calls atomic.Int64
}

func (u *mapUsers) LookupByEmail(_ context.Context, email string) (string, error) {
	u.calls.Add(1)
	if id, ok := u.m[strings.ToLower(email)]; ok {
		return id, nil
	}
	return "", pagerduty.ErrUserNotFound
}

// sign is the v1 signature of body with a secret.
func sign(body []byte, key string) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write(body)
	return "v1=" + hex.EncodeToString(m.Sum(nil))
}

type delivery struct {
	id        string // X-Webhook-Id
	body      []byte
	signature string // default: signed with secret
}

func (e *env) deliver(d delivery) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, pagerduty.WebhookPath, bytes.NewReader(d.body))
	req.Header.Set("Content-Type", "application/json")
	sig := d.signature
	if sig == "" {
		sig = sign(d.body, secret)
	}
	if sig != "-" {
		req.Header.Set("X-PagerDuty-Signature", sig)
	}
	if d.id != "" {
		req.Header.Set("X-Webhook-Id", d.id)
	}
	rec := httptest.NewRecorder()
	e.hook.ServeHTTP(rec, req)
	return rec
}

// ok delivers and expects a 2xx.
func (e *env) ok(id string, body []byte) pagerduty.WebhookResponse {
	e.t.Helper()
	rec := e.deliver(delivery{id: id, body: body})
	if rec.Code != http.StatusOK {
		e.t.Fatalf("webhook %s: status %d: %s", id, rec.Code, rec.Body)
	}
	var r pagerduty.WebhookResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil {
		e.t.Fatal(err)
	}
	return r
}

type pdInc struct {
	id, title, service, serviceName, key string
	number                               int
}

// incidentEvent is a v3 webhook body for an incident.* event.
func incidentEvent(eventType string, inc pdInc, agent string) []byte {
	if inc.serviceName == "" {
		inc.serviceName = "PD " + inc.service
	}
	data := map[string]any{
		"id": inc.id, "type": "incident", "number": inc.number, "title": inc.title,
		"status": strings.TrimPrefix(eventType, "incident."), "incident_key": inc.key,
		"html_url":          "https://acme.pagerduty.com/incidents/" + inc.id,
		"created_at":        time.Now().Add(-2 * time.Minute).UTC().Format(time.RFC3339),
		"urgency":           "high",
		"service":           map[string]any{"id": inc.service, "type": "service_reference", "summary": inc.serviceName},
		"assignees":         []map[string]any{{"id": "PUSER1", "type": "user_reference", "summary": "Alice Anders"}},
		"escalation_policy": map[string]any{"id": "PBEDPOL", "type": "escalation_policy_reference", "summary": "Bedroom"},
		"priority":          map[string]any{"id": "PP1", "summary": "P1"},
		"conference_bridge": nil,
		"unknown_future":    []int{1, 2, 3},
	}
	return eventBody(eventType, data, agent)
}

func noteEvent(incID, content, agent string) []byte {
	data := map[string]any{
		"incident": map[string]any{"id": incID, "type": "incident_reference", "summary": "whatever"},
		"id":       "PNOTEX", "content": content, "trimmed": false, "type": "incident_note",
	}
	return eventBody(pagerduty.EventAnnotated, data, agent)
}

var eventSeq atomic.Int64

func eventBody(eventType string, data any, agent string) []byte {
	ev := map[string]any{
		"event": map[string]any{
			"id":            fmt.Sprintf("01EVENT%06d", eventSeq.Add(1)),
			"event_type":    eventType,
			"resource_type": "incident",
			"occurred_at":   time.Now().UTC().Format(time.RFC3339Nano),
			"agent":         map[string]any{"id": "PAGENT", "type": "user_reference", "summary": agent},
			"client":        nil,
			"data":          data,
		},
	}
	b, _ := json.Marshal(ev)
	return b
}

func (e *env) incidents() []*incident.Incident {
	e.t.Helper()
	all, err := e.desk.List(context.Background(), desk.Filter{})
	if err != nil {
		e.t.Fatal(err)
	}
	return all
}

func (e *env) get(n int64) (*incident.Incident, incident.State) {
	e.t.Helper()
	inc, err := e.desk.Get(context.Background(), n)
	if err != nil {
		e.t.Fatal(err)
	}
	return inc, e.desk.State(inc)
}

func (e *env) seen(id string) bool {
	e.t.Helper()
	ok, err := e.store.WasSeen(context.Background(), pagerduty.SeenNamespace, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return ok
}

func countKind(inc *incident.Incident, k incident.EventKind) int {
	n := 0
	for _, e := range inc.Events {
		if e.Kind == k {
			n++
		}
	}
	return n
}

func waitFor(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	incidenttest.EventuallyWithin(t, timeout, what, cond)
}

var boltFilterAll = desk.Filter{}
