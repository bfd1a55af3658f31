package desk

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/incidentbot/incidentbot/incident"
)

// Job kinds. IDs are deterministic (kind/number[/seq]) so that re-planning
// after a crash enqueues nothing twice, and kinds that always show the latest
// state (the card, App Home) coalesce into one pending job.
const (
	JobChannel          = "slack.channel"           // create channel, topic, card, pin, bookmark
	JobPrivateChannel   = "slack.channel.private"   // a security incident leaves its public channel for a private one
	JobCard             = "slack.card"              // refresh the pinned card
	JobPost             = "slack.post"              // post a timeline event in the incident channel
	JobAnnounce         = "slack.announce"          // post to the announce channel
	JobManagers         = "slack.managers"          // notify incident managers of a major
	JobCallout          = "callout"                 // invite the on-call people
	JobCommander        = "commander"               // assign a commander if nobody took it
	JobRemind           = "slack.remind"            // remind the commander to post an update
	JobConfirmResolve   = "slack.confirm_resolve"   // every alert resolved: ask the channel
	JobInvite           = "slack.invite"            // invite people into the incident channel
	JobHomes            = "slack.homes"             // republish App Home for recent viewers
	JobRefresh          = "refresh"                 // periodic: tick, refresh running loss
	JobPagerDutyNote    = "pagerduty.note"          // sync a note or update to PagerDuty
	JobPagerDutyResolve = "pagerduty.resolve"       // resolve the PagerDuty incident
	JobPagerDutyManager = "pagerduty.page_managers" // page the incident-manager policy
	JobReview           = "review.draft"            // draft the post-incident review
	JobPagerDutyAck     = "pagerduty.acknowledge"   // acknowledge the linked PagerDuty incidents
)

// Payload is the JSON payload of incident jobs.
type Payload struct {
	Seq   int                  `json:"seq,omitempty"`
	Kind  string               `json:"kind,omitempty"`
	Users []string             `json:"users,omitempty"`
	Level incident.OnCallLevel `json:"level,omitempty"`
	Owner string               `json:"owner,omitempty"`
	Cycle int                  `json:"cycle,omitempty"`
}

// JobFor builds a job.
func JobFor(kind string, number int64, suffix string, due time.Time, p Payload) Job {
	id := fmt.Sprintf("%s/%d", kind, number)
	if suffix != "" {
		id += "/" + suffix
	}
	raw, _ := json.Marshal(p)
	return Job{ID: id, Kind: kind, Incident: number, Payload: raw, DueAt: due}
}

// CardJob refreshes an incident's card from its latest state.
func CardJob(number int64, due time.Time) Job {
	j := JobFor(JobCard, number, "", due, Payload{})
	j.Coalesce = true
	return j
}

func (d *Desk) wants(family string) bool { return slices.Contains(d.opts.Effects, family) }

