package desk

import (
	"context"
	"encoding/json"
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

// Job kinds of incidents on several services.
const (
	JobMerge = "merge" // bring a merged incident's timeline into the one it was merged into
	JobPage  = "page"  // find a paged team's on-call and call them out
)

// mergePayload is a JobMerge's payload.
type mergePayload struct {
	From   int64  `json:"from"`
	Actor  string `json:"actor,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// Merge merges open incident from into incident into: from is closed as
// merged into the other (not resolved, left out of every measure), then
// its alerts, services with their impacts over time, costs, participants
// and timeline move to into. Closing from also plans the move as a job, so
// that a crash between the two steps completes the merge once; a repeated
// command (the same op.Idem) changes nothing.
func (d *Desk) Merge(ctx context.Context, into, from int64, op Op, reason string) (*incident.Incident, error) {
	target, err := d.store.Get(ctx, into)
	if err != nil {
		return nil, err
	}
	if err := d.canMerge(ctx, target, from, op); err != nil {
		return nil, err
	}
	job := Job{ID: fmt.Sprintf("%s/%d/%d", JobMerge, into, from), Kind: JobMerge, Incident: into, DueAt: d.now()}
	job.Payload, _ = json.Marshal(mergePayload{From: from, Actor: op.Actor, Reason: reason})
	_, err = d.applyJobs(ctx, from, func(inc *incident.Incident, now time.Time) ([]incident.Event, []Job, error) {
		if inc.HasIdem(op.Idem) {
			return nil, []Job{job}, nil // a redelivery: the move may still be due
		}
		if st := inc.State(d.cat.Policy, now); st.Status == incident.StatusMerged && st.MergedInto == into {
			return nil, []Job{job}, nil
		}
		n := len(inc.Events)
		evs, err := inc.MergeInto(d.cat.Policy, now, op.Actor, into, reason)
		if err != nil {
			return nil, nil, err
		}
		if op.Idem != "" {
			inc.Events[n].Idem, evs[0].Idem = op.Idem, op.Idem
		}
		return evs, []Job{job}, nil
	})
	if err != nil {
		return nil, err
	}
	return d.absorb(ctx, into, from, op.Actor, reason)
}

// canMerge checks a merge before anything changes: both incidents exist and
// are open, they differ, a security incident goes only into another, and
// the person may manage one of them.
func (d *Desk) canMerge(ctx context.Context, target *incident.Incident, from int64, op Op) error {
	if from == target.Number {
		return incident.Errorf(incident.EINVALID, "An incident cannot be merged into itself.")
	}
	other, err := d.store.Get(ctx, from)
	if err != nil {
		return err
	}
	if other.HasIdem(op.Idem) {
		return nil // this very command, run again: finishing is all that is left
	}
	for _, e := range target.Events {
		if e.Kind == incident.EventMerged && e.From == 0 && e.Ref == from {
			return incident.Errorf(incident.ECONFLICT, "Incident %d is already merged into #%d.", from, target.Number)
		}
	}
	now := d.now()
	tst, ost := target.State(d.cat.Policy, now), other.State(d.cat.Policy, now)
	switch {
	case ost.Status == incident.StatusMerged && ost.MergedInto == target.Number:
		return nil // closed on its side, not yet moved: finish it
	case tst.Status != incident.StatusOpen:
		return incident.Errorf(incident.ECONFLICT, "Incident %d is not open; merge into an open incident.", target.Number)
	case ost.Status != incident.StatusOpen:
		return incident.Errorf(incident.ECONFLICT, "Incident %d is %s; only an open incident can be merged.", from, ost.Status)
	case other.Drill != target.Drill:
		return incident.Errorf(incident.ECONFLICT, "A drill and a real incident cannot be merged.")
	case ost.Security && !tst.Security:
		return incident.Errorf(incident.ECONFLICT, "Incident %d is a security incident: merge it only into another security incident.", from)
	case incident.IsPerson(op.Actor) && !d.CanManage(target, tst, op.Actor) && !d.CanManage(other, ost, op.Actor):
		return forbidden("merge incidents")
	}
	return nil
}

// absorb moves a merged incident's timeline into the incident it was
// merged into; doing it again changes nothing.
func (d *Desk) absorb(ctx context.Context, into, from int64, actor, reason string) (*incident.Incident, error) {
	other, err := d.store.Get(ctx, from)
	if err != nil {
		return nil, err
	}
	return d.apply(ctx, into, func(inc *incident.Incident, now time.Time) ([]incident.Event, error) {
		return inc.Absorb(d.cat.Policy, now, actor, other, reason)
	})
}

func (du *Duties) merge(ctx context.Context, j Job) error {
	var p mergePayload
	if err := json.Unmarshal(j.Payload, &p); err != nil || p.From == 0 {
		return Permanent(fmt.Errorf("merge job %s: bad payload", j.ID))
	}
	_, err := du.Desk.absorb(ctx, j.Incident, p.From, p.Actor, p.Reason)
	return err
}

// Page calls another team's on-call, or a person, into the incident, with
// the reason: target is a team name or a Slack user ID. A team's on-call is
// found and called out by a JobPage (through its PagerDuty escalation
// policy when it has one, which the PagerDuty adapter also pages).
func (d *Desk) Page(ctx context.Context, number int64, op Op, target, reason string) (*incident.Incident, error) {
	key, user, policy := "", "", ""
	if t, ok := d.cat.Team(strings.TrimSpace(target)); ok {
		key, policy = incident.PageTeamKey(t.Name), t.OnCall.EscalationPolicy
	} else if incident.IsPerson(target) && (strings.HasPrefix(target, "U") || strings.HasPrefix(target, "W")) {
		key, user = incident.PageUserKey(target), target
	} else {
		return nil, incident.Errorf(incident.ENOTFOUND, "There is no team called %q; name a team from the catalogue or a person (`@someone`).", target)
	}
	return d.personal(ctx, number, op, func(inc *incident.Incident, _ incident.State, now time.Time) ([]incident.Event, error) {
		return inc.Page(d.cat.Policy, now, op.Actor, key, user, policy, reason)
	})
}

// planPages plans finding the on-call of each team paged in the change.
func planPages(c *Change) []Job {
	var jobs []Job
	for _, e := range c.Added {
		if e.Kind == incident.EventPaged && e.User == "" {
			jobs = append(jobs, JobFor(JobPage, c.Incident.Number, fmt.Sprint(e.Seq), c.Now, Payload{Seq: e.Seq}))
		}
	}
	return jobs
}

// page finds who is on call for a paged team and records the callout,
// answering the page (Ref), so that the chat adapter invites them and
// tells them why.
func (du *Duties) page(ctx context.Context, j Job) error {
	d := du.Desk
	inc, err := d.Get(ctx, j.Incident)
	if err != nil {
		return err
	}
	p, err := DecodePayload(j)
	if err != nil {
		return err
	}
	seq := p.Seq
	var paged *incident.Event
	for i := range inc.Events {
		if inc.Events[i].Seq == seq && inc.Events[i].Kind == incident.EventPaged {
			paged = &inc.Events[i]
		}
	}
	if paged == nil {
		return Permanent(fmt.Errorf("incident %d has no page %d", j.Incident, seq))
	}
	team, ok := d.cat.Team(strings.TrimPrefix(paged.Key, "team:"))
	if !ok {
		return Permanent(fmt.Errorf("incident %d: paged team %q is not in the catalogue", j.Incident, paged.Key))
	}
	users, err := du.OnCall.OnCall(ctx, team.OnCall, d.now())
	if err != nil {
		return err
	}
	if len(users) == 0 {
		users = team.Members
	}
	_, err = d.Record(ctx, j.Incident, incident.Event{
		Kind: incident.EventCalledOut, Actor: incident.ActorSystem, Users: users, Key: team.Name, Source: "page",
		Ref: int64(seq), Text: "paged: on-call of " + team.Name, Idem: j.ID,
	})
	return err
}
