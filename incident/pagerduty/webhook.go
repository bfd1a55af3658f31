package pagerduty

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	pd "github.com/PagerDuty/go-pagerduty"
	"github.com/PagerDuty/go-pagerduty/webhookv3"

	"github.com/incidentbot/incidentbot/incident"
	"github.com/incidentbot/incidentbot/incident/desk"
	"github.com/incidentbot/incidentbot/incident/httpapi"
)

// WebhookPath is where the webhook handler is mounted.
const WebhookPath = "/webhooks/pagerduty"

// SeenNamespace is the namespace of delivered webhook IDs (X-Webhook-Id)
// in the store; EventNamespace that of the signed event ids (event.id).
const (
	SeenNamespace  = "pagerduty.webhook"
	EventNamespace = "pagerduty.event"
)

// LatestBucket is the KV bucket holding, per PagerDuty incident ID, the
// occurred_at of the newest state event applied (RFC 3339): older state
// events (a replay, a late delivery) are ignored.
const LatestBucket = "pagerduty.latest"

// Deduper remembers webhook IDs durably; *boltstore.Store implements it.
type Deduper interface {
	// Seen records key in namespace and reports whether this is the first
	// time it is recorded.
	Seen(ctx context.Context, namespace, key string, at time.Time) (first bool, err error)
}

// Store is what the webhook handler needs from storage; *boltstore.Store
// implements it.
type Store interface {
	Deduper
	KV
	// ByAlertKey returns the incident an alert key ("pd:" + PagerDuty
	// incident ID) is attached to.
	ByAlertKey(ctx context.Context, key string) (int64, bool, error)
}

// seenChecker is the read-only check a store may offer; with it a
// redelivered webhook is answered without touching the desk.
type seenChecker interface {
	WasSeen(ctx context.Context, namespace, key string) (bool, error)
}

// IncidentGetter fetches a PagerDuty incident; *Client implements it.
type IncidentGetter interface {
	GetIncident(ctx context.Context, id string) (*pd.Incident, error)
}

// Options configure the webhook handler.
type Options struct {
	// Secret is the webhook subscription's signing secret. Without it every
	// delivery is refused: unsigned PagerDuty webhooks are not accepted.
	Secret string
	Logger *slog.Logger
	Now    func() time.Time
	// Timeout bounds the work on one delivery; PagerDuty wants an answer
	// within 5 s and redelivers otherwise. Default 4 s.
	Timeout time.Duration
	// Incidents, if set, fetches a PagerDuty incident that a note refers to
	// when the bot has not seen it yet (out-of-order delivery).
	Incidents IncidentGetter
	// MaxBody is the largest body accepted; default 1 MiB.
	MaxBody int64
}

// WebhookResponse is the JSON body of a successful answer.
type WebhookResponse struct {
	Incident  int64  `json:"incident,omitempty"`
	Event     string `json:"event,omitempty"`
	Duplicate bool   `json:"duplicate,omitempty"`
	Ignored   bool   `json:"ignored,omitempty"`
}

// WebhookHandler returns the http.Handler for POST /webhooks/pagerduty.
//
// It verifies X-PagerDuty-Signature (any of several v1= signatures, as
// during a secret rotation), applies the event to the desk and only then
// records X-Webhook-Id as seen: a crash between the two is covered by the
// desk's idempotency keys ("pd:" + webhook ID), so a redelivery changes
// nothing, and no delivery is lost by being marked before it was stored.
// It answers 2xx once the effect is durable, 401 for a bad signature, 4xx
// for a request that can never succeed and 5xx (PagerDuty redelivers) when
// storage failed or did not finish within Timeout.
func WebhookHandler(d *desk.Desk, store Store, opts Options) http.Handler {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = d.Now
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 4 * time.Second
	}
	if opts.MaxBody <= 0 {
		opts.MaxBody = 1 << 20
	}
	return &webhook{desk: d, store: store, opts: opts, log: opts.Logger}
}

type webhook struct {
	desk  *desk.Desk
	store Store
	opts  Options
	log   *slog.Logger
	// applyMu serialises applying events, so that the check against the
	// newest applied event and its update cannot interleave.
	applyMu sync.Mutex
}

