package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	dto "github.com/prometheus/client_model/go"

	"github.com/incidentbot/incidentbot/incident"
	"github.com/incidentbot/incidentbot/incident/desk"
)

// NewRegistry returns a Prometheus registry with the Go runtime and process
// collectors: make one per process and pass it to everything that adds
// metrics. Nothing in this module touches the global default registry.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// Metrics counts HTTP requests by route and status code
// (incidentbot_http_requests_total). It is safe for concurrent use; a nil
// *Metrics counts nothing.
type Metrics struct {
	requests *prometheus.CounterVec
}

// NewMetrics returns request counters registered on reg; a reg that already
// has them (another Server on the same registry) shares them.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "incidentbot_http_requests_total",
		Help: "HTTP requests answered, by route and status code.",
	}, []string{"route", "code"})
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if !errors.As(err, &are) {
			panic("httpapi: register request counters: " + err.Error())
		}
		c = are.ExistingCollector.(*prometheus.CounterVec)
	}
	return &Metrics{requests: c}
}

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
		defer func() { m.requests.WithLabelValues(route, strconv.Itoa(sw.code())).Inc() }()
		h.ServeHTTP(sw, r)
	})
}

// Requests returns how many requests route answered with code.
func (m *Metrics) Requests(route string, code int) uint64 {
	if m == nil {
		return 0
	}
	ch := make(chan prometheus.Metric)
	go func() { m.requests.Collect(ch); close(ch) }()
	var n uint64
	for pm := range ch {
		var d dto.Metric
		if pm.Write(&d) == nil && labelsAre(d.GetLabel(), route, strconv.Itoa(code)) {
			n = uint64(d.GetCounter().GetValue())
		}
	}
	return n
}

func labelsAre(pairs []*dto.LabelPair, route, code string) bool {
	got := map[string]string{}
	for _, p := range pairs {
		got[p.GetName()] = p.GetValue()
	}
	return got["route"] == route && got["code"] == code
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

// stateCollector reads, at scrape time, what the bot's state says: open
// incidents and their running loss by class (drills left out), pending
// jobs and each queue's backlog, the Slack connection and the version. It
// reveals counts, ages and money, never incident text.
type stateCollector struct {
	s                                       *Server
	open, loss, pending, depth, oldest, con *prometheus.Desc
	build                                   *prometheus.Desc
}

func newStateCollector(s *Server) *stateCollector {
	currency := ""
	if s.desk != nil {
		currency = " (" + s.desk.Policy().Currency.Code + ")"
	}
	d := prometheus.NewDesc
	return &stateCollector{s: s,
		open: d("incidentbot_incidents_open", "Open incidents by class.", []string{"class"}, nil),
		loss: d("incidentbot_running_loss_minor_units",
			"Loss so far of open incidents by class, in minor units of the organisation's currency"+currency+".", []string{"class"}, nil),
		pending: d("incidentbot_jobs_pending", "Side-effect and input jobs waiting to be done, due or scheduled.", nil, nil),
		depth:   d("incidentbot_job_queue_depth", "Jobs due now and not done yet, by queue (effects: Slack and PagerDuty calls; input: received envelopes).", []string{"queue"}, nil),
		oldest:  d("incidentbot_job_queue_oldest_due_age_seconds", "How long the longest-waiting due job of the queue has been due (0 when none is).", []string{"queue"}, nil),
		con:     d("incidentbot_slack_connected", "Whether the Slack connection is up (1) or not (0).", nil, nil),
		build:   d("incidentbot_build_info", "The running incidentbot's version.", []string{"version"}, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.open, c.loss, c.pending, c.depth, c.oldest, c.con, c.build} {
		ch <- d
	}
}

// Collect implements prometheus.Collector. A storage read that fails (or
// does not finish within metricsTimeout) leaves its metrics out of this
// scrape and is logged.
func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), metricsTimeout)
	defer cancel()
	now := c.s.now()
	if c.s.desk != nil {
		c.collectIncidents(ctx, ch, now)
	}
	if c.s.store != nil {
		c.collectJobs(ctx, ch, now)
	}
	connected := 0.0
	if ok, _ := c.s.ready(); ok {
		connected = 1
	}
	ch <- prometheus.MustNewConstMetric(c.con, prometheus.GaugeValue, connected)
	ch <- prometheus.MustNewConstMetric(c.build, prometheus.GaugeValue, 1, c.s.version)
}

func (c *stateCollector) collectIncidents(ctx context.Context, ch chan<- prometheus.Metric, now time.Time) {
	open, err := c.s.desk.List(ctx, desk.Filter{OpenOnly: true})
	if err != nil {
		c.s.log.Warn("metrics: cannot list open incidents", "err", err)
		return
	}
	count := map[incident.Class]float64{}
	loss := map[incident.Class]float64{}
	for _, inc := range open {
		st := inc.State(c.s.desk.Policy(), now)
		if st.Status != incident.StatusOpen || inc.Drill {
			continue // drills are left out of every reliability and loss measure
		}
		count[st.Class]++
		loss[st.Class] += float64(st.LossSoFar)
	}
	for _, cl := range []incident.Class{incident.Major, incident.Minor} {
		ch <- prometheus.MustNewConstMetric(c.open, prometheus.GaugeValue, count[cl], string(cl))
		ch <- prometheus.MustNewConstMetric(c.loss, prometheus.GaugeValue, loss[cl], string(cl))
	}
}

func (c *stateCollector) collectJobs(ctx context.Context, ch chan<- prometheus.Metric, now time.Time) {
	jobs, err := c.s.store.Pending(ctx)
	if err != nil {
		c.s.log.Warn("metrics: cannot count pending jobs", "err", err)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.pending, prometheus.GaugeValue, float64(len(jobs)))
	for _, q := range []string{desk.QueueEffects, desk.QueueInput} {
		depth, oldest := backlog(jobs, q, now)
		ch <- prometheus.MustNewConstMetric(c.depth, prometheus.GaugeValue, float64(depth), QueueLabel(q))
		ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue, oldest.Seconds(), QueueLabel(q))
	}
}

// backlog counts the jobs of queue due at now and how long the earliest
// has been due.
func backlog(jobs []desk.Job, queue string, now time.Time) (int, time.Duration) {
	n, oldest := 0, time.Duration(0)
	for _, j := range jobs {
		if j.Queue != queue || j.DueAt.After(now) {
			continue
		}
		n++
		oldest = max(oldest, now.Sub(j.DueAt))
	}
	return n, oldest
}

// QueueLabel is the metric label of a job queue: "effects" or "input".
func QueueLabel(queue string) string {
	if queue == desk.QueueEffects {
		return "effects"
	}
	return queue
}
