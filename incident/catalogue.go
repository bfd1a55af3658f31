package incident

import (
	"sort"
	"strings"
	"time"
)

// Catalogue is the organisation as the bot knows it: its pricing policy,
// services, teams and domains.
type Catalogue struct {
	Policy
	Services []Service // sorted by name
	Teams    []Team
	Domains  []Domain
	// IncidentManagers may act as commanders and are called for majors.
	IncidentManagers []string
	// IncidentManagerOnCall is the schedule of incident managers out of hours.
	IncidentManagerOnCall OnCall
}

// Validate checks the catalogue; messages name configuration keys.
func (c *Catalogue) Validate() error {
	if err := c.Policy.Validate(); err != nil {
		return err
	}
	teams := map[string]bool{}
	domains := map[string]bool{}
	for i, d := range c.Domains {
		if strings.TrimSpace(d.Name) == "" {
			return Errorf(EINVALID, "domains[%d].name is required", i)
		}
		if domains[d.Name] {
			return Errorf(EINVALID, "domains[%d].name %q is defined twice", i, d.Name)
		}
		domains[d.Name] = true
	}
	for i, t := range c.Teams {
		if strings.TrimSpace(t.Name) == "" {
			return Errorf(EINVALID, "teams[%d].name is required", i)
		}
		if teams[t.Name] {
			return Errorf(EINVALID, "teams[%d].name %q is defined twice", i, t.Name)
		}
		if t.Domain != "" && !domains[t.Domain] {
			return Errorf(EINVALID, "teams[%d].domain: unknown domain %q", i, t.Domain)
		}
		teams[t.Name] = true
	}
	seen := map[string]bool{}
	pdIDs := map[string]string{}
	for i, s := range c.Services {
		if id := s.PagerDutyServiceID; id != "" {
			if other, dup := pdIDs[id]; dup {
				return Errorf(EINVALID, "services[%d].pagerduty_service_id: %s is already the PagerDuty service of %s", i, id, other)
			}
			pdIDs[id] = s.Name
		}
		switch {
		case strings.TrimSpace(s.Name) == "":
			return Errorf(EINVALID, "services[%d].name is required", i)
		case seen[s.Name]:
			return Errorf(EINVALID, "services[%d].name %q is defined twice", i, s.Name)
		case s.HourlyExposure < 0:
			return Errorf(EINVALID, "services[%d].hourly_exposure must not be negative", i)
		case s.Team == "":
			return Errorf(EINVALID, "services[%d].team is required", i)
		case !teams[s.Team]:
			return Errorf(EINVALID, "services[%d].team: unknown team %q", i, s.Team)
		case s.Domain != "" && !domains[s.Domain]:
			return Errorf(EINVALID, "services[%d].domain: unknown domain %q", i, s.Domain)
		}
		seen[s.Name] = true
		for j, p := range s.Peaks {
			switch {
			case p.HourlyExposure < 0:
				return Errorf(EINVALID, "services[%d].peaks[%d].hourly_exposure must not be negative", i, j)
			case p.Start.IsZero() || p.End.IsZero():
				return Errorf(EINVALID, "services[%d].peaks[%d] needs start and end", i, j)
			case !p.End.After(p.Start):
				return Errorf(EINVALID, "services[%d].peaks[%d].end must be after start", i, j)
			}
		}
	}
	return nil
}

// Normalize sorts services by name and fills each service's domain from its
// team when the service does not name one.
func (c *Catalogue) Normalize() {
	for i := range c.Services {
		if c.Services[i].Domain == "" {
			if t, ok := c.Team(c.Services[i].Team); ok {
				c.Services[i].Domain = t.Domain
			}
		}
	}
	sort.Slice(c.Services, func(i, j int) bool { return c.Services[i].Name < c.Services[j].Name })
}

// Service finds a service by name (case-insensitive).
func (c *Catalogue) Service(name string) (Service, bool) {
	for _, s := range c.Services {
		if strings.EqualFold(s.Name, name) {
			return s, true
		}
	}
	return Service{}, false
}

// ServiceByPagerDuty finds the service mapped to a PagerDuty service ID.
func (c *Catalogue) ServiceByPagerDuty(id string) (Service, bool) {
	for _, s := range c.Services {
		if id != "" && s.PagerDutyServiceID == id {
			return s, true
		}
	}
	return Service{}, false
}

// Team finds a team by name.
func (c *Catalogue) Team(name string) (Team, bool) {
	for _, t := range c.Teams {
		if t.Name == name {
			return t, true
		}
	}
	return Team{}, false
}

// Domain finds a domain by name.
func (c *Catalogue) Domain(name string) (Domain, bool) {
	for _, d := range c.Domains {
		if d.Name == name {
			return d, true
		}
	}
	return Domain{}, false
}

// TargetAt is the service's availability target in force at t.
func (c *Catalogue) TargetAt(s Service, t time.Time) Availability {
	return c.Bands.Target(s.ExposureAt(t))
}

// IsIncidentManager reports whether the user is an incident manager.
func (c *Catalogue) IsIncidentManager(user string) bool {
	for _, u := range c.IncidentManagers {
		if u == user {
			return true
		}
	}
	return false
}

// IsTeamMember reports whether the user belongs to the team, or is on its
// rotation.
func (c *Catalogue) IsTeamMember(team, user string) bool {
	t, ok := c.Team(team)
	if !ok {
		return false
	}
	for _, u := range t.Members {
		if u == user {
			return true
		}
	}
	for _, u := range t.OnCall.Rotation.Users {
		if u == user {
			return true
		}
	}
	return false
}

// Callout says who must be called for an incident and when.
type Callout struct {
	Level OnCallLevel // team, domain or none
	// Schedule is the on-call source to read: a PagerDuty escalation policy
	// or a rotation.
	Schedule OnCall
	// Owner names the team or domain called.
	Owner string
	// DeferredUntil is set when the callout waits for the next working day.
	DeferredUntil time.Time
	InHours       bool
}

// CalloutFor decides the callout for a service's incident of the given class
// at t: in working hours the owning team; out of hours by the target's
// on-call level. A minor incident on a service with no out-of-hours on-call
// is deferred to the next working-day start; a major one still calls the team.
func (c *Catalogue) CalloutFor(s Service, class Class, t time.Time) Callout {
	in := c.WorkingHours.InHours(t)
	inLevel, outLevel := OnCallLevels(c.TargetAt(s, t))
	level := inLevel
	if !in {
		level = outLevel
	}
	co := Callout{Level: level, InHours: in}
	if level == OnCallNone {
		if class == Major {
			co.Level = OnCallTeam
		} else {
			co.DeferredUntil = c.WorkingHours.NextStart(t)
			co.Level = OnCallTeam
		}
	}
	switch co.Level {
	case OnCallDomain:
		if d, ok := c.Domain(s.Domain); ok {
			co.Schedule, co.Owner = d.OnCall, d.Name
			break
		}
		fallthrough // no domain: the team
	default:
		if tm, ok := c.Team(s.Team); ok {
			co.Schedule, co.Owner = tm.OnCall, tm.Name
		}
		co.Level = OnCallTeam
	}
	return co
}