// Event is a v3 webhook event.
type Event struct {
	ID           string          `json:"id"`
	EventType    string          `json:"event_type"`
	ResourceType string          `json:"resource_type"`
	OccurredAt   time.Time       `json:"occurred_at"`
	Agent        *Reference      `json:"agent"`
	Data         json.RawMessage `json:"data"`
}

// Reference is a PagerDuty object reference.
type Reference struct {
	ID      string `json:"id"`
	Type    string `json:"type"`
	Summary string `json:"summary"`
	HTMLURL string `json:"html_url"`
}

// IncidentData is the data of incident.* events.
type IncidentData struct {
	ID               string      `json:"id"`
	Type             string      `json:"type"`
	Number           int         `json:"number"`
	Title            string      `json:"title"`
	Status           string      `json:"status"`
	IncidentKey      string      `json:"incident_key"`
	HTMLURL          string      `json:"html_url"`
	CreatedAt        time.Time   `json:"created_at"`
	Urgency          string      `json:"urgency"`
	Service          Reference   `json:"service"`
	EscalationPolicy Reference   `json:"escalation_policy"`
	Assignees        []Reference `json:"assignees"`
	Priority         *Reference  `json:"priority"`
}

// NoteData is the data of incident.annotated.
type NoteData struct {
	ID       string    `json:"id"`
	Type     string    `json:"type"`
	Content  string    `json:"content"`
	Incident Reference `json:"incident"`
}

// Event types handled.
const (
	EventTriggered    = "incident.triggered"
	EventAcknowledged = "incident.acknowledged"
	EventReassigned   = "incident.reassigned"
	EventAnnotated    = "incident.annotated"
	EventResolved     = "incident.resolved"
	EventReopened     = "incident.reopened"
	EventPing         = "pagey.ping"
)

// ManagerPageKeyPrefix prefixes the incident_key of the PagerDuty incidents
// the bot opens to page incident managers; their webhooks are not applied
// back to the bot's incident.
const ManagerPageKeyPrefix = "incidentbot-major-"

// noteMarkerRE matches the marker the bot puts on the notes it copies to
// PagerDuty (see noteMarker), so that their webhooks are not copied back.
var noteMarkerRE = regexp.MustCompile(`\[incidentbot #\d+/\d+\]`)

// errUnknownIncident: an event for a PagerDuty incident the bot has not
// seen and cannot open; PagerDuty redelivers it later.
var errUnknownIncident = errors.New("unknown PagerDuty incident")

func (h *webhook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		httpapi.WriteError(w, http.StatusMethodNotAllowed, "use POST")
		return
	}
	body, ok := httpapi.ReadBody(w, r, h.opts.MaxBody)
	if !ok {
		return
	}
	if h.opts.Secret == "" {
		h.log.Error("PagerDuty webhook refused: pagerduty.webhook_secret is not configured")
		httpapi.WriteError(w, http.StatusUnauthorized, "webhook signatures cannot be verified")
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	if err := webhookv3.VerifySignature(r, h.opts.Secret); err != nil {
		h.log.Warn("PagerDuty webhook with a bad signature refused", "err", err, "remote", r.RemoteAddr)
		httpapi.WriteError(w, http.StatusUnauthorized, "invalid or missing X-PagerDuty-Signature")
		return
	}
	ev, err := ParseEvent(body)
	if err != nil {
		httpapi.WriteError(w, http.StatusBadRequest, incident.ErrorMessage(err))
		return
	}
	d := delivery{event: ev, header: strings.TrimSpace(r.Header.Get("X-Webhook-Id"))}
	if d.header == "" && ev.ID == "" {
		httpapi.WriteError(w, http.StatusBadRequest, "X-Webhook-Id and event.id are missing")
		return
	}
	log := h.log.With("webhook_id", truncate(d.header, maxLoggedID), "event_id", truncate(ev.ID, maxLoggedID), "event_type", truncate(ev.EventType, maxLoggedID))

	ctx, cancel := context.WithTimeout(r.Context(), h.opts.Timeout)
	defer cancel()
	if h.wasSeen(ctx, d) {
		log.Debug("PagerDuty webhook redelivered; already processed")
		httpapi.WriteJSON(w, http.StatusOK, WebhookResponse{Event: ev.EventType, Duplicate: true})
		return
	}

	// Apply in a goroutine, so that the answer goes out within Timeout even
	// if storage is stuck: PagerDuty redelivers and the desk's idempotency
	// keys make the late and the redelivered work one.
	type result struct {
		resp WebhookResponse
		err  error
	}
	done := make(chan result, 1)
	go func() {
		h.applyMu.Lock()
		defer h.applyMu.Unlock()
		resp, err := h.apply(ctx, ev, d.idem())
		if err == nil {
			h.markSeen(ctx, log, d)
		}
		done <- result{resp, err}
	}()
	var res result
	select {
	case res = <-done:
	case <-ctx.Done():
		log.Error("PagerDuty webhook not stored in time; PagerDuty will redeliver", "timeout", h.opts.Timeout)
		httpapi.WriteError(w, http.StatusServiceUnavailable, "the event could not be stored in time; retry")
		return
	}
	if err := res.err; err != nil {
		h.fail(ctx, w, log, err)
		return
	}
	res.resp.Event = ev.EventType
	httpapi.WriteJSON(w, http.StatusOK, res.resp)
}

