package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/incidentbot/incidentbot/incident"
	"github.com/incidentbot/incidentbot/incident/alertmanager"
	"github.com/incidentbot/incidentbot/incident/desk"
	"github.com/incidentbot/incidentbot/incident/incidenttest"
	"github.com/incidentbot/incidentbot/incident/pgstore"
	"github.com/incidentbot/incidentbot/internal/fakeslack"
	"github.com/incidentbot/incidentbot/internal/pgtest"
)

// childServeEnv makes the test binary run `incidentbot serve` (TestMain):
// the failover test's replicas are real processes it can SIGKILL.
const childServeEnv = "INCIDENTBOT_TEST_CHILD_SERVE"

// replica is one `incidentbot serve` process of the failover test.
type replica struct {
	t    testing.TB
	env  []string
	mu   sync.Mutex
	cmd  *exec.Cmd
	addr string
	logs bytes.Buffer
	done chan struct{}
}

// start runs the process and waits for its HTTP listener.
func (r *replica) start() {
	r.t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = r.env
	stderr, err := cmd.StderrPipe()
	if err != nil {
		r.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	addrc := make(chan string, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			r.mu.Lock()
			r.logs.WriteString(line + "\n")
			r.mu.Unlock()
			var l struct{ Msg, Addr string }
			if json.Unmarshal([]byte(line), &l) == nil && l.Msg == "listening" {
				addrc <- l.Addr
			}
		}
		_ = cmd.Wait()
	}()
	select {
	case addr := <-addrc:
		r.mu.Lock()
		r.cmd, r.addr, r.done = cmd, addr, done
		r.mu.Unlock()
	case <-done:
		r.t.Fatalf("replica exited at start:\n%s", r.log())
	case <-time.After(60 * time.Second):
		r.t.Fatalf("replica did not listen:\n%s", r.log())
	}
}

// kill SIGKILLs the process and waits for it.
func (r *replica) kill() {
	r.mu.Lock()
	cmd, done := r.cmd, r.done
	r.addr = ""
	r.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-done
}

// signal sends the process sig; a stopped process gets no more requests.
func (r *replica) signal(sig syscall.Signal) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd == nil {
		return
	}
	_ = r.cmd.Process.Signal(sig)
	if sig == syscall.SIGSTOP {
		r.addr = ""
	}
}

func (r *replica) url() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.addr == "" {
		return ""
	}
	return "http://" + r.addr
}

func (r *replica) log() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.logs.String()
}

// cluster is the replicas, one fake Slack and one PostgreSQL.
type failover struct {
	t        testing.TB
	fs       *fakeslack.Server
	pg       *pgtest.Cluster
	url      string
	lease    time.Duration // the replicas' job lease
	replicas []*replica
}

// newFailover starts n replicas with a 3 s job lease, so that the tests
// need not wait long for a dead replica's claims to run out.
func newFailover(t testing.TB, n int) *failover { return newFailoverLease(t, n, "3s") }

// newFailoverLease starts n replicas with a lease of storage.postgres.lease
// ("" for the default).
func newFailoverLease(t testing.TB, n int, lease string) *failover {
	pg := pgtest.NewCluster(t)
	url := pg.NewDB(t)
	fs := fakeslack.New(fakeslack.Options{
		SpreadEnvelopes: true,
		Channels:        []fakeslack.ChannelSeed{{Name: "incidents", Members: []string{"U0FAKEBOT1", "UALICE001"}}},
		Users:           []fakeslack.User{{ID: "UALICE001", Name: "alice"}},
	})
	if err := fs.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fs.Close)
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, envPrefix) {
			env = append(env, kv)
		}
	}
	for k, v := range map[string]string{
		childServeEnv:                                     "1",
		"INCIDENTBOT_HTTP_LISTEN":                         "127.0.0.1:0",
		"INCIDENTBOT_STORAGE_DRIVER":                      "postgres",
		"INCIDENTBOT_STORAGE_POSTGRES_URL":                url,
		"INCIDENTBOT_SLACK_BOT_TOKEN":                     fs.BotToken(),
		"INCIDENTBOT_SLACK_APP_TOKEN":                     fs.AppToken(),
		"INCIDENTBOT_SLACK_API_URL":                       fs.APIURL(),
		"INCIDENTBOT_SLACK_ANNOUNCE_CHANNEL":              "incidents",
		"INCIDENTBOT_ORGANISATION_LOSS_THRESHOLDS_HIGH":   "100000",
		"INCIDENTBOT_ORGANISATION_LOSS_THRESHOLDS_MEDIUM": "10000",
		"INCIDENTBOT_ORGANISATION_EXPOSURE_BANDS":         `[{"max_hourly_exposure":7000,"availability":95.0},{"max_hourly_exposure":250000,"availability":99.0}]`,
		"INCIDENTBOT_TEAMS":                               `[{"name":"bedroom-team","members":["UALICE001"],"oncall":{"rotation":["UALICE001"]}}]`,
		"INCIDENTBOT_SERVICES":                            `[{"name":"bedroom","team":"bedroom-team","hourly_exposure":200000}]`,
	} {
		env = append(env, k+"="+v)
	}
	if lease == "" {
		lease = defaults["storage.postgres.lease"].(string)
	}
	env = append(env, "INCIDENTBOT_STORAGE_POSTGRES_LEASE="+lease)
	d, err := time.ParseDuration(lease)
	if err != nil {
		t.Fatal(err)
	}
	f := &failover{t: t, fs: fs, pg: pg, url: url, lease: d}
	for range n {
		r := &replica{t: t, env: env}
		r.start()
		t.Cleanup(r.kill)
		f.replicas = append(f.replicas, r)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := fs.WaitFor(ctx, func() bool { return fs.Connections() == n }); err != nil {
		f.fail("the replicas did not all connect over Socket Mode: %v", err)
	}
	return f
}

