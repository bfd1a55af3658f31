package httpapi_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/incident"
	"github.com/incidentbot/incidentbot/incident/boltstore"
	"github.com/incidentbot/incidentbot/incident/boltstore/bolttest"
	"github.com/incidentbot/incidentbot/incident/desk"
	"github.com/incidentbot/incidentbot/incident/httpapi"
)

var apiPaths = []string{"/api/incidents", "/api/incidents/1", "/api/services", "/api/backup"}

func TestAuthMatrix(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.declare("bedroom", "Beds cannot be ordered", incident.ImpactBlocked, false)
	cases := []struct {
		name, auth string
		status     int
	}{
		{"no header", "", http.StatusUnauthorized},
		{"wrong token", "Bearer not-the-token", http.StatusUnauthorized},
		{"token prefix", "Bearer " + token[:len(token)-1], http.StatusUnauthorized},
		{"token with suffix", "Bearer " + token + "x", http.StatusUnauthorized},
		{"empty bearer", "Bearer ", http.StatusUnauthorized},
		{"basic scheme", "Basic " + token, http.StatusUnauthorized},
		{"bare token", token, http.StatusUnauthorized},
		{"right token", "Bearer " + token, http.StatusOK},
		{"lower-case scheme", "bearer " + token, http.StatusOK},
	}
	for _, p := range apiPaths {
		for _, c := range cases {
			t.Run(p+"/"+c.name, func(t *testing.T) {
				r := e.do(http.MethodGet, p, c.auth)
				if c.status == http.StatusOK {
					wantStatus(t, r, http.StatusOK)
					return
				}
				wantJSONError(t, r, c.status)
				if got := r.Header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer") {
					t.Errorf("WWW-Authenticate %q", got)
				}
			})
		}
	}
	if logs := e.logs.String(); strings.Contains(logs, token[:10]) || strings.Contains(logs, "not-the-token") {
		t.Errorf("a token reached the log:\n%s", logs)
	}
	if !strings.Contains(e.logs.String(), "api request refused") {
		t.Errorf("refused requests are not logged")
	}
}

func TestAPIDisabledWithoutToken(t *testing.T) {
	e := newEnv(t, envOptions{noToken: true})
	e.declare("bedroom", "Beds cannot be ordered", incident.ImpactBlocked, false)
	for _, p := range apiPaths {
		for _, auth := range []string{"", "Bearer ", "Bearer anything"} {
			msg := wantJSONError(t, e.do(http.MethodGet, p, auth), http.StatusForbidden)
			if !strings.Contains(msg, "set http.api_token to enable the API") {
				t.Errorf("%s: %q", p, msg)
			}
		}
	}
	// Probes and metrics do not need the API.
	wantStatus(t, e.do(http.MethodGet, "/healthz", ""), http.StatusOK)
	wantStatus(t, e.do(http.MethodGet, "/readyz", ""), http.StatusOK)
	wantStatus(t, e.do(http.MethodGet, "/metrics", ""), http.StatusOK)
}

