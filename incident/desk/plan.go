package desk

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/incidentbot/incidentbot/incident"
)

// The application's own job kinds. IDs are deterministic (kind/number[/seq])
// so that re-planning after a crash enqueues nothing twice. Adapters own
// their kinds (the Slack adapter "slack.*", the PagerDuty adapter
// "pagerduty.*") and plan them through a Planner.
const (
	JobCallout   = "callout"      // find the on-call people and record the callout
	JobCommander = "commander"    // assign a commander if nobody took it
	JobRefresh   = "refresh"      // periodic: tick, then let planners refresh
	JobReview    = "review.draft" // draft the post-incident review
)

// ReviewErased is the Kind of a review.draft job planned because a
// message was deleted: the review is redrafted from the erased timeline and
// the storage's free pages zeroed once the old draft is gone.
const ReviewErased = "erased"

// Payload is the JSON payload of incident jobs, shared by the adapters.
type Payload struct {
	Seq   int                  `json:"seq,omitempty"`
	Kind  string               `json:"kind,omitempty"`
	Users []string             `json:"users,omitempty"`
	Level incident.OnCallLevel `json:"level,omitempty"`
	Owner string               `json:"owner,omitempty"`
	Cycle int                  `json:"cycle,omitempty"`
	// Service is the affected service a callout is for ("" the primary).
	Service string `json:"service,omitempty"`
}

// JobFor builds a job with the ID kind/number[/suffix].
func JobFor(kind string, number int64, suffix string, due time.Time, p Payload) Job {
	id := fmt.Sprintf("%s/%d", kind, number)
	if suffix != "" {
		id += "/" + suffix
	}
	raw, _ := json.Marshal(p)
	return Job{ID: id, Kind: kind, Incident: number, Payload: raw, DueAt: due}
}

// DecodePayload decodes a job's Payload (none is the zero Payload). A
// malformed payload is a PermanentError: retrying cannot mend it.
func DecodePayload(j Job) (Payload, error) {
	var p Payload
	if len(j.Payload) == 0 {
		return p, nil
	}
	if err := json.Unmarshal(j.Payload, &p); err != nil {
		return p, Permanent(fmt.Errorf("job %s: payload: %w", j.ID, err))
	}
	return p, nil
}

// A Planner turns a change to an incident into one adapter's jobs. Planners
// run inside the store transaction that records the change, so the jobs are
// durable exactly when the change is; they must be fast and deterministic.
type Planner interface {
	Plan(c *Change) []Job
}

// Change is what just happened to an incident, as planners see it.
type Change struct {
	Incident *incident.Incident
	Opened   bool             // the incident was just opened
	Added    []incident.Event // the events the change appended
	// MajorAt is the seq of the event that made the incident Major in
	// this change (1 for one opened as Major), or 0.
	MajorAt int
	// Refresh is set when the change is the periodic refresh.
	Refresh *Refresh
	Now     time.Time
	// UpdateInterval is how often the commander of a Major posts a
	// stakeholder update.
	UpdateInterval time.Duration

	policy incident.Policy
	state  *incident.State
}

// Refresh describes one periodic refresh of an open incident.
type Refresh struct {
	Cycle int // 0, 1, 2… since the incident opened or reopened
	Open  int // open incidents in all, for rate budgets
}

// State is the incident's state after the change, computed once.
func (c *Change) State() incident.State {
	if c.state == nil {
		st := c.Incident.State(c.policy, c.Now)
		c.state = &st
	}
	return *c.state
}

// plan turns what just happened to an incident into jobs: the desk's own,
// then each planner's. before is nil for a new incident. It may append
// events (a deferred callout) to inc.
func (d *Desk) plan(inc *incident.Incident, before *incident.State, added []incident.Event, now time.Time) []Job {
	if len(added) == 0 {
		return nil
	}
	c := &Change{Incident: inc, Opened: before == nil, Now: now, UpdateInterval: d.opts.UpdateInterval, policy: d.cat.Policy}
	var jobs []Job
	if c.Opened {
		added, jobs = d.planOpened(c, added)
	}
	added, jobs = d.planServices(c, added, jobs)
	c.Added = added
	c.MajorAt = majorAt(c, before)
	jobs = append(jobs, d.planEvents(c)...)
	jobs = append(jobs, planPages(c)...)
	if c.MajorAt > 0 && c.State().Commander == "" {
		jobs = append(jobs, d.commanderJob(inc.Number, c.MajorAt, now))
	}
	return append(jobs, d.planners(c)...)
}

