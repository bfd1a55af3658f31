package main

import (
	"fmt"
	"log/slog"
	"net"
	"net/mail"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/incidentbot/incidentbot/incident"
)

// Settings are the typed, validated configuration the rest of the bot is
// wired with. Build them with newSettings; print them freely: secrets are
// redacted by String, LogValue and every fmt verb.
type Settings struct {
	Slack        SlackSettings
	HTTP         HTTPSettings
	Storage      StorageSettings
	PagerDuty    PagerDutySettings
	Alertmanager AlertmanagerSettings
	Review       ReviewSettings
	// Catalogue holds the pricing policy (currency, bands, shares,
	// thresholds, horizon, working hours with the time zone), services
	// (sorted by name, domain filled from the team), teams, domains, the
	// incident managers and their PagerDuty escalation policy.
	Catalogue incident.Catalogue
	// CommanderTimeout: how long a major incident waits for a volunteer
	// commander before the on-call incident manager is asked.
	CommanderTimeout time.Duration
	// UpdateInterval: how often the commander is reminded to post a
	// stakeholder update.
	UpdateInterval time.Duration
	// GroupingWindow: new alerts for a service with an open incident younger
	// than this join it instead of opening another (alertmanager.grouping_window).
	GroupingWindow time.Duration
	// JobTimeout is the deadline of one run of a job (jobs.timeout).
	JobTimeout time.Duration
}

type SlackSettings struct {
	BotToken        Secret        // xoxb-…
	AppToken        Secret        // xapp-…, Socket Mode
	APIURL          string        // always ends with "/"
	AnnounceChannel string        // name (without #) or ID; "" for none
	CallTimeout     time.Duration // deadline of one Web API call
}

type HTTPSettings struct {
	Listen    string // host:port
	PublicURL string // absolute, no trailing "/"
	APIToken  Secret // bearer token for /api/*; "" disables the API
}

type StorageSettings struct {
	Driver   string // DriverBbolt or DriverPostgres
	Path     string // bbolt database file
	Postgres PostgresSettings
}

// Storage drivers.
const (
	DriverBbolt    = "bbolt"
	DriverPostgres = "postgres"
)

type PostgresSettings struct {
	URL      ConnString    // libpq URL or key=value string
	MaxConns int           // connection pool size
	Lease    time.Duration // how long a claim on a job lasts without renewal
}

// Describe says where the storage is, secrets redacted.
func (s StorageSettings) Describe() string {
	if s.Driver == DriverPostgres {
		return "postgres " + s.Postgres.URL.String()
	}
	return "bbolt " + s.Path
}

// ConnString is a database connection string: it prints with its password
// redacted (postgres://bot:[redacted]@db/incidentbot) whatever the verb;
// Reveal returns it whole for the one place that connects.
type ConnString string

// Reveal returns the connection string.
func (c ConnString) Reveal() string { return string(c) }

func (c ConnString) String() string { return redactConnString(string(c)) }

// Format makes every fmt verb print the redacted form.
func (c ConnString) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(c.String())) }

func (c ConnString) LogValue() slog.Value { return slog.StringValue(c.String()) }

func (c ConnString) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

func (c ConnString) MarshalJSON() ([]byte, error) { return []byte(strconv.Quote(c.String())), nil }

// kvPassword finds password=… in a key=value connection string.
var kvPassword = regexp.MustCompile(`(?i)(password\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s]*)`)

// redactConnString hides the password of a URL (user info or ?password=)
// or of a key=value string; a string it cannot read is hidden whole.
func redactConnString(s string) string {
	if s == "" {
		return ""
	}
	if !strings.Contains(s, "://") {
		return kvPassword.ReplaceAllString(s, "${1}"+redacted)
	}
	u, err := url.Parse(s)
	if err != nil {
		return redacted
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "REDACTED")
	}
	q := u.Query()
	for k := range q {
		if strings.EqualFold(k, "password") {
			q.Set(k, "REDACTED")
		}
	}
	u.RawQuery = q.Encode()
	return strings.ReplaceAll(u.String(), "REDACTED", redacted)
}

