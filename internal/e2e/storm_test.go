package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"

	"github.com/incidentbot/incidentbot/bot"
	"github.com/incidentbot/incidentbot/bot/bottest"
	"github.com/incidentbot/incidentbot/incident"
	"github.com/incidentbot/incidentbot/incident/alertmanager"
	"github.com/incidentbot/incidentbot/incident/alertmanager/amtest"
	"github.com/incidentbot/incidentbot/incident/boltstore"
	"github.com/incidentbot/incidentbot/incident/boltstore/bolttest"
	"github.com/incidentbot/incidentbot/incident/desk"
	"github.com/incidentbot/incidentbot/incident/incidenttest"
	"github.com/incidentbot/incidentbot/internal/fakeslack"
)

const token = "s3cret-alertmanager-token"

// env is the Alertmanager webhook on a desk and a bbolt store, with the
// Slack adapter planning the effects, as `incidentbot serve` wires it.
type env struct {
	t     testing.TB
	store *boltstore.Store
	desk  *desk.Desk
	h     http.Handler
}

func newEnv(t testing.TB, opts alertmanager.Options) *env {
	t.Helper()
	st := bolttest.Open(t, boltstore.Options{})
	d := desk.New(st, bottest.Catalogue(t), desk.Options{Planners: []desk.Planner{bot.Planner{}}})
	return &env{t: t, store: st, desk: d, h: alertmanager.Handler(d, opts)}
}

func (e *env) post(body []byte, auth string) *httptest.ResponseRecorder {
	return amtest.Post(e.h, body, auth)
}

// incidents are all the incidents stored.
func (e *env) incidents() []*incident.Incident {
	all, err := e.desk.List(context.Background(), desk.Filter{})
	return must(e.t, all, err)
}

