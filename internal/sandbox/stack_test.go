package sandbox_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack/socketmode"

	"github.com/incidentbot/incidentbot/bot"
	"github.com/incidentbot/incidentbot/incident"
	"github.com/incidentbot/incidentbot/incident/alertmanager"
	"github.com/incidentbot/incidentbot/incident/boltstore"
	"github.com/incidentbot/incidentbot/incident/boltstore/bolttest"
	"github.com/incidentbot/incidentbot/incident/desk"
	"github.com/incidentbot/incidentbot/incident/incidenttest"
	"github.com/incidentbot/incidentbot/internal/fakeslack"
	"github.com/incidentbot/incidentbot/internal/sandbox"
)

type clock = incidenttest.Clock

// tuesdayNoon is in working hours in London, and outside Black Friday.
var tuesdayNoon = time.Date(2026, 11, 17, 12, 0, 0, 0, time.UTC)

// furniture is the starter configuration's catalogue, with its placeholder
// Slack member IDs.
func furniture(t testing.TB) *incident.Catalogue {
	t.Helper()
	c := incidenttest.Furniture()
	c.Domains = []incident.Domain{
		{Name: "online", OnCall: incidenttest.Rotation("U0ONLINE01", "U0ONLINE02")},
		{Name: "furniture", OnCall: incidenttest.Rotation("U0FURNI001", "U0FURNI002")},
	}
	incidenttest.Staff(c, "platform-team", incidenttest.Rotation("U0PLATF001", "U0PLATF002"), "U0PLATF001", "U0PLATF002")
	incidenttest.Staff(c, "appointments-team", incidenttest.Rotation("U0APPTS001"), "U0APPTS001")
	incidenttest.Staff(c, "bedroom-team", incidenttest.Rotation("U0BEDRM001", "U0BEDRM002", "U0BEDRM003"), "U0BEDRM001", "U0BEDRM002")
	incidenttest.Team(c, "platform-team").Domain = "online"
	incidenttest.Team(c, "appointments-team").Domain = "online"
	incidenttest.Service(c, "bedroom").Runbook = "https://runbooks.example/bedroom"
	c.IncidentManagers = []string{"U0IMGR0001", "U0IMGR0002"}
	c.IncidentManagerOnCall = incidenttest.Rotation("U0IMGR0001", "U0IMGR0002")
	return incidenttest.Valid(t, c)
}

// stack is the whole sandbox in-process, wired as `serve --sandbox` wires
// it: one listener serving the sandbox page, the fake Slack under
// /sandbox/slack/ and the Alertmanager webhook; the real bot connected to
// the fake Slack through its Slack client and socketmode.Client.
type stack struct {
	t     testing.TB
	URL   string
	fs    *fakeslack.Server
	sb    *sandbox.Sandbox
	desk  *desk.Desk
	cat   *incident.Catalogue
	clock *clock
}

// logTail keeps the last lines logged, to show when a test fails.
type logTail struct {
	mu    sync.Mutex
	lines []string
}

func (l *logTail) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, line := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		l.lines = append(l.lines, line)
	}
	if len(l.lines) > 400 {
		l.lines = append([]string(nil), l.lines[len(l.lines)-200:]...)
	}
	return len(p), nil
}

func (l *logTail) tail(n int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.lines) > n {
		return strings.Join(l.lines[len(l.lines)-n:], "\n")
	}
	return strings.Join(l.lines, "\n")
}