// The playbook's worked example: bedroom, $200,000/h, 99.0%, blocked for
// 30 min → loss $100,000; at tolerable unavailability (1:40:48) $336,000;
// protected $236,000; effectiveness 70%.
func TestResolvedBedroomIncident(t *testing.T) {
	e := newEnv(t, envOptions{})
	inc := e.declare("bedroom", "Beds cannot be ordered", incident.ImpactBlocked, false)
	e.clock.Advance(30 * time.Minute)
	e.resolve(inc.Number, alice)
	e.clock.Advance(2 * time.Hour) // figures of a resolved incident stay put

	r := e.get("/api/incidents/1")
	wantStatus(t, r, http.StatusOK)
	if ct := r.Header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}

	// The exact JSON, read generically so that key names are checked too.
	var m map[string]any
	r.json(t, &m)
	want := map[string]any{
		"number":                                    1.0,
		"title":                                     "Beds cannot be ordered",
		"status":                                    "resolved",
		"security":                                  false,
		"unmapped":                                  false,
		"class":                                     "major",
		"priority":                                  "high",
		"response_method":                           "restore availability immediately",
		"commander":                                 nil,
		"review":                                    "none",
		"started_at":                                "2026-11-17T12:00:00Z",
		"resolved_at":                               "2026-11-17T12:30:00Z",
		"as_of":                                     "2026-11-17T14:30:00Z",
		"service.name":                              "bedroom",
		"service.team":                              "bedroom-team",
		"service.domain":                            "furniture",
		"service.target":                            "99.0%",
		"service.tolerable_unavailability":          "1:40:48",
		"service.hourly_exposure.minor_units":       20000000.0,
		"service.hourly_exposure.formatted":         "$200,000",
		"service.runbook":                           "https://runbooks.example/bedroom",
		"service.pagerduty_service_id":              "PBEDROOM",
		"impact.level":                              "blocked",
		"impact.share":                              "100%",
		"figures.currency":                          "USD",
		"figures.rate.minor_units":                  0.0,
		"figures.loss_so_far.minor_units":           10000000.0,
		"figures.loss_so_far.formatted":             "$100,000",
		"figures.costs.minor_units":                 0.0,
		"figures.costs.formatted":                   "$0",
		"figures.estimated.minor_units":             10000000.0,
		"figures.estimated.formatted":               "$100,000",
		"time_to_restore.seconds":                   1800.0,
		"time_to_restore.hms":                       "0:30:00",
		"effectiveness.tolerable_unavailability":    "1:40:48",
		"effectiveness.average_rate.minor_units":    20000000.0,
		"effectiveness.average_rate.formatted":      "$200,000",
		"effectiveness.loss_at_tolerable.formatted": "$336,000",
		"effectiveness.loss_at_tolerable.minor_units":             33600000.0,
		"effectiveness.actual_loss.formatted":                     "$100,000",
		"effectiveness.protected.minor_units":                     23600000.0,
		"effectiveness.protected.formatted":                       "$236,000",
		"effectiveness.percent":                                   70.2, // one decimal, truncated toward zero
		"effectiveness.ratio_bp":                                  7024.0,
		"effectiveness.negative":                                  false,
		"effectiveness.tolerable_unavailability_per_week.seconds": 6048.0,
	}
	for path, w := range want {
		if got := dig(m, path); got != w {
			t.Errorf("%s = %#v, want %#v", path, got, w)
		}
	}
	if p := dig(m, "participants"); fmt.Sprint(p) != "[UALICE001]" {
		t.Errorf("participants = %v", p)
	}

	// The timeline, in order, with figures on the money events.
	var got httpapi.Incident
	r.json(t, &got)
	var kinds []string
	for i, ev := range got.Timeline {
		if ev.Seq != i+1 {
			t.Errorf("timeline[%d].seq = %d", i, ev.Seq)
		}
		kinds = append(kinds, ev.Kind)
	}
	if kinds[0] != "declared" || kinds[len(kinds)-1] != "resolved" || !slices.Contains(kinds, "class_changed") {
		t.Errorf("timeline kinds %v", kinds)
	}
	decl := got.Timeline[0]
	if decl.Actor != alice || decl.Impact == nil || decl.Impact.Level != "blocked" || !decl.At.Equal(tuesdayNoon) {
		t.Errorf("declared event %+v", decl)
	}
	last := got.Timeline[len(got.Timeline)-1]
	if last.Text != "restored" || last.Figures == nil || last.Figures.LossSoFar.Formatted != "$100,000" {
		t.Errorf("resolved event %+v", last)
	}
	if got.TimelineLength != len(inc.Events)+1 || len(got.Timeline) != got.TimelineLength {
		t.Errorf("timeline_length %d, %d events", got.TimelineLength, len(got.Timeline))
	}
	if strings.Contains(string(r.body), `"idem"`) {
		t.Errorf("idempotency keys leak into the API: %s", r.body)
	}
}

// dig reads a dotted path from decoded JSON.
func dig(m map[string]any, path string) any {
	var v any = m
	for _, k := range strings.Split(path, ".") {
		mm, ok := v.(map[string]any)
		if !ok {
			return fmt.Sprintf("<no %s>", path)
		}
		if v, ok = mm[k]; !ok {
			return fmt.Sprintf("<no %s>", path)
		}
	}
	return v
}

func TestOpenIncidentFiguresRun(t *testing.T) {
	e := newEnv(t, envOptions{})
	inc := e.declare("appointments", "Bookings slow", incident.ImpactDegraded, false)
	if _, err := e.desk.AddCost(e.ctx, inc.Number, deskOp(erin), incident.USD.Major(250), "courier"); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(90 * time.Minute)
	var got httpapi.Incident
	r := e.get("/api/incidents/1")
	wantStatus(t, r, http.StatusOK)
	r.json(t, &got)
	// $6,000/h × 50% = $3,000/h; 1.5 h → $4,500 + $250 costs.
	f := got.Figures
	if f.Rate.Formatted != "$3,000" || f.LossSoFar.MinorUnits != 475000 || f.Costs.Formatted != "$250" || f.Estimated.Formatted != "$7,750" {
		t.Errorf("figures %+v", f)
	}
	if got.Status != "open" || got.Class != "minor" || got.Priority != "low" || got.ResolvedAt != nil || got.TimeToRestore != nil || got.Effectiveness != nil {
		t.Errorf("open incident %+v", got)
	}
	if got.Service.Target != "95.0%" || got.Service.TolerableUnavailability != "8:24:00" {
		t.Errorf("service %+v", got.Service)
	}
	var costEv *httpapi.Event
	for i := range got.Timeline {
		if got.Timeline[i].Kind == "cost_added" {
			costEv = &got.Timeline[i]
		}
	}
	if costEv == nil || costEv.Amount == nil || costEv.Amount.MinorUnits != 25000 || costEv.Text != "courier" || costEv.Figures == nil {
		t.Errorf("cost event %+v", costEv)
	}
}