// maxLoggedID bounds an id in the log: they come from the request.
const maxLoggedID = 100

// maxServiceName bounds the name of an unmapped service.
const maxServiceName = 80

// delivery is one webhook call: the signed event and the unsigned header id.
type delivery struct {
	event  *Event
	header string // X-Webhook-Id
}

// idem is the desk's idempotency key: the signed event id, so that the same
// event resent under another X-Webhook-Id changes nothing; the header id
// only for an event without one.
func (d delivery) idem() string {
	if d.event.ID != "" {
		return KeyPrefix + d.event.ID
	}
	return KeyPrefix + d.header
}

// wasSeen reports whether the header id or the event id was processed.
func (h *webhook) wasSeen(ctx context.Context, d delivery) bool {
	c, ok := h.store.(seenChecker)
	if !ok {
		return false
	}
	for _, k := range [][2]string{{SeenNamespace, d.header}, {EventNamespace, d.event.ID}} {
		if k[1] == "" {
			continue
		}
		if seen, err := c.WasSeen(ctx, k[0], k[1]); err == nil && seen {
			return true
		}
	}
	return false
}

// markSeen records both ids once the effect is stored.
func (h *webhook) markSeen(ctx context.Context, log *slog.Logger, d delivery) {
	for _, k := range [][2]string{{SeenNamespace, d.header}, {EventNamespace, d.event.ID}} {
		if k[1] == "" {
			continue
		}
		if _, err := h.store.Seen(ctx, k[0], k[1], h.opts.Now()); err != nil {
			// The effect is stored; a redelivery will be a no-op.
			log.Warn("PagerDuty webhook applied but not marked seen", "err", err)
		}
	}
}

// fail answers a delivery whose event could not be applied.
func (h *webhook) fail(ctx context.Context, w http.ResponseWriter, log *slog.Logger, err error) {
	switch {
	case errors.Is(err, errUnknownIncident):
		log.Warn("PagerDuty event for an incident the bot has not seen; asking for redelivery", "err", err)
		httpapi.WriteError(w, http.StatusServiceUnavailable, "unknown incident; retry later")
	case incident.ErrorCode(err) == incident.EINVALID:
		log.Warn("PagerDuty event refused", "err", err)
		httpapi.WriteError(w, http.StatusBadRequest, incident.ErrorMessage(err))
	case ctx.Err() != nil:
		log.Error("PagerDuty webhook not stored in time; PagerDuty will redeliver", "err", err)
		httpapi.WriteError(w, http.StatusServiceUnavailable, "the event could not be stored in time; retry")
	default:
		log.Error("PagerDuty webhook not stored; PagerDuty will redeliver", "err", err)
		httpapi.WriteError(w, http.StatusInternalServerError, "the event could not be stored; retry")
	}
}

