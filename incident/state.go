package incident

import (
	"math/big"
	"time"
)

var (
	bpHourNs = new(big.Int).Mul(big.NewInt(int64(FullShare)), big.NewInt(int64(time.Hour)))
)

// lossAcc integrates exposure × share over time exactly, in
// minor units × basis points × nanoseconds, and watches for the estimate
// crossing the high threshold.
type lossAcc struct {
	p       Policy
	svc     Service
	sum     *big.Int // integrated impact loss, exact
	costs   Money
	share   Share
	running bool // open: the loss clock runs
	openNs  int64
	// classification
	major, recordedMajor, downgraded, security bool
	upgradedAt                                 time.Time
}

func (a *lossAcc) rateNum(t time.Time) *big.Int {
	if !a.running {
		return new(big.Int)
	}
	return new(big.Int).Mul(big.NewInt(int64(a.svc.ExposureAt(t))), big.NewInt(int64(a.share)))
}

// estimateNum is the estimate at t in exact units, given sum up to t.
func (a *lossAcc) estimateNum(t time.Time) *big.Int {
	n := new(big.Int).Mul(a.rateNum(t), big.NewInt(int64(a.p.Horizon)))
	n.Add(n, a.sum)
	return n.Add(n, new(big.Int).Mul(big.NewInt(int64(a.costs)), bpHourNs))
}

func (a *lossAcc) eligible() bool { return !a.major && !a.downgraded && a.p.Thresholds.High > 0 }

func (a *lossAcc) threshold() *big.Int {
	return new(big.Int).Mul(big.NewInt(int64(a.p.Thresholds.High)), bpHourNs)
}

// check upgrades at instant t if the estimate is at or over the threshold.
func (a *lossAcc) check(t time.Time) {
	if a.eligible() && a.estimateNum(t).Cmp(a.threshold()) >= 0 {
		a.major, a.upgradedAt = true, t
	}
}

// advance integrates from..to, splitting at peak boundaries and finding the
// exact instant the estimate crosses the high threshold, if it does.
func (a *lossAcc) advance(from, to time.Time) {
	if !to.After(from) {
		return
	}
	if a.running {
		a.openNs += int64(to.Sub(from))
	}
	cuts := append(a.svc.exposureChanges(from, to), to)
	start := from
	for _, end := range cuts {
		a.check(start)
		r := a.rateNum(start)
		d := big.NewInt(int64(end.Sub(start)))
		if a.eligible() && r.Sign() > 0 {
			gap := new(big.Int).Sub(a.threshold(), a.estimateNum(start))
			// ceil(gap / r) nanoseconds after start
			q, m := new(big.Int).QuoRem(gap, r, new(big.Int))
			if m.Sign() > 0 {
				q.Add(q, big.NewInt(1))
			}
			if q.Cmp(d) <= 0 {
				a.major, a.upgradedAt = true, start.Add(time.Duration(q.Int64()))
			}
		}
		a.sum.Add(a.sum, new(big.Int).Mul(r, d))
		start = end
	}
}

