package review

import (
	"math/big"
	"sort"
	"strings"
	"time"

	"github.com/incidentbot/incidentbot/incident"
)

// StatsInput is an incident with its state (as at the time the measures are
// taken).
type StatsInput struct {
	Incident *incident.Incident
	State    incident.State
}

// Loss is the financial loss of a service or a team.
type Loss struct {
	Name      string
	Loss      incident.Money
	Incidents int
}

// ReviewReaders is the readership of one published review.
type ReviewReaders struct {
	Number      int64
	Title       string
	Service     string
	Team        string
	PublishedAt time.Time
	Readers     int // unique readers
}

// Measures are the reliability and learning-culture measures of a period.
//
// Percentiles are nearest-rank: the p-th percentile of N sorted values is
// the value at 1-based rank ⌈p × N / 100⌉, so it is always one of the
// measured values. The median is the 50th percentile: for an even count, the
// lower of the two middle values.
type Measures struct {
	// From and To bound the period: an incident counts when it started
	// within [From, To]; From is zero when the period is everything.
	From, To time.Time
	Service  string // "" for every service

	// Drills counts the practice incidents of the period: they are left
	// out of every other incident, loss and restoration figure.
	Drills int

	Incidents int
	Majors    int
	Minors    int
	Open      int // not resolved at To

	// Time to restore (impact start → restored) of the restored incidents.
	Restored            int
	MedianTimeToRestore time.Duration
	P90TimeToRestore    time.Duration

	// Loss so far of every incident (impact plus costs), by service and by
	// team, largest first (ties by name).
	LossByService []Loss
	LossByTeam    []Loss
	TotalLoss     incident.Money

	// Financial loss protection effectiveness over the incidents where it
	// was measured, each weighted by its loss at tolerable unavailability:
	// sum(protected) ÷ sum(loss at tolerable unavailability), in basis
	// points (7000 is 70%). It may be negative.
	EffectivenessMeasured int
	LossAtTolerable       incident.Money
	Protected             incident.Money
	Effectiveness         incident.Share

	// Improvement actions: defined and done within the period, still open
	// at To, the median lead time (defined → done) of those done within the
	// period, how many were done per week, and the mean time between two
	// successive completions.
	ActionsDefined         int
	ActionsDone            int
	ActionsOpen            int
	MedianActionLeadTime   time.Duration
	ActionsPerWeek         float64
	MeanTimeBetweenActions time.Duration

	// Post-incident review readers: the reviews published within the
	// period, newest first, with their unique readers; ReviewReaders sums
	// them and UniqueReaders counts distinct people across the reviews.
	Reviews       []ReviewReaders
	ReviewReaders int
	UniqueReaders int
}

// EffectivenessPercent is the mean effectiveness as a percentage with one
// decimal, truncated toward zero (99.55% is 99.5, never 100).
func (s Measures) EffectivenessPercent() float64 { return s.Effectiveness.Tenths() }

// EffectivenessText writes EffectivenessPercent for people: "99.5%".
func (s Measures) EffectivenessText() string { return s.Effectiveness.TenthsText() }

// Days writes a duration in days, as lead times are reported: 2.5.
func Days(d time.Duration) float64 { return d.Hours() / 24 }