func TestSecurityIncidentIsShownAndMarked(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.declare("bedroom", "Customer data exposed", incident.ImpactPartial, true)
	var got httpapi.Incident
	r := e.get("/api/incidents/1")
	wantStatus(t, r, http.StatusOK)
	r.json(t, &got)
	if !got.Security || got.Class != "major" || got.Title != "Customer data exposed" {
		t.Errorf("security incident %+v", got)
	}
	var list httpapi.IncidentList
	e.get("/api/incidents").json(t, &list)
	if len(list.Incidents) != 1 || !list.Incidents[0].Security {
		t.Errorf("list %+v", list)
	}
}

func numbers(l httpapi.IncidentList) []int64 {
	out := []int64{}
	for _, i := range l.Incidents {
		out = append(out, i.Number)
	}
	return out
}

// TestListPagesWithACursor walks every listing, filtered or not, page by
// page with ?after=<next>: each incident appears once, in order, and the
// last page's next is null.
func TestListPagesWithACursor(t *testing.T) {
	e := newEnv(t, envOptions{})
	services := []string{"bedroom", "appointments", "ecommerce-platform"}
	for i := 0; i < 11; i++ {
		inc := e.declare(services[i%3], "Incident "+strconv.Itoa(i+1), incident.ImpactPartial, false)
		if i%4 == 0 {
			e.resolve(inc.Number, carol)
		}
	}
	for _, q := range []string{"", "&status=open", "&status=resolved", "&service=bedroom", "&service=bedroom&status=open"} {
		all := e.getList(t, "/api/incidents?limit=1000"+q)
		if all.Next != nil {
			t.Errorf("%s: one page holds everything, yet next = %d", q, *all.Next)
		}
		for _, limit := range []int{1, 2, 3, 5} {
			var walked []int64
			path := "/api/incidents?limit=" + strconv.Itoa(limit) + q
			for pages := 0; pages < 20; pages++ {
				l := e.getList(t, path)
				walked = append(walked, numbers(l)...)
				if l.Next == nil {
					break
				}
				if len(l.Incidents) != limit || *l.Next != l.Incidents[limit-1].Number {
					t.Fatalf("%s: a page of %d with next %d", path, len(l.Incidents), *l.Next)
				}
				path = "/api/incidents?limit=" + strconv.Itoa(limit) + q + "&after=" + strconv.FormatInt(*l.Next, 10)
			}
			if !slices.Equal(walked, numbers(all)) {
				t.Errorf("%s, pages of %d: %v, want %v", q, limit, walked, numbers(all))
			}
		}
	}
	// A page that ends exactly at the last incident has no next.
	if l := e.getList(t, "/api/incidents?limit=11"); l.Next != nil || len(l.Incidents) != 11 {
		t.Errorf("exact page: %d incidents, next %v", len(l.Incidents), l.Next)
	}
	if l := e.getList(t, "/api/incidents?after=1"); len(l.Incidents) != 0 || l.Next != nil {
		t.Errorf("after the oldest: %+v", l)
	}
}

func (e *env) getList(t *testing.T, path string) httpapi.IncidentList {
	t.Helper()
	r := e.get(path)
	wantStatus(t, r, http.StatusOK)
	var l httpapi.IncidentList
	r.json(t, &l)
	return l
}

func TestListFilters(t *testing.T) {
	e := newEnv(t, envOptions{})
	one := e.declare("bedroom", "Beds cannot be ordered", incident.ImpactBlocked, false)
	e.clock.Advance(30 * time.Minute)
	e.resolve(one.Number, alice)
	e.declare("appointments", "Bookings slow", incident.ImpactDegraded, false)
	e.declare("ecommerce-platform", "Checkout down", incident.ImpactBlocked, false)
	four := e.declare("bedroom", "Bed photos missing", incident.ImpactPartial, false)
	e.resolve(four.Number, alice)

	cases := []struct {
		query string
		want  []int64
	}{
		{"", []int64{4, 3, 2, 1}},
		{"?status=all", []int64{4, 3, 2, 1}},
		{"?status=open", []int64{3, 2}},
		{"?status=OPEN", []int64{3, 2}},
		{"?status=resolved", []int64{4, 1}},
		{"?status=resolved&limit=1", []int64{4}},
		{"?status=open&limit=1", []int64{3}},
		{"?limit=2", []int64{4, 3}},
		{"?service=bedroom", []int64{4, 1}},
		{"?service=BEDROOM&status=open", []int64{}},
		{"?service=bedroom&status=resolved&limit=1", []int64{4}},
		{"?service=nosuch", []int64{}},
		{"?limit=1000", []int64{4, 3, 2, 1}},
	}
	for _, c := range cases {
		t.Run(c.query, func(t *testing.T) {
			r := e.get("/api/incidents" + c.query)
			wantStatus(t, r, http.StatusOK)
			var l httpapi.IncidentList
			r.json(t, &l)
			if got := numbers(l); !slices.Equal(got, c.want) {
				t.Errorf("numbers %v, want %v", got, c.want)
			}
			if l.Count != len(c.want) {
				t.Errorf("count %d", l.Count)
			}
			for _, i := range l.Incidents {
				if i.Timeline != nil {
					t.Errorf("list item %d carries its timeline", i.Number)
				}
				if i.TimelineLength == 0 {
					t.Errorf("list item %d has no timeline_length", i.Number)
				}
			}
		})
	}
	var l httpapi.IncidentList
	e.get("/api/incidents").json(t, &l)
	if l.Limit != httpapi.DefaultLimit {
		t.Errorf("default limit %d", l.Limit)
	}
	if !strings.Contains(string(e.get("/api/incidents").body), `"incidents":[`) {
		t.Errorf("incidents is not an array")
	}
	// An empty result is an empty array, not null.
	if body := string(e.get("/api/incidents?service=nosuch").body); !strings.Contains(body, `"incidents":[]`) {
		t.Errorf("empty list: %s", body)
	}
}

