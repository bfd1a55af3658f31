package bot_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/incident"
	"github.com/incidentbot/incidentbot/incident/incidenttest"
)

func (e *env) waitLong(what string, d time.Duration, cond func() bool) {
	e.t.Helper()
	incidenttest.EventuallyWithin(e.t, d, what, cond)
}

func (e *env) incidentChannels() int {
	n := 0
	for _, c := range e.fs.Channels() {
		if strings.HasPrefix(c.Name, "inc-") {
			n++
		}
	}
	return n
}

// Every envelope is acknowledged within 3 s even when every Web API call
// takes 5 s; the work completes afterwards.
func TestSlowSlackStillAcksInTime(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	e := newEnv(t, tuesdayNoon)
	e.fs.SetLatency("*", 5*time.Second)
	var wg sync.WaitGroup
	for i, svc := range []string{"bedroom", "appointments", "ecommerce-platform"} {
		wg.Add(1)
		go func(i int, svc string) {
			defer wg.Done()
			e.slash(alice, announc, "declare "+svc+" slow day "+itoaT(i))
		}(i, svc)
	}
	wg.Wait()
	e.slash(alice, announc, "list")
	e.slash(alice, announc, "help")
	if late := e.fs.LateAcks(); len(late) != 0 {
		t.Fatalf("late acks with a slow Slack: %+v", late)
	}
	e.waitLong("three channels with cards", 120*time.Second, func() bool {
		n := 0
		for _, c := range e.fs.Channels() {
			if strings.HasPrefix(c.Name, "inc-") && len(c.Pins) == 1 {
				n++
			}
		}
		return n == 3
	})
	if got := e.fs.Calls("conversations.create"); got != 3 {
		t.Errorf("conversations.create called %d times", got)
	}
}

// 429s are retried after Retry-After; nothing is duplicated.
func TestRateLimitedCallsAreRetried(t *testing.T) {
	e := newEnv(t, tuesdayNoon)
	e.fs.RateLimit("conversations.create", 2, time.Second)
	e.fs.RateLimit("chat.postMessage", 3, time.Second)
	e.fs.RateLimit("pins.add", 1, time.Second)
	start := time.Now()
	e.slash(alice, announc, "declare bedroom Rate limited")
	ch := e.channelOf(1)
	if time.Since(start) < 2*time.Second {
		t.Errorf("two 1 s Retry-Afters were not honoured (took %v)", time.Since(start))
	}
	if e.incidentChannels() != 1 || e.fs.Calls("conversations.create") != 3 {
		t.Errorf("channels %d, create calls %d", e.incidentChannels(), e.fs.Calls("conversations.create"))
	}
	e.waitFor("announcement", func() bool { return e.hasBotText(announc, "#1 Rate limited") })
	if n := e.countBotText(ch.ID, "#1 Rate limited"); n != 1 {
		t.Errorf("card posted %d times", n)
	}
}

// A 10 s outage loses nothing: the incident is stored, and the channel and
// announcement follow when Slack is back.
func TestSlackOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	e := newEnv(t, tuesdayNoon)
	e.slash(alice, announc, "declare bedroom Before the outage")
	ch := e.channelOf(1)
	e.fs.SetOutage(10 * time.Second)
	e.slash(alice, announc, "declare appointments During the outage")
	e.slash(alice, ch.ID, "impact degraded")
	e.waitFor("both stored", func() bool {
		_, st := e.incident(1)
		incs, _ := e.inst.Desk.List(context.Background(), boltstoreFilterAll)
		return len(incs) == 2 && st.Impact.Level == incident.ImpactDegraded
	})
	e.waitLong("second channel after the outage", 60*time.Second, func() bool {
		c, ok := e.fs.Channel("inc-2-during-the-outage")
		return ok && len(c.Pins) == 1
	})
	e.waitLong("impact posted after the outage", 60*time.Second, func() bool { return e.hasBotText(ch.ID, "set impact to *degraded (50%)*") })
	if e.incidentChannels() != 2 {
		t.Errorf("channels = %d", e.incidentChannels())
	}
}

// conversations.create answering internal_error after creating the channel
// (a half success) must not lead to a second channel.
func TestHalfSucceededCreateIsAdopted(t *testing.T) {
	e := newEnv(t, tuesdayNoon)
	e.fs.FailNext("conversations.create", "internal_error", true)
	e.slash(alice, announc, "declare bedroom Half created")
	ch := e.channelOf(1)
	if ch.Name != "inc-1-half-created" || e.incidentChannels() != 1 {
		t.Errorf("channel %q, %d incident channels", ch.Name, e.incidentChannels())
	}
	// A channel of the same name someone else created is not adopted.
	e.fs.AddChannel(fakeslackSeed("inc-2-taken", dave))
	e.slash(alice, announc, "declare bedroom Taken")
	e.waitFor("suffixed channel", func() bool { c, ok := e.fs.Channel("inc-2-taken-2"); return ok && len(c.Pins) == 1 })
}

