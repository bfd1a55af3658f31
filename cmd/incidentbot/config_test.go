package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/incident"
	"github.com/incidentbot/incidentbot/templates"
)

// envMap is an environment for tests.
func envMap(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

var noEnv = envMap(nil)

// writeStarter writes the embedded starter configuration to a temporary
// directory and returns its path.
func writeStarter(t *testing.T) string {
	t.Helper()
	data, err := templates.Starter.ReadFile("starter/incidentbot.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "incidentbot.yaml")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "incidentbot.yaml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func mustSettings(t *testing.T, path string, env func(string) string) Settings {
	t.Helper()
	lc, err := loadConfig(path, env)
	if err != nil {
		t.Fatalf("loadConfig: %v", err)
	}
	if len(lc.Warnings) > 0 {
		t.Errorf("warnings: %q", lc.Warnings)
	}
	s, _, err := newSettings(lc.Config)
	if err != nil {
		t.Fatalf("newSettings: %v", err)
	}
	return s
}

// TestConfigKeys pins the user-facing key list (PRODUCT.md, "Configuration")
// and the environment variable of each key.
func TestConfigKeys(t *testing.T) {
	want := []string{
		"slack.bot_token", "slack.app_token", "slack.api_url", "slack.announce_channel", "slack.incident_managers", "slack.call_timeout",
		"http.listen", "http.public_url", "http.api_token",
		"storage.driver", "storage.path", "storage.postgres.url", "storage.postgres.max_conns", "storage.postgres.lease",
		"pagerduty.api_token", "pagerduty.api_url", "pagerduty.webhook_secret", "pagerduty.from_email",
		"pagerduty.incident_manager_escalation_policy",
		"alertmanager.bearer_token", "alertmanager.service_label", "alertmanager.grouping_window", "alertmanager.auto_resolve",
		"alertmanager.group_related",
		"organisation.currency", "organisation.timezone",
		"organisation.working_hours.days", "organisation.working_hours.start", "organisation.working_hours.end",
		"organisation.exposure_bands",
		"organisation.impact_shares.blocked", "organisation.impact_shares.degraded", "organisation.impact_shares.partial",
		"organisation.loss_thresholds.high", "organisation.loss_thresholds.medium",
		"organisation.classification_horizon", "organisation.commander_timeout", "organisation.update_interval",
		"teams", "domains", "services",
		"review.templates_dir", "review.preview_ttl", "review.reader_header",
		"jobs.timeout",
	}
	var got []string
	for _, k := range configKeys() {
		got = append(got, k.Path)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("keys:\n got %q\nwant %q", got, want)
	}
	for _, c := range []struct{ key, env string }{
		{"slack.bot_token", "INCIDENTBOT_SLACK_BOT_TOKEN"},
		{"organisation.working_hours.start", "INCIDENTBOT_ORGANISATION_WORKING_HOURS_START"},
		{"pagerduty.incident_manager_escalation_policy", "INCIDENTBOT_PAGERDUTY_INCIDENT_MANAGER_ESCALATION_POLICY"},
		{"services", "INCIDENTBOT_SERVICES"},
		{"storage.postgres.url", "INCIDENTBOT_STORAGE_POSTGRES_URL"},
	} {
		if got := (configKey{Path: c.key}).Env(); got != c.env {
			t.Errorf("%s: env %s, want %s", c.key, got, c.env)
		}
	}
}

func TestLoadStarterFile(t *testing.T) {
	s := mustSettings(t, writeStarter(t), noEnv)
	c := s.Catalogue
	usd := incident.USD

	if c.Currency.Code != "USD" || c.WorkingHours.Location.String() != "Europe/London" {
		t.Errorf("currency %s, location %s", c.Currency.Code, c.WorkingHours.Location)
	}
	if got := workingDays(c.WorkingHours); got != "mon tue wed thu fri" {
		t.Errorf("days %q", got)
	}
	if c.WorkingHours.Start != 9*60 || c.WorkingHours.End != 17*60+30 {
		t.Errorf("working hours %d–%d", c.WorkingHours.Start, c.WorkingHours.End)
	}
	wantBands := incident.Bands{
		{MaxHourlyExposure: usd.Major(7000), Availability: 95_000},
		{MaxHourlyExposure: usd.Major(250000), Availability: 99_000},
		{MaxHourlyExposure: usd.Major(800000), Availability: 99_900},
	}
	if !reflect.DeepEqual(c.Bands, wantBands) {
		t.Errorf("bands %+v", c.Bands)
	}
	if c.Shares != incident.DefaultShares {
		t.Errorf("shares %+v", c.Shares)
	}
	if c.Thresholds != (incident.Thresholds{High: usd.Major(100000), Medium: usd.Major(10000)}) {
		t.Errorf("thresholds %+v", c.Thresholds)
	}
	if s.Slack.CallTimeout != 15*time.Second || s.JobTimeout != 30*time.Second {
		t.Errorf("deadlines %s %s, want 15s and 30s", s.Slack.CallTimeout, s.JobTimeout)
	}
	if c.Horizon != time.Hour || s.CommanderTimeout != 10*time.Minute || s.UpdateInterval != 30*time.Minute || s.GroupingWindow != 30*time.Minute {
		t.Errorf("durations %s %s %s %s", c.Horizon, s.CommanderTimeout, s.UpdateInterval, s.GroupingWindow)
	}

	var names []string
	for _, svc := range c.Services {
		names = append(names, svc.Name)
	}
	if want := []string{"appointments", "bedroom", "ecommerce-platform"}; !reflect.DeepEqual(names, want) {
		t.Errorf("services %q, want %q (sorted)", names, want)
	}
	bedroom, _ := c.Service("bedroom")
	if bedroom.HourlyExposure != usd.Major(200000) || bedroom.Team != "bedroom-team" || bedroom.Domain != "furniture" {
		t.Errorf("bedroom %+v", bedroom)
	}
	wantPeak := incident.Peak{
		Name:           "Black Friday",
		Start:          time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC),
		End:            time.Date(2026, 11, 30, 23, 59, 59, 0, time.UTC),
		HourlyExposure: usd.Major(900000),
	}
	if len(bedroom.Peaks) != 1 || !bedroom.Peaks[0].Start.Equal(wantPeak.Start) || !bedroom.Peaks[0].End.Equal(wantPeak.End) ||
		bedroom.Peaks[0].Name != wantPeak.Name || bedroom.Peaks[0].HourlyExposure != wantPeak.HourlyExposure {
		t.Errorf("peaks %+v", bedroom.Peaks)
	}
	team, _ := c.Team("bedroom-team")
	if len(team.OnCall.Rotation.Users) != 3 || team.OnCall.Rotation.HandoffDay != time.Monday || team.OnCall.Rotation.HandoffMinutes != 9*60 {
		t.Errorf("bedroom-team on-call %+v", team.OnCall)
	}
	if d, ok := c.Domain("furniture"); !ok || len(d.OnCall.Rotation.Users) != 3 {
		t.Errorf("furniture domain %+v", d)
	}
	if !reflect.DeepEqual(c.IncidentManagers, []string{"U0IMGR0001", "U0IMGR0002"}) {
		t.Errorf("incident managers %q", c.IncidentManagers)
	}

	if s.Slack.APIURL != "https://slack.com/api/" || s.Slack.AnnounceChannel != "incidents" || s.Slack.BotToken != "" {
		t.Errorf("slack %+v", s.Slack)
	}
	if s.HTTP.Listen != "127.0.0.1:8080" || s.HTTP.PublicURL != "http://localhost:8080" {
		t.Errorf("http %+v", s.HTTP)
	}
	if s.Storage.Path != "incidentbot.db" || s.PagerDuty.APIURL != "https://api.pagerduty.com" || s.PagerDuty.Enabled() {
		t.Errorf("storage %+v pagerduty %+v", s.Storage, s.PagerDuty)
	}
	if s.Alertmanager.ServiceLabel != "service" || s.Alertmanager.AutoResolve {
		t.Errorf("alertmanager %+v", s.Alertmanager)
	}
}

// allEnv sets every key from the environment, with no file.
func allEnv() map[string]string {
	return map[string]string{
		"INCIDENTBOT_SLACK_BOT_TOKEN":                              "xoxb-bot-secret",
		"INCIDENTBOT_SLACK_APP_TOKEN":                              "xapp-app-secret",
		"INCIDENTBOT_SLACK_API_URL":                                "http://127.0.0.1:9999/api",
		"INCIDENTBOT_SLACK_ANNOUNCE_CHANNEL":                       "#major-incidents",
		"INCIDENTBOT_SLACK_INCIDENT_MANAGERS":                      "U0IM1, U0IM2",
		"INCIDENTBOT_HTTP_LISTEN":                                  "0.0.0.0:9090",
		"INCIDENTBOT_HTTP_PUBLIC_URL":                              "https://incidents.example.com/",
		"INCIDENTBOT_HTTP_API_TOKEN":                               "api-secret",
		"INCIDENTBOT_STORAGE_PATH":                                 "/data/incidentbot.db",
		"INCIDENTBOT_STORAGE_DRIVER":                               "postgres",
		"INCIDENTBOT_STORAGE_POSTGRES_URL":                         "postgres://incidentbot:pg-secret@db.example.com:5432/incidentbot?sslmode=require",
		"INCIDENTBOT_STORAGE_POSTGRES_MAX_CONNS":                   "20",
		"INCIDENTBOT_STORAGE_POSTGRES_LEASE":                       "15s",
		"INCIDENTBOT_PAGERDUTY_API_TOKEN":                          "pd-secret",
		"INCIDENTBOT_PAGERDUTY_API_URL":                            "http://127.0.0.1:9998",
		"INCIDENTBOT_PAGERDUTY_WEBHOOK_SECRET":                     "webhook-secret",
		"INCIDENTBOT_PAGERDUTY_FROM_EMAIL":                         "bot@example.com",
		"INCIDENTBOT_PAGERDUTY_INCIDENT_MANAGER_ESCALATION_POLICY": "PIMGR",
		"INCIDENTBOT_ALERTMANAGER_BEARER_TOKEN":                    "am-secret",
		"INCIDENTBOT_ALERTMANAGER_SERVICE_LABEL":                   "app",
		"INCIDENTBOT_ALERTMANAGER_GROUPING_WINDOW":                 "45m",
		"INCIDENTBOT_ALERTMANAGER_AUTO_RESOLVE":                    "true",
		"INCIDENTBOT_ALERTMANAGER_GROUP_RELATED":                   "false",
		"INCIDENTBOT_ORGANISATION_CURRENCY":                        "EUR",
		"INCIDENTBOT_ORGANISATION_TIMEZONE":                        "Europe/Berlin",
		"INCIDENTBOT_ORGANISATION_WORKING_HOURS_DAYS":              `["mon","tue","wed","thu"]`,
		"INCIDENTBOT_ORGANISATION_WORKING_HOURS_START":             "08:00",
		"INCIDENTBOT_ORGANISATION_WORKING_HOURS_END":               "16:00",
		"INCIDENTBOT_ORGANISATION_EXPOSURE_BANDS": `[{"max_hourly_exposure": 7000, "availability": 95.0},
			{"max_hourly_exposure": "250,000", "availability": "99.0"},
			{"max_hourly_exposure": 800000.50, "availability": 99.95}]`,
		"INCIDENTBOT_ORGANISATION_IMPACT_SHARES_BLOCKED":  "0.9",
		"INCIDENTBOT_ORGANISATION_IMPACT_SHARES_DEGRADED": "40%",
		"INCIDENTBOT_ORGANISATION_IMPACT_SHARES_PARTIAL":  "0.025",
		"INCIDENTBOT_ORGANISATION_LOSS_THRESHOLDS_HIGH":   "50000",
		"INCIDENTBOT_ORGANISATION_LOSS_THRESHOLDS_MEDIUM": "5000.25",
		"INCIDENTBOT_ORGANISATION_CLASSIFICATION_HORIZON": "2h",
		"INCIDENTBOT_ORGANISATION_COMMANDER_TIMEOUT":      "5m",
		"INCIDENTBOT_ORGANISATION_UPDATE_INTERVAL":        "20m",
		"INCIDENTBOT_DOMAINS":                             `[{"name": "furniture", "oncall": {"rotation": ["U0D1", "U0D2"], "handoff": "tue 10:30"}}]`,
		"INCIDENTBOT_TEAMS":                               `[{"name": "bedroom-team", "domain": "furniture", "members": ["U0T1"], "oncall": {"pagerduty_escalation_policy": "PBED"}}]`,
		"INCIDENTBOT_SERVICES":                            `[{"name": "bedroom", "team": "bedroom-team", "hourly_exposure": 200000, "pagerduty_service_id": "PSVC", "runbook": "https://wiki.example.com/bedroom", "peaks": [{"name": "Black Friday", "start": "2026-11-27T00:00:00Z", "end": "2026-11-30T23:59:59Z", "hourly_exposure": 900000}], "depends_on": ["database"]}, {"name": "database", "team": "bedroom-team", "hourly_exposure": 1000}]`,
		"INCIDENTBOT_REVIEW_TEMPLATES_DIR":                "/etc/incidentbot/review",
		"INCIDENTBOT_REVIEW_PREVIEW_TTL":                  "72h",
		"INCIDENTBOT_REVIEW_READER_HEADER":                "X-Forwarded-Email",
		"INCIDENTBOT_SLACK_CALL_TIMEOUT":                  "7s",
		"INCIDENTBOT_JOBS_TIMEOUT":                        "20s",
	}
}

func TestEveryKeyFromEnvironmentAlone(t *testing.T) {
	t.Chdir(t.TempDir()) // no ./incidentbot.yaml
	env := allEnv()
	for _, k := range configKeys() {
		if env[k.Env()] == "" {
			t.Fatalf("the test does not set %s", k.Env())
		}
	}
	s := mustSettings(t, "", envMap(env))
	eur, _ := incident.LookupCurrency("EUR")
	c := s.Catalogue

	checks := []struct {
		name      string
		got, want any
	}{
		{"slack.bot_token", s.Slack.BotToken.Reveal(), "xoxb-bot-secret"},
		{"slack.app_token", s.Slack.AppToken.Reveal(), "xapp-app-secret"},
		{"slack.api_url", s.Slack.APIURL, "http://127.0.0.1:9999/api/"},
		{"slack.announce_channel", s.Slack.AnnounceChannel, "major-incidents"},
		{"slack.incident_managers", c.IncidentManagers, []string{"U0IM1", "U0IM2"}},
		{"http.listen", s.HTTP.Listen, "0.0.0.0:9090"},
		{"http.public_url", s.HTTP.PublicURL, "https://incidents.example.com"},
		{"http.api_token", s.HTTP.APIToken.Reveal(), "api-secret"},
		{"storage.path", s.Storage.Path, "/data/incidentbot.db"},
		{"storage.driver", s.Storage.Driver, "postgres"},
		{"storage.postgres.url", s.Storage.Postgres.URL.Reveal(), "postgres://incidentbot:pg-secret@db.example.com:5432/incidentbot?sslmode=require"},
		{"storage.postgres.max_conns", s.Storage.Postgres.MaxConns, 20},
		{"storage.postgres.lease", s.Storage.Postgres.Lease, 15 * time.Second},
		{"pagerduty.api_token", s.PagerDuty.APIToken.Reveal(), "pd-secret"},
		{"pagerduty.api_url", s.PagerDuty.APIURL, "http://127.0.0.1:9998"},
		{"pagerduty.webhook_secret", s.PagerDuty.WebhookSecret.Reveal(), "webhook-secret"},
		{"pagerduty.from_email", s.PagerDuty.FromEmail, "bot@example.com"},
		{"pagerduty.incident_manager_escalation_policy", s.PagerDuty.IncidentManagerEscalationPolicy, "PIMGR"},
		{"catalogue incident manager on-call", c.IncidentManagerOnCall.EscalationPolicy, "PIMGR"},
		{"alertmanager.bearer_token", s.Alertmanager.BearerToken.Reveal(), "am-secret"},
		{"alertmanager.service_label", s.Alertmanager.ServiceLabel, "app"},
		{"alertmanager.grouping_window", s.GroupingWindow, 45 * time.Minute},
		{"slack.call_timeout", s.Slack.CallTimeout, 7 * time.Second},
		{"jobs.timeout", s.JobTimeout, 20 * time.Second},
		{"alertmanager.auto_resolve", s.Alertmanager.AutoResolve, true},
		{"alertmanager.group_related", s.Alertmanager.GroupRelated, false},
		{"organisation.currency", c.Currency, eur},
		{"organisation.timezone", c.WorkingHours.Location.String(), "Europe/Berlin"},
		{"organisation.working_hours.days", workingDays(c.WorkingHours), "mon tue wed thu"},
		{"organisation.working_hours.start", c.WorkingHours.Start, 8 * 60},
		{"organisation.working_hours.end", c.WorkingHours.End, 16 * 60},
		{"organisation.exposure_bands", c.Bands, incident.Bands{
			{MaxHourlyExposure: 700000, Availability: 95_000},
			{MaxHourlyExposure: 25000000, Availability: 99_000},
			{MaxHourlyExposure: 80000050, Availability: 99_950},
		}},
		{"organisation.impact_shares", c.Shares, incident.ImpactShares{Blocked: 9000, Degraded: 4000, Partial: 250}},
		{"organisation.loss_thresholds", c.Thresholds, incident.Thresholds{High: 5000000, Medium: 500025}},
		{"organisation.classification_horizon", c.Horizon, 2 * time.Hour},
		{"organisation.commander_timeout", s.CommanderTimeout, 5 * time.Minute},
		{"organisation.update_interval", s.UpdateInterval, 20 * time.Minute},
		{"domains", c.Domains, []incident.Domain{{Name: "furniture", OnCall: incident.OnCall{
			Rotation: incident.Rotation{Users: []string{"U0D1", "U0D2"}, HandoffDay: time.Tuesday, HandoffMinutes: 10*60 + 30}}}}},
		{"teams", c.Teams, []incident.Team{{Name: "bedroom-team", Domain: "furniture", Members: []string{"U0T1"},
			OnCall: incident.OnCall{EscalationPolicy: "PBED", Rotation: incident.Rotation{HandoffDay: time.Monday, HandoffMinutes: 9 * 60}}}}},
		{"services", c.Services, []incident.Service{{
			Name: "bedroom", Team: "bedroom-team", Domain: "furniture", HourlyExposure: 20000000,
			PagerDutyServiceID: "PSVC", Runbook: "https://wiki.example.com/bedroom",
			Peaks: []incident.Peak{{Name: "Black Friday",
				Start:          time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC),
				End:            time.Date(2026, 11, 30, 23, 59, 59, 0, time.UTC),
				HourlyExposure: 90000000}},
			DependsOn: []string{"database"},
		}, {Name: "database", Team: "bedroom-team", Domain: "furniture", HourlyExposure: 100000}}},
		{"review.templates_dir", s.Review.TemplatesDir, "/etc/incidentbot/review"},
		{"review.preview_ttl", s.Review.PreviewTTL, 72 * time.Hour},
		{"review.reader_header", s.Review.ReaderHeader, "X-Forwarded-Email"},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %#v, want %#v", c.name, c.got, c.want)
		}
	}
}

