package pagerduty

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	pd "github.com/PagerDuty/go-pagerduty"

	"github.com/incidentbot/incidentbot/incident"
	"github.com/incidentbot/incidentbot/incident/desk"
)

// PagesBucket is the KV bucket holding, per bot incident number, the ID of
// the PagerDuty incident that paged the incident managers.
const PagesBucket = "pagerduty.pages"

// KV is adapter state storage; *boltstore.Store implements it.
type KV interface {
	Put(ctx context.Context, bucket, key string, value []byte) error
	GetKV(ctx context.Context, bucket, key string) ([]byte, bool, error)
}

// SyncOptions configure Sync.
type SyncOptions struct {
	// ManagerPolicy is the incident managers' escalation policy; empty: they
	// are not paged in PagerDuty.
	ManagerPolicy string
	// KV remembers the manager pages, so that resolving the incident
	// resolves them too. Optional.
	KV KV
	// Names turns a Slack user ID into a display name for PagerDuty notes;
	// optional (the ID is used).
	Names  func(ctx context.Context, slackID string) string
	Logger *slog.Logger
}

// Sync runs the desk's PagerDuty jobs: notes and updates, resolution,
// paging incident managers, acknowledgement. Every handler is idempotent:
// it may run again after a crash and does not duplicate its effect.
type Sync struct {
	c    *Client
	desk *desk.Desk
	opts SyncOptions
	log  *slog.Logger
}

// NewSync returns a Sync.
func NewSync(c *Client, d *desk.Desk, opts SyncOptions) *Sync {
	if opts.Logger == nil {
		opts.Logger = c.log
	}
	return &Sync{c: c, desk: d, opts: opts, log: opts.Logger}
}

// Register installs the handlers on a runner. The desk must plan
// PagerDuty effects (a Planner among desk.Options.Planners).
func (s *Sync) Register(r *desk.Runner) {
	r.Handle(JobNote, s.handleNote)
	r.Handle(JobResolve, s.handleResolve)
	r.Handle(JobManagers, s.handleManager)
	r.Handle(JobAcknowledge, s.handleAcknowledge)
	r.Handle(JobPageTeam, s.handlePageTeam)
}

// linked returns the PagerDuty incident IDs linked to an incident; with
// openOnly, only those not resolved in PagerDuty.
func linked(st incident.State, openOnly bool) []string {
	var ids []string
	for _, a := range st.Alerts {
		if a.Source != incident.ActorPagerDuty || !strings.HasPrefix(a.Key, KeyPrefix) {
			continue
		}
		if openOnly && !a.Firing {
			continue
		}
		ids = append(ids, strings.TrimPrefix(a.Key, KeyPrefix))
	}
	return ids
}

func (s *Sync) from() (string, error) {
	if s.c.opts.FromEmail == "" {
		return "", desk.Permanent(errors.New("pagerduty.from_email is not configured"))
	}
	return s.c.opts.FromEmail, nil
}

// handleNote copies a note or stakeholder update to the incident's
// PagerDuty incidents. Notes that came from PagerDuty are not sent back.
func (s *Sync) handleNote(ctx context.Context, j desk.Job) error {
	inc, seq, err := s.jobIncident(ctx, j)
	if err != nil {
		return err
	}
	ev, ok := eventAt(inc, seq)
	if !ok || (ev.Kind != incident.EventNote && ev.Kind != incident.EventUpdate) {
		return desk.Permanent(fmt.Errorf("incident %d has no note or update %d", j.Incident, seq))
	}
	if ev.Actor == incident.ActorPagerDuty {
		return nil
	}
	ids := linked(s.desk.State(inc), false)
	if len(ids) == 0 {
		return nil
	}
	from, err := s.from()
	if err != nil {
		return err
	}
	content := s.noteText(ctx, inc, &ev)
	marker := noteMarker(inc.Number, ev.Seq)
	for _, id := range ids {
		if err := s.createNoteOnce(ctx, from, id, content, marker); err != nil {
			return err
		}
	}
	return nil
}

func noteMarker(number int64, seq int) string {
	return fmt.Sprintf("[incidentbot #%d/%d]", number, seq)
}

