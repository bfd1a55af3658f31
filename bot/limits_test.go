package bot_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"

	"github.com/incidentbot/incidentbot/bot"
	"github.com/incidentbot/incidentbot/incident"
	"github.com/incidentbot/incidentbot/incident/boltstore"
	"github.com/incidentbot/incidentbot/incident/desk"
	"github.com/incidentbot/incidentbot/incident/incidenttest"
)

// logSink collects the bot's JSON log lines.
type logSink struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logSink) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logSink) lines(substr string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, ln := range strings.Split(l.b.String(), "\n") {
		if strings.Contains(ln, substr) {
			out = append(out, ln)
		}
	}
	return out
}

func (e *env) pending(prefix string) []desk.Job {
	e.t.Helper()
	jobs, err := e.inst.Store.Pending(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	var out []desk.Job
	for _, j := range jobs {
		if strings.HasPrefix(j.ID, prefix) {
			out = append(out, j)
		}
	}
	return out
}

// A 35,000-character message (Slack takes up to 40,000) used to fail its
// inbox job forever (the timeline takes 30,000 bytes): it goes on the
// timeline cut, saying so, and the job is done.
func TestLongChannelMessageIsKeptCut(t *testing.T) {
	e := newEnv(t, tuesdayNoon)
	e.slash(alice, announc, "declare bedroom Long messages")
	ch := e.channelOf(1)
	e.waitMember(alice, ch.ID)
	text := strings.Repeat("the search index is rebuilding ", 35_000/31+1)[:35_000]
	if _, err := e.fs.PostUserMessage(e.ctx(), alice, ch.ID, text); err != nil {
		t.Fatal(err)
	}
	e.waitFor("the message on the timeline", func() bool {
		_, st := e.incident(1)
		return len(st.Messages) == 1
	})
	_, st := e.incident(1)
	got := st.Messages[0].Text
	if len(got) > incident.MaxText || !strings.HasPrefix(got, text[:1000]) || !strings.Contains(got, "of 35000 characters kept]") {
		t.Errorf("message of %d bytes ending %q", len(got), got[max(0, len(got)-60):])
	}
	e.waitFor("the inbox drained", func() bool { return len(e.pending("inbox/")) == 0 })
}

// An ephemeral answer to someone who is not in the channel it is for can
// never be delivered (user_not_in_channel): the job is dropped, logged once
// with its id and why, instead of being retried forever.
func TestUndeliverableEphemeralIsDropped(t *testing.T) {
	logs := &logSink{}
	e := newEnv(t, tuesdayNoon, func(e *env) { e.logs = logs })
	e.slash(alice, announc, "declare bedroom Beds cannot be ordered")
	ch := e.channelOf(1)
	card := e.fs.Pins(ch.ID)[0]
	// Dave, of another team and not in the channel, may not resolve: the
	// answer saying so is for him in a channel he is not in.
	if _, err := e.fs.ClickButton(e.ctx(), dave, ch.ID, card.TS, bot.ActResolve); err != nil {
		t.Fatal(err)
	}
	var viewID string
	e.waitFor("resolve modal", func() bool {
		for _, v := range e.fs.OpenViews(dave) {
			if v.CallbackID == bot.ViewResolve {
				viewID = v.ID
				return true
			}
		}
		return false
	})
	if _, err := e.fs.SubmitView(e.ctx(), dave, viewID, map[string]map[string]string{"text": {"text": "fixed, I think"}}); err != nil {
		t.Fatal(err)
	}
	var dropped []string
	e.waitFor("the reply dropped", func() bool {
		dropped = logs.lines(`"msg":"job failed permanently"`)
		return len(dropped) > 0
	})
	if len(dropped) != 1 || !strings.Contains(dropped[0], `"job":"`+bot.JobReply+"/") || !strings.Contains(dropped[0], "user_not_in_channel") {
		t.Fatalf("dropped: %q", dropped)
	}
	for _, ln := range logs.lines(`"msg":"job failed; will retry"`) {
		if strings.Contains(ln, `"job":"`+bot.JobReply+"/") {
			t.Errorf("the reply was retried: %s", ln)
		}
	}
	e.waitFor("the reply job gone", func() bool { return len(e.pending(bot.JobReply)) == 0 })
	e.waitFor("the inbox drained", func() bool { return len(e.pending("inbox/")) == 0 })
	if _, st := e.incident(1); st.Status != incident.StatusOpen {
		t.Errorf("status %s", st.Status)
	}
}

func TestClassify(t *testing.T) {
	for _, c := range []struct {
		err             error
		permanent, sure bool
	}{
		{slack.SlackErrorResponse{Err: "user_not_in_channel"}, true, true},
		{fmt.Errorf("reply: %w", slack.SlackErrorResponse{Err: "not_in_channel"}), true, true},
		{slack.SlackErrorResponse{Err: "invalid_blocks"}, true, true},
		{slack.SlackErrorResponse{Err: "msg_too_long"}, true, true},
		{slack.SlackErrorResponse{Err: "internal_error"}, false, false},
		{slack.SlackErrorResponse{Err: "some_new_code"}, false, false},
		{fmt.Errorf("record: %w", incident.Errorf(incident.EINVALID, "That text is too long.")), true, true},
		{incident.Errorf(incident.ENOTFOUND, "There is no incident #9."), true, true},
		{errors.New("connection reset"), false, false},
	} {
		_, permanent, sure := bot.Classify(c.err)
		if permanent != c.permanent || sure != c.sure {
			t.Errorf("Classify(%v) = permanent %v, sure %v; want %v %v", c.err, permanent, sure, c.permanent, c.sure)
		}
	}
	if d, permanent, sure := bot.Classify(&slack.RateLimitedError{RetryAfter: 7 * time.Second}); d != 7*time.Second || permanent || !sure {
		t.Errorf("429: %v %v %v", d, permanent, sure)
	}
}

// Slack's verification token comes in every envelope; the jobs need none
// of it. Stored inbox payloads (every one of them, read back before the
// runner takes them) hold everything else and not the token.
func TestVerificationTokenIsNotStored(t *testing.T) {
	fs := newFake(t)
	clk, cat, path := newClock(tuesdayNoon), catalogue(t), t.TempDir()+"/incidentbot.db"
	st, err := boltstore.Open(path, boltstore.Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	d := desk.New(st, cat, desk.Options{Now: clk.Now, Planners: []desk.Planner{bot.Planner{}}})
	api := bot.NewClient(bot.ClientOptions{BotToken: fs.BotToken(), AppToken: fs.AppToken(), APIURL: fs.APIURL()})
	b := bot.New(api, d, st, bot.Options{Now: clk.Now, AnnounceChannel: "incidents"})
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- b.Serve(ctx, socketmode.New(api)) }() // intake only: no runner
	wctx, wcancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer wcancel()
	if err := fs.WaitConnected(wctx); err != nil {
		t.Fatal(err)
	}

	if _, err := fs.SlashCommand(wctx, alice, announc, "declare bedroom Token check"); err != nil {
		t.Fatal(err)
	}
	if _, err := fs.SlashCommand(wctx, bob, announc, ""); err != nil {
		t.Fatal(err)
	}
	var viewID string
	if err := fs.WaitFor(wctx, func() bool {
		for _, v := range fs.OpenViews(bob) {
			viewID = v.ID
			return true
		}
		return false
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := fs.SubmitView(wctx, bob, viewID, map[string]map[string]string{"service": {"service": "appointments"}, "title": {"title": "Bookings lost"}}); err != nil {
		t.Fatal(err)
	}
	if err := fs.OpenAppHome(wctx, carol); err != nil {
		t.Fatal(err)
	}
	jobs, err := st.Pending(wctx)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, j := range jobs {
		if j.Kind != bot.JobInbox {
			continue
		}
		for _, typ := range []string{`"type":"slash"`, `"type":"interaction"`, `"type":"event"`} {
			if strings.Contains(string(j.Payload), typ) {
				kinds[typ]++
			}
		}
		if strings.Contains(string(j.Payload), "fakeverificationtoken") || strings.Contains(string(j.Payload), `"token":`) {
			t.Errorf("job %s stores the verification token: %.300s", j.ID, j.Payload)
		}
	}
	if kinds[`"type":"slash"`] != 1 || kinds[`"type":"interaction"`] != 1 || kinds[`"type":"event"`] != 1 {
		t.Fatalf("inbox jobs by type: %v (of %d jobs)", kinds, len(jobs))
	}
	cancel()
	<-served

	// What is stored is enough: a runner declares both incidents from it.
	runner := desk.NewRunner(st, desk.RunnerOptions{Now: clk.Now, Classify: bot.Classify, Poll: 20 * time.Millisecond})
	b.Register(runner)
	rctx, rcancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- runner.Run(rctx) }()
	incidenttest.Eventually(t, "both incidents declared from the stored inbox", func() bool {
		all, err := d.List(context.Background(), desk.Filter{})
		return err == nil && len(all) == 2
	})
	rcancel()
	<-ran
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
}