func TestBadRequests(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.declare("bedroom", "Beds cannot be ordered", incident.ImpactBlocked, false)
	cases := []struct {
		method, path string
		status       int
	}{
		{"GET", "/api/incidents/2", http.StatusNotFound},
		{"GET", "/api/incidents/999999", http.StatusNotFound},
		{"GET", "/api/incidents/abc", http.StatusBadRequest},
		{"GET", "/api/incidents/0", http.StatusBadRequest},
		{"GET", "/api/incidents/-1", http.StatusBadRequest},
		{"GET", "/api/incidents/1.5", http.StatusBadRequest},
		{"GET", "/api/incidents/99999999999999999999999", http.StatusBadRequest},
		{"GET", "/api/incidents/%E2%9C%93", http.StatusBadRequest},
		{"GET", "/api/incidents/%00", http.StatusBadRequest},
		{"GET", "/api/incidents?status=closed", http.StatusBadRequest},
		{"GET", "/api/incidents?limit=0", http.StatusBadRequest},
		{"GET", "/api/incidents?limit=-5", http.StatusBadRequest},
		{"GET", "/api/incidents?limit=1001", http.StatusBadRequest},
		{"GET", "/api/incidents?limit=ten", http.StatusBadRequest},
		{"GET", "/api/incidents?after=0", http.StatusBadRequest},
		{"GET", "/api/incidents?after=soon", http.StatusBadRequest},
		{"GET", "/api/incidents?limit=99999999999999999999999", http.StatusBadRequest},
		{"GET", "/api/incidents?service=" + strings.Repeat("x", 300), http.StatusBadRequest},
		{"GET", "/api/incidents?service=%ff%fe", http.StatusBadRequest},
		{"GET", "/api/incidents/1/extra", http.StatusNotFound},
		{"GET", "/api/nothing", http.StatusNotFound},
		{"POST", "/api/incidents", http.StatusMethodNotAllowed},
		{"DELETE", "/api/incidents/1", http.StatusMethodNotAllowed},
		{"PUT", "/api/services", http.StatusMethodNotAllowed},
		{"POST", "/api/backup", http.StatusMethodNotAllowed},
		{"POST", "/healthz", http.StatusMethodNotAllowed},
		{"POST", "/readyz", http.StatusMethodNotAllowed},
		{"POST", "/metrics", http.StatusMethodNotAllowed},
	}
	for _, c := range cases {
		t.Run(c.method+" "+c.path, func(t *testing.T) {
			r := e.do(c.method, c.path, "Bearer "+token)
			wantJSONError(t, r, c.status)
			if c.status == http.StatusMethodNotAllowed && r.Header.Get("Allow") != "GET, HEAD" {
				t.Errorf("Allow %q", r.Header.Get("Allow"))
			}
		})
	}
	// Nothing changed.
	var l httpapi.IncidentList
	e.get("/api/incidents").json(t, &l)
	if !slices.Equal(numbers(l), []int64{1}) {
		t.Errorf("incidents after bad requests: %v", numbers(l))
	}
}

func TestServices(t *testing.T) {
	e := newEnv(t, envOptions{})
	var cat httpapi.Catalogue
	r := e.get("/api/services")
	wantStatus(t, r, http.StatusOK)
	r.json(t, &cat)
	if cat.Currency != "USD" || len(cat.ExposureBands) != 3 || cat.ExposureBands[2].TolerableUnavailability != "0:10:05" ||
		cat.ExposureBands[2].Tolerable.Seconds != 604.8 || cat.ExposureBands[0].MaxHourlyExposure.Formatted != "$7,000" {
		t.Errorf("catalogue header %+v", cat)
	}
	want := []struct {
		name, exposure, target, tolerable, in, out string
	}{
		{"appointments", "$6,000", "95.0%", "8:24:00", "team", "none"},
		{"bedroom", "$200,000", "99.0%", "1:40:48", "team", "domain"},
		{"ecommerce-platform", "$810,000", "99.9%", "0:10:05", "team", "team"},
	}
	if len(cat.Services) != len(want) {
		t.Fatalf("services %+v", cat.Services)
	}
	for i, w := range want {
		s := cat.Services[i]
		if s.Name != w.name || s.HourlyExposure.Formatted != w.exposure || s.Target != w.target ||
			s.TolerableUnavailability != w.tolerable || s.OnCall.InHours != w.in || s.OnCall.OutOfHours != w.out ||
			s.Domain != "furniture" || s.CurrentPeak != nil {
			t.Errorf("service %d: %+v, want %+v", i, s, w)
		}
	}
	if b := cat.Services[1]; b.Runbook != "https://runbooks.example/bedroom" || b.PagerDutyServiceID != "PBEDROOM" || b.Team != "bedroom-team" {
		t.Errorf("bedroom %+v", b)
	}
	if p := cat.Services[0].Peaks; len(p) != 1 || p[0].Name != "Black Friday" || p[0].Target != "99.9%" {
		t.Errorf("appointments peaks %+v", p)
	}
	if !strings.Contains(string(r.body), `"current_peak":null`) {
		t.Errorf("current_peak is not null outside a peak")
	}

	// During Black Friday, $300,000/h: 99.9%, team around the clock.
	e.clock.Set(blackFriday.Start.Add(time.Hour))
	e.get("/api/services").json(t, &cat)
	p := cat.Services[0].CurrentPeak
	if p == nil || p.Name != "Black Friday" || p.HourlyExposure.Formatted != "$300,000" || p.Target != "99.9%" ||
		p.TolerableUnavailability != "0:10:05" || p.OnCall.OutOfHours != "team" {
		t.Errorf("current peak %+v", p)
	}
	if cat.Services[1].CurrentPeak != nil {
		t.Errorf("bedroom has no peak")
	}
}