func (s *Sync) noteText(ctx context.Context, inc *incident.Incident, ev *incident.Event) string {
	who := ev.Actor
	if s.opts.Names != nil && who != "" && who != incident.ActorSystem {
		if n := s.opts.Names(ctx, who); n != "" {
			who = n
		}
	}
	if who == "" {
		who = "someone"
	}
	kind := "Note"
	if ev.Kind == incident.EventUpdate {
		kind = "Stakeholder update"
	}
	return fmt.Sprintf("%s from %s in Slack: %s\n\n%s", kind, who, truncate(ev.Text, 20_000), noteMarker(inc.Number, ev.Seq))
}

// createNoteOnce adds a note unless one with the marker is already there
// (the job ran before and crashed before it was completed).
func (s *Sync) createNoteOnce(ctx context.Context, from, id, content, marker string) error {
	hctx, h := withHint(ctx)
	notes, err := s.c.api.ListIncidentNotesWithContext(hctx, id)
	if err != nil {
		if statusOf(err) == http.StatusNotFound {
			s.log.Warn("PagerDuty incident not found; note not copied", "pagerduty_incident", id)
			return nil
		}
		return s.c.classify("list notes of "+id, err, h)
	}
	for _, n := range notes {
		if strings.Contains(n.Content, marker) {
			return nil
		}
	}
	hctx, h = withHint(ctx)
	_, err = s.c.api.CreateIncidentNoteWithContext(hctx, id, pd.IncidentNote{Content: content, User: pd.APIObject{Summary: from}})
	return s.c.classify("add note to "+id, err, h)
}

// handleResolve resolves the incident's PagerDuty incidents and the
// incident managers' page, unless the incident was reopened meanwhile.
func (s *Sync) handleResolve(ctx context.Context, j desk.Job) error {
	inc, err := s.desk.Get(ctx, j.Incident)
	if err != nil {
		return err
	}
	st := s.desk.State(inc)
	if st.Status != incident.StatusResolved {
		return nil
	}
	ids := append(linked(st, true), teamPages(inc)...)
	if page, ok, err := s.page(ctx, inc.Number); err != nil {
		return err
	} else if ok {
		ids = append(ids, page)
	}
	if len(ids) == 0 {
		return nil
	}
	from, err := s.from()
	if err != nil {
		return err
	}
	for _, id := range ids {
		if err := s.setStatus(ctx, from, id, "resolved"); err != nil {
			return err
		}
	}
	return nil
}

// Acknowledge acknowledges incident number's open PagerDuty incidents on
// behalf of actor.
func (s *Sync) Acknowledge(ctx context.Context, number int64, actor string) error {
	inc, err := s.desk.Get(ctx, number)
	if err != nil {
		return err
	}
	ids := linked(s.desk.State(inc), true)
	if len(ids) == 0 {
		return nil
	}
	from, err := s.from()
	if err != nil {
		return err
	}
	for _, id := range ids {
		if err := s.setStatus(ctx, from, id, "acknowledged"); err != nil {
			return err
		}
	}
	s.log.Info("PagerDuty incidents acknowledged", "incident", number, "by", actor, "pagerduty_incidents", len(ids))
	return nil
}

func (s *Sync) handleAcknowledge(ctx context.Context, j desk.Job) error {
	p, err := desk.DecodePayload(j)
	if err != nil {
		return err
	}
	actor := ""
	if len(p.Users) > 0 {
		actor = p.Users[0]
	}
	return s.Acknowledge(ctx, j.Incident, actor)
}

// setStatus acknowledges or resolves a PagerDuty incident. A refusal is
// checked against the incident's status: already resolved (or, for an
// acknowledgement, already acknowledged) is success.
func (s *Sync) setStatus(ctx context.Context, from, id, status string) error {
	hctx, h := withHint(ctx)
	_, err := s.c.api.ManageIncidentsWithContext(hctx, from, []pd.ManageIncidentsOptions{{ID: id, Status: status}})
	if err == nil {
		return nil
	}
	code := statusOf(err)
	if code < 400 || code >= 500 || code == http.StatusTooManyRequests {
		return s.c.classify(status+" "+id, err, h)
	}
	cur, gerr := s.c.GetIncident(ctx, id)
	switch {
	case gerr != nil && statusOf(gerr) == http.StatusNotFound:
		s.log.Warn("PagerDuty incident not found; nothing to "+status, "pagerduty_incident", id)
		return nil
	case gerr != nil:
		return gerr
	case cur.Status == "resolved" || cur.Status == status:
		return nil
	}
	return s.c.classify(status+" "+id, err, h)
}

