// Package httpapi is incidentbot's JSON and operations HTTP adapter: the
// read-only incident API (/api/incidents, /api/services), the database
// backup endpoint used by `incidentbot backup` while the bot is serving
// (/api/backup), the probes (/healthz, /readyz) and Prometheus metrics
// (/metrics). It shares the bot's listener with the webhook and review
// handlers, which may reuse WriteError, WriteJSON and Metrics.Instrument.
//
// The API is for trusted operators: every /api/ route needs the bearer
// token configured as http.api_token; with no token configured the API is
// disabled (403). Probes and metrics are unauthenticated and reveal no
// incident text.
package httpapi

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/incidentbot/incidentbot/incident/desk"
)

// Store is what the server needs from storage besides the desk;
// *boltstore.Store satisfies it.
type Store interface {
	// Ping reports whether storage can serve a read (for /readyz).
	Ping(ctx context.Context) error
	// Backup writes a consistent copy of the database to w.
	Backup(w io.Writer) (int64, error)
	// Pending returns the pending side-effect jobs (for /metrics).
	Pending(ctx context.Context) ([]desk.Job, error)
}

// Options configure a Server. Desk and Store are required: without them
// the routes that need them answer 503.
type Options struct {
	Desk  *desk.Desk
	Store Store
	// APIToken is the bearer token for /api/*. Empty disables the API: its
	// routes answer 403 telling the operator to set http.api_token.
	APIToken string
	// Ready reports whether the bot can do its job beyond storage, e.g.
	// that the Slack Socket Mode connection is up, and why not. Nil means
	// ready. Its ok value is also exported as incidentbot_slack_connected.
	Ready func() (ok bool, reason string)
	// Logger receives errors and refused requests; nil discards them. The
	// API token is never logged.
	Logger *slog.Logger
	// Now is the clock at which figures are computed; nil means the desk's
	// clock (time.Now without a desk).
	Now func() time.Time
	// Metrics counts HTTP requests; nil makes a new one. Pass the same
	// Metrics to the webhook handlers' Instrument so /metrics counts them.
	Metrics *Metrics
	// Version is reported by incidentbot_build_info.
	Version string
}

// Server serves the API, probes and metrics.
type Server struct {
	desk    *desk.Desk
	store   Store
	token   Bearer // the API token; unset when the API is disabled
	ready   func() (bool, string)
	log     *slog.Logger
	now     func() time.Time
	metrics *Metrics
	version string
	// backups admits one backup at a time: each holds a read transaction
	// for as long as the copy takes.
	backups chan struct{}
}

// New returns a Server.
func New(opts Options) *Server {
	s := &Server{
		desk:    opts.Desk,
		store:   opts.Store,
		ready:   opts.Ready,
		log:     opts.Logger,
		now:     opts.Now,
		metrics: opts.Metrics,
		version: opts.Version,
		backups: make(chan struct{}, 1),
	}
	s.token = NewBearer(opts.APIToken)
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		if s.desk != nil {
			s.now = s.desk.Now
		} else {
			s.now = time.Now
		}
	}
	if s.metrics == nil {
		s.metrics = NewMetrics()
	}
	if s.ready == nil {
		s.ready = func() (bool, string) { return true, "" }
	}
	if s.version == "" {
		s.version = "dev"
	}
	return s
}

// Metrics returns the server's request counters, for Instrument-ing other
// handlers on the same listener.
func (s *Server) Metrics() *Metrics { return s.metrics }

// Route labels and paths.
const (
	RouteHealthz   = "/healthz"
	RouteReadyz    = "/readyz"
	RouteMetrics   = "/metrics"
	RouteIncidents = "/api/incidents"
	RouteIncident  = "/api/incidents/{number}"
	RouteServices  = "/api/services"
	RouteBackup    = "/api/backup"
	routeAPIOther  = "/api/"
)

// Routes registers the server's routes on mux: GET /healthz, /readyz,
// /metrics, /api/incidents, /api/incidents/{number}, /api/services and
// /api/backup. Other methods on those paths get a JSON 405, and unknown
// paths under /api/ a JSON 404. Call it once per mux.
func (s *Server) Routes(mux *http.ServeMux) {
	s.handle(mux, RouteHealthz, s.healthz)
	s.handle(mux, RouteReadyz, s.readyz)
	s.handle(mux, RouteMetrics, s.serveMetrics)
	s.handle(mux, RouteIncidents, s.api(s.listIncidents))
	s.handle(mux, RouteIncident, s.api(s.getIncident))
	s.handle(mux, RouteServices, s.api(s.listServices))
	s.handle(mux, RouteBackup, s.api(s.backup))
	mux.Handle(routeAPIOther, s.metrics.Instrument(routeAPIOther, secure(func(w http.ResponseWriter, r *http.Request) {
		WriteError(w, http.StatusNotFound, "no such API endpoint")
	})))
}

// handle registers h for GET (and so HEAD) on path, and a JSON 405 for the
// other methods: the method-less pattern is less specific, so it only gets
// what the GET pattern does not match.
func (s *Server) handle(mux *http.ServeMux, path string, h http.HandlerFunc) {
	mux.Handle("GET "+path, s.metrics.Instrument(path, secure(h)))
	mux.Handle(path, s.metrics.Instrument(path, secure(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", "GET, HEAD")
		WriteError(w, http.StatusMethodNotAllowed, "method "+r.Method+" is not allowed; use GET")
	})))
}

// secure sets the headers every response of this package carries.
func secure(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Cache-Control", "no-store")
		hd.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		hd.Set("Referrer-Policy", "no-referrer")
		h(w, r)
	}
}

// api guards h with the bearer token.
func (s *Server) api(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.token.Set() {
			WriteError(w, http.StatusForbidden, "the API is disabled: set http.api_token to enable the API")
			return
		}
		if !s.token.Allows(r) {
			// Log who knocked, never what they sent.
			s.log.Info("api request refused: missing or wrong bearer token", "path", r.URL.Path, "remote", r.RemoteAddr)
			w.Header().Set("WWW-Authenticate", `Bearer realm="incidentbot"`)
			WriteError(w, http.StatusUnauthorized, "missing or wrong bearer token (Authorization: Bearer <http.api_token>)")
			return
		}
		if s.desk == nil || s.store == nil {
			WriteError(w, http.StatusServiceUnavailable, "the API is not wired to storage")
			return
		}
		h(w, r)
	}
}
