package bot_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/incident"
	"github.com/incidentbot/incidentbot/internal/fakeslack"
)

// publicSecurityIncident declares an incident in a public channel where
// alice acts, bob commands, erin writes and grace only joins, and returns
// the channel.
func publicSecurityIncident(e *env) fakeslack.Channel {
	e.t.Helper()
	e.slash(alice, announc, "declare bedroom Card data in logs")
	ch := e.channelOf(1)
	if ch.IsPrivate {
		e.t.Fatal("declared public, got a private channel")
	}
	e.waitMember(alice, ch.ID)
	e.slash(alice, ch.ID, "impact degraded")
	e.slash(bob, ch.ID, "commander me")
	e.waitFor("commander", func() bool { _, st := e.incident(1); return st.Commander == bob })
	if err := e.fs.JoinChannel(e.ctx(), erin, ch.ID); err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.fs.PostUserMessage(e.ctx(), erin, ch.ID, "I see card numbers in the checkout logs"); err != nil {
		e.t.Fatal(err)
	}
	if err := e.fs.JoinChannel(e.ctx(), grace, ch.ID); err != nil {
		e.t.Fatal(err)
	}
	// Erin's message itself, not only her join: her event may reach the
	// bot after the next command's.
	e.waitFor("erin's message and grace's join recorded", func() bool {
		inc, st := e.incident(1)
		said := false
		for _, ev := range inc.Events {
			said = said || (ev.Kind == incident.EventMessage && ev.Actor == erin)
		}
		return said && slices.Contains(st.Participants, grace)
	})
	return ch
}

// privateChannelOf waits for incident n's private channel, dressed (card
// pinned), and returns it.
func (e *env) privateChannelOf(n int) fakeslack.Channel {
	e.t.Helper()
	var out fakeslack.Channel
	e.waitFor("the private channel of incident", func() bool {
		for _, c := range e.fs.Channels() {
			if strings.HasPrefix(c.Name, "inc-"+itoaT(n)+"-") && c.IsPrivate && len(c.Pins) > 0 {
				out = c
				return true
			}
		}
		return false
	})
	out, _ = e.fs.Channel(out.ID)
	return out
}

// `/incident security` in a public channel moves the incident to a new
// private channel: dressed like the first, its responders invited (not who
// only joined), a pointer in the old channel, which is archived. Commands
// and posts follow the incident there.
func TestSecurityIncidentMovesToAPrivateChannel(t *testing.T) {
	e := newEnv(t, tuesdayNoon)
	pub := publicSecurityIncident(e)
	e.slash(bob, pub.ID, "security")
	priv := e.privateChannelOf(1)
	e.waitFor("the public channel archived", func() bool { c, _ := e.fs.Channel(pub.ID); return c.IsArchived })

	if priv.Name != "inc-1-card-data-in-logs-2" || priv.ID == pub.ID {
		t.Errorf("private channel %q (%s)", priv.Name, priv.ID)
	}
	inc, st := e.incident(1)
	want := []string{alice, bob, erin, carol} // actor, commander, writer, incident manager
	for _, ev := range inc.Events {
		if ev.Kind == incident.EventCalledOut {
			want = append(want, ev.Users...)
		}
	}
	for _, u := range want {
		e.waitMember(u, priv.ID)
	}
	if slices.Contains(e.fs.Members(priv.ID), grace) {
		t.Errorf("grace, who only joined the public channel, was invited")
	}
	if !st.Security || e.fs.Topic(priv.ID) == "" || len(e.fs.Bookmarks(priv.ID)) != 1 {
		t.Errorf("private channel not dressed: topic %q, bookmarks %v", e.fs.Topic(priv.ID), e.fs.Bookmarks(priv.ID))
	}
	if n := e.countBotText(priv.ID, "is a security incident: it continues here"); n != 1 {
		t.Errorf("%d notes in the private channel", n)
	}
	pointer := e.botTexts(pub.ID)
	if n := e.countBotText(pub.ID, "now a security incident: it continues in a private channel"); n != 1 {
		t.Errorf("%d pointers in the public channel:\n%s", n, strings.Join(pointer, "\n"))
	}
	for _, s := range pointer {
		if strings.Contains(s, priv.ID) || strings.Contains(s, priv.Name) {
			t.Errorf("the public channel names the private one: %s", s)
		}
	}

	// The incident lives in the private channel now.
	e.slash(alice, priv.ID, "note rotated the log shipper keys")
	e.waitFor("the note in the private channel", func() bool { return e.hasBotText(priv.ID, "rotated the log shipper keys") })
	if _, err := e.fs.SlashCommand(e.ctx(), alice, pub.ID, "status"); err == nil {
		t.Errorf("a command ran in the archived public channel")
	}
	// Marking it again changes nothing.
	e.slash(bob, priv.ID, "security")
	e.waitFor("the refusal", func() bool { return strings.Contains(e.ephemeralText(bob), "already a security incident") })
	e.restart() // what the move left behind survives a restart and is not redone
	e.slash(alice, priv.ID, "note after restart")
	e.waitFor("the note after restart", func() bool { return e.hasBotText(priv.ID, "after restart") })
	if n := e.privateChannels(); n != 1 {
		t.Errorf("%d private channels", n)
	}
	if n := e.fs.Calls("conversations.archive"); n != 1 {
		t.Errorf("conversations.archive called %d times", n)
	}
}