// ParseEvent reads the event of a v3 webhook body. The body must already
// be verified: nothing here is authenticated.
func ParseEvent(body []byte) (*Event, error) {
	var payload struct {
		Event *Event `json:"event"`
	}
	if err := json.Unmarshal(body, &payload); err != nil {
		return nil, incident.Errorf(incident.EINVALID, "malformed JSON: %s", truncate(err.Error(), 200))
	}
	ev := payload.Event
	if ev == nil || ev.EventType == "" {
		return nil, incident.Errorf(incident.EINVALID, "not a PagerDuty v3 webhook: event.event_type is missing")
	}
	ev.ID = strings.TrimSpace(ev.ID)
	return ev, nil
}

// apply records the event on the desk. Every write carries an idempotency
// key derived from the webhook ID, so applying a delivery twice is the same
// as applying it once.
func (h *webhook) apply(ctx context.Context, ev *Event, id string) (WebhookResponse, error) {
	idem := KeyPrefix + id
	switch ev.EventType {
	case EventTriggered, EventAcknowledged, EventReassigned, EventResolved, EventReopened:
	case EventAnnotated:
		return h.annotated(ctx, ev, idem)
	default:
		h.log.Debug("PagerDuty webhook event ignored", "event_type", ev.EventType)
		return WebhookResponse{Ignored: true}, nil
	}
	var data IncidentData
	if err := json.Unmarshal(ev.Data, &data); err != nil || data.ID == "" {
		return WebhookResponse{}, incident.Errorf(incident.EINVALID, "event.data is not a PagerDuty incident")
	}
	if strings.HasPrefix(data.IncidentKey, ManagerPageKeyPrefix) || strings.HasPrefix(data.IncidentKey, TeamPageKeyPrefix) {
		// The bot's own page of the incident managers or of another team:
		// not a new incident, and resolving it resolves nothing here.
		return WebhookResponse{Ignored: true}, nil
	}
	if stale, err := h.stale(ctx, data.ID, ev.OccurredAt); err != nil {
		return WebhookResponse{}, err
	} else if stale {
		h.log.Info("PagerDuty event older than the newest applied one ignored", "event_id", truncate(ev.ID, maxLoggedID),
			"event_type", ev.EventType, "pagerduty_incident", truncate(data.ID, maxLoggedID))
		n, _, err := h.store.ByAlertKey(ctx, KeyPrefix+data.ID)
		return WebhookResponse{Incident: n, Ignored: true}, err
	}
	resp, err := h.applyState(ctx, ev, &data, idem)
	if err == nil {
		h.advance(ctx, data.ID, ev.OccurredAt)
	}
	return resp, err
}

// stale reports whether a state event occurred before the newest one
// applied to its PagerDuty incident: a replay of an old signed body, or a
// late delivery, must not toggle the incident back.
func (h *webhook) stale(ctx context.Context, pdIncident string, at time.Time) (bool, error) {
	latest, err := h.latest(ctx, pdIncident)
	if err != nil || at.IsZero() {
		return false, err
	}
	return at.Before(latest), nil
}

func (h *webhook) latest(ctx context.Context, pdIncident string) (time.Time, error) {
	raw, ok, err := h.store.GetKV(ctx, LatestBucket, pdIncident)
	if err != nil || !ok {
		return time.Time{}, err
	}
	t, _ := time.Parse(time.RFC3339Nano, string(raw))
	return t, nil
}

// advance records at as the newest applied state event of the PagerDuty
// incident, if it is.
func (h *webhook) advance(ctx context.Context, pdIncident string, at time.Time) {
	if at.IsZero() {
		return
	}
	latest, err := h.latest(ctx, pdIncident)
	if err == nil && !at.After(latest) {
		return
	}
	if err == nil {
		err = h.store.Put(ctx, LatestBucket, pdIncident, []byte(at.UTC().Format(time.RFC3339Nano)))
	}
	if err != nil {
		// The event is applied; only the protection against an older
		// replay of this incident's events is weaker until the next one.
		h.log.Warn("newest PagerDuty event time not recorded", "pagerduty_incident", truncate(pdIncident, maxLoggedID), "err", err)
	}
}

