// Package insights computes and shows the measures people look at rather
// than read: incidents and loss per week, the most costly services and
// teams, time to restore against the tolerable unavailability, financial
// loss protection effectiveness and its trend, weekly error budgets and
// measured availability, improvement action lead times and frequency,
// review readers and Chaos Days.
//
// Compute is pure (figures from incidents, reviews and the injected now);
// Handler serves them as server-rendered HTML with inline SVG charts (no
// JavaScript; each chart has its text table) and as CSV.
package insights

import (
	"sort"
	"strings"
	"time"

	"github.com/incidentbot/incidentbot/incident"
	"github.com/incidentbot/incidentbot/review"
)

// DefaultPeriod is the period shown without ?period=.
const DefaultPeriod = 90 * 24 * time.Hour

// MaxListed bounds the per-incident charts (time to restore,
// effectiveness): the most recent incidents are drawn; the CSV has all.
const MaxListed = 50

// Input is what the insights are computed from.
type Input struct {
	Catalogue *incident.Catalogue
	// Incidents are every incident that may fall within the period or
	// the budget window (drills included: they feed the Chaos Days).
	Incidents []*incident.Incident
	// Reviews are every drafted or published review with its actions and
	// readers.
	Reviews []*review.Review
	Period  time.Duration // ≤ 0: everything
	Service string        // "" for every service
	Team    string        // "" for every team
	Now     time.Time
	// SampleFrom, when positive, is the first number of sample incidents
	// and reviews: they are marked, and their reviews are not linked.
	SampleFrom int64
}

// Insights are the figures behind the charts.
type Insights struct {
	From, To time.Time
	Period   time.Duration
	Service  string
	Team     string
	Currency incident.Currency
	Location *time.Location

	// Totals are review.Stats over the period (security incidents count
	// here and in the weekly sums, but are never listed one by one).
	Totals   review.Measures
	Security int

	Weeks        []Week
	LossServices []string // the services stacked in the loss chart, most costly first
	Restores     []Restore
	Effects      []Effect
	Budgets      []ServiceBudget
	LeadTimes    []Bucket
	Readers      []Readers
	ChaosDays    []ChaosDays
	ChaosReviews []Readers
	Drills       int
	sampleFrom   int64
}

// Sample reports whether an incident or review number is sample data.
func (x Insights) Sample(n int64) bool { return x.sampleFrom > 0 && n >= x.sampleFrom }

// Week is one calendar week (Monday 00:00 in the organisation's time zone).
type Week struct {
	Start       time.Time
	Majors      int
	Minors      int
	Loss        map[string]incident.Money // by service
	ActionsDone int
}

// TotalLoss is the week's loss over every service.
func (w Week) TotalLoss() incident.Money {
	var m incident.Money
	for _, l := range w.Loss {
		m += l
	}
	return m
}

// Restore is one restored incident's time to restore beside its service's
// tolerable unavailability per week.
type Restore struct {
	Number    int64
	Title     string
	Service   string
	StartedAt time.Time
	Restore   time.Duration
	Tolerable time.Duration
}

// Effect is one incident's financial loss protection effectiveness and the
// trend: the effectiveness of every incident up to and including it,
// weighted like the period's (Σ protected ÷ Σ loss at tolerable).
type Effect struct {
	Number    int64
	Service   string
	StartedAt time.Time
	Ratio     incident.Share
	Trend     incident.Share
	Protected incident.Money
	AtTol     incident.Money
}

// ServiceBudget is a service's weekly error budget now and its measured
// availability over the period.
type ServiceBudget struct {
	incident.Budget
	Team           string
	Unavailability time.Duration // over the period
	Measured       incident.Availability
}

// Bucket is one bar of the action lead time distribution.
type Bucket struct {
	Label    string
	Min, Max time.Duration // [Min, Max); Max 0 is unbounded
	Count    int
}

// Readers is one published review's unique readers.
type Readers struct {
	Number   int64
	Title    string
	Service  string
	Readers  int
	ChaosDay bool
}

// ChaosDays is how often a service or team practised: the days with at
// least one drill and the days between them.
type ChaosDays struct {
	Kind        string // "service", "team" or "organisation"
	Name        string
	Drills      int
	Days        int
	MeanBetween float64 // mean days between successive Chaos Days; 0 with fewer than two
	Last        time.Time
}