type PagerDutySettings struct {
	APIToken      Secret
	APIURL        string
	WebhookSecret Secret
	FromEmail     string
	// IncidentManagerEscalationPolicy is also in
	// Catalogue.IncidentManagerOnCall.EscalationPolicy.
	IncidentManagerEscalationPolicy string
}

// Enabled reports whether the PagerDuty REST API is configured.
func (p PagerDutySettings) Enabled() bool { return p.APIToken != "" }

type AlertmanagerSettings struct {
	BearerToken  Secret // required of the webhook when set
	ServiceLabel string
	AutoResolve  bool // resolve the incident when all its linked alerts resolve
	// GroupRelated: alerts of related services (one depends on the other,
	// or both on the same service) join one incident.
	GroupRelated bool
}

type ReviewSettings struct {
	TemplatesDir string        // "" for the built-in templates
	PreviewTTL   time.Duration // how long a review's preview link works
	// ReaderHeader names the header an authenticating proxy sets to the
	// reader's identity; "" counts readers by cookie only.
	ReaderHeader string
}

// Secret is a credential. It prints as "[redacted]" (or "" when unset)
// whatever the verb, in logs and in JSON; Reveal returns the value for the
// one place that sends it.
type Secret string

const redacted = "[redacted]"

// Reveal returns the secret's value.
func (s Secret) Reveal() string { return string(s) }

func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// Format makes every fmt verb, %#v and %x included, print the redacted form.
func (s Secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(s.String())) }

func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

func (s Secret) MarshalJSON() ([]byte, error) { return []byte(strconv.Quote(s.String())), nil }

// String summarises the settings on one line, secrets redacted.
func (s Settings) String() string {
	c := s.Catalogue
	loc := "UTC"
	if c.WorkingHours.Location != nil {
		loc = c.WorkingHours.Location.String()
	}
	return fmt.Sprintf("slack{api_url=%s bot_token=%s app_token=%s announce_channel=%s incident_managers=%d} "+
		"http{listen=%s public_url=%s api_token=%s} storage{driver=%s path=%s postgres.url=%s postgres.max_conns=%d postgres.lease=%s} "+
		"pagerduty{api_url=%s api_token=%s webhook_secret=%s from_email=%s incident_manager_escalation_policy=%s} "+
		"alertmanager{bearer_token=%s service_label=%s auto_resolve=%t grouping_window=%s group_related=%t} "+
		"organisation{currency=%s timezone=%s bands=%d horizon=%s commander_timeout=%s update_interval=%s} "+
		"catalogue{services=%d teams=%d domains=%d} review{templates_dir=%s preview_ttl=%s reader_header=%s}",
		s.Slack.APIURL, s.Slack.BotToken, s.Slack.AppToken, s.Slack.AnnounceChannel, len(c.IncidentManagers),
		s.HTTP.Listen, s.HTTP.PublicURL, s.HTTP.APIToken, s.Storage.Driver, s.Storage.Path,
		s.Storage.Postgres.URL, s.Storage.Postgres.MaxConns, s.Storage.Postgres.Lease,
		s.PagerDuty.APIURL, s.PagerDuty.APIToken, s.PagerDuty.WebhookSecret, s.PagerDuty.FromEmail, s.PagerDuty.IncidentManagerEscalationPolicy,
		s.Alertmanager.BearerToken, s.Alertmanager.ServiceLabel, s.Alertmanager.AutoResolve, s.GroupingWindow, s.Alertmanager.GroupRelated,
		c.Currency.Code, loc, len(c.Bands), c.Horizon, s.CommanderTimeout, s.UpdateInterval,
		len(c.Services), len(c.Teams), len(c.Domains), s.Review.TemplatesDir, s.Review.PreviewTTL, s.Review.ReaderHeader)
}

