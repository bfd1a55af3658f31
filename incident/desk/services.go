package desk

import (
	"context"
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

func (d *Desk) service(name string) (incident.Service, error) {
	svc, ok := d.cat.Service(strings.TrimSpace(name))
	if !ok {
		return svc, incident.Errorf(incident.ENOTFOUND, "There is no service called %q. Try `/incident services` for the catalogue.", name)
	}
	return svc, nil
}

// Affect adds an affected service to an incident, its impact none until
// someone sets it when imp is nil, or revises an affected service's impact.
func (d *Desk) Affect(ctx context.Context, number int64, op Op, service string, imp *incident.Impact) (*incident.Incident, error) {
	svc, err := d.service(service)
	if err != nil {
		return nil, err
	}
	return d.personal(ctx, number, op, func(inc *incident.Incident, _ incident.State, now time.Time) ([]incident.Event, error) {
		return inc.Affect(d.cat.Policy, now, op.Actor, svc, imp)
	})
}

// SetServiceImpact revises the impact of one of the incident's services;
// "" is the primary service.
func (d *Desk) SetServiceImpact(ctx context.Context, number int64, op Op, service string, imp incident.Impact) (*incident.Incident, error) {
	if service != "" {
		svc, err := d.service(service)
		if err != nil {
			return nil, err
		}
		service = svc.Name
	}
	return d.personal(ctx, number, op, func(inc *incident.Incident, _ incident.State, now time.Time) ([]incident.Event, error) {
		return inc.SetServiceImpact(d.cat.Policy, now, op.Actor, service, imp)
	})
}

// Unaffect ends an affected service's impact, with the reason.
func (d *Desk) Unaffect(ctx context.Context, number int64, op Op, service, reason string) (*incident.Incident, error) {
	svc, err := d.service(service)
	if err != nil {
		return nil, err
	}
	return d.personal(ctx, number, op, func(inc *incident.Incident, _ incident.State, now time.Time) ([]incident.Event, error) {
		return inc.Unaffect(d.cat.Policy, now, op.Actor, svc.Name, reason)
	})
}
