package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/incidentbot/incidentbot/incident"
)

// WriteJSON writes v as the JSON body of a response with the status. The
// body is encoded before anything is sent, so an encoding failure becomes
// a 500 with a JSON error instead of a truncated body.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(v); err != nil {
		status = http.StatusInternalServerError
		buf.Reset()
		_ = json.NewEncoder(&buf).Encode(errorBody{Error: "the response could not be encoded"})
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Del("Content-Disposition")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

type errorBody struct {
	Error string `json:"error"`
}

// WriteError writes the JSON error body {"error": msg} with the status.
// msg is shown to the client: keep internal detail in the log.
func WriteError(w http.ResponseWriter, status int, msg string) {
	WriteJSON(w, status, errorBody{Error: msg})
}

// ErrorHandler answers every request with the JSON error {"error": msg}
// and the status: a route that is off (404) or a method a route does not
// take (405, with Allow), in the shape of every other error.
func ErrorHandler(status int, msg, allow string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if allow != "" {
			w.Header().Set("Allow", allow)
		}
		WriteError(w, status, msg)
	})
}

// Money is an amount in the organisation's currency, both exact and as
// people read it.
type Money struct {
	MinorUnits int64  `json:"minor_units"` // cents for USD
	Formatted  string `json:"formatted"`   // "$100,000"
}

func money(c incident.Currency, m incident.Money) Money {
	return Money{MinorUnits: int64(m), Formatted: c.Format(m)}
}

// Duration is a span of time in seconds and as h:mm:ss.
type Duration struct {
	Seconds float64 `json:"seconds"`
	HMS     string  `json:"hms"` // "1:40:48"
}

// DurationOf is d as the API shows durations.
func DurationOf(d time.Duration) Duration {
	return Duration{Seconds: d.Seconds(), HMS: incident.FormatHMS(d)}
}

func duration(d time.Duration) Duration { return DurationOf(d) }

func utcPtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

// Incident is an incident as the API shows it.
type Incident struct {
	Number         int64      `json:"number"`
	Title          string     `json:"title"`
	Service        ServiceRef `json:"service"`
	Unmapped       bool       `json:"unmapped"`
	Drill          bool       `json:"drill"`  // a practice incident: not measured, never paged
	Status         string     `json:"status"` // open, resolved, merged
	Security       bool       `json:"security"`
	Class          string     `json:"class"`    // major, minor
	Priority       string     `json:"priority"` // high, medium, low
	ResponseMethod string     `json:"response_method"`
	Impact         Impact     `json:"impact"` // the primary service's
	Figures        Figures    `json:"figures"`
	// Services are the primary service and the affected ones, each with
	// its own impact and money; the figures are their total.
	Services       []IncidentService `json:"services"`
	MergedInto     *int64            `json:"merged_into,omitempty"` // status merged: the incident it went into
	Merged         []int64           `json:"merged,omitempty"`      // incidents merged into this one
	Commander      *string           `json:"commander"`             // Slack user ID; null when nobody has command
	Participants   []string          `json:"participants"`
	Acknowledged   bool              `json:"acknowledged"`
	Review         string            `json:"review"` // none, drafted, published
	StartedAt      time.Time         `json:"started_at"`
	DeclaredAt     time.Time         `json:"declared_at"`
	ResolvedAt     *time.Time        `json:"resolved_at"`
	UpgradedAt     *time.Time        `json:"upgraded_at,omitempty"`
	TimeToRestore  *Duration         `json:"time_to_restore"` // null while open
	Effectiveness  *Effect           `json:"effectiveness"`   // null while open or without impact
	Alerts         []Alert           `json:"alerts"`
	Timeline       []Event           `json:"timeline,omitempty"` // only on GET /api/incidents/{number}
	AsOf           time.Time         `json:"as_of"`              // the instant the figures are for
	TimelineLength int               `json:"timeline_length"`
}

// ServiceRef is the catalogue entry an incident was declared for, as it was
// at declaration, with the target that applies to the incident.
type ServiceRef struct {
	Name                    string   `json:"name"`
	Team                    string   `json:"team"`
	Domain                  string   `json:"domain"`
	HourlyExposure          Money    `json:"hourly_exposure"`
	Target                  string   `json:"target"` // "99.0%"
	TolerableUnavailability string   `json:"tolerable_unavailability"`
	Tolerable               Duration `json:"tolerable_unavailability_per_week"`
	Runbook                 string   `json:"runbook,omitempty"`
	PagerDutyServiceID      string   `json:"pagerduty_service_id,omitempty"`
}

