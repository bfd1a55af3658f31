package incident

import (
	"strconv"
	"strings"
	"time"
)

// Share is a fraction of the hourly exposure in basis points: 10000 is 100%.
type Share int64

// FullShare is 100%.
const FullShare Share = 10_000

// String writes the share as a percentage: 100%, 50%, 2.5%.
func (s Share) String() string {
	if s < 0 {
		return "-" + (-s).String()
	}
	w, f := int64(s)/100, int64(s)%100
	if f == 0 {
		return strconv.FormatInt(w, 10) + "%"
	}
	return strings.TrimRight(strconv.FormatInt(w, 10)+"."+leftPad2(f), "0") + "%"
}

// Tenths is the share as a percentage with one decimal, truncated toward
// zero: 9955 basis points are 99.5.
func (s Share) Tenths() float64 { return float64(int64(s)/10) / 10 }

// TenthsText writes Tenths: "99.5%", "70%", "-49.6%", "-0.5%".
func (s Share) TenthsText() string {
	t := int64(s) / 10
	sign := ""
	if t < 0 {
		sign, t = "-", -t
	}
	if t%10 == 0 {
		return sign + strconv.FormatInt(t/10, 10) + "%"
	}
	return sign + strconv.FormatInt(t/10, 10) + "." + strconv.FormatInt(t%10, 10) + "%"
}

func leftPad2(n int64) string {
	if n < 10 {
		return "0" + strconv.FormatInt(n, 10)
	}
	return strconv.FormatInt(n, 10)
}

// ParseShare reads "30%", "30", "2.5%" (at most two decimals), within 0–100%.
// Only plain decimals are shares (see parseDecimal).
func ParseShare(s string) (Share, error) {
	in := s
	d, ok := parseDecimal(strings.TrimSuffix(strings.TrimSpace(s), "%"), false)
	if !ok {
		return 0, Errorf(EINVALID, "%q is not a percentage like 30%%", clipText(in, 40))
	}
	v, precise, fits := d.fixed(2)
	switch {
	case !precise:
		return 0, Errorf(EINVALID, "%q has more than two decimals; write a percentage like 2.5%%", clipText(in, 40))
	case !fits || v > int64(FullShare):
		return 0, Errorf(EINVALID, "%s is more than 100%%", clipText(in, 40))
	}
	return Share(v), nil
}

// ParseFraction reads a share written as a fraction within 0 and 1 ("1.0",
// "0.5", "0.125", at most four decimals: a basis point) or as a percentage
// ("10%", "2.5%"), exactly.
func ParseFraction(s string) (Share, error) {
	s = strings.TrimSpace(s)
	if strings.HasSuffix(s, "%") {
		return ParseShare(s)
	}
	d, ok := parseDecimal(s, false)
	if !ok {
		return 0, Errorf(EINVALID, "%q is not a share like 0.5 or 50%%", clipText(s, 40))
	}
	v, precise, fits := d.fixed(4)
	switch {
	case !precise:
		return 0, Errorf(EINVALID, "%s is finer than a basis point (0.0001)", clipText(s, 40))
	case !fits || v > int64(FullShare):
		return 0, Errorf(EINVALID, "%s is outside 0 to 1: write a fraction like 0.5 or a percentage like \"50%%\"", clipText(s, 40))
	}
	return Share(v), nil
}

// ImpactLevel is what the responder says users experience.
type ImpactLevel string

const (
	ImpactNone     ImpactLevel = "none"     // nobody affected (yet), or restored
	ImpactBlocked  ImpactLevel = "blocked"  // users cannot complete a user journey
	ImpactDegraded ImpactLevel = "degraded" // users complete a degraded journey
	ImpactPartial  ImpactLevel = "partial"  // users partially affected
)

// ParseImpactLevel accepts the three user-facing levels.
func ParseImpactLevel(s string) (ImpactLevel, bool) {
	switch l := ImpactLevel(strings.ToLower(strings.TrimSpace(s))); l {
	case ImpactBlocked, ImpactDegraded, ImpactPartial:
		return l, true
	}
	return "", false
}

