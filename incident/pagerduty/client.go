// Package pagerduty connects incidentbot to PagerDuty: it receives v3
// webhooks (incidents triggered, acknowledged, reassigned, annotated,
// resolved) into the incident desk, reads who is on call for an escalation
// policy and maps them to Slack users by e-mail, and runs the desk's
// PagerDuty jobs (sync notes and updates, resolve, page the incident
// managers, acknowledge) from durable state with retries.
//
// It is built on github.com/PagerDuty/go-pagerduty, which neither retries
// nor honours rate limits: this package classifies its errors for the
// desk's job runner (429 → retry after the advertised delay, 5xx and
// network errors → retry with backoff, other 4xx → give up).
package pagerduty

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	pd "github.com/PagerDuty/go-pagerduty"

	"github.com/incidentbot/incidentbot/incident"
	"github.com/incidentbot/incidentbot/incident/desk"
	"github.com/incidentbot/incidentbot/internal/apicall"
)

// DefaultAPIURL is PagerDuty's REST API.
const DefaultAPIURL = "https://api.pagerduty.com"

// KeyPrefix prefixes a PagerDuty incident ID to make an incident's alert key.
const KeyPrefix = "pd:"

// ClientOptions configure a Client.
type ClientOptions struct {
	Token  string // REST API token
	APIURL string // default DefaultAPIURL
	// FromEmail is the PagerDuty user the bot acts as (the From header
	// that notes, incidents and status changes need).
	FromEmail string
	// Users maps the e-mail of a PagerDuty user to a Slack user ID; needed
	// for OnCall.
	Users  UserLookup
	Logger *slog.Logger
	// HTTPClient defaults to a client with a 10 s timeout.
	HTTPClient *http.Client
	// RateLimitDelay is the retry delay after a 429 without usable headers;
	// default 20 s (PagerDuty's limits reset every minute).
	RateLimitDelay time.Duration
	// Observe, if set, is told of every REST call: its route with IDs
	// replaced (e.g. "POST /incidents/{id}/notes"), outcome and duration
	// (for metrics).
	Observe apicall.Observer
}

// Client is incidentbot's PagerDuty REST client.
type Client struct {
	api  *pd.Client
	opts ClientOptions
	log  *slog.Logger
}

// NewClient returns a Client.
func NewClient(opts ClientOptions) *Client {
	if opts.APIURL == "" {
		opts.APIURL = DefaultAPIURL
	}
	opts.APIURL = strings.TrimRight(opts.APIURL, "/")
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if opts.RateLimitDelay <= 0 {
		opts.RateLimitDelay = 20 * time.Second
	}
	api := pd.NewClient(opts.Token, pd.WithAPIEndpoint(opts.APIURL))
	api.HTTPClient = &hintingClient{c: opts.HTTPClient, observe: opts.Observe, prefix: apiPathPrefix(opts.APIURL)}
	return &Client{api: api, opts: opts, log: opts.Logger}
}

// API is the underlying go-pagerduty client.
func (c *Client) API() *pd.Client { return c.api }

// hint carries what a failed response said about retrying: go-pagerduty's
// APIError keeps the status code but drops the headers.
type hint struct {
	mu    sync.Mutex
	delay time.Duration
}

type hintKey struct{}

func withHint(ctx context.Context) (context.Context, *hint) {
	h := &hint{}
	return context.WithValue(ctx, hintKey{}, h), h
}

func (h *hint) get() time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.delay
}

// hintingClient records the Retry-After (or ratelimit-reset) of 429 and 5xx
// answers into the request's hint.
// It also tells the observer, if any, of each call.
type hintingClient struct {
	c       *http.Client
	observe apicall.Observer
	prefix  string // the path of the API URL, stripped from routes
}

func (hc *hintingClient) Do(req *http.Request) (*http.Response, error) {
	start := time.Now() // a duration, measured on the monotonic clock
	resp, err := hc.c.Do(req)
	if hc.observe != nil {
		hc.observe(Route(req.Method, strings.TrimPrefix(req.URL.Path, hc.prefix)), apicall.Classify(req, resp, err), time.Since(start))
	}
	if err == nil && (resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500) {
		if h, ok := req.Context().Value(hintKey{}).(*hint); ok {
			if d, ok := retryAfter(resp.Header, time.Now()); ok {
				h.mu.Lock()
				h.delay = d
				h.mu.Unlock()
			}
		}
	}
	return resp, err
}

