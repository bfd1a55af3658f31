package incident

import "time"

// AlertStatus is whether an individual alert fires.
type AlertStatus string

// Alert statuses.
const (
	AlertFiring   AlertStatus = "firing"
	AlertResolved AlertStatus = "resolved"
)

// Alert is one alert of a group, identified inside its group by its
// fingerprint. On an event it is what a notification reported; in a State
// it is everything the notifications said, merged.
type Alert struct {
	Fingerprint string            `json:"fingerprint"`
	Status      AlertStatus       `json:"status"`
	Labels      map[string]string `json:"labels,omitempty"`
	Summary     string            `json:"summary,omitempty"`
	StartsAt    time.Time         `json:"starts_at,omitzero"`
	// EndsAt is when the alert ended (resolved) or will end unless it is
	// reported again (firing); zero when unknown.
	EndsAt time.Time `json:"ends_at,omitzero"`
	// SeenAt is when the timeline first heard of the alert (State only).
	SeenAt time.Time `json:"seen_at,omitzero"`
}

// supersedes reports whether report r says something newer about an alert
// than cur does. Notifications of a group arrive in any order (several
// senders, HA pairs, retries), so the merge must not depend on it: a later
// firing (a later startsAt) wins, then a resolution over a firing, then,
// between two firings, the later expiry and between two resolutions the
// earlier end. Anything else is old news.
func (r Alert) supersedes(cur Alert) bool {
	switch {
	case !r.StartsAt.Equal(cur.StartsAt):
		return r.StartsAt.After(cur.StartsAt)
	case r.Status != cur.Status:
		return r.Status == AlertResolved
	case r.Status == AlertResolved:
		return !r.EndsAt.IsZero() && (cur.EndsAt.IsZero() || r.EndsAt.Before(cur.EndsAt))
	default:
		return r.EndsAt.After(cur.EndsAt)
	}
}

// at is the alert as it stands at t: a firing alert whose end has passed
// is resolved.
func (a Alert) at(t time.Time) Alert {
	if a.Status == AlertFiring && !a.EndsAt.IsZero() && !a.EndsAt.After(t) {
		a.Status = AlertResolved
	}
	return a
}

// alertGroup merges the reports of one group's notifications.
type alertGroup struct {
	alerts []Alert
	index  map[string]int // fingerprint → position in alerts
}

// merge applies one report received at `at` and reports whether it changed
// what the group knew.
func (g *alertGroup) merge(r Alert, at time.Time) bool {
	if g.index == nil {
		g.index = map[string]int{}
	}
	if r.Status == AlertResolved && r.EndsAt.IsZero() {
		r.EndsAt = at // a resolution without an end ended when it was heard of
	}
	i, ok := g.index[r.Fingerprint]
	if !ok {
		r.SeenAt = at
		g.index[r.Fingerprint] = len(g.alerts)
		g.alerts = append(g.alerts, r)
		return true
	}
	cur := g.alerts[i]
	if !r.supersedes(cur) {
		return false
	}
	r.SeenAt = cur.SeenAt
	if len(r.Labels) == 0 {
		r.Labels = cur.Labels
	}
	if r.Summary == "" {
		r.Summary = cur.Summary
	}
	g.alerts[i] = r
	return true
}

// alertGroupOf replays the individual alerts the timeline knows for a group.
func (inc *Incident) alertGroupOf(key string) *alertGroup {
	g := &alertGroup{}
	for i := range inc.Events {
		if e := &inc.Events[i]; (e.Kind == EventAlertFired || e.Kind == EventAlertResolved) && e.Key == key {
			for _, a := range e.Alerts {
				g.merge(a, e.At)
			}
		}
	}
	return g
}

// alertNews returns the reports that change what the timeline knows of the
// group: the rest is old news, and storing it would make a storm's
// timelines grow with the square of its groups' sizes.
func (inc *Incident) alertNews(key string, reports []Alert, at time.Time) []Alert {
	g := inc.alertGroupOf(key)
	var news []Alert
	for _, r := range reports {
		if r.Fingerprint != "" && g.merge(r, at) {
			news = append(news, r)
		}
	}
	return news
}

// AlertNewsFiring reports whether an alert notification of the group would
// make an alert fire that the timeline knows as resolved or not at all. A
// notification without individual alerts always might.
func (inc *Incident) AlertNewsFiring(key string, reports []Alert, now time.Time) bool {
	if len(reports) == 0 {
		return true
	}
	for _, r := range inc.alertNews(key, reports, now) {
		if r.at(now).Status == AlertFiring {
			return true
		}
	}
	return false
}

// settle sets a group's state at t from its individual alerts.
func (st *AlertState) settle(g *alertGroup, t time.Time) {
	if g == nil || len(g.alerts) == 0 {
		st.Firing = st.firedByEvent
		return
	}
	st.Alerts = make([]Alert, len(g.alerts))
	st.Firing, st.ClosedAt = false, time.Time{}
	for i, a := range g.alerts {
		a = a.at(t)
		st.Alerts[i] = a
		if a.Status == AlertFiring {
			st.Firing = true
		} else if end := a.EndsAt; end.After(st.ClosedAt) {
			st.ClosedAt = end
		}
	}
	if st.Firing {
		st.ClosedAt = time.Time{}
	}
}
