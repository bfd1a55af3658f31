package insights_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/incident"
	"github.com/incidentbot/incidentbot/incident/desk"
	"github.com/incidentbot/incidentbot/review"
	"github.com/incidentbot/incidentbot/review/insights"
)

// memIncidents is an in-memory incident list honouring the desk's filter.
type memIncidents struct {
	incs  []*incident.Incident
	cat   *incident.Catalogue
	calls []desk.Filter
}

func (m *memIncidents) List(_ context.Context, f desk.Filter) ([]*incident.Incident, error) {
	m.calls = append(m.calls, f)
	var out []*incident.Incident
	for _, inc := range m.incs {
		if f.OpenOnly && inc.State(m.cat.Policy, now).Status != incident.StatusOpen {
			continue
		}
		if !f.Since.IsZero() && inc.StartedAt.Before(f.Since) {
			continue
		}
		out = append(out, inc)
	}
	return out, nil
}

type memReviews []*review.Review

func (m memReviews) List(context.Context) ([]*review.Review, error) { return m, nil }

func serve(t *testing.T, w world, sample bool) (*httptest.Server, *memIncidents) {
	t.Helper()
	incs := &memIncidents{incs: w.incs, cat: w.cat}
	mux := http.NewServeMux()
	insights.Routes(mux, insights.HandlerOptions{Incidents: incs, Reviews: memReviews(w.reviews), Catalogue: w.cat,
		Now: func() time.Time { return now }, SampleData: sample})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, incs
}

func get(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

func TestHandler(t *testing.T) {
	srv, incs := serve(t, handChecked(), false)
	resp, body := get(t, srv.URL+"/insights")
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /insights: %s %s", resp.Status, resp.Header.Get("Content-Type"))
	}
	csp := resp.Header.Get("Content-Security-Policy")
	if !strings.HasPrefix(csp, "default-src 'none';") || strings.Contains(csp, "script-src") || strings.Contains(csp, "unsafe") || csp != insights.ContentSecurityPolicy() {
		t.Errorf("CSP %q", csp)
	}
	if regexp.MustCompile(`(?i)<script|\son[a-z]+\s*=|javascript:`).MatchString(body) {
		t.Error("the page carries a script")
	}
	for _, want := range []string{`<figure id="incidents"`, `<figure id="chaos-days"`, `href="/reviews/4"`, "Chaos Day review #4: Failover drill", `<option value="90d" selected>90 days</option>`} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	if strings.Contains(body, "Leaked tokens") || strings.Contains(body, "Sample data") {
		t.Error("the page lists a private review or claims to be sample data")
	}
	// It read what the period and the budget window need, and the open incidents.
	if len(incs.calls) != 2 || !incs.calls[0].Since.Equal(now.Add(-insights.DefaultPeriod-desk.BudgetLookback)) || !incs.calls[1].OpenOnly {
		t.Errorf("store calls %+v", incs.calls)
	}

	resp, body = get(t, srv.URL+"/insights.csv?period=30d&team=bedroom-team")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/csv; charset=utf-8" ||
		!strings.Contains(resp.Header.Get("Content-Disposition"), `filename="incident-insights-30d.csv"`) {
		t.Fatalf("GET /insights.csv: %s %v", resp.Status, resp.Header)
	}
	if !strings.HasPrefix(body, "chart,key,series,value,unit\n") || !strings.Contains(body, "error_budget,bedroom,used,720,seconds") || strings.Contains(body, "appointments") {
		t.Errorf("team CSV:\n%s", body)
	}

	for path, code := range map[string]int{
		"/insights?period=soon":           http.StatusBadRequest,
		"/insights?service=nope":          http.StatusNotFound,
		"/insights.csv?team=nope":         http.StatusNotFound,
		"/insights?service=BEDROOM":       http.StatusOK,
		"/insights?period=all&team=":      http.StatusOK,
		"/insights?period=7d&service=%20": http.StatusOK,
	} {
		if resp, body := get(t, srv.URL+path); resp.StatusCode != code {
			t.Errorf("GET %s = %s, want %d: %s", path, resp.Status, code, body)
		}
	}
	if resp, err := http.Post(srv.URL+"/insights", "text/plain", nil); err != nil || resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /insights = %v %v", resp.Status, err)
	}
}

func TestHandlerMarksSampleData(t *testing.T) {
	srv, _ := serve(t, handChecked(), true)
	if _, body := get(t, srv.URL+"/insights"); !strings.Contains(body, `id="sample-data"`) {
		t.Error("sample data is not marked")
	}
}
