package site

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/incidentbot/incidentbot/incident"
	"github.com/incidentbot/incidentbot/incident/httpapi"
	"github.com/incidentbot/incidentbot/review"
	"github.com/incidentbot/incidentbot/review/reviewstore"
)

// MeasureFunc computes the measures of the period ending now (period 0:
// all time) for one service ("" for all).
type MeasureFunc func(ctx context.Context, period time.Duration, service string) (review.Measures, error)

// StatsOptions configure StatsHandler.
type StatsOptions struct {
	Measure MeasureFunc
	// Authorize reports whether the request may read the API (the bearer
	// token of /api/*). Nil refuses every request (the API is disabled).
	Authorize func(r *http.Request) bool
	// Currency formats the money figures; zero means USD.
	Currency incident.Currency
	// Services lists the known service names; a service not in it is a
	// 404. Nil accepts any name.
	Services []string
	Logger   *slog.Logger
}

// DefaultPeriod is the period /api/stats measures without ?period=.
const DefaultPeriod = 30 * 24 * time.Hour

// StatsHandler serves GET /api/stats[?period=30d&service=name]: the
// reliability and learning measures as JSON. Mount it on "GET /api/stats".
func StatsHandler(o StatsOptions) http.Handler {
	if o.Currency.Code == "" {
		o.Currency = incident.USD
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Cache-Control", "no-store")
		h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		h.Set("Referrer-Policy", "no-referrer")
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.Set("Allow", "GET, HEAD")
			httpapi.WriteError(w, http.StatusMethodNotAllowed, "method "+r.Method+" is not allowed; use GET")
			return
		}
		if o.Authorize == nil {
			httpapi.WriteError(w, http.StatusForbidden, "the API is disabled: set http.api_token to enable the API")
			return
		}
		if !o.Authorize(r) {
			o.Logger.Info("api request refused: missing or wrong bearer token", "path", r.URL.Path, "remote", r.RemoteAddr)
			h.Set("WWW-Authenticate", `Bearer realm="incidentbot"`)
			httpapi.WriteError(w, http.StatusUnauthorized, "missing or wrong bearer token (Authorization: Bearer <http.api_token>)")
			return
		}
		q := r.URL.Query()
		period := DefaultPeriod
		if p := q.Get("period"); p != "" {
			d, err := reviewstore.ParsePeriod(p)
			if err != nil {
				httpapi.WriteError(w, http.StatusBadRequest, "period: "+incident.ErrorMessage(err))
				return
			}
			period = d
		}
		svc := strings.TrimSpace(q.Get("service"))
		if svc != "" && o.Services != nil {
			known := false
			for _, s := range o.Services {
				if strings.EqualFold(s, svc) {
					svc, known = s, true
					break
				}
			}
			if !known {
				httpapi.WriteError(w, http.StatusNotFound, "there is no service called "+clipParam(svc))
				return
			}
		}
		if o.Measure == nil {
			httpapi.WriteError(w, http.StatusServiceUnavailable, "the measures are not wired to storage")
			return
		}
		m, err := o.Measure(r.Context(), period, svc)
		if err != nil {
			o.Logger.Error("measures", "err", err)
			httpapi.WriteError(w, http.StatusInternalServerError, "the measures could not be computed")
			return
		}
		httpapi.WriteJSON(w, http.StatusOK, StatsJSON(m, period, o.Currency))
	})
}

// BearerAuthorizer returns an authorizer accepting "Authorization: Bearer
// <token>", compared in constant time; with an empty token it returns nil
// (the API is disabled).
func BearerAuthorizer(token string) func(r *http.Request) bool {
	if token == "" {
		return nil
	}
	return httpapi.NewBearer(token).Allows
}

// Stats is the JSON form of review.Measures.
type Stats struct {
	From    *time.Time `json:"from,omitempty"`
	To      time.Time  `json:"to"`
	Period  string     `json:"period"` // "30d", or "all"
	Service string     `json:"service,omitempty"`

	Drills    int `json:"drills"` // practice incidents, left out of every other figure
	Incidents int `json:"incidents"`
	Majors    int `json:"majors"`
	Minors    int `json:"minors"`
	Open      int `json:"open"`

	// Times to restore of the restored incidents; null when none was.
	Restored            int               `json:"restored"`
	MedianTimeToRestore *httpapi.Duration `json:"median_time_to_restore"`
	P90TimeToRestore    *httpapi.Duration `json:"p90_time_to_restore"`

	TotalLoss     httpapi.Money `json:"total_loss"`
	LossByService []LossJSON    `json:"loss_by_service"`
	LossByTeam    []LossJSON    `json:"loss_by_team"`

	// Effectiveness is null when no restored incident had an impact.
	Effectiveness *EffectivenessJSON `json:"effectiveness"`

	Actions ActionsJSON `json:"actions"`

	Reviews       []ReviewJSON `json:"reviews"`
	ReviewReaders int          `json:"review_readers"`
	UniqueReaders int          `json:"unique_readers"`
}