func (e *env) privateChannels() int {
	n := 0
	for _, c := range e.fs.Channels() {
		if c.IsPrivate && strings.HasPrefix(c.Name, "inc-") {
			n++
		}
	}
	return n
}

// The move is durable: Slack calls that took effect but answered an error
// (as after a crash between the call and recording it), and a restart in
// the middle of the move, still leave one private channel, one card, one
// note, one pointer, and the public channel archived.
func TestSecurityMoveSurvivesFailuresAndRestart(t *testing.T) {
	e := newEnv(t, tuesdayNoon)
	pub := publicSecurityIncident(e)
	e.fs.FailNext("conversations.create", "internal_error", true)
	e.fs.FailNext("conversations.archive", "internal_error", true)
	e.fs.SetLatency("conversations.invite", 400*time.Millisecond)
	e.slash(bob, pub.ID, "security")
	e.waitFor("the private channel", func() bool { return e.privateChannels() == 1 })
	var priv fakeslack.Channel
	for _, c := range e.fs.Channels() {
		if c.IsPrivate && strings.HasPrefix(c.Name, "inc-1-") {
			priv = c
		}
	}
	e.waitFor("the invitations started", func() bool { return e.fs.Calls("conversations.invite") >= 2 })
	e.restart()
	e.fs.SetLatency("conversations.invite", 0)
	e.waitFor("the public channel archived", func() bool { c, _ := e.fs.Channel(pub.ID); return c.IsArchived })
	e.waitMember(erin, priv.ID)

	if n := e.privateChannels(); n != 1 {
		t.Errorf("%d private channels", n)
	}
	if priv.Name != "inc-1-card-data-in-logs-2" {
		t.Errorf("the half-created channel was not adopted: %q", priv.Name)
	}
	if pins := e.fs.Pins(priv.ID); len(pins) != 1 {
		t.Errorf("%d pins in the private channel", len(pins))
	}
	cards := 0
	for _, m := range e.fs.Messages(priv.ID) {
		if strings.Contains(string(m.Blocks), `"ib:card/1/`) {
			cards++
		}
	}
	if cards != 1 {
		t.Errorf("%d cards in the private channel", cards)
	}
	for text, where := range map[string]string{"it continues here": priv.ID, "it continues in a private": pub.ID} {
		if n := e.countBotText(where, text); n != 1 {
			t.Errorf("%q posted %d times", text, n)
		}
	}
}

