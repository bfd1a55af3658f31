package httpapi

import (
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/incidentbot/incidentbot/incident"
	"github.com/incidentbot/incidentbot/incident/desk"
)

// List sizes.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// IncidentList is the body of GET /api/incidents.
type IncidentList struct {
	Incidents []Incident `json:"incidents"` // newest first, without timelines
	Count     int        `json:"count"`
	Limit     int        `json:"limit"`
	// Next is the after= of the next page (the number of this page's last
	// incident); null on the last page.
	Next *int64    `json:"next"`
	AsOf time.Time `json:"as_of"`
}

// listQuery is what GET /api/incidents asks for.
type listQuery struct {
	status, service string
	limit           int
	after           int64 // only incidents numbered below after; 0: from the newest
}

// parseList reads ?status=&service=&limit=&after=; it returns the message
// of a 400 when they are wrong.
func parseList(r *http.Request) (listQuery, string) {
	q := r.URL.Query()
	lq := listQuery{status: strings.ToLower(strings.TrimSpace(q.Get("status"))), service: strings.TrimSpace(q.Get("service")), limit: DefaultLimit}
	switch lq.status {
	case "", "all", string(incident.StatusOpen), string(incident.StatusResolved), string(incident.StatusMerged):
	default:
		return lq, "status must be open, resolved or merged"
	}
	if len(lq.service) > 200 || !utf8.ValidString(lq.service) {
		return lq, "service is not a service name"
	}
	if v := strings.TrimSpace(q.Get("limit")); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxLimit {
			return lq, "limit must be a whole number from 1 to " + strconv.Itoa(MaxLimit)
		}
		lq.limit = n
	}
	if v := strings.TrimSpace(q.Get("after")); v != "" {
		n, err := strconv.ParseInt(strings.TrimPrefix(v, "#"), 10, 64)
		if err != nil || n < 1 {
			return lq, "after must be an incident number (the next of the previous page)"
		}
		lq.after = n
	}
	return lq, ""
}

// listIncidents serves GET /api/incidents[?status=open|resolved|merged][&service=x][&limit=N][&after=number]:
// pages of limit incidents, newest first; each page's next is the after=
// of the one that follows.
func (s *Server) listIncidents(w http.ResponseWriter, r *http.Request) {
	lq, bad := parseList(r)
	if bad != "" {
		WriteError(w, http.StatusBadRequest, bad)
		return
	}
	ctx := r.Context()
	// One more than a page tells whether another page follows.
	f := desk.Filter{Service: lq.service, Limit: lq.limit + 1, OpenOnly: lq.status == string(incident.StatusOpen), Before: lq.after}
	if lq.status == string(incident.StatusResolved) || lq.status == string(incident.StatusMerged) {
		// The store indexes open incidents only. Most closed incidents are
		// resolved, so the newest limit+1+open incidents hold the newest
		// limit+1 resolved ones (open incidents are few; merged ones fewer).
		open, err := s.desk.List(ctx, desk.Filter{OpenOnly: true, Service: lq.service, Before: lq.after})
		if err != nil {
			s.internal(w, r, err)
			return
		}
		f.Limit += len(open)
	}
	incs, err := s.desk.List(ctx, f)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, s.page(incs, lq))
}

// page is the list of one page of incs, newest first.
func (s *Server) page(incs []*incident.Incident, lq listQuery) IncidentList {
	now := s.now()
	p := s.desk.Policy()
	out := IncidentList{Incidents: []Incident{}, Limit: lq.limit, AsOf: now.UTC()}
	for _, inc := range incs {
		v := incidentView(p, inc, now, false)
		if lq.status != "" && lq.status != "all" && v.Status != lq.status {
			continue
		}
		if len(out.Incidents) == lq.limit {
			last := out.Incidents[len(out.Incidents)-1].Number
			out.Next = &last
			break
		}
		out.Incidents = append(out.Incidents, v)
	}
	out.Count = len(out.Incidents)
	return out
}

