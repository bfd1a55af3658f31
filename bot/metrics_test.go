package bot_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"

	"github.com/incidentbot/incidentbot/bot"
	"github.com/incidentbot/incidentbot/incident/boltstore"
	"github.com/incidentbot/incidentbot/incident/boltstore/bolttest"
	"github.com/incidentbot/incidentbot/incident/desk"
	"github.com/incidentbot/incidentbot/incident/incidenttest"
	"github.com/incidentbot/incidentbot/internal/apicall"
	"github.com/incidentbot/incidentbot/internal/promtest"
)

// scrape reads the running bot's metrics over HTTP, as Prometheus does.
func (e *env) scrape() (promtest.Samples, string) {
	e.t.Helper()
	srv := httptest.NewServer(promhttp.HandlerFor(e.inst.Registry, promhttp.HandlerOpts{}))
	defer srv.Close()
	return promtest.Scrape(e.t, srv.URL)
}

// waitMetric waits until the scrape shows the sample at want.
func (e *env) waitMetric(want float64, name string, labels ...string) {
	e.t.Helper()
	var got float64
	e.waitFor(promtest.Key(name, labels...)+" to reach the wanted value", func() bool {
		s, _ := e.scrape()
		got = s.Get(name, labels...)
		return got == want
	})
}

// hostileTitle is an incident title made to break an exposition or smuggle text
// into a label.
const hostileTitle = `Evil"} 1 <script>alert(1)</script> {title="x`

// A channel job whose conversations.create is rate limited once shows one
// retry and one success for its kind, the 429 and the success of the call,
// and the slash command stored; no incident text appears in the scrape.
func TestMetricsOfARateLimitedJob(t *testing.T) {
	e := newEnv(t, tuesdayNoon)
	e.fs.RateLimit("conversations.create", 1, time.Second)
	e.slash(alice, announc, "declare bedroom "+hostileTitle)
	e.channelOf(1)
	e.waitMetric(1, "incidentbot_jobs_finished_total", "kind", bot.JobChannel, "outcome", "done")
	s, body := e.scrape()
	want := map[string]float64{
		promtest.Key("incidentbot_jobs_finished_total", "kind", bot.JobChannel, "outcome", "retried"):                         1,
		promtest.Key("incidentbot_jobs_started_total", "kind", bot.JobChannel):                                                2,
		promtest.Key("incidentbot_slack_api_call_duration_seconds_count", "method", "conversations.create", "outcome", "429"): 1,
		promtest.Key("incidentbot_slack_api_call_duration_seconds_count", "method", "conversations.create", "outcome", "ok"):  1,
		promtest.Key("incidentbot_socket_mode_envelopes_total", "type", "slash", "outcome", "stored"):                         1,
		promtest.Key("incidentbot_socket_mode_ack_duration_seconds_count", "type", "slash"):                                   1,
	}
	for k, w := range want {
		if v, ok := s[k]; !ok || v != w {
			t.Errorf("%s = %v (present %v), want %v", k, v, ok, w)
		}
	}
	for _, bad := range []string{"Evil", "<script>", "alert(1)", `title="x`} {
		if strings.Contains(body, bad) {
			t.Errorf("the scrape carries incident text %q", bad)
		}
	}
}

// A Slack call that hangs past its job's deadline is counted as a timeout
// of its method, and the run as abandoned (then retried and done).
func TestMetricsOfAHungSlackCall(t *testing.T) {
	e := newEnv(t, tuesdayNoon, func(e *env) { e.callTimeout, e.jobTimeout = time.Minute, 500*time.Millisecond })
	e.fs.HangNext("conversations.setTopic", 1)
	e.slash(alice, announc, "declare bedroom Checkout is slow")
	e.channelOf(1)
	e.waitMetric(1, "incidentbot_jobs_finished_total", "kind", bot.JobChannel, "outcome", "done")
	s, _ := e.scrape()
	if n := s.Get("incidentbot_slack_api_call_duration_seconds_count", "method", "conversations.setTopic", "outcome", "timeout"); n != 1 {
		t.Errorf("hung setTopic calls counted as timeouts: %v", n)
	}
	if n := s.Get("incidentbot_jobs_abandoned_total", "kind", bot.JobChannel); n != 1 {
		t.Errorf("channel job runs abandoned: %v", n)
	}
	if n := s.Get("incidentbot_jobs_finished_total", "kind", bot.JobChannel, "outcome", "retried"); n != 1 {
		t.Errorf("channel job runs retried: %v", n)
	}
}

