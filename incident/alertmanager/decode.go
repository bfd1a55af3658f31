package alertmanager

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Bounds on what decoding a notification keeps, whatever the body holds: a
// 1 MiB body of 340,000 empty alerts must not become 340,000 alerts in
// memory, nor one alert a map of 100,000 labels.
const (
	// MaxAlerts is the number of alerts kept per notification, like
	// Alertmanager's max_alerts; the rest are counted as truncated.
	MaxAlerts = 1000
	// MaxLabels is the number of pairs kept per label or annotation set,
	// in the order of the body.
	MaxLabels = 128
	// MaxLabelBytes bounds each label (or annotation) name and value.
	MaxLabelBytes = 4096
)

// LabelSet is a set of labels or annotations, bounded when decoded: at
// most MaxLabels pairs, each name and value cut to MaxLabelBytes.
type LabelSet map[string]string

// UnmarshalJSON decodes a JSON object of strings pair by pair, so that the
// pairs over the bound are never held.
func (l *LabelSet) UnmarshalJSON(b []byte) error {
	if isNull(b) {
		*l = nil
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := expectDelim(dec, '{'); err != nil {
		return err
	}
	m := LabelSet{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		k, _ := tok.(string)
		var v string
		if err := dec.Decode(&v); err != nil {
			return fmt.Errorf("label %q: %w", truncate(k, 64), err)
		}
		k, v = truncate(k, MaxLabelBytes), truncate(v, MaxLabelBytes)
		if _, ok := m[k]; ok || len(m) < MaxLabels {
			m[k] = v
		}
	}
	*l = m
	return nil
}

// alertList decodes the alerts array, keeping the first MaxAlerts and
// counting the others without holding them.
type alertList struct {
	alerts  []Alert
	dropped int
}

func (l *alertList) UnmarshalJSON(b []byte) error {
	if isNull(b) {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := expectDelim(dec, '['); err != nil {
		return err
	}
	for i := 0; dec.More(); i++ {
		if len(l.alerts) == MaxAlerts {
			var skip struct{}
			if err := dec.Decode(&skip); err != nil {
				return fmt.Errorf("alert %d: %w", i, err)
			}
			l.dropped++
			continue
		}
		var a Alert
		if err := dec.Decode(&a); err != nil {
			return fmt.Errorf("alert %d: %w", i, err)
		}
		l.alerts = append(l.alerts, a)
	}
	return nil
}

// UnmarshalJSON decodes a notification within the bounds above; alerts
// left out are added to TruncatedAlerts and counted in Dropped.
func (n *Notification) UnmarshalJSON(b []byte) error {
	type plain Notification
	var w struct {
		plain
		Alerts alertList `json:"alerts"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*n = Notification(w.plain)
	n.Alerts, n.Dropped = w.Alerts.alerts, w.Alerts.dropped
	n.TruncatedAlerts = max(n.TruncatedAlerts, 0)
	if n.TruncatedAlerts > maxCount-n.Dropped {
		n.TruncatedAlerts = maxCount
	} else {
		n.TruncatedAlerts += n.Dropped
	}
	return nil
}

// maxCount caps the truncated count a body may claim.
const maxCount = 1 << 30

func isNull(b []byte) bool { return bytes.Equal(bytes.TrimSpace(b), []byte("null")) }

func expectDelim(dec *json.Decoder, want json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != want {
		return fmt.Errorf("want %q, found %v", want, tok)
	}
	return nil
}