// apiPathPrefix is the path part of an API URL ("" for PagerDuty's own).
func apiPathPrefix(apiURL string) string {
	u, err := url.Parse(apiURL)
	if err != nil {
		return ""
	}
	return strings.TrimRight(u.Path, "/")
}

// routeWordRE is a path element that names a resource ("incidents",
// "status_updates"); any other element is an ID.
var routeWordRE = regexp.MustCompile(`^[a-z][a-z_]*$`)

// Route is the normalised route of a REST call, e.g.
// "POST /incidents/{id}/notes": every path element that is not a
// lower-case resource word becomes {id}, so that no PagerDuty ID ever
// reaches a metric label; a path of more than four elements is "other".
func Route(method, p string) string {
	parts := strings.Split(strings.Trim(p, "/"), "/")
	if len(parts) > 4 {
		return method + " other"
	}
	for i, e := range parts {
		if e != "" && !routeWordRE.MatchString(e) {
			parts[i] = "{id}"
		}
	}
	return method + " /" + strings.Join(parts, "/")
}

// retryAfter reads Retry-After (seconds or an HTTP date) or PagerDuty's
// ratelimit-reset (seconds).
func retryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	if v := strings.TrimSpace(h.Get("Retry-After")); v != "" {
		if s, err := strconv.Atoi(v); err == nil && s >= 0 {
			return time.Duration(s) * time.Second, true
		}
		if t, err := http.ParseTime(v); err == nil {
			if d := t.Sub(now); d > 0 {
				return d, true
			}
			return 0, true
		}
	}
	if v := strings.TrimSpace(h.Get("Ratelimit-Reset")); v != "" {
		if s, err := strconv.ParseFloat(v, 64); err == nil && s >= 0 {
			return time.Duration(s * float64(time.Second)), true
		}
	}
	return 0, false
}

// maxRetryDelay caps an advertised delay so that a broken header cannot
// park a job for days.
const maxRetryDelay = 10 * time.Minute

// classify turns a go-pagerduty error into what the job runner understands:
// a *desk.RetryAfterError for a 429 (or a 5xx with Retry-After), a plain
// error for other 5xx and network failures (retried with backoff), and a
// desk.Permanent error for other 4xx, which retrying cannot fix.
func (c *Client) classify(op string, err error, h *hint) error {
	if err == nil {
		return nil
	}
	err = fmt.Errorf("pagerduty: %s: %w", op, err)
	var ae pd.APIError
	if !errors.As(err, &ae) {
		return err // network, timeout, decoding: retry
	}
	delay := time.Duration(0)
	if h != nil {
		delay = h.get()
	}
	if delay > maxRetryDelay {
		delay = maxRetryDelay
	}
	switch {
	case ae.StatusCode == http.StatusTooManyRequests:
		if delay <= 0 {
			delay = c.opts.RateLimitDelay
		}
		return &desk.RetryAfterError{Delay: delay, Err: err}
	case ae.StatusCode >= 500 || ae.StatusCode == http.StatusRequestTimeout:
		if delay > 0 {
			return &desk.RetryAfterError{Delay: delay, Err: err}
		}
		return err
	default:
		return desk.Permanent(err)
	}
}

// statusOf is the HTTP status of a go-pagerduty API error, or 0.
func statusOf(err error) int {
	var ae pd.APIError
	if errors.As(err, &ae) {
		return ae.StatusCode
	}
	return 0
}

// IsPermanent reports whether retrying err cannot help.
func IsPermanent(err error) bool {
	var pe *desk.PermanentError
	return errors.As(err, &pe)
}