// When Slack refuses to archive the public channel, the move still
// completes, and the public channel no longer maps to the incident:
// commands there are refused as outside an incident channel. The private
// channel's name skips one someone else took.
func TestSecurityMoveWhenArchivingIsRefused(t *testing.T) {
	e := newEnv(t, tuesdayNoon)
	pub := publicSecurityIncident(e)
	e.fs.AddChannel(fakeslackSeed("inc-1-card-data-in-logs-2", dave))
	e.fs.FailNext("conversations.archive", "restricted_action", false)
	e.slash(bob, pub.ID, "security")
	priv := e.privateChannelOf(1)
	if priv.Name != "inc-1-card-data-in-logs-3" {
		t.Errorf("private channel %q, want the next free name", priv.Name)
	}
	e.waitFor("the pointer", func() bool { return e.hasBotText(pub.ID, "it continues in a private channel") })
	e.waitFor("the archive attempt", func() bool { return e.fs.Calls("conversations.archive") == 1 })
	ack := e.slash(alice, pub.ID, "note in the wrong place")
	if !strings.Contains(string(ack.Payload), "works inside an incident channel") {
		t.Errorf("a command in the old channel: %s", ack.Payload)
	}
	e.slash(alice, priv.ID, "note in the right place")
	e.waitFor("the note", func() bool { return e.hasBotText(priv.ID, "in the right place") })
	if e.hasBotText(pub.ID, "wrong place") || e.hasBotText(priv.ID, "wrong place") {
		t.Errorf("a command in the old channel acted on the incident")
	}
}

// When a security incident's channel stays public (Slack refused a private
// one), the channel is warned, and the review's preview links, the only key
// to a private review, never go there: the incident managers get them by
// DM.
func TestPrivateReviewLinkNeverInAPublicChannel(t *testing.T) {
	re := newReviewEnv(t, tuesdayNoon)
	var pub string
	re.resolvedMajor("Card data in logs", func(ch string) {
		pub = ch
		re.fs.FailNext("conversations.create", "restricted_action", false)
		re.slash(bob, ch, "security")
		re.waitFor("the warning", func() bool { return re.hasBotText(ch, "this channel stays public") })
	})
	if n := re.privateChannels(); n != 0 {
		t.Fatalf("%d private channels", n)
	}
	re.waitFor("draft", func() bool { rec, ok := re.record(1); return ok && rec.Private })
	drafted := re.botMessage(pub, "blameless review of *#1")
	if strings.Contains(drafted.AllText(), "preview=") || !strings.Contains(drafted.AllText(), "incident managers by DM") {
		t.Errorf("the draft's news in a public channel: %s", drafted.AllText())
	}
	re.waitFor("the draft link to carol", func() bool { return re.dmCount(carol, "Preview the draft") == 1 })
	re.slash(carol, pub, "publish confirm")
	re.waitFor("published", func() bool { rec, _ := re.record(1); return rec.Published() })
	news := re.botMessage(pub, "review of this incident is published")
	if strings.Contains(news.AllText(), "preview=") {
		t.Errorf("the published link in a public channel: %s", news.AllText())
	}
	re.waitFor("the published link to carol", func() bool { return re.dmCount(carol, "review of this incident is published") == 1 })
	var link string
	for _, m := range re.fs.DMs(carol) {
		if strings.Contains(m.AllText(), "review of this incident is published") {
			link = m.AllText()
		}
	}
	if code, _, _ := re.get(newBrowserClient(t), "/reviews/1?preview="+previewToken(t, link)); code != 200 {
		t.Errorf("carol's link: %d", code)
	}
	for _, c := range re.fs.Channels() {
		for _, m := range c.Messages {
			if !c.IsPrivate && !c.IsIM && strings.Contains(m.AllText(), "preview=") {
				t.Errorf("a preview link in public channel #%s: %s", c.Name, m.AllText())
			}
		}
	}
}