// LossJSON is the loss of a service or team.
type LossJSON struct {
	Name      string        `json:"name"`
	Loss      httpapi.Money `json:"loss"`
	Incidents int           `json:"incidents"`
}

// EffectivenessJSON is the financial loss protection effectiveness.
type EffectivenessJSON struct {
	Measured        int           `json:"measured"`
	LossAtTolerable httpapi.Money `json:"loss_at_tolerable"`
	Protected       httpapi.Money `json:"protected"`
	RatioBP         int64         `json:"ratio_bp"`
	Percent         float64       `json:"percent"` // one decimal, truncated toward zero
}

// ActionsJSON are the improvement action measures. The median lead time is
// null until an action is done, the mean time between completions until
// two are.
type ActionsJSON struct {
	Defined                    int               `json:"defined"`
	Done                       int               `json:"done"`
	Open                       int               `json:"open"`
	MedianLeadTime             *httpapi.Duration `json:"median_lead_time"`
	PerWeek                    float64           `json:"per_week"`
	MeanTimeBetweenCompletions *httpapi.Duration `json:"mean_time_between_completions"`
}

// ReviewJSON is one published review's readership.
type ReviewJSON struct {
	Number      int64     `json:"number"`
	Title       string    `json:"title,omitempty"`
	Service     string    `json:"service"`
	Team        string    `json:"team"`
	PublishedAt time.Time `json:"published_at"`
	Readers     int       `json:"readers"`
}

func durationOf(d time.Duration) *httpapi.Duration {
	v := httpapi.DurationOf(d)
	return &v
}

func money(c incident.Currency, m incident.Money) httpapi.Money {
	return httpapi.Money{MinorUnits: int64(m), Formatted: c.Format(m)}
}

// PeriodLabel writes a period as ParsePeriod reads it.
func PeriodLabel(d time.Duration) string {
	switch {
	case d <= 0:
		return "all"
	case d%(24*time.Hour) == 0:
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	default:
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	}
}

// StatsJSON converts measures to their JSON form.
func StatsJSON(m review.Measures, period time.Duration, c incident.Currency) Stats {
	out := Stats{
		To: m.To, Period: PeriodLabel(period), Service: m.Service,
		Drills: m.Drills, Incidents: m.Incidents, Majors: m.Majors, Minors: m.Minors, Open: m.Open,
		Restored:      m.Restored,
		TotalLoss:     money(c, m.TotalLoss),
		LossByService: []LossJSON{},
		LossByTeam:    []LossJSON{},
		Actions: ActionsJSON{
			Defined: m.ActionsDefined, Done: m.ActionsDone, Open: m.ActionsOpen,
			PerWeek: m.ActionsPerWeek,
		},
		Reviews:       []ReviewJSON{},
		ReviewReaders: m.ReviewReaders, UniqueReaders: m.UniqueReaders,
	}
	if !m.From.IsZero() {
		f := m.From
		out.From = &f
	}
	if m.Restored > 0 {
		out.MedianTimeToRestore = durationOf(m.MedianTimeToRestore)
		out.P90TimeToRestore = durationOf(m.P90TimeToRestore)
	}
	if m.ActionsDone > 0 {
		out.Actions.MedianLeadTime = durationOf(m.MedianActionLeadTime)
	}
	if m.ActionsDone > 1 {
		out.Actions.MeanTimeBetweenCompletions = durationOf(m.MeanTimeBetweenActions)
	}
	for _, l := range m.LossByService {
		out.LossByService = append(out.LossByService, LossJSON{l.Name, money(c, l.Loss), l.Incidents})
	}
	for _, l := range m.LossByTeam {
		out.LossByTeam = append(out.LossByTeam, LossJSON{l.Name, money(c, l.Loss), l.Incidents})
	}
	if m.EffectivenessMeasured > 0 {
		out.Effectiveness = &EffectivenessJSON{
			Measured: m.EffectivenessMeasured, LossAtTolerable: money(c, m.LossAtTolerable),
			Protected: money(c, m.Protected), RatioBP: int64(m.Effectiveness), Percent: m.EffectivenessPercent(),
		}
	}
	for _, r := range m.Reviews {
		out.Reviews = append(out.Reviews, ReviewJSON{
			Number: r.Number, Title: r.Title, Service: r.Service, Team: r.Team,
			PublishedAt: r.PublishedAt, Readers: r.Readers,
		})
	}
	return out
}