func TestProbes(t *testing.T) {
	e := newEnv(t, envOptions{})
	r := e.do(http.MethodGet, "/healthz", "")
	wantStatus(t, r, http.StatusOK)
	if string(bytes.TrimSpace(r.body)) != `{"status":"ok"}` {
		t.Errorf("healthz %s", r.body)
	}
	r = e.do(http.MethodGet, "/readyz", "")
	wantStatus(t, r, http.StatusOK)
	if string(bytes.TrimSpace(r.body)) != `{"status":"ok"}` {
		t.Errorf("readyz %s", r.body)
	}

	e.ready.Store(false)
	e.reason.Store("slack is not connected")
	r = e.do(http.MethodGet, "/readyz", "")
	wantStatus(t, r, http.StatusServiceUnavailable)
	if string(bytes.TrimSpace(r.body)) != `{"status":"unavailable","reason":"slack is not connected"}` {
		t.Errorf("readyz %s", r.body)
	}
	e.reason.Store("")
	var p httpapi.Probe
	e.do(http.MethodGet, "/readyz", "").json(t, &p)
	if p.Status != "unavailable" || p.Reason == "" {
		t.Errorf("readyz without a reason: %+v", p)
	}
	e.ready.Store(true)
	wantStatus(t, e.do(http.MethodGet, "/readyz", ""), http.StatusOK)

	// Storage gone: not ready, and the reason does not name the file.
	if err := e.store.Close(); err != nil {
		t.Fatal(err)
	}
	r = e.do(http.MethodGet, "/readyz", "")
	wantStatus(t, r, http.StatusServiceUnavailable)
	r.json(t, &p)
	if p.Reason != "storage does not answer" {
		t.Errorf("reason %q", p.Reason)
	}
	wantStatus(t, e.do(http.MethodGet, "/healthz", ""), http.StatusOK)
	// The API fails cleanly, and metrics still answer.
	wantJSONError(t, e.get("/api/incidents"), http.StatusInternalServerError)
	wantStatus(t, e.do(http.MethodGet, "/metrics", ""), http.StatusOK)
	if strings.Contains(string(e.get("/api/incidents").body), "incidentbot.db") {
		t.Errorf("internal error detail leaks")
	}
}

var (
	metricLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*",?)*\})? (-?[0-9]+(?:\.[0-9]+)?)$`)
	metaLine   = regexp.MustCompile(`^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.+)$`)
)

// parseMetrics checks the exposition format and returns "name{labels}" → value.
func parseMetrics(t *testing.T, body string) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	typed := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		if m := metaLine.FindStringSubmatch(line); m != nil {
			if m[1] == "TYPE" {
				if typed[m[2]] {
					t.Errorf("TYPE twice for %s", m[2])
				}
				typed[m[2]] = true
				if m[3] != "gauge" && m[3] != "counter" {
					t.Errorf("type %q", m[3])
				}
			}
			continue
		}
		m := metricLine.FindStringSubmatch(line)
		if m == nil {
			t.Errorf("not a metric line: %q", line)
			continue
		}
		if !typed[m[1]] {
			t.Errorf("%s has no TYPE before its samples", m[1])
		}
		v, _ := strconv.ParseFloat(m[3], 64)
		out[m[1]+m[2]] = v
	}
	return out
}

