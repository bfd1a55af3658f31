package alertmanager

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/incidentbot/incidentbot/incident"
	"github.com/incidentbot/incidentbot/incident/desk"
)

// Notification is the body of an Alertmanager webhook, payload version 4.
// Unknown fields are ignored, so later Alertmanager versions still decode.
//
// Decoding is bounded (see UnmarshalJSON): at most MaxAlerts alerts are
// kept, the others are counted in TruncatedAlerts as if Alertmanager's own
// max_alerts had dropped them, and every label set keeps at most MaxLabels
// pairs of at most MaxLabelBytes each.
type Notification struct {
	Version           string   `json:"version"`
	GroupKey          string   `json:"groupKey"`
	TruncatedAlerts   int      `json:"truncatedAlerts"`
	Status            string   `json:"status"` // firing or resolved
	Receiver          string   `json:"receiver"`
	GroupLabels       LabelSet `json:"groupLabels"`
	CommonLabels      LabelSet `json:"commonLabels"`
	CommonAnnotations LabelSet `json:"commonAnnotations"`
	ExternalURL       string   `json:"externalURL"`
	Alerts            []Alert  `json:"alerts"`
	// Dropped counts the alerts decoding left out (over MaxAlerts); they
	// are included in TruncatedAlerts.
	Dropped int `json:"-"`
}

// Alert is one alert of a notification.
type Alert struct {
	Status       string    `json:"status"`
	Labels       LabelSet  `json:"labels"`
	Annotations  LabelSet  `json:"annotations"`
	StartsAt     time.Time `json:"startsAt"`
	EndsAt       time.Time `json:"endsAt"`
	GeneratorURL string    `json:"generatorURL"`
	Fingerprint  string    `json:"fingerprint"`
}

// Statuses of a notification and of an alert.
const (
	StatusFiring   = "firing"
	StatusResolved = "resolved"
)

// KeyPrefix prefixes the groupKey to make the alert key of an incident.
const KeyPrefix = "am:"

// Limits on what an alert puts on a timeline: a notification may carry
// thousands of alerts and arbitrary label values.
const (
	maxSummary    = 4000 // bytes of the summary text
	maxListed     = 10   // alerts listed by name in the summary
	maxLine       = 300  // bytes of one alert's text in the summary
	maxLabels     = 40   // labels kept on the timeline event
	maxLabelValue = 256  // bytes per label name or value
	maxAlerts     = 1000 // individual alerts tracked from one notification
)

// Validate reports what makes a notification unusable; nil if it is fine.
func (n *Notification) Validate() error {
	switch {
	case strings.TrimSpace(n.GroupKey) == "":
		return fmt.Errorf("groupKey is required")
	case n.Status != StatusFiring && n.Status != StatusResolved:
		return fmt.Errorf("status must be %q or %q, not %q", StatusFiring, StatusResolved, n.Status)
	case len(n.Alerts) == 0:
		return fmt.Errorf("alerts must not be empty")
	}
	return nil
}

// MaxService bounds the service name taken from a label: an unmapped
// service's name goes into channel topics and cards.
const MaxService = 80

// Service is the notification's service: the common label, else the first
// alert that carries it, on one line and at most MaxService bytes; "" if
// none does.
func (n *Notification) Service(label string) string {
	if v := oneLine(n.CommonLabels[label]); v != "" {
		return truncate(v, MaxService)
	}
	for _, a := range n.Alerts {
		if v := oneLine(a.Labels[label]); v != "" {
			return truncate(v, MaxService)
		}
	}
	return ""
}

// Idem is the notification's idempotency key: a hash of the group key, the
// status and every alert's fingerprint, status and times. Alertmanager
// re-sends an unchanged group (repeat_interval, retries) with the same key,
// so a re-send changes nothing; any change to the group makes a new key.
func (n *Notification) Idem() string {
	type line struct{ fp, s string }
	lines := make([]line, 0, len(n.Alerts))
	for _, a := range n.Alerts {
		fp := a.Fingerprint
		if fp == "" {
			fp = labelsKey(a.Labels)
		}
		lines = append(lines, line{fp, fmt.Sprintf("%s\x00%s\x00%d\x00%d", fp, a.Status,
			a.StartsAt.UnixNano(), endsAt(a.EndsAt))})
	}
	sort.Slice(lines, func(i, j int) bool {
		if lines[i].fp != lines[j].fp {
			return lines[i].fp < lines[j].fp
		}
		return lines[i].s < lines[j].s
	})
	h := sha256.New()
	fmt.Fprintf(h, "v1\x00%s\x00%s\x00%d\n", n.GroupKey, n.Status, len(lines))
	if n.TruncatedAlerts > 0 {
		// Alerts left out still make a different notification.
		fmt.Fprintf(h, "truncated\x00%d\n", n.TruncatedAlerts)
	}
	for _, l := range lines {
		h.Write([]byte(l.s))
		h.Write([]byte{'\n'})
	}
	return KeyPrefix + hex.EncodeToString(h.Sum(nil)[:16])
}

// endsAt normalises the zero time (a firing alert) to 0.
func endsAt(t time.Time) int64 {
	if t.IsZero() || t.Year() <= 1 {
		return 0
	}
	return t.UnixNano()
}

func labelsKey(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(m[k])
		b.WriteByte(0)
	}
	return b.String()
}