// LogValue logs the settings as groups, secrets redacted.
func (s Settings) LogValue() slog.Value {
	c := s.Catalogue
	loc := "UTC"
	if c.WorkingHours.Location != nil {
		loc = c.WorkingHours.Location.String()
	}
	return slog.GroupValue(
		slog.Group("slack", "api_url", s.Slack.APIURL, "bot_token", s.Slack.BotToken, "app_token", s.Slack.AppToken,
			"announce_channel", s.Slack.AnnounceChannel, "incident_managers", len(c.IncidentManagers)),
		slog.Group("http", "listen", s.HTTP.Listen, "public_url", s.HTTP.PublicURL, "api_token", s.HTTP.APIToken),
		slog.Group("storage", "driver", s.Storage.Driver, "path", s.Storage.Path,
			slog.Group("postgres", "url", s.Storage.Postgres.URL, "max_conns", s.Storage.Postgres.MaxConns,
				"lease", s.Storage.Postgres.Lease.String())),
		slog.Group("pagerduty", "api_url", s.PagerDuty.APIURL, "api_token", s.PagerDuty.APIToken,
			"webhook_secret", s.PagerDuty.WebhookSecret, "from_email", s.PagerDuty.FromEmail,
			"incident_manager_escalation_policy", s.PagerDuty.IncidentManagerEscalationPolicy),
		slog.Group("alertmanager", "bearer_token", s.Alertmanager.BearerToken, "service_label", s.Alertmanager.ServiceLabel,
			"auto_resolve", s.Alertmanager.AutoResolve, "grouping_window", s.GroupingWindow.String(),
			"group_related", s.Alertmanager.GroupRelated),
		slog.Group("organisation", "currency", c.Currency.Code, "timezone", loc, "bands", len(c.Bands),
			"classification_horizon", c.Horizon.String(), "commander_timeout", s.CommanderTimeout.String(),
			"update_interval", s.UpdateInterval.String()),
		slog.Group("catalogue", "services", len(c.Services), "teams", len(c.Teams), "domains", len(c.Domains)),
		slog.Group("review", "templates_dir", s.Review.TemplatesDir, "preview_ttl", s.Review.PreviewTTL.String(), "reader_header", s.Review.ReaderHeader),
	)
}

// configError is a configuration problem: its message names the key.
type configError struct {
	Key, Msg string
}

func (e *configError) Error() string { return "config: " + e.Key + ": " + e.Msg }

func cfgErr(key, format string, args ...any) error {
	return &configError{Key: key, Msg: fmt.Sprintf(format, args...)}
}

// domainErr prefixes a domain validation message, which already names its
// key (without "organisation." for exposure bands).
func domainErr(err error) error {
	msg := incident.ErrorMessage(err)
	if strings.HasPrefix(msg, "exposure_bands") {
		msg = "organisation." + msg
	}
	return fmt.Errorf("config: %s", msg)
}

// slackUserID is a Slack member ID: U… or W… (Enterprise Grid).
var slackUserID = regexp.MustCompile(`^[UW][A-Z0-9]{2,}$`)

// defaultHandoff is a rotation's handoff when none is given.
const defaultHandoff = "mon 09:00"

