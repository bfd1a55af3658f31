package insights_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/incident"
	"github.com/incidentbot/incidentbot/incident/incidenttest"
	"github.com/incidentbot/incidentbot/review"
	"github.com/incidentbot/incidentbot/review/insights"
)

var (
	usd = incident.USD
	now = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC) // a Tuesday, after Black Friday
)

func catalogue() *incident.Catalogue {
	c := incidenttest.Furniture()
	c.Normalize()
	return c
}

type world struct {
	cat     *incident.Catalogue
	incs    []*incident.Incident
	reviews []*review.Review
}

func (w *world) add(n int64, service string, lvl incident.ImpactLevel, start time.Time, ttr time.Duration, security, drill bool) {
	s, _ := w.cat.Service(service)
	inc, err := incident.Declare(w.cat.Policy, n, incident.Declaration{Title: "Incident " + service, Service: s, Actor: "U1",
		Impact: w.cat.Shares.Impact(lvl), Security: security, Drill: drill}, start)
	if err != nil {
		panic(err)
	}
	if _, err := inc.Resolve(w.cat.Policy, start.Add(ttr), "U1", ""); err != nil {
		panic(err)
	}
	w.incs = append(w.incs, inc)
}

func day(d, h int) time.Time { return time.Date(2026, 11, d, h, 0, 0, 0, time.UTC) }

func readers(n int) map[string]time.Time {
	m := map[string]time.Time{}
	for i := range n {
		m[string(rune('a'+i))] = day(28, 9)
	}
	return m
}

// handChecked is a small world whose figures are worked out by hand:
//
//	#  service             impact               started       restored after  loss         effectiveness
//	1  bedroom             blocked              Mon 23 Nov    30 min          $100,000     70.2% (236,000 of 336,000)
//	2  appointments        degraded             Tue 24 Nov    60 min          $3,000       88.1% (22,200 of 25,200)
//	3  bedroom (security)  partial              Wed 25 Nov    20 min          $6,666.67    not listed
//	4  ecommerce-platform  drill, blocked       Thu 26 Nov    10 min          left out
//	5  ecommerce-platform  drill, blocked       Mon 16 Nov    10 min          left out
//	6  bedroom             blocked              Tue 1 Dec     10 min          $33,333.33   90.1% (302,666.67 of 336,000)
func handChecked() world {
	w := world{cat: catalogue()}
	w.add(1, "bedroom", incident.ImpactBlocked, day(23, 10), 30*time.Minute, false, false)
	w.add(2, "appointments", incident.ImpactDegraded, day(24, 10), time.Hour, false, false)
	w.add(3, "bedroom", incident.ImpactPartial, day(25, 10), 20*time.Minute, true, false)
	w.add(4, "ecommerce-platform", incident.ImpactBlocked, day(26, 10), 10*time.Minute, false, true)
	w.add(5, "ecommerce-platform", incident.ImpactBlocked, day(16, 10), 10*time.Minute, false, true)
	w.add(6, "bedroom", incident.ImpactBlocked, time.Date(2026, 12, 1, 6, 0, 0, 0, time.UTC), 10*time.Minute, false, false)
	w.reviews = []*review.Review{
		{Number: 1, Title: "Incident bedroom", Service: "bedroom", Team: "bedroom-team", Status: incident.ReviewPublished, PublishedAt: day(27, 9), Readers: readers(3),
			Actions: []review.Action{
				{ID: "1-1", Incident: 1, CreatedAt: day(27, 9), DoneAt: day(29, 9)},  // 2 days
				{ID: "1-2", Incident: 1, CreatedAt: day(27, 9), DoneAt: day(27, 21)}, // 12 hours
				{ID: "1-3", Incident: 1, CreatedAt: day(27, 9)},                      // open
			}},
		{Number: 3, Title: "Leaked tokens", Service: "bedroom", Team: "bedroom-team", Status: incident.ReviewPublished, PublishedAt: day(27, 10), Private: true, Readers: readers(5)},
		{Number: 4, Title: "Failover drill", Service: "ecommerce-platform", Team: "platform-team", Status: incident.ReviewPublished, PublishedAt: day(28, 10), Drill: true, Readers: readers(2)},
	}
	return w
}