// applyState applies an incident.* state event to the bot's incident,
// opening it from the event's data when the bot has not seen it.
func (h *webhook) applyState(ctx context.Context, ev *Event, data *IncidentData, idem string) (WebhookResponse, error) {
	n, known, err := h.store.ByAlertKey(ctx, KeyPrefix+data.ID)
	if err != nil {
		return WebhookResponse{}, err
	}
	if ev.EventType == EventTriggered && known {
		// Opened already: a redelivery, or an earlier event of this incident
		// that arrived first opened it.
		return WebhookResponse{Incident: n}, nil
	}
	if !known {
		// Out of order (acknowledged or resolved before triggered) or the
		// trigger itself: open from the event's data, then apply it.
		res, err := h.desk.Alert(ctx, h.alertFor(data, idem+"/open", true))
		if err != nil {
			return WebhookResponse{}, err
		}
		n = res.Number
	}
	agent := agentName(ev.Agent)
	switch ev.EventType {
	case EventAcknowledged:
		text := "Acknowledged in PagerDuty"
		if agent != "" {
			text += " by " + agent
		}
		_, err = h.desk.Record(ctx, n, incident.Event{
			Kind: incident.EventAcknowledged, Actor: incident.ActorPagerDuty, Source: incident.ActorPagerDuty,
			Key: KeyPrefix + data.ID, Text: text, Idem: idem,
		})
	case EventReassigned:
		var names []string
		for _, a := range data.Assignees {
			names = append(names, a.Summary)
		}
		text := "Reassigned in PagerDuty"
		if len(names) > 0 {
			text += " to " + strings.Join(names, ", ")
		}
		if agent != "" {
			text += " by " + agent
		}
		_, err = h.desk.AddNote(ctx, n, desk.Op{Actor: incident.ActorPagerDuty, Idem: idem}, text)
	case EventResolved:
		if _, err = h.desk.Alert(ctx, h.alertFor(data, idem+"/alert", false)); err != nil {
			return WebhookResponse{}, err
		}
		text := "Resolved in PagerDuty"
		if agent != "" {
			text += " by " + agent
		}
		_, err = h.desk.Resolve(ctx, n, desk.Op{Actor: incident.ActorPagerDuty, Idem: idem}, text+".")
		if incident.ErrorCode(err) == incident.ECONFLICT {
			err = nil // resolved already
		}
	case EventReopened:
		_, err = h.desk.Reopen(ctx, n, desk.Op{Actor: incident.ActorPagerDuty, Idem: idem})
		if incident.ErrorCode(err) == incident.ECONFLICT {
			err = nil // open already
		}
		if err == nil {
			_, err = h.desk.Record(ctx, n, incident.Event{
				Kind: incident.EventAlertFired, Actor: incident.ActorPagerDuty, Source: incident.ActorPagerDuty,
				Key: KeyPrefix + data.ID, Text: "Reopened in PagerDuty", Idem: idem + "/alert",
			})
		}
	}
	if err != nil {
		return WebhookResponse{}, err
	}
	return WebhookResponse{Incident: n}, nil
}