func TestDefaults(t *testing.T) {
	t.Chdir(t.TempDir())
	s := mustSettings(t, "", envMap(map[string]string{
		"INCIDENTBOT_ORGANISATION_EXPOSURE_BANDS":         `[{"max_hourly_exposure": 7000, "availability": 95.0}]`,
		"INCIDENTBOT_ORGANISATION_LOSS_THRESHOLDS_HIGH":   "100000",
		"INCIDENTBOT_ORGANISATION_LOSS_THRESHOLDS_MEDIUM": "10000",
	}))
	c := s.Catalogue
	for _, ch := range []struct {
		name      string
		got, want any
	}{
		{"slack.api_url", s.Slack.APIURL, "https://slack.com/api/"},
		{"http.listen", s.HTTP.Listen, "127.0.0.1:8080"},
		{"http.public_url", s.HTTP.PublicURL, "http://localhost:8080"},
		{"storage.path", s.Storage.Path, "incidentbot.db"},
		{"storage.driver", s.Storage.Driver, "bbolt"},
		{"storage.postgres.max_conns", s.Storage.Postgres.MaxConns, 10},
		{"storage.postgres.lease", s.Storage.Postgres.Lease, 10 * time.Second},
		{"pagerduty.api_url", s.PagerDuty.APIURL, "https://api.pagerduty.com"},
		{"alertmanager.service_label", s.Alertmanager.ServiceLabel, "service"},
		{"alertmanager.grouping_window", s.GroupingWindow, 30 * time.Minute},
		{"alertmanager.auto_resolve", s.Alertmanager.AutoResolve, false},
		{"alertmanager.group_related", s.Alertmanager.GroupRelated, true},
		{"currency", c.Currency, incident.USD},
		{"timezone", c.WorkingHours.Location.String(), "UTC"},
		{"days", workingDays(c.WorkingHours), "mon tue wed thu fri"},
		{"start", c.WorkingHours.Start, 9 * 60},
		{"end", c.WorkingHours.End, 17*60 + 30},
		{"shares", c.Shares, incident.DefaultShares},
		{"horizon", c.Horizon, time.Hour},
		{"commander_timeout", s.CommanderTimeout, 10 * time.Minute},
		{"update_interval", s.UpdateInterval, 30 * time.Minute},
	} {
		if !reflect.DeepEqual(ch.got, ch.want) {
			t.Errorf("%s = %#v, want %#v", ch.name, ch.got, ch.want)
		}
	}
}

