package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/incidentbot/incidentbot/incident/alertmanager"
)

// AMNotification is an Alertmanager webhook body, payload version 4: the
// very type the bot's webhook decodes.
type AMNotification = alertmanager.Notification

// AMAlert is one alert of an AMNotification.
type AMAlert = alertmanager.Alert

// sampleKind is a realistic alert for a service.
type sampleKind struct {
	alertname, severity, summary, description, expr string
}

// samples are the alerts a service may fire, picked by a stable hash of
// the service name, so each service has its own but always the same one.
var samples = []sampleKind{
	{
		alertname: "HighErrorRate", severity: "critical",
		summary:     "High error rate on %s",
		description: "More than 5%% of requests to %s have failed for 5 minutes (now 23.4%%).",
		expr:        `sum(rate(http_requests_total{service="%[1]s",code=~"5.."}[5m])) / sum(rate(http_requests_total{service="%[1]s"}[5m])) > 0.05`,
	},
	{
		alertname: "CheckoutLatencyHigh", severity: "critical",
		summary:     "Slow responses from %s",
		description: "The 99th percentile latency of %s has been above 2 s for 10 minutes (now 4.7 s).",
		expr:        `histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{service="%[1]s"}[5m]))) > 2`,
	},
	{
		alertname: "PodsCrashLooping", severity: "warning",
		summary:     "%s pods are crash-looping",
		description: "Pods of %s restarted more than 5 times in the last 15 minutes.",
		expr:        `increase(kube_pod_container_status_restarts_total{service="%[1]s"}[15m]) > 5`,
	},
}

// SampleAlert builds a realistic firing Alertmanager notification (webhook
// payload version 4) for a service: two pods firing the same alert, grouped
// by alertname and service, as Alertmanager would send it to a receiver
// named "incidentbot". Firing it again for the same service gives the same
// groupKey and fingerprints, with a new startsAt.
func SampleAlert(service string, now time.Time) AMNotification {
	h := fnv.New32a()
	h.Write([]byte(service))
	k := samples[int(h.Sum32()%uint32(len(samples)))]
	summary := fmt.Sprintf(k.summary, service)
	desc := fmt.Sprintf(k.description, service)
	common := map[string]string{
		"alertname": k.alertname, "service": service, "severity": k.severity,
		"job": service, "namespace": "production",
	}
	ann := map[string]string{
		"summary": summary, "description": desc,
		"runbook_url": "https://runbooks.example.com/" + url.PathEscape(service) + "/" + strings.ToLower(k.alertname),
	}
	gen := "http://prometheus.sandbox.invalid:9090/graph?g0.expr=" + url.QueryEscape(fmt.Sprintf(k.expr, service)) + "&g0.tab=1"
	start := now.Add(-90 * time.Second).UTC().Truncate(time.Millisecond)
	var alerts []AMAlert
	for i, pod := range []string{"7d9f8b6c4d-x2k9p", "7d9f8b6c4d-m4q7z"} {
		labels := map[string]string{"instance": fmt.Sprintf("10.12.%d.%d:8080", 3+i, 17+i*24), "pod": service + "-" + pod}
		for k, v := range common {
			labels[k] = v
		}
		alerts = append(alerts, AMAlert{
			Status: "firing", Labels: labels, Annotations: ann,
			StartsAt: start.Add(time.Duration(i) * 15 * time.Second), EndsAt: time.Time{},
			GeneratorURL: gen, Fingerprint: fingerprint(labels),
		})
	}
	group := map[string]string{"alertname": k.alertname, "service": service}
	return AMNotification{
		Version:           "4",
		GroupKey:          "{}:" + labelString(group),
		Status:            "firing",
		Receiver:          "incidentbot",
		GroupLabels:       group,
		CommonLabels:      common,
		CommonAnnotations: ann,
		ExternalURL:       "http://alertmanager.sandbox.invalid:9093",
		Alerts:            alerts,
	}
}

// relabel renames a label throughout the notification.
func relabel(n *AMNotification, from, to string) {
	maps := []map[string]string{n.GroupLabels, n.CommonLabels}
	for _, a := range n.Alerts {
		maps = append(maps, a.Labels)
	}
	for _, m := range maps {
		if v, ok := m[from]; ok {
			delete(m, from)
			m[to] = v
		}
	}
	n.GroupKey = "{}:" + labelString(n.GroupLabels)
}

// labelString renders labels as Alertmanager does in a groupKey:
// {a="1", b="2"}.
func labelString(m map[string]string) string {
	keys := sortedKeys(m)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%q", k, m[k])
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// fingerprint is Prometheus' label-set fingerprint: FNV-64a over the sorted
// names and values, each followed by the 0xff separator.
func fingerprint(m map[string]string) string {
	h := fnv.New64a()
	for _, k := range sortedKeys(m) {
		h.Write([]byte(k))
		h.Write([]byte{0xff})
		h.Write([]byte(m[k]))
		h.Write([]byte{0xff})
	}
	return fmt.Sprintf("%016x", h.Sum64())
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// alertResult is what firing an alert did, as far as the webhook says.
type alertResult struct {
	Incident int64
	Created  bool
}

// fireAlert posts a sample alert for service to the bot's webhook.
func (s *Sandbox) fireAlert(ctx context.Context, service string) (alertResult, error) {
	if s.opts.AlertWebhookURL == "" {
		return alertResult{}, fmt.Errorf("no Alertmanager webhook is configured for the sandbox")
	}
	n := SampleAlert(service, s.now())
	if l := s.opts.ServiceLabel; l != "" && l != "service" {
		relabel(&n, "service", l)
	}
	body, err := json.Marshal(n)
	if err != nil {
		return alertResult{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.opts.AlertWebhookURL, bytes.NewReader(body))
	if err != nil {
		return alertResult{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Alertmanager/0.27.0")
	if s.opts.AlertBearerToken != "" {
		req.Header.Set("Authorization", "Bearer "+s.opts.AlertBearerToken)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return alertResult{}, fmt.Errorf("the alert webhook did not answer: %w", err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error string `json:"error"`
		}
		msg := strings.TrimSpace(string(raw))
		if json.Unmarshal(raw, &e) == nil && e.Error != "" {
			msg = e.Error
		}
		return alertResult{}, fmt.Errorf("the alert webhook answered %s: %s", resp.Status, clip(msg, 300))
	}
	var out struct {
		Incident int64 `json:"incident"`
		Created  bool  `json:"created"`
	}
	_ = json.Unmarshal(raw, &out)
	return alertResult{Incident: out.Incident, Created: out.Created}, nil
}

func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