// must is v, or fails the test with err.
func must[T any](t testing.TB, v T, err error) T {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// stormNotifications builds perGroup notifications for each of groups
// groups, each group for its own service. Every tenth notification is an
// identical re-send of the one before it.
func stormNotifications(groups, perGroup int) [][]alertmanager.Notification {
	base := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	out := make([][]alertmanager.Notification, groups)
	for g := range groups {
		svc := fmt.Sprintf("storm-svc-%02d", g)
		common := amtest.Labels("alertname", "Storm", "service", svc)
		for k := range perGroup {
			if k%10 == 9 {
				out[g] = append(out[g], out[g][k-1])
				continue
			}
			var alerts []alertmanager.Alert
			for a := range 1 + k%3 {
				al := amtest.Firing(fmt.Sprintf("g%d-k%d-a%d", g, k, a), base.Add(time.Duration(k)*time.Second),
					amtest.Labels("alertname", "Storm", "service", svc, "instance", fmt.Sprint("host-", a)), "disk filling")
				alerts = append(alerts, al)
			}
			out[g] = append(out[g], amtest.Notification(fmt.Sprintf(`{}:{alertname="Storm", service="%s"}`, svc), "firing", common, alerts...))
		}
	}
	return out
}

// TestAlertStorm sends 5,000 notifications across 50 groups from 16
// concurrent senders: exactly one incident per group, and every
// notification is either on a timeline or recognised as a re-send.
func TestAlertStorm(t *testing.T) {
	t.Parallel()
	const groups, perGroup, workers = 50, 100, 16
	e := newEnv(t, alertmanager.Options{BearerToken: token})
	storm := stormNotifications(groups, perGroup)

	// Interleave groups so that every sender hits many groups.
	type item struct {
		g    int
		body []byte
	}
	work := make(chan item)
	want := map[string]int{} // idempotency key → group
	var items []item
	for k := range perGroup {
		for g := range groups {
			n := storm[g][k]
			want[n.Idem()] = g
			items = append(items, item{g, amtest.MustJSON(t, n)})
		}
	}
	var mu sync.Mutex
	codes := map[int]int{}
	byGroup := map[int]map[int64]bool{}
	var wg sync.WaitGroup
	startedAt := time.Now()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for it := range work {
				rec := e.post(it.body, "Bearer "+token)
				var r alertmanager.Response
				_ = json.Unmarshal(rec.Body.Bytes(), &r)
				mu.Lock()
				codes[rec.Code]++
				if byGroup[it.g] == nil {
					byGroup[it.g] = map[int64]bool{}
				}
				byGroup[it.g][r.Incident] = true
				mu.Unlock()
			}
		}()
	}
	for _, it := range items {
		work <- it
	}
	close(work)
	wg.Wait()
	elapsed := time.Since(startedAt)
	t.Logf("%d notifications in %s (%.0f/s)", len(items), elapsed, float64(len(items))/elapsed.Seconds())

	if codes[http.StatusOK] != len(items) {
		t.Fatalf("answers %v, want %d × 200", codes, len(items))
	}
	all := e.incidents()
	if len(all) != groups {
		t.Fatalf("%d incidents, want %d", len(all), groups)
	}
	for g, ns := range byGroup {
		if len(ns) != 1 {
			t.Errorf("group %d was answered with incidents %v", g, ns)
		}
	}
	// Every distinct notification is on exactly one timeline, on its
	// group's incident; re-sends added nothing.
	found := map[string]int{}
	for _, inc := range all {
		keys := map[string]bool{}
		for _, ev := range inc.Events {
			if ev.Kind == incident.EventAlertFired {
				keys[ev.Key] = true
			}
			if ev.Idem == "" {
				continue
			}
			if ev.Kind != incident.EventDeclared && ev.Kind != incident.EventAlertFired {
				continue
			}
			found[ev.Idem]++
			g, ok := want[ev.Idem]
			if !ok {
				t.Errorf("incident %d has an unknown notification %s", inc.Number, ev.Idem)
			} else if svc := fmt.Sprintf("storm-svc-%02d", g); inc.Service.Name != svc {
				t.Errorf("notification of %s is on incident %d of %s", svc, inc.Number, inc.Service.Name)
			}
		}
		if len(keys) != 1 {
			t.Errorf("incident %d has alert keys %v", inc.Number, keys)
		}
		if !inc.Unmapped {
			t.Errorf("incident %d is not flagged unmapped", inc.Number)
		}
	}
	if len(found) != len(want) {
		t.Errorf("%d distinct notifications on timelines, want %d (lost %d)", len(found), len(want), len(want)-len(found))
	}
	for k, n := range found {
		if n != 1 {
			t.Errorf("notification %s is on timelines %d times", k, n)
		}
	}
	if wantDistinct := groups * (perGroup - perGroup/10); len(want) != wantDistinct {
		t.Errorf("test built %d distinct notifications, want %d", len(want), wantDistinct)
	}
	slackStart := time.Now()
	stormSlack(t, e, groups)
	t.Logf("%d channels in %s", groups, time.Since(slackStart))
}

// stormSlack runs the Slack side over the incidents the storm opened,
// against the fake Slack, as `incidentbot serve` wires it: one channel per
// incident, not a channel storm.
func stormSlack(t *testing.T, e *env, want int) {
	fs := fakeslack.New(fakeslack.Options{
		Users:    []fakeslack.User{{ID: "UALICE001", Name: "alice", Email: "alice@example.com"}},
		Channels: []fakeslack.ChannelSeed{{ID: "CANNOUNCE1", Name: "incidents", Members: []string{"UALICE001", "U0FAKEBOT1"}}},
	})
	if err := fs.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fs.Close)
	api := slack.New(fs.BotToken(), slack.OptionAPIURL(fs.APIURL()), slack.OptionAppLevelToken(fs.AppToken()))
	runner := desk.NewRunner(e.store, desk.RunnerOptions{Classify: bot.Classify, Poll: 20 * time.Millisecond, Concurrency: 8})
	b := bot.New(api, e.desk, e.store, bot.Options{AnnounceChannel: "incidents", Wake: runner.Wake})
	b.Register(runner)
	(&desk.Duties{Desk: e.desk, OnCall: desk.RotationFinder{}, Enqueue: e.store.Enqueue, CountOpen: e.store.CountOpen}).Register(runner)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, 2)
	go func() { _ = runner.Run(ctx); done <- struct{}{} }()
	go func() { _ = b.Serve(ctx, socketmode.New(api)); done <- struct{}{} }()
	defer func() {
		cancel()
		<-done
		<-done
	}()
	incChannels := func() int {
		n := 0
		for _, c := range fs.Channels() {
			if strings.HasPrefix(c.Name, "inc-") {
				n++
			}
		}
		return n
	}
	channelJobs := func() int {
		jobs, err := e.store.Pending(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, j := range jobs {
			if j.Kind == bot.JobChannel {
				n++
			}
		}
		return n
	}
	incidenttest.EventuallyWithin(t, 60*time.Second, fmt.Sprintf("%d incident channels", want), func() bool {
		return incChannels() >= want && channelJobs() == 0
	})
	if n := incChannels(); n != want {
		t.Errorf("%d incident channels, want %d", n, want)
	}
}