// leadBuckets are the lead time bars: under a day, up to 3 days, a week,
// two weeks, four weeks, a quarter, longer.
var leadBuckets = []Bucket{
	{Label: "< 1 d", Max: 24 * time.Hour},
	{Label: "1–3 d", Min: 24 * time.Hour, Max: 72 * time.Hour},
	{Label: "3–7 d", Min: 72 * time.Hour, Max: 7 * 24 * time.Hour},
	{Label: "1–2 w", Min: 7 * 24 * time.Hour, Max: 14 * 24 * time.Hour},
	{Label: "2–4 w", Min: 14 * 24 * time.Hour, Max: 28 * 24 * time.Hour},
	{Label: "4–13 w", Min: 28 * 24 * time.Hour, Max: 91 * 24 * time.Hour},
	{Label: "≥ 13 w", Min: 91 * 24 * time.Hour},
}

// Compute derives every figure of the insights pages.
func Compute(in Input) Insights {
	cat := in.Catalogue
	loc := cat.WorkingHours.Location
	if loc == nil {
		loc = time.UTC
	}
	x := Insights{To: in.Now, Period: in.Period, Service: in.Service, Team: in.Team, Currency: cat.Currency, Location: loc, sampleFrom: in.SampleFrom}
	incs := filterIncidents(in)
	reviews := filterReviews(in)
	stats := make([]review.StatsInput, 0, len(incs))
	for _, inc := range incs {
		stats = append(stats, review.StatsInput{Incident: inc, State: inc.State(cat.Policy, in.Now)})
	}
	x.Totals = review.Stats(stats, actionsOf(reviews), reviews, in.Period, "", in.Now)
	x.From = x.Totals.From
	if x.From.IsZero() {
		x.From = earliest(incs, reviews, in.Now)
	}
	within := func(t time.Time) bool { return !t.IsZero() && !t.Before(x.From) && !t.After(x.To) }
	x.Weeks = weeks(x.From, x.To, loc)
	var measured []review.StatsInput
	for _, s := range stats {
		if within(s.Incident.StartedAt) {
			measured = append(measured, s)
		}
	}
	sort.SliceStable(measured, func(i, j int) bool { return measured[i].Incident.StartedAt.Before(measured[j].Incident.StartedAt) })
	x.perWeek(measured, actionsOf(reviews), within)
	x.perIncident(measured)
	x.budgets(in, incs)
	x.leadTimes(actionsOf(reviews), within)
	x.readers(reviews)
	x.chaos(measured)
	return x
}

func filterIncidents(in Input) []*incident.Incident {
	var out []*incident.Incident
	for _, inc := range in.Incidents {
		if inc == nil || !matches(in, inc.Service.Name, inc.Service.Team) {
			continue
		}
		out = append(out, inc)
	}
	return out
}

func filterReviews(in Input) []*review.Review {
	var out []*review.Review
	for _, r := range in.Reviews {
		if r != nil && matches(in, r.Service, r.Team) {
			out = append(out, r)
		}
	}
	return out
}

func matches(in Input, service, team string) bool {
	return (in.Service == "" || strings.EqualFold(in.Service, service)) && (in.Team == "" || strings.EqualFold(in.Team, team))
}

func actionsOf(reviews []*review.Review) []review.Action {
	var out []review.Action
	for _, r := range reviews {
		for _, a := range r.Actions {
			if a.Service == "" {
				a.Service = r.Service
			}
			out = append(out, a)
		}
	}
	return out
}

// earliest is the start of an all-time period: the first incident or
// review, or 90 days back when there is nothing.
func earliest(incs []*incident.Incident, reviews []*review.Review, now time.Time) time.Time {
	t := now
	for _, inc := range incs {
		if inc.StartedAt.Before(t) {
			t = inc.StartedAt
		}
	}
	for _, r := range reviews {
		for _, a := range r.Actions {
			if !a.CreatedAt.IsZero() && a.CreatedAt.Before(t) {
				t = a.CreatedAt
			}
		}
	}
	if !t.Before(now) {
		return now.Add(-DefaultPeriod)
	}
	return t
}

