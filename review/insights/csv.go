package insights

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/incidentbot/incidentbot/incident"
)

// CSVHeader is the first line of the CSV export: one figure per row.
var CSVHeader = []string{"chart", "key", "series", "value", "unit"}

// WriteCSV writes every figure of the insights, uncapped, one per row
// (chart, key, series, value, unit). Amounts are decimal major units of the
// currency, durations seconds, shares percentages. Text that a spreadsheet
// would run as a formula is prefixed with an apostrophe.
func WriteCSV(w io.Writer, x Insights) error {
	cw := csv.NewWriter(w)
	rows := [][]string{CSVHeader}
	add := func(chart, key, series, value, unit string) {
		rows = append(rows, []string{chart, safe(key), safe(series), value, unit})
	}
	cur := x.Currency.Code
	for _, wk := range x.Weeks {
		k := weekISO(wk)
		add("incidents_per_week", k, "major", itoa(wk.Majors), "incidents")
		add("incidents_per_week", k, "minor", itoa(wk.Minors), "incidents")
		for _, s := range x.LossServices {
			if l := wk.Loss[s]; l != 0 {
				add("loss_per_week", k, s, x.decimal(l), cur)
			}
		}
		add("actions_done_per_week", k, "done", itoa(wk.ActionsDone), "actions")
	}
	for _, l := range x.Totals.LossByService {
		add("loss_by_service", l.Name, "loss", x.decimal(l.Loss), cur)
		add("loss_by_service", l.Name, "incidents", itoa(l.Incidents), "incidents")
	}
	for _, l := range x.Totals.LossByTeam {
		add("loss_by_team", l.Name, "loss", x.decimal(l.Loss), cur)
		add("loss_by_team", l.Name, "incidents", itoa(l.Incidents), "incidents")
	}
	for _, r := range x.Restores {
		k := "#" + i64(r.Number) + " " + r.Service
		add("time_to_restore", k, "time_to_restore", secs(r.Restore), "seconds")
		add("time_to_restore", k, "tolerable_unavailability", secs(r.Tolerable), "seconds")
	}
	for _, e := range x.Effects {
		k := "#" + i64(e.Number) + " " + e.Service
		add("effectiveness", k, "effectiveness", pct(e.Ratio), "percent")
		add("effectiveness", k, "trend", pct(e.Trend), "percent")
	}
	for _, b := range x.Budgets {
		add("error_budget", b.Service, "used", secs(b.Used), "seconds")
		add("error_budget", b.Service, "budget", secs(b.Budget.Budget), "seconds")
		add("error_budget", b.Service, "left", secs(b.Left()), "seconds")
		add("error_budget", b.Service, "used_share", pct(b.UsedShare()), "percent")
		add("error_budget", b.Service, "availability_period", strings.TrimSuffix(b.Measured.Measured(), "%"), "percent")
		add("error_budget", b.Service, "availability_period_nines", strconv.FormatFloat(b.Measured.Nines(), 'f', 1, 64), "nines")
		add("error_budget", b.Service, "target", strings.TrimSuffix(b.Target.String(), "%"), "percent")
	}
	for _, b := range x.LeadTimes {
		add("action_lead_time", b.Label, "actions", itoa(b.Count), "actions")
	}
	for _, r := range x.Readers {
		series := "review"
		if r.ChaosDay {
			series = "chaos_day_review"
		}
		add("review_readers", "#"+i64(r.Number)+" "+r.Title, series, itoa(r.Readers), "readers")
	}
	for _, c := range x.ChaosDays {
		k := c.Kind + " " + c.Name
		add("chaos_days", k, "days", itoa(c.Days), "days")
		add("chaos_days", k, "drills", itoa(c.Drills), "drills")
		add("chaos_days", k, "mean_days_between", strconv.FormatFloat(c.MeanBetween, 'f', 1, 64), "days")
	}
	if err := cw.WriteAll(rows); err != nil {
		return fmt.Errorf("insights: csv: %w", err)
	}
	return nil
}

// decimal writes money in major units: 1234.56, -5.00, 700 for JPY.
func (x Insights) decimal(m incident.Money) string {
	e := x.Currency.Exponent
	neg := m < 0
	if neg {
		m = -m
	}
	s := strconv.FormatInt(int64(m), 10)
	if e > 0 {
		for len(s) <= e {
			s = "0" + s
		}
		s = s[:len(s)-e] + "." + s[len(s)-e:]
	}
	if neg {
		return "-" + s
	}
	return s
}

func secs(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) }

func pct(s incident.Share) string { return strings.TrimSuffix(incident.Share(s).String(), "%") }

// safe defuses text a spreadsheet would evaluate (=, +, -, @, tab, CR).
func safe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
