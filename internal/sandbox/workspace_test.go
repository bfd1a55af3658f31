package sandbox

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/incident"
)

func newReq(host string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "http://"+host+"/sandbox/send", nil)
	r.Host = host
	return r
}

func catalogue(t *testing.T) *incident.Catalogue {
	t.Helper()
	usd := incident.USD
	rot := func(users ...string) incident.OnCall {
		return incident.OnCall{EscalationPolicy: "PXYZ", Rotation: incident.Rotation{Users: users, HandoffDay: time.Monday, HandoffMinutes: 540}}
	}
	c := &incident.Catalogue{
		Policy: incident.Policy{
			Currency:   usd,
			Bands:      incident.Bands{{MaxHourlyExposure: usd.Major(7_000), Availability: 95_000}, {MaxHourlyExposure: usd.Major(250_000), Availability: 99_000}},
			Shares:     incident.DefaultShares,
			Thresholds: incident.Thresholds{High: usd.Major(100_000), Medium: usd.Major(10_000)},
			Horizon:    time.Hour,
		},
		Domains: []incident.Domain{{Name: "furniture", OnCall: rot("U0FURNI001")}},
		Teams: []incident.Team{
			{Name: "appointments-team", Domain: "furniture", Members: []string{"U0APPTS001"}, OnCall: rot("U0APPTS001")},
			{Name: "bedroom-team", Domain: "furniture", Members: []string{"U0BEDRM001", "U0BEDRM002"}, OnCall: rot("U0BEDRM001", "U0BEDRM002")},
		},
		Services: []incident.Service{
			{Name: "appointments", Team: "appointments-team", HourlyExposure: usd.Major(6_000)},
			{Name: "bedroom", Team: "bedroom-team", HourlyExposure: usd.Major(200_000)},
		},
		IncidentManagers:      []string{"U0IMGR0001"},
		IncidentManagerOnCall: rot("U0IMGR0001"),
	}
	c.Normalize()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestWorkspaceMapsPeopleOntoSandboxUsers(t *testing.T) {
	orig := catalogue(t)
	origJSON, _ := json.Marshal(orig)
	opts, cat := Workspace(orig)
	if after, _ := json.Marshal(orig); string(after) != string(origJSON) {
		t.Fatalf("Workspace changed its argument")
	}
	if err := cat.Validate(); err != nil {
		t.Fatal(err)
	}
	idRE := regexp.MustCompile(`^[UW][A-Z0-9]{2,}$`) // what the config accepts
	ids := map[string]bool{}
	for _, u := range opts.Users {
		if !idRE.MatchString(u.ID) || u.Name == "" || u.RealName == "" || !strings.Contains(u.Email, "@") {
			t.Errorf("user %+v", u)
		}
		ids[u.ID] = true
	}
	if len(opts.Users) != 4 || !ids[ResponderID] || !ids[ManagerID] {
		t.Fatalf("users = %+v", opts.Users)
	}
	for i, tm := range cat.Teams {
		if len(tm.Members) != 2 || tm.Members[0] != ResponderID || !ids[tm.Members[1]] || tm.Members[1] == ManagerID {
			t.Errorf("team %s members %v", tm.Name, tm.Members)
		}
		if tm.OnCall.EscalationPolicy != "" || len(tm.OnCall.Rotation.Users) != 1 || tm.OnCall.Rotation.Users[0] != ResponderID {
			t.Errorf("team %s on call %+v", tm.Name, tm.OnCall)
		}
		if tm.OnCall.Rotation.HandoffMinutes != orig.Teams[i].OnCall.Rotation.HandoffMinutes {
			t.Errorf("handoff lost")
		}
	}
	if d := cat.Domains[0].OnCall; d.Rotation.Users[0] != ResponderID || d.EscalationPolicy != "" {
		t.Errorf("domain on call %+v", d)
	}
	if !cat.IsIncidentManager(ManagerID) || cat.IsIncidentManager("U0IMGR0001") || cat.IncidentManagerOnCall.Rotation.Users[0] != ManagerID {
		t.Errorf("incident managers %v / %+v", cat.IncidentManagers, cat.IncidentManagerOnCall)
	}
	// Who is who, as the user picker says.
	s := New(nil, Options{Catalogue: cat})
	for id, want := range map[string]string{
		ResponderID: "on-call responder, every team", ManagerID: "incident manager",
		memberID(0): "team member, appointments-team", memberID(1): "team member, bedroom-team",
	} {
		if got := s.role(id); got != want {
			t.Errorf("role(%s) = %q, want %q", id, got, want)
		}
	}

	// The fake Slack: paths under the sandbox prefix, the announce channel
	// with everybody and the bot in it.
	if opts.APIPath != "/sandbox/slack/api/" || opts.WSPath != "/sandbox/slack/ws" || opts.ResponsePath != "/sandbox/slack/response/" {
		t.Errorf("paths %q %q %q", opts.APIPath, opts.WSPath, opts.ResponsePath)
	}
	if opts.BotUserID != BotUserID || !opts.APIEvents {
		t.Errorf("bot %q events %v", opts.BotUserID, opts.APIEvents)
	}
	if len(opts.Channels) == 0 || opts.Channels[0].Name != AnnounceChannel || len(opts.Channels[0].Members) != len(opts.Users)+1 {
		t.Errorf("channels %+v", opts.Channels)
	}
	if o, c := Workspace(nil); c != nil || len(o.Users) != 3 {
		t.Errorf("Workspace(nil) = %d users, %v", len(o.Users), c)
	}
}

func TestLocalBaseURL(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1:8080": "http://127.0.0.1:8080",
		":8080":          "http://127.0.0.1:8080",
		"0.0.0.0:9000":   "http://127.0.0.1:9000",
		"[::]:8080":      "http://[::1]:8080",
		"localhost:80":   "http://localhost:80",
		"weird":          "http://weird",
	} {
		if got := LocalBaseURL(in); got != want {
			t.Errorf("LocalBaseURL(%q) = %q, want %q", in, got, want)
		}
	}
	if a, w, r := SlackPaths("custom/"); a != "/custom/slack/api/" || w != "/custom/slack/ws" || r != "/custom/slack/response/" {
		t.Errorf("SlackPaths = %q %q %q", a, w, r)
	}
}

