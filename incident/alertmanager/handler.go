// Package alertmanager receives Alertmanager webhooks (payload version 4) and
// turns each notification into an alert on the incident desk: a firing group
// opens an incident or attaches to one, a resolved group goes on the
// timeline and, when configured, resolves the incident once every linked
// alert is resolved.
//
// Alertmanager retries only on 5xx, so the handler answers 2xx only once the
// notification is durably stored, 5xx when storage failed, and 4xx (nothing
// stored) for requests that can never succeed.
package alertmanager

import (
	"context"
	"encoding/json"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/incidentbot/incidentbot/incident"
	"github.com/incidentbot/incidentbot/incident/desk"
	"github.com/incidentbot/incidentbot/incident/httpapi"
)

// Path is where the handler is mounted.
const Path = "/webhooks/alertmanager"

// Options configure the webhook handler.
type Options struct {
	// BearerToken, when set, must be presented as "Authorization: Bearer …"
	// (Alertmanager's http_config.authorization).
	BearerToken string
	// ServiceLabel names the label that carries the catalogue service;
	// default "service".
	ServiceLabel string
	// AutoResolve resolves an incident when a resolved notification leaves
	// every alert linked to it resolved.
	AutoResolve bool
	Logger      *slog.Logger
	// MaxBody is the largest body accepted; default 1 MiB.
	MaxBody int64
	// MaxDecoding bounds the bodies read and decoded at once; default 4.
	// A request over the bound waits up to DecodeWait for its turn, then
	// gets 503 with Retry-After (Alertmanager retries 5xx).
	MaxDecoding int
	// DecodeWait is how long a request waits for its turn to be decoded;
	// default 2 s.
	DecodeWait time.Duration
	// BodyTimeout bounds the reading of a body, so that a slow sender
	// cannot hold a turn; default 10 s.
	BodyTimeout time.Duration
}

// UnknownService is the service of a notification without the service label.
const UnknownService = "unknown"

// Response is the JSON body of a successful answer.
type Response struct {
	Incident int64 `json:"incident"`
	Created  bool  `json:"created"`
	Ignored  bool  `json:"ignored,omitempty"`  // a resolved notification for no known incident
	Resolved bool  `json:"resolved,omitempty"` // this notification resolved the incident
	// Truncated counts the alerts not read (over MaxAlerts) or not sent
	// (Alertmanager's truncatedAlerts).
	Truncated int `json:"truncated,omitempty"`
}