// State replays the timeline up to and including instant t.
func (inc *Incident) State(p Policy, t time.Time) State {
	a := &lossAcc{p: p, svc: inc.Service, sum: new(big.Int), running: true}
	st := State{Status: StatusOpen, Impact: Impact{Level: ImpactNone}}
	st.Target = p.Bands.Target(inc.Service.ExposureAt(inc.StartedAt))
	people := map[string]bool{}
	alerts := map[string]int{}
	groups := map[string]*alertGroup{}
	msgs := newMessageFold()
	if len(inc.Events) > 0 && inc.Events[0].Kind == EventDeclared && inc.Events[0].Impact != nil {
		st.Impact = *inc.Events[0].Impact
		a.share = st.Impact.Share
	}
	clock := inc.StartedAt
	for _, e := range inc.Events {
		if e.At.After(t) {
			break
		}
		if e.At.After(clock) {
			a.advance(clock, e.At)
			clock = e.At
		}
		if isPerson(e.Actor) {
			people[e.Actor] = true
		}
		switch e.Kind {
		case EventDeclared:
			if e.Impact != nil {
				st.Impact = *e.Impact
				a.share = st.Impact.Share
			}
		case EventImpactChanged:
			if e.Impact != nil {
				st.Impact = *e.Impact
				a.share = e.Impact.Share
				a.downgraded = false
			}
		case EventCostAdded:
			a.costs += e.Amount
			a.downgraded = false
		case EventSecurity:
			st.Security, a.security = true, true
			a.major, a.recordedMajor, a.downgraded = true, true, false
		case EventClassChanged:
			if e.Class == Major {
				if !a.major {
					a.upgradedAt = time.Time{}
					if e.Actor == ActorSystem {
						a.upgradedAt = e.At
					}
				}
				a.major, a.recordedMajor, a.downgraded = true, true, false
			} else if !a.security {
				a.major, a.recordedMajor, a.downgraded = false, false, true
				a.upgradedAt = time.Time{}
			}
		case EventCommander:
			st.Commander = e.User
			if e.User != "" {
				people[e.User] = true
			}
		case EventParticipantJoined:
			if e.User != "" {
				people[e.User] = true
			}
		case EventAlertFired, EventAlertResolved:
			st.alert(e, alerts, groups)
		case EventAcknowledged:
			st.Acknowledged = true
		case EventMessage, EventMessageEdited, EventMessageDeleted, EventKeyEvent:
			msgs.apply(e)
		case EventResolved:
			a.running = false
			st.Status, st.ResolvedAt = StatusResolved, e.At
		case EventReopened:
			a.running = true
			st.Status, st.ResolvedAt = StatusOpen, time.Time{}
		case EventReviewDrafted:
			if st.Review == ReviewNone {
				st.Review = ReviewDrafted
			}
		case EventReviewPublished:
			st.Review = ReviewPublished
		}
		a.check(e.At)
	}
	if t.After(clock) {
		a.advance(clock, t)
		clock = t
	}
	a.check(clock)

	st.Messages = msgs.live()
	for i := range st.Alerts {
		st.Alerts[i].settle(groups[st.Alerts[i].Key], clock)
	}
	st.Participants = sortedKeys(people)
	st.Security = a.security
	st.Downgraded = a.downgraded
	st.UpgradedAt = a.upgradedAt
	st.pendingUpgrade = a.major && !a.recordedMajor

	// Figures at the end instant.
	rate := a.rateNum(clock)
	impactLoss := roundDiv(a.sum, bpHourNs)
	st.Exposure = inc.Service.ExposureAt(clock)
	st.Rate = roundDiv(rate, big.NewInt(int64(FullShare)))
	st.Costs = a.costs
	st.LossSoFar = impactLoss + a.costs
	est := new(big.Int).Mul(rate, big.NewInt(int64(p.Horizon)))
	est.Add(est, a.sum)
	st.Estimated = roundDiv(est, bpHourNs) + a.costs
	st.Class = Minor
	if a.major {
		st.Class = Major
	}
	switch {
	case st.Class == Major:
		st.Priority = PriorityHigh
	case st.Estimated >= p.Thresholds.Medium:
		st.Priority = PriorityMedium
	default:
		st.Priority = PriorityLow
	}
	if st.Status == StatusResolved {
		st.TimeToRestore = st.ResolvedAt.Sub(inc.StartedAt)
		if a.sum.Sign() > 0 && a.openNs > 0 {
			st.Effectiveness = effectiveness(a.sum, a.openNs, st.Target, st.LossSoFar)
		}
	}
	return st
}

// effectiveness computes the playbook's financial loss protection
// effectiveness from the exact integrated loss, with one rounding per figure.
func effectiveness(sum *big.Int, openNs int64, target Availability, actual Money) *Effectiveness {
	tol := target.TolerableUnavailability()
	// average rate per hour = loss ÷ hours open = sum / (bp × openNs)
	avg := roundDiv(sum, new(big.Int).Mul(big.NewInt(int64(FullShare)), big.NewInt(openNs)))
	// loss at tolerable = average rate × tolerable = sum × tol / (bp × hour × openNs)
	num := new(big.Int).Mul(sum, big.NewInt(int64(tol)))
	den := new(big.Int).Mul(bpHourNs, big.NewInt(openNs))
	atTol := roundDiv(num, den)
	e := &Effectiveness{
		TolerableUnavailability: tol,
		AverageRate:             avg,
		LossAtTolerable:         atTol,
		ActualLoss:              actual,
		Protected:               atTol - actual,
	}
	if atTol != 0 {
		e.Ratio = Share(roundDiv(big.NewInt(int64(e.Protected)*int64(FullShare)), big.NewInt(int64(atTol))))
	}
	return e
}

// alert folds an alert event into the state of its group. Individual
// alerts are merged into the group; an event without them (PagerDuty) fires
// or resolves the group itself; such a resolution for a group the timeline
// never saw fire is ignored.
func (st *State) alert(e Event, index map[string]int, groups map[string]*alertGroup) {
	i, ok := index[e.Key]
	if !ok {
		if e.Kind != EventAlertFired && len(e.Alerts) == 0 {
			return
		}
		i = len(st.Alerts)
		index[e.Key] = i
		st.Alerts = append(st.Alerts, AlertState{Key: e.Key, Source: e.Source, Labels: e.Labels, Summary: e.Text, FiredAt: e.At})
	}
	a := &st.Alerts[i]
	if len(e.Alerts) == 0 {
		a.firedByEvent = e.Kind == EventAlertFired
		a.ClosedAt = time.Time{}
		if !a.firedByEvent {
			a.ClosedAt = e.At
		}
		return
	}
	g := groups[e.Key]
	if g == nil {
		g = &alertGroup{}
		groups[e.Key] = g
	}
	for _, r := range e.Alerts {
		g.merge(r, e.At)
	}
}

func isPerson(actor string) bool {
	switch actor {
	case "", ActorSystem, ActorAlertmanager, ActorPagerDuty:
		return false
	}
	return true
}
