package insights

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/incidentbot/incidentbot/incident"
	"github.com/incidentbot/incidentbot/review"
)

//go:embed page.html.tmpl
var pageTemplate string

//go:embed style.css
var styleCSS string

var page = template.Must(template.New("insights").Funcs(template.FuncMap{
	"css": func() template.CSS { return template.CSS(styleCSS) },
}).Parse(pageTemplate))

// ContentSecurityPolicy is the page's policy: no script at all, the one
// inline style block by its hash, nothing loaded from elsewhere.
func ContentSecurityPolicy() string {
	sum := sha256.Sum256([]byte(styleCSS))
	return "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'; img-src 'self' data:; " +
		"form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
}

// Options is the page's context: where it is served and what its filters
// offer.
type Options struct {
	Path        string // the page's own path, e.g. /insights
	ReviewsBase string // e.g. /reviews/
	Services    []string
	Teams       []string
	// SampleData marks the page as showing a seeded sample history.
	SampleData bool
}

type pageView struct {
	Path, CSV     string
	ReviewsBase   string
	Periods       []option
	Services      []option
	Teams         []option
	Scope         string
	Summary       []fact
	Charts        []Chart
	SampleData    bool
	AsOf, AsOfISO string
}

type option struct {
	Value, Label string
	Selected     bool
}

type fact struct{ Name, Value string }

// periods are the periods the form offers.
var periods = []struct {
	label string
	d     time.Duration
}{{"30 days", 30 * 24 * time.Hour}, {"90 days", DefaultPeriod}, {"180 days", 180 * 24 * time.Hour}, {"365 days", 365 * 24 * time.Hour}, {"all time", 0}}

// Render writes the insights page.
func Render(w io.Writer, x Insights, o Options) error {
	v := pageView{Path: o.Path, CSV: o.Path + ".csv?" + Query(x.Period, x.Service, x.Team), ReviewsBase: o.ReviewsBase,
		Scope: scope(x), Summary: summary(x), Charts: x.Charts(o.ReviewsBase), SampleData: o.SampleData,
		AsOf: x.To.In(x.Location).Format("2 Jan 2006 15:04 MST"), AsOfISO: x.To.UTC().Format(time.RFC3339)}
	known := false
	for _, p := range periods {
		sel := p.d == x.Period
		known = known || sel
		v.Periods = append(v.Periods, option{Value: PeriodLabel(p.d), Label: p.label, Selected: sel})
	}
	if !known {
		v.Periods = append(v.Periods, option{Value: PeriodLabel(x.Period), Label: PeriodLabel(x.Period), Selected: true})
	}
	v.Services = options(o.Services, x.Service)
	v.Teams = options(o.Teams, x.Team)
	var b bytes.Buffer
	if err := page.Execute(&b, v); err != nil {
		return fmt.Errorf("insights: page: %w", err)
	}
	_, err := w.Write(b.Bytes())
	return err
}

func options(names []string, sel string) []option {
	var out []option
	for _, n := range names {
		out = append(out, option{Value: n, Label: n, Selected: strings.EqualFold(n, sel)})
	}
	return out
}

// Query is the query string of a period and filters.
func Query(period time.Duration, service, team string) string {
	q := "period=" + PeriodLabel(period)
	if service != "" {
		q += "&service=" + url.QueryEscape(service)
	}
	if team != "" {
		q += "&team=" + url.QueryEscape(team)
	}
	return q
}

func scope(x Insights) string {
	s := "all services"
	switch {
	case x.Service != "" && x.Team != "":
		s = "service " + x.Service + " of team " + x.Team
	case x.Service != "":
		s = "service " + x.Service
	case x.Team != "":
		s = "team " + x.Team
	}
	return s + ", " + x.From.In(x.Location).Format("2 Jan 2006") + " to " + x.To.In(x.Location).Format("2 Jan 2006")
}

func summary(x Insights) []fact {
	t := x.Totals
	out := []fact{
		{"Incidents", fmt.Sprintf("%d (%d major, %d minor, %d open)", t.Incidents, t.Majors, t.Minors, t.Open)},
		{"Loss", x.Currency.Format(t.TotalLoss)},
		{"Time to restore", fmt.Sprintf("median %s, p90 %s (%d restored)", incident.FormatHMS(t.MedianTimeToRestore), incident.FormatHMS(t.P90TimeToRestore), t.Restored)},
	}
	if t.EffectivenessMeasured > 0 {
		out = append(out, fact{"Effectiveness", fmt.Sprintf("%s: %s protected of %s at tolerable unavailability (%s)",
			incident.OneDecimal(t.Effectiveness), x.Currency.Format(t.Protected), x.Currency.Format(t.LossAtTolerable), review.Plural(t.EffectivenessMeasured, "incident", "incidents"))})
	}
	out = append(out,
		fact{"Improvement actions", fmt.Sprintf("%d defined, %d done, %d open", t.ActionsDefined, t.ActionsDone, t.ActionsOpen)},
		fact{"Review readers", fmt.Sprintf("%s by %s of %s", review.Plural(t.ReviewReaders, "read", "reads"), review.Plural(t.UniqueReaders, "unique reader", "unique readers"), review.Plural(len(t.Reviews), "review", "reviews"))},
		fact{"Drills", fmt.Sprintf("%d (left out of every figure above)", x.Drills)},
	)
	if x.Security > 0 {
		out = append(out, fact{"Security incidents", fmt.Sprintf("%d, counted in the totals and weekly sums only", x.Security)})
	}
	return out
}

// PeriodLabel writes a period as reviewstore.ParsePeriod reads it.
func PeriodLabel(d time.Duration) string {
	switch {
	case d <= 0:
		return "all"
	case d%(24*time.Hour) == 0:
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	default:
		return fmt.Sprintf("%dh", d/time.Hour)
	}
}
