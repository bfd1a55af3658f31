package incident

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Availability is an availability level in thousandths of a percent:
// 99.9% is 99900. Integers keep the tolerable unavailability exact.
type Availability int64

// ParseAvailability reads "99.9", "99.9%" or "95" (at most three
// decimals), strictly between 0 and 100. Only plain decimals are levels.
func ParseAvailability(s string) (Availability, error) {
	in := s
	s = strings.TrimSuffix(strings.TrimSpace(s), "%")
	d, ok := parseDecimal(s, false)
	if !ok {
		return 0, Errorf(EINVALID, "%q is not an availability level like 99.9", clipText(in, 40))
	}
	v, precise, fits := d.fixed(3)
	switch {
	case !precise:
		return 0, Errorf(EINVALID, "%q is not an availability level like 99.9 (at most three decimals)", clipText(in, 40))
	case !fits || v <= 0 || v >= 100_000:
		return 0, Errorf(EINVALID, "availability %s%% is outside (0, 100)", clipText(s, 40))
	}
	return Availability(v), nil
}

// String writes the level with at least one decimal: 95.0%, 99.9%, 99.95%.
func (a Availability) String() string {
	w, f := int64(a)/1000, int64(a)%1000
	fs := strings.TrimRight(fmt.Sprintf("%03d", f), "0")
	if fs == "" {
		fs = "0"
	}
	return fmt.Sprintf("%d.%s%%", w, fs)
}

// Week is the period tolerable unavailability is measured over.
const Week = 168 * time.Hour

// TolerableUnavailability is (1 − level) × 168 h, exact to the nanosecond.
func (a Availability) TolerableUnavailability() time.Duration {
	return time.Duration(int64(Week) / 100_000 * (100_000 - int64(a)))
}

// Band is one exposure band: services whose hourly exposure is at most
// MaxHourlyExposure get Availability.
type Band struct {
	MaxHourlyExposure Money
	Availability      Availability
}

// Bands are sorted by MaxHourlyExposure, ascending.
type Bands []Band

// Validate checks that bands are present, sorted and sensible. The returned
// error names the offending band by index.
func (bs Bands) Validate() error {
	if len(bs) == 0 {
		return Errorf(EINVALID, "at least one exposure band is required")
	}
	for i, b := range bs {
		if b.MaxHourlyExposure <= 0 {
			return Errorf(EINVALID, "exposure_bands[%d].max_hourly_exposure must be positive", i)
		}
		if b.Availability <= 0 || b.Availability >= 100_000 {
			return Errorf(EINVALID, "exposure_bands[%d].availability must be within (0, 100)", i)
		}
		if i > 0 && b.MaxHourlyExposure <= bs[i-1].MaxHourlyExposure {
			return Errorf(EINVALID, "exposure_bands[%d].max_hourly_exposure must be greater than exposure_bands[%d]'s: bands are sorted by exposure", i, i-1)
		}
		if i > 0 && b.Availability < bs[i-1].Availability {
			return Errorf(EINVALID, "exposure_bands[%d].availability is lower than exposure_bands[%d]'s: a higher exposure needs at least the same target", i, i-1)
		}
	}
	return nil
}

// Target returns the level of the smallest band whose maximum is at least the
// exposure; above every band, the top band's level.
func (bs Bands) Target(exposure Money) Availability {
	if len(bs) == 0 {
		return 0
	}
	i := sort.Search(len(bs), func(i int) bool { return bs[i].MaxHourlyExposure >= exposure })
	if i == len(bs) {
		i = len(bs) - 1
	}
	return bs[i].Availability
}

// OnCallLevel says who is called for a service.
type OnCallLevel string

const (
	OnCallNone   OnCallLevel = "none"
	OnCallTeam   OnCallLevel = "team"
	OnCallDomain OnCallLevel = "domain"
)

// OnCallLevels maps an availability target to its on-call levels in and out of
// working hours: below 99.0% the team in hours and nobody out of hours; from
// 99.0% the domain schedule out of hours; from 99.9% the team around the clock.
func OnCallLevels(a Availability) (inHours, outOfHours OnCallLevel) {
	switch {
	case a >= 99_900:
		return OnCallTeam, OnCallTeam
	case a >= 99_000:
		return OnCallTeam, OnCallDomain
	default:
		return OnCallTeam, OnCallNone
	}
}

// Peak is a window during which a service's exposure is higher.
type Peak struct {
	Name           string    `json:"name"`
	Start          time.Time `json:"start"` // half-open: [Start, End)
	End            time.Time `json:"end"`
	HourlyExposure Money     `json:"hourly_exposure"`
}

func (p Peak) activeAt(t time.Time) bool { return !t.Before(p.Start) && t.Before(p.End) }

