package insights

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/incidentbot/incidentbot/incident"
	"github.com/incidentbot/incidentbot/review"
)

// Chart is one figure of the page: a drawing and the text table behind it.
type Chart struct {
	ID      string
	Title   string
	Measure string // the measure behind the chart, in words
	Empty   string // set instead of a drawing when there is no data
	Note    string
	SVG     *SVG
	Table   Table
	Links   []Link
}

// Table is a chart's figures as text.
type Table struct {
	Head []string
	Rows [][]string
}

// Link points to a page (a Chaos Day review).
type Link struct {
	Href, Text string
}

// maxStacked is how many services the loss chart stacks; the rest are
// summed as "other services".
const maxStacked = 6

// Charts builds every chart of the page, in order.
func (x Insights) Charts(reviewsBase string) []Chart {
	return []Chart{
		x.incidentsChart(), x.lossChart(), x.costlyChart("costly-services", "Most costly services", "service", x.Totals.LossByService),
		x.costlyChart("costly-teams", "Most costly teams", "team", x.Totals.LossByTeam), x.restoreChart(), x.effectChart(),
		x.budgetChart(), x.leadChart(), x.frequencyChart(), x.readersChart(), x.chaosChart(reviewsBase),
	}
}

func (x Insights) weekLabels() []string {
	out := make([]string, len(x.Weeks))
	for i, w := range x.Weeks {
		out[i] = w.Start.Format("2 Jan")
	}
	return out
}

func weekISO(w Week) string { return w.Start.Format("2006-01-02") }

