package pagerduty

import (
	"fmt"

	"github.com/incidentbot/incidentbot/incident"
	"github.com/incidentbot/incidentbot/incident/desk"
)

// The PagerDuty adapter's job kinds.
const (
	JobNote        = "pagerduty.note"          // sync a note or update to PagerDuty
	JobResolve     = "pagerduty.resolve"       // resolve the PagerDuty incident
	JobManagers    = "pagerduty.page_managers" // page the incident-manager policy
	JobAcknowledge = "pagerduty.acknowledge"   // acknowledge the linked PagerDuty incidents
)

// Planner plans the PagerDuty effects of changes to incidents: notes and
// updates are copied, resolutions and acknowledgements synced, and incident
// managers paged for majors. What PagerDuty itself did is not echoed back.
// Its zero value is ready to use.
type Planner struct{}

// Plan implements desk.Planner. A drill plans nothing: it never pages
// PagerDuty nor syncs to it.
func (Planner) Plan(c *desk.Change) []desk.Job {
	if c.Refresh != nil || c.Incident.Drill {
		return nil
	}
	n := c.Incident.Number
	var jobs []desk.Job
	if c.MajorAt > 0 {
		jobs = append(jobs, desk.JobFor(JobManagers, n, fmt.Sprint(c.MajorAt), c.Now, desk.Payload{Seq: c.MajorAt}))
	}
	if c.Opened {
		return jobs
	}
	for _, e := range c.Added {
		job := func(kind string, p desk.Payload) {
			p.Seq = e.Seq
			jobs = append(jobs, desk.JobFor(kind, n, fmt.Sprint(e.Seq), c.Now, p))
		}
		switch {
		case e.Kind == incident.EventNote || e.Kind == incident.EventUpdate:
			job(JobNote, desk.Payload{})
		case e.Kind == incident.EventResolved && e.Actor != incident.ActorPagerDuty:
			job(JobResolve, desk.Payload{})
		case e.Kind == incident.EventAcknowledged && incident.IsPerson(e.Actor):
			job(JobAcknowledge, desk.Payload{Users: []string{e.Actor}})
		case e.Kind == incident.EventPaged && e.Labels["escalation_policy"] != "":
			job(JobPageTeam, desk.Payload{})
		}
	}
	return jobs
}