func TestSampleAlertIsAlertmanagerV4(t *testing.T) {
	now := time.Date(2026, 11, 17, 12, 0, 0, 0, time.UTC)
	n := SampleAlert("bedroom", now)
	raw, err := json.Marshal(n)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"version", "groupKey", "truncatedAlerts", "status", "receiver", "groupLabels", "commonLabels", "commonAnnotations", "externalURL", "alerts"} {
		if _, ok := m[k]; !ok {
			t.Errorf("payload lacks %s", k)
		}
	}
	if m["version"] != "4" || m["status"] != "firing" || m["receiver"] != "incidentbot" {
		t.Errorf("version/status/receiver: %v %v %v", m["version"], m["status"], m["receiver"])
	}
	cl := n.CommonLabels
	if cl["service"] != "bedroom" || cl["alertname"] == "" || cl["severity"] == "" {
		t.Errorf("commonLabels %v", cl)
	}
	if n.CommonAnnotations["summary"] == "" || n.CommonAnnotations["description"] == "" {
		t.Errorf("commonAnnotations %v", n.CommonAnnotations)
	}
	if want := `{}:{alertname="` + cl["alertname"] + `", service="bedroom"}`; n.GroupKey != want {
		t.Errorf("groupKey %q, want %q", n.GroupKey, want)
	}
	alerts := m["alerts"].([]any)
	if len(alerts) != 2 {
		t.Fatalf("alerts: %d", len(alerts))
	}
	fpRE := regexp.MustCompile(`^[0-9a-f]{16}$`)
	for i, a := range alerts {
		am := a.(map[string]any)
		for _, k := range []string{"status", "labels", "annotations", "startsAt", "endsAt", "generatorURL", "fingerprint"} {
			if _, ok := am[k]; !ok {
				t.Errorf("alert %d lacks %s", i, k)
			}
		}
		if am["endsAt"] != "0001-01-01T00:00:00Z" || am["status"] != "firing" || !fpRE.MatchString(am["fingerprint"].(string)) {
			t.Errorf("alert %d: endsAt %v status %v fingerprint %v", i, am["endsAt"], am["status"], am["fingerprint"])
		}
		if !strings.HasPrefix(am["generatorURL"].(string), "http://") {
			t.Errorf("generatorURL %v", am["generatorURL"])
		}
		labels := am["labels"].(map[string]any)
		for k, v := range cl {
			if labels[k] != v {
				t.Errorf("alert %d label %s = %v, want the common %s", i, k, labels[k], v)
			}
		}
		start, _ := time.Parse(time.RFC3339Nano, am["startsAt"].(string))
		if start.After(now) || now.Sub(start) > 5*time.Minute {
			t.Errorf("startsAt %v", start)
		}
	}
	if n.Alerts[0].Fingerprint == n.Alerts[1].Fingerprint {
		t.Errorf("the two pods share a fingerprint")
	}
	// Firing again later: same group and fingerprints, a new start.
	again := SampleAlert("bedroom", now.Add(time.Hour))
	if again.GroupKey != n.GroupKey || again.Alerts[0].Fingerprint != n.Alerts[0].Fingerprint || again.Alerts[0].StartsAt.Equal(n.Alerts[0].StartsAt) {
		t.Errorf("a repeat differs in group or fingerprint, or keeps its start")
	}
	if other := SampleAlert("appointments", now); other.GroupKey == n.GroupKey || other.CommonLabels["service"] != "appointments" {
		t.Errorf("another service shares the group")
	}
	// The fingerprint is Prometheus' (FNV-64a of the sorted label pairs).
	if got := fingerprint(map[string]string{"a": "1"}); got != "d3b971819376d835" {
		t.Errorf("fingerprint = %s", got)
	}
}

