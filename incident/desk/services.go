package desk

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/incidentbot/incidentbot/incident"
)

// planServices keeps out of the change the events that came with a merged
// incident (their effects happened there) and plans the callout of each
// newly affected service's owning team, under the same out-of-hours rules
// as the primary's: a minor incident on a service without out-of-hours
// on-call waits for the next working day (the deferral is recorded).
func (d *Desk) planServices(c *Change, added []incident.Event, jobs []Job) ([]incident.Event, []Job) {
	own := added[:0:0]
	for _, e := range added {
		if e.From == 0 {
			own = append(own, e)
		}
	}
	for _, e := range own {
		if e.Kind != incident.EventServiceAffected || e.Entry == nil {
			continue
		}
		co := d.cat.CalloutFor(*e.Entry, c.State().Class, c.Now)
		due := c.Now
		if !co.DeferredUntil.IsZero() {
			own = append(own, c.Incident.Append(incident.Event{At: c.Now, Kind: incident.EventCalloutDeferred, Actor: incident.ActorSystem,
				Until: co.DeferredUntil, Text: co.Owner, Service: e.Entry.Name})...)
			c.state = nil
			due = co.DeferredUntil
		}
		jobs = append(jobs, JobFor(JobCallout, c.Incident.Number, fmt.Sprint(e.Seq), due, Payload{Level: co.Level, Owner: co.Owner, Service: e.Entry.Name}))
	}
	return own, jobs
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
