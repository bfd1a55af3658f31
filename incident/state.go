package incident

import (
	"math/big"
	"sort"
	"time"
)

// State replays the timeline up to and including instant t.
func (inc *Incident) State(p Policy, t time.Time) State {
	st, _ := inc.replay(p, t)
	return st
}

// replay computes the state at t and returns the accumulator it priced the
// services with (a merge folds in the merged incident's).
func (inc *Incident) replay(p Policy, t time.Time) (State, *lossAcc) {
	a := newLossAcc(p, inc)
	st := State{Status: StatusOpen, StartedAt: inc.StartedAt}
	people := map[string]bool{}
	alerts := map[string]int{}
	groups := map[string]*alertGroup{}
	msgs := newMessageFold()
	if len(inc.Events) > 0 && inc.Events[0].Kind == EventDeclared && inc.Events[0].Impact != nil {
		a.primary().impact = *inc.Events[0].Impact
	}
	a.mark(inc.StartedAt)
	clock := inc.StartedAt
	for i := 0; i < len(inc.Events); i++ {
		e := inc.Events[i]
		if e.From != 0 {
			continue // priced through its merged event
		}
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
				a.primary().impact = *e.Impact
			}
		case EventImpactChanged:
			if tr := a.find(e.Service); e.Impact != nil && tr != nil && tr.active {
				tr.impact = *e.Impact
				a.downgraded = false
			}
		case EventServiceAffected:
			if e.Entry != nil {
				imp := Impact{Level: ImpactNone}
				if e.Impact != nil {
					imp = *e.Impact
				}
				a.attach(*e.Entry, imp, e.At)
				a.downgraded = false
			}
		case EventServiceUnaffected:
			a.detach(e.Service, e.At, e.Text)
			a.downgraded = false
		case EventMerged:
			if sub := inc.mergedPart(i); sub != nil {
				sst, sacc := sub.replay(p, e.At)
				a.absorb(sacc, e.At, sub.Number)
				st.absorb(sst, sub.Number, people, alerts)
				for _, m := range sst.Messages {
					msgs.add(m)
				}
				i += e.Merged.Events
			}
		case EventMergedInto:
			a.running = false
			st.Status, st.MergedInto = StatusMerged, e.Ref
		case EventCostAdded:
			a.costs += e.Amount
			a.primary().costs += e.Amount
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
		if e.Kind.Priced() {
			a.mark(e.At)
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
	if len(st.Merged) > 0 {
		sort.SliceStable(st.Messages, func(i, j int) bool { return st.Messages[i].At.Before(st.Messages[j].At) })
	}
	st.Participants = sortedKeys(people)
	st.Security = a.security
	st.Downgraded = a.downgraded
	st.UpgradedAt = a.upgradedAt
	st.pendingUpgrade = a.major && !a.recordedMajor

	st.figures(p, a, clock)
	return st, a
}

// figures sets the money of the state at the end instant.
func (st *State) figures(p Policy, a *lossAcc, clock time.Time) {
	rate := a.rateNum(clock)
	impactLoss := roundDiv(a.sum, bpHourNs)
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
	resolved := st.Status == StatusResolved
	st.Services = make([]ServiceState, 0, len(a.tracks))
	for _, tr := range a.tracks {
		ss := tr.state(p, a, clock, resolved)
		if ss.Active {
			st.Exposure += ss.Exposure
		}
		st.Services = append(st.Services, ss)
	}
	st.Impact, st.Target = st.Services[0].Impact, st.Services[0].Target
	if resolved {
		st.TimeToRestore = st.ResolvedAt.Sub(st.StartedAt)
		st.Effectiveness = incidentEffectiveness(a, st.Services, st.LossSoFar)
	}
}

// state is the track's figures at the end instant.
func (tr *track) state(p Policy, a *lossAcc, clock time.Time, resolved bool) ServiceState {
	ss := ServiceState{
		Service: tr.svc, Primary: tr.primary, From: tr.from, Impact: tr.impact, Active: tr.active,
		Target:   p.Bands.Target(tr.svc.ExposureAt(tr.joinedAt)),
		Exposure: tr.svc.ExposureAt(clock),
		Rate:     roundDiv(a.trackRate(tr, clock), big.NewInt(int64(FullShare))),
		Loss:     roundDiv(tr.sum, bpHourNs), Costs: tr.costs,
		JoinedAt: tr.joinedAt, EndedAt: tr.endedAt, Reason: tr.reason,
	}
	if ss.Impact.Level == "" {
		ss.Impact.Level = ImpactNone
	}
	if resolved && tr.sum.Sign() > 0 && tr.openNs > 0 {
		ss.Effectiveness = effectiveness(tr.sum, tr.openNs, ss.Target, ss.LossSoFar())
	}
	return ss
}

// incidentEffectiveness is the incident's effectiveness: with one service
// its own; with several Σ protected ÷ Σ loss at tolerable unavailability,
// the tolerable unavailability being the primary's.
func incidentEffectiveness(a *lossAcc, svcs []ServiceState, loss Money) *Effectiveness {
	if len(svcs) == 1 {
		return svcs[0].Effectiveness
	}
	var atTol Money
	measured := false
	for _, s := range svcs {
		if s.Effectiveness != nil {
			atTol += s.Effectiveness.LossAtTolerable
			measured = true
		}
	}
	if !measured || a.openNs <= 0 {
		return nil
	}
	e := &Effectiveness{
		TolerableUnavailability: svcs[0].Target.TolerableUnavailability(),
		AverageRate:             roundDiv(a.sum, new(big.Int).Mul(big.NewInt(int64(FullShare)), big.NewInt(a.openNs))),
		LossAtTolerable:         atTol,
		ActualLoss:              loss,
		Protected:               atTol - loss,
	}
	e.Ratio = ratio(e.Protected, atTol)
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

// mergedPart is the incident merged in by the merged event at index i, with
// its events as they were on its own timeline.
func (inc *Incident) mergedPart(i int) *Incident {
	h := inc.Events[i].Merged
	if h == nil {
		return nil
	}
	end := min(i+1+h.Events, len(inc.Events))
	evs := make([]Event, 0, end-i-1)
	for _, e := range inc.Events[i+1 : end] {
		if e.From == h.Number {
			e.From = 0
		}
		evs = append(evs, e)
	}
	return &Incident{Number: h.Number, Title: h.Title, Service: h.Service, Unmapped: h.Unmapped, StartedAt: h.StartedAt, Events: evs}
}

// absorb takes in what a merged incident's state brings besides money: its
// people, alerts and messages, and an earlier start.
func (st *State) absorb(sub State, number int64, people map[string]bool, alerts map[string]int) {
	for _, u := range sub.Participants {
		people[u] = true
	}
	for _, al := range sub.Alerts {
		al.firedByEvent = al.Firing // settled by the merged incident's replay
		if _, dup := alerts[al.Key]; !dup {
			alerts[al.Key] = len(st.Alerts)
			st.Alerts = append(st.Alerts, al)
		}
	}
	st.Merged = append(append(st.Merged, sub.Merged...), number)
	if sub.StartedAt.Before(st.StartedAt) {
		st.StartedAt = sub.StartedAt
	}
}

func isPerson(actor string) bool {
	switch actor {
	case "", ActorSystem, ActorAlertmanager, ActorPagerDuty:
		return false
	}
	return true
}