// Forced reconnects and dropped sockets: the bot comes back and keeps
// working.
func TestReconnects(t *testing.T) {
	e := newEnv(t, tuesdayNoon)
	e.slash(alice, announc, "declare bedroom Before reconnect")
	ch := e.channelOf(1)
	e.fs.Disconnect("refresh_requested")
	e.waitFor("reconnected after disconnect", func() bool { return e.fs.TotalConnections() >= 2 && e.fs.Connections() >= 1 })
	e.slash(alice, ch.ID, "note after refresh")
	e.fs.DropConnection()
	e.waitLong("reconnected after a dead socket", 45*time.Second, func() bool { return e.fs.TotalConnections() >= 3 && e.fs.Connections() >= 1 })
	e.slash(alice, ch.ID, "note after drop")
	e.waitFor("both notes", func() bool {
		return e.hasBotText(ch.ID, "after refresh") && e.hasBotText(ch.ID, "after drop")
	})
}

// Redelivered events are processed once, also across a restart.
func TestRedeliveredEventsProcessedOnce(t *testing.T) {
	e := newEnv(t, tuesdayNoon)
	e.slash(alice, announc, "declare bedroom Duplicates")
	ch := e.channelOf(1)
	e.waitMember(alice, ch.ID)
	if _, err := e.fs.PostUserMessage(e.ctx(), alice, ch.ID, "the db is on fire"); err != nil {
		t.Fatal(err)
	}
	var env string
	for _, en := range e.fs.Envelopes() {
		if en.Type == "events_api" {
			env = en.ID
		}
	}
	if _, err := e.fs.Redeliver(e.ctx(), env); err != nil {
		t.Fatal(err)
	}
	e.restart()
	if _, err := e.fs.Redeliver(e.ctx(), env); err != nil {
		t.Fatal(err)
	}
	e.waitFor("message on the timeline", func() bool { _, st := e.incident(1); return len(st.Messages) == 1 })
	time.Sleep(300 * time.Millisecond)
	inc, st := e.incident(1)
	msgs := 0
	for _, ev := range inc.Events {
		if ev.Kind == incident.EventMessage {
			msgs++
		}
	}
	if msgs != 1 || st.Messages[0].Text != "the db is on fire" {
		t.Errorf("message recorded %d times: %+v", msgs, st.Messages)
	}
}

// A restart while Slack is down resumes the pending work from bbolt.
func TestRestartMidIncidentResumesWork(t *testing.T) {
	e := newEnv(t, tuesdayNoon)
	e.fs.SetOutage(3 * time.Second)
	e.slash(alice, announc, "declare bedroom Restart me")
	e.waitFor("stored", func() bool {
		incs, _ := e.inst.Desk.List(context.Background(), boltstoreFilterAll)
		return len(incs) == 1
	})
	e.restart()
	ch := e.channelOf(1)
	e.slash(alice, ch.ID, "impact partial")
	e.waitFor("impact posted", func() bool { return e.hasBotText(ch.ID, "partial (10%)") })
	if e.incidentChannels() != 1 || e.countBotText(announc, "#1 Restart me") != 1 {
		t.Errorf("channels %d announcements %d", e.incidentChannels(), e.countBotText(announc, "#1 Restart me"))
	}
}

// Messages sent while the bot was away, whose events Slack never replays,
// are read back from the channel history on reconnection, once.
func TestCatchUpAfterLongOutage(t *testing.T) {
	e := newEnv(t, tuesdayNoon)
	e.slash(alice, announc, "declare bedroom Catch up")
	ch := e.channelOf(1)
	e.waitMember(alice, ch.ID)
	if _, err := e.fs.PostUserMessage(e.ctx(), alice, ch.ID, "before the outage"); err != nil {
		t.Fatal(err)
	}
	e.waitFor("first message", func() bool { _, st := e.incident(1); return len(st.Messages) == 1 })
	if err := e.fs.JoinChannel(e.ctx(), bob, ch.ID); err != nil {
		t.Fatal(err)
	}
	e.stop()
	// The bot is gone: the fake stores the message but cannot deliver it.
	_, _ = e.fs.PostUserMessage(e.ctx(), alice, ch.ID, "while you were away")
	_, _ = e.fs.PostUserMessage(e.ctx(), bob, ch.ID, "and this too")
	e.start()
	e.waitFor("missed messages recorded", func() bool { _, st := e.incident(1); return len(st.Messages) == 3 })
	e.fs.Disconnect("refresh_requested") // another catch-up must add nothing
	e.waitFor("reconnected", func() bool { return e.fs.TotalConnections() >= 3 && e.fs.Connections() >= 1 })
	time.Sleep(500 * time.Millisecond)
	inc, st := e.incident(1)
	n := 0
	for _, ev := range inc.Events {
		if ev.Kind == incident.EventMessage {
			n++
		}
	}
	if n != 3 || st.Messages[1].Text != "while you were away" {
		t.Errorf("%d message events: %+v", n, st.Messages)
	}
}