// newSettings converts and validates the configuration. The first problem
// found is returned, naming its key; warnings are problems that do not stop
// the bot.
func newSettings(c Config) (Settings, []string, error) {
	var s Settings
	var warnings []string
	org := c.Organisation
	cat := &s.Catalogue

	// Organisation.
	cur, ok := incident.LookupCurrency(strings.TrimSpace(org.Currency))
	if !ok {
		return s, nil, cfgErr("organisation.currency", "%q is not a supported ISO 4217 currency code like USD, EUR or GBP", org.Currency)
	}
	cat.Currency = cur
	tz := strings.TrimSpace(org.Timezone)
	if tz == "" || tz == "Local" {
		return s, nil, cfgErr("organisation.timezone", "%q is not a time zone: give an IANA name like Europe/London or UTC", org.Timezone)
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return s, nil, cfgErr("organisation.timezone", "%q is not a known IANA time zone like Europe/London", org.Timezone)
	}
	if cat.WorkingHours, err = incident.ParseWorkingHours(org.WorkingHours.Days, org.WorkingHours.Start, org.WorkingHours.End, loc); err != nil {
		return s, nil, domainErr(err)
	}

	if len(org.ExposureBands) == 0 {
		return s, nil, cfgErr("organisation.exposure_bands", "at least one band is required, like {max_hourly_exposure: 7000, availability: 95.0}")
	}
	for i, b := range org.ExposureBands {
		key := fmt.Sprintf("organisation.exposure_bands[%d]", i)
		m, err := parseMoney(cur, key+".max_hourly_exposure", b.MaxHourlyExposure)
		if err != nil {
			return s, nil, err
		}
		if m == 0 {
			return s, nil, cfgErr(key+".max_hourly_exposure", "must be positive")
		}
		a, err := parseAvailability(key+".availability", b.Availability)
		if err != nil {
			return s, nil, err
		}
		cat.Bands = append(cat.Bands, incident.Band{MaxHourlyExposure: m, Availability: a})
	}
	if err := cat.Bands.Validate(); err != nil {
		return s, nil, domainErr(err)
	}

	for _, sh := range []struct {
		key string
		in  string
		out *incident.Share
	}{
		{"organisation.impact_shares.blocked", org.ImpactShares.Blocked, &cat.Shares.Blocked},
		{"organisation.impact_shares.degraded", org.ImpactShares.Degraded, &cat.Shares.Degraded},
		{"organisation.impact_shares.partial", org.ImpactShares.Partial, &cat.Shares.Partial},
	} {
		if *sh.out, err = parseShare(sh.key, sh.in); err != nil {
			return s, nil, err
		}
	}

	if strings.TrimSpace(org.LossThresholds.High) == "" {
		return s, nil, cfgErr("organisation.loss_thresholds.high", "is required: the estimated loss from which an incident is Major, like 100000")
	}
	if cat.Thresholds.High, err = parseMoney(cur, "organisation.loss_thresholds.high", org.LossThresholds.High); err != nil {
		return s, nil, err
	}
	if cat.Thresholds.High == 0 {
		return s, nil, cfgErr("organisation.loss_thresholds.high", "must be positive")
	}
	if strings.TrimSpace(org.LossThresholds.Medium) == "" {
		return s, nil, cfgErr("organisation.loss_thresholds.medium", "is required: the estimated loss from which a Minor incident is fixed by the next working day, like 10000")
	}
	if cat.Thresholds.Medium, err = parseMoney(cur, "organisation.loss_thresholds.medium", org.LossThresholds.Medium); err != nil {
		return s, nil, err
	}
	if cat.Thresholds.Medium > cat.Thresholds.High {
		return s, nil, cfgErr("organisation.loss_thresholds.medium", "%s must not exceed high (%s)", cur.Format(cat.Thresholds.Medium), cur.Format(cat.Thresholds.High))
	}

	if cat.Horizon, err = parseDuration("organisation.classification_horizon", org.ClassificationHorizon, true); err != nil {
		return s, nil, err
	}
	if s.CommanderTimeout, err = parseDuration("organisation.commander_timeout", org.CommanderTimeout, false); err != nil {
		return s, nil, err
	}
	if s.UpdateInterval, err = parseDuration("organisation.update_interval", org.UpdateInterval, false); err != nil {
		return s, nil, err
	}
	if s.GroupingWindow, err = parseDuration("alertmanager.grouping_window", c.Alertmanager.GroupingWindow, true); err != nil {
		return s, nil, err
	}
	callTimeout, err := parseBoundedDuration("slack.call_timeout", c.Slack.CallTimeout, time.Minute)
	if err != nil {
		return s, nil, err
	}
	if s.JobTimeout, err = parseBoundedDuration("jobs.timeout", c.Jobs.Timeout, 5*time.Minute); err != nil {
		return s, nil, err
	}

	// Domains, teams, services.
	for i, d := range c.Domains {
		key := fmt.Sprintf("domains[%d]", i)
		oc, err := parseOnCall(key+".oncall", d.OnCall)
		if err != nil {
			return s, nil, err
		}
		if oc.EscalationPolicy == "" && len(oc.Rotation.Users) == 0 {
			warnings = append(warnings, fmt.Sprintf("warning: %s.oncall: domain %q has no on-call (pagerduty_escalation_policy or rotation): out-of-hours callouts of its 99.0%% services will find nobody", key, d.Name))
		}
		cat.Domains = append(cat.Domains, incident.Domain{Name: strings.TrimSpace(d.Name), OnCall: oc})
	}
	for i, t := range c.Teams {
		key := fmt.Sprintf("teams[%d]", i)
		if err := checkUsers(key+".members", t.Members); err != nil {
			return s, nil, err
		}
		oc, err := parseOnCall(key+".oncall", t.OnCall)
		if err != nil {
			return s, nil, err
		}
		if oc.EscalationPolicy == "" && len(oc.Rotation.Users) == 0 {
			warnings = append(warnings, fmt.Sprintf("warning: %s.oncall: team %q has no on-call (pagerduty_escalation_policy or rotation): callouts of its services will find nobody", key, t.Name))
		}
		cat.Teams = append(cat.Teams, incident.Team{
			Name: strings.TrimSpace(t.Name), Domain: strings.TrimSpace(t.Domain), Members: t.Members, OnCall: oc,
		})
	}
	for i, sc := range c.Services {
		key := fmt.Sprintf("services[%d]", i)
		if strings.TrimSpace(sc.HourlyExposure) == "" {
			return s, nil, cfgErr(key+".hourly_exposure", "is required: the loss per hour if %q is fully unavailable", sc.Name)
		}
		exp, err := parseMoney(cur, key+".hourly_exposure", sc.HourlyExposure)
		if err != nil {
			return s, nil, err
		}
		svc := incident.Service{
			Name:               strings.TrimSpace(sc.Name),
			Team:               strings.TrimSpace(sc.Team),
			Domain:             strings.TrimSpace(sc.Domain),
			HourlyExposure:     exp,
			PagerDutyServiceID: strings.TrimSpace(sc.PagerDutyServiceID),
			Runbook:            strings.TrimSpace(sc.Runbook),
		}
		for _, d := range sc.DependsOn {
			svc.DependsOn = append(svc.DependsOn, strings.TrimSpace(d))
		}
		if svc.Runbook != "" {
			if err := checkURL(key+".runbook", svc.Runbook); err != nil {
				return s, nil, err
			}
		}
		for j, p := range sc.Peaks {
			pkey := fmt.Sprintf("%s.peaks[%d]", key, j)
			var peak incident.Peak
			peak.Name = strings.TrimSpace(p.Name)
			if peak.Name == "" {
				return s, nil, cfgErr(pkey+".name", "is required, like Black Friday")
			}
			if peak.Start, err = parseTime(pkey+".start", p.Start); err != nil {
				return s, nil, err
			}
			if peak.End, err = parseTime(pkey+".end", p.End); err != nil {
				return s, nil, err
			}
			if !peak.End.After(peak.Start) {
				return s, nil, cfgErr(pkey+".end", "must be after start")
			}
			if strings.TrimSpace(p.HourlyExposure) == "" {
				return s, nil, cfgErr(pkey+".hourly_exposure", "is required")
			}
			if peak.HourlyExposure, err = parseMoney(cur, pkey+".hourly_exposure", p.HourlyExposure); err != nil {
				return s, nil, err
			}
			svc.Peaks = append(svc.Peaks, peak)
		}
		cat.Services = append(cat.Services, svc)
	}
	if err := checkUsers("slack.incident_managers", c.Slack.IncidentManagers); err != nil {
		return s, nil, err
	}
	cat.IncidentManagers = c.Slack.IncidentManagers
	cat.IncidentManagerOnCall.EscalationPolicy = strings.TrimSpace(c.PagerDuty.IncidentManagerEscalationPolicy)

	// Names, uniqueness, references: the domain's own checks, on the
	// configuration's order so that indexes match the file.
	if err := cat.Validate(); err != nil {
		return s, nil, domainErr(err)
	}
	cat.Normalize()

	// Adapters.
	s.Slack = SlackSettings{
		BotToken:        Secret(strings.TrimSpace(c.Slack.BotToken)),
		AppToken:        Secret(strings.TrimSpace(c.Slack.AppToken)),
		APIURL:          strings.TrimSpace(c.Slack.APIURL),
		AnnounceChannel: strings.TrimPrefix(strings.TrimSpace(c.Slack.AnnounceChannel), "#"),
		CallTimeout:     callTimeout,
	}
	if err := checkURL("slack.api_url", s.Slack.APIURL); err != nil {
		return s, nil, err
	}
	if !strings.HasSuffix(s.Slack.APIURL, "/") {
		s.Slack.APIURL += "/" // slack-go needs the trailing slash
	}
	if strings.HasPrefix(string(s.Slack.BotToken), "xapp-") {
		return s, nil, cfgErr("slack.bot_token", "this is an app-level token (xapp-…): slack.bot_token takes the Bot User OAuth Token (xoxb-…), slack.app_token the app-level one")
	}
	if strings.HasPrefix(string(s.Slack.AppToken), "xox") {
		return s, nil, cfgErr("slack.app_token", "this is an OAuth token (xox…): slack.app_token takes an app-level token with connections:write (xapp-…)")
	}

	s.HTTP = HTTPSettings{
		Listen:    strings.TrimSpace(c.HTTP.Listen),
		PublicURL: strings.TrimRight(strings.TrimSpace(c.HTTP.PublicURL), "/"),
		APIToken:  Secret(strings.TrimSpace(c.HTTP.APIToken)),
	}
	if _, port, err := net.SplitHostPort(s.HTTP.Listen); err != nil {
		return s, nil, cfgErr("http.listen", "%q is not host:port like 127.0.0.1:8080 or :8080", c.HTTP.Listen)
	} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return s, nil, cfgErr("http.listen", "%q has no valid port", c.HTTP.Listen)
	}
	if err := checkURL("http.public_url", s.HTTP.PublicURL); err != nil {
		return s, nil, err
	}

	if s.Storage, err = storageSettings(c.Storage); err != nil {
		return s, nil, err
	}

	s.PagerDuty = PagerDutySettings{
		APIToken:                        Secret(strings.TrimSpace(c.PagerDuty.APIToken)),
		APIURL:                          strings.TrimRight(strings.TrimSpace(c.PagerDuty.APIURL), "/"),
		WebhookSecret:                   Secret(strings.TrimSpace(c.PagerDuty.WebhookSecret)),
		FromEmail:                       strings.TrimSpace(c.PagerDuty.FromEmail),
		IncidentManagerEscalationPolicy: cat.IncidentManagerOnCall.EscalationPolicy,
	}
	if err := checkURL("pagerduty.api_url", s.PagerDuty.APIURL); err != nil {
		return s, nil, err
	}
	if s.PagerDuty.FromEmail != "" {
		if a, err := mail.ParseAddress(s.PagerDuty.FromEmail); err != nil || a.Address != s.PagerDuty.FromEmail {
			return s, nil, cfgErr("pagerduty.from_email", "%q is not an e-mail address", s.PagerDuty.FromEmail)
		}
	}
	if s.PagerDuty.Enabled() && s.PagerDuty.FromEmail == "" {
		return s, nil, cfgErr("pagerduty.from_email", "is required with pagerduty.api_token: PagerDuty needs a user's e-mail to update incidents")
	}
	if !s.PagerDuty.Enabled() {
		if key := pagerDutyUser(c); key != "" {
			return s, nil, cfgErr(key, "needs pagerduty.api_token (INCIDENTBOT_PAGERDUTY_API_TOKEN) to read PagerDuty")
		}
	}

	s.Alertmanager = AlertmanagerSettings{
		BearerToken:  Secret(strings.TrimSpace(c.Alertmanager.BearerToken)),
		ServiceLabel: strings.TrimSpace(c.Alertmanager.ServiceLabel),
		AutoResolve:  c.Alertmanager.AutoResolve,
		GroupRelated: c.Alertmanager.GroupRelated,
	}
	if s.Alertmanager.ServiceLabel == "" {
		return s, nil, cfgErr("alertmanager.service_label", "is required, like service")
	}
	s.Review.TemplatesDir = strings.TrimSpace(c.Review.TemplatesDir)
	if s.Review.PreviewTTL, err = parseDuration("review.preview_ttl", c.Review.PreviewTTL, false); err != nil {
		return s, nil, err
	}
	s.Review.ReaderHeader = strings.TrimSpace(c.Review.ReaderHeader)
	if h := s.Review.ReaderHeader; h != "" && !validHeaderName(h) {
		return s, nil, cfgErr("review.reader_header", "%q is not a header name like X-Forwarded-Email", h)
	}
	return s, warnings, nil
}