// Service is a catalogue entry.
type Service struct {
	Name               string `json:"name"`
	Team               string `json:"team,omitempty"`
	Domain             string `json:"domain,omitempty"`
	HourlyExposure     Money  `json:"hourly_exposure"`
	Peaks              []Peak `json:"peaks,omitempty"`
	PagerDutyServiceID string `json:"pagerduty_service_id,omitempty"`
	Runbook            string `json:"runbook,omitempty"`
	// DependsOn names the catalogue services this one depends on.
	DependsOn []string `json:"depends_on,omitempty"`
}

// ExposureAt is the hourly exposure in force at t: the highest of the base
// exposure and every peak active at t.
func (s Service) ExposureAt(t time.Time) Money {
	e := s.HourlyExposure
	for _, p := range s.Peaks {
		if p.activeAt(t) && p.HourlyExposure > e {
			e = p.HourlyExposure
		}
	}
	return e
}

// PeakAt returns the active peak with the highest exposure at t, if any.
func (s Service) PeakAt(t time.Time) (Peak, bool) {
	var best Peak
	found := false
	for _, p := range s.Peaks {
		if p.activeAt(t) && (!found || p.HourlyExposure > best.HourlyExposure) {
			best, found = p, true
		}
	}
	return best, found
}

// exposureChanges returns the instants in (from, to) at which the exposure may
// change, sorted.
func (s Service) exposureChanges(from, to time.Time) []time.Time {
	var ts []time.Time
	for _, p := range s.Peaks {
		for _, t := range []time.Time{p.Start, p.End} {
			if t.After(from) && t.Before(to) {
				ts = append(ts, t)
			}
		}
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i].Before(ts[j]) })
	return ts
}

// Rotation is a built-in weekly on-call rotation: each person is on call for
// a week, handing off at the same weekday and time.
type Rotation struct {
	Users          []string // Slack user IDs, in order
	HandoffDay     time.Weekday
	HandoffMinutes int // minutes after midnight, organisation time zone
}

// ParseHandoff reads "mon 09:00".
func ParseHandoff(s string) (time.Weekday, int, error) {
	day, hm, ok := strings.Cut(strings.TrimSpace(strings.ToLower(s)), " ")
	wd, okd := ParseWeekday(day)
	m, okm := parseClock(strings.TrimSpace(hm))
	if !ok || !okd || !okm {
		return 0, 0, Errorf(EINVALID, "%q is not a handoff like \"mon 09:00\"", s)
	}
	return wd, m, nil
}

// ParseWeekday reads mon, tue, … (or full names).
func ParseWeekday(s string) (time.Weekday, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	if len(s) < 3 {
		return 0, false
	}
	for d := time.Sunday; d <= time.Saturday; d++ {
		if strings.HasPrefix(strings.ToLower(d.String()), s) {
			return d, true
		}
	}
	return 0, false
}

func parseClock(s string) (int, bool) {
	h, m, ok := strings.Cut(s, ":")
	if !ok || len(m) != 2 || len(h) < 1 || len(h) > 2 {
		return 0, false
	}
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if err1 != nil || err2 != nil || hh < 0 || hh > 24 || mm < 0 || mm > 59 || (hh == 24 && mm != 0) {
		return 0, false
	}
	return hh*60 + mm, true
}

// anchor is the reference week of every rotation: the first person is on call
// in the week that starts on or after 2024-01-01 at the handoff.
var anchor = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// OnCallAt returns who is on call at t, or "" for an empty rotation.
func (r Rotation) OnCallAt(t time.Time, loc *time.Location) string {
	if len(r.Users) == 0 {
		return ""
	}
	lt := t.In(loc)
	// The most recent handoff at or before t.
	back := (int(lt.Weekday()) - int(r.HandoffDay) + 7) % 7
	d := time.Date(lt.Year(), lt.Month(), lt.Day()-back, 0, 0, 0, 0, loc)
	h := time.Date(d.Year(), d.Month(), d.Day(), r.HandoffMinutes/60, r.HandoffMinutes%60, 0, 0, loc)
	if h.After(lt) {
		d = d.AddDate(0, 0, -7)
	}
	// Count whole weeks of calendar days from the anchor, immune to DST.
	ad := time.Date(anchor.Year(), anchor.Month(), anchor.Day(), 0, 0, 0, 0, time.UTC)
	dd := time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, time.UTC)
	weeks := int(dd.Sub(ad).Hours()/24) / 7
	if dd.Before(ad) {
		weeks--
	}
	i := weeks % len(r.Users)
	if i < 0 {
		i += len(r.Users)
	}
	return r.Users[i]
}

// OnCall says where a team's or domain's on-call comes from.
type OnCall struct {
	EscalationPolicy string // PagerDuty escalation policy ID; wins when set
	Rotation         Rotation
}

// Team owns services.
type Team struct {
	Name    string
	Domain  string
	Members []string // Slack user IDs
	OnCall  OnCall
}