func TestMetrics(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.declare("ecommerce-platform", "Checkout down", incident.ImpactBlocked, false)
	e.declare("bedroom", "Beds cannot be ordered", incident.ImpactBlocked, false)
	e.declare("appointments", "Bookings slow", incident.ImpactPartial, false)
	done := e.declare("appointments", "Old one", incident.ImpactBlocked, false)
	e.clock.Advance(30 * time.Minute)
	e.resolve(done.Number, erin)

	e.do(http.MethodGet, "/api/incidents", "")         // 401
	e.do(http.MethodGet, "/api/incidents", "Bearer x") // 401
	e.get("/api/incidents")                            // 200
	e.get("/api/incidents/77")                         // 404
	e.do(http.MethodPost, "/api/incidents", "")        // 405

	r := e.do(http.MethodGet, "/metrics", "")
	wantStatus(t, r, http.StatusOK)
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("Content-Type %q", ct)
	}
	body := string(r.body)
	got := parseMetrics(t, body)
	jobs := got["incidentbot_jobs_pending"]
	want := map[string]float64{
		`incidentbot_incidents_open{class="major"}`: 2,
		`incidentbot_incidents_open{class="minor"}`: 1,
		// 30 min blocked at $810,000/h and $200,000/h; 30 min at 10% of $6,000/h.
		`incidentbot_running_loss_minor_units{class="major"}`:                         (405_000 + 100_000) * 100,
		`incidentbot_running_loss_minor_units{class="minor"}`:                         300 * 100,
		`incidentbot_slack_connected`:                                                 1,
		`incidentbot_build_info{version="v1.2.3"}`:                                    1,
		`incidentbot_http_requests_total{route="/api/incidents",code="401"}`:          2,
		`incidentbot_http_requests_total{route="/api/incidents",code="200"}`:          1,
		`incidentbot_http_requests_total{route="/api/incidents",code="405"}`:          1,
		`incidentbot_http_requests_total{route="/api/incidents/{number}",code="404"}`: 1,
	}
	for k, w := range want {
		if v, ok := got[k]; !ok || v != w {
			t.Errorf("%s = %v (present %v), want %v", k, v, ok, w)
		}
	}
	if jobs < 1 {
		t.Errorf("incidentbot_jobs_pending = %v; the desk planned Slack jobs", jobs)
	}
	for _, secret := range []string{"Checkout down", "Beds cannot", "Bookings slow", "ecommerce-platform", token} {
		if strings.Contains(body, secret) {
			t.Errorf("metrics reveal %q", secret)
		}
	}

	// The scrape is counted, and readiness is reflected.
	e.ready.Store(false)
	got = parseMetrics(t, string(e.do(http.MethodGet, "/metrics", "").body))
	if got[`incidentbot_http_requests_total{route="/metrics",code="200"}`] != 1 || got["incidentbot_slack_connected"] != 0 {
		t.Errorf("second scrape: %v", got)
	}
}

func TestMetricsInstrumentIsSafeForConcurrentUse(t *testing.T) {
	m := httpapi.NewMetrics()
	h := m.Instrument("/webhooks/alertmanager", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("bad") != "" {
			httpapi.WriteError(w, http.StatusBadRequest, "bad payload")
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			target := "/webhooks/alertmanager"
			if i%5 == 0 {
				target += "?bad=1"
			}
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, target, nil))
		})
	}
	wg.Wait()
	if a, b := m.Requests("/webhooks/alertmanager", 202), m.Requests("/webhooks/alertmanager", 400); a != 40 || b != 10 {
		t.Errorf("counted %d accepted, %d bad", a, b)
	}
	// A nil Metrics counts nothing and changes nothing.
	var nilM *httpapi.Metrics
	rec := httptest.NewRecorder()
	nilM.Instrument("/x", h).ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/x?bad=1", nil))
	if rec.Code != http.StatusBadRequest || strings.TrimSpace(rec.Body.String()) != `{"error":"bad payload"}` {
		t.Errorf("nil metrics: %d %s", rec.Code, rec.Body)
	}
}

func TestBackup(t *testing.T) {
	e := newEnv(t, envOptions{})
	one := e.declare("bedroom", "Beds cannot be ordered", incident.ImpactBlocked, false)
	e.clock.Advance(30 * time.Minute)
	e.resolve(one.Number, alice)
	e.declare("ecommerce-platform", "Checkout down", incident.ImpactBlocked, false)

	r := e.get("/api/backup")
	wantStatus(t, r, http.StatusOK)
	if ct := r.Header.Get("Content-Type"); ct != "application/octet-stream" {
		t.Errorf("Content-Type %q", ct)
	}
	if cd := r.Header.Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment;") || !strings.Contains(cd, `filename="incidentbot-20261117T123000Z.db"`) {
		t.Errorf("Content-Disposition %q", cd)
	}
	path := filepath.Join(t.TempDir(), "copy.db")
	if err := os.WriteFile(path, r.body, 0o600); err != nil {
		t.Fatal(err)
	}
	cp := bolttest.OpenPath(t, path, boltstore.Options{}) // checked when the test ends
	incs, err := cp.List(e.ctx, desk.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(incs) != 2 || incs[0].Title != "Checkout down" || incs[1].Title != "Beds cannot be ordered" {
		t.Fatalf("backup holds %d incidents", len(incs))
	}
	st := incs[1].State(e.desk.Policy(), e.clock.Now())
	if st.Status != incident.StatusResolved || st.LossSoFar != incident.USD.Major(100_000) {
		t.Errorf("backed-up incident 1: %s, %d", st.Status, st.LossSoFar)
	}
	pending, err := cp.Pending(e.ctx)
	if err != nil || len(pending) == 0 {
		t.Errorf("backup holds %d pending jobs (%v)", len(pending), err)
	}

	// HEAD answers without copying.
	h := e.do(http.MethodHead, "/api/backup", "Bearer "+token)
	if h.StatusCode != http.StatusOK || len(h.body) != 0 {
		t.Errorf("HEAD: %d, %d bytes", h.StatusCode, len(h.body))
	}
}

