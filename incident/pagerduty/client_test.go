package pagerduty_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/incidentbot/incidentbot/incident"
	"github.com/incidentbot/incidentbot/incident/desk"
	"github.com/incidentbot/incidentbot/incident/pagerduty"
	"github.com/incidentbot/incidentbot/internal/fakeslack"
)

func setUpOnCall(e *env) {
	for _, u := range []struct{ id, name, email string }{
		{"PU1", "Alice Anders", "alice@example.com"},
		{"PU2", "Bob Brown", "Bob@Example.com"},
		{"PU3", "Carol Chen", "carol@example.com"},
		{"PU4", "Contractor", "contractor@elsewhere.example"},
	} {
		e.pd.addUser(u.id, u.name, u.email)
	}
	e.users.m["alice@example.com"] = alice
	e.users.m["bob@example.com"] = bob
	e.users.m["carol@example.com"] = carol
	// PU1 is on two schedules of level 1; PU4 has no Slack account; PU3
	// is the second level.
	e.pd.addOnCall("PBEDPOL", "PU1", 1)
	e.pd.addOnCall("PBEDPOL", "PU3", 2)
	e.pd.addOnCall("PBEDPOL", "PU1", 1)
	e.pd.addOnCall("PBEDPOL", "PU4", 1)
	e.pd.addOnCall("PBEDPOL", "PU2", 1)
	e.pd.addOnCall("PMANAGERS", "PU3", 1)
}

