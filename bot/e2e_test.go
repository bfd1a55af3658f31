package bot_test

import (
	"strings"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/incident"
)

// TestDeclarePriceCommandResolve walks a responder through an incident
// entirely from Slack.
func TestDeclarePriceCommandResolve(t *testing.T) {
	e := newEnv(t, tuesdayNoon)
	fs := e.fs

	ack := e.slash(dave, announc, "declare bedroom Checkout <!channel> fails for beds & mattresses")
	if len(ack.Payload) != 0 {
		t.Fatalf("a valid declare should ack empty, got %s", ack.Payload)
	}
	ch := e.channelOf(1)
	if ch.Name != "inc-1-checkout-channel-fails-for-beds-mattresses" || ch.IsPrivate {
		t.Errorf("channel = %q private=%v", ch.Name, ch.IsPrivate)
	}
	// The card: pinned, escaped, priced, with buttons.
	pins := fs.Pins(ch.ID)
	if len(pins) != 1 {
		t.Fatalf("pins = %d", len(pins))
	}
	card := pins[0].AllText()
	for _, want := range []string{"#1 Checkout", "Minor", "target 99.0%", "$0/h", "Take command", "Resolve"} {
		if !strings.Contains(card, want) {
			t.Errorf("card lacks %q:\n%s", want, card)
		}
	}
	if strings.Contains(string(pins[0].Blocks), "<!channel>") || strings.Contains(pins[0].Text, "<!channel>") {
		t.Errorf("user text reached Slack unescaped: %s", pins[0].Text)
	}
	e.waitFor("runbook bookmark", func() bool { return len(fs.Bookmarks(ch.ID)) == 1 })
	if !strings.Contains(fs.Topic(ch.ID), "bedroom") {
		t.Errorf("topic = %q", fs.Topic(ch.ID))
	}
	// The declarer and the team on-call are in the channel; the
	// announcement went out.
	e.waitFor("callout and declarer invited", func() bool {
		m := strings.Join(fs.Members(ch.ID), ",")
		return strings.Contains(m, alice) && strings.Contains(m, dave)
	})
	e.waitFor("announcement", func() bool { return e.hasBotText(announc, "#1 Checkout") })

	// Impact: blocked bedroom = $200,000/h → estimate ≥ $100,000 → Major.
	e.slash(alice, ch.ID, "impact blocked")
	e.waitFor("impact posted with figures", func() bool { return e.hasBotText(ch.ID, "set impact to *blocked (100%)*") })
	e.waitFor("card updated to Major", func() bool {
		c, _ := fs.Message(ch.ID, pins[0].TS)
		return strings.Contains(c.AllText(), "Major") && strings.Contains(c.AllText(), "$200,000/h")
	})
	e.waitFor("incident managers told", func() bool {
		for _, m := range fs.DMs(carol) {
			if strings.Contains(m.AllText(), "Major incident #1") {
				return true
			}
		}
		return false
	})
	e.waitFor("class change announced", func() bool { return e.hasBotText(announc, "is now *Major*") })

	// Commander, note, update, cost.
	e.slash(bob, ch.ID, "commander me")
	e.waitFor("commander", func() bool { _, st := e.incident(1); return st.Commander == bob })
	e.slash(bob, ch.ID, "note rolled back the search index")
	e.slash(bob, ch.ID, "update Checkout for beds is failing; rollback in progress")
	e.slash(bob, ch.ID, "cost 1,500 overtime for the warehouse")
	e.waitFor("update announced", func() bool { return e.hasBotText(announc, "rollback in progress") })
	e.waitFor("cost recorded", func() bool { _, st := e.incident(1); return st.Costs == 150_000 })

	// Someone outside the team may not resolve; nothing changes.
	e.slash(dave, ch.ID, "resolve done")
	e.waitFor("refusal", func() bool {
		return strings.Contains(e.ephemeralText(dave), "Only the commander, incident managers and the owning team can resolve")
	})
	if _, st := e.incident(1); st.Status != incident.StatusOpen {
		t.Fatalf("an outsider resolved the incident")
	}

	e.clock.Advance(30 * time.Minute)
	e.slash(bob, ch.ID, "resolve rolled back the index")
	e.waitFor("resolved", func() bool { _, st := e.incident(1); return st.Status == incident.StatusResolved })
	e.waitFor("resolution posted", func() bool { return e.hasBotText(ch.ID, "resolved the incident after") })
	e.waitFor("resolution announced", func() bool { return e.hasBotText(announc, "resolved after") })
	inc, st := e.incident(1)
	if st.Effectiveness == nil || st.LossSoFar < 100_000*100 {
		t.Errorf("final figures: loss %d effectiveness %+v", st.LossSoFar, st.Effectiveness)
	}
	// The timeline holds every step, each once.
	kinds := map[incident.EventKind]int{}
	for _, ev := range inc.Events {
		kinds[ev.Kind]++
	}
	for k, want := range map[incident.EventKind]int{
		incident.EventDeclared: 1, incident.EventImpactChanged: 1, incident.EventClassChanged: 1,
		incident.EventCommander: 1, incident.EventNote: 1, incident.EventUpdate: 1, incident.EventCostAdded: 1,
		incident.EventResolved: 1, incident.EventCalledOut: 1,
	} {
		if kinds[k] != want {
			t.Errorf("%s events = %d, want %d", k, kinds[k], want)
		}
	}
	if len(e.fs.LateAcks()) != 0 {
		t.Errorf("late acks: %+v", e.fs.LateAcks())
	}
}

func TestMalformedCommandsChangeNothing(t *testing.T) {
	e := newEnv(t, tuesdayNoon)
	for _, text := range []string{"frobnicate", "impact catastrophic", "declare", "cost abc beer", "commander bob", "major", "impact blocked 150%"} {
		ack := e.slash(alice, announc, text)
		if !strings.Contains(string(ack.Payload), "Usage") && !strings.Contains(string(ack.Payload), "incident channel") {
			t.Errorf("/incident %s: ack %s", text, ack.Payload)
		}
	}
	// In a non-incident channel, channel commands are refused the same way.
	ack := e.slash(alice, announc, "resolve")
	if !strings.Contains(string(ack.Payload), "works inside an incident channel") {
		t.Errorf("resolve outside a channel: %s", ack.Payload)
	}
	time.Sleep(200 * time.Millisecond)
	if n := e.fs.Calls("conversations.create"); n != 0 {
		t.Errorf("channels created: %d", n)
	}
	incs, _ := e.inst.Desk.List(e.ctx(), boltstoreFilterAll)
	if len(incs) != 0 {
		t.Errorf("incidents stored: %d", len(incs))
	}
}