// IncidentService is one of an incident's services.
type IncidentService struct {
	Name                    string     `json:"name"`
	Team                    string     `json:"team"`
	Primary                 bool       `json:"primary"`
	From                    int64      `json:"from,omitempty"` // came with incident #from, merged in
	Active                  bool       `json:"active"`         // false once its impact ended
	Impact                  Impact     `json:"impact"`
	Share                   string     `json:"share"` // "50%"
	Exposure                Money      `json:"exposure"`
	Target                  string     `json:"target"`
	TolerableUnavailability string     `json:"tolerable_unavailability"`
	LossRate                Money      `json:"loss_rate"`   // per hour
	LossSoFar               Money      `json:"loss_so_far"` // its impact loss plus the costs counted against it
	Costs                   Money      `json:"costs"`
	JoinedAt                time.Time  `json:"joined_at"`
	EndedAt                 *time.Time `json:"ended_at,omitempty"`
	EndReason               string     `json:"end_reason,omitempty"`
	Effectiveness           *Effect    `json:"effectiveness"` // null while open or without impact
}

func incidentService(c incident.Currency, s incident.ServiceState) IncidentService {
	return IncidentService{
		Name: s.Service.Name, Team: s.Service.Team, Primary: s.Primary, From: s.From, Active: s.Active,
		Impact: impact(s.Impact), Share: s.Impact.Share.String(), Exposure: money(c, s.Exposure),
		Target: s.Target.String(), TolerableUnavailability: incident.FormatHMS(s.Target.TolerableUnavailability()),
		LossRate: money(c, s.Rate), LossSoFar: money(c, s.LossSoFar()), Costs: money(c, s.Costs),
		JoinedAt: s.JoinedAt.UTC(), EndedAt: utcPtr(s.EndedAt), EndReason: s.Reason,
		Effectiveness: effect(c, s.Effectiveness),
	}
}

// Impact is the stated user impact.
type Impact struct {
	Level       string `json:"level"` // none, blocked, degraded, partial
	Share       string `json:"share"` // "100%"
	ShareBP     int64  `json:"share_bp"`
	Explicit    bool   `json:"explicit"`
	Description string `json:"description"`
}

func impact(i incident.Impact) Impact {
	lvl := i.Level
	if lvl == "" {
		lvl = incident.ImpactNone
	}
	return Impact{Level: string(lvl), Share: i.Share.String(), ShareBP: int64(i.Share), Explicit: i.Explicit, Description: lvl.Describe()}
}

// Figures are an incident's money at an instant.
type Figures struct {
	Currency  string `json:"currency"`
	Exposure  Money  `json:"exposure"`    // hourly exposure in force
	Rate      Money  `json:"rate"`        // loss per hour
	LossSoFar Money  `json:"loss_so_far"` // includes costs
	Costs     Money  `json:"costs"`
	Estimated Money  `json:"estimated"`
	Class     string `json:"class"`
	Priority  string `json:"priority"`
}

func figures(c incident.Currency, f incident.Figures) Figures {
	return Figures{
		Currency:  c.Code,
		Exposure:  money(c, f.Exposure),
		Rate:      money(c, f.Rate),
		LossSoFar: money(c, f.LossSoFar),
		Costs:     money(c, f.Costs),
		Estimated: money(c, f.Estimated),
		Class:     string(f.Class),
		Priority:  string(f.Priority),
	}
}

// Effect is the financial loss protection effectiveness of a restoration.
type Effect struct {
	TolerableUnavailability string   `json:"tolerable_unavailability"` // "1:40:48"
	Tolerable               Duration `json:"tolerable_unavailability_per_week"`
	AverageRate             Money    `json:"average_rate"` // per hour
	LossAtTolerable         Money    `json:"loss_at_tolerable"`
	ActualLoss              Money    `json:"actual_loss"`
	Protected               Money    `json:"protected"`    // may be negative
	RatioBP                 int64    `json:"ratio_bp"`     // basis points; may be negative
	Percent                 float64  `json:"percent"`      // one decimal, truncated toward zero: 99.5
	PercentText             string   `json:"percent_text"` // for people: "-49.6%"
	Negative                bool     `json:"negative"`     // restoration was slower than tolerable
}