func TestOnCallPaginatesAndMapsEmailsToSlack(t *testing.T) {
	e := newEnv(t, envOptions{})
	setUpOnCall(e)
	e.pd.pageSize = 2
	e.pd.noEmail["PU2"] = true // not in the on-call listing: fetched with GET /users
	got, err := e.client.OnCall(context.Background(), incident.OnCall{EscalationPolicy: "PBEDPOL"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []string{alice, bob}) {
		t.Errorf("on call %v, want alice and bob (level 1, with Slack accounts)", got)
	}
	if n := e.pd.countRequests(http.MethodGet, "/oncalls", http.StatusOK); n != 3 {
		t.Errorf("%d pages read, want 3", n)
	}
	if n := e.pd.countRequests(http.MethodGet, "/users/PU2", http.StatusOK); n != 1 {
		t.Errorf("%d user fetches", n)
	}
	got, _ = e.client.OnCall(context.Background(), incident.OnCall{EscalationPolicy: "PMANAGERS"}, time.Now())
	if !slices.Equal(got, []string{carol}) {
		t.Errorf("managers on call %v", got)
	}
	// Nobody on call: no one (the desk then calls the team's members).
	got, err = e.client.OnCall(context.Background(), incident.OnCall{EscalationPolicy: "PEMPTY"}, time.Now())
	if err != nil || len(got) != 0 {
		t.Errorf("empty policy: %v %v", got, err)
	}
}

func TestFinderUsesPagerDutyOrTheRotation(t *testing.T) {
	e := newEnv(t, envOptions{})
	setUpOnCall(e)
	f := pagerduty.Finder{PD: e.client, Fallback: desk.RotationFinder{}}
	var _ desk.OnCallFinder = f
	ctx := context.Background()
	rot := incident.Rotation{Users: []string{"UROT1"}, HandoffDay: time.Monday, HandoffMinutes: 540}

	got, err := f.OnCall(ctx, incident.OnCall{Rotation: rot}, time.Now())
	if err != nil || !slices.Equal(got, []string{"UROT1"}) {
		t.Errorf("rotation: %v %v", got, err)
	}
	got, err = f.OnCall(ctx, incident.OnCall{EscalationPolicy: "PBEDPOL", Rotation: rot}, time.Now())
	if err != nil || !slices.Equal(got, []string{alice, bob}) {
		t.Errorf("PagerDuty: %v %v", got, err)
	}
	// A policy PagerDuty refuses (4xx): the rotation.
	got, err = f.OnCall(ctx, incident.OnCall{EscalationPolicy: "PNOSUCH", Rotation: rot}, time.Now())
	if err != nil || !slices.Equal(got, []string{"UROT1"}) {
		t.Errorf("unknown policy: %v %v", got, err)
	}
	// PagerDuty down: an error, so that the callout job is retried.
	e.pd.setDown(true)
	_, err = f.OnCall(ctx, incident.OnCall{EscalationPolicy: "PBEDPOL", Rotation: rot}, time.Now())
	if err == nil || pagerduty.IsPermanent(err) {
		t.Errorf("outage: %v", err)
	}
	// Without a PagerDuty client: rotations only.
	got, _ = pagerduty.Finder{Fallback: desk.RotationFinder{}}.OnCall(ctx, incident.OnCall{EscalationPolicy: "PBEDPOL", Rotation: rot}, time.Now())
	if !slices.Equal(got, []string{"UROT1"}) {
		t.Errorf("no client: %v", got)
	}
}

// The callout job of the desk reads PagerDuty through the Finder.
func TestCalloutCallsPagerDutyOnCall(t *testing.T) {
	e := newEnv(t, envOptions{now: inHours()})
	setUpOnCall(e)
	r := desk.NewRunner(e.store, desk.RunnerOptions{Poll: 20 * time.Millisecond, Now: e.desk.Now})
	(&desk.Duties{Desk: e.desk, OnCall: pagerduty.Finder{PD: e.client, Fallback: desk.RotationFinder{}}}).Register(r)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = r.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	e.ok("W1", incidentEvent(pagerduty.EventTriggered, bedroomPD, ""))
	waitFor(t, "the callout", 10*time.Second, func() bool {
		inc, _ := e.get(1)
		return countKind(inc, incident.EventCalledOut) == 1
	})
	inc, _ := e.get(1)
	for _, ev := range inc.Events {
		if ev.Kind == incident.EventCalledOut && !slices.Equal(ev.Users, []string{alice, bob}) {
			t.Errorf("called out %v", ev.Users)
		}
	}
}

func TestErrorsAreClassifiedForTheRunner(t *testing.T) {
	e := newEnv(t, envOptions{})
	setUpOnCall(e)
	oc := incident.OnCall{EscalationPolicy: "PBEDPOL"}
	ctx := context.Background()
	retryIn := func(err error) time.Duration {
		t.Helper()
		var ra *desk.RetryAfterError
		if !errors.As(err, &ra) {
			t.Fatalf("%v is not a RetryAfterError", err)
		}
		return ra.Delay
	}

	e.pd.rateLimit(1, "7")
	_, err := e.client.OnCall(ctx, oc, time.Now())
	if d := retryIn(err); d != 7*time.Second {
		t.Errorf("Retry-After 7: delay %s", d)
	}
	e.pd.rateLimit(1, time.Now().Add(30*time.Second).UTC().Format(http.TimeFormat))
	_, err = e.client.OnCall(ctx, oc, time.Now())
	if d := retryIn(err); d < 25*time.Second || d > 31*time.Second {
		t.Errorf("Retry-After date: delay %s", d)
	}
	e.pd.retryHdr = "Ratelimit-Reset"
	e.pd.rateLimit(1, "12")
	_, err = e.client.OnCall(ctx, oc, time.Now())
	if d := retryIn(err); d != 12*time.Second {
		t.Errorf("ratelimit-reset 12: delay %s", d)
	}
	e.pd.rateLimit(1, "")
	_, err = e.client.OnCall(ctx, oc, time.Now())
	if d := retryIn(err); d != 100*time.Millisecond {
		t.Errorf("no header: delay %s, want the configured default", d)
	}
	e.pd.rateLimit(1, "86400")
	_, err = e.client.OnCall(ctx, oc, time.Now())
	if d := retryIn(err); d != 10*time.Minute {
		t.Errorf("a day: delay %s, want the 10 min cap", d)
	}

	e.pd.setDown(true)
	_, err = e.client.OnCall(ctx, oc, time.Now())
	var ra *desk.RetryAfterError
	if err == nil || pagerduty.IsPermanent(err) || errors.As(err, &ra) {
		t.Errorf("503: %v, want a plain error (retry with backoff)", err)
	}
	e.pd.setDown(false)

	bad := pagerduty.NewClient(pagerduty.ClientOptions{Token: "wrong", APIURL: e.pd.URL(), Users: e.users})
	if _, err := bad.OnCall(ctx, oc, time.Now()); !pagerduty.IsPermanent(err) {
		t.Errorf("401: %v, want permanent", err)
	}
	if strings.Contains(err.Error(), e.pd.token) {
		t.Error("the token leaked into an error")
	}
	// Network failure: retried.
	gone := pagerduty.NewClient(pagerduty.ClientOptions{Token: "x", APIURL: "http://127.0.0.1:1", Users: e.users})
	if _, err := gone.OnCall(ctx, oc, time.Now()); err == nil || pagerduty.IsPermanent(err) {
		t.Errorf("connection refused: %v", err)
	}
}

// countingSlack counts users.lookupByEmail calls.
type countingSlack struct {
	api   pagerduty.SlackUserAPI
	calls atomic.Int64
}

func (c *countingSlack) GetUserByEmailContext(ctx context.Context, email string) (*slack.User, error) {
	c.calls.Add(1)
	return c.api.GetUserByEmailContext(ctx, email)
}

func TestSlackUsersLooksUpAndCaches(t *testing.T) {
	fs := fakeslack.New(fakeslack.Options{Users: []fakeslack.User{
		{ID: alice, Name: "alice", Email: "alice@example.com"},
		{ID: bob, Name: "bob", Email: "bob@example.com"},
	}})
	if err := fs.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fs.Close)
	api := &countingSlack{api: slack.New(fs.BotToken(), slack.OptionAPIURL(fs.APIURL()))}
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	u := pagerduty.NewSlackUsers(api, pagerduty.SlackUsersOptions{Now: clock})
	ctx := context.Background()

	for range 3 {
		id, err := u.LookupByEmail(ctx, "Alice@Example.com")
		if err != nil || id != alice {
			t.Fatalf("lookup: %q %v", id, err)
		}
	}
	if n := api.calls.Load(); n != 1 {
		t.Errorf("%d Slack calls, want 1 (cached)", n)
	}
	for range 2 {
		if _, err := u.LookupByEmail(ctx, "nobody@example.com"); !errors.Is(err, pagerduty.ErrUserNotFound) {
			t.Fatalf("unknown: %v", err)
		}
	}
	if n := api.calls.Load(); n != 2 {
		t.Errorf("%d Slack calls, want 2 (misses cached too)", n)
	}
	advance(25 * time.Hour)
	if id, _ := u.LookupByEmail(ctx, "alice@example.com"); id != alice || api.calls.Load() != 3 {
		t.Errorf("after expiry: %q, %d calls", id, api.calls.Load())
	}

	limited := pagerduty.NewSlackUsers(rateLimited{}, pagerduty.SlackUsersOptions{})
	_, err := limited.LookupByEmail(ctx, "alice@example.com")
	var ra *desk.RetryAfterError
	if !errors.As(err, &ra) || ra.Delay != 3*time.Second {
		t.Errorf("rate limited: %v", err)
	}
}

type rateLimited struct{}

func (rateLimited) GetUserByEmailContext(context.Context, string) (*slack.User, error) {
	return nil, &slack.RateLimitedError{RetryAfter: 3 * time.Second}
}