// OnCall returns the Slack user IDs of the people on call now (at) for the
// schedule's PagerDuty escalation policy: the first escalation level that
// has anyone on call. A schedule without an escalation policy gives nil;
// see Finder for the fallback to the built-in rotations.
func (c *Client) OnCall(ctx context.Context, oc incident.OnCall, at time.Time) ([]string, error) {
	if oc.EscalationPolicy == "" {
		return nil, nil
	}
	if c.opts.Users == nil {
		return nil, desk.Permanent(errors.New("pagerduty: on-call: no Slack user lookup configured"))
	}
	users, err := c.onCallUsers(ctx, oc.EscalationPolicy, at)
	if err != nil {
		return nil, err
	}
	var out []string
	seen := map[string]bool{}
	for _, u := range users {
		email := u.Email
		if email == "" {
			hctx, h := withHint(ctx)
			full, err := c.api.GetUserWithContext(hctx, u.ID, pd.GetUserOptions{})
			if err != nil {
				return nil, c.classify("get user "+u.ID, err, h)
			}
			email = full.Email
		}
		if email == "" {
			c.log.Warn("PagerDuty on-call user has no e-mail; not called out in Slack", "pagerduty_user", u.ID)
			continue
		}
		id, err := c.opts.Users.LookupByEmail(ctx, email)
		if errors.Is(err, ErrUserNotFound) {
			c.log.Warn("PagerDuty on-call user has no Slack account with the same e-mail", "pagerduty_user", u.ID)
			continue
		}
		if err != nil {
			return nil, err
		}
		if id != "" && !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out, nil
}

// maxPages bounds pagination (100 per page).
const maxPages = 50

// onCallUsers lists the on-call entries of an escalation policy at an
// instant, all pages, and returns the users of the lowest escalation level.
func (c *Client) onCallUsers(ctx context.Context, policy string, at time.Time) ([]pd.User, error) {
	opts := pd.ListOnCallOptions{
		Limit:               100,
		EscalationPolicyIDs: []string{policy},
		Includes:            []string{"users"},
		Since:               at.UTC().Format(time.RFC3339),
		Until:               at.UTC().Add(time.Minute).Format(time.RFC3339),
		Earliest:            true,
	}
	var entries []pd.OnCall
	for page := 0; ; page++ {
		if page == maxPages {
			c.log.Warn("PagerDuty on-call list truncated", "escalation_policy", policy, "entries", len(entries))
			break
		}
		hctx, h := withHint(ctx)
		resp, err := c.api.ListOnCallsWithContext(hctx, opts)
		if err != nil {
			return nil, c.classify("list on-calls of "+policy, err, h)
		}
		entries = append(entries, resp.OnCalls...)
		if !resp.More || len(resp.OnCalls) == 0 {
			break
		}
		opts.Offset += uint(len(resp.OnCalls))
	}
	level := uint(0)
	for _, e := range entries {
		if e.User.ID != "" && (level == 0 || e.EscalationLevel < level) {
			level = e.EscalationLevel
		}
	}
	var users []pd.User
	seen := map[string]bool{}
	for _, e := range entries {
		if e.User.ID == "" || e.EscalationLevel != level || seen[e.User.ID] {
			continue
		}
		seen[e.User.ID] = true
		users = append(users, e.User)
	}
	return users, nil
}

// Finder reads on-call from PagerDuty for schedules with an escalation
// policy and from the built-in rotations otherwise. It implements
// desk.OnCallFinder.
type Finder struct {
	PD       *Client // nil: rotations only
	Fallback desk.RotationFinder
	Logger   *slog.Logger
}

// OnCall implements desk.OnCallFinder. A PagerDuty failure that retrying
// may fix is returned (the callout job is retried); a permanent one (an
// unknown escalation policy, say) falls back to the rotation, and so to
// the team's members when there is none.
func (f Finder) OnCall(ctx context.Context, oc incident.OnCall, at time.Time) ([]string, error) {
	if oc.EscalationPolicy == "" || f.PD == nil {
		return f.Fallback.OnCall(ctx, oc, at)
	}
	users, err := f.PD.OnCall(ctx, oc, at)
	if err != nil && IsPermanent(err) {
		log := f.Logger
		if log == nil {
			log = f.PD.log
		}
		log.Error("PagerDuty on-call lookup failed; using the rotation", "escalation_policy", oc.EscalationPolicy, "err", err)
		return f.Fallback.OnCall(ctx, oc, at)
	}
	return users, err
}
