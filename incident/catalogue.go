package incident

import (
	"slices"
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
	return c.validateDependencies()
}

// validateDependencies checks that every services[].depends_on names a
// catalogue service and that no service depends on itself, however
// indirectly.
func (c *Catalogue) validateDependencies() error {
	index := map[string]int{}
	for i, s := range c.Services {
		index[strings.ToLower(s.Name)] = i
	}
	for i, s := range c.Services {
		for j, d := range s.DependsOn {
			if _, ok := index[strings.ToLower(strings.TrimSpace(d))]; !ok {
				return Errorf(EINVALID, "services[%d].depends_on[%d]: unknown service %q", i, j, d)
			}
		}
	}
	// Depth-first search; state 1 is on the current path, 2 is done.
	state := make([]int, len(c.Services))
	var path []string
	var visit func(i int) []string
	visit = func(i int) []string {
		state[i] = 1
		path = append(path, c.Services[i].Name)
		for _, d := range c.Services[i].DependsOn {
			k := index[strings.ToLower(strings.TrimSpace(d))]
			if state[k] == 1 {
				return append(append([]string(nil), path[slices.Index(path, c.Services[k].Name):]...), c.Services[k].Name)
			}
			if state[k] == 0 {
				if cyc := visit(k); cyc != nil {
					return cyc
				}
			}
		}
		path = path[:len(path)-1]
		state[i] = 2
		return nil
	}
	for i := range c.Services {
		if state[i] == 0 {
			if cyc := visit(i); cyc != nil {
				return Errorf(EINVALID, "services[%d].depends_on: dependency cycle %s", index[strings.ToLower(cyc[0])], strings.Join(cyc, " → "))
			}
		}
	}
	return nil
}

// dependsOn reports whether service a depends on service b, directly or
// through other services.
func (c *Catalogue) dependsOn(a, b string) bool {
	seen := map[string]bool{}
	var walk func(name string) bool
	walk = func(name string) bool {
		s, ok := c.Service(name)
		if !ok || seen[strings.ToLower(s.Name)] {
			return false
		}
		seen[strings.ToLower(s.Name)] = true
		for _, d := range s.DependsOn {
			if strings.EqualFold(d, b) || walk(d) {
				return true
			}
		}
		return false
	}
	return walk(a)
}

// Related reports whether two services are related: the same service, one
// depends on the other (directly or transitively), or they share a direct
// dependency. Alerts of related services join one incident.
func (c *Catalogue) Related(a, b string) bool {
	if strings.EqualFold(a, b) {
		return true
	}
	if c.dependsOn(a, b) || c.dependsOn(b, a) {
		return true
	}
	sa, okA := c.Service(a)
	sb, okB := c.Service(b)
	if !okA || !okB {
		return false
	}
	for _, x := range sa.DependsOn {
		for _, y := range sb.DependsOn {
			if strings.EqualFold(x, y) {
				return true
			}
		}
	}
	return false
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