func TestEnvironmentOverridesFile(t *testing.T) {
	s := mustSettings(t, writeStarter(t), envMap(map[string]string{
		"INCIDENTBOT_ORGANISATION_TIMEZONE":           "America/New_York",
		"INCIDENTBOT_ORGANISATION_WORKING_HOURS_DAYS": "mon, wed",
		"INCIDENTBOT_SLACK_INCIDENT_MANAGERS":         `["U0OTHER1"]`,
		"INCIDENTBOT_SERVICES":                        `[{"name": "only", "team": "bedroom-team", "hourly_exposure": "1.5k"}]`,
	}))
	c := s.Catalogue
	if c.WorkingHours.Location.String() != "America/New_York" {
		t.Errorf("timezone %s", c.WorkingHours.Location)
	}
	if got := workingDays(c.WorkingHours); got != "mon wed" {
		t.Errorf("days %q", got)
	}
	if c.WorkingHours.Start != 9*60 { // from the file
		t.Errorf("start %d", c.WorkingHours.Start)
	}
	if !reflect.DeepEqual(c.IncidentManagers, []string{"U0OTHER1"}) {
		t.Errorf("incident managers %q", c.IncidentManagers)
	}
	if len(c.Services) != 1 || c.Services[0].Name != "only" || c.Services[0].HourlyExposure != incident.USD.Major(1500) {
		t.Errorf("services %+v", c.Services)
	}
	if len(c.Teams) != 3 { // from the file
		t.Errorf("teams %d", len(c.Teams))
	}
}

