// Package telemetry turns what the bot's parts observe into Prometheus
// metrics: job runs (desk.Runner), Slack and PagerDuty API calls
// (internal/apicall), webhook and Socket Mode intake. The parts know no
// metrics library: each exposes a small observer hook, and the wiring
// (cmd/incidentbot) connects the hooks to the methods of one Metrics.
//
// Every label has a small fixed set of values (job kind, queue, API method,
// outcome, webhook source, envelope type): no incident text, title,
// service name or ID ever becomes a label.
package telemetry

import (
	"regexp"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/incidentbot/incidentbot/bot"
	"github.com/incidentbot/incidentbot/incident/desk"
	"github.com/incidentbot/incidentbot/incident/httpapi"
	"github.com/incidentbot/incidentbot/internal/apicall"
)

// Webhook sources.
const (
	SourceAlertmanager = "alertmanager"
	SourcePagerDuty    = "pagerduty"
)

// Metrics holds the collectors. Its methods are safe for concurrent use;
// those of a nil *Metrics do nothing.
type Metrics struct {
	jobsStarted, jobsAbandoned, takeovers *prometheus.CounterVec
	jobsFinished                          *prometheus.CounterVec
	slack, pagerduty                      *prometheus.HistogramVec
	webhooks, envelopes                   *prometheus.CounterVec
	ack                                   *prometheus.HistogramVec
}

// callBuckets span a fast API answer to the default call deadlines (15 s
// for Slack, 10 s for PagerDuty) and beyond.
var callBuckets = []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 15, 30}

// ackBuckets end past 3 s, Slack's limit for acknowledging an envelope.
var ackBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2, 3, 5}

// New returns Metrics registered on reg (one registry per process; see
// httpapi.NewRegistry). It panics if reg has them already.
func New(reg prometheus.Registerer) *Metrics {
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	}
	hist := func(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
		return prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets}, labels)
	}
	m := &Metrics{
		jobsStarted: counter("incidentbot_jobs_started_total", "Job runs started (claimed and handed to their handler), by job kind.", "kind"),
		jobsFinished: counter("incidentbot_jobs_finished_total",
			"Job runs finished, by job kind and outcome: done, retried (rescheduled), failed (permanently, dropped), dropped (no handler in this process).", "kind", "outcome"),
		jobsAbandoned: counter("incidentbot_jobs_abandoned_total", "Job runs that hit their deadline (job_timeout) and are retried, by job kind.", "kind"),
		takeovers:     counter("incidentbot_job_lease_takeovers_total", "Jobs claimed from another replica that died or whose lease on them ran out, by job kind.", "kind"),
		slack: hist("incidentbot_slack_api_call_duration_seconds",
			"Slack Web API calls by method and outcome (ok, api_error, 429, 4xx, 5xx, timeout, canceled, network_error).", callBuckets, "method", "outcome"),
		pagerduty: hist("incidentbot_pagerduty_api_call_duration_seconds",
			"PagerDuty REST API calls by route (IDs replaced) and outcome (ok, 429, 4xx, 5xx, timeout, canceled, network_error).", callBuckets, "method", "outcome"),
		webhooks: counter("incidentbot_webhooks_total",
			"Webhook deliveries by source and outcome: accepted, duplicate, refused (4xx), failed (5xx, the sender retries).", "source", "outcome"),
		envelopes: counter("incidentbot_socket_mode_envelopes_total",
			"Socket Mode envelopes by type and outcome: stored, duplicate, ignored (nothing to store), not_stored (left unacknowledged for redelivery).", "type", "outcome"),
		ack: hist("incidentbot_socket_mode_ack_duration_seconds", "Time from receiving a Socket Mode envelope to its acknowledgement, by type.", ackBuckets, "type"),
	}
	reg.MustRegister(m.jobsStarted, m.jobsFinished, m.jobsAbandoned, m.takeovers, m.slack, m.pagerduty, m.webhooks, m.envelopes, m.ack)
	for _, typ := range bot.EnvelopeTypes {
		for _, o := range bot.EnvelopeOutcomes {
			m.envelopes.WithLabelValues(typ, string(o))
		}
	}
	return m
}

// labelRE is the shape of a label value that comes from code (a job kind);
// anything else is counted as "other".
var labelRE = regexp.MustCompile(`^[a-zA-Z0-9_.\-]{1,64}$`)

func bounded(v string) string {
	if labelRE.MatchString(v) {
		return v
	}
	return "other"
}

// Job counts one runner event; it is a desk.RunnerOptions.Observe.
func (m *Metrics) Job(ev desk.JobEvent) {
	if m == nil {
		return
	}
	kind := bounded(ev.Kind)
	switch ev.Outcome {
	case desk.JobStarted:
		m.jobsStarted.WithLabelValues(kind).Inc()
	case desk.JobAbandoned:
		m.jobsAbandoned.WithLabelValues(kind).Inc()
	case desk.JobLeaseTakeover:
		m.takeovers.WithLabelValues(kind).Inc()
	case desk.JobDone, desk.JobRetried, desk.JobFailed, desk.JobDropped:
		m.jobsFinished.WithLabelValues(kind, string(ev.Outcome)).Inc()
	}
}

// SlackCall observes one Slack Web API call; it is a
// bot.ClientOptions.Observe.
func (m *Metrics) SlackCall(method string, o apicall.Outcome, took time.Duration) {
	if m != nil {
		m.slack.WithLabelValues(bounded(method), string(o)).Observe(took.Seconds())
	}
}

// PagerDutyCall observes one PagerDuty REST call; it is a
// pagerduty.ClientOptions.Observe.
func (m *Metrics) PagerDutyCall(route string, o apicall.Outcome, took time.Duration) {
	if m != nil {
		m.pagerduty.WithLabelValues(route, string(o)).Observe(took.Seconds())
	}
}

// Webhook returns the observer of one webhook source's deliveries (the
// Observe of alertmanager.Options and pagerduty.Options); its outcomes
// start at 0.
func (m *Metrics) Webhook(source string) func(httpapi.WebhookOutcome) {
	if m == nil {
		return nil
	}
	for _, o := range httpapi.WebhookOutcomes {
		m.webhooks.WithLabelValues(source, string(o))
	}
	return func(o httpapi.WebhookOutcome) { m.webhooks.WithLabelValues(source, string(o)).Inc() }
}

// Envelope counts one Socket Mode envelope and observes its
// acknowledgement; it is a bot.Options.ObserveEnvelope.
func (m *Metrics) Envelope(ev bot.EnvelopeEvent) {
	if m == nil {
		return
	}
	m.envelopes.WithLabelValues(ev.Type, string(ev.Outcome)).Inc()
	if ev.Outcome != bot.EnvelopeNotStored {
		m.ack.WithLabelValues(ev.Type).Observe(ev.Ack.Seconds())
	}
}
