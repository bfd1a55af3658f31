package incident

import (
	"strings"
	"time"
)

// An incident has a primary service (its header's) and any number of
// affected services, each with its own impact. The loss rate is the sum over
// them of exposure in force × share; the estimate and the classification use
// the total.

func (inc *Incident) isPrimary(name string) bool {
	return name == "" || strings.EqualFold(name, inc.Service.Name)
}

func checkShare(imp Impact) error {
	if imp.Share < 0 || imp.Share > FullShare {
		return Errorf(EINVALID, "Impact share must be between 0%% and 100%%.")
	}
	return nil
}

// Affect attaches an affected service with its impact (none when imp is
// nil: not known yet), or revises the impact of one already attached.
func (inc *Incident) Affect(p Policy, now time.Time, actor string, svc Service, imp *Impact) ([]Event, error) {
	st, err := inc.mustBeOpen(p, now)
	if err != nil {
		return nil, err
	}
	if imp != nil {
		if err := checkShare(*imp); err != nil {
			return nil, err
		}
	}
	cur, attached := st.Service(svc.Name)
	switch {
	case attached && cur.Primary && imp == nil:
		return nil, Errorf(ECONFLICT, "`%s` is the primary service of incident %d; set its impact with `/incident impact`.", svc.Name, inc.Number)
	case attached && cur.Active && imp == nil:
		return nil, Errorf(ECONFLICT, "`%s` is already affected (%s); name an impact to revise it.", cur.Service.Name, cur.Impact)
	case attached && cur.Active:
		return inc.SetServiceImpact(p, now, actor, cur.Service.Name, *imp)
	}
	none := Impact{Level: ImpactNone}
	if imp == nil {
		imp = &none
	}
	entry := svc
	return inc.do(p, now, Event{Kind: EventServiceAffected, Actor: actor, Service: svc.Name, Entry: &entry, Impact: imp}), nil
}

// SetServiceImpact revises the impact of one of the incident's services;
// "" (or the primary's name) is the primary service.
func (inc *Incident) SetServiceImpact(p Policy, now time.Time, actor, service string, imp Impact) ([]Event, error) {
	if inc.isPrimary(service) {
		return inc.SetImpact(p, now, actor, imp)
	}
	st, err := inc.mustBeOpen(p, now)
	if err != nil {
		return nil, err
	}
	if err := checkShare(imp); err != nil {
		return nil, err
	}
	cur, ok := st.Service(service)
	if !ok || !cur.Active {
		return nil, Errorf(ECONFLICT, "`%s` is not affected by incident %d; add it with `/incident affects %s <impact>`.", service, inc.Number, service)
	}
	return inc.do(p, now, Event{Kind: EventImpactChanged, Actor: actor, Service: cur.Service.Name, Impact: &imp}), nil
}

// Unaffect ends an affected service's impact; the reason is recorded. The
// primary service stays: its impact is set, or the incident resolved.
func (inc *Incident) Unaffect(p Policy, now time.Time, actor, service, reason string) ([]Event, error) {
	reason, err := needText(reason, "why the service is no longer affected")
	if err != nil {
		return nil, err
	}
	st, err := inc.mustBeOpen(p, now)
	if err != nil {
		return nil, err
	}
	cur, ok := st.Service(service)
	switch {
	case ok && cur.Primary:
		return nil, Errorf(ECONFLICT, "`%s` is the primary service of incident %d: set its impact, or resolve the incident.", cur.Service.Name, inc.Number)
	case !ok || !cur.Active:
		return nil, Errorf(ECONFLICT, "`%s` is not affected by incident %d.", service, inc.Number)
	}
	return inc.do(p, now, Event{Kind: EventServiceUnaffected, Actor: actor, Service: cur.Service.Name, Text: reason}), nil
}

