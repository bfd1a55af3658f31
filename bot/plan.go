package bot

import (
	"fmt"
	"time"

	"github.com/incidentbot/incidentbot/incident"
	"github.com/incidentbot/incidentbot/incident/desk"
)

// The Slack adapter's job kinds. IDs are deterministic (kind/number[/seq])
// so that re-planning after a crash enqueues nothing twice; the card and App
// Home always show the latest state, so their jobs coalesce.
const (
	JobChannel        = "slack.channel"          // create channel, topic, card, pin, bookmark
	JobPrivateChannel = "slack.channel.private"  // a security incident leaves its public channel for a private one
	JobCard           = "slack.card"             // refresh the pinned card
	JobPost           = "slack.post"             // post a timeline event in the incident channel
	JobAnnounce       = "slack.announce"         // post to the announce channel
	JobManagers       = "slack.managers"         // notify incident managers of a major
	JobRemind         = "slack.remind"           // remind the commander to post an update
	JobConfirmResolve = "slack.confirm_resolve"  // every alert resolved: ask the channel
	JobInvite         = "slack.invite"           // invite people into the incident channel
	JobHomes          = "slack.homes"            // republish App Home for recent viewers
	JobReply          = "slack.reply"            // answer a person privately
	JobReviewDrafted  = "slack.review_drafted"   // ask for accounts, tell the channel
	JobReviewPosted   = "slack.review_published" // announce a published review
	JobActionPosted   = "slack.action"           // post a new improvement action
	JobActionDone     = "slack.action_done"      // show an action as done
)

// CardUpdatesPerMinute is the budget of scheduled card refreshes across all
// open incidents: chat.update is Tier 3 (about 50 a minute per workspace),
// and the rest is left for refreshes that events cause.
const CardUpdatesPerMinute = 40

// CardEvery is every how many refresh cycles (minutes) an incident's card
// is refreshed when that many incidents are open: 1 up to 40 open
// incidents, 2 up to 80, and so on.
func CardEvery(open int) int {
	return max(1, (open+CardUpdatesPerMinute-1)/CardUpdatesPerMinute)
}

// CardJob refreshes an incident's card from its latest state.
func CardJob(number int64, due time.Time) desk.Job {
	j := desk.JobFor(JobCard, number, "", due, desk.Payload{})
	j.Coalesce = true
	return j
}

// Planner plans the Slack effects of changes to incidents. Its zero value
// is ready to use.
type Planner struct{}

// Plan implements desk.Planner.
func (Planner) Plan(c *desk.Change) []desk.Job {
	if c.Refresh != nil {
		if c.Refresh.Cycle%CardEvery(c.Refresh.Open) == 0 {
			return []desk.Job{CardJob(c.Incident.Number, c.Now)}
		}
		return nil
	}
	var jobs []desk.Job
	n := c.Incident.Number
	if c.Opened {
		// The announcement links the channel: due just after the channel
		// job, it runs after it in the incident's lane (and waits for the
		// channel if creating it is retried).
		jobs = append(jobs, desk.JobFor(JobChannel, n, "", c.Now, desk.Payload{}),
			desk.JobFor(JobAnnounce, n, "1", c.Now.Add(time.Millisecond), desk.Payload{Seq: 1, Kind: "declared"}))
	}
	card := false
	for _, e := range c.Added {
		card = card || changesCard(e.Kind)
		if !c.Opened {
			jobs = append(jobs, eventJobs(c, e)...)
		}
	}
	if c.MajorAt > 0 {
		s := fmt.Sprint(c.MajorAt)
		jobs = append(jobs, desk.JobFor(JobManagers, n, s, c.Now, desk.Payload{Seq: c.MajorAt}),
			desk.JobFor(JobRemind, n, "1", c.Now.Add(c.UpdateInterval), desk.Payload{Cycle: 1}))
	}
	if card {
		jobs = append(jobs, CardJob(n, c.Now))
	}
	return append(jobs, desk.Job{ID: JobHomes, Kind: JobHomes, DueAt: c.Now.Add(2 * time.Second), Coalesce: true})
}

// changesCard reports whether an event changes what the card shows.
func changesCard(k incident.EventKind) bool {
	switch k {
	case incident.EventImpactChanged, incident.EventCostAdded, incident.EventSecurity,
		incident.EventClassChanged, incident.EventCommander, incident.EventResolved,
		incident.EventReopened, incident.EventCalloutDeferred, incident.EventCalledOut,
		incident.EventAcknowledged, incident.EventAlertFired, incident.EventAlertResolved,
		incident.EventServiceAffected, incident.EventServiceUnaffected,
		incident.EventMerged, incident.EventMergedInto:
		return true
	}
	return false
}

// posted reports whether an event is posted in the incident channel.
func posted(k incident.EventKind) bool {
	switch k {
	case incident.EventImpactChanged, incident.EventCostAdded, incident.EventSecurity,
		incident.EventClassChanged, incident.EventCommander, incident.EventNote,
		incident.EventUpdate, incident.EventResolved, incident.EventReopened,
		incident.EventCalledOut, incident.EventAcknowledged, incident.EventAlertFired,
		incident.EventAlertResolved, incident.EventServiceAffected, incident.EventServiceUnaffected,
		incident.EventMerged, incident.EventPaged:
		return true
	}
	return false
}