// storageSettings validates the storage keys.
func storageSettings(c StorageConfig) (StorageSettings, error) {
	s := StorageSettings{
		Driver: strings.ToLower(strings.TrimSpace(c.Driver)),
		Path:   strings.TrimSpace(c.Path),
	}
	pg := &s.Postgres
	n, err := strconv.Atoi(strings.TrimSpace(c.Postgres.MaxConns))
	if err != nil || n < 1 || n > 1000 {
		return s, cfgErr("storage.postgres.max_conns", "%q is not a number of connections from 1 to 1000", c.Postgres.MaxConns)
	}
	pg.MaxConns = n
	if pg.Lease, err = parseDuration("storage.postgres.lease", c.Postgres.Lease, false); err != nil {
		return s, err
	}
	if pg.Lease < time.Second {
		return s, cfgErr("storage.postgres.lease", "%s is too short: a replica renews its claims every quarter of the lease; use at least 1s, like 10s", c.Postgres.Lease)
	}
	pg.URL = ConnString(strings.TrimSpace(c.Postgres.URL))
	switch s.Driver {
	case DriverBbolt:
		if s.Path == "" {
			return s, cfgErr("storage.path", "is required, like incidentbot.db")
		}
		return s, nil
	case DriverPostgres:
	default:
		return s, cfgErr("storage.driver", "%q is not a storage driver: use bbolt (one process, a local file) or postgres (several replicas)", c.Driver)
	}
	if pg.URL == "" {
		return s, cfgErr("storage.postgres.url", "is required with storage.driver postgres: set INCIDENTBOT_STORAGE_POSTGRES_URL to a URL like postgres://incidentbot:PASSWORD@db.example.com:5432/incidentbot")
	}
	if _, err := pgconn.ParseConfig(pg.URL.Reveal()); err != nil {
		return s, cfgErr("storage.postgres.url", "%s is not a PostgreSQL connection URL like postgres://incidentbot:PASSWORD@db.example.com:5432/incidentbot?sslmode=require", pg.URL)
	}
	return s, nil
}

