package httpapi

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/incidentbot/incidentbot/incident"
	"github.com/incidentbot/incidentbot/incident/desk"
)

// Metrics counts HTTP requests by route and status code. It is safe for
// concurrent use; a nil *Metrics counts nothing.
type Metrics struct {
	mu       sync.Mutex
	requests map[requestKey]uint64
}

type requestKey struct {
	route string
	code  int
}

// NewMetrics returns empty counters.
func NewMetrics() *Metrics { return &Metrics{requests: map[requestKey]uint64{}} }

// Instrument wraps h so that each request it serves is counted under route
// with the status code it answered. Use a fixed route label (the pattern,
// e.g. "/webhooks/alertmanager"), never the raw path: label values must
// stay few.
func (m *Metrics) Instrument(route string, h http.Handler) http.Handler {
	if m == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w}
		// Counted even when the handler panics (e.g. http.ErrAbortHandler).
		defer func() { m.add(route, sw.code()) }()
		h.ServeHTTP(sw, r)
	})
}

func (m *Metrics) add(route string, code int) {
	m.mu.Lock()
	m.requests[requestKey{route, code}]++
	m.mu.Unlock()
}

// Requests returns how many requests route answered with code.
func (m *Metrics) Requests(route string, code int) uint64 {
	if m == nil {
		return 0
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.requests[requestKey{route, code}]
}

func (m *Metrics) snapshot() []requestCount {
	m.mu.Lock()
	out := make([]requestCount, 0, len(m.requests))
	for k, v := range m.requests {
		out = append(out, requestCount{k, v})
	}
	m.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].route != out[j].route {
			return out[i].route < out[j].route
		}
		return out[i].code < out[j].code
	})
	return out
}

type requestCount struct {
	requestKey
	n uint64
}

// statusWriter remembers the status code a handler answered with.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

// Flush keeps streaming handlers streaming through the wrapper.
func (w *statusWriter) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) code() int {
	if w.status == 0 {
		return http.StatusOK // the handler wrote nothing: net/http sends 200
	}
	return w.status
}

// metricsTimeout bounds the storage reads of a scrape.
const metricsTimeout = 5 * time.Second

// serveMetrics serves GET /metrics in the Prometheus text exposition
// format (version 0.0.4). It reveals counts and money, never incident text.
func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request) {
	var b bytes.Buffer
	ctx, cancel := context.WithTimeout(r.Context(), metricsTimeout)
	defer cancel()

	if s.desk != nil {
		if open, err := s.desk.List(ctx, desk.Filter{OpenOnly: true}); err != nil {
			s.log.Warn("metrics: cannot list open incidents", "err", err)
		} else {
			now := s.now()
			count := map[incident.Class]int64{}
			loss := map[incident.Class]int64{}
			for _, inc := range open {
				st := inc.State(s.desk.Policy(), now)
				if st.Status != incident.StatusOpen || inc.Drill {
					continue // drills are left out of every reliability and loss measure
				}
				count[st.Class]++
				loss[st.Class] += int64(st.LossSoFar)
			}
			header(&b, "incidentbot_incidents_open", "gauge", "Open incidents by class.")
			for _, c := range []incident.Class{incident.Major, incident.Minor} {
				sample(&b, "incidentbot_incidents_open", count[c], "class", string(c))
			}
			header(&b, "incidentbot_running_loss_minor_units", "gauge",
				"Loss so far of open incidents by class, in minor units of the organisation's currency ("+s.desk.Policy().Currency.Code+").")
			for _, c := range []incident.Class{incident.Major, incident.Minor} {
				sample(&b, "incidentbot_running_loss_minor_units", loss[c], "class", string(c))
			}
		}
	}
	if s.store != nil {
		if jobs, err := s.store.Pending(ctx); err != nil {
			s.log.Warn("metrics: cannot count pending jobs", "err", err)
		} else {
			header(&b, "incidentbot_jobs_pending", "gauge", "Side-effect jobs (Slack, PagerDuty) waiting to be done.")
			sample(&b, "incidentbot_jobs_pending", int64(len(jobs)))
		}
	}
	connected := int64(0)
	if ok, _ := s.ready(); ok {
		connected = 1
	}
	header(&b, "incidentbot_slack_connected", "gauge", "Whether the Slack connection is up (1) or not (0).")
	sample(&b, "incidentbot_slack_connected", connected)
	header(&b, "incidentbot_build_info", "gauge", "The running incidentbot's version.")
	sample(&b, "incidentbot_build_info", 1, "version", s.version)

	// Counted so far; this scrape is counted after it is answered.
	header(&b, "incidentbot_http_requests_total", "counter", "HTTP requests answered, by route and status code.")
	for _, rc := range s.metrics.snapshot() {
		fmt.Fprintf(&b, "incidentbot_http_requests_total{route=\"%s\",code=\"%d\"} %d\n", escapeLabel(rc.route), rc.code, rc.n)
	}

	h := w.Header()
	h.Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(b.Len()))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b.Bytes())
}

func header(b *bytes.Buffer, name, typ, help string) {
	fmt.Fprintf(b, "# HELP %s %s\n# TYPE %s %s\n", name, escapeHelp(help), name, typ)
}

// sample writes one sample; labels are name, value pairs.
func sample(b *bytes.Buffer, name string, v int64, labels ...string) {
	b.WriteString(name)
	if len(labels) > 0 {
		b.WriteByte('{')
		for i := 0; i+1 < len(labels); i += 2 {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(b, "%s=\"%s\"", labels[i], escapeLabel(labels[i+1]))
		}
		b.WriteByte('}')
	}
	fmt.Fprintf(b, " %d\n", v)
}

var (
	labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
)

func escapeLabel(s string) string { return labelEscaper.Replace(s) }
func escapeHelp(s string) string  { return helpEscaper.Replace(s) }