func TestSampleAlertRelabelled(t *testing.T) {
	n := SampleAlert("bedroom", time.Now())
	relabel(&n, "service", "app")
	if n.CommonLabels["app"] != "bedroom" || n.GroupLabels["app"] != "bedroom" || n.Alerts[1].Labels["app"] != "bedroom" || n.CommonLabels["service"] != "" {
		t.Errorf("relabel: %+v", n)
	}
	if !strings.Contains(n.GroupKey, `app="bedroom"`) {
		t.Errorf("groupKey %q", n.GroupKey)
	}
}

// TestSampleAlertTextsReadWell: every sample's summary, description and
// query are formatted with the service, and nothing is garbled by an
// unescaped % ("More than 5%!o(string=bedroom)f requests").
func TestSampleAlertTextsReadWell(t *testing.T) {
	now := time.Date(2026, 11, 17, 12, 0, 0, 0, time.UTC)
	if got, want := SampleAlert("bedroom", now).CommonAnnotations["description"],
		"More than 5% of requests to bedroom have failed for 5 minutes (now 23.4%)."; got != want {
		t.Errorf("bedroom's description = %q, want %q", got, want)
	}
	for _, k := range samples {
		// Find a service that fires this kind.
		svc := ""
		for i := 0; i < 1000 && svc == ""; i++ {
			name := "service-" + strconv.Itoa(i)
			if SampleAlert(name, now).CommonLabels["alertname"] == k.alertname {
				svc = name
			}
		}
		if svc == "" {
			t.Fatalf("no service fires %s", k.alertname)
		}
		n := SampleAlert(svc, now)
		gen, _ := url.QueryUnescape(n.Alerts[0].GeneratorURL)
		for what, text := range map[string]string{"summary": n.CommonAnnotations["summary"], "description": n.CommonAnnotations["description"], "query": gen} {
			if strings.Contains(text, "%!") || !strings.Contains(text, svc) {
				t.Errorf("%s %s: %q", k.alertname, what, text)
			}
		}
	}
}

// The sandbox's catalogue gains a shared dependency when it declares none,
// so that the tour can show an incident on several services.
func TestWorkspaceAddsASharedDependency(t *testing.T) {
	orig := catalogue(t)
	_, cat := Workspace(orig)
	if err := cat.Validate(); err != nil {
		t.Fatal(err)
	}
	db, ok := cat.Service(SharedDependency)
	if !ok || db.Team != "appointments-team" || db.HourlyExposure != incident.USD.Major(7_000) || len(cat.Services) != 3 {
		t.Fatalf("services %+v", cat.Services)
	}
	for _, s := range cat.Services {
		if s.Name != SharedDependency && (len(s.DependsOn) != 1 || s.DependsOn[0] != SharedDependency) {
			t.Errorf("%s depends on %v", s.Name, s.DependsOn)
		}
	}
	if !cat.Related("appointments", "bedroom") {
		t.Error("services sharing the dependency are not related")
	}
	if len(orig.Services) != 2 || len(orig.Services[0].DependsOn) != 0 {
		t.Errorf("Workspace changed its argument: %+v", orig.Services)
	}
	// A catalogue with dependencies of its own is left as it is.
	orig.Services[0].DependsOn = []string{"bedroom"}
	if _, cat := Workspace(orig); len(cat.Services) != 2 {
		t.Errorf("services %+v", cat.Services)
	}
}
