package desk

import (
	"context"
	"fmt"
	"time"

	"github.com/incidentbot/incidentbot/incident"
)

// OnCallFinder says who is on call on a schedule now, as Slack user IDs.
type OnCallFinder interface {
	OnCall(ctx context.Context, oc incident.OnCall, at time.Time) ([]string, error)
}

// RotationFinder reads the built-in weekly rotations. It is used when a
// schedule has no PagerDuty escalation policy.
type RotationFinder struct{ Location *time.Location }

// OnCall returns the rotation's person on call at t.
func (f RotationFinder) OnCall(_ context.Context, oc incident.OnCall, at time.Time) ([]string, error) {
	loc := f.Location
	if loc == nil {
		loc = time.UTC
	}
	if u := oc.Rotation.OnCallAt(at, loc); u != "" {
		return []string{u}, nil
	}
	return nil, nil
}

// Duties runs the jobs that need no chat adapter: callouts, commander
// assignment and the periodic refresh.
type Duties struct {
	Desk   *Desk
	OnCall OnCallFinder
	// Enqueue schedules the card refresh and the next refresh cycle; when
	// nil, a refresh records time-driven upgrades only.
	Enqueue func(ctx context.Context, jobs ...Job) error
	// CountOpen counts the open incidents, so that planners can keep
	// refreshes inside their rate budgets; when nil, 1 is assumed.
	CountOpen func(ctx context.Context) (int, error)
	// Housekeep prunes old deduplication keys and job tombstones; it runs
	// daily when set.
	Housekeep func(ctx context.Context, now time.Time) error
}

// JobHousekeeping prunes stored bookkeeping once a day.
const JobHousekeeping = "housekeeping"

// HousekeepingJob is the day's housekeeping job; enqueueing it at start-up
// and after each run keeps one a day.
func HousekeepingJob(due time.Time) Job {
	return Job{ID: JobHousekeeping + "/" + due.UTC().Format("2006-01-02"), Kind: JobHousekeeping, DueAt: due}
}

// Register installs the handlers on a runner.
func (du *Duties) Register(r *Runner) {
	r.Handle(JobCallout, du.callout)
	r.Handle(JobCommander, du.commander)
	r.Handle(JobRefresh, du.refresh)
	r.Handle(JobMerge, du.merge)
	r.Handle(JobPage, du.page)
	r.Handle(JobHousekeeping, du.housekeeping)
}

func (du *Duties) housekeeping(ctx context.Context, _ Job) error {
	now := du.Desk.now()
	if du.Housekeep != nil {
		if err := du.Housekeep(ctx, now); err != nil {
			return err
		}
	}
	if du.Enqueue == nil {
		return nil
	}
	return du.Enqueue(ctx, HousekeepingJob(now.Add(24*time.Hour)))
}

// callout finds who is on call for the incident's service and records the
// callout; the chat adapter invites them when it sees the event.
func (du *Duties) callout(ctx context.Context, j Job) error {
	d := du.Desk
	inc, err := d.Get(ctx, j.Incident)
	if err != nil {
		return err
	}
	now := d.now()
	st := d.State(inc)
	if st.Status != incident.StatusOpen {
		return nil // resolved before the deferred callout came due
	}
	p, err := DecodePayload(j)
	if err != nil {
		return err
	}
	svc, ok := calloutService(inc, st, p)
	if !ok {
		return nil // its impact ended before the deferred callout came due
	}
	co := d.cat.CalloutFor(svc, st.Class, now)
	if p.Service != "" && calledOut(inc, co.Owner) {
		return nil // the same team (or domain) is already called out
	}
	if !co.DeferredUntil.IsZero() && now.Before(co.DeferredUntil) && st.Class != incident.Major {
		// Still out of hours (the job ran early after a restart): wait.
		return &RetryAfterError{Delay: co.DeferredUntil.Sub(now), Err: fmt.Errorf("callout deferred")}
	}
	users, err := du.OnCall.OnCall(ctx, co.Schedule, now)
	if err != nil {
		return err
	}
	if len(users) == 0 {
		if t, ok := d.cat.Team(svc.Team); ok {
			users = t.Members
		}
	}
	text := string(co.Level) + " on-call: " + co.Owner
	if p.Service != "" {
		text += " (for " + svc.Name + ")"
	}
	_, err = d.Record(ctx, j.Incident, incident.Event{
		Kind: incident.EventCalledOut, Actor: incident.ActorSystem, Users: users,
		Text: text, Key: co.Owner, Service: p.Service, Idem: j.ID,
	})
	return err
}

// commander assigns a commander when nobody volunteered: the team on-call
// in working hours, otherwise the incident manager on call.
func (du *Duties) commander(ctx context.Context, j Job) error {
	d := du.Desk
	inc, err := d.Get(ctx, j.Incident)
	if err != nil {
		return err
	}
	now := d.now()
	st := d.State(inc)
	if st.Status != incident.StatusOpen || st.Class != incident.Major || st.Commander != "" {
		return nil
	}
	var user, how string
	if d.cat.WorkingHours.InHours(now) {
		for i := len(inc.Events) - 1; i >= 0 && user == ""; i-- {
			if e := inc.Events[i]; e.Kind == incident.EventCalledOut && len(e.Users) > 0 {
				user, how = e.Users[0], "team on-call (nobody volunteered within "+d.opts.CommanderTimeout.String()+")"
			}
		}
	}
	if user == "" {
		ims, err := du.OnCall.OnCall(ctx, d.cat.IncidentManagerOnCall, now)
		if err != nil {
			return err
		}
		if len(ims) == 0 && len(d.cat.IncidentManagers) > 0 {
			ims = d.cat.IncidentManagers[:1]
		}
		if len(ims) == 0 {
			return Permanent(fmt.Errorf("incident %d: no incident manager configured to take command", inc.Number))
		}
		user, how = ims[0], "incident manager on call"
	}
	_, err = d.SetCommander(ctx, j.Incident, Op{Actor: incident.ActorSystem, Idem: j.ID}, user, how)
	if incident.ErrorCode(err) == incident.ECONFLICT {
		return nil
	}
	return err
}

// refresh records automatic upgrades caused by time alone and asks the
// planners for what the refresh needs (the Slack card's running loss); it
// reschedules itself while the incident is open.
func (du *Duties) refresh(ctx context.Context, j Job) error {
	d := du.Desk
	inc, err := d.Tick(ctx, j.Incident)
	if err != nil {
		return err
	}
	if d.State(inc).Status != incident.StatusOpen || du.Enqueue == nil {
		return nil
	}
	now := d.now()
	p, err := DecodePayload(j)
	if err != nil {
		return err
	}
	r := Refresh{Cycle: p.Cycle, Open: 1}
	if du.CountOpen != nil {
		if r.Open, err = du.CountOpen(ctx); err != nil {
			return err
		}
	}
	// A new ID per cycle: the running job completes after this returns.
	next := JobFor(JobRefresh, inc.Number, fmt.Sprint(now.Unix()), now.Add(RefreshEvery), Payload{Cycle: r.Cycle + 1})
	return du.Enqueue(ctx, append(d.planRefresh(inc, r, now), next)...)
}