// Stats measures incidents, improvement actions and reviews over the period
// ending at now (period ≤ 0: everything up to now), for one service or, with
// service "", for all. Incidents count by when they started; actions by when
// they were defined or done; reviews by when they were published. Actions
// are matched to a service by their Service field, else through their
// incident among in (pass every incident the actions refer to, whatever the
// period); actions with the same ID are counted once.
func Stats(in []StatsInput, actions []Action, reviews []*Review, period time.Duration, service string, now time.Time) Measures {
	s := Measures{To: now, Service: service}
	if period > 0 {
		s.From = now.Add(-period)
	}
	within := func(t time.Time) bool {
		return !t.IsZero() && !t.After(now) && (s.From.IsZero() || !t.Before(s.From))
	}
	forService := func(name string) bool { return service == "" || strings.EqualFold(name, service) }

	serviceOf := map[int64]string{}
	byService, byTeam := map[string]*Loss{}, map[string]*Loss{}
	var ttrs []time.Duration
	atTol, prot := new(big.Int), new(big.Int)
	for _, x := range in {
		inc := x.Incident
		if inc == nil {
			continue
		}
		serviceOf[inc.Number] = inc.Service.Name
		st := x.State
		if st.Status == incident.StatusMerged || !within(inc.StartedAt) {
			continue // a merged incident is counted in the one it went into
		}
		loss, eff, ok := share(inc, st, service)
		if !ok {
			continue
		}
		if inc.Drill {
			s.Drills++
			continue
		}
		s.Incidents++
		if st.Class == incident.Major {
			s.Majors++
		} else {
			s.Minors++
		}
		if st.Status == incident.StatusResolved {
			ttrs = append(ttrs, st.TimeToRestore)
		} else {
			s.Open++
		}
		s.TotalLoss += loss
		addShares(byService, byTeam, Shares(x), forService)
		if e := eff; e != nil {
			s.EffectivenessMeasured++
			s.LossAtTolerable += e.LossAtTolerable
			s.Protected += e.Protected
			atTol.Add(atTol, big.NewInt(int64(e.LossAtTolerable)))
			prot.Add(prot, big.NewInt(int64(e.Protected)))
		}
	}
	s.Restored = len(ttrs)
	s.MedianTimeToRestore = percentile(ttrs, 50)
	s.P90TimeToRestore = percentile(ttrs, 90)
	s.LossByService, s.LossByTeam = sortedLoss(byService), sortedLoss(byTeam)
	if atTol.Sign() != 0 {
		s.Effectiveness = incident.Share(roundDiv(prot.Mul(prot, big.NewInt(int64(incident.FullShare))), atTol))
	}

	seen := map[string]bool{}
	var leads []time.Duration
	var done []time.Time
	var earliest time.Time
	for _, a := range actions {
		if a.ID != "" {
			if seen[a.ID] {
				continue
			}
			seen[a.ID] = true
		}
		svc := a.Service
		if svc == "" {
			svc = serviceOf[a.Incident]
		}
		if !forService(svc) || a.CreatedAt.After(now) {
			continue
		}
		if earliest.IsZero() || a.CreatedAt.Before(earliest) {
			earliest = a.CreatedAt
		}
		if within(a.CreatedAt) {
			s.ActionsDefined++
		}
		if !a.Done() || a.DoneAt.After(now) {
			s.ActionsOpen++
			continue
		}
		if within(a.DoneAt) {
			lt, _ := a.LeadTime()
			leads = append(leads, lt)
			done = append(done, a.DoneAt)
		}
	}
	s.ActionsDone = len(leads)
	s.MedianActionLeadTime = percentile(leads, 50)
	span := now.Sub(s.From)
	if s.From.IsZero() {
		span = now.Sub(earliest)
	}
	if span > 0 && s.ActionsDone > 0 {
		s.ActionsPerWeek = float64(s.ActionsDone) / (float64(span) / float64(incident.Week))
	}
	if len(done) > 1 {
		sort.Slice(done, func(i, j int) bool { return done[i].Before(done[j]) })
		s.MeanTimeBetweenActions = done[len(done)-1].Sub(done[0]) / time.Duration(len(done)-1)
	}

	readers := map[string]bool{}
	for _, r := range reviews {
		if r == nil || !r.Published() || !forService(r.Service) || !within(r.PublishedAt) {
			continue
		}
		s.Reviews = append(s.Reviews, ReviewReaders{
			Number: r.Number, Title: r.Title, Service: r.Service, Team: r.Team,
			PublishedAt: r.PublishedAt, Readers: len(r.Readers),
		})
		s.ReviewReaders += len(r.Readers)
		for k := range r.Readers {
			readers[k] = true
		}
	}
	s.UniqueReaders = len(readers)
	sort.SliceStable(s.Reviews, func(i, j int) bool {
		if !s.Reviews[i].PublishedAt.Equal(s.Reviews[j].PublishedAt) {
			return s.Reviews[i].PublishedAt.After(s.Reviews[j].PublishedAt)
		}
		return s.Reviews[i].Number > s.Reviews[j].Number
	})
	return s
}

