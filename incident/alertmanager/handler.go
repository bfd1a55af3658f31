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
	"net/http"

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
}

// UnknownService is the service of a notification without the service label.
const UnknownService = "unknown"

// Response is the JSON body of a successful answer.
type Response struct {
	Incident int64 `json:"incident"`
	Created  bool  `json:"created"`
	Ignored  bool  `json:"ignored,omitempty"`  // a resolved notification for no known incident
	Resolved bool  `json:"resolved,omitempty"` // this notification resolved the incident
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
	h := &handler{desk: d, opts: opts, log: opts.Logger}
	h.token = httpapi.NewBearer(opts.BearerToken)
	return h
}

type handler struct {
	desk  *desk.Desk
	opts  Options
	log   *slog.Logger
	token httpapi.Bearer // required when set
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		httpapi.WriteError(w, http.StatusMethodNotAllowed, "use POST")
		return
	}
	if h.token.Set() && !h.token.Allows(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="incidentbot"`)
		httpapi.WriteError(w, http.StatusUnauthorized, "a valid bearer token is required")
		return
	}
	body, ok := httpapi.ReadBody(w, r, h.opts.MaxBody)
	if !ok {
		return
	}
	var n Notification
	if err := json.Unmarshal(body, &n); err != nil {
		httpapi.WriteError(w, http.StatusBadRequest, "malformed JSON: "+err.Error())
		return
	}
	if err := n.Validate(); err != nil {
		httpapi.WriteError(w, http.StatusBadRequest, "not an Alertmanager notification: "+err.Error())
		return
	}
	if n.Version != "" && n.Version != "4" {
		h.log.Warn("alertmanager webhook with an unexpected payload version; reading it as version 4", "version", n.Version)
	}
	resp, err := h.handle(r.Context(), &n)
	if err != nil {
		switch incident.ErrorCode(err) {
		case incident.EINVALID:
			httpapi.WriteError(w, http.StatusBadRequest, incident.ErrorMessage(err))
		default:
			// Alertmanager retries on 5xx: nothing is lost.
			h.log.Error("alertmanager notification not stored; Alertmanager will retry", "group_key", n.GroupKey, "status", n.Status, "err", err)
			httpapi.WriteError(w, http.StatusInternalServerError, "the notification could not be stored; retry")
		}
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, resp)
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
	h.log.Debug("alertmanager notification stored", "group_key", n.GroupKey, "status", n.Status,
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
