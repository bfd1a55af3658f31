package insights

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/incidentbot/incidentbot/incident"
	"github.com/incidentbot/incidentbot/incident/desk"
	"github.com/incidentbot/incidentbot/incident/httpapi"
	"github.com/incidentbot/incidentbot/review"
	"github.com/incidentbot/incidentbot/review/reviewstore"
)

// Incidents lists incidents; *desk.Desk and *boltstore.Store satisfy it.
type Incidents interface {
	List(ctx context.Context, f desk.Filter) ([]*incident.Incident, error)
}

// Reviews lists every drafted or published review with its readers;
// *reviewstore.Store satisfies it.
type Reviews interface {
	List(ctx context.Context) ([]*review.Review, error)
}

// HandlerOptions configure the insights pages. Incidents, Reviews and
// Catalogue are required.
type HandlerOptions struct {
	Incidents Incidents
	Reviews   Reviews
	Catalogue *incident.Catalogue
	Now       func() time.Time // nil: time.Now
	Logger    *slog.Logger
	Metrics   *httpapi.Metrics // nil counts nothing
	// ReviewsBase is where the review site is mounted; default /reviews/.
	ReviewsBase string
	// Sample, when set, adds a seeded history of past incidents (sample
	// data, numbered from SampleFirst) to what the stores hold, and the
	// pages say so. The sandbox sets it to SampleHistory.
	Sample func(cat *incident.Catalogue, now time.Time, first int64) ([]*incident.Incident, []*review.Review)
	// SampleData marks the pages as showing sample data.
	SampleData bool
}

// SampleFirst is the first number of the sample incidents, far from the
// real ones.
const SampleFirst = 100_001

// Routes and their metric labels.
const (
	Path    = "/insights"
	PathCSV = "/insights.csv"
)

// Routes registers GET (and HEAD) /insights and /insights.csv on mux, with
// the review site's access: public, with security incidents only in totals.
func Routes(mux *http.ServeMux, o HandlerOptions) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.ReviewsBase == "" {
		o.ReviewsBase = "/reviews/"
	}
	h := &handler{o: o}
	mux.Handle("GET "+Path, o.Metrics.Instrument(Path, http.HandlerFunc(h.page)))
	mux.Handle("GET "+PathCSV, o.Metrics.Instrument(PathCSV, http.HandlerFunc(h.csv)))
}

type handler struct{ o HandlerOptions }

func (h *handler) headers(w http.ResponseWriter) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", ContentSecurityPolicy())
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "same-origin")
	hd.Set("Cache-Control", "no-cache")
}

// request is a parsed query.
type request struct {
	period        time.Duration
	service, team string
}

// parse reads ?period=&service=&team=; a bad one has been answered.
func (h *handler) parse(w http.ResponseWriter, r *http.Request) (request, bool) {
	q := r.URL.Query()
	req := request{period: DefaultPeriod}
	if p := q.Get("period"); p != "" {
		d, err := reviewstore.ParsePeriod(p)
		if err != nil {
			httpapi.WriteError(w, http.StatusBadRequest, "period: "+incident.ErrorMessage(err))
			return req, false
		}
		req.period = d
	}
	cat := h.o.Catalogue
	if s := strings.TrimSpace(q.Get("service")); s != "" {
		svc, ok := cat.Service(s)
		if !ok {
			httpapi.WriteError(w, http.StatusNotFound, "there is no service called "+clip(s))
			return req, false
		}
		req.service = svc.Name
	}
	if t := strings.TrimSpace(q.Get("team")); t != "" {
		tm, ok := teamByName(cat, t)
		if !ok {
			httpapi.WriteError(w, http.StatusNotFound, "there is no team called "+clip(t))
			return req, false
		}
		req.team = tm
	}
	return req, true
}

func teamByName(cat *incident.Catalogue, name string) (string, bool) {
	for _, t := range cat.Teams {
		if strings.EqualFold(t.Name, name) {
			return t.Name, true
		}
	}
	return "", false
}