func count(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

func (x Insights) incidentsChart() Chart {
	c := Chart{ID: "incidents", Title: "Incidents per week",
		Measure: "Incidents that started in each week (Monday to Sunday), majors and minors by their classification now. Drills are left out."}
	if x.Totals.Incidents == 0 {
		c.Empty = "No incidents in this period."
		return c
	}
	maj, mnr := Series{Name: "major", Class: "major"}, Series{Name: "minor", Class: "minor"}
	c.Table.Head = []string{"Week of", "Majors", "Minors", "Total"}
	for _, w := range x.Weeks {
		maj.Values = append(maj.Values, float64(w.Majors))
		mnr.Values = append(mnr.Values, float64(w.Minors))
		c.Table.Rows = append(c.Table.Rows, []string{weekISO(w), itoa(w.Majors), itoa(w.Minors), itoa(w.Majors + w.Minors)})
	}
	g := columns("Incidents per week, majors and minors", x.weekLabels(), []Series{maj, mnr}, nil, count)
	c.SVG = &g
	return c
}

func (x Insights) major(m incident.Money) float64 {
	u := math.Pow10(x.Currency.Exponent)
	return float64(m) / u
}

// short writes an axis amount: $0, $250k, $1.5M.
func (x Insights) short(v float64) string {
	sym := x.Currency.Symbol
	a := math.Abs(v)
	sign := ""
	if v < 0 {
		sign = "-"
	}
	switch {
	case a >= 1e6:
		return sign + sym + strconv.FormatFloat(math.Round(a/1e5)/10, 'f', -1, 64) + "M"
	case a >= 1e3:
		return sign + sym + strconv.FormatFloat(math.Round(a/1e2)/10, 'f', -1, 64) + "k"
	}
	return sign + sym + strconv.FormatFloat(math.Round(a), 'f', -1, 64)
}

func (x Insights) lossChart() Chart {
	c := Chart{ID: "loss", Title: "Loss per week by service",
		Measure: "Loss so far of the incidents that started in each week (impact loss plus costs incurred), stacked by service. Drills are left out."}
	if x.Totals.TotalLoss == 0 {
		c.Empty = "No loss in this period."
		return c
	}
	names := x.LossServices
	other := len(names) > maxStacked
	if other {
		names = names[:maxStacked]
	}
	var series []Series
	for i, n := range names {
		series = append(series, Series{Name: n, Class: "s" + itoa(i)})
	}
	if other {
		series = append(series, Series{Name: "other services", Class: "s" + itoa(maxStacked)})
	}
	c.Table.Head = []string{"Week of", "Service", "Loss"}
	for _, w := range x.Weeks {
		var rest incident.Money
		for _, n := range x.LossServices {
			if l := w.Loss[n]; l != 0 {
				c.Table.Rows = append(c.Table.Rows, []string{weekISO(w), n, x.Currency.Format(l)})
			}
		}
		for i := range series {
			if i < len(names) {
				series[i].Values = append(series[i].Values, x.major(w.Loss[names[i]]))
			}
		}
		if other {
			for _, n := range x.LossServices[maxStacked:] {
				rest += w.Loss[n]
			}
			series[maxStacked].Values = append(series[maxStacked].Values, x.major(rest))
		}
	}
	g := columns("Loss per week, stacked by service", x.weekLabels(), series, nil, x.short)
	c.SVG = &g
	return c
}

func (x Insights) costlyChart(id, title, what string, losses []review.Loss) Chart {
	c := Chart{ID: id, Title: title,
		Measure: "Total loss so far of the period's incidents by " + what + ", most costly first. Drills are left out."}
	var cats []string
	s := Series{Name: "loss", Class: "s0"}
	c.Table.Head = []string{capital(what), "Loss", "Incidents"}
	for _, l := range losses {
		if l.Loss == 0 {
			continue
		}
		cats = append(cats, l.Name)
		s.Values = append(s.Values, x.major(l.Loss))
		c.Table.Rows = append(c.Table.Rows, []string{l.Name, x.Currency.Format(l.Loss), itoa(l.Incidents)})
	}
	if len(cats) == 0 {
		c.Empty = "No loss in this period."
		return c
	}
	g := bars(title+" by loss", cats, []Series{s}, nil, x.short)
	c.SVG = &g
	return c
}

func capital(s string) string {
	if s == "" {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}

// hours writes a duration given in hours: under two hours in whole
// minutes (0, 45 min, 104 min), else in hours with one decimal (2.5 h).
func hours(v float64) string {
	if v == 0 {
		return "0"
	}
	if v < 2 {
		return strconv.FormatFloat(math.Round(v*60), 'f', -1, 64) + " min"
	}
	return strconv.FormatFloat(math.Round(v*10)/10, 'f', -1, 64) + " h"
}

func latest[T any](xs []T) ([]T, string) {
	if len(xs) <= MaxListed {
		return xs, ""
	}
	return xs[len(xs)-MaxListed:], fmt.Sprintf("The latest %d of %d incidents are shown; the CSV has them all.", MaxListed, len(xs))
}

func (x Insights) restoreChart() Chart {
	c := Chart{ID: "restore", Title: "Time to restore per incident",
		Measure: "Time from impact start to restoration of each restored incident, against its service's tolerable unavailability per week (the mark). Security incidents and drills are not listed."}
	list, note := latest(x.Restores)
	if len(list) == 0 {
		c.Empty = "No restored incidents in this period."
		return c
	}
	c.Note = note
	in, out := Series{Name: "within tolerable unavailability", Class: "ok"}, Series{Name: "beyond tolerable unavailability", Class: "over"}
	var cats []string
	var marks []float64
	c.Table.Head = []string{"Incident", "Service", "Time to restore", "Tolerable per week", "Within"}
	for _, r := range list {
		cats = append(cats, "#"+i64(r.Number)+" "+r.Service)
		h := r.Restore.Hours()
		within := r.Restore <= r.Tolerable
		if within {
			in.Values, out.Values = append(in.Values, h), append(out.Values, 0)
		} else {
			in.Values, out.Values = append(in.Values, 0), append(out.Values, h)
		}
		marks = append(marks, r.Tolerable.Hours())
		c.Table.Rows = append(c.Table.Rows, []string{"#" + i64(r.Number) + " " + r.Title, r.Service, incident.FormatHMS(r.Restore), incident.FormatHMS(r.Tolerable), yesNo(within)})
	}
	g := bars("Time to restore per incident against the tolerable unavailability", cats, []Series{in, out}, marks, hours)
	c.SVG = &g
	return c
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func percent(v float64) string { return strconv.FormatFloat(math.Round(v), 'f', -1, 64) + "%" }

func (x Insights) effectChart() Chart {
	c := Chart{ID: "effectiveness", Title: "Loss protection effectiveness per incident",
		Measure: "Financial loss protection effectiveness of each restored incident: (loss at tolerable unavailability − actual loss) ÷ loss at tolerable unavailability; negative when restoration took longer than the tolerable unavailability. The line is the trend: every incident so far, weighted by its loss at tolerable unavailability. Security incidents and drills are not listed."}
	list, note := latest(x.Effects)
	if len(list) == 0 {
		c.Empty = "No effectiveness measured in this period."
		return c
	}
	c.Note = note
	pos, neg := Series{Name: "protected", Class: "ok"}, Series{Name: "negative", Class: "over"}
	var cats []string
	var trend []float64
	c.Table.Head = []string{"Incident", "Service", "Effectiveness", "Trend"}
	for _, e := range list {
		cats = append(cats, "#"+i64(e.Number))
		v := float64(e.Ratio) / 100
		if v >= 0 {
			pos.Values, neg.Values = append(pos.Values, v), append(neg.Values, 0)
		} else {
			pos.Values, neg.Values = append(pos.Values, 0), append(neg.Values, v)
		}
		trend = append(trend, float64(e.Trend)/100)
		c.Table.Rows = append(c.Table.Rows, []string{"#" + i64(e.Number), e.Service, incident.OneDecimal(e.Ratio), incident.OneDecimal(e.Trend)})
	}
	g := columns("Effectiveness per incident with its trend", cats, []Series{pos, neg}, trend, percent)
	g.Legend = append(g.Legend, LegendItem{Class: "trend", Name: "trend"})
	c.SVG = &g
	return c
}

func (x Insights) budgetChart() Chart {
	c := Chart{ID: "budget", Title: "Weekly error budget used per service",
		Measure: "Unavailability of the last 7 days (impact share integrated over time: 30 min blocked is 30 min, 20 min degraded is 10 min) as a share of the tolerable unavailability per week of the service's target; the mark is 100%. Measured availability over the period is 1 − unavailability ÷ period, beside the target. Drills never count."}
	if len(x.Budgets) == 0 {
		c.Empty = "No services match these filters."
		return c
	}
	in, over := Series{Name: "within budget", Class: "ok"}, Series{Name: "over budget", Class: "over"}
	var cats []string
	var marks []float64
	c.Table.Head = []string{"Service", "Used", "Budget", "Left", "Used %", "Availability (period)", "Target"}
	for _, b := range x.Budgets {
		cats = append(cats, b.Service)
		v := float64(b.UsedShare()) / 100
		if b.Over() {
			in.Values, over.Values = append(in.Values, 0), append(over.Values, v)
		} else {
			in.Values, over.Values = append(in.Values, v), append(over.Values, 0)
		}
		marks = append(marks, 100)
		used := b.UsedPercent()
		if b.Over() {
			used += " (over budget)"
		}
		c.Table.Rows = append(c.Table.Rows, []string{b.Service, incident.FormatHMS(b.Used), incident.FormatHMS(b.Budget.Budget),
			incident.FormatHMS(b.Left()), used, fmt.Sprintf("%s (%.1f nines)", b.Measured.Measured(), b.Measured.Nines()),
			fmt.Sprintf("%s (%.1f nines)", b.Target, b.Target.Nines())})
	}
	g := bars("Weekly error budget used per service; the mark is 100%", cats, []Series{in, over}, marks, percent)
	c.SVG = &g
	return c
}

func (x Insights) leadChart() Chart {
	c := Chart{ID: "lead-time", Title: "Improvement action lead time",
		Measure: "How long the improvement actions done in the period took from being defined to done."}
	if x.Totals.ActionsDone == 0 {
		c.Empty = "No improvement actions were done in this period."
		return c
	}
	c.Note = "Median lead time " + days(x.Totals.MedianActionLeadTime) + "; " + itoa(x.Totals.ActionsOpen) + " still open."
	s := Series{Name: "actions", Class: "s0"}
	var cats []string
	c.Table.Head = []string{"Lead time", "Actions"}
	for _, b := range x.LeadTimes {
		cats = append(cats, b.Label)
		s.Values = append(s.Values, float64(b.Count))
		c.Table.Rows = append(c.Table.Rows, []string{b.Label, itoa(b.Count)})
	}
	g := columns("Distribution of improvement action lead times", cats, []Series{s}, nil, count)
	c.SVG = &g
	return c
}

func days(d time.Duration) string {
	return strconv.FormatFloat(math.Round(review.Days(d)*10)/10, 'f', -1, 64) + " days"
}

func (x Insights) frequencyChart() Chart {
	c := Chart{ID: "frequency", Title: "Improvement actions done per week",
		Measure: "How many improvement actions were done in each week."}
	if x.Totals.ActionsDone == 0 {
		c.Empty = "No improvement actions were done in this period."
		return c
	}
	c.Note = fmt.Sprintf("%.1f a week on average.", x.Totals.ActionsPerWeek)
	s := Series{Name: "done", Class: "s0"}
	c.Table.Head = []string{"Week of", "Done"}
	for _, w := range x.Weeks {
		s.Values = append(s.Values, float64(w.ActionsDone))
		c.Table.Rows = append(c.Table.Rows, []string{weekISO(w), itoa(w.ActionsDone)})
	}
	g := columns("Improvement actions done per week", x.weekLabels(), []Series{s}, nil, count)
	c.SVG = &g
	return c
}

func (x Insights) readersChart() Chart {
	c := Chart{ID: "readers", Title: "Unique readers per published review",
		Measure: "Unique readers of each review published in the period (each reader counted once per review). Reviews of security incidents count only in the totals."}
	if len(x.Readers) == 0 {
		c.Empty = "No reviews were published in this period."
		return c
	}
	list, note := latest(x.Readers)
	c.Note = note
	pir, chaos := Series{Name: "post-incident review", Class: "s0"}, Series{Name: "Chaos Day review", Class: "drill"}
	var cats []string
	c.Table.Head = []string{"Review", "Service", "Unique readers", "Chaos Day review"}
	for _, r := range list {
		cats = append(cats, "#"+i64(r.Number)+" "+r.Title)
		if r.ChaosDay {
			pir.Values, chaos.Values = append(pir.Values, 0), append(chaos.Values, float64(r.Readers))
		} else {
			pir.Values, chaos.Values = append(pir.Values, float64(r.Readers)), append(chaos.Values, 0)
		}
		c.Table.Rows = append(c.Table.Rows, []string{"#" + i64(r.Number) + " " + r.Title, r.Service, itoa(r.Readers), yesNo(r.ChaosDay)})
	}
	g := bars("Unique readers per published review", cats, []Series{pir, chaos}, nil, count)
	c.SVG = &g
	return c
}

func (x Insights) chaosChart(reviewsBase string) Chart {
	c := Chart{ID: "chaos-days", Title: "Chaos Days",
		Measure: "Days with at least one drill (a practice incident opened with /incident drill), for the organisation, each team and each service, and the mean number of days between successive Chaos Days."}
	for _, r := range x.ChaosReviews {
		if x.Sample(r.Number) {
			continue // sample reviews are not on the review site
		}
		c.Links = append(c.Links, Link{Href: reviewsBase + i64(r.Number), Text: "Chaos Day review #" + i64(r.Number) + ": " + r.Title})
	}
	if len(x.ChaosDays) == 0 {
		c.Empty = "No drills in this period."
		return c
	}
	s := Series{Name: "Chaos Days", Class: "drill"}
	var cats []string
	c.Table.Head = []string{"Who", "Chaos Days", "Drills", "Mean days between", "Last"}
	for _, d := range x.ChaosDays {
		name := d.Kind + " " + d.Name
		if d.Kind == "organisation" {
			name = "organisation"
		}
		cats = append(cats, name)
		s.Values = append(s.Values, float64(d.Days))
		between := "–"
		if d.MeanBetween > 0 {
			between = strconv.FormatFloat(math.Round(d.MeanBetween*10)/10, 'f', -1, 64)
		}
		c.Table.Rows = append(c.Table.Rows, []string{name, itoa(d.Days), itoa(d.Drills), between, d.Last.Format("2006-01-02")})
	}
	g := bars("Chaos Days per team and service", cats, []Series{s}, nil, count)
	c.SVG = &g
	return c
}

func itoa(n int) string  { return strconv.Itoa(n) }
func i64(n int64) string { return strconv.FormatInt(n, 10) }