// Describe says in words what the level means.
func (l ImpactLevel) Describe() string {
	switch l {
	case ImpactBlocked:
		return "users cannot complete a user journey"
	case ImpactDegraded:
		return "users can complete a degraded journey"
	case ImpactPartial:
		return "users are partially affected"
	}
	return "no known user impact"
}

// Impact is a level with the share of exposure it costs. Explicit is set when
// a responder gave the percentage instead of the configured default.
type Impact struct {
	Level    ImpactLevel `json:"level"`
	Share    Share       `json:"share"`
	Explicit bool        `json:"explicit,omitempty"`
}

// String writes "blocked (100%)".
func (i Impact) String() string {
	if i.Level == "" || i.Level == ImpactNone {
		return "none"
	}
	return string(i.Level) + " (" + i.Share.String() + ")"
}

// ImpactShares are the configured default shares per level.
type ImpactShares struct {
	Blocked, Degraded, Partial Share
}

// DefaultShares are the playbook's defaults: 100%, 50%, 10%.
var DefaultShares = ImpactShares{Blocked: 10_000, Degraded: 5_000, Partial: 1_000}

// Impact returns the level's impact with its default share.
func (s ImpactShares) Impact(l ImpactLevel) Impact {
	switch l {
	case ImpactBlocked:
		return Impact{Level: l, Share: s.Blocked}
	case ImpactDegraded:
		return Impact{Level: l, Share: s.Degraded}
	case ImpactPartial:
		return Impact{Level: l, Share: s.Partial}
	}
	return Impact{Level: ImpactNone}
}

// Thresholds classify an estimated loss.
type Thresholds struct {
	High, Medium Money
}

// Class is Major or Minor.
type Class string

const (
	Major Class = "major"
	Minor Class = "minor"
)

// Title is "Major" or "Minor".
func (c Class) Title() string {
	if c == Major {
		return "Major"
	}
	return "Minor"
}

// Priority is the playbook's high/medium/low loss band.
type Priority string

const (
	PriorityHigh   Priority = "high"
	PriorityMedium Priority = "medium"
	PriorityLow    Priority = "low"
)

// ResponseMethod is what the playbook asks of responders for the priority.
func (p Priority) ResponseMethod() string {
	switch p {
	case PriorityHigh:
		return "restore availability immediately"
	case PriorityMedium:
		return "restore availability by next working day"
	}
	return "restore when possible, add ticket to backlog"
}

// PriorityOf classifies an estimated loss against thresholds.
func (th Thresholds) PriorityOf(estimate Money) Priority {
	switch {
	case estimate >= th.High:
		return PriorityHigh
	case estimate >= th.Medium:
		return PriorityMedium
	}
	return PriorityLow
}

// Policy is the organisation's pricing and classification rules.
type Policy struct {
	Currency     Currency
	Bands        Bands
	Shares       ImpactShares
	Thresholds   Thresholds
	Horizon      time.Duration // classification horizon, default 1h
	WorkingHours WorkingHours
}

// Validate checks the policy; messages name configuration keys.
func (p Policy) Validate() error {
	if err := p.Bands.Validate(); err != nil {
		return err
	}
	for name, s := range map[string]Share{"blocked": p.Shares.Blocked, "degraded": p.Shares.Degraded, "partial": p.Shares.Partial} {
		if s < 0 || s > FullShare {
			return Errorf(EINVALID, "organisation.impact_shares.%s must be within 0 and 1", name)
		}
	}
	if p.Thresholds.Medium < 0 || p.Thresholds.High <= 0 {
		return Errorf(EINVALID, "organisation.loss_thresholds: high must be positive and medium not negative")
	}
	if p.Thresholds.Medium > p.Thresholds.High {
		return Errorf(EINVALID, "organisation.loss_thresholds.medium must not exceed high")
	}
	if p.Horizon < 0 {
		return Errorf(EINVALID, "organisation.classification_horizon must not be negative")
	}
	return nil
}
