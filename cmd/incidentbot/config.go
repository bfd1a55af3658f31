package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/spf13/viper"
)

// defaultConfigFile is read when --config is not given and it exists in the
// working directory.
const defaultConfigFile = "incidentbot.yaml"

// envPrefix starts every environment variable incidentbot reads.
const envPrefix = "INCIDENTBOT_"

// Config mirrors incidentbot.yaml key for key. It is what viper decodes; the
// typed values everything else consumes are in Settings (see settings.go).
// Amounts, levels, shares, durations and times are kept as the text written
// so that they are parsed exactly, never through a float.
type Config struct {
	Slack        SlackConfig        `mapstructure:"slack"`
	HTTP         HTTPConfig         `mapstructure:"http"`
	Storage      StorageConfig      `mapstructure:"storage"`
	PagerDuty    PagerDutyConfig    `mapstructure:"pagerduty"`
	Alertmanager AlertmanagerConfig `mapstructure:"alertmanager"`
	Organisation OrganisationConfig `mapstructure:"organisation"`
	Teams        []TeamConfig       `mapstructure:"teams"`
	Domains      []DomainConfig     `mapstructure:"domains"`
	Services     []ServiceConfig    `mapstructure:"services"`
	Review       ReviewConfig       `mapstructure:"review"`
	Jobs         JobsConfig         `mapstructure:"jobs"`
}

type JobsConfig struct {
	Timeout string `mapstructure:"timeout"`
}

type SlackConfig struct {
	BotToken         string   `mapstructure:"bot_token"`
	AppToken         string   `mapstructure:"app_token"`
	APIURL           string   `mapstructure:"api_url"`
	AnnounceChannel  string   `mapstructure:"announce_channel"`
	IncidentManagers []string `mapstructure:"incident_managers"`
	CallTimeout      string   `mapstructure:"call_timeout"`
}

type HTTPConfig struct {
	Listen    string `mapstructure:"listen"`
	PublicURL string `mapstructure:"public_url"`
	APIToken  string `mapstructure:"api_token"`
}

type StorageConfig struct {
	Driver   string         `mapstructure:"driver"`
	Path     string         `mapstructure:"path"`
	Postgres PostgresConfig `mapstructure:"postgres"`
}

type PostgresConfig struct {
	URL      string `mapstructure:"url"`
	MaxConns string `mapstructure:"max_conns"`
	Lease    string `mapstructure:"lease"`
}

type PagerDutyConfig struct {
	APIToken                        string `mapstructure:"api_token"`
	APIURL                          string `mapstructure:"api_url"`
	WebhookSecret                   string `mapstructure:"webhook_secret"`
	FromEmail                       string `mapstructure:"from_email"`
	IncidentManagerEscalationPolicy string `mapstructure:"incident_manager_escalation_policy"`
}

type AlertmanagerConfig struct {
	BearerToken    string `mapstructure:"bearer_token"`
	ServiceLabel   string `mapstructure:"service_label"`
	GroupingWindow string `mapstructure:"grouping_window"`
	AutoResolve    bool   `mapstructure:"auto_resolve"`
	GroupRelated   bool   `mapstructure:"group_related"`
}

type OrganisationConfig struct {
	Currency              string             `mapstructure:"currency"`
	Timezone              string             `mapstructure:"timezone"`
	WorkingHours          WorkingHoursConfig `mapstructure:"working_hours"`
	ExposureBands         []BandConfig       `mapstructure:"exposure_bands"`
	ImpactShares          SharesConfig       `mapstructure:"impact_shares"`
	LossThresholds        ThresholdsConfig   `mapstructure:"loss_thresholds"`
	ClassificationHorizon string             `mapstructure:"classification_horizon"`
	CommanderTimeout      string             `mapstructure:"commander_timeout"`
	UpdateInterval        string             `mapstructure:"update_interval"`
}

type WorkingHoursConfig struct {
	Days  []string `mapstructure:"days"`
	Start string   `mapstructure:"start"`
	End   string   `mapstructure:"end"`
}