func clip(s string) string {
	if len(s) > 100 {
		return s[:100]
	}
	return s
}

// compute reads the stores and computes the insights of a request.
func (h *handler) compute(ctx context.Context, req request) (Insights, error) {
	now := h.o.Now()
	incs, err := h.incidents(ctx, req.period, now)
	if err != nil {
		return Insights{}, err
	}
	reviews, err := h.o.Reviews.List(ctx)
	if err != nil {
		return Insights{}, err
	}
	in := Input{Catalogue: h.o.Catalogue, Incidents: incs, Reviews: reviews,
		Period: req.period, Service: req.service, Team: req.team, Now: now}
	if h.o.Sample != nil {
		si, sr := h.o.Sample(h.o.Catalogue, now, SampleFirst)
		in.Incidents, in.Reviews, in.SampleFrom = append(in.Incidents, si...), append(in.Reviews, sr...), SampleFirst
	}
	return Compute(in), nil
}

// incidents lists what the period and the budget window need: incidents
// started since the earlier of the two (less the budget lookback), and
// every open one.
func (h *handler) incidents(ctx context.Context, period time.Duration, now time.Time) ([]*incident.Incident, error) {
	f := desk.Filter{}
	if period > 0 {
		f.Since = now.Add(-max(period, incident.BudgetWindow) - desk.BudgetLookback)
	}
	list, err := h.o.Incidents.List(ctx, f)
	if err != nil || f.Since.IsZero() {
		return list, err
	}
	open, err := h.o.Incidents.List(ctx, desk.Filter{OpenOnly: true})
	if err != nil {
		return nil, err
	}
	seen := map[int64]bool{}
	for _, inc := range list {
		seen[inc.Number] = true
	}
	for _, inc := range open {
		if !seen[inc.Number] {
			list = append(list, inc)
		}
	}
	return list, nil
}

func (h *handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	h.o.Logger.Error("insights", "path", r.URL.Path, "err", err)
	httpapi.WriteError(w, http.StatusInternalServerError, "the insights could not be computed")
}

// insights answers the request's headers and computes its figures; ok is
// false when it has already answered with an error.
func (h *handler) insights(w http.ResponseWriter, r *http.Request) (Insights, bool) {
	h.headers(w)
	req, ok := h.parse(w, r)
	if !ok {
		return Insights{}, false
	}
	x, err := h.compute(r.Context(), req)
	if err != nil {
		h.fail(w, r, err)
		return Insights{}, false
	}
	return x, true
}

func (h *handler) page(w http.ResponseWriter, r *http.Request) {
	x, ok := h.insights(w, r)
	if !ok {
		return
	}
	var b bytes.Buffer
	if err := Render(&b, x, Options{Path: Path, ReviewsBase: h.o.ReviewsBase, Services: h.serviceNames(), Teams: h.teamNames(), SampleData: h.o.SampleData || h.o.Sample != nil}); err != nil {
		h.fail(w, r, err)
		return
	}
	write(w, "text/html; charset=utf-8", b.Bytes())
}

func (h *handler) csv(w http.ResponseWriter, r *http.Request) {
	x, ok := h.insights(w, r)
	if !ok {
		return
	}
	var b bytes.Buffer
	if err := WriteCSV(&b, x); err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Disposition", `attachment; filename="incident-insights-`+PeriodLabel(x.Period)+`.csv"`)
	write(w, "text/csv; charset=utf-8", b.Bytes())
}

func write(w http.ResponseWriter, contentType string, body []byte) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

func (h *handler) serviceNames() []string {
	var out []string
	for _, s := range h.o.Catalogue.Services {
		out = append(out, s.Name)
	}
	return out
}

func (h *handler) teamNames() []string {
	var out []string
	for _, t := range h.o.Catalogue.Teams {
		out = append(out, t.Name)
	}
	sort.Strings(out)
	return out
}