// DeskAlert translates the notification into the desk's normalised alert.
func (n *Notification) DeskAlert(serviceLabel string) desk.Alert {
	svc := n.Service(serviceLabel)
	name := n.alertname()
	title := strings.TrimSpace(n.CommonAnnotations["summary"])
	if title == "" {
		switch {
		case name != "" && svc != "":
			title = name + " on " + svc
		case name != "":
			title = name
		case svc != "":
			title = "Alert on " + svc
		default:
			title = "Alertmanager alert"
		}
	}
	var started time.Time
	for _, a := range n.Alerts {
		if !a.StartsAt.IsZero() && a.StartsAt.Year() > 1 && (started.IsZero() || a.StartsAt.Before(started)) {
			started = a.StartsAt
		}
	}
	return desk.Alert{
		Source:   incident.ActorAlertmanager,
		Key:      KeyPrefix + n.GroupKey,
		Service:  svc,
		Title:    oneLine(title),
		Summary:  n.summary(),
		Labels:   n.labels(),
		StartsAt: started,
		Firing:   n.Status == StatusFiring,
		Idem:     n.Idem(),
		Severity: n.CommonLabels["severity"],
		Alerts:   n.alerts(),
	}
}

// alerts maps the notification's alerts to the timeline's, each identified
// by its fingerprint (a hash of its labels when the sender gave none), with
// capped labels and summary. The status of an alert is its own, not the
// notification's: a firing group may report some alerts resolved.
func (n *Notification) alerts() []incident.Alert {
	out := make([]incident.Alert, 0, min(len(n.Alerts), maxAlerts))
	for _, a := range n.Alerts {
		if len(out) == maxAlerts {
			break
		}
		status := incident.AlertFiring
		if a.Status == StatusResolved {
			status = incident.AlertResolved
		}
		out = append(out, incident.Alert{
			Fingerprint: fingerprint(a),
			Status:      status,
			Labels:      capLabels(a.Labels),
			Summary:     truncate(oneLine(firstNonEmpty(a.Annotations["summary"], a.Annotations["description"])), maxLine),
			StartsAt:    realTime(a.StartsAt),
			EndsAt:      realTime(a.EndsAt),
		})
	}
	return out
}

// fingerprint is the alert's fingerprint, or a hash of its labels.
func fingerprint(a Alert) string {
	if fp := strings.TrimSpace(a.Fingerprint); fp != "" {
		return truncate(fp, maxLabelValue)
	}
	sum := sha256.Sum256([]byte(labelsKey(a.Labels)))
	return "labels:" + hex.EncodeToString(sum[:8])
}

// realTime is t, or zero for Go's and Alertmanager's zero times
// (0001-01-01T00:00:00Z: a firing alert's endsAt).
func realTime(t time.Time) time.Time {
	if t.IsZero() || t.Year() <= 1 {
		return time.Time{}
	}
	return t.UTC()
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s = strings.TrimSpace(s); s != "" {
			return s
		}
	}
	return ""
}

func (n *Notification) alertname() string {
	if v := n.CommonLabels["alertname"]; v != "" {
		return v
	}
	for _, a := range n.Alerts {
		if v := a.Labels["alertname"]; v != "" {
			return v
		}
	}
	return ""
}

// summary lists the alerts with their summary or description annotation.
func (n *Notification) summary() string {
	var b strings.Builder
	firing, resolved := 0, 0
	for _, a := range n.Alerts {
		if a.Status == StatusResolved {
			resolved++
		} else {
			firing++
		}
	}
	fmt.Fprintf(&b, "Alertmanager: %d firing, %d resolved", firing, resolved)
	if sent := n.TruncatedAlerts - n.Dropped; sent > 0 {
		fmt.Fprintf(&b, " (%d more not sent)", sent)
	}
	if n.Dropped > 0 {
		fmt.Fprintf(&b, " (%d more not read: at most %d alerts are read per notification)", n.Dropped, MaxAlerts)
	}
	if d := strings.TrimSpace(n.CommonAnnotations["description"]); d != "" {
		b.WriteString("\n")
		b.WriteString(truncate(d, maxSummary/2))
	}
	for i, a := range n.Alerts {
		if i == maxListed || b.Len() > maxSummary-2*maxLine {
			fmt.Fprintf(&b, "\n… and %d more", len(n.Alerts)-i)
			break
		}
		name := a.Labels["alertname"]
		if name == "" {
			name = "alert"
		}
		fmt.Fprintf(&b, "\n• [%s] %s", a.Status, truncate(name, maxLabelValue))
		if inst := a.Labels["instance"]; inst != "" {
			fmt.Fprintf(&b, " (%s)", truncate(inst, maxLabelValue))
		}
		text := a.Annotations["summary"]
		if text == "" {
			text = a.Annotations["description"]
		}
		if text = strings.TrimSpace(text); text != "" && text != n.CommonAnnotations["summary"] {
			b.WriteString(": ")
			b.WriteString(truncate(oneLine(text), maxLine))
		}
	}
	return truncate(b.String(), maxSummary)
}

// labels are the common labels (group labels if there are none), capped.
func (n *Notification) labels() map[string]string {
	src := n.CommonLabels
	if len(src) == 0 {
		src = n.GroupLabels
	}
	return capLabels(src)
}

// capLabels keeps at most maxLabels labels (by name), each name and value
// cut to maxLabelValue bytes.
func capLabels(src map[string]string) map[string]string {
	if len(src) == 0 {
		return nil
	}
	keys := make([]string, 0, len(src))
	for k := range src {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make(map[string]string, min(len(keys), maxLabels))
	for _, k := range keys {
		if len(out) == maxLabels {
			break
		}
		out[truncate(k, maxLabelValue)] = truncate(src[k], maxLabelValue)
	}
	return out
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// truncate cuts s to at most n bytes on a rune boundary, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