// GetIncident fetches a PagerDuty incident; it implements IncidentGetter.
func (c *Client) GetIncident(ctx context.Context, id string) (*pd.Incident, error) {
	hctx, h := withHint(ctx)
	inc, err := c.api.GetIncidentWithContext(hctx, id)
	return inc, c.classify("get incident "+id, err, h)
}

func (s *Sync) page(ctx context.Context, number int64) (string, bool, error) {
	if s.opts.KV == nil {
		return "", false, nil
	}
	v, ok, err := s.opts.KV.GetKV(ctx, PagesBucket, strconv.FormatInt(number, 10))
	if err != nil || !ok || len(v) == 0 {
		return "", false, err
	}
	return string(v), true, nil
}

// handleManager pages the incident managers' escalation policy for a major
// incident. PagerDuty needs a service for an incident: the incident's
// service's pagerduty_service_id. The incident_key makes a retry after a
// crash find the page instead of opening another.
func (s *Sync) handleManager(ctx context.Context, j desk.Job) error {
	if s.opts.ManagerPolicy == "" {
		s.log.Info("major incident: incident managers not paged in PagerDuty (no escalation policy configured)", "incident", j.Incident)
		return nil
	}
	inc, err := s.desk.Get(ctx, j.Incident)
	if err != nil {
		return err
	}
	st := s.desk.State(inc)
	if st.Status != incident.StatusOpen || st.Class != incident.Major {
		return nil
	}
	if _, ok, err := s.page(ctx, inc.Number); err != nil || ok {
		return err
	}
	svc := inc.Service.PagerDutyServiceID
	if svc == "" {
		s.log.Warn("major incident: incident managers not paged in PagerDuty: the service has no pagerduty_service_id",
			"incident", inc.Number, "service", inc.Service.Name)
		return nil
	}
	from, err := s.from()
	if err != nil {
		return err
	}
	key := ManagerPageKeyPrefix + strconv.FormatInt(inc.Number, 10)
	cur := s.desk.Policy().Currency
	title := truncate(fmt.Sprintf("Major incident #%d %s: %s", inc.Number, inc.Service.Name, inc.Title), 1000)
	details := fmt.Sprintf("Service %s. Estimated loss %s (loss rate %s per hour, loss so far %s). Started %s.",
		inc.Service.Name, cur.Format(st.Estimated), cur.Format(st.Rate), cur.Format(st.LossSoFar), inc.StartedAt.UTC().Format(time.RFC3339))
	hctx, h := withHint(ctx)
	created, err := s.c.api.CreateIncidentWithContext(hctx, from, &pd.CreateIncidentOptions{
		Title:            title,
		Service:          &pd.APIReference{ID: svc, Type: "service_reference"},
		EscalationPolicy: &pd.APIReference{ID: s.opts.ManagerPolicy, Type: "escalation_policy_reference"},
		Urgency:          "high",
		IncidentKey:      key,
		Body:             &pd.APIDetails{Type: "incident_body", Details: details},
	})
	id := ""
	if err == nil {
		id = created.ID
	} else {
		code := statusOf(err)
		if code < 400 || code >= 500 || code == http.StatusTooManyRequests {
			return s.c.classify("page incident managers", err, h)
		}
		// Refused: maybe because the page exists (a retry after a crash).
		found, ferr := s.findByKey(ctx, key)
		if ferr != nil {
			return ferr
		}
		if found == "" {
			return s.c.classify("page incident managers", err, h)
		}
		id = found
	}
	s.log.Info("major incident: incident managers paged in PagerDuty", "incident", inc.Number, "pagerduty_incident", id)
	if s.opts.KV != nil && id != "" {
		return s.opts.KV.Put(ctx, PagesBucket, strconv.FormatInt(inc.Number, 10), []byte(id))
	}
	return nil
}

func (s *Sync) findByKey(ctx context.Context, key string) (string, error) {
	hctx, h := withHint(ctx)
	resp, err := s.c.api.ListIncidentsWithContext(hctx, pd.ListIncidentsOptions{IncidentKey: key, Limit: 1})
	if err != nil {
		return "", s.c.classify("find incident by key", err, h)
	}
	for _, i := range resp.Incidents {
		return i.ID, nil
	}
	return "", nil
}