// Handler returns the http.Handler for POST /webhooks/alertmanager.
func Handler(d *desk.Desk, opts Options) http.Handler {
	if opts.ServiceLabel == "" {
		opts.ServiceLabel = "service"
	}
	if opts.MaxBody <= 0 {
		opts.MaxBody = 1 << 20
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.MaxDecoding <= 0 {
		opts.MaxDecoding = 4
	}
	if opts.DecodeWait <= 0 {
		opts.DecodeWait = 2 * time.Second
	}
	if opts.BodyTimeout <= 0 {
		opts.BodyTimeout = 10 * time.Second
	}
	h := &handler{desk: d, opts: opts, log: opts.Logger, decoding: make(chan struct{}, opts.MaxDecoding)}
	h.token = httpapi.NewBearer(opts.BearerToken)
	return h
}

type handler struct {
	desk     *desk.Desk
	opts     Options
	log      *slog.Logger
	token    httpapi.Bearer // required when set
	decoding chan struct{}  // a semaphore of MaxDecoding turns
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !h.admit(w, r) {
		return
	}
	n, ok := h.decode(w, r)
	if !ok {
		return
	}
	if n.Version != "" && n.Version != "4" {
		h.log.Warn("alertmanager webhook with an unexpected payload version; reading it as version 4", "version", truncate(n.Version, 20))
	}
	if n.Dropped > 0 {
		h.log.Warn("alertmanager notification truncated", "group_key", truncate(n.GroupKey, maxLoggedKey),
			"alerts_read", len(n.Alerts), "alerts_not_read", n.Dropped, "limit", MaxAlerts)
	}
	resp, err := h.handle(r.Context(), n)
	if err != nil {
		switch incident.ErrorCode(err) {
		case incident.EINVALID:
			httpapi.WriteError(w, http.StatusBadRequest, incident.ErrorMessage(err))
		default:
			// Alertmanager retries on 5xx: nothing is lost.
			h.log.Error("alertmanager notification not stored; Alertmanager will retry", "group_key", truncate(n.GroupKey, maxLoggedKey), "status", n.Status, "err", err)
			httpapi.WriteError(w, http.StatusInternalServerError, "the notification could not be stored; retry")
		}
		return
	}
	resp.Truncated = n.TruncatedAlerts
	httpapi.WriteJSON(w, http.StatusOK, resp)
}

// maxLoggedKey bounds a group key in the log.
const maxLoggedKey = 200

// admit refuses, before reading the body, what is not a webhook call from
// Alertmanager: another method, a browser page of another origin, a
// missing bearer token, a body that is not JSON.
func (h *handler) admit(w http.ResponseWriter, r *http.Request) bool {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		httpapi.WriteError(w, http.StatusMethodNotAllowed, "use POST")
		return false
	}
	if !sameOrigin(r) {
		httpapi.WriteError(w, http.StatusForbidden, "cross-origin requests from browsers are refused")
		return false
	}
	if h.token.Set() && !h.token.Allows(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="incidentbot"`)
		httpapi.WriteError(w, http.StatusUnauthorized, "a valid bearer token is required")
		return false
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		httpapi.WriteError(w, http.StatusUnsupportedMediaType, "the body must be Content-Type: application/json")
		return false
	}
	return true
}

// sameOrigin is false for a request a browser sent from a page of another
// origin: Sec-Fetch-Site other than same-origin, or an Origin (null
// included) whose host is not the one the request was sent to. Alertmanager
// sends neither header.
func sameOrigin(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" {
		return false
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	return err == nil && u.Host != "" && strings.EqualFold(u.Host, r.Host)
}

// decode reads and decodes the body within its turn: at most MaxDecoding
// bodies are held at once. On failure it has answered the request.
func (h *handler) decode(w http.ResponseWriter, r *http.Request) (*Notification, bool) {
	if !h.turn(r.Context()) {
		w.Header().Set("Retry-After", "1")
		httpapi.WriteError(w, http.StatusServiceUnavailable, "too many notifications at once; retry")
		return nil, false
	}
	defer func() { <-h.decoding }()
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Now().Add(h.opts.BodyTimeout))
	body, ok := httpapi.ReadBody(w, r, h.opts.MaxBody)
	_ = rc.SetReadDeadline(time.Time{}) // the body is read: the rest takes its time
	if !ok {
		return nil, false
	}
	n := new(Notification)
	if err := json.Unmarshal(body, n); err != nil {
		httpapi.WriteError(w, http.StatusBadRequest, "malformed JSON: "+truncate(err.Error(), 200))
		return nil, false
	}
	if err := n.Validate(); err != nil {
		httpapi.WriteError(w, http.StatusBadRequest, "not an Alertmanager notification: "+truncate(err.Error(), 200))
		return nil, false
	}
	return n, true
}

// turn waits up to DecodeWait for a decoding turn.
func (h *handler) turn(ctx context.Context) bool {
	select {
	case h.decoding <- struct{}{}:
		return true
	default:
	}
	t := time.NewTimer(h.opts.DecodeWait)
	defer t.Stop()
	select {
	case h.decoding <- struct{}{}:
		return true
	case <-t.C:
	case <-ctx.Done():
	}
	return false
}

// handle stores the notification and, for a resolved one, resolves the
// incident when asked to and every linked alert is resolved.
func (h *handler) handle(ctx context.Context, n *Notification) (Response, error) {
	a := n.DeskAlert(h.opts.ServiceLabel)
	if a.Service == "" {
		// The desk opens such incidents as "unknown"; name it here too, so
		// that grouping by service only joins other service-less alerts.
		a.Service = UnknownService
	}
	res, err := h.desk.Alert(ctx, a)
	if err != nil {
		return Response{}, err
	}
	out := Response{Incident: res.Number, Created: res.Created, Ignored: res.Ignored}
	h.log.Debug("alertmanager notification stored", "group_key", truncate(n.GroupKey, maxLoggedKey), "status", n.Status,
		"alerts", len(n.Alerts), "incident", res.Number, "created", res.Created, "ignored", res.Ignored)
	if a.Firing || !h.opts.AutoResolve || res.Number == 0 {
		return out, nil
	}
	resolved, err := h.desk.ResolveIfAlertsResolved(ctx, res.Number, desk.Op{Actor: incident.ActorAlertmanager, Idem: a.Idem + "/resolve"},
		"Every linked alert is resolved (Alertmanager).")
	if err != nil {
		return Response{}, err
	}
	if resolved {
		out.Resolved = true
		h.log.Info("incident resolved: every linked alert is resolved", "incident", res.Number)
	}
	return out, nil
}
