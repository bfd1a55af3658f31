// Package promtest reads a Prometheus scrape in tests: it parses the text
// exposition with the Prometheus parser (prometheus/common/expfmt) and
// flattens the samples into a map that assertions can index.
package promtest

import (
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Samples maps a sample, written name{label="value",…} with the labels in
// name order (no braces without labels), to its value. A histogram gives
// name_count and name_sum samples, a summary name_count.
type Samples map[string]float64

// Key is the Samples key of a sample: labels are name, value pairs.
func Key(name string, labels ...string) string {
	if len(labels) == 0 {
		return name
	}
	type pair struct{ k, v string }
	var ps []pair
	for i := 0; i+1 < len(labels); i += 2 {
		ps = append(ps, pair{labels[i], labels[i+1]})
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i].k < ps[j].k })
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = fmt.Sprintf("%s=%q", p.k, p.v)
	}
	return name + "{" + strings.Join(parts, ",") + "}"
}

// Get is the value of a sample, 0 when absent.
func (s Samples) Get(name string, labels ...string) float64 { return s[Key(name, labels...)] }

// Has reports whether the scrape has the sample.
func (s Samples) Has(name string, labels ...string) bool {
	_, ok := s[Key(name, labels...)]
	return ok
}

// Scrape GETs url and parses what it answers; a status other than 200, a
// content type other than the text format, or a parse error fails the test.
// It also returns the body, for scanning.
func Scrape(t testing.TB, url string) (Samples, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("scrape %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape %s: %d %v\n%s", url, resp.StatusCode, err, body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("scrape %s: Content-Type %q", url, ct)
	}
	return Parse(t, string(body)), string(body)
}

// Parse parses a text exposition; a parse error fails the test.
func Parse(t testing.TB, body string) Samples {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("not a valid exposition: %v\n%s", err, body)
	}
	out := Samples{}
	for name, f := range fams {
		if f.GetHelp() == "" {
			t.Errorf("%s has no HELP", name)
		}
		for _, m := range f.GetMetric() {
			flatten(out, name, f.GetType(), m)
		}
	}
	return out
}

func flatten(out Samples, name string, typ dto.MetricType, m *dto.Metric) {
	var labels []string
	for _, l := range m.GetLabel() {
		labels = append(labels, l.GetName(), l.GetValue())
	}
	switch typ {
	case dto.MetricType_COUNTER:
		out[Key(name, labels...)] = m.GetCounter().GetValue()
	case dto.MetricType_GAUGE:
		out[Key(name, labels...)] = m.GetGauge().GetValue()
	case dto.MetricType_HISTOGRAM:
		out[Key(name+"_count", labels...)] = float64(m.GetHistogram().GetSampleCount())
		out[Key(name+"_sum", labels...)] = m.GetHistogram().GetSampleSum()
	case dto.MetricType_SUMMARY:
		out[Key(name+"_count", labels...)] = float64(m.GetSummary().GetSampleCount())
	default:
		out[Key(name, labels...)] = m.GetUntyped().GetValue()
	}
}