type BandConfig struct {
	MaxHourlyExposure string `mapstructure:"max_hourly_exposure"`
	Availability      string `mapstructure:"availability"`
}

type SharesConfig struct {
	Blocked  string `mapstructure:"blocked"`
	Degraded string `mapstructure:"degraded"`
	Partial  string `mapstructure:"partial"`
}

type ThresholdsConfig struct {
	High   string `mapstructure:"high"`
	Medium string `mapstructure:"medium"`
}

type OnCallConfig struct {
	PagerDutyEscalationPolicy string   `mapstructure:"pagerduty_escalation_policy"`
	Rotation                  []string `mapstructure:"rotation"`
	Handoff                   string   `mapstructure:"handoff"`
}

type TeamConfig struct {
	Name    string       `mapstructure:"name"`
	Domain  string       `mapstructure:"domain"`
	Members []string     `mapstructure:"members"`
	OnCall  OnCallConfig `mapstructure:"oncall"`
}

type DomainConfig struct {
	Name   string       `mapstructure:"name"`
	OnCall OnCallConfig `mapstructure:"oncall"`
}

type ServiceConfig struct {
	Name               string       `mapstructure:"name"`
	Team               string       `mapstructure:"team"`
	Domain             string       `mapstructure:"domain"`
	HourlyExposure     string       `mapstructure:"hourly_exposure"`
	PagerDutyServiceID string       `mapstructure:"pagerduty_service_id"`
	Runbook            string       `mapstructure:"runbook"`
	Peaks              []PeakConfig `mapstructure:"peaks"`
	DependsOn          []string     `mapstructure:"depends_on"`
}

type PeakConfig struct {
	Name           string `mapstructure:"name"`
	Start          string `mapstructure:"start"`
	End            string `mapstructure:"end"`
	HourlyExposure string `mapstructure:"hourly_exposure"`
}

type ReviewConfig struct {
	TemplatesDir string `mapstructure:"templates_dir"`
	PreviewTTL   string `mapstructure:"preview_ttl"`
	ReaderHeader string `mapstructure:"reader_header"`
}

// defaults are the values of keys neither the file nor the environment sets.
var defaults = map[string]any{
	"slack.api_url":                       "https://slack.com/api/",
	"slack.call_timeout":                  "15s",
	"jobs.timeout":                        "30s",
	"http.listen":                         "127.0.0.1:8080",
	"http.public_url":                     "http://localhost:8080",
	"storage.driver":                      "bbolt",
	"storage.path":                        "incidentbot.db",
	"storage.postgres.max_conns":          "10",
	"storage.postgres.lease":              "10s",
	"pagerduty.api_url":                   "https://api.pagerduty.com",
	"alertmanager.service_label":          "service",
	"alertmanager.grouping_window":        "30m",
	"alertmanager.auto_resolve":           false,
	"alertmanager.group_related":          true,
	"organisation.currency":               "USD",
	"organisation.timezone":               "UTC",
	"organisation.working_hours.days":     []string{"mon", "tue", "wed", "thu", "fri"},
	"organisation.working_hours.start":    "09:00",
	"organisation.working_hours.end":      "17:30",
	"organisation.impact_shares.blocked":  "1.0",
	"organisation.impact_shares.degraded": "0.5",
	"organisation.impact_shares.partial":  "0.1",
	"organisation.classification_horizon": "1h",
	"organisation.commander_timeout":      "10m",
	"organisation.update_interval":        "30m",
	"review.preview_ttl":                  "168h",
}

// keyKind is how a key's value is read from the environment.
type keyKind int

const (
	kindString     keyKind = iota // as is
	kindBool                      // true/false, 1/0
	kindStringList                // JSON array, or comma-separated
	kindList                      // JSON array of objects
)

// configKey is one key a user can set: a leaf of Config.
type configKey struct {
	Path string // e.g. organisation.working_hours.start
	Kind keyKind
}