// requireSlack checks what serve needs beyond a valid configuration.
func requireSlack(s Settings) error {
	const try = "to try incidentbot without Slack, run `incidentbot serve --sandbox`"
	if s.Slack.BotToken == "" {
		return cfgErr("slack.bot_token", "is required to serve: set INCIDENTBOT_SLACK_BOT_TOKEN to the Bot User OAuth Token (xoxb-…); %s", try)
	}
	if s.Slack.AppToken == "" {
		return cfgErr("slack.app_token", "is required to serve (Socket Mode): set INCIDENTBOT_SLACK_APP_TOKEN to an app-level token with connections:write (xapp-…); %s", try)
	}
	return nil
}

// pagerDutyUser returns the first key that refers to PagerDuty, or "".
func pagerDutyUser(c Config) string {
	if c.PagerDuty.IncidentManagerEscalationPolicy != "" {
		return "pagerduty.incident_manager_escalation_policy"
	}
	for i, t := range c.Teams {
		if t.OnCall.PagerDutyEscalationPolicy != "" {
			return fmt.Sprintf("teams[%d].oncall.pagerduty_escalation_policy", i)
		}
	}
	for i, d := range c.Domains {
		if d.OnCall.PagerDutyEscalationPolicy != "" {
			return fmt.Sprintf("domains[%d].oncall.pagerduty_escalation_policy", i)
		}
	}
	return ""
}