// eventJobs plans what one event of an open incident's change causes.
func eventJobs(c *desk.Change, e incident.Event) []desk.Job {
	n, s := c.Incident.Number, fmt.Sprint(e.Seq)
	var jobs []desk.Job
	if posted(e.Kind) {
		jobs = append(jobs, desk.JobFor(JobPost, n, s, c.Now, desk.Payload{Seq: e.Seq}))
	}
	announce := func(kind string) desk.Job {
		return desk.JobFor(JobAnnounce, n, s, c.Now, desk.Payload{Seq: e.Seq, Kind: kind})
	}
	switch e.Kind {
	case incident.EventCalledOut:
		if len(e.Users) > 0 {
			jobs = append(jobs, desk.JobFor(JobInvite, n, s, c.Now, desk.Payload{Seq: e.Seq, Users: e.Users}))
		}
		if len(e.Users) > 0 && e.Source == "page" {
			jobs = append(jobs, desk.JobFor(JobPageDM, n, s, c.Now, desk.Payload{Seq: e.Seq, Users: e.Users}))
		}
	case incident.EventCommander:
		if incident.IsPerson(e.User) {
			jobs = append(jobs, desk.JobFor(JobInvite, n, s, c.Now, desk.Payload{Seq: e.Seq, Users: []string{e.User}}))
		}
	case incident.EventClassChanged, incident.EventSecurity:
		jobs = append(jobs, announce("class"))
		if e.Kind == incident.EventSecurity {
			// Due with the event's other jobs and named to sort before the
			// managers' DM and the event's post: both then name the
			// private channel.
			jobs = append(jobs, desk.JobFor(JobPrivateChannel, n, s, c.Now, desk.Payload{Seq: e.Seq}))
		}
	case incident.EventUpdate:
		jobs = append(jobs, announce("update"))
	case incident.EventResolved:
		jobs = append(jobs, announce("resolved"))
	case incident.EventReopened:
		jobs = append(jobs, announce("reopened"))
	case incident.EventReviewDrafted:
		jobs = append(jobs, desk.JobFor(JobReviewDrafted, n, s, c.Now, desk.Payload{Seq: e.Seq}))
	case incident.EventReviewPublished:
		jobs = append(jobs, desk.JobFor(JobReviewPosted, n, s, c.Now, desk.Payload{Seq: e.Seq}))
	case incident.EventActionAdded:
		jobs = append(jobs, desk.JobFor(JobActionPosted, n, s, c.Now, desk.Payload{Seq: e.Seq}))
		if e.User != e.Actor {
			jobs = append(jobs, homeJob(e.User))
		}
	case incident.EventActionDone:
		jobs = append(jobs, desk.JobFor(JobActionDone, n, s, c.Now, desk.Payload{Seq: e.Seq}), homeJob(e.Actor))
		if e.User != "" && e.User != e.Actor {
			jobs = append(jobs, homeJob(e.User))
		}
	case incident.EventAlertResolved:
		if st := c.State(); st.Status == incident.StatusOpen && len(st.Alerts) > 0 && allResolved(st.Alerts) {
			jobs = append(jobs, desk.JobFor(JobConfirmResolve, n, s, c.Now, desk.Payload{Seq: e.Seq}))
		}
	default:
		jobs = append(jobs, serviceJobs(c, e)...)
	}
	return jobs
}

// serviceJobs plans what merges and pages cause: a merged incident's people
// are invited where it went, and its channel pointed there and archived;
// paged people are invited and told why.
func serviceJobs(c *desk.Change, e incident.Event) []desk.Job {
	n, s := c.Incident.Number, fmt.Sprint(e.Seq)
	var jobs []desk.Job
	switch e.Kind {
	case incident.EventMerged:
		if people := mergedPeople(c.Incident, e); len(people) > 0 {
			jobs = append(jobs, desk.JobFor(JobInvite, n, s, c.Now, desk.Payload{Seq: e.Seq, Users: people}))
		}
		jobs = append(jobs, desk.JobFor(JobAnnounce, n, s, c.Now, desk.Payload{Seq: e.Seq, Kind: "merged"}))
	case incident.EventMergedInto:
		jobs = append(jobs, desk.JobFor(JobArchive, n, s, c.Now, desk.Payload{Seq: e.Seq}))
	case incident.EventPaged:
		if e.User != "" {
			users := []string{e.User}
			jobs = append(jobs, desk.JobFor(JobInvite, n, s, c.Now, desk.Payload{Seq: e.Seq, Users: users}),
				desk.JobFor(JobPageDM, n, s, c.Now, desk.Payload{Seq: e.Seq, Users: users}))
		}
	}
	return jobs
}

// mergedPeople are the people of the incident a merged event brought in.
func mergedPeople(inc *incident.Incident, merged incident.Event) []string {
	seen := map[string]bool{}
	var out []string
	add := func(u string) {
		if incident.IsPerson(u) && !seen[u] {
			seen[u] = true
			out = append(out, u)
		}
	}
	for _, e := range inc.Events {
		if e.From == 0 || e.Seq <= merged.Seq || merged.Merged == nil || e.Seq > merged.Seq+merged.Merged.Events {
			continue
		}
		add(e.Actor)
		if e.Kind == incident.EventCommander || e.Kind == incident.EventParticipantJoined {
			add(e.User)
		}
		if e.Kind == incident.EventCalledOut {
			for _, u := range e.Users {
				add(u)
			}
		}
	}
	return out
}

func allResolved(as []incident.AlertState) bool {
	for _, a := range as {
		if a.Firing {
			return false
		}
	}
	return true
}