// getIncident serves GET /api/incidents/{number}.
func (s *Server) getIncident(w http.ResponseWriter, r *http.Request) {
	raw := r.PathValue("number")
	n, err := strconv.ParseInt(strings.TrimPrefix(raw, "#"), 10, 64)
	if err != nil || n < 1 {
		WriteError(w, http.StatusBadRequest, "the incident number must be a positive whole number")
		return
	}
	inc, err := s.desk.Get(r.Context(), n)
	if incident.ErrorCode(err) == incident.ENOTFOUND {
		WriteError(w, http.StatusNotFound, "there is no incident "+strconv.FormatInt(n, 10))
		return
	}
	if err != nil {
		s.internal(w, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, incidentView(s.desk.Policy(), inc, s.now(), true))
}

// internal logs err and answers 500 without its detail.
func (s *Server) internal(w http.ResponseWriter, r *http.Request, err error) {
	if r.Context().Err() != nil {
		return // the client has gone
	}
	s.log.Error("api request failed", "path", r.URL.Path, "err", err)
	WriteError(w, http.StatusInternalServerError, "something went wrong on our side; it has been logged")
}

// Catalogue is the body of GET /api/services.
type Catalogue struct {
	Currency      string        `json:"currency"`
	ExposureBands []Band        `json:"exposure_bands"`
	Services      []ServiceInfo `json:"services"`
	AsOf          time.Time     `json:"as_of"`
}

// Band is an exposure band.
type Band struct {
	MaxHourlyExposure       Money    `json:"max_hourly_exposure"`
	Availability            string   `json:"availability"`
	TolerableUnavailability string   `json:"tolerable_unavailability"`
	Tolerable               Duration `json:"tolerable_unavailability_per_week"`
}

// Level is a service's availability target with what follows from it.
type Level struct {
	Target                  string   `json:"target"` // "99.0%"
	TolerableUnavailability string   `json:"tolerable_unavailability"`
	Tolerable               Duration `json:"tolerable_unavailability_per_week"`
	OnCall                  OnCall   `json:"oncall"`
}

// OnCall is who is called in and out of working hours: team, domain or none.
type OnCall struct {
	InHours    string `json:"in_hours"`
	OutOfHours string `json:"out_of_hours"`
}

// ServiceInfo is a catalogue entry.
type ServiceInfo struct {
	Name               string      `json:"name"`
	Team               string      `json:"team"`
	Domain             string      `json:"domain"`
	HourlyExposure     Money       `json:"hourly_exposure"`
	Level                          // the target at the base exposure
	CurrentPeak        *PeakInfo   `json:"current_peak"` // null outside peaks
	Peaks              []PeakInfo  `json:"peaks"`
	Runbook            string      `json:"runbook,omitempty"`
	PagerDutyServiceID string      `json:"pagerduty_service_id,omitempty"`
	ErrorBudget        *BudgetInfo `json:"error_budget"` // null if it could not be computed
}

// BudgetInfo is a service's weekly error budget: the tolerable
// unavailability of the target in force, and how much of it the incidents
// of the last 7 days used (drills never count).
type BudgetInfo struct {
	Target      string    `json:"target"`
	Budget      Duration  `json:"budget"`
	Used        Duration  `json:"used"`
	Left        Duration  `json:"left"` // negative once overspent
	UsedBP      int64     `json:"used_bp"`
	UsedPercent string    `json:"used_percent"` // "39.7%"
	OverBudget  bool      `json:"over_budget"`  // past 100%
	WindowStart time.Time `json:"window_start"`
	WindowEnd   time.Time `json:"window_end"`
}

// Budget converts a weekly error budget to its JSON form.
func Budget(b incident.Budget) *BudgetInfo {
	return &BudgetInfo{
		Target: b.Target.String(), Budget: duration(b.Budget), Used: duration(b.Used), Left: duration(b.Left()),
		UsedBP: int64(b.UsedShare()), UsedPercent: b.UsedPercent(), OverBudget: b.Over(),
		WindowStart: b.From.UTC(), WindowEnd: b.To.UTC(),
	}
}

// PeakInfo is a peak window with the target in force during it.
type PeakInfo struct {
	Name           string    `json:"name"`
	Start          time.Time `json:"start"`
	End            time.Time `json:"end"`
	HourlyExposure Money     `json:"hourly_exposure"`
	Level
}

func level(a incident.Availability) Level {
	in, out := incident.OnCallLevels(a)
	tol := a.TolerableUnavailability()
	return Level{
		Target:                  a.String(),
		TolerableUnavailability: incident.FormatHMS(tol),
		Tolerable:               duration(tol),
		OnCall:                  OnCall{InHours: string(in), OutOfHours: string(out)},
	}
}

// listServices serves GET /api/services.
func (s *Server) listServices(w http.ResponseWriter, r *http.Request) {
	cat := s.desk.Catalogue()
	c := cat.Currency
	now := s.now()
	out := Catalogue{Currency: c.Code, ExposureBands: []Band{}, Services: []ServiceInfo{}, AsOf: now.UTC()}
	for _, b := range cat.Bands {
		tol := b.Availability.TolerableUnavailability()
		out.ExposureBands = append(out.ExposureBands, Band{
			MaxHourlyExposure:       money(c, b.MaxHourlyExposure),
			Availability:            b.Availability.String(),
			TolerableUnavailability: incident.FormatHMS(tol),
			Tolerable:               duration(tol),
		})
	}
	peak := func(p incident.Peak, base incident.Money) PeakInfo {
		// During a peak the higher of the base and peak exposure is in force.
		e := max(p.HourlyExposure, base)
		return PeakInfo{
			Name: p.Name, Start: p.Start.UTC(), End: p.End.UTC(),
			HourlyExposure: money(c, p.HourlyExposure),
			Level:          level(cat.Bands.Target(e)),
		}
	}
	budgets := map[string]incident.Budget{}
	if bs, err := s.desk.WeeklyBudgets(r.Context()); err != nil {
		s.log.Warn("services: weekly error budgets", "err", err)
	} else {
		for _, b := range bs {
			budgets[b.Service] = b
		}
	}
	for _, svc := range cat.Services {
		si := ServiceInfo{
			Name: svc.Name, Team: svc.Team, Domain: svc.Domain,
			HourlyExposure:     money(c, svc.HourlyExposure),
			Level:              level(cat.Bands.Target(svc.HourlyExposure)),
			Peaks:              []PeakInfo{},
			Runbook:            svc.Runbook,
			PagerDutyServiceID: svc.PagerDutyServiceID,
		}
		for _, p := range svc.Peaks {
			si.Peaks = append(si.Peaks, peak(p, svc.HourlyExposure))
		}
		if p, ok := svc.PeakAt(now); ok {
			pi := peak(p, svc.HourlyExposure)
			si.CurrentPeak = &pi
		}
		if b, ok := budgets[svc.Name]; ok {
			si.ErrorBudget = Budget(b)
		}
		out.Services = append(out.Services, si)
	}
	WriteJSON(w, http.StatusOK, out)
}