// plan turns what just happened to an incident into jobs. before is nil for
// a new incident. It may append events (a deferred callout) to inc.
func (d *Desk) plan(inc *incident.Incident, before *incident.State, added []incident.Event, now time.Time) []Job {
	if len(added) == 0 {
		return nil
	}
	p := d.cat.Policy
	n := inc.Number
	var jobs []Job
	add := func(j Job) { jobs = append(jobs, j) }
	slack := d.wants("slack")
	pd := d.wants("pagerduty")
	// The state after is computed once, and only if a decision needs it.
	var afterState *incident.State
	state := func() incident.State {
		if afterState == nil {
			st := inc.State(p, now)
			afterState = &st
		}
		return *afterState
	}
	seq := func(e incident.Event) string { return fmt.Sprint(e.Seq) }

	if before == nil {
		if slack {
			add(JobFor(JobChannel, n, "", now, Payload{}))
			add(JobFor(JobAnnounce, n, "1", now, Payload{Seq: 1, Kind: "declared"}))
			add(JobFor(JobRefresh, n, "", now.Add(refreshEvery), Payload{}))
		}
		if !inc.Unmapped {
			co := d.cat.CalloutFor(inc.Service, state().Class, now)
			if !co.DeferredUntil.IsZero() {
				evs := inc.Append(incident.Event{At: now, Kind: incident.EventCalloutDeferred, Actor: incident.ActorSystem, Until: co.DeferredUntil, Text: co.Owner})
				added = append(added, evs...)
			}
			due := now
			if !co.DeferredUntil.IsZero() {
				due = co.DeferredUntil
			}
			add(JobFor(JobCallout, n, "", due, Payload{Level: co.Level, Owner: co.Owner}))
		}
		if state().Class == incident.Major {
			jobs = append(jobs, d.majorJobs(inc, state(), 1, now)...)
		}
	}

	card := false
	for _, e := range added {
		switch e.Kind {
		case incident.EventImpactChanged, incident.EventCostAdded, incident.EventSecurity,
			incident.EventClassChanged, incident.EventCommander, incident.EventResolved,
			incident.EventReopened, incident.EventCalloutDeferred, incident.EventCalledOut,
			incident.EventAcknowledged:
			card = true
		}
		if before == nil {
			continue
		}
		switch e.Kind {
		case incident.EventImpactChanged, incident.EventCostAdded, incident.EventSecurity,
			incident.EventClassChanged, incident.EventCommander, incident.EventNote,
			incident.EventUpdate, incident.EventResolved, incident.EventReopened,
			incident.EventCalledOut, incident.EventAcknowledged, incident.EventAlertFired,
			incident.EventAlertResolved:
			if slack {
				add(JobFor(JobPost, n, seq(e), now, Payload{Seq: e.Seq}))
			}
		}
		switch e.Kind {
		case incident.EventCalledOut:
			if slack && len(e.Users) > 0 {
				add(JobFor(JobInvite, n, seq(e), now, Payload{Seq: e.Seq, Users: e.Users}))
			}
		case incident.EventCommander:
			if slack && isPerson(e.User) {
				add(JobFor(JobInvite, n, seq(e), now, Payload{Seq: e.Seq, Users: []string{e.User}}))
			}
		case incident.EventClassChanged, incident.EventSecurity:
			if slack {
				add(JobFor(JobAnnounce, n, seq(e), now, Payload{Seq: e.Seq, Kind: "class"}))
			}
			if slack && e.Kind == incident.EventSecurity {
				add(JobFor(JobPrivateChannel, n, seq(e), now, Payload{Seq: e.Seq}))
			}
			if before.Class != incident.Major && state().Class == incident.Major {
				jobs = append(jobs, d.majorJobs(inc, state(), e.Seq, now)...)
			}
		case incident.EventUpdate:
			if slack {
				add(JobFor(JobAnnounce, n, seq(e), now, Payload{Seq: e.Seq, Kind: "update"}))
			}
			if pd {
				add(JobFor(JobPagerDutyNote, n, seq(e), now, Payload{Seq: e.Seq}))
			}
		case incident.EventAcknowledged:
			if pd && isPerson(e.Actor) {
				add(JobFor(JobPagerDutyAck, n, seq(e), now, Payload{Seq: e.Seq, Users: []string{e.Actor}}))
			}
		case incident.EventNote:
			if pd {
				add(JobFor(JobPagerDutyNote, n, seq(e), now, Payload{Seq: e.Seq}))
			}
		case incident.EventResolved:
			if slack {
				add(JobFor(JobAnnounce, n, seq(e), now, Payload{Seq: e.Seq, Kind: "resolved"}))
			}
			add(JobFor(JobReview, n, seq(e), now, Payload{Seq: e.Seq}))
			if pd && e.Actor != incident.ActorPagerDuty {
				add(JobFor(JobPagerDutyResolve, n, seq(e), now, Payload{Seq: e.Seq}))
			}
		case incident.EventReopened:
			if slack {
				add(JobFor(JobAnnounce, n, seq(e), now, Payload{Seq: e.Seq, Kind: "reopened"}))
				add(JobFor(JobRefresh, n, "", now.Add(refreshEvery), Payload{}))
			}
		case incident.EventAlertResolved:
			if st := state(); st.Status == incident.StatusOpen && len(st.Alerts) > 0 && allResolved(st.Alerts) && slack {
				add(JobFor(JobConfirmResolve, n, seq(e), now, Payload{Seq: e.Seq}))
			}
		}
	}
	if card && slack {
		add(CardJob(n, now))
	}
	if slack {
		add(Job{ID: JobHomes, Kind: JobHomes, DueAt: now.Add(2 * time.Second), Coalesce: true})
	}
	return jobs
}

// refreshEvery is how often an open incident's running loss is refreshed on
// its card: chat.update is Tier 3 (about 50 a minute), so a minute per
// incident keeps well inside the limit for dozens of open incidents.
const refreshEvery = time.Minute

func allResolved(as []incident.AlertState) bool {
	for _, a := range as {
		if a.Firing {
			return false
		}
	}
	return true
}

// majorJobs starts the major-incident procedure: notify incident managers,
// get a commander, remind them to post updates.
func (d *Desk) majorJobs(inc *incident.Incident, st incident.State, seq int, now time.Time) []Job {
	n := inc.Number
	s := fmt.Sprint(seq)
	var jobs []Job
	if d.wants("slack") {
		jobs = append(jobs, JobFor(JobManagers, n, s, now, Payload{Seq: seq}))
		jobs = append(jobs, JobFor(JobRemind, n, "1", now.Add(d.opts.UpdateInterval), Payload{Cycle: 1}))
	}
	if d.wants("pagerduty") {
		jobs = append(jobs, JobFor(JobPagerDutyManager, n, s, now, Payload{Seq: seq}))
	}
	if st.Commander == "" {
		// Out of hours the on-call incident manager takes command at once;
		// in hours a volunteer has commander_timeout to step forward.
		due := now.Add(d.opts.CommanderTimeout)
		if !d.cat.WorkingHours.InHours(now) {
			due = now
		}
		jobs = append(jobs, JobFor(JobCommander, n, s, due, Payload{Seq: seq}))
	}
	return jobs
}