// weekStart is the Monday 00:00 at or before t in loc.
func weekStart(t time.Time, loc *time.Location) time.Time {
	lt := t.In(loc)
	back := (int(lt.Weekday()) + 6) % 7
	return time.Date(lt.Year(), lt.Month(), lt.Day()-back, 0, 0, 0, 0, loc)
}

func weeks(from, to time.Time, loc *time.Location) []Week {
	var out []Week
	for w := weekStart(from, loc); !w.After(to); w = w.AddDate(0, 0, 7) {
		out = append(out, Week{Start: w, Loss: map[string]incident.Money{}})
	}
	return out
}

// weekOf is the index of the week holding t, or -1.
func (x *Insights) weekOf(t time.Time) int {
	for i := len(x.Weeks) - 1; i >= 0; i-- {
		if !t.Before(x.Weeks[i].Start) {
			return i
		}
	}
	return -1
}

func (x *Insights) perWeek(measured []review.StatsInput, actions []review.Action, within func(time.Time) bool) {
	byService := map[string]incident.Money{}
	for _, s := range measured {
		inc := s.Incident
		if inc.Drill {
			x.Drills++
			continue
		}
		if s.State.Security {
			x.Security++
		}
		w := x.weekOf(inc.StartedAt)
		if w < 0 {
			continue
		}
		if s.State.Class == incident.Major {
			x.Weeks[w].Majors++
		} else {
			x.Weeks[w].Minors++
		}
		for _, sh := range review.Shares(s) {
			x.Weeks[w].Loss[sh.Service] += sh.Loss
			byService[sh.Service] += sh.Loss
		}
	}
	for name := range byService {
		x.LossServices = append(x.LossServices, name)
	}
	sort.Slice(x.LossServices, func(i, j int) bool {
		a, b := byService[x.LossServices[i]], byService[x.LossServices[j]]
		if a != b {
			return a > b
		}
		return x.LossServices[i] < x.LossServices[j]
	})
	seen := map[string]bool{}
	for _, a := range actions {
		if (a.ID != "" && seen[a.ID]) || !a.Done() || !within(a.DoneAt) {
			continue
		}
		seen[a.ID] = true
		if w := x.weekOf(a.DoneAt); w >= 0 {
			x.Weeks[w].ActionsDone++
		}
	}
}

// perIncident lists restorations and effectiveness, never of a security
// incident or a drill.
func (x *Insights) perIncident(measured []review.StatsInput) {
	var prot, atTol int64
	for _, s := range measured {
		inc, st := s.Incident, s.State
		if inc.Drill || st.Security {
			continue
		}
		if st.Status == incident.StatusResolved {
			x.Restores = append(x.Restores, Restore{
				Number: inc.Number, Title: inc.Title, Service: inc.Service.Name, StartedAt: inc.StartedAt,
				Restore: st.TimeToRestore, Tolerable: st.Target.TolerableUnavailability(),
			})
		}
		if e := st.Effectiveness; e != nil {
			prot += int64(e.Protected)
			atTol += int64(e.LossAtTolerable)
			x.Effects = append(x.Effects, Effect{
				Number: inc.Number, Service: inc.Service.Name, StartedAt: inc.StartedAt,
				Ratio: e.Ratio, Trend: ratio(prot, atTol), Protected: e.Protected, AtTol: e.LossAtTolerable,
			})
		}
	}
}

// ratio is num ÷ den in basis points, rounded half away from zero.
func ratio(num, den int64) incident.Share {
	if den == 0 {
		return 0
	}
	return incident.Share(roundDiv(num*int64(incident.FullShare), den))
}

func roundDiv(num, den int64) int64 {
	if den < 0 {
		num, den = -num, -den
	}
	if num >= 0 {
		return (num + den/2) / den
	}
	return -((-num + den/2) / den)
}

func (x *Insights) budgets(in Input, incs []*incident.Incident) {
	cat := in.Catalogue
	for _, s := range cat.Services {
		if !matches(in, s.Name, s.Team) {
			continue
		}
		down := incident.ServiceUnavailability(incs, s.Name, x.From, x.To)
		x.Budgets = append(x.Budgets, ServiceBudget{
			Budget: cat.WeeklyBudget(s, incs, in.Now), Team: s.Team,
			Unavailability: down, Measured: incident.MeasuredAvailability(down, x.To.Sub(x.From)),
		})
	}
}

