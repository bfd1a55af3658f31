package bot_test

import (
	"context"
	"strings"
	"testing"

	"time"

	"github.com/incidentbot/incidentbot/bot"
	"github.com/incidentbot/incidentbot/incident/incidenttest"
	"github.com/incidentbot/incidentbot/internal/fakeslack"
	"github.com/slack-go/slack"

	"github.com/incidentbot/incidentbot/incident"
)

// One Slack call that never answers (a half-open connection) freezes
// nothing: a note typed while conversations.setTopic hangs is on the
// timeline while the call is still hanging, and reaches the channel once
// the job's deadline has ended the call; the hung call's effect happens
// once.
//
// Recording the note waits for nothing when it happens while the hung
// channel job has not failed yet: a runner that made input wait behind the
// effect could only record it after the job's failed attempt was stored.
func TestHungSlackCallFreezesNothing(t *testing.T) {
	e := newEnv(t, tuesdayNoon, func(e *env) { e.callTimeout, e.jobTimeout = time.Minute, 10*time.Second })
	e.fs.HangNext("conversations.setTopic", 1)
	e.slash(alice, announc, "declare bedroom Checkout is slow")
	e.waitFor("the topic call hanging", func() bool { return e.fs.Hanging("conversations.setTopic") == 1 })
	var ch fakeslack.Channel
	e.waitFor("the channel", func() bool {
		for _, c := range e.fs.Channels() {
			if strings.HasPrefix(c.Name, "inc-1-") {
				ch = c
				return true
			}
		}
		return false
	})

	e.slash(alice, ch.ID, "note rolled back the search index")
	noted := func() bool {
		inc, _ := e.incident(1)
		for _, ev := range inc.Events {
			if ev.Kind == incident.EventNote && ev.Text == "rolled back the search index" {
				return true
			}
		}
		return false
	}
	channelAttempts := func() int {
		jobs, _ := e.inst.Store.Pending(e.ctx())
		for _, j := range jobs {
			if j.ID == bot.JobChannel+"/1" {
				return j.Attempts
			}
		}
		return -1
	}
	e.waitFor("the note on the timeline", func() bool { return noted() || channelAttempts() != 0 })
	if !noted() || channelAttempts() != 0 {
		t.Fatalf("the note was recorded only after the hung channel job failed (attempts %d): input waited for output", channelAttempts())
	}

	e.waitFor("the note in the channel", func() bool { return e.countBotText(ch.ID, "rolled back the search index") == 1 })
	e.waitFor("the card pinned", func() bool { c, _ := e.fs.Channel(ch.ID); return len(c.Pins) == 1 })
	c, _ := e.fs.Channel(ch.ID)
	if !strings.Contains(c.Topic, "bedroom") || e.fs.Calls("conversations.setTopic") < 2 {
		t.Errorf("topic after the retry = %q (%d calls)", c.Topic, e.fs.Calls("conversations.setTopic"))
	}
	if n := e.fs.Calls("conversations.create"); n != 1 {
		t.Errorf("conversations.create called %d times, want 1", n)
	}
	if n := e.countBotText(ch.ID, "rolled back the search index"); n != 1 {
		t.Errorf("the note was posted %d times", n)
	}
}

// Every Web API call of the client the bot is built with has a deadline: a
// call that never answers fails (and is retried by the runner) instead of
// holding its job forever.
func TestClientCallsHaveADeadline(t *testing.T) {
	fs := newFake(t)
	fs.HangNext("chat.postMessage", 1)
	api := bot.NewClient(bot.ClientOptions{BotToken: fs.BotToken(), APIURL: fs.APIURL(), Timeout: 200 * time.Millisecond})
	done := make(chan error, 1)
	go func() {
		_, _, err := api.PostMessageContext(context.Background(), announc, slack.MsgOptionText("hello", false))
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("a hung call succeeded")
		}
	case <-time.After(incidenttest.WaitTimeout):
		t.Fatal("a hung call never returned: the client has no deadline")
	}
	if got := bot.DefaultCallTimeout; got <= 0 || got >= time.Minute {
		t.Errorf("default call timeout %v; want well under a minute", got)
	}
}