func (d *Desk) planners(c *Change) []Job {
	var jobs []Job
	for _, p := range d.opts.Planners {
		jobs = append(jobs, p.Plan(c)...)
	}
	return jobs
}

// planOpened plans the callout (deferred out of hours, which it records)
// and the first refresh of a new incident.
func (d *Desk) planOpened(c *Change, added []incident.Event) ([]incident.Event, []Job) {
	inc, now := c.Incident, c.Now
	jobs := []Job{JobFor(JobRefresh, inc.Number, "", now.Add(RefreshEvery), Payload{})}
	if inc.Unmapped {
		return added, jobs
	}
	co := d.cat.CalloutFor(inc.Service, c.State().Class, now)
	due := now
	if !co.DeferredUntil.IsZero() {
		added = append(added, inc.Append(incident.Event{At: now, Kind: incident.EventCalloutDeferred, Actor: incident.ActorSystem, Until: co.DeferredUntil, Text: co.Owner})...)
		c.state = nil
		due = co.DeferredUntil
	}
	return added, append(jobs, JobFor(JobCallout, inc.Number, "", due, Payload{Level: co.Level, Owner: co.Owner}))
}

// majorAt finds the event that made the incident Major in this change. It
// replays the timeline only when the change could have: a new incident, or
// a class or security event after a state that was not Major.
func majorAt(c *Change, before *incident.State) int {
	if before == nil {
		if c.State().Class == incident.Major {
			return 1
		}
		return 0
	}
	if before.Class == incident.Major {
		return 0
	}
	for _, e := range c.Added {
		if (e.Kind == incident.EventClassChanged || e.Kind == incident.EventSecurity) && c.State().Class == incident.Major {
			return e.Seq
		}
	}
	return 0
}

// planEvents plans the desk's own reactions to events: the review draft on
// resolution, a new refresh cycle on reopening, a redraft of a drafted
// review when a message it may quote is deleted.
func (d *Desk) planEvents(c *Change) []Job {
	var jobs []Job
	for _, e := range c.Added {
		switch {
		case c.Opened:
		case e.Kind == incident.EventResolved:
			jobs = append(jobs, JobFor(JobReview, c.Incident.Number, fmt.Sprint(e.Seq), c.Now, Payload{Seq: e.Seq}))
		case e.Kind == incident.EventMessageDeleted && len(e.Erases) > 0:
			if st := c.State(); st.Status == incident.StatusResolved && st.Review == incident.ReviewDrafted {
				jobs = append(jobs, JobFor(JobReview, c.Incident.Number, fmt.Sprint(e.Seq), c.Now, Payload{Seq: e.Seq, Kind: ReviewErased}))
			}
		case e.Kind == incident.EventReopened:
			// A new chain of refreshes: the first one's ID is spent.
			jobs = append(jobs, JobFor(JobRefresh, c.Incident.Number, fmt.Sprintf("reopened-%d", e.Seq), c.Now.Add(RefreshEvery), Payload{}))
		}
	}
	return jobs
}

// commanderJob gets a Major a commander if nobody volunteers: out of hours
// the on-call incident manager takes command at once; in hours a volunteer
// has commander_timeout to step forward.
func (d *Desk) commanderJob(number int64, seq int, now time.Time) Job {
	due := now.Add(d.opts.CommanderTimeout)
	if !d.cat.WorkingHours.InHours(now) {
		due = now
	}
	return JobFor(JobCommander, number, fmt.Sprint(seq), due, Payload{Seq: seq})
}

// RefreshEvery is how often an open incident is refreshed: time-driven
// upgrades are recorded, and planners may refresh what shows running loss.
const RefreshEvery = time.Minute

// planRefresh asks the planners what a periodic refresh of an open
// incident needs (the Slack card's running loss, within its budget).
func (d *Desk) planRefresh(inc *incident.Incident, r Refresh, now time.Time) []Job {
	c := &Change{Incident: inc, Refresh: &r, Now: now, UpdateInterval: d.opts.UpdateInterval, policy: d.cat.Policy}
	return d.planners(c)
}