func parseOnCall(key string, c OnCallConfig) (incident.OnCall, error) {
	var oc incident.OnCall
	oc.EscalationPolicy = strings.TrimSpace(c.PagerDutyEscalationPolicy)
	if err := checkUsers(key+".rotation", c.Rotation); err != nil {
		return oc, err
	}
	oc.Rotation.Users = c.Rotation
	handoff := strings.TrimSpace(c.Handoff)
	if handoff != "" && len(c.Rotation) == 0 {
		return oc, cfgErr(key+".handoff", "is set but %s.rotation is empty", key)
	}
	if handoff == "" {
		handoff = defaultHandoff
	}
	day, minutes, err := incident.ParseHandoff(handoff)
	if err != nil {
		return oc, cfgErr(key+".handoff", "%q is not a weekday and time like \"mon 09:00\"", c.Handoff)
	}
	oc.Rotation.HandoffDay, oc.Rotation.HandoffMinutes = day, minutes
	return oc, nil
}

func checkUsers(key string, users []string) error {
	for i, u := range users {
		if !slackUserID.MatchString(u) {
			return cfgErr(fmt.Sprintf("%s[%d]", key, i), "%q is not a Slack member ID like U0123ABCD (profile → ⋮ → Copy member ID)", u)
		}
	}
	return nil
}