// Env is the key's environment variable: INCIDENTBOT_ + the path upper-cased
// with "_" for ".".
func (k configKey) Env() string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(k.Path, ".", "_"))
}

// configKeys lists every settable key, derived from Config's mapstructure
// tags so that the list cannot drift from the struct.
func configKeys() []configKey {
	var keys []configKey
	var walk func(t reflect.Type, prefix string)
	walk = func(t reflect.Type, prefix string) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			path := prefix + f.Tag.Get("mapstructure")
			switch f.Type.Kind() {
			case reflect.Struct:
				walk(f.Type, path+".")
			case reflect.Slice:
				if f.Type.Elem().Kind() == reflect.String {
					keys = append(keys, configKey{path, kindStringList})
				} else {
					keys = append(keys, configKey{path, kindList})
				}
			case reflect.Bool:
				keys = append(keys, configKey{path, kindBool})
			default:
				keys = append(keys, configKey{path, kindString})
			}
		}
	}
	walk(reflect.TypeOf(Config{}), "")
	return keys
}

// loadedConfig is the result of reading the file and the environment.
type loadedConfig struct {
	Config   Config
	File     string   // the configuration file read, "" if none
	Warnings []string // unknown keys in the file
}

// loadConfig reads the configuration: defaults, then the file (path, or
// ./incidentbot.yaml if path is empty and it exists), then the environment,
// each overriding the one before. env looks up an environment variable
// (os.Getenv in main; a map in tests).
//
// The environment is applied with viper.Set for every known key instead of
// viper.AutomaticEnv: Unmarshal only sees keys viper knows of, and reading
// through env keeps tests independent of the process environment. The effect
// is that of BindEnv for every key.
func loadConfig(path string, env func(string) string) (loadedConfig, error) {
	return loadConfigOr(path, env, nil)
}

// builtinConfigName names the built-in example when it is read instead of a
// file.
const builtinConfigName = "(built-in furniture-retailer example)"

// loadConfigOr is loadConfig that reads builtin (YAML) when there is no
// file at all: `serve --sandbox` runs on the furniture-retailer example.
func loadConfigOr(path string, env func(string) string, builtin []byte) (loadedConfig, error) {
	var out loadedConfig
	v := viper.New()
	v.SetConfigType("yaml")

	file := path
	if file == "" {
		if _, err := os.Stat(defaultConfigFile); err == nil {
			file = defaultConfigFile
		}
	}
	if file != "" {
		v.SetConfigFile(file)
		if err := v.ReadInConfig(); err != nil {
			var notFound viper.ConfigFileNotFoundError
			if errors.As(err, &notFound) || errors.Is(err, os.ErrNotExist) {
				return out, fmt.Errorf("config: %s: file not found (run `incidentbot init` to write a starter one)", file)
			}
			return out, fmt.Errorf("config: %s: %s", file, oneLine(err.Error()))
		}
		out.File = file
		// Only the file has been read so far: every key here came from it.
		for _, k := range unknownKeys(v.AllSettings(), reflect.TypeOf(Config{}), "") {
			out.Warnings = append(out.Warnings, fmt.Sprintf("warning: %s: unknown key %q is ignored (a typo?)", file, k))
		}
	} else if builtin != nil {
		if err := v.ReadConfig(bytes.NewReader(builtin)); err != nil {
			return out, fmt.Errorf("config: %s: %s", builtinConfigName, oneLine(err.Error()))
		}
		out.File = builtinConfigName
	}

	for k, val := range defaults {
		v.SetDefault(k, val)
	}

	for _, k := range configKeys() {
		raw := env(k.Env())
		if strings.TrimSpace(raw) == "" {
			continue
		}
		val, err := envValue(k, raw)
		if err != nil {
			return out, fmt.Errorf("config: %s (%s): %w", k.Path, k.Env(), err)
		}
		v.Set(k.Path, val)
	}

	if err := v.Unmarshal(&out.Config, viper.DecodeHook(configDecodeHook)); err != nil {
		return out, fmt.Errorf("config: %s", oneLine(err.Error()))
	}
	return out, nil
}