func effect(c incident.Currency, e *incident.Effectiveness) *Effect {
	if e == nil {
		return nil
	}
	return &Effect{
		TolerableUnavailability: incident.FormatHMS(e.TolerableUnavailability),
		Tolerable:               duration(e.TolerableUnavailability),
		AverageRate:             money(c, e.AverageRate),
		LossAtTolerable:         money(c, e.LossAtTolerable),
		ActualLoss:              money(c, e.ActualLoss),
		Protected:               money(c, e.Protected),
		RatioBP:                 int64(e.Ratio),
		Percent:                 e.Percent(),
		PercentText:             e.PercentText(),
		Negative:                e.Ratio < 0,
	}
}

// Alert is the known state of a linked alert group (an Alertmanager group,
// a PagerDuty incident) and of its individual alerts.
type Alert struct {
	Key        string            `json:"key"`
	Source     string            `json:"source"`
	Firing     bool              `json:"firing"`
	Summary    string            `json:"summary,omitempty"`
	Labels     map[string]string `json:"labels,omitempty"`
	FiredAt    time.Time         `json:"fired_at"`
	ResolvedAt *time.Time        `json:"resolved_at"`
	// Alerts are the group's individual alerts (Alertmanager), merged from
	// every notification; empty for a source without them.
	Alerts []AlertItem `json:"alerts"`
}

// AlertItem is one alert of a group.
type AlertItem struct {
	Fingerprint string            `json:"fingerprint"`
	Status      string            `json:"status"` // firing, resolved
	Labels      map[string]string `json:"labels"`
	Summary     string            `json:"summary,omitempty"`
	StartsAt    *time.Time        `json:"starts_at"`
	EndsAt      *time.Time        `json:"ends_at"` // when it ended, or will end unless reported again
	SeenAt      *time.Time        `json:"seen_at,omitempty"`
}

func alertItems(as []incident.Alert) []AlertItem {
	out := make([]AlertItem, 0, len(as))
	for _, a := range as {
		lb := a.Labels
		if lb == nil {
			lb = map[string]string{}
		}
		out = append(out, AlertItem{Fingerprint: a.Fingerprint, Status: string(a.Status), Labels: lb, Summary: a.Summary,
			StartsAt: utcPtr(a.StartsAt), EndsAt: utcPtr(a.EndsAt), SeenAt: utcPtr(a.SeenAt)})
	}
	return out
}

// Message is how a human message reads now, on a timeline entry of kind
// "message": its edits, pins and 📌 reactions are folded in rather than
// listed as entries of their own. A deleted message has no text: the text
// is erased from storage when the deletion is recorded.
type Message struct {
	TS      string `json:"ts"`      // the Slack message ts
	Edited  bool   `json:"edited"`  // the text is the edited one
	Key     bool   `json:"key"`     // pinned or 📌-reacted: a key event
	Deleted bool   `json:"deleted"` // deleted in Slack
}

// Event is one timeline entry.
type Event struct {
	Seq     int               `json:"seq"`
	At      time.Time         `json:"at"`
	Kind    string            `json:"kind"`
	Actor   string            `json:"actor,omitempty"`
	Text    string            `json:"text,omitempty"`
	Impact  *Impact           `json:"impact,omitempty"`
	Amount  *Money            `json:"amount,omitempty"`
	Class   string            `json:"class,omitempty"`
	User    string            `json:"user,omitempty"`
	Users   []string          `json:"users,omitempty"`
	Key     string            `json:"key,omitempty"`
	Source  string            `json:"source,omitempty"`
	Labels  map[string]string `json:"labels,omitempty"`
	Until   *time.Time        `json:"until,omitempty"`
	Figures *Figures          `json:"figures,omitempty"`
	// Message is set on a human message (kind "message"): how it reads now.
	Message *Message `json:"message,omitempty"`
	// Alerts are, on an alert event, the alerts whose report was news.
	Alerts  []AlertItem `json:"alerts,omitempty"`
	Service string      `json:"service,omitempty"` // the service an impact event is about; none: the primary
	Ref     int64       `json:"ref,omitempty"`     // the other incident of a merge
	From    int64       `json:"from,omitempty"`    // came with merged incident #from
}