// TestAlertStormGrowingGroups sends thousands of notifications, shuffled,
// from concurrent senders, for groups that grow over time: a group's k-th
// notification carries its first k alerts, so most notifications arrive
// after a bigger one of their group. Every distinct alert ends up linked to
// its group's incident, firing, and only what was news is stored.
func TestAlertStormGrowingGroups(t *testing.T) {
	t.Parallel()
	const groups, perGroup, workers = 40, 50, 8
	e := newEnv(t, alertmanager.Options{BearerToken: token})
	base := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	var bodies [][]byte
	for g := range groups {
		svc := fmt.Sprintf("growing-svc-%02d", g)
		common := amtest.Labels("alertname", "Growing", "service", svc)
		var alerts []alertmanager.Alert
		for k := range perGroup {
			alerts = append(alerts, amtest.Firing(fmt.Sprintf("g%02d-a%03d", g, k), base.Add(time.Duration(k)*time.Second),
				amtest.Labels("alertname", "Growing", "service", svc, "instance", fmt.Sprint("host-", k)), "disk filling"))
			n := amtest.Notification(amtest.GroupKey(svc, "Growing"), alertmanager.StatusFiring, common, alerts...)
			bodies = append(bodies, amtest.MustJSON(t, n))
		}
	}
	rand.New(rand.NewPCG(7, 11)).Shuffle(len(bodies), func(i, j int) { bodies[i], bodies[j] = bodies[j], bodies[i] })

	work := make(chan []byte)
	var failed atomic.Int64
	var wg sync.WaitGroup
	startedAt := time.Now()
	for range workers {
		wg.Go(func() {
			for body := range work {
				if rec := e.post(body, "Bearer "+token); rec.Code != http.StatusOK {
					failed.Add(1)
				}
			}
		})
	}
	for _, b := range bodies {
		work <- b
	}
	close(work)
	wg.Wait()
	t.Logf("%d notifications in %s", len(bodies), time.Since(startedAt))
	if n := failed.Load(); n != 0 {
		t.Fatalf("%d notifications were not answered 200", n)
	}

	all := e.incidents()
	if len(all) != groups {
		t.Fatalf("%d incidents, want %d", len(all), groups)
	}
	for _, inc := range all {
		g := -1
		if _, err := fmt.Sscanf(inc.Service.Name, "growing-svc-%02d", &g); err != nil {
			t.Fatalf("incident %d of %q", inc.Number, inc.Service.Name)
		}
		st := e.desk.State(inc)
		if len(st.Alerts) != 1 || !st.Alerts[0].Firing {
			t.Fatalf("incident %d: groups %+v, want one firing", inc.Number, st.Alerts)
		}
		linked := map[string]bool{}
		for _, a := range st.Alerts[0].Alerts {
			if a.Status != incident.AlertFiring || a.Labels["service"] != inc.Service.Name || a.StartsAt.IsZero() {
				t.Errorf("incident %d: alert %+v", inc.Number, a)
			}
			linked[a.Fingerprint] = true
		}
		for k := range perGroup {
			if fp := fmt.Sprintf("g%02d-a%03d", g, k); !linked[fp] {
				t.Errorf("incident %d (group %d) lost alert %s", inc.Number, g, fp)
			}
		}
		if len(linked) != perGroup {
			t.Errorf("incident %d links %d alerts, want %d", inc.Number, len(linked), perGroup)
		}
		reports := 0
		for _, ev := range inc.Events {
			reports += len(ev.Alerts)
		}
		if reports != perGroup {
			t.Errorf("incident %d stores %d alert reports, want %d (the news only)", inc.Number, reports, perGroup)
		}
	}
}