// parseMoney reads a non-negative amount in the organisation's currency from
// its decimal text (YAML numbers arrive as their shortest decimal form).
func parseMoney(cur incident.Currency, key, s string) (incident.Money, error) {
	if strings.TrimSpace(s) == "" {
		return 0, cfgErr(key, "is required")
	}
	m, err := cur.Parse(s)
	if err != nil {
		return 0, cfgErr(key, "%s", incident.ErrorMessage(err))
	}
	if m < 0 {
		return 0, cfgErr(key, "must not be negative")
	}
	return m, nil
}

var decimalLevel = regexp.MustCompile(`^\d+(\.\d{1,3})?%?$`)

// parseAvailability reads a level like 99.9 from its decimal text.
func parseAvailability(key, s string) (incident.Availability, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, cfgErr(key, "is required, like 99.9")
	}
	a, err := incident.ParseAvailability(s)
	if err != nil {
		if decimalLevel.MatchString(s) {
			return 0, cfgErr(key, "%s is outside (0, 100)", strings.TrimSuffix(s, "%"))
		}
		return 0, cfgErr(key, "%q is not an availability level like 99.9 (at most three decimals)", s)
	}
	return a, nil
}

// parseShare reads a share of the exposure: a fraction within 0 and 1 ("1.0",
// "0.5", "0.125") or a percentage ("10%", "2.5%"), exactly, in basis points.
func parseShare(key, s string) (incident.Share, error) {
	sh, err := incident.ParseFraction(s)
	if err != nil {
		return 0, cfgErr(key, "%s", incident.ErrorMessage(err))
	}
	return sh, nil
}

// validHeaderName reports whether h is an HTTP header name (a token).
func validHeaderName(h string) bool {
	for _, r := range h {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("!#$%&'*+-.^_`|~", r)) {
			return false
		}
	}
	return h != ""
}

// parseDuration reads a Go duration like 30m; zero is allowed only where
// zeroOK.
func parseDuration(key, s string, zeroOK bool) (time.Duration, error) {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return 0, cfgErr(key, "%q is not a duration like 30m or 1h30m", s)
	}
	if d < 0 || (d == 0 && !zeroOK) {
		return 0, cfgErr(key, "%s must be positive", s)
	}
	return d, nil
}

func parseTime(key, s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, cfgErr(key, "is required, like 2026-11-27T00:00:00Z")
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, cfgErr(key, "%q is not an RFC 3339 time like 2026-11-27T00:00:00Z", s)
	}
	return t, nil
}

func checkURL(key, s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return cfgErr(key, "%q is not an absolute http(s) URL", s)
	}
	return nil
}

// parseBoundedDuration parses a deadline: positive and at most max.
func parseBoundedDuration(key, v string, max time.Duration) (time.Duration, error) {
	d, err := parseDuration(key, v, true)
	if err != nil {
		return 0, err
	}
	if d > max {
		return 0, cfgErr(key, "must be at most %s, like 15s", max)
	}
	return d, nil
}
