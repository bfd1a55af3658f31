package alertmanager_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/incidentbot/incidentbot/bot"
	"github.com/incidentbot/incidentbot/incident"
	"github.com/incidentbot/incidentbot/incident/alertmanager"
	"github.com/incidentbot/incidentbot/incident/alertmanager/amtest"
	"github.com/incidentbot/incidentbot/incident/boltstore"
	"github.com/incidentbot/incidentbot/incident/boltstore/bolttest"
	"github.com/incidentbot/incidentbot/incident/desk"
	"github.com/incidentbot/incidentbot/incident/incidenttest"
)

const token = "s3cret-alertmanager-token"

// catalogue is the playbook's furniture retailer.
func catalogue(t testing.TB) *incident.Catalogue {
	t.Helper()
	c := incidenttest.Furniture()
	incidenttest.Domain(c, "furniture").OnCall = incidenttest.Rotation("UFRANK006")
	incidenttest.Staff(c, "platform-team", incidenttest.Rotation("UGRACE007"), "UGRACE007")
	incidenttest.Staff(c, "appointments-team", incidenttest.Rotation("UERIN0005"), "UERIN0005")
	incidenttest.Staff(c, "bedroom-team", incidenttest.Rotation("UALICE001"), "UALICE001", "UBOB00002")
	bedroom := incidenttest.Service(c, "bedroom")
	bedroom.PagerDutyServiceID, bedroom.Peaks = "PBEDROOM", nil // the real clock must not meet Black Friday
	c.IncidentManagers, c.IncidentManagerOnCall = []string{"UCAROL003"}, incidenttest.Rotation("UCAROL003")
	return incidenttest.Valid(t, c)
}

// flakyStore is the real store with a switch that makes writes fail, as a
// full disk or a closed database would.
type flakyStore struct {
	*boltstore.Store
	fail atomic.Bool
}

var errDisk = errors.New("disk on fire")

func (s *flakyStore) Create(ctx context.Context, fn func(int64) (*incident.Incident, []desk.Job, error)) (*incident.Incident, error) {
	if s.fail.Load() {
		return nil, errDisk
	}
	return s.Store.Create(ctx, fn)
}

func (s *flakyStore) Update(ctx context.Context, n int64, fn func(*incident.Incident) ([]desk.Job, error)) (*incident.Incident, error) {
	if s.fail.Load() {
		return nil, errDisk
	}
	return s.Store.Update(ctx, n, fn)
}

func (s *flakyStore) UpdateRecords(ctx context.Context, n int64, fn func(*incident.Incident, desk.Records) ([]desk.Job, error)) (*incident.Incident, error) {
	if s.fail.Load() {
		return nil, errDisk
	}
	return s.Store.UpdateRecords(ctx, n, fn)
}

type env struct {
	t     testing.TB
	store *flakyStore
	desk  *desk.Desk
	cat   *incident.Catalogue
	h     http.Handler
}

func newEnv(t testing.TB, opts alertmanager.Options) *env {
	t.Helper()
	return newEnvWith(t, opts, catalogue(t), desk.Options{})
}

// newEnvWith is newEnv with a catalogue and desk options of the test's own.
func newEnvWith(t testing.TB, opts alertmanager.Options, cat *incident.Catalogue, dopts desk.Options) *env {
	t.Helper()
	fs := &flakyStore{Store: bolttest.Open(t, boltstore.Options{})}
	if dopts.Planners == nil {
		dopts.Planners = []desk.Planner{bot.Planner{}}
	}
	d := desk.New(fs, cat, dopts)
	return &env{t: t, store: fs, desk: d, cat: cat, h: alertmanager.Handler(d, opts)}
}

// post sends a body to the handler directly.
func (e *env) post(body []byte, auth string) *httptest.ResponseRecorder {
	return amtest.Post(e.h, body, auth)
}

func (e *env) send(n alertmanager.Notification) alertmanager.Response {
	e.t.Helper()
	rec := e.post(mustJSON(e.t, n), "Bearer "+token)
	if rec.Code != http.StatusOK {
		e.t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	var r alertmanager.Response
	if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil {
		e.t.Fatalf("response %q: %v", rec.Body, err)
	}
	return r
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

// assertNothingStored checks that no incident and no job exist.
func (e *env) assertNothingStored() {
	e.t.Helper()
	if n := len(e.incidents()); n != 0 {
		e.t.Errorf("%d incidents stored, want none", n)
	}
	jobs, err := e.store.Pending(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	if len(jobs) != 0 {
		e.t.Errorf("%d jobs stored, want none", len(jobs))
	}
}

// The notification builders of amtest, by their short names.
var mustJSON, notification, firing, resolved, labels, gk = amtest.MustJSON, amtest.Notification, amtest.Firing,
	amtest.Resolved, amtest.Labels, amtest.GroupKey

func countKind(inc *incident.Incident, k incident.EventKind) int {
	n := 0
	for _, e := range inc.Events {
		if e.Kind == k {
			n++
		}
	}
	return n
}