func (x *Insights) leadTimes(actions []review.Action, within func(time.Time) bool) {
	x.LeadTimes = append([]Bucket(nil), leadBuckets...)
	seen := map[string]bool{}
	for _, a := range actions {
		lt, done := a.LeadTime()
		if !done || !within(a.DoneAt) || (a.ID != "" && seen[a.ID]) {
			continue
		}
		seen[a.ID] = true
		for i, b := range x.LeadTimes {
			if lt >= b.Min && (b.Max == 0 || lt < b.Max) {
				x.LeadTimes[i].Count++
				break
			}
		}
	}
}

// readers lists the published reviews of the period, oldest first, never a
// private one (a security incident's review counts only in the totals).
func (x *Insights) readers(reviews []*review.Review) {
	drill, private := map[int64]bool{}, map[int64]bool{}
	for _, r := range reviews {
		drill[r.Number], private[r.Number] = r.Drill, r.Private
	}
	for i := len(x.Totals.Reviews) - 1; i >= 0; i-- {
		r := x.Totals.Reviews[i]
		if private[r.Number] {
			continue
		}
		row := Readers{Number: r.Number, Title: r.Title, Service: r.Service, Readers: r.Readers, ChaosDay: drill[r.Number]}
		x.Readers = append(x.Readers, row)
		if row.ChaosDay {
			x.ChaosReviews = append(x.ChaosReviews, row)
		}
	}
}

// chaos counts Chaos Days (calendar days in the organisation's time zone
// with at least one drill started) for the organisation, each team and
// each service.
func (x *Insights) chaos(measured []review.StatsInput) {
	type acc struct {
		kind, name string
		drills     int
		days       map[string]time.Time
	}
	groups := map[string]*acc{}
	order := []string{}
	note := func(kind, name string, day time.Time) {
		k := kind + "\x00" + name
		g, ok := groups[k]
		if !ok {
			g = &acc{kind: kind, name: name, days: map[string]time.Time{}}
			groups[k] = g
			order = append(order, k)
		}
		g.drills++
		g.days[day.Format("2006-01-02")] = day
	}
	for _, s := range measured {
		inc := s.Incident
		if !inc.Drill {
			continue
		}
		lt := inc.StartedAt.In(x.Location)
		day := time.Date(lt.Year(), lt.Month(), lt.Day(), 0, 0, 0, 0, x.Location)
		note("organisation", "all services", day)
		note("team", inc.Service.Team, day)
		note("service", inc.Service.Name, day)
	}
	for _, k := range order {
		g := groups[k]
		var days []time.Time
		for _, d := range g.days {
			days = append(days, d)
		}
		sort.Slice(days, func(i, j int) bool { return days[i].Before(days[j]) })
		c := ChaosDays{Kind: g.kind, Name: g.name, Drills: g.drills, Days: len(days), Last: days[len(days)-1]}
		if len(days) > 1 {
			c.MeanBetween = calendarDays(days[0], days[len(days)-1]) / float64(len(days)-1)
		}
		x.ChaosDays = append(x.ChaosDays, c)
	}
	rank := map[string]int{"organisation": 0, "team": 1, "service": 2}
	sort.SliceStable(x.ChaosDays, func(i, j int) bool {
		a, b := x.ChaosDays[i], x.ChaosDays[j]
		if a.Kind != b.Kind {
			return rank[a.Kind] < rank[b.Kind]
		}
		if a.Days != b.Days {
			return a.Days > b.Days
		}
		return a.Name < b.Name
	})
}

// calendarDays counts the days between two local midnights, immune to DST.
func calendarDays(a, b time.Time) float64 {
	ua := time.Date(a.Year(), a.Month(), a.Day(), 0, 0, 0, 0, time.UTC)
	ub := time.Date(b.Year(), b.Month(), b.Day(), 0, 0, 0, 0, time.UTC)
	return ub.Sub(ua).Hours() / 24
}