func (f *failover) fail(format string, args ...any) {
	f.t.Helper()
	for i, r := range f.replicas {
		f.t.Logf("replica %d log (tail):\n%s", i, tail(r.log(), 3000))
	}
	f.t.Fatalf(format, args...)
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// postAlert posts a notification like Alertmanager: to any live replica,
// again on another after a refused connection or a 5xx, until a 2xx.
func (f *failover) postAlert(ctx context.Context, body []byte) bool {
	for ctx.Err() == nil {
		r := f.replicas[rand.IntN(len(f.replicas))]
		base := r.url()
		if base == "" {
			continue
		}
		resp, err := http.Post(base+alertmanager.Path, "application/json", bytes.NewReader(body))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode/100 == 2 {
				return true
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return false
}

func alertBody(group, service string) []byte {
	return []byte(fmt.Sprintf(`{"version":"4","groupKey":%q,"status":"firing","receiver":"incidentbot",
		"groupLabels":{"alertname":"Down"},"commonLabels":{"alertname":"Down","service":%q},
		"commonAnnotations":{"summary":"%s failing"},"externalURL":"http://am","alerts":[{"status":"firing",
		"labels":{"alertname":"Down","service":%q,"group":%q},"annotations":{"summary":"%s failing"},
		"startsAt":%q,"endsAt":"0001-01-01T00:00:00Z","fingerprint":%q}]}`,
		group, service, service, service, group, service, time.Now().UTC().Add(-time.Minute).Format(time.RFC3339), group))
}

// Three replicas on one PostgreSQL and one Slack that spreads envelopes
// across their connections: during an alert storm and a stream of notes,
// replicas are SIGKILLed and restarted (half of them while a post of theirs
// hangs, which another replica must make within 10 s), and PostgreSQL is
// stopped for 10 s. At the end every alert answered 2xx is stored, every incident has one
// channel, every acknowledged note is on its timeline and posted once, and
// no job is left due.
func TestFailoverAcrossReplicas(t *testing.T) {
	if testing.Short() {
		t.Skip("failover test: several processes for a minute")
	}
	f := newFailoverLease(t, 3, "") // the default lease
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	announce, _ := f.fs.Channel("incidents")

	// Incidents to take notes on.
	const declared = 3
	var channels []string
	for i := 1; i <= declared; i++ {
		if ack, err := f.fs.SlashCommand(ctx, "UALICE001", announce.ID, fmt.Sprintf("declare bedroom Beds broken %d", i)); err != nil || ack.Late {
			f.fail("declare: %v", err)
		}
		name := fmt.Sprintf("inc-%d-beds-broken-%d", i, i)
		if err := f.fs.WaitFor(ctx, func() bool { ch, ok := f.fs.Channel(name); return ok && len(ch.Pins) == 1 }); err != nil {
			f.fail("no channel %s: %v", name, err)
		}
		ch, _ := f.fs.Channel(name)
		channels = append(channels, ch.ID)
	}

	var (
		mu     sync.Mutex
		alerts []string // group keys answered 2xx
		notes  []string // note texts acknowledged
		wg     sync.WaitGroup
	)
	load, stopLoad := context.WithCancel(ctx)
	wg.Add(2)
	go func() { // the alert storm
		defer wg.Done()
		for i := 0; load.Err() == nil; i++ {
			group := fmt.Sprintf("{}:{group=\"g%d\"}", i)
			if f.postAlert(load, alertBody(group, fmt.Sprintf("svc-%d", i%4))) {
				mu.Lock()
				alerts = append(alerts, group)
				mu.Unlock()
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	go func() { // notes in the incident channels
		defer wg.Done()
		for i := 0; load.Err() == nil; i++ {
			text := fmt.Sprintf("chaos note %d", i)
			sctx, scancel := context.WithTimeout(load, 30*time.Second)
			ack, err := f.fs.SlashCommand(sctx, "UALICE001", channels[i%declared], "note "+text)
			scancel()
			if err == nil && ack != nil {
				mu.Lock()
				notes = append(notes, text)
				mu.Unlock()
			}
			time.Sleep(80 * time.Millisecond)
		}
	}()

	// Chaos: SIGKILL a random replica every few seconds and restart it;
	// every other time the one in the middle of a post (its call hangs):
	// another replica must post within 10 s of the kill.
	db, err := pgxpool.New(ctx, f.url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for round := range 6 {
		time.Sleep(2 * time.Second)
		if round%2 == 1 {
			rctx, rcancel := context.WithTimeout(ctx, time.Minute)
			took, err := f.failOver(rctx, db, "chat.postMessage", syscall.SIGKILL, nil)
			rcancel()
			if err != nil {
				f.fail("kill %d: %v", round, err)
			}
			t.Logf("kill %d: the dead replica's post was made %v later", round, took.Round(time.Millisecond))
			if took > 10*time.Second {
				t.Errorf("kill %d: the dead replica's post was made %v later, want within 10 s", round, took)
			}
			continue
		}
		r := f.replicas[rand.IntN(len(f.replicas))]
		r.kill()
		time.Sleep(300 * time.Millisecond)
		r.start()
	}
	// PostgreSQL stopped for 10 s under load.
	if err := f.pg.Stop(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Second)
	if err := f.pg.Start(); err != nil {
		t.Fatal(err)
	}
	for i, r := range f.replicas {
		incidenttest.Eventually(t, fmt.Sprintf("replica %d ready after the database outage", i), func() bool {
			resp, err := http.Get(r.url() + "/readyz")
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == 200
		})
	}
	time.Sleep(2 * time.Second)
	stopLoad()
	wg.Wait()

	st, err := pgstore.Open(ctx, f.url, pgstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	// Nothing left to do: no job due.
	incidenttest.Eventually(t, "every due job to be done", func() bool {
		for _, q := range []string{desk.QueueEffects, desk.QueueInput} {
			if due, err := st.Due(ctx, q, time.Now(), 0); err != nil || len(due) > 0 {
				return false
			}
		}
		return true
	})
	mu.Lock()
	defer mu.Unlock()
	t.Logf("%d alerts answered 2xx, %d notes acknowledged", len(alerts), len(notes))
	if len(alerts) < 10 || len(notes) < 10 {
		f.fail("too little load got through: %d alerts, %d notes", len(alerts), len(notes))
	}
	for _, g := range alerts {
		if _, ok, err := st.ByAlertKey(ctx, alertmanager.KeyPrefix+g); err != nil || !ok {
			t.Errorf("alert %s was answered 2xx but is not stored (%v)", g, err)
		}
	}
	incs, err := st.List(ctx, desk.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	chans := f.fs.Channels()
	for _, inc := range incs {
		n := 0
		for _, ch := range chans {
			if strings.HasPrefix(ch.Name, fmt.Sprintf("inc-%d-", inc.Number)) {
				n++
			}
		}
		if n != 1 {
			t.Errorf("incident %d has %d channels, want 1", inc.Number, n)
		}
	}
	for i, text := range notes {
		inc := incs[len(incs)-1-(i%declared)] // incidents 1..3, listed newest first
		events := 0
		for _, e := range inc.Events {
			if e.Kind == incident.EventNote && e.Text == text {
				events++
			}
		}
		posts := 0
		for _, m := range f.fs.Messages(channels[i%declared]) {
			if strings.HasSuffix(m.Text, ": "+text) {
				posts++
			}
		}
		if events != 1 || posts != 1 {
			t.Errorf("%q: %d events on incident %d's timeline and %d posts, want 1 and 1", text, events, inc.Number, posts)
		}
	}
	if t.Failed() {
		f.fail("failover broke a guarantee")
	}
}
