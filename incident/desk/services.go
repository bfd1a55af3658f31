package desk

import (
	"fmt"
	"strings"
	"time"

	"github.com/incidentbot/incidentbot/incident"
)

// serviceCallout plans the callout of an affected service's owning team,
// under the same out-of-hours rules as the primary's: a minor incident on a
// service without out-of-hours on-call waits for the next working day (the
// deferral is recorded, and returned).
func (d *Desk) serviceCallout(inc *incident.Incident, svc incident.Service, class incident.Class, seq int, now time.Time) (Job, []incident.Event) {
	co := d.cat.CalloutFor(svc, class, now)
	due := now
	var evs []incident.Event
	if !co.DeferredUntil.IsZero() {
		due = co.DeferredUntil
		evs = inc.Append(incident.Event{At: now, Kind: incident.EventCalloutDeferred, Actor: incident.ActorSystem, Until: co.DeferredUntil, Text: co.Owner, Service: svc.Name})
	}
	return JobFor(JobCallout, inc.Number, fmt.Sprintf("%d", seq), due, Payload{Level: co.Level, Owner: co.Owner, Service: svc.Name}), evs
}

// calledOut reports whether the team or domain owner was already called
// out for the incident.
func calledOut(inc *incident.Incident, owner string) bool {
	for _, e := range inc.Events {
		if e.Kind == incident.EventCalledOut && (e.Key == owner || strings.HasSuffix(e.Text, " on-call: "+owner)) {
			return true
		}
	}
	return false
}

// calloutService is the service a callout job is for: its affected service
// as attached, or the primary.
func calloutService(inc *incident.Incident, st incident.State, p Payload) (incident.Service, bool) {
	if p.Service == "" {
		return inc.Service, true
	}
	ss, ok := st.Service(p.Service)
	if !ok || !ss.Active {
		return incident.Service{}, false
	}
	return ss.Service, true
}
