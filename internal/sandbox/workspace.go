package sandbox

import (
	"net"
	"sort"
	"strings"

	"github.com/incidentbot/incidentbot/incident"
	"github.com/incidentbot/incidentbot/internal/fakeslack"
)

// DefaultPrefix is where Routes mounts the sandbox unless Options.Prefix
// says otherwise.
const DefaultPrefix = "/sandbox"

// AnnounceChannel is the name of the org-wide announce channel that
// Workspace creates; run the bot with it as its announce channel.
const AnnounceChannel = "incidents"

// Sandbox users. Every team's members and rotations, every domain rotation
// and the incident managers of a catalogue are mapped onto them by
// Workspace, so that the few people in the sandbox play every role.
const (
	// ResponderID is on call for every team and domain: the alerts' responder.
	ResponderID = "U0SANDRESP"
	// ManagerID is the incident manager (and on call as one out of hours).
	ManagerID = "U0SANDIMGR"
	// BotUserID is the bot's user in the sandbox workspace.
	BotUserID = "U0SANDBOT1"
	// memberIDPrefix + two digits is the member of a team who is not on call.
	memberIDPrefix = "U0SANDTM"
)

// teamMemberNames name the teams' members, one per team, in catalogue order.
var teamMemberNames = []string{"Taylor", "Jordan", "Casey", "Alex", "Sam", "Jamie", "Quinn", "Avery", "Robin", "Charlie"}

// SlackPaths are the paths of the fake Slack mounted under a sandbox prefix:
// the Web API, the Socket Mode websocket and the response_urls.
func SlackPaths(prefix string) (api, ws, response string) {
	p := normPrefix(prefix) + "/slack"
	return p + "/api/", p + "/ws", p + "/response/"
}

// Users returns the sandbox users for a catalogue: the responder, the
// incident manager and one member per team (the first ten teams; later
// teams share them).
func Users(cat *incident.Catalogue) []fakeslack.User {
	users := []fakeslack.User{
		{ID: ResponderID, Name: "riley", RealName: "Riley Responder", Email: "riley@sandbox.incidentbot.invalid"},
		{ID: ManagerID, Name: "morgan", RealName: "Morgan Manager", Email: "morgan@sandbox.incidentbot.invalid"},
	}
	n := 1
	if cat != nil && len(cat.Teams) > 1 {
		n = min(len(cat.Teams), len(teamMemberNames))
	}
	for i := 0; i < n; i++ {
		name := teamMemberNames[i]
		real := name
		if cat != nil && i < len(cat.Teams) {
			real = name + " (" + cat.Teams[i].Name + ")"
		}
		users = append(users, fakeslack.User{
			ID: memberID(i), Name: strings.ToLower(name), RealName: real,
			Email: strings.ToLower(name) + "@sandbox.incidentbot.invalid",
		})
	}
	return users
}

func memberID(i int) string {
	return memberIDPrefix + string(rune('0'+i/10)) + string(rune('0'+i%10))
}

// Workspace returns the fake Slack options for a sandbox mounted at
// DefaultPrefix (the users of Users, an announce channel named
// AnnounceChannel and a #general, both with everybody and the bot in them,
// the Slack paths of SlackPaths) and a copy of the catalogue whose people
// are the sandbox users:
//
//   - every team's members are the responder and the team's own member;
//   - every team's and domain's on-call rotation is the responder alone, so
//     whatever fires, the responder is called out;
//   - the incident managers and their out-of-hours rotation are the manager;
//   - PagerDuty escalation policies are dropped: the sandbox has no PagerDuty.
//
// Set BaseURL on the returned options to the URL the bot reaches its own
// listener at (see LocalBaseURL) before passing them to fakeslack.New.
func Workspace(cat *incident.Catalogue) (fakeslack.Options, *incident.Catalogue) {
	users := Users(cat)
	members := []string{BotUserID}
	for _, u := range users {
		members = append(members, u.ID)
	}
	api, ws, resp := SlackPaths(DefaultPrefix)
	opts := fakeslack.Options{
		APIPath:      api,
		WSPath:       ws,
		ResponsePath: resp,
		TeamName:     "incidentbot sandbox",
		TeamDomain:   "incidentbot-sandbox",
		BotUserID:    BotUserID,
		Users:        users,
		Channels: []fakeslack.ChannelSeed{
			{Name: AnnounceChannel, Members: members, Creator: ManagerID, Topic: "Org-wide incident announcements"},
			{Name: "general", Members: members, Creator: ManagerID},
		},
		// As in Slack, the bot's own Web API actions generate events
		// (message echoes, joins, pins): the bot must cope with them.
		APIEvents: true,
	}
	if cat == nil {
		return opts, nil
	}
	out := *cat
	rot := func(oc incident.OnCall, user string) incident.OnCall {
		r := oc.Rotation
		r.Users = []string{user}
		return incident.OnCall{Rotation: r}
	}
	out.Teams = make([]incident.Team, len(cat.Teams))
	for i, t := range cat.Teams {
		t.Members = []string{ResponderID, memberID(i % len(teamMemberNames))}
		t.OnCall = rot(t.OnCall, ResponderID)
		out.Teams[i] = t
	}
	out.Domains = make([]incident.Domain, len(cat.Domains))
	for i, d := range cat.Domains {
		d.OnCall = rot(d.OnCall, ResponderID)
		out.Domains[i] = d
	}
	out.Services = sharedDependency(&out)
	out.IncidentManagers = []string{ManagerID}
	out.IncidentManagerOnCall = rot(cat.IncidentManagerOnCall, ManagerID)
	return opts, &out
}

// LocalBaseURL turns a listen address ("127.0.0.1:8080", ":8080",
// "0.0.0.0:8080", "[::]:8080") into the base URL the process reaches its own
// listener at ("http://127.0.0.1:8080"): the fake Slack's BaseURL, which the
// bot's Slack client, its Socket Mode connection and the response_urls use.
func LocalBaseURL(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "http://" + listen
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return "http://" + net.JoinHostPort(host, port)
}

func normPrefix(p string) string {
	if p == "" {
		return DefaultPrefix
	}
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	return strings.TrimSuffix(p, "/")
}

// SharedDependency is the service the sandbox adds for the others to depend
// on, when its catalogue declares no dependencies: alerts of services that
// depend on it, or on each other, join one incident priced across them.
const SharedDependency = "database"

// sharedDependency returns the catalogue's services, with SharedDependency
// added and every other service depending on it when no service declares
// depends_on and there is none of that name.
func sharedDependency(cat *incident.Catalogue) []incident.Service {
	svcs := make([]incident.Service, 0, len(cat.Services)+1)
	for _, s := range cat.Services {
		s.DependsOn = append([]string(nil), s.DependsOn...)
		svcs = append(svcs, s)
	}
	if len(svcs) == 0 || len(cat.Bands) == 0 {
		return svcs
	}
	if _, taken := cat.Service(SharedDependency); taken {
		return svcs
	}
	for _, s := range svcs {
		if len(s.DependsOn) > 0 {
			return svcs
		}
	}
	for i := range svcs {
		svcs[i].DependsOn = []string{SharedDependency}
	}
	db := incident.Service{Name: SharedDependency, Team: svcs[0].Team, Domain: svcs[0].Domain, HourlyExposure: cat.Bands[0].MaxHourlyExposure}
	svcs = append(svcs, db)
	sort.Slice(svcs, func(i, j int) bool { return svcs[i].Name < svcs[j].Name })
	return svcs
}