func TestBackupWhileWriting(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.declare("bedroom", "Beds cannot be ordered", incident.ImpactBlocked, false)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := e.desk.AddNote(e.ctx, 1, deskOp(alice), fmt.Sprintf("note %d", i)); err != nil {
				t.Error(err)
				return
			}
		}
	})
	var copies [][]byte
	for range 3 {
		r := e.get("/api/backup")
		if r.StatusCode == http.StatusTooManyRequests {
			continue
		}
		wantStatus(t, r, http.StatusOK)
		copies = append(copies, r.body)
	}
	close(stop)
	wg.Wait()
	for i, b := range copies {
		path := filepath.Join(t.TempDir(), fmt.Sprintf("copy%d.db", i))
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		cp, err := boltstore.Open(path, boltstore.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if err := cp.Check(); err != nil {
			t.Errorf("copy %d: %v", i, err)
		}
		if _, err := cp.Get(e.ctx, 1); err != nil {
			t.Errorf("copy %d: %v", i, err)
		}
		_ = cp.Close()
	}
}

func TestConcurrentReadsWhileDeclaring(t *testing.T) {
	e := newEnv(t, envOptions{})
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Go(func() {
			e.declare("bedroom", fmt.Sprintf("Incident %d", i), incident.ImpactPartial, false)
		})
		wg.Go(func() {
			for _, p := range []string{"/api/incidents", "/api/services", "/metrics", "/readyz"} {
				req, _ := http.NewRequest(http.MethodGet, e.srv.URL+p, nil)
				req.Header.Set("Authorization", "Bearer "+token)
				resp, err := e.srv.Client().Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				_ = resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Errorf("%s: %d", p, resp.StatusCode)
				}
			}
		})
	}
	wg.Wait()
	var l httpapi.IncidentList
	e.get("/api/incidents?status=open").json(t, &l)
	if l.Count != 10 {
		t.Errorf("%d open", l.Count)
	}
}

func TestWriteError(t *testing.T) {
	rec := httptest.NewRecorder()
	httpapi.WriteError(rec, http.StatusBadRequest, `alert "x" <b>bad</b>`)
	if rec.Code != http.StatusBadRequest || rec.Header().Get("Content-Type") != "application/json; charset=utf-8" ||
		rec.Header().Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("%d %v", rec.Code, rec.Header())
	}
	if got := strings.TrimSpace(rec.Body.String()); got != `{"error":"alert \"x\" \u003cb\u003ebad\u003c/b\u003e"}` {
		t.Errorf("body %s", got)
	}
}

