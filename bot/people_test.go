package bot_test

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/incident"
	"github.com/incidentbot/incidentbot/internal/fakeslack"
	"github.com/incidentbot/incidentbot/review"
)

const ghost = "UGHOST0001" // a member Slack cannot name (not in the workspace)

// Reviews name people, looked up with the real *slack.Client against the
// fake (so a users.info signature that *slack.Client does not have would
// not compile, or would show as IDs here), once per person, falling back
// to the member ID only for someone Slack cannot name.
func TestReviewWritesNames(t *testing.T) {
	re := newReviewEnv(t, tuesdayNoon)
	fs := re.fs
	helen := fs.AddUser(fakeslack.User{ID: "UHELEN008", Name: "helen", RealName: "Helen Hughes"}).ID
	ch := re.resolvedMajor("Checkout fails for beds", func(ch string) {
		re.slash(alice, ch, "action Alert on the checkout error rate <@"+helen+">") // an owner who is not on the timeline
		re.slash(alice, ch, "commander <@"+ghost+">")
		re.waitFor("ghost commander", func() bool { _, st := re.incident(1); return st.Commander == ghost })
	})
	re.waitFor("review drafted", func() bool { rec, ok := re.record(1); return ok && rec.Status == incident.ReviewDrafted })
	rec, _ := re.record(1)
	if got := rec.Name(helen); got != "Helen Hughes" {
		t.Errorf("helen is written %q, want her full name", got)
	}
	for _, u := range []string{alice, bob, dave} {
		who, _ := fs.User(u)
		if got, want := rec.Name(u), who.Name; got != want {
			t.Errorf("%s is written %q, want %q", u, got, want)
		}
	}
	if got := rec.Name(ghost); got != "@"+ghost {
		t.Errorf("someone Slack cannot name is written %q, want the member ID", got)
	}
	summary := rec.Sections[review.SectionSummary]
	if !strings.Contains(summary, "**Incident commanders:** "+rec.Name(bob)+", @"+ghost) {
		t.Errorf("summary:\n%s", summary)
	}
	lookups := fs.Calls("users.info")

	// In Slack: the section as the edit modal shows it.
	re.slash(bob, ch, "review")
	eph := re.lastEphemeral(bob, "Review of #1")
	if _, err := fs.ClickButtonValue(re.ctx(), bob, ch, eph.TS, "review_edit", "1:summary"); err != nil {
		t.Fatal(err)
	}
	v := re.waitView(bob, "review_edit", nil)
	if raw := string(v.Blocks); !strings.Contains(raw, rec.Name(bob)+", @"+ghost) || strings.Contains(raw, bob) {
		t.Errorf("edit modal:\n%s", raw)
	}
	// On the review site: the preview page and, once published, Markdown.
	web := newBrowserClient(t)
	_, page, _ := re.get(web, "/reviews/1?preview="+previewToken(t, eph.AllText()))
	re.slash(carol, ch, "publish confirm")
	re.waitFor("published", func() bool { rec, _ := re.record(1); return rec.Published() })
	_, md, _ := re.get(web, "/reviews/1.md")
	for where, text := range map[string]string{"page": page, "markdown": md} {
		if !strings.Contains(text, rec.Name(bob)) || !strings.Contains(text, "Helen Hughes") {
			t.Errorf("%s lacks names:\n%s", where, text)
		}
		for _, id := range []string{alice, bob, dave, helen} {
			if strings.Contains(text, id) {
				t.Errorf("%s shows the member ID %s:\n%s", where, id, text)
			}
		}
	}

	// Redrafting asks Slack again only for whom it could not name.
	if got := fs.Calls("users.info") - lookups; got > 1 {
		t.Errorf("%d more users.info calls after the first draft, want at most 1 (the unknown member)", got)
	}
}

// Slack sends the bot's own actions back: its card edits as
// message_changed (the bot only inside the nested message), its pin as
// pin_added by the bot user, its joins. None of them is a person's doing.
func TestBotIsNeverAPerson(t *testing.T) {
	e := newEnv(t, tuesdayNoon)
	fs, self := e.fs, e.fs.BotUserID()
	e.slash(dave, announc, "declare bedroom Checkout fails")
	ch := e.channelOf(1)
	e.waitMember(alice, ch.ID)
	e.slash(alice, ch.ID, "impact blocked")
	e.waitFor("card edited", func() bool { return fs.Calls("chat.update") > 0 })
	e.waitFor("the bot's echoes delivered and acknowledged", func() bool {
		seen := map[string]bool{}
		for _, env := range fs.Envelopes() {
			p := string(env.Payload)
			switch {
			case !env.Acked || !strings.Contains(p, ch.ID):
			case env.EventType == "pin_added" && strings.Contains(p, `"user":"`+self+`"`):
				seen["pin"] = true
			case env.EventType == "member_joined_channel" && strings.Contains(p, `"user":"`+self+`"`):
				seen["join"] = true
			case env.EventType == "message" && strings.Contains(p, `"subtype":"message_changed"`):
				seen["edit"] = true
			}
		}
		return len(seen) == 3
	})
	// A person's message after the echoes: once it is recorded, every
	// event of this incident received before it has been processed.
	ts, err := fs.PostUserMessage(e.ctx(), alice, ch.ID, "rolling back the index")
	if err != nil {
		t.Fatal(err)
	}
	e.waitFor("alice's message recorded", func() bool { return hasMessage(e, 1, ts) })
	assertNoSelf(t, e, self)

	// A timeline an older version recorded holds the bot's pin as a key
	// event: the review still does not count the bot among the people.
	card := fs.Pins(ch.ID)[0].TS
	if _, err := e.inst.Desk.Record(e.ctx(), 1, incident.Event{Kind: incident.EventKeyEvent, Actor: self, Key: card, Idem: "old/pin"}); err != nil {
		t.Fatal(err)
	}
	e.slash(alice, ch.ID, "resolve rolled back")
	e.waitFor("review drafted", func() bool {
		rec, ok, _ := e.inst.Bot.Reviews().Record(context.Background(), 1)
		return ok && rec.Status == incident.ReviewDrafted
	})
	rec, _, _ := e.inst.Bot.Reviews().Record(context.Background(), 1)
	for _, p := range rec.Participants {
		if p == self {
			t.Errorf("the review waits for the bot's own account: %v", rec.Participants)
		}
	}
}

