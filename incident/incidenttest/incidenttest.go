// Package incidenttest holds PRODUCT.md's worked example, the furniture
// retailer, for tests across the project: its exposure bands, pricing policy
// and three services, with teams and domains named but not staffed. Each
// test staffs them as it needs.
package incidenttest

import (
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/incident"
)

// BlackFriday is the bedroom service's peak window.
var BlackFriday = incident.Peak{
	Name:           "Black Friday",
	Start:          time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC),
	End:            time.Date(2026, 11, 30, 23, 59, 59, 0, time.UTC),
	HourlyExposure: incident.USD.Major(900_000),
}

// Furniture returns the furniture retailer: bands $7,000/95.0%,
// $250,000/99.0%, $800,000/99.9%; services ecommerce-platform ($810,000/h),
// appointments ($6,000/h) and bedroom ($200,000/h, Black Friday at
// $900,000/h); default impact shares; thresholds $100,000 and $10,000; a
// 1 h horizon; working hours Monday to Friday 09:00–17:30 in London.
func Furniture() *incident.Catalogue {
	usd := incident.USD
	london, err := time.LoadLocation("Europe/London")
	if err != nil {
		panic(err)
	}
	wh, err := incident.ParseWorkingHours([]string{"mon", "tue", "wed", "thu", "fri"}, "09:00", "17:30", london)
	if err != nil {
		panic(err)
	}
	c := &incident.Catalogue{
		Policy: incident.Policy{
			Currency: usd,
			Bands: incident.Bands{
				{MaxHourlyExposure: usd.Major(7_000), Availability: 95_000},
				{MaxHourlyExposure: usd.Major(250_000), Availability: 99_000},
				{MaxHourlyExposure: usd.Major(800_000), Availability: 99_900},
			},
			Shares:       incident.DefaultShares,
			Thresholds:   incident.Thresholds{High: usd.Major(100_000), Medium: usd.Major(10_000)},
			Horizon:      time.Hour,
			WorkingHours: wh,
		},
		Domains: []incident.Domain{{Name: "furniture"}},
		Teams: []incident.Team{
			{Name: "platform-team", Domain: "furniture"},
			{Name: "appointments-team", Domain: "furniture"},
			{Name: "bedroom-team", Domain: "furniture"},
		},
		Services: []incident.Service{
			{Name: "ecommerce-platform", Team: "platform-team", HourlyExposure: usd.Major(810_000)},
			{Name: "appointments", Team: "appointments-team", HourlyExposure: usd.Major(6_000)},
			{Name: "bedroom", Team: "bedroom-team", HourlyExposure: usd.Major(200_000), Peaks: []incident.Peak{BlackFriday}},
		},
	}
	return c // Valid normalises it once the test has staffed it
}

// Rotation is a weekly rotation handing off on Monday at 09:00.
func Rotation(users ...string) incident.OnCall {
	return incident.OnCall{Rotation: incident.Rotation{Users: users, HandoffDay: time.Monday, HandoffMinutes: 9 * 60}}
}

// Team returns the named team for a test to staff; it panics if absent.
func Team(c *incident.Catalogue, name string) *incident.Team {
	for i := range c.Teams {
		if c.Teams[i].Name == name {
			return &c.Teams[i]
		}
	}
	panic("incidenttest: no team " + name)
}

// Staff sets a team's members and on-call.
func Staff(c *incident.Catalogue, team string, oncall incident.OnCall, members ...string) {
	t := Team(c, team)
	t.Members, t.OnCall = members, oncall
}

// Service returns the named service for a test to change; it panics if
// absent.
func Service(c *incident.Catalogue, name string) *incident.Service {
	for i := range c.Services {
		if c.Services[i].Name == name {
			return &c.Services[i]
		}
	}
	panic("incidenttest: no service " + name)
}

// Domain returns the named domain; it panics if absent.
func Domain(c *incident.Catalogue, name string) *incident.Domain {
	for i := range c.Domains {
		if c.Domains[i].Name == name {
			return &c.Domains[i]
		}
	}
	panic("incidenttest: no domain " + name)
}

// Valid fails the test unless the catalogue validates, and returns it.
func Valid(t testing.TB, c *incident.Catalogue) *incident.Catalogue {
	t.Helper()
	c.Normalize()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	return c
}