// A call that outlives the client's own deadline is a timeout too.
func TestClientObservesItsDeadline(t *testing.T) {
	fs := newFake(t)
	fs.HangNext("chat.postMessage", 1)
	var mu sync.Mutex
	var seen []string
	api := bot.NewClient(bot.ClientOptions{BotToken: fs.BotToken(), APIURL: fs.APIURL(), Timeout: 200 * time.Millisecond,
		Observe: func(method string, o apicall.Outcome, _ time.Duration) {
			mu.Lock()
			seen = append(seen, method+" "+string(o))
			mu.Unlock()
		}})
	if _, _, err := api.PostMessageContext(context.Background(), announc, slack.MsgOptionText("hello", false)); err == nil {
		t.Fatal("a hung call succeeded")
	}
	if _, _, err := api.PostMessageContext(context.Background(), "CNOSUCHONE", slack.MsgOptionText("hello", false)); err == nil {
		t.Fatal("a post to no channel succeeded")
	}
	if _, _, err := api.PostMessageContext(context.Background(), announc, slack.MsgOptionText("hello", false)); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	want := "chat.postMessage timeout, chat.postMessage api_error, chat.postMessage ok"
	if got := strings.Join(seen, ", "); got != want {
		t.Errorf("observed %q, want %q", got, want)
	}
}

// A redelivered event is counted as a duplicate, the first as stored.
func TestMetricsOfRedeliveredEnvelopes(t *testing.T) {
	e := newEnv(t, tuesdayNoon)
	e.slash(alice, announc, "declare bedroom Duplicates")
	ch := e.channelOf(1)
	e.waitMember(alice, ch.ID)
	if _, err := e.fs.PostUserMessage(e.ctx(), alice, ch.ID, "the db is on fire"); err != nil {
		t.Fatal(err)
	}
	env := ""
	e.waitFor("the message delivered", func() bool {
		for _, en := range e.fs.Envelopes() {
			if en.Type == "events_api" && en.Acked && strings.Contains(string(en.Payload), "the db is on fire") {
				env = en.ID
			}
		}
		return env != ""
	})
	if _, err := e.fs.Redeliver(e.ctx(), env); err != nil {
		t.Fatal(err)
	}
	e.waitMetric(1, "incidentbot_socket_mode_envelopes_total", "type", "event", "outcome", "duplicate")
	s, _ := e.scrape()
	// Other events (members joining the channel) are stored too; only the
	// message was delivered twice.
	if a, b := s.Get("incidentbot_socket_mode_envelopes_total", "type", "event", "outcome", "stored"), s.Get("incidentbot_socket_mode_envelopes_total", "type", "event", "outcome", "duplicate"); a < 1 || b != 1 {
		t.Errorf("events stored %v, duplicate %v; want at least 1 and 1", a, b)
	}
}

// failingStore is a store that cannot write the inbox.
type failingStore struct{ *boltstore.Store }

var errDiskFull = errors.New("disk full")

func (failingStore) Enqueue(context.Context, ...desk.Job) error { return errDiskFull }
func (failingStore) EnqueueAdded(context.Context, ...desk.Job) (int, error) {
	return 0, errDiskFull
}

type acks struct{ n int }

func (a *acks) Ack(socketmode.Request, ...any) error { a.n++; return nil }

// Intake tells each envelope's outcome: not stored (and not acknowledged)
// when the inbox cannot be written, stored, duplicate on a redelivery,
// ignored when it is answered in the acknowledgement.
func TestIntakeTellsTheEnvelopeOutcome(t *testing.T) {
	st := bolttest.Open(t, boltstore.Options{})
	cat := catalogue(t)
	clk := incidenttest.NewClock(tuesdayNoon)
	d := desk.New(st, cat, desk.Options{Now: clk.Now})
	var got []bot.EnvelopeEvent
	observe := func(ev bot.EnvelopeEvent) { got = append(got, ev) }
	slash := func(id, text string) socketmode.Event {
		return socketmode.Event{Type: socketmode.EventTypeSlashCommand, Data: slack.SlashCommand{Text: text, UserID: alice, ChannelID: announc},
			Request: &socketmode.Request{EnvelopeID: id, Type: "slash_commands"}}
	}
	ack := &acks{}
	broken := bot.New(nil, d, failingStore{st}, bot.Options{Now: clk.Now, ObserveEnvelope: observe})
	broken.Intake(context.Background(), ack, slash("E1", "declare bedroom Disk full"))
	if ack.n != 0 {
		t.Errorf("an envelope that was not stored was acknowledged")
	}
	b := bot.New(nil, d, st, bot.Options{Now: clk.Now, ObserveEnvelope: observe})
	b.Intake(context.Background(), ack, slash("E1", "declare bedroom Disk full"))
	b.Intake(context.Background(), ack, slash("E1", "declare bedroom Disk full"))
	b.Intake(context.Background(), ack, slash("E2", "frobnicate the widgets"))
	want := []bot.EnvelopeOutcome{bot.EnvelopeNotStored, bot.EnvelopeStored, bot.EnvelopeDuplicate, bot.EnvelopeIgnored}
	if len(got) != len(want) {
		t.Fatalf("told %+v", got)
	}
	for i, ev := range got {
		if ev.Type != bot.EnvelopeSlash || ev.Outcome != want[i] || (ev.Outcome == bot.EnvelopeNotStored) != (ev.Ack == 0) {
			t.Errorf("envelope %d: told %+v, want outcome %s", i, ev, want[i])
		}
	}
	if ack.n != 3 {
		t.Errorf("%d acknowledgements, want 3", ack.n)
	}
}