func hasMessage(e *env, n int64, ts string) bool {
	inc, _ := e.incident(n)
	for _, ev := range inc.Events {
		if ev.Kind == incident.EventMessage && ev.Key == ts {
			return true
		}
	}
	return false
}

func assertNoSelf(t *testing.T, e *env, self string) {
	t.Helper()
	inc, st := e.incident(1)
	for _, ev := range inc.Events {
		if ev.Actor == self || ev.User == self {
			t.Errorf("the bot's own doing on the timeline: %s by %s (%s)", ev.Kind, ev.Actor, ev.User)
		}
	}
	for _, p := range st.Participants {
		if p == self {
			t.Errorf("the bot is a participant: %v", st.Participants)
		}
	}
}

var cardUpdatedRE = regexp.MustCompile(`updated <!date\^(\d+)\^`)

// The topic changes only when what it says changes (class, status,
// impact, commander), never to the same text: over an hour of minute
// refreshes of a Major it is not set once, though the card's running
// figures change every minute.
func TestTopicOnlyChangesWhenItMatters(t *testing.T) {
	e := newEnv(t, tuesdayNoon)
	fs := e.fs
	e.slash(dave, announc, "declare bedroom Checkout fails")
	ch := e.channelOf(1)
	e.slash(alice, ch.ID, "impact blocked")
	e.waitFor("topic says Major", func() bool { return strings.Contains(fs.Topic(ch.ID), "Major") })
	e.slash(bob, ch.ID, "commander me")
	e.waitFor("topic names the commander", func() bool { return strings.Contains(fs.Topic(ch.ID), "commander <@"+bob+">") })
	before := topicsSet(e, ch.ID)

	card := fs.Pins(ch.ID)[0].TS
	for i := 0; i < 60; i++ {
		e.clock.Advance(time.Minute)
		want := e.clock.Now().Unix()
		e.inst.Runner.Wake()
		e.waitFor("the card refreshed", func() bool { return cardUpdatedAt(e, ch.ID, card) >= want })
	}
	if during := topicsSet(e, ch.ID)[len(before):]; len(during) != 0 {
		t.Errorf("an hour of refreshes set the topic %d times: %q", len(during), during)
	}

	e.slash(bob, ch.ID, "resolve rolled back")
	e.waitFor("topic says resolved", func() bool { return strings.HasPrefix(fs.Topic(ch.ID), "✅ Resolved") })
	all := topicsSet(e, ch.ID)
	// Creation, blocked and Major, the commander, resolved.
	if len(all) != 4 {
		t.Errorf("topic set %d times, want 4: %q", len(all), all)
	}
	for i, tp := range all {
		if i > 0 && tp == all[i-1] {
			t.Errorf("topic set twice to %q", tp)
		}
		if strings.Contains(tp, "$") {
			t.Errorf("running figures in the topic: %q", tp)
		}
	}
}

// topicsSet lists the channel's "set the channel topic" messages.
func topicsSet(e *env, channelID string) []string {
	var out []string
	for _, m := range e.fs.Messages(channelID) {
		if m.Subtype == "channel_topic" {
			out = append(out, strings.TrimPrefix(m.Text, "set the channel topic: "))
		}
	}
	return out
}

func cardUpdatedAt(e *env, channelID, ts string) int64 {
	m, _ := e.fs.Message(channelID, ts)
	var latest int64
	for _, s := range cardUpdatedRE.FindAllStringSubmatch(m.AllText(), -1) {
		if n, _ := strconv.ParseInt(s[1], 10, 64); n > latest {
			latest = n
		}
	}
	return latest
}

// The declaration's announcement links the incident channel.
func TestAnnouncementLinksTheChannel(t *testing.T) {
	e := newEnv(t, tuesdayNoon)
	e.slash(dave, announc, "declare bedroom Checkout fails")
	ch := e.channelOf(1)
	e.waitFor("announcement", func() bool { return e.hasBotText(announc, "#1 Checkout fails") })
	for _, m := range e.botTexts(announc) {
		if !strings.Contains(m, "#1 Checkout fails") {
			continue
		}
		if !strings.Contains(m, "Join <#"+ch.ID+">.") || strings.Contains(m, "its channel") {
			t.Errorf("announcement does not link the channel:\n%s", m)
		}
	}
	if n := e.countBotText(announc, "#1 Checkout fails"); n != 1 {
		t.Errorf("%d announcements", n)
	}
}