func TestEnvironmentErrorsNameTheVariable(t *testing.T) {
	t.Chdir(t.TempDir())
	for env, want := range map[string]string{
		"INCIDENTBOT_SERVICES":                        "config: services (INCIDENTBOT_SERVICES): must be a JSON array",
		"INCIDENTBOT_ALERTMANAGER_AUTO_RESOLVE":       "config: alertmanager.auto_resolve (INCIDENTBOT_ALERTMANAGER_AUTO_RESOLVE): \"maybe\" is not true or false",
		"INCIDENTBOT_ORGANISATION_WORKING_HOURS_DAYS": "config: organisation.working_hours.days (INCIDENTBOT_ORGANISATION_WORKING_HOURS_DAYS): not a JSON array of strings",
	} {
		val := map[string]string{
			"INCIDENTBOT_SERVICES":                        `{"name": "x"}`,
			"INCIDENTBOT_ALERTMANAGER_AUTO_RESOLVE":       "maybe",
			"INCIDENTBOT_ORGANISATION_WORKING_HOURS_DAYS": `["mon",`,
		}[env]
		_, err := loadConfig("", envMap(map[string]string{env: val}))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s=%s: error %v, want %q", env, val, err, want)
		}
	}
}

// TestValidationErrorsNameTheKey changes one thing in the valid starter
// configuration and expects one error naming the key.
func TestValidationErrorsNameTheKey(t *testing.T) {
	base, err := loadConfig(writeStarter(t), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	clone := func() Config {
		// Deep copy through JSON: the cases mutate slices.
		b, _ := json.Marshal(base.Config)
		var c Config
		if err := json.Unmarshal(b, &c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	// Services in the starter: 0 ecommerce-platform, 1 appointments, 2 bedroom.
	cases := []struct {
		name   string
		change func(c *Config)
		want   string
	}{
		{"negative exposure", func(c *Config) { c.Services[1].HourlyExposure = "-5" },
			"config: services[1].hourly_exposure: must not be negative"},
		{"exposure not money", func(c *Config) { c.Services[1].HourlyExposure = "lots" },
			"config: services[1].hourly_exposure: \"lots\" is not an amount of money"},
		{"exposure missing", func(c *Config) { c.Services[0].HourlyExposure = "" },
			"config: services[0].hourly_exposure: is required"},
		{"availability out of range", func(c *Config) { c.Organisation.ExposureBands[2].Availability = "100.5" },
			"config: organisation.exposure_bands[2].availability: 100.5 is outside (0, 100)"},
		{"availability not a number", func(c *Config) { c.Organisation.ExposureBands[0].Availability = "high" },
			"config: organisation.exposure_bands[0].availability: \"high\" is not an availability level"},
		{"bands unsorted", func(c *Config) {
			b := c.Organisation.ExposureBands
			b[0], b[1] = b[1], b[0]
		}, "config: organisation.exposure_bands[1].max_hourly_exposure must be greater than exposure_bands[0]'s"},
		{"no bands", func(c *Config) { c.Organisation.ExposureBands = nil },
			"config: organisation.exposure_bands: at least one band is required"},
		{"band zero", func(c *Config) { c.Organisation.ExposureBands[0].MaxHourlyExposure = "0" },
			"config: organisation.exposure_bands[0].max_hourly_exposure: must be positive"},
		{"unknown team", func(c *Config) { c.Services[2].Team = "sofa-team" },
			"config: services[2].team: unknown team \"sofa-team\""},
		{"missing team", func(c *Config) { c.Services[2].Team = "" },
			"config: services[2].team is required"},
		{"unknown service domain", func(c *Config) { c.Services[2].Domain = "garden" },
			"config: services[2].domain: unknown domain \"garden\""},
		{"unknown team domain", func(c *Config) { c.Teams[0].Domain = "garden" },
			"config: teams[0].domain: unknown domain \"garden\""},
		{"unknown dependency", func(c *Config) { c.Services[2].DependsOn = []string{"ecommerce-platform", "payments"} },
			"config: services[2].depends_on[1]: unknown service \"payments\""},
		{"dependency cycle", func(c *Config) {
			c.Services[1].DependsOn = []string{"bedroom"}
			c.Services[2].DependsOn = []string{"appointments"}
		}, "config: services[1].depends_on: dependency cycle appointments → bedroom → appointments"},
		{"duplicate service", func(c *Config) { c.Services[1].Name = "ecommerce-platform" },
			"config: services[1].name \"ecommerce-platform\" is defined twice"},
		{"duplicate team", func(c *Config) { c.Teams[1].Name = "platform-team" },
			"config: teams[1].name \"platform-team\" is defined twice"},
		{"bad working day", func(c *Config) { c.Organisation.WorkingHours.Days = []string{"mon", "funday"} },
			"config: organisation.working_hours.days: \"funday\" is not a weekday"},
		{"bad working start", func(c *Config) { c.Organisation.WorkingHours.Start = "9am" },
			"config: organisation.working_hours.start: \"9am\" is not a time like 09:00"},
		{"end before start", func(c *Config) { c.Organisation.WorkingHours.End = "08:00" },
			"config: organisation.working_hours.end (08:00) must be after start (09:00)"},
		{"bad time zone", func(c *Config) { c.Organisation.Timezone = "Europe/Lodnon" },
			"config: organisation.timezone: \"Europe/Lodnon\" is not a known IANA time zone"},
		{"bad currency", func(c *Config) { c.Organisation.Currency = "XYZ" },
			"config: organisation.currency: \"XYZ\" is not a supported ISO 4217 currency code"},
		{"bad horizon", func(c *Config) { c.Organisation.ClassificationHorizon = "1 hour" },
			"config: organisation.classification_horizon: \"1 hour\" is not a duration like 30m"},
		{"zero commander timeout", func(c *Config) { c.Organisation.CommanderTimeout = "0s" },
			"config: organisation.commander_timeout: 0s must be positive"},
		{"negative update interval", func(c *Config) { c.Organisation.UpdateInterval = "-5m" },
			"config: organisation.update_interval: -5m must be positive"},
		{"bad grouping window", func(c *Config) { c.Alertmanager.GroupingWindow = "soon" },
			"config: alertmanager.grouping_window: \"soon\" is not a duration"},
		{"share above one", func(c *Config) { c.Organisation.ImpactShares.Degraded = "50" },
			"config: organisation.impact_shares.degraded: 50 is outside 0 to 1"},
		{"share percent above 100", func(c *Config) { c.Organisation.ImpactShares.Partial = "150%" },
			"config: organisation.impact_shares.partial: 150% is more than 100%"},
		{"threshold missing", func(c *Config) { c.Organisation.LossThresholds.High = "" },
			"config: organisation.loss_thresholds.high: is required"},
		{"medium above high", func(c *Config) { c.Organisation.LossThresholds.Medium = "200000" },
			"config: organisation.loss_thresholds.medium: $200,000 must not exceed high ($100,000)"},
		{"peak time", func(c *Config) { c.Services[2].Peaks[0].Start = "27/11/2026" },
			"config: services[2].peaks[0].start: \"27/11/2026\" is not an RFC 3339 time"},
		{"peak backwards", func(c *Config) { c.Services[2].Peaks[0].End = "2026-11-01T00:00:00Z" },
			"config: services[2].peaks[0].end: must be after start"},
		{"peak negative", func(c *Config) { c.Services[2].Peaks[0].HourlyExposure = "-1" },
			"config: services[2].peaks[0].hourly_exposure: must not be negative"},
		{"bad handoff", func(c *Config) { c.Teams[2].OnCall.Handoff = "monday morning" },
			"config: teams[2].oncall.handoff: \"monday morning\" is not a weekday and time"},
		{"bad rotation user", func(c *Config) { c.Domains[1].OnCall.Rotation[1] = "@alice" },
			"config: domains[1].oncall.rotation[1]: \"@alice\" is not a Slack member ID"},
		{"bad member", func(c *Config) { c.Teams[0].Members[0] = "alice" },
			"config: teams[0].members[0]: \"alice\" is not a Slack member ID"},
		{"bad incident manager", func(c *Config) { c.Slack.IncidentManagers = []string{"alice@example.com"} },
			"config: slack.incident_managers[0]: \"alice@example.com\" is not a Slack member ID"},
		{"escalation policy without PagerDuty", func(c *Config) { c.Teams[1].OnCall.PagerDutyEscalationPolicy = "PX" },
			"config: teams[1].oncall.pagerduty_escalation_policy: needs pagerduty.api_token"},
		{"PagerDuty without from_email", func(c *Config) { c.PagerDuty.APIToken = "x" },
			"config: pagerduty.from_email: is required with pagerduty.api_token"},
		{"bad from_email", func(c *Config) { c.PagerDuty.FromEmail = "bot" },
			"config: pagerduty.from_email: \"bot\" is not an e-mail address"},
		{"bad listen", func(c *Config) { c.HTTP.Listen = "8080" },
			"config: http.listen: \"8080\" is not host:port"},
		{"bad public url", func(c *Config) { c.HTTP.PublicURL = "incidents.example.com" },
			"config: http.public_url: \"incidents.example.com\" is not an absolute http(s) URL"},
		{"bad slack api url", func(c *Config) { c.Slack.APIURL = "slack" },
			"config: slack.api_url: \"slack\" is not an absolute http(s) URL"},
		{"swapped slack tokens", func(c *Config) { c.Slack.BotToken = "xapp-1-x" },
			"config: slack.bot_token: this is an app-level token"},
		{"empty storage path", func(c *Config) { c.Storage.Path = " " },
			"config: storage.path: is required"},
		{"unknown storage driver", func(c *Config) { c.Storage.Driver = "sqlite" },
			"config: storage.driver: \"sqlite\" is not a storage driver: use bbolt"},
		{"postgres without url", func(c *Config) { c.Storage.Driver = "postgres" },
			"config: storage.postgres.url: is required with storage.driver postgres: set INCIDENTBOT_STORAGE_POSTGRES_URL"},
		{"bad postgres url", func(c *Config) {
			c.Storage.Driver, c.Storage.Postgres.URL = "postgres", "postgres://bot:hunter2@db/x?sslmode=sometimes"
		}, "config: storage.postgres.url: postgres://bot:[redacted]@db/x?sslmode=sometimes is not a PostgreSQL connection URL"},
		{"unreadable postgres url", func(c *Config) {
			c.Storage.Driver, c.Storage.Postgres.URL = "postgres", "postgres://bot:hunter2@db:port/x"
		}, "config: storage.postgres.url: [redacted] is not a PostgreSQL connection URL"},
		{"bad max_conns", func(c *Config) { c.Storage.Postgres.MaxConns = "0" },
			"config: storage.postgres.max_conns: \"0\" is not a number of connections from 1 to 1000"},
		{"bad lease", func(c *Config) { c.Storage.Postgres.Lease = "ten" },
			"config: storage.postgres.lease: \"ten\" is not a duration"},
		{"short lease", func(c *Config) { c.Storage.Postgres.Lease = "100ms" },
			"config: storage.postgres.lease: 100ms is too short"},
		{"bad runbook", func(c *Config) { c.Services[0].Runbook = "wiki/runbook" },
			"config: services[0].runbook: \"wiki/runbook\" is not an absolute http(s) URL"},
		{"zero preview ttl", func(c *Config) { c.Review.PreviewTTL = "0s" },
			"config: review.preview_ttl: 0s must be positive"},
		{"bad preview ttl", func(c *Config) { c.Review.PreviewTTL = "a week" },
			"config: review.preview_ttl: \"a week\" is not a duration"},
		{"bad reader header", func(c *Config) { c.Review.ReaderHeader = "X-User: alice" },
			"config: review.reader_header: \"X-User: alice\" is not a header name"},
		{"overflowing availability", func(c *Config) { c.Organisation.ExposureBands[0].Availability = "18446744073709552" },
			"config: organisation.exposure_bands[0].availability: 18446744073709552 is outside (0, 100)"},
		{"hexadecimal exposure", func(c *Config) { c.Services[1].HourlyExposure = "0x10" },
			"config: services[1].hourly_exposure: \"0x10\" is not an amount of money"},
		{"exposure with a binary exponent", func(c *Config) { c.Services[1].HourlyExposure = "1p4" },
			"config: services[1].hourly_exposure: \"1p4\" is not an amount of money"},
		{"exposure badly grouped", func(c *Config) { c.Services[1].HourlyExposure = "1,5" },
			"config: services[1].hourly_exposure: \"1,5\" is not an amount of money"},
		{"hexadecimal float share", func(c *Config) { c.Organisation.ImpactShares.Partial = "0x1p-1" },
			"config: organisation.impact_shares.partial: \"0x1p-1\" is not a share like 0.5 or 50%"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := clone()
			tc.change(&c)
			_, _, err := newSettings(c)
			if err == nil {
				t.Fatalf("no error; want %q", tc.want)
			}
			if !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("error\n %q\nwant prefix\n %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error spans lines: %q", err)
			}
		})
	}
	// And the unchanged base is valid.
	if _, _, err := newSettings(clone()); err != nil {
		t.Fatalf("base: %v", err)
	}
}

func TestServeRequiresSlackTokens(t *testing.T) {
	s := mustSettings(t, writeStarter(t), noEnv)
	err := requireSlack(s)
	if err == nil || !strings.Contains(err.Error(), "slack.bot_token") || !strings.Contains(err.Error(), "--sandbox") {
		t.Errorf("no bot token: %v", err)
	}
	s.Slack.BotToken = "xoxb-1"
	err = requireSlack(s)
	if err == nil || !strings.Contains(err.Error(), "slack.app_token") || !strings.Contains(err.Error(), "--sandbox") {
		t.Errorf("no app token: %v", err)
	}
	s.Slack.AppToken = "xapp-1"
	if err := requireSlack(s); err != nil {
		t.Errorf("both tokens: %v", err)
	}
}

func TestUnknownKeysWarn(t *testing.T) {
	data, _ := templates.Starter.ReadFile("starter/incidentbot.yaml")
	text := string(data) + "\nslak:\n  bot_token: x\n"
	text = strings.Replace(text, "  announce_channel:", "  anounce_channel:", 1)
	text = strings.Replace(text, "    hourly_exposure: 6000", "    hourly_exposur: 6000", 1)
	lc, err := loadConfig(writeConfig(t, text), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(lc.Warnings, "\n")
	for _, want := range []string{`unknown key "slak"`, `unknown key "slack.anounce_channel"`, `unknown key "services[1].hourly_exposur"`} {
		if !strings.Contains(got, want) {
			t.Errorf("warnings %q lack %q", got, want)
		}
	}
	if len(lc.Warnings) != 3 {
		t.Errorf("warnings: %q", lc.Warnings)
	}
}

func TestYAMLValues(t *testing.T) {
	text := `
organisation:
  working_hours: {days: "mon, tue", start: "10:00", end: "18:00"}
  exposure_bands:
    - {max_hourly_exposure: 0.1, availability: 99.99}
    - {max_hourly_exposure: 1e6, availability: 99.999}
    - {max_hourly_exposure: 9007199254740.99, availability: "99.9995"}
  loss_thresholds: {high: 1234567.89, medium: 0.07}
teams: [{name: t}]
services:
  - name: s
    team: t
    hourly_exposure: 1_000
    peaks: [{name: Sale, start: 2026-11-27T00:00:00Z, end: 2026-11-30T23:59:59+01:00, hourly_exposure: 2.5k}]
`
	lc, err := loadConfig(writeConfig(t, text), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = newSettings(lc.Config)
	// 99.9995 has four decimals: more than Availability holds.
	if err == nil || !strings.Contains(err.Error(), "organisation.exposure_bands[2].availability") {
		t.Fatalf("error %v", err)
	}
	lc.Config.Organisation.ExposureBands[2].Availability = "99.999"
	lc.Config.Organisation.ExposureBands[1].Availability = "99.995"
	s, _, err := newSettings(lc.Config)
	if err != nil {
		t.Fatal(err)
	}
	want := incident.Bands{
		{MaxHourlyExposure: 10, Availability: 99_990},
		{MaxHourlyExposure: 100000000, Availability: 99_995},
		{MaxHourlyExposure: 900719925474099, Availability: 99_999},
	}
	if !reflect.DeepEqual(s.Catalogue.Bands, want) {
		t.Errorf("bands %+v, want %+v", s.Catalogue.Bands, want)
	}
	if s.Catalogue.Thresholds != (incident.Thresholds{High: 123456789, Medium: 7}) {
		t.Errorf("thresholds %+v", s.Catalogue.Thresholds)
	}
	if got := workingDays(s.Catalogue.WorkingHours); got != "mon tue" {
		t.Errorf("days %q", got)
	}
	svc := s.Catalogue.Services[0]
	if svc.HourlyExposure != 100000 || len(svc.Peaks) != 1 || svc.Peaks[0].HourlyExposure != 250000 ||
		!svc.Peaks[0].Start.Equal(time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)) ||
		!svc.Peaks[0].End.Equal(time.Date(2026, 11, 30, 22, 59, 59, 0, time.UTC)) {
		t.Errorf("service %+v", svc)
	}
}

func TestParseShare(t *testing.T) {
	for in, want := range map[string]incident.Share{
		"1.0": 10000, "1": 10000, "0.5": 5000, "0.1": 1000, "0": 0, "0.0001": 1, "10%": 1000, "2.5%": 250, "100%": 10000,
	} {
		got, err := parseShare("k", in)
		if err != nil || got != want {
			t.Errorf("parseShare(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "1.5", "-0.1", "0.00001", "1e-1", "1/2", "half", "101%"} {
		if _, err := parseShare("k", in); err == nil {
			t.Errorf("parseShare(%q): no error", in)
		}
	}
}

func TestSecretsNeverPrinted(t *testing.T) {
	s := mustSettings(t, "", envMap(allEnv()))
	secrets := []string{"xoxb-bot-secret", "xapp-app-secret", "api-secret", "pd-secret", "webhook-secret", "am-secret", "pg-secret"}

	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("settings", "settings", s, "token", s.Slack.BotToken)
	var textLogged bytes.Buffer
	slog.New(slog.NewTextHandler(&textLogged, nil)).Info("settings", "settings", s, "http", s.HTTP)
	js, _ := json.Marshal(s.HTTP)

	outputs := map[string]string{
		"String()":     s.String(),
		"%v":           fmt.Sprintf("%v", s),
		"%+v":          fmt.Sprintf("%+v", s),
		"%#v":          fmt.Sprintf("%#v", s),
		"%+v slack":    fmt.Sprintf("%+v", s.Slack),
		"%#v slack":    fmt.Sprintf("%#v", s.Slack),
		"%x token":     fmt.Sprintf("%x", s.Slack.BotToken),
		"%s pd":        fmt.Sprintf("%s", s.PagerDuty),
		"%#v storage":  fmt.Sprintf("%#v", s.Storage),
		"%v pg url":    fmt.Sprintf("%v", s.Storage.Postgres.URL),
		"%q token":     fmt.Sprintf("%q", s.HTTP.APIToken),
		"slog JSON":    logged.String(),
		"slog text":    textLogged.String(),
		"json.Marshal": string(js),
	}
	for name, out := range outputs {
		for _, secret := range secrets {
			if strings.Contains(out, secret) {
				t.Errorf("%s shows %q: %s", name, secret, out)
			}
		}
	}
	if !strings.Contains(s.String(), "bot_token=[redacted]") || !strings.Contains(logged.String(), `"bot_token":"[redacted]"`) {
		t.Errorf("String %s\nlog %s", s.String(), logged.String())
	}
	if want := "postgres.url=postgres://incidentbot:[redacted]@db.example.com:5432/incidentbot?sslmode=require"; !strings.Contains(s.String(), want) {
		t.Errorf("String lacks %s: %s", want, s.String())
	}
	if !strings.Contains(s.String(), "listen=0.0.0.0:9090") {
		t.Errorf("String lacks non-secret values: %s", s.String())
	}
}

func TestRedactConnString(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://bot:s3cret@db:5432/incidentbot":           "postgres://bot:[redacted]@db:5432/incidentbot",
		"postgresql://bot@db/incidentbot?password=s3cret&x=1": "postgresql://bot@db/incidentbot?password=[redacted]&x=1",
		"postgres:///incidentbot?host=/run/postgresql":        "postgres:///incidentbot?host=%2Frun%2Fpostgresql",
		"host=db user=bot password=s3cret dbname=incidentbot": "host=db user=bot password=[redacted] dbname=incidentbot",
		"host=db password = 's3 cr\\'et' dbname=incidentbot":  "host=db password = [redacted] dbname=incidentbot",
		"postgres://bot:s3cret@db:5432/incidentbot%zz":        "[redacted]",
		"": "",
	} {
		if got := redactConnString(in); got != want {
			t.Errorf("redactConnString(%q) = %q, want %q", in, got, want)
		}
		if strings.Contains(redactConnString(in), "s3") {
			t.Errorf("%q shows the password", in)
		}
	}
}
