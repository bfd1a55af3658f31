package incident

import (
	"fmt"
	"math"
	"math/big"
	"strings"
	"time"
)

// ImpactSpan is a stretch of time during which an incident held one impact
// share on one service while it was open.
type ImpactSpan struct {
	Service  string
	From, To time.Time
	Share    Share
}

// ImpactSpans returns the stretches of non-zero impact of the incident up
// to instant t, as the loss model sees them: one span per service and
// stretch, from the impact start with the declared impact, revised by each
// impact change, paused while resolved; an affected service from when it
// joined until its impact ended. A service that came with a merged
// incident brings its stretches (the higher share where both incidents had
// one); the merged incident itself has none left, so that no minute counts
// twice.
func (inc *Incident) ImpactSpans(t time.Time) []ImpactSpan {
	st, a := inc.replay(Policy{}, t)
	if st.Status == StatusMerged {
		return nil
	}
	var spans []ImpactSpan
	for _, tr := range a.tracks {
		for i, s := range tr.hist {
			end := t
			if i+1 < len(tr.hist) {
				end = earlier(tr.hist[i+1].at, t)
			}
			if s.on && s.share > 0 && end.After(s.at) {
				spans = append(spans, ImpactSpan{Service: tr.svc.Name, From: s.at, To: end, Share: s.share})
			}
		}
	}
	return spans
}

// Unavailability is the incident's impact share on the service integrated
// over [from, to]: blocked (100%) for 30 min is 30 min, degraded (50%) for
// 20 min is 10 min, partial (10%) a tenth. A drill has none.
func (inc *Incident) Unavailability(service string, from, to time.Time) time.Duration {
	if inc.Drill || !to.After(from) {
		return 0
	}
	sum := new(big.Int)
	for _, s := range inc.ImpactSpans(to) {
		if !strings.EqualFold(s.Service, service) {
			continue
		}
		lo, hi := later(s.From, from), earlier(s.To, to)
		if hi.After(lo) {
			sum.Add(sum, new(big.Int).Mul(big.NewInt(int64(hi.Sub(lo))), big.NewInt(int64(s.Share))))
		}
	}
	return time.Duration(roundDiv(sum, big.NewInt(int64(FullShare))))
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func earlier(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// ServiceUnavailability sums the unavailability of a service over [from,
// to] across incidents (drills never count).
func ServiceUnavailability(incs []*Incident, service string, from, to time.Time) time.Duration {
	var d time.Duration
	for _, inc := range incs {
		if inc != nil {
			d += inc.Unavailability(service, from, to)
		}
	}
	return d
}

// BudgetWindow is the rolling window of the weekly error budget.
const BudgetWindow = Week

// Budget is a service's weekly error budget: the tolerable unavailability
// per week of its target, and how much of it the last 7 days used.
type Budget struct {
	Service string        `json:"service"`
	Target  Availability  `json:"-"`
	Budget  time.Duration `json:"budget"` // tolerable unavailability per week
	Used    time.Duration `json:"used"`   // unavailability over [From, To]
	From    time.Time     `json:"from"`
	To      time.Time     `json:"to"`
}

// WeeklyBudget is the service's error budget at now: the budget of the
// target in force at now, used by the unavailability of the incidents over
// the last 7 days (rolling; an incident counts for the part of it within the
// window, an open one up to now).
func (c *Catalogue) WeeklyBudget(s Service, incs []*Incident, now time.Time) Budget {
	target := c.TargetAt(s, now)
	from := now.Add(-BudgetWindow)
	return Budget{
		Service: s.Name, Target: target, Budget: target.TolerableUnavailability(),
		Used: ServiceUnavailability(incs, s.Name, from, now), From: from, To: now,
	}
}

// Left is the budget not used yet; negative once it is overspent.
func (b Budget) Left() time.Duration { return b.Budget - b.Used }

// Over reports whether more than the whole budget is used (past 100%).
func (b Budget) Over() bool { return b.Used > b.Budget }

// UsedShare is used ÷ budget in basis points, rounded half away from zero
// (3968 is 39.68%); it may exceed 100%.
func (b Budget) UsedShare() Share {
	if b.Budget <= 0 {
		return 0
	}
	return Share(roundDiv(new(big.Int).Mul(big.NewInt(int64(b.Used)), big.NewInt(int64(FullShare))), big.NewInt(int64(b.Budget))))
}

// UsedPercent writes the used share with one decimal: "39.7%".
func (b Budget) UsedPercent() string { return OneDecimal(b.UsedShare()) }

// String writes "0:40:00 of 1:40:48 (39.7%), 1:00:48 left", or "… over by
// 0:05:00" once overspent.
func (b Budget) String() string {
	s := fmt.Sprintf("%s of %s (%s)", FormatHMS(b.Used), FormatHMS(b.Budget), b.UsedPercent())
	if b.Over() {
		return s + ", over by " + FormatHMS(-b.Left())
	}
	return s + ", " + FormatHMS(b.Left()) + " left"
}

// OneDecimal writes a share as a percentage rounded half away from zero to
// one decimal: 3968 → "39.7%", 10000 → "100.0%".
func OneDecimal(s Share) string {
	neg := s < 0
	if neg {
		s = -s
	}
	tenths := (int64(s) + 5) / 10
	out := fmt.Sprintf("%d.%d%%", tenths/10, tenths%10)
	if neg && tenths != 0 {
		return "-" + out
	}
	return out
}

// MeasuredAvailability is 1 − unavailability ÷ period, in the units of
// Availability (thousandths of a percent), rounded down so that it never
// claims more than was measured: 40 min over a week is 99.603%. No impact at
// all is 100.000% (100000); more unavailability than period is 0.
func MeasuredAvailability(unavailability, period time.Duration) Availability {
	if period <= 0 {
		return 0
	}
	if unavailability < 0 {
		unavailability = 0
	}
	up := period - unavailability
	if up <= 0 {
		return 0
	}
	q := new(big.Int).Mul(big.NewInt(int64(up)), big.NewInt(100_000))
	return Availability(q.Quo(q, big.NewInt(int64(period))).Int64())
}

// Measured writes a measured availability with three decimals, as it is
// shown beside the target: "99.603%", "100.000%".
func (a Availability) Measured() string {
	return fmt.Sprintf("%d.%03d%%", int64(a)/1000, int64(a)%1000)
}

// Nines is the number of nines of an availability, to one decimal:
// 99.9% is 3.0, 99.603% is 2.4; 100% is reported as 5.0 (the resolution of
// Availability).
func (a Availability) Nines() float64 {
	down := 100_000 - int64(a)
	if down <= 0 {
		return 5
	}
	return math.Round(-math.Log10(float64(down)/100_000)*10) / 10
}