func (w world) compute(service, team string) insights.Insights {
	return insights.Compute(insights.Input{Catalogue: w.cat, Incidents: w.incs, Reviews: w.reviews, Period: insights.DefaultPeriod, Service: service, Team: team, Now: now})
}

func TestComputeHandChecked(t *testing.T) {
	x := handChecked().compute("", "")
	if x.Totals.Incidents != 4 || x.Drills != 2 || x.Security != 1 || x.Totals.Majors != 3 || x.Totals.Minors != 1 {
		t.Errorf("incidents %d (%d major, %d minor), drills %d, security %d; want 4 (3, 1), 2, 1",
			x.Totals.Incidents, x.Totals.Majors, x.Totals.Minors, x.Drills, x.Security)
	}
	if len(x.Weeks) != 14 || x.Weeks[0].Start.Format("2006-01-02") != "2026-08-31" || x.Weeks[13].Start.Format("2006-01-02") != "2026-11-30" {
		t.Fatalf("weeks: %d from %v", len(x.Weeks), x.Weeks[0].Start)
	}
	w23, w30, w16 := x.Weeks[12], x.Weeks[13], x.Weeks[11]
	if w23.Majors != 2 || w23.Minors != 1 || w30.Majors != 1 || w16.Majors+w16.Minors != 0 {
		t.Errorf("per week: 23 Nov %d/%d, 30 Nov %d/%d, 16 Nov (drill only) %d/%d", w23.Majors, w23.Minors, w30.Majors, w30.Minors, w16.Majors, w16.Minors)
	}
	if w23.Loss["bedroom"] != usd.Major(106_666)+67 || w23.Loss["appointments"] != usd.Major(3_000) || len(w16.Loss) != 0 {
		t.Errorf("loss per week: 23 Nov %v, 16 Nov %v", w23.Loss, w16.Loss)
	}
	if got := strings.Join(x.LossServices, ","); got != "bedroom,appointments" {
		t.Errorf("loss services %s", got)
	}
	var restored []int64
	for _, r := range x.Restores {
		restored = append(restored, r.Number)
	}
	if len(restored) != 3 || restored[0] != 1 || restored[1] != 2 || restored[2] != 6 || x.Restores[0].Tolerable != time.Hour+40*time.Minute+48*time.Second {
		t.Errorf("restores %v (security and drills must not be listed): %+v", restored, x.Restores)
	}
	wantEff := []struct {
		n            int64
		ratio, trend incident.Share
	}{{1, 7024, 7024}, {2, 8810, 7148}, {6, 9008, 8045}}
	if len(x.Effects) != len(wantEff) {
		t.Fatalf("effects %+v", x.Effects)
	}
	for i, w := range wantEff {
		if e := x.Effects[i]; e.Number != w.n || e.Ratio != w.ratio || e.Trend != w.trend {
			t.Errorf("effect %d = #%d %d bp trend %d bp, want #%d %d bp trend %d bp", i, e.Number, e.Ratio, e.Trend, w.n, w.ratio, w.trend)
		}
	}
	budgets := map[string]insights.ServiceBudget{}
	for _, b := range x.Budgets {
		budgets[b.Service] = b
	}
	// Bedroom's last 7 days: #3's 20 min at 10% (2 min) and #6's 10 min.
	if b := budgets["bedroom"]; b.Used != 12*time.Minute || b.UsedPercent() != "11.9%" || b.Measured.Measured() != "99.967%" || b.Unavailability != 42*time.Minute {
		t.Errorf("bedroom budget %s used (%s), availability %s; want 0:12:00 (11.9%%), 99.967%% over 90 days (42 min)", incident.FormatHMS(b.Used), b.UsedPercent(), b.Measured.Measured())
	}
	if b := budgets["ecommerce-platform"]; b.Used != 0 || b.Unavailability != 0 {
		t.Errorf("drills used ecommerce-platform's budget: %+v", b)
	}
	if len(x.Readers) != 2 || x.Readers[0].Number != 1 || x.Readers[0].Readers != 3 || !x.Readers[1].ChaosDay || len(x.ChaosReviews) != 1 || x.ChaosReviews[0].Number != 4 {
		t.Errorf("readers %+v, chaos reviews %+v (the private review must not be listed)", x.Readers, x.ChaosReviews)
	}
	if x.Totals.ReviewReaders != 10 {
		t.Errorf("review readers in total = %d, want 10 (the private review counts in the totals)", x.Totals.ReviewReaders)
	}
	wantChaos := []insights.ChaosDays{
		{Kind: "organisation", Name: "all services", Drills: 2, Days: 2, MeanBetween: 10, Last: day(26, 0)},
		{Kind: "team", Name: "platform-team", Drills: 2, Days: 2, MeanBetween: 10, Last: day(26, 0)},
		{Kind: "service", Name: "ecommerce-platform", Drills: 2, Days: 2, MeanBetween: 10, Last: day(26, 0)},
	}
	if len(x.ChaosDays) != 3 {
		t.Fatalf("chaos days %+v", x.ChaosDays)
	}
	for i, w := range wantChaos {
		if g := x.ChaosDays[i]; g.Kind != w.Kind || g.Name != w.Name || g.Drills != w.Drills || g.Days != w.Days || g.MeanBetween != w.MeanBetween || !g.Last.Equal(w.Last) {
			t.Errorf("chaos %d = %+v, want %+v", i, g, w)
		}
	}
	lead := map[string]int{}
	for _, b := range x.LeadTimes {
		lead[b.Label] = b.Count
	}
	if lead["< 1 d"] != 1 || lead["1–3 d"] != 1 || x.Weeks[12].ActionsDone != 2 {
		t.Errorf("lead times %v, done in week of 23 Nov %d", lead, x.Weeks[12].ActionsDone)
	}
}