// logger logs to stderr with SANDBOX_LOG set; otherwise it keeps the tail
// of the log and prints it if the test fails.
func logger(t testing.TB) *slog.Logger {
	if os.Getenv("SANDBOX_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	lt := &logTail{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the last lines logged by the bot:\n%s", lt.tail(80))
		}
	})
	return slog.New(slog.NewTextHandler(lt, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func startStack(t testing.TB) *stack {
	t.Helper()
	log := logger(t)
	clk := incidenttest.NewRunningClock(tuesdayNoon)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := sandbox.LocalBaseURL(ln.Addr().String())

	fsOpts, cat := sandbox.Workspace(furniture(t))
	fsOpts.BaseURL = base
	fsOpts.Now = clk.Now
	if os.Getenv("SANDBOX_LOG") != "" {
		fsOpts.Logf = t.Logf
	}
	fs := fakeslack.New(fsOpts)
	t.Cleanup(fs.Close)

	st := bolttest.Open(t, boltstore.Options{Logger: log, Now: clk.Now})
	d := desk.New(st, cat, desk.Options{Logger: log, Now: clk.Now, Planners: []desk.Planner{bot.Planner{}}})
	runner := desk.NewRunner(st, desk.RunnerOptions{Logger: log, Now: clk.Now, Classify: bot.Classify, Poll: 50 * time.Millisecond})
	api := bot.NewClient(bot.ClientOptions{BotToken: fs.BotToken(), AppToken: fs.AppToken(), APIURL: fs.APIURL()})
	b := bot.New(api, d, st, bot.Options{Logger: log, Now: clk.Now, AnnounceChannel: sandbox.AnnounceChannel, PublicURL: base, Wake: runner.Wake})
	b.Register(runner)
	(&desk.Duties{Desk: d, OnCall: desk.RotationFinder{Location: cat.WorkingHours.Location}, Enqueue: st.Enqueue, CountOpen: st.CountOpen}).Register(runner)

	mux := http.NewServeMux()
	sb := sandbox.New(fs, sandbox.Options{
		Catalogue: cat, AlertWebhookURL: base + alertmanager.Path, Logger: log, Now: clk.Now,
	})
	sb.Routes(mux)
	mux.Handle("POST "+alertmanager.Path, alertmanager.Handler(d, alertmanager.Options{Logger: log}))
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}}
	srv.Start()
	t.Cleanup(srv.Close)
	t.Cleanup(func() { _ = st.Close() })

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 2)
	go func() { done <- runner.Run(ctx) }()
	go func() { done <- b.Serve(ctx, socketmode.New(api)) }()
	t.Cleanup(func() {
		cancel()
		for i := 0; i < 2; i++ {
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Errorf("the bot did not stop")
			}
		}
	})
	wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer wcancel()
	if err := fs.WaitConnected(wctx); err != nil {
		t.Fatal(err)
	}
	return &stack{t: t, URL: srv.URL, fs: fs, sb: sb, desk: d, cat: cat, clock: clk}
}

// waitFor waits until cond holds, or fails the test with what.
func (s *stack) waitFor(what string, cond func() bool) {
	s.t.Helper()
	incidenttest.Eventually(s.t, what, cond)
}

// incidentChannel waits for incident n's channel, with its card pinned.
func (s *stack) incidentChannel(n int) fakeslack.Channel {
	s.t.Helper()
	prefix := "inc-" + itoa(n) + "-"
	var id string
	s.waitFor("the channel of incident #"+itoa(n), func() bool {
		for _, c := range s.fs.Channels() {
			if strings.HasPrefix(c.Name, prefix) && len(s.fs.Pins(c.ID)) > 0 {
				id = c.ID
				return true
			}
		}
		return false
	})
	c, _ := s.fs.Channel(id)
	return c
}

func (s *stack) card(channelID string) fakeslack.Message {
	s.t.Helper()
	pins := s.fs.Pins(channelID)
	if len(pins) == 0 {
		s.t.Fatalf("no pinned card in %s", channelID)
	}
	return pins[0]
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// response is a decoded JSON answer of a sandbox action.
type response struct {
	Status   int
	OK       bool              `json:"ok"`
	Message  string            `json:"message"`
	Error    string            `json:"error"`
	Errors   map[string]string `json:"errors"`
	Incident int64             `json:"incident"`
}

// post submits a form as the page's script does.
func (s *stack) post(path string, form url.Values) response {
	s.t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	var r response
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, &r); err != nil {
		s.t.Fatalf("POST %s: %s: %s", path, resp.Status, raw)
	}
	r.Status = resp.StatusCode
	return r
}

// mustPost is post failing the test unless the action succeeded.
func (s *stack) mustPost(path string, form url.Values) response {
	s.t.Helper()
	r := s.post(path, form)
	if !r.OK || r.Status != http.StatusOK {
		s.t.Fatalf("POST %s %v: %d %+v", path, form, r.Status, r)
	}
	return r
}

func (s *stack) get(path string) (int, string) {
	s.t.Helper()
	resp, err := http.Get(s.URL + path)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(raw)
}

func (s *stack) state(user, channel, tab string) sandbox.State {
	s.t.Helper()
	code, body := s.get("/sandbox/state.json?" + url.Values{"user": {user}, "channel": {channel}, "tab": {tab}}.Encode())
	if code != http.StatusOK {
		s.t.Fatalf("state.json: %d %s", code, body)
	}
	var st sandbox.State
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		s.t.Fatal(err)
	}
	return st
}
