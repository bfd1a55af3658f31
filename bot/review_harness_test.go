package bot_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/slack-go/slack/socketmode"

	"github.com/incidentbot/incidentbot/bot"
	"github.com/incidentbot/incidentbot/bot/bottest"
	"github.com/incidentbot/incidentbot/incident"
	"github.com/incidentbot/incidentbot/incident/boltstore"
	"github.com/incidentbot/incidentbot/incident/desk"
	"github.com/incidentbot/incidentbot/internal/fakeslack"
	"github.com/incidentbot/incidentbot/review"
	"github.com/incidentbot/incidentbot/review/reviewstore"
	"github.com/incidentbot/incidentbot/review/site"
)

// reviewEnv is env with the review site served next to the bot, wired the
// way `incidentbot serve` wires it, and the bot's public URL pointing at it.
type reviewEnv struct {
	*env
	web     *httptest.Server
	handler atomic.Value // http.Handler of the running instance
}

func newReviewEnv(t *testing.T, start time.Time) *reviewEnv {
	t.Helper()
	return newReviewEnvWith(t, start, nil)
}

// newReviewEnvWith is newReviewEnv with setup run on the env before the
// bot starts (to point it at a recording proxy, say).
func newReviewEnvWith(t *testing.T, start time.Time, setup func(*env)) *reviewEnv {
	t.Helper()
	re := &reviewEnv{}
	re.web = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, _ := re.handler.Load().(http.Handler)
		if h == nil {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(re.web.Close)
	re.env = &env{t: t, fs: newFake(t), clock: newClock(start), cat: catalogue(t), path: filepath.Join(t.TempDir(), "incidentbot.db")}
	if setup != nil {
		setup(re.env)
	}
	re.startReview()
	t.Cleanup(re.stop)
	return re
}

// startReview runs a bot like startBot does, with PublicURL set, and
// mounts the review site and /api/stats on its store.
func (re *reviewEnv) startReview() {
	t := re.t
	t.Helper()
	log := re.logger()
	st, err := boltstore.Open(re.path, boltstore.Options{Logger: log, Now: re.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	d := desk.New(st, re.cat, desk.Options{Logger: log, Now: re.clock.Now, Planners: []desk.Planner{bot.Planner{}}})
	runner := desk.NewRunner(st, desk.RunnerOptions{Logger: log, Now: re.clock.Now, Classify: bot.Classify, Poll: 50 * time.Millisecond})
	api := bot.NewClient(bot.ClientOptions{BotToken: re.fs.BotToken(), AppToken: re.fs.AppToken(), APIURL: re.apiURL()})
	b := bot.New(api, d, st, bot.Options{Logger: log, Now: re.clock.Now, AnnounceChannel: "incidents", PublicURL: re.web.URL, Wake: runner.Wake})
	b.Register(runner)
	(&desk.Duties{Desk: d, OnCall: desk.RotationFinder{Location: re.cat.WorkingHours.Location}, Enqueue: st.Enqueue, CountOpen: st.CountOpen}).Register(runner)

	// The wiring reported for cmd/incidentbot serve.
	mux := http.NewServeMux()
	rs := b.Reviews()
	s, err := site.New(site.Options{Reviews: rs, Logger: log, Now: re.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	s.Routes(mux)
	var names []string
	for _, svc := range re.cat.Services {
		names = append(names, svc.Name)
	}
	mux.Handle("GET /api/stats", site.StatsHandler(site.StatsOptions{
		Measure: func(ctx context.Context, period time.Duration, service string) (review.Measures, error) {
			return rs.Measures(ctx, d, re.cat.Policy, period, service, d.Now())
		},
		Authorize: site.BearerAuthorizer("secret-token"),
		Currency:  re.cat.Currency,
		Services:  names,
		Logger:    log,
	}))
	re.handler.Store(http.Handler(mux))

	re.inst = bottest.Run(st, d, b, runner, socketmode.New(api))
	wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer wcancel()
	if err := re.fs.WaitConnected(wctx); err != nil {
		t.Fatal(err)
	}
}

func (re *reviewEnv) restartReview() {
	re.stop()
	// The fake forgets the old socket only once it notices it closed;
	// until then WaitConnected could see it and envelopes go nowhere.
	re.waitFor("old socket gone", func() bool { return re.fs.Connections() == 0 })
	re.startReview()
}

func (re *reviewEnv) reviews() *reviewstore.Store { return re.inst.Bot.Reviews() }

func (re *reviewEnv) record(n int64) (*reviewstore.Record, bool) {
	re.t.Helper()
	rec, ok, err := re.reviews().Record(context.Background(), n)
	if err != nil {
		re.t.Fatal(err)
	}
	return rec, ok
}

func (re *reviewEnv) countEvents(n int64, kind incident.EventKind) int {
	inc, _ := re.incident(n)
	c := 0
	for _, e := range inc.Events {
		if e.Kind == kind {
			c++
		}
	}
	return c
}

// lastEphemeral waits for an ephemeral message to user containing substr
// and returns it.
func (re *reviewEnv) lastEphemeral(userID, substr string) fakeslack.Ephemeral {
	re.t.Helper()
	var found fakeslack.Ephemeral
	re.waitFor("ephemeral "+substr, func() bool {
		es := re.fs.Ephemerals(userID)
		for i := len(es) - 1; i >= 0; i-- {
			if strings.Contains(es[i].AllText(), substr) {
				found = es[i]
				return true
			}
		}
		return false
	})
	return found
}

// waitView waits for a modal with callbackID open for user and returns it.
func (re *reviewEnv) waitView(userID, callbackID string, not map[string]bool) fakeslack.View {
	re.t.Helper()
	var v fakeslack.View
	re.waitFor("modal "+callbackID, func() bool {
		vs := re.fs.OpenViews(userID)
		for i := len(vs) - 1; i >= 0; i-- {
			if vs[i].CallbackID == callbackID && !not[vs[i].ID] {
				v = vs[i]
				return true
			}
		}
		return false
	})
	return v
}

// get fetches a path of the review site with a client (and its cookies).
func (re *reviewEnv) get(c *http.Client, path string) (int, string, http.Header) {
	re.t.Helper()
	resp, err := c.Get(re.web.URL + path)
	if err != nil {
		re.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), resp.Header
}

func newBrowserClient(t *testing.T) *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, Timeout: 10 * time.Second}
}

func jsonOf(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, s)
	}
	return m
}