func TestNilDependencies(t *testing.T) {
	s := httpapi.New(httpapi.Options{APIToken: token})
	mux := http.NewServeMux()
	s.Routes(mux)
	for _, c := range []struct {
		path   string
		status int
	}{
		{"/healthz", 200}, {"/readyz", 503}, {"/metrics", 200}, {"/api/incidents", 503}, {"/api/backup", 503},
	} {
		req := httptest.NewRequest(http.MethodGet, c.path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		if rec.Code != c.status {
			t.Errorf("%s: %d, want %d", c.path, rec.Code, c.status)
		}
	}
}

// fakeStore fails or blocks backups on demand.
type fakeStore struct {
	none    bool          // offer no backup (PostgreSQL)
	before  bool          // fail before writing anything
	partial bool          // fail after writing some
	block   chan struct{} // wait for this before writing
	started chan struct{}
}

func (f *fakeStore) Ping(context.Context) error                  { return nil }
func (f *fakeStore) Pending(context.Context) ([]desk.Job, error) { return nil, nil }
func (f *fakeStore) Backup(w io.Writer) (int64, error) {
	if f.started != nil {
		close(f.started)
	}
	if f.block != nil {
		<-f.block
	}
	if f.none {
		return 0, incident.Errorf(incident.EINVALID, "With storage.driver postgres, back up the database with pg_dump.")
	}
	if f.before {
		return 0, errors.New("disk on fire at /var/lib/incidentbot.db")
	}
	n, err := w.Write(bytes.Repeat([]byte("x"), 64<<10))
	if err != nil || f.partial {
		return int64(n), errors.New("disk on fire at /var/lib/incidentbot.db")
	}
	return int64(n), nil
}

func serveFake(t *testing.T, fs *fakeStore) *httptest.Server {
	e := newEnv(t, envOptions{})
	s := httpapi.New(httpapi.Options{Desk: e.desk, Store: fs, APIToken: token})
	mux := http.NewServeMux()
	s.Routes(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func getBackup(t *testing.T, srv *httptest.Server) (*http.Response, []byte, error) {
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/backup", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	return resp, body, err
}

func TestBackupFailures(t *testing.T) {
	t.Run("before the first byte", func(t *testing.T) {
		resp, body, err := getBackup(t, serveFake(t, &fakeStore{before: true}))
		if err != nil || resp.StatusCode != http.StatusInternalServerError || resp.Header.Get("Content-Disposition") != "" {
			t.Fatalf("%v %d %v", err, resp.StatusCode, resp.Header)
		}
		if !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") || strings.Contains(string(body), "incidentbot.db") {
			t.Errorf("body %s", body)
		}
	})
	t.Run("storage without backups", func(t *testing.T) {
		resp, body, err := getBackup(t, serveFake(t, &fakeStore{none: true}))
		if err != nil || resp.StatusCode != http.StatusNotImplemented || !strings.Contains(string(body), "pg_dump") {
			t.Fatalf("%v %d %s", err, resp.StatusCode, body)
		}
	})
	t.Run("part-way", func(t *testing.T) {
		// The client must not mistake a short copy for a whole one.
		resp, body, err := getBackup(t, serveFake(t, &fakeStore{partial: true}))
		if err == nil {
			t.Fatalf("a truncated backup read as complete: %d, %d bytes", resp.StatusCode, len(body))
		}
	})
	t.Run("one at a time", func(t *testing.T) {
		fs := &fakeStore{block: make(chan struct{}), started: make(chan struct{})}
		srv := serveFake(t, fs)
		first := make(chan int, 1)
		go func() {
			resp, _, _ := getBackup(t, srv)
			first <- resp.StatusCode
		}()
		<-fs.started
		resp, _, _ := getBackup(t, srv)
		if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
			t.Errorf("second backup: %d", resp.StatusCode)
		}
		close(fs.block)
		if c := <-first; c != http.StatusOK {
			t.Errorf("first backup: %d", c)
		}
	})
}

// GET /api/services shows each service's weekly error budget, flags a
// service past 100%, and leaves drills out of it; a drill is flagged in the
// incident API and left out of the loss metrics.
func TestServicesErrorBudgetAndDrills(t *testing.T) {
	e := newEnv(t, envOptions{})
	blocked := incident.DefaultShares.Impact(incident.ImpactBlocked)
	degraded := e.declare("bedroom", "Beds blocked", incident.ImpactDegraded, false)
	e.clock.Advance(20 * time.Minute) // 10 min of unavailability
	e.resolve(degraded.Number, alice)
	realInc := e.declare("bedroom", "Beds blocked", incident.ImpactBlocked, false)
	e.clock.Advance(30 * time.Minute) // 30 min more
	e.resolve(realInc.Number, alice)
	drill, err := e.desk.Declare(e.ctx, desk.DeclareRequest{Service: "appointments", Title: "Chaos Day", Impact: blocked, Drill: true, Actor: alice})
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(9 * time.Hour) // a drill blocked for 9 h: past 95.0%'s 8:24:00 were it real
	var cat httpapi.Catalogue
	e.get("/api/services").json(t, &cat)
	byName := map[string]*httpapi.BudgetInfo{}
	for _, s := range cat.Services {
		byName[s.Name] = s.ErrorBudget
	}
	b := byName["bedroom"]
	if b == nil || b.Used.HMS != "0:40:00" || b.Budget.HMS != "1:40:48" || b.Left.HMS != "1:00:48" || b.UsedPercent != "39.7%" || b.OverBudget || b.Target != "99.0%" {
		t.Errorf("bedroom budget %+v, want 0:40:00 of 1:40:48 = 39.7%%, 1:00:48 left", b)
	}
	if a := byName["appointments"]; a == nil || a.Used.Seconds != 0 || a.OverBudget {
		t.Errorf("appointments budget %+v: the drill counted", a)
	}
	var got httpapi.Incident
	e.get(fmt.Sprintf("/api/incidents/%d", drill.Number)).json(t, &got)
	if !got.Drill || got.Figures.LossSoFar.MinorUnits == 0 {
		t.Errorf("drill in the API: drill=%v loss %+v; want flagged and priced", got.Drill, got.Figures.LossSoFar)
	}
	e.get(fmt.Sprintf("/api/incidents/%d", realInc.Number)).json(t, &got)
	if got.Drill {
		t.Error("a real incident is flagged as a drill")
	}
	if m := string(e.get("/metrics").body); !strings.Contains(m, `incidentbot_incidents_open{class="major"} 0`) || !strings.Contains(m, `incidentbot_running_loss_minor_units{class="major"} 0`) {
		t.Errorf("the open drill is in the metrics:\n%s", m)
	}

	// Past 100%: a real incident blocks appointments for 9 hours.
	over := e.declare("appointments", "Bookings down", incident.ImpactBlocked, false)
	e.clock.Advance(9 * time.Hour)
	e.get("/api/services").json(t, &cat)
	for _, s := range cat.Services {
		if s.Name == "appointments" && (s.ErrorBudget == nil || !s.ErrorBudget.OverBudget || s.ErrorBudget.UsedPercent != "107.1%" || s.ErrorBudget.Left.HMS != "-0:36:00") {
			t.Errorf("appointments after #%d: %+v, want over budget at 107.1%%", over.Number, s.ErrorBudget)
		}
	}
}