// A Chaos Day is a calendar day in the organisation's time zone: two drills
// on one day are one Chaos Day.
func TestChaosDaysCountDaysNotDrills(t *testing.T) {
	w := world{cat: catalogue()}
	w.add(1, "bedroom", incident.ImpactBlocked, day(2, 9), time.Minute, false, true)
	w.add(2, "bedroom", incident.ImpactBlocked, day(2, 15), time.Minute, false, true)
	w.add(3, "appointments", incident.ImpactBlocked, day(9, 9), time.Minute, false, true)
	w.add(4, "bedroom", incident.ImpactBlocked, day(23, 9), time.Minute, false, true)
	x := w.compute("", "")
	got := map[string]insights.ChaosDays{}
	for _, c := range x.ChaosDays {
		got[c.Kind+" "+c.Name] = c
	}
	if c := got["service bedroom"]; c.Drills != 3 || c.Days != 2 || c.MeanBetween != 21 {
		t.Errorf("bedroom %+v, want 3 drills on 2 days, 21 days between", c)
	}
	if c := got["organisation all services"]; c.Days != 3 || c.MeanBetween != 10.5 {
		t.Errorf("organisation %+v, want 3 days, 10.5 between", c)
	}
	if c := got["service appointments"]; c.Days != 1 || c.MeanBetween != 0 {
		t.Errorf("appointments %+v", c)
	}
}

func TestComputeFilters(t *testing.T) {
	w := handChecked()
	x := w.compute("", "Bedroom-Team")
	if x.Totals.Incidents != 3 || len(x.Budgets) != 1 || x.Budgets[0].Service != "bedroom" || len(x.ChaosDays) != 0 || len(x.Readers) != 1 {
		t.Errorf("team filter: %d incidents, budgets %+v, chaos %+v, readers %+v", x.Totals.Incidents, x.Budgets, x.ChaosDays, x.Readers)
	}
	x = w.compute("ecommerce-platform", "")
	if x.Totals.Incidents != 0 || x.Drills != 2 || len(x.ChaosDays) != 3 {
		t.Errorf("service filter: %d incidents, %d drills, chaos %+v", x.Totals.Incidents, x.Drills, x.ChaosDays)
	}
}