// annotated adds a PagerDuty note to the incident's timeline. The event
// only references the incident: if the bot has not seen it, it is fetched
// from the REST API when configured, else PagerDuty is asked to redeliver.
func (h *webhook) annotated(ctx context.Context, ev *Event, idem string) (WebhookResponse, error) {
	var note NoteData
	if err := json.Unmarshal(ev.Data, &note); err != nil || note.Incident.ID == "" {
		return WebhookResponse{}, incident.Errorf(incident.EINVALID, "event.data is not a PagerDuty note")
	}
	n, known, err := h.store.ByAlertKey(ctx, KeyPrefix+note.Incident.ID)
	if err != nil {
		return WebhookResponse{}, err
	}
	if !known {
		if h.opts.Incidents == nil {
			return WebhookResponse{}, fmt.Errorf("%w %s", errUnknownIncident, note.Incident.ID)
		}
		pi, err := h.opts.Incidents.GetIncident(ctx, note.Incident.ID)
		if err != nil {
			return WebhookResponse{}, fmt.Errorf("%w %s: %w", errUnknownIncident, note.Incident.ID, err)
		}
		if strings.HasPrefix(pi.IncidentKey, ManagerPageKeyPrefix) {
			return WebhookResponse{Ignored: true}, nil
		}
		data := incidentData(pi)
		res, err := h.desk.Alert(ctx, h.alertFor(&data, idem+"/open", true))
		if err != nil {
			return WebhookResponse{}, err
		}
		n = res.Number
	}
	content := strings.TrimSpace(note.Content)
	if content == "" || noteMarkerRE.MatchString(content) {
		// Empty, or a note the bot copied from Slack: already on the timeline.
		return WebhookResponse{Incident: n, Ignored: true}, nil
	}
	text := "PagerDuty note"
	if a := agentName(ev.Agent); a != "" {
		text += " by " + a
	}
	text += ": " + truncate(content, 10_000)
	if _, err := h.desk.AddNote(ctx, n, desk.Op{Actor: incident.ActorPagerDuty, Idem: idem}, text); err != nil {
		return WebhookResponse{}, err
	}
	return WebhookResponse{Incident: n}, nil
}

// alertFor is the desk alert of a PagerDuty incident: the catalogue service
// mapped to its PagerDuty service, or an unmapped one named after it.
func (h *webhook) alertFor(data *IncidentData, idem string, firing bool) desk.Alert {
	// An unmapped service is named after PagerDuty's summary, which goes
	// into channel topics and cards: one line, bounded.
	name := truncate(strings.Join(strings.Fields(data.Service.Summary), " "), maxServiceName)
	if svc, ok := h.desk.Catalogue().ServiceByPagerDuty(data.Service.ID); ok {
		name = svc.Name
	} else if name == "" {
		name = "pagerduty:" + data.Service.ID
	}
	summary := "PagerDuty incident"
	if data.Number > 0 {
		summary += " #" + strconv.Itoa(data.Number)
	}
	if data.Urgency != "" {
		summary += " (" + data.Urgency + " urgency)"
	}
	if data.Title != "" {
		summary += ": " + data.Title
	}
	if data.HTMLURL != "" {
		summary += " " + data.HTMLURL
	}
	labels := map[string]string{"pagerduty_incident": data.ID}
	if data.Service.ID != "" {
		labels["pagerduty_service"] = data.Service.ID
	}
	if data.Urgency != "" {
		labels["urgency"] = data.Urgency
	}
	if data.Priority != nil && data.Priority.Summary != "" {
		labels["priority"] = data.Priority.Summary
	}
	title := strings.Join(strings.Fields(data.Title), " ")
	return desk.Alert{
		Source:   incident.ActorPagerDuty,
		Key:      KeyPrefix + data.ID,
		Service:  name,
		Title:    title,
		Summary:  truncate(summary, 4000),
		Labels:   labels,
		StartsAt: data.CreatedAt,
		Firing:   firing,
		Idem:     idem,
		Severity: data.Urgency,
	}
}

func incidentData(pi *pd.Incident) IncidentData {
	d := IncidentData{
		ID: pi.ID, Number: int(pi.IncidentNumber), Title: pi.Title, Status: pi.Status, IncidentKey: pi.IncidentKey,
		HTMLURL: pi.HTMLURL, Urgency: pi.Urgency,
		Service: Reference{ID: pi.Service.ID, Summary: pi.Service.Summary},
	}
	if t, err := time.Parse(time.RFC3339, pi.CreatedAt); err == nil {
		d.CreatedAt = t
	}
	return d
}

func agentName(r *Reference) string {
	if r == nil {
		return ""
	}
	return strings.Join(strings.Fields(r.Summary), " ")
}

// truncate cuts s to at most n bytes on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && (s[n]&0xC0) == 0x80 {
		n--
	}
	return s[:n] + "…"
}
