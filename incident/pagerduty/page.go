package pagerduty

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	pd "github.com/PagerDuty/go-pagerduty"

	"github.com/incidentbot/incidentbot/incident"
	"github.com/incidentbot/incidentbot/incident/desk"
)

// JobPageTeam pages another team's escalation policy through a PagerDuty
// incident linked to the bot's incident.
const JobPageTeam = "pagerduty.page_team"

// TeamPageKeyPrefix starts the incident_key of a team's page: its webhooks
// are the paged team's business, not a new incident nor a resolution.
const TeamPageKeyPrefix = "incidentbot-page/"

// labelPage is the label of the callout that records a team's PagerDuty
// page: the PagerDuty incident.
const labelPage = "pagerduty_incident"

// handlePageTeam opens a PagerDuty incident on the paged team's escalation
// policy, saying which incident, why and what it is costing, and records it
// on the timeline as a callout answering the page. The incident_key makes a
// retry after a crash find the page instead of opening another.
func (s *Sync) handlePageTeam(ctx context.Context, j desk.Job) error {
	inc, seq, err := s.jobIncident(ctx, j)
	if err != nil {
		return err
	}
	page, ok := eventAt(inc, seq)
	if !ok || page.Kind != incident.EventPaged || page.Labels["escalation_policy"] == "" {
		return desk.Permanent(fmt.Errorf("incident %d has no PagerDuty page %d", j.Incident, seq))
	}
	if pageID(inc, seq) != "" {
		return nil // paged already
	}
	team := strings.TrimPrefix(page.Key, "team:")
	svc := s.pageService(inc, team)
	if svc == "" {
		s.log.Warn("team not paged in PagerDuty: neither its services nor the incident's have a pagerduty_service_id", "incident", inc.Number, "team", team)
		return nil
	}
	from, err := s.from()
	if err != nil {
		return err
	}
	id, err := s.createPage(ctx, from, inc, page, svc)
	if err != nil {
		return err
	}
	s.log.Info("team paged in PagerDuty", "incident", inc.Number, "team", team, "pagerduty_incident", id)
	_, err = s.desk.Record(ctx, inc.Number, incident.Event{
		Kind: incident.EventCalledOut, Actor: incident.ActorSystem, Source: incident.ActorPagerDuty, Key: team, Ref: int64(seq),
		Text: "paged in PagerDuty: on-call of " + team + " (PagerDuty incident " + id + ")", Labels: map[string]string{labelPage: id}, Idem: j.ID,
	})
	return err
}

func (s *Sync) createPage(ctx context.Context, from string, inc *incident.Incident, page incident.Event, svc string) (string, error) {
	st := s.desk.State(inc)
	cur := s.desk.Policy().Currency
	team := strings.TrimPrefix(page.Key, "team:")
	key := fmt.Sprintf("%s%d/%d", TeamPageKeyPrefix, inc.Number, page.Seq)
	reason := page.Text
	if reason == "" {
		reason = "no reason given"
	}
	hctx, h := withHint(ctx)
	created, err := s.c.api.CreateIncidentWithContext(hctx, from, &pd.CreateIncidentOptions{
		Title:            truncate(fmt.Sprintf("Incident #%d %s: %s is paged", inc.Number, inc.Title, team), 1000),
		Service:          &pd.APIReference{ID: svc, Type: "service_reference"},
		EscalationPolicy: &pd.APIReference{ID: page.Labels["escalation_policy"], Type: "escalation_policy_reference"},
		Urgency:          "high",
		IncidentKey:      key,
		Body: &pd.APIDetails{Type: "incident_body", Details: truncate(fmt.Sprintf("Paged into incident #%d (%s) from Slack: %s. Loss rate %s per hour, loss so far %s, estimated %s.",
			inc.Number, inc.Service.Name, reason, cur.Format(st.Rate), cur.Format(st.LossSoFar), cur.Format(st.Estimated)), 10_000)},
	})
	if err == nil {
		return created.ID, nil
	}
	if code := statusOf(err); code < 400 || code >= 500 || code == http.StatusTooManyRequests {
		return "", s.c.classify("page "+team, err, h)
	}
	found, ferr := s.findByKey(ctx, key)
	if ferr != nil {
		return "", ferr
	}
	if found == "" {
		return "", s.c.classify("page "+team, err, h)
	}
	return found, nil
}

// pageService is the PagerDuty service a team's page is opened on: one of
// the team's own, else the incident's.
func (s *Sync) pageService(inc *incident.Incident, team string) string {
	for _, svc := range s.desk.Catalogue().Services {
		if svc.Team == team && svc.PagerDutyServiceID != "" {
			return svc.PagerDutyServiceID
		}
	}
	return inc.Service.PagerDutyServiceID
}

// jobIncident reads a job's incident and the seq of the event its payload
// names.
func (s *Sync) jobIncident(ctx context.Context, j desk.Job) (*incident.Incident, int, error) {
	inc, err := s.desk.Get(ctx, j.Incident)
	if err != nil {
		return nil, 0, err
	}
	p, err := desk.DecodePayload(j)
	if err != nil {
		return nil, 0, err
	}
	return inc, p.Seq, nil
}

func eventAt(inc *incident.Incident, seq int) (incident.Event, bool) {
	for _, e := range inc.Events {
		if e.Seq == seq {
			return e, true
		}
	}
	return incident.Event{}, false
}

// pageID is the PagerDuty incident that answered the page at seq, or "".
func pageID(inc *incident.Incident, seq int) string {
	for _, e := range inc.Events {
		if e.Kind == incident.EventCalledOut && e.Source == incident.ActorPagerDuty && e.Ref == int64(seq) {
			return e.Labels[labelPage]
		}
	}
	return ""
}

// teamPages are the PagerDuty incidents of the incident's team pages.
func teamPages(inc *incident.Incident) []string {
	var ids []string
	for _, e := range inc.Events {
		if e.Kind == incident.EventCalledOut && e.Source == incident.ActorPagerDuty && e.Labels[labelPage] != "" {
			ids = append(ids, e.Labels[labelPage])
		}
	}
	return ids
}