func event(c incident.Currency, en incident.Entry) Event {
	e := en.Event
	out := Event{
		Seq: e.Seq, At: e.At.UTC(), Kind: string(e.Kind), Actor: e.Actor, Text: e.Text,
		Class: string(e.Class), User: e.User, Users: e.Users, Key: e.Key, Source: e.Source,
		Labels: e.Labels, Until: utcPtr(e.Until), Service: e.Service, Ref: e.Ref, From: e.From,
	}
	if e.Entry != nil && out.Service == "" {
		out.Service = e.Entry.Name
	}
	if m := en.Message; m != nil {
		out.Text = m.Text
		out.Message = &Message{TS: m.TS, Edited: m.Edited, Key: m.Key, Deleted: m.Deleted}
	}
	if len(e.Alerts) > 0 {
		out.Alerts = alertItems(e.Alerts)
	}
	if e.Impact != nil {
		i := impact(*e.Impact)
		out.Impact = &i
	}
	if e.Amount != 0 {
		m := money(c, e.Amount)
		out.Amount = &m
	}
	if e.Figures != nil {
		f := figures(c, *e.Figures)
		out.Figures = &f
	}
	return out
}

// incidentView builds the API view of inc at now; withTimeline adds the
// timeline.
func incidentView(p incident.Policy, inc *incident.Incident, now time.Time, withTimeline bool) Incident {
	c := p.Currency
	st := inc.State(p, now)
	svc := inc.Service
	tol := st.Target.TolerableUnavailability()
	out := Incident{
		Number: inc.Number,
		Title:  inc.Title,
		Service: ServiceRef{
			Name: svc.Name, Team: svc.Team, Domain: svc.Domain,
			HourlyExposure:          money(c, svc.HourlyExposure),
			Target:                  st.Target.String(),
			TolerableUnavailability: incident.FormatHMS(tol),
			Tolerable:               duration(tol),
			Runbook:                 svc.Runbook,
			PagerDutyServiceID:      svc.PagerDutyServiceID,
		},
		Unmapped:       inc.Unmapped,
		Drill:          inc.Drill,
		Status:         string(st.Status),
		Security:       st.Security,
		Class:          string(st.Class),
		Priority:       string(st.Priority),
		ResponseMethod: st.Priority.ResponseMethod(),
		Impact:         impact(st.Impact),
		Figures:        figures(c, st.Figures),
		Participants:   st.Participants,
		Acknowledged:   st.Acknowledged,
		Review:         reviewStatus(st.Review),
		StartedAt:      inc.StartedAt.UTC(),
		DeclaredAt:     inc.DeclaredAt().UTC(),
		ResolvedAt:     utcPtr(st.ResolvedAt),
		UpgradedAt:     utcPtr(st.UpgradedAt),
		Effectiveness:  effect(c, st.Effectiveness),
		Alerts:         []Alert{},
		AsOf:           now.UTC(),
		TimelineLength: len(inc.Events),
	}
	if out.Participants == nil {
		out.Participants = []string{}
	}
	if st.Commander != "" {
		cmd := st.Commander
		out.Commander = &cmd
	}
	if st.Status == incident.StatusResolved {
		d := duration(st.TimeToRestore)
		out.TimeToRestore = &d
	}
	out.Services = make([]IncidentService, 0, len(st.Services))
	for _, s := range st.Services {
		out.Services = append(out.Services, incidentService(c, s))
	}
	if st.MergedInto != 0 {
		into := st.MergedInto
		out.MergedInto = &into
	}
	out.Merged = st.Merged
	for _, a := range st.Alerts {
		out.Alerts = append(out.Alerts, Alert{
			Key: a.Key, Source: a.Source, Firing: a.Firing, Summary: a.Summary, Labels: a.Labels,
			FiredAt: a.FiredAt.UTC(), ResolvedAt: utcPtr(a.ClosedAt), Alerts: alertItems(a.Alerts),
		})
	}
	if withTimeline {
		// As of now, like the figures: what happened, messages as they
		// read now.
		entries := incident.Timeline(inc.Events, now)
		out.Timeline = make([]Event, 0, len(entries))
		for _, en := range entries {
			out.Timeline = append(out.Timeline, event(c, en))
		}
	}
	return out
}

func reviewStatus(r incident.ReviewStatus) string {
	if r == incident.ReviewNone {
		return "none"
	}
	return string(r)
}

// ReadBody reads a request body of at most max bytes. On failure it has
// answered the request (413 or 400, JSON) and returns false.
func ReadBody(w http.ResponseWriter, r *http.Request, max int64) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, max))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			WriteError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the body is larger than %d bytes", max))
		} else {
			WriteError(w, http.StatusBadRequest, "the body could not be read")
		}
		return nil, false
	}
	return body, true
}