// Every chart with nothing to draw says so instead of drawing a frame.
func TestChartsWithoutDataSaySo(t *testing.T) {
	x := insights.Compute(insights.Input{Catalogue: catalogue(), Period: insights.DefaultPeriod, Service: "nothing-matches", Now: now})
	for _, c := range x.Charts("/reviews/") {
		if c.Empty == "" || c.SVG != nil {
			t.Errorf("chart %s without data: empty %q, svg %v", c.ID, c.Empty, c.SVG != nil)
		}
	}
	var b bytes.Buffer
	if err := insights.Render(&b, x, insights.Options{Path: "/insights", ReviewsBase: "/reviews/"}); err != nil {
		t.Fatal(err)
	}
	if html := b.String(); strings.Contains(html, "<svg class=\"chart\"") || strings.Count(html, `class="empty"`) != len(x.Charts("/reviews/")) {
		t.Errorf("empty page draws charts or misses empty notes:\n%s", html)
	}
}

// Every chart of the sample history has something to draw, and its table
// has as many figures as the drawing has bars (or more, for zero weeks).
func TestSampleHistoryDrawsEveryChart(t *testing.T) {
	c := catalogue()
	incs, revs := insights.SampleHistory(c, now, 9001)
	x := insights.Compute(insights.Input{Catalogue: c, Incidents: incs, Reviews: revs, Period: insights.DefaultPeriod, Now: now})
	charts := x.Charts("/reviews/")
	if len(charts) != 11 {
		t.Fatalf("%d charts", len(charts))
	}
	for _, ch := range charts {
		if ch.Empty != "" || ch.SVG == nil || len(ch.SVG.Rects) == 0 || len(ch.Table.Rows) == 0 {
			t.Errorf("chart %s: empty %q, rects %v, rows %d", ch.ID, ch.Empty, ch.SVG != nil, len(ch.Table.Rows))
		}
	}
	over := false
	for _, b := range x.Budgets {
		over = over || b.Over()
	}
	if !over || x.Drills == 0 || len(x.ChaosReviews) == 0 {
		t.Errorf("the sample should have a service over budget (%v), drills (%d) and a Chaos Day review (%d)", over, x.Drills, len(x.ChaosReviews))
	}
}

func TestCSV(t *testing.T) {
	x := handChecked().compute("", "")
	var b bytes.Buffer
	if err := insights.WriteCSV(&b, x); err != nil {
		t.Fatal(err)
	}
	csv := b.String()
	for _, want := range []string{
		"chart,key,series,value,unit\n",
		"incidents_per_week,2026-11-23,major,2,incidents\n",
		"loss_per_week,2026-11-23,bedroom,106666.67,USD\n",
		"loss_by_team,bedroom-team,loss,140000.00,USD\n",
		"time_to_restore,#1 bedroom,time_to_restore,1800,seconds\n",
		"time_to_restore,#1 bedroom,tolerable_unavailability,6048,seconds\n",
		"effectiveness,#6 bedroom,trend,80.45,percent\n",
		"error_budget,bedroom,used,720,seconds\n",
		"error_budget,bedroom,used_share,11.9,percent\n",
		"error_budget,bedroom,availability_period,99.967,percent\n",
		"error_budget,bedroom,availability_period_nines,3.5,nines\n",
		"review_readers,#4 Failover drill,chaos_day_review,2,readers\n",
		"chaos_days,team platform-team,mean_days_between,10.0,days\n",
	} {
		if !strings.Contains(csv, want) {
			t.Errorf("CSV lacks %q", want)
		}
	}
	if strings.Contains(csv, "Leaked tokens") || strings.Contains(csv, "#3 ") {
		t.Errorf("the CSV lists the security incident:\n%s", csv)
	}
}

// The budget chart's table shows the measured availability as nines beside
// the target.
func TestBudgetTableShowsNines(t *testing.T) {
	x := handChecked().compute("bedroom", "")
	for _, c := range x.Charts("/reviews/") {
		if c.ID != "budget" {
			continue
		}
		want := []string{"bedroom", "0:12:00", "1:40:48", "1:28:48", "11.9%", "99.967% (3.5 nines)", "99.0% (2.0 nines)"}
		if len(c.Table.Rows) != 1 || strings.Join(c.Table.Rows[0], "|") != strings.Join(want, "|") {
			t.Errorf("budget table %v, want %v", c.Table.Rows, want)
		}
	}
}