// Domain groups teams and carries the out-of-hours schedule for 99.0%
// services.
type Domain struct {
	Name   string
	OnCall OnCall
}

// WorkingHours are the organisation's working days and hours.
type WorkingHours struct {
	Days     [7]bool // indexed by time.Weekday
	Start    int     // minutes after midnight
	End      int     // minutes after midnight, > Start
	Location *time.Location
}

// ParseWorkingHours builds WorkingHours from config-style values.
func ParseWorkingHours(days []string, start, end string, loc *time.Location) (WorkingHours, error) {
	wh := WorkingHours{Location: loc}
	if len(days) == 0 {
		return wh, Errorf(EINVALID, "organisation.working_hours.days must list at least one day")
	}
	for _, d := range days {
		wd, ok := ParseWeekday(d)
		if !ok {
			return wh, Errorf(EINVALID, "organisation.working_hours.days: %q is not a weekday (mon, tue, …)", d)
		}
		wh.Days[wd] = true
	}
	var ok bool
	if wh.Start, ok = parseClock(start); !ok {
		return wh, Errorf(EINVALID, "organisation.working_hours.start: %q is not a time like 09:00", start)
	}
	if wh.End, ok = parseClock(end); !ok {
		return wh, Errorf(EINVALID, "organisation.working_hours.end: %q is not a time like 17:30", end)
	}
	if wh.End <= wh.Start {
		return wh, Errorf(EINVALID, "organisation.working_hours.end (%s) must be after start (%s)", end, start)
	}
	return wh, nil
}

func (wh WorkingHours) loc() *time.Location {
	if wh.Location == nil {
		return time.UTC
	}
	return wh.Location
}

// InHours reports whether t falls within working hours.
func (wh WorkingHours) InHours(t time.Time) bool {
	lt := t.In(wh.loc())
	if !wh.Days[lt.Weekday()] {
		return false
	}
	m := lt.Hour()*60 + lt.Minute()
	return m >= wh.Start && m < wh.End
}

// NextStart returns the first start of working hours strictly after t (or t
// itself if t is exactly a start). Callouts deferred out of hours happen then.
func (wh WorkingHours) NextStart(t time.Time) time.Time {
	lt := t.In(wh.loc())
	for i := 0; i <= 7; i++ {
		d := time.Date(lt.Year(), lt.Month(), lt.Day()+i, 0, 0, 0, 0, wh.loc())
		if !wh.Days[d.Weekday()] {
			continue
		}
		s := time.Date(d.Year(), d.Month(), d.Day(), wh.Start/60, wh.Start%60, 0, 0, wh.loc())
		if !s.Before(lt) {
			return s
		}
	}
	return time.Time{}
}

// FormatHMS writes a duration as h:mm:ss rounded to the nearest second, as
// the playbook writes tolerable unavailability: 8:24:00, 1:40:48, 0:10:05.
func FormatHMS(d time.Duration) string {
	neg := d < 0
	if neg {
		d = -d
	}
	s := int64(d.Round(time.Second) / time.Second)
	out := fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	if neg {
		return "-" + out
	}
	return out
}

// FormatShort writes a duration for people, rounded to the second:
// "2 min 46 s", "1 h 40 min 48 s", "2 d 3 h 5 min"; under half a second is
// "under 1 s".
func FormatShort(d time.Duration) string {
	if d < 0 {
		return "-" + FormatShort(-d)
	}
	r := d.Round(time.Second)
	if r == 0 && d > 0 {
		return "under 1 s"
	}
	return formatUnits(r)
}

// FormatExact writes a duration for people to the millisecond, as the
// playbook writes a tolerable unavailability: "10 min 4.8 s".
func FormatExact(d time.Duration) string {
	if d < 0 {
		return "-" + FormatExact(-d)
	}
	return formatUnits(d.Truncate(time.Millisecond))
}

// formatUnits writes days, hours, minutes and (under a day) seconds with
// their fraction.
func formatUnits(d time.Duration) string {
	var parts []string
	days := d / (24 * time.Hour)
	d -= days * 24 * time.Hour
	h := d / time.Hour
	d -= h * time.Hour
	m := d / time.Minute
	d -= m * time.Minute
	if days > 0 {
		parts = append(parts, fmt.Sprintf("%d d", days))
	}
	if h > 0 {
		parts = append(parts, fmt.Sprintf("%d h", h))
	}
	if m > 0 {
		parts = append(parts, fmt.Sprintf("%d min", m))
	}
	if d > 0 && days == 0 {
		ms := d.Milliseconds()
		if ms%1000 == 0 {
			parts = append(parts, fmt.Sprintf("%d s", ms/1000))
		} else {
			parts = append(parts, strings.TrimRight(fmt.Sprintf("%d.%03d", ms/1000, ms%1000), "0")+" s")
		}
	}
	if len(parts) == 0 {
		return "0 s"
	}
	return strings.Join(parts, " ")
}