// share is what an incident counts for in the measures of one service (its
// own loss and effectiveness), or of every service (the incident's); ok is
// false when the service had no part in the incident.
func share(inc *incident.Incident, st incident.State, service string) (incident.Money, *incident.Effectiveness, bool) {
	if service == "" {
		return st.LossSoFar, st.Effectiveness, true
	}
	if len(st.Services) == 0 && strings.EqualFold(inc.Service.Name, service) {
		return st.LossSoFar, st.Effectiveness, true
	}
	for _, ss := range st.Services {
		if strings.EqualFold(ss.Service.Name, service) {
			return ss.LossSoFar(), ss.Effectiveness, true
		}
	}
	return 0, nil, false
}

// addShares counts each service's own share of an incident against the
// service and its owning team; a team counts the incident once.
func addShares(byService, byTeam map[string]*Loss, shares []ServiceShare, want func(string) bool) {
	teams := map[string]incident.Money{}
	var order []string
	for _, sh := range shares {
		if !want(sh.Service) {
			continue
		}
		add(byService, sh.Service, sh.Loss)
		if _, seen := teams[sh.Team]; !seen {
			order = append(order, sh.Team)
		}
		teams[sh.Team] += sh.Loss
	}
	for _, t := range order {
		add(byTeam, t, teams[t])
	}
}

// ServiceShare is one service's part of an incident's loss.
type ServiceShare struct {
	Service string
	Team    string
	Loss    incident.Money
}

// Shares splits an incident's loss so far by service: each of its services
// (the primary and the affected ones) bears its own loss, the primary also
// the costs; every per-service and per-team figure goes through here. A
// drill, and an incident merged into another (counted there), have none.
func Shares(x StatsInput) []ServiceShare {
	if x.Incident == nil || x.Incident.Drill || x.State.Status == incident.StatusMerged {
		return nil
	}
	if len(x.State.Services) == 0 {
		s := x.Incident.Service
		return []ServiceShare{{Service: s.Name, Team: s.Team, Loss: x.State.LossSoFar}}
	}
	out := make([]ServiceShare, 0, len(x.State.Services))
	for _, ss := range x.State.Services {
		out = append(out, ServiceShare{Service: ss.Service.Name, Team: ss.Service.Team, Loss: ss.LossSoFar()})
	}
	return out
}

func add(m map[string]*Loss, name string, loss incident.Money) {
	l, ok := m[name]
	if !ok {
		l = &Loss{Name: name}
		m[name] = l
	}
	l.Loss += loss
	l.Incidents++
}

func sortedLoss(m map[string]*Loss) []Loss {
	out := make([]Loss, 0, len(m))
	for _, l := range m {
		out = append(out, *l)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Loss != out[j].Loss {
			return out[i].Loss > out[j].Loss
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// percentile is the nearest-rank p-th percentile (see Measures); zero for no
// values. It does not modify ds.
func percentile(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	rank := (p*len(s) + 99) / 100 // ⌈p × N / 100⌉
	if rank < 1 {
		rank = 1
	}
	if rank > len(s) {
		rank = len(s)
	}
	return s[rank-1]
}

// roundDiv is num ÷ den rounded half away from zero.
func roundDiv(num, den *big.Int) int64 {
	q, r := new(big.Int).QuoRem(num, den, new(big.Int))
	if new(big.Int).Lsh(new(big.Int).Abs(r), 1).Cmp(new(big.Int).Abs(den)) >= 0 {
		if (num.Sign() < 0) != (den.Sign() < 0) {
			q.Sub(q, big.NewInt(1))
		} else {
			q.Add(q, big.NewInt(1))
		}
	}
	return q.Int64()
}