// MergeInto closes an open incident as merged into incident into: not
// resolved, left out of every measure. Its timeline then moves to the other
// incident with Absorb.
func (inc *Incident) MergeInto(p Policy, now time.Time, actor string, into int64, reason string) ([]Event, error) {
	if into == inc.Number || into <= 0 {
		return nil, Errorf(EINVALID, "An incident cannot be merged into itself.")
	}
	if err := validText(reason); err != nil {
		return nil, err
	}
	if _, err := inc.mustBeOpen(p, now); err != nil {
		return nil, err
	}
	return inc.do(p, now, Event{Kind: EventMergedInto, Actor: actor, Ref: into, Text: strings.TrimSpace(reason)}), nil
}

// Absorb brings in incident b, already merged into this one: its header
// and, after a merged event, every event of its timeline up to the merge,
// each marked as from b. Its services with their impacts over time, costs,
// alerts and people become this incident's; where both incidents priced the
// same service at the same time, the higher share counts. Absorbing the
// same incident again changes nothing.
func (inc *Incident) Absorb(p Policy, now time.Time, actor string, b *Incident, reason string) ([]Event, error) {
	for _, e := range inc.Events {
		if e.Kind == EventMerged && e.From == 0 && e.Ref == b.Number {
			return nil, nil
		}
	}
	k := -1
	for i := len(b.Events) - 1; i >= 0 && k < 0; i-- {
		if e := b.Events[i]; e.Kind == EventMergedInto && e.From == 0 {
			if e.Ref != inc.Number {
				return nil, Errorf(ECONFLICT, "Incident %d was merged into #%d, not #%d.", b.Number, e.Ref, inc.Number)
			}
			k = i
		}
	}
	if k < 0 {
		return nil, Errorf(ECONFLICT, "Incident %d has not been merged into #%d.", b.Number, inc.Number)
	}
	evs := make([]Event, 0, k+1)
	evs = append(evs, Event{At: now, Kind: EventMerged, Actor: actor, Ref: b.Number, Text: strings.TrimSpace(reason),
		Merged: &MergedHeader{Number: b.Number, Title: b.Title, Service: b.Service, Unmapped: b.Unmapped, StartedAt: b.StartedAt, Events: k}})
	for _, e := range b.Events[:k] {
		e.Idem, e.Seq = "", 0
		if e.From == 0 {
			e.From = b.Number
		}
		evs = append(evs, e)
	}
	n := len(inc.Events)
	inc.Append(evs...)
	inc.settle(p, now, n)
	return inc.Events[n:], nil
}

// PageAgain is how long a page stands: paging the same team or person again
// within it is refused as already paged.
const PageAgain = 5 * time.Minute

// PageTeamKey and PageUserKey are the keys of paged events.
func PageTeamKey(team string) string { return "team:" + team }

// PageUserKey is the key of a person's page.
func PageUserKey(user string) string { return "user:" + user }

// Page records that actor called another team's on-call (key
// PageTeamKey) or a person (PageUserKey, user set) into the incident, with
// the reason; policy is the team's PagerDuty escalation policy, if any.
// The same team or person paged within PageAgain is refused.
func (inc *Incident) Page(p Policy, now time.Time, actor, key, user, policy, reason string) ([]Event, error) {
	if err := validText(reason); err != nil {
		return nil, err
	}
	if _, err := inc.mustBeOpen(p, now); err != nil {
		return nil, err
	}
	for i := len(inc.Events) - 1; i >= 0; i-- {
		e := inc.Events[i]
		if e.Kind == EventPaged && e.From == 0 && e.Key == key && now.Sub(e.At) < PageAgain {
			return nil, Errorf(ECONFLICT, "%s was already paged %s ago; give them a moment.", pageTarget(key), FormatShort(now.Sub(e.At).Round(time.Second)))
		}
	}
	ev := Event{Kind: EventPaged, Actor: actor, Key: key, User: user, Text: strings.TrimSpace(reason)}
	if policy != "" {
		ev.Labels = map[string]string{"escalation_policy": policy}
	}
	return inc.do(p, now, ev), nil
}

func pageTarget(key string) string {
	if u, ok := strings.CutPrefix(key, "user:"); ok {
		return "<@" + u + ">"
	}
	return strings.TrimPrefix(key, "team:")
}