// configDecodeHook adapts values from the file to Config, replacing viper's
// default hooks (Config has no durations to decode): YAML turns unquoted
// timestamps (start: 2026-11-27T00:00:00Z) into time.Time, which go back to
// RFC 3339 text; a single string where a list of strings is expected is
// comma-separated (days: "mon, tue").
func configDecodeHook(from, to reflect.Type, data any) (any, error) {
	switch {
	case to.Kind() == reflect.String:
		if t, ok := data.(time.Time); ok {
			return t.Format(time.RFC3339Nano), nil
		}
	case to.Kind() == reflect.Slice && to.Elem().Kind() == reflect.String && from.Kind() == reflect.String:
		var list []string
		for _, p := range strings.Split(data.(string), ",") {
			if p = strings.TrimSpace(p); p != "" {
				list = append(list, p)
			}
		}
		return list, nil
	}
	return data, nil
}

// envValue converts an environment variable's text to the value viper
// decodes for the key: lists are JSON arrays (strings lists may also be
// comma-separated), booleans true/false.
func envValue(k configKey, raw string) (any, error) {
	switch k.Kind {
	case kindBool:
		switch strings.ToLower(strings.TrimSpace(raw)) {
		case "true", "1", "yes", "on":
			return true, nil
		case "false", "0", "no", "off":
			return false, nil
		}
		return nil, fmt.Errorf("%q is not true or false", raw)
	case kindStringList:
		s := strings.TrimSpace(raw)
		if strings.HasPrefix(s, "[") {
			var list []string
			if err := json.Unmarshal([]byte(s), &list); err != nil {
				return nil, fmt.Errorf("not a JSON array of strings: %v", err)
			}
			return list, nil
		}
		var list []string
		for _, p := range strings.Split(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				list = append(list, p)
			}
		}
		return list, nil
	case kindList:
		dec := json.NewDecoder(strings.NewReader(raw))
		dec.UseNumber() // amounts stay decimal text, never floats
		var list []any
		if err := dec.Decode(&list); err != nil {
			return nil, fmt.Errorf("must be a JSON array of objects, like '[{\"name\": …}]': %v", err)
		}
		if dec.More() {
			return nil, errors.New("must be a single JSON array")
		}
		for i, item := range list {
			if _, ok := item.(map[string]any); !ok {
				return nil, fmt.Errorf("item %d is not a JSON object", i)
			}
		}
		return list, nil
	}
	return raw, nil
}

// unknownKeys walks settings read from the file against Config and returns
// the paths of keys Config does not have, sorted. List items are checked too:
// a typo in services[2].hourly_exposure must not silently price a service at
// zero.
func unknownKeys(m map[string]any, t reflect.Type, prefix string) []string {
	fields := map[string]reflect.StructField{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		fields[strings.ToLower(f.Tag.Get("mapstructure"))] = f
	}
	var out []string
	for k, val := range m {
		path := k
		if prefix != "" {
			path = prefix + "." + k
		}
		f, ok := fields[strings.ToLower(k)]
		if !ok {
			out = append(out, path)
			continue
		}
		switch f.Type.Kind() {
		case reflect.Struct:
			if sub, ok := stringMap(val); ok {
				out = append(out, unknownKeys(sub, f.Type, path)...)
			}
		case reflect.Slice:
			items, ok := val.([]any)
			if !ok || f.Type.Elem().Kind() != reflect.Struct {
				break
			}
			for i, item := range items {
				if sub, ok := stringMap(item); ok {
					out = append(out, unknownKeys(sub, f.Type.Elem(), fmt.Sprintf("%s[%d]", path, i))...)
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

func stringMap(v any) (map[string]any, bool) {
	switch m := v.(type) {
	case map[string]any:
		return m, true
	case map[any]any:
		out := make(map[string]any, len(m))
		for k, v := range m {
			out[fmt.Sprint(k)] = v
		}
		return out, true
	}
	return nil, false
}

// oneLine folds a multi-line error (mapstructure's, yaml's) onto one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
