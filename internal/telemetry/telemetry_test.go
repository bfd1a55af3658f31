package telemetry_test

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/incidentbot/incidentbot/bot"
	"github.com/incidentbot/incidentbot/incident/desk"
	"github.com/incidentbot/incidentbot/incident/httpapi"
	"github.com/incidentbot/incidentbot/internal/apicall"
	"github.com/incidentbot/incidentbot/internal/promtest"
	"github.com/incidentbot/incidentbot/internal/telemetry"
)

func scrape(t *testing.T, reg *prometheus.Registry) (promtest.Samples, string) {
	t.Helper()
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()
	return promtest.Scrape(t, srv.URL)
}

// Each observation lands in its metric under fixed labels; a job kind that
// is not a code-made name is counted as "other".
func TestObservationsBecomeMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := telemetry.New(reg)
	for _, o := range []desk.JobOutcome{desk.JobStarted, desk.JobRetried, desk.JobStarted, desk.JobDone, desk.JobAbandoned, desk.JobLeaseTakeover} {
		m.Job(desk.JobEvent{Kind: "slack.post", Outcome: o})
	}
	m.Job(desk.JobEvent{Kind: `Checkout "down" for {everyone}`, Outcome: desk.JobFailed})
	m.SlackCall("chat.postMessage", apicall.RateLimited, 30*time.Millisecond)
	m.SlackCall("chat.postMessage", apicall.OK, 20*time.Millisecond)
	m.PagerDutyCall("POST /incidents/{id}/notes", apicall.Timeout, 10*time.Second)
	am := m.Webhook(telemetry.SourceAlertmanager)
	am(httpapi.WebhookAccepted)
	am(httpapi.WebhookDuplicate)
	m.Envelope(bot.EnvelopeEvent{Type: bot.EnvelopeSlash, Outcome: bot.EnvelopeStored, Ack: 4 * time.Millisecond})
	m.Envelope(bot.EnvelopeEvent{Type: bot.EnvelopeSlash, Outcome: bot.EnvelopeNotStored})

	got, body := scrape(t, reg)
	want := map[string]float64{
		promtest.Key("incidentbot_jobs_started_total", "kind", "slack.post"):                                                              2,
		promtest.Key("incidentbot_jobs_finished_total", "kind", "slack.post", "outcome", "retried"):                                       1,
		promtest.Key("incidentbot_jobs_finished_total", "kind", "slack.post", "outcome", "done"):                                          1,
		promtest.Key("incidentbot_jobs_finished_total", "kind", "other", "outcome", "failed"):                                             1,
		promtest.Key("incidentbot_jobs_abandoned_total", "kind", "slack.post"):                                                            1,
		promtest.Key("incidentbot_job_lease_takeovers_total", "kind", "slack.post"):                                                       1,
		promtest.Key("incidentbot_slack_api_call_duration_seconds_count", "method", "chat.postMessage", "outcome", "429"):                 1,
		promtest.Key("incidentbot_slack_api_call_duration_seconds_count", "method", "chat.postMessage", "outcome", "ok"):                  1,
		promtest.Key("incidentbot_pagerduty_api_call_duration_seconds_sum", "method", "POST /incidents/{id}/notes", "outcome", "timeout"): 10,
		promtest.Key("incidentbot_webhooks_total", "source", "alertmanager", "outcome", "accepted"):                                       1,
		promtest.Key("incidentbot_webhooks_total", "source", "alertmanager", "outcome", "duplicate"):                                      1,
		promtest.Key("incidentbot_webhooks_total", "source", "alertmanager", "outcome", "failed"):                                         0,
		promtest.Key("incidentbot_socket_mode_envelopes_total", "type", "slash", "outcome", "stored"):                                     1,
		promtest.Key("incidentbot_socket_mode_envelopes_total", "type", "slash", "outcome", "not_stored"):                                 1,
		promtest.Key("incidentbot_socket_mode_envelopes_total", "type", "event", "outcome", "duplicate"):                                  0,
		promtest.Key("incidentbot_socket_mode_ack_duration_seconds_count", "type", "slash"):                                               1,
	}
	for k, w := range want {
		if v, ok := got[k]; !ok || v != w {
			t.Errorf("%s = %v (present %v), want %v", k, v, ok, w)
		}
	}
	if strings.Contains(body, "Checkout") {
		t.Errorf("a job kind with text became a label:\n%s", body)
	}
}

// A nil Metrics observes nothing and hands out no webhook observer.
func TestNilMetrics(t *testing.T) {
	var m *telemetry.Metrics
	m.Job(desk.JobEvent{Kind: "x", Outcome: desk.JobDone})
	m.SlackCall("chat.postMessage", apicall.OK, time.Second)
	m.PagerDutyCall("GET /oncalls", apicall.OK, time.Second)
	m.Envelope(bot.EnvelopeEvent{Type: bot.EnvelopeSlash, Outcome: bot.EnvelopeStored})
	if m.Webhook(telemetry.SourcePagerDuty) != nil {
		t.Error("a nil Metrics gave a webhook observer")
	}
}
