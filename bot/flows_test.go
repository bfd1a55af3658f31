package bot_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/incident"
	"github.com/incidentbot/incidentbot/incident/desk"
)

// Human messages, edits, deletions, pins and 📌 reactions land on the
// timeline.
func TestTimelineCapture(t *testing.T) {
	e := newEnv(t, tuesdayNoon)
	e.slash(alice, announc, "declare bedroom Capture")
	ch := e.channelOf(1)
	ctx := e.ctx()
	e.waitMember(alice, ch.ID)
	if err := e.fs.JoinChannel(ctx, bob, ch.ID); err != nil {
		t.Fatal(err)
	}
	ts1, err := e.fs.PostUserMessage(ctx, alice, ch.ID, "latency is up <!channel>")
	if err != nil {
		t.Fatal(err)
	}
	ts2, _ := e.fs.PostUserMessage(ctx, bob, ch.ID, "wrong channel, sorry")
	ts3, _ := e.fs.PostUserMessage(ctx, bob, ch.ID, "restarting the search pods")
	if err := e.fs.EditUserMessage(ctx, alice, ch.ID, ts1, "p99 latency is up 10x"); err != nil {
		t.Fatal(err)
	}
	if err := e.fs.DeleteUserMessage(ctx, bob, ch.ID, ts2); err != nil {
		t.Fatal(err)
	}
	if err := e.fs.AddReaction(ctx, alice, ch.ID, ts3, "pushpin"); err != nil {
		t.Fatal(err)
	}
	if err := e.fs.PinMessage(ctx, bob, ch.ID, ts1); err != nil {
		t.Fatal(err)
	}
	e.waitFor("timeline", func() bool {
		_, st := e.incident(1)
		if len(st.Messages) != 2 {
			return false
		}
		return st.Messages[0].Text == "p99 latency is up 10x" && st.Messages[0].Key && st.Messages[1].Key
	})
	_, st := e.incident(1)
	if !strings.Contains(strings.Join(st.Participants, ","), bob) {
		t.Errorf("participants = %v", st.Participants)
	}
	// Messages in other channels are not recorded.
	if _, err := e.fs.PostUserMessage(ctx, alice, announc, "unrelated"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	if _, st := e.incident(1); len(st.Messages) != 2 {
		t.Errorf("a message from another channel was recorded")
	}
}

// Bare /incident opens the declare modal; bad input is shown in the modal
// and changes nothing; a good submission declares a security incident in a
// private channel whose details stay with incident managers.
func TestDeclareModalAndSecurity(t *testing.T) {
	e := newEnv(t, tuesdayNoon)
	e.slash(alice, announc, "")
	var viewID string
	e.waitFor("modal", func() bool {
		for _, v := range e.fs.OpenViews(alice) {
			if v.CallbackID == "declare" {
				viewID = v.ID
				return true
			}
		}
		return false
	})
	ack, err := e.fs.SubmitView(e.ctx(), alice, viewID, map[string]map[string]string{"service": {"service": "bedroom"}, "title": {"title": "   "}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(ack.Payload), `"response_action":"errors"`) {
		t.Fatalf("invalid submission acked with %s", ack.Payload)
	}
	if v, _ := e.fs.ViewByID(viewID); v.Errors["title"] == "" {
		t.Errorf("errors not shown: %+v", v.Errors)
	}
	_, err = e.fs.SubmitView(e.ctx(), alice, viewID, map[string]map[string]string{
		"service":     {"service": "bedroom"},
		"title":       {"title": "Card data exposed"},
		"impact":      {"impact": "partial"},
		"security":    {"security": "security"},
		"description": {"description": "found in logs"},
	})
	if err != nil {
		t.Fatal(err)
	}
	ch := e.channelOf(1)
	if !ch.IsPrivate {
		t.Errorf("security incident channel is public")
	}
	_, st := e.incident(1)
	if !st.Security || st.Class != incident.Major {
		t.Errorf("state: security=%v class=%s", st.Security, st.Class)
	}
	e.waitFor("announcement without details", func() bool { return e.hasBotText(announc, "Security incident #1 declared") })
	if e.hasBotText(announc, "Card data exposed") {
		t.Errorf("the announce channel got the details of a security incident")
	}
	e.waitFor("incident manager told the details", func() bool {
		for _, m := range e.fs.DMs(carol) {
			if strings.Contains(m.AllText(), "Card data exposed") {
				return true
			}
		}
		return false
	})
}

// Out of hours, a minor incident on a 95.0% service defers the callout to
// the next working-day start, durably: it happens after a restart.
func TestDeferredCalloutSurvivesRestart(t *testing.T) {
	saturday := time.Date(2026, 11, 21, 22, 0, 0, 0, time.UTC)
	e := newEnv(t, saturday)
	e.slash(dave, announc, "declare appointments Booking emails late")
	ch := e.channelOf(1)
	card := e.fs.Pins(ch.ID)[0].AllText()
	if !strings.Contains(card, "deferred") {
		t.Errorf("card does not say the callout is deferred:\n%s", card)
	}
	time.Sleep(300 * time.Millisecond)
	if strings.Contains(strings.Join(e.fs.Members(ch.ID), ","), erin) {
		t.Fatalf("the team was called out of hours for a minor 95%% incident")
	}
	e.stop()
	e.clock.Advance(35*time.Hour + time.Minute) // Monday 09:01 London
	e.start()
	e.waitFor("callout on Monday morning", func() bool { return strings.Contains(strings.Join(e.fs.Members(ch.ID), ","), erin) })
	// A 99.0% service out of hours calls the domain on-call.
	e.clock.Advance(-35 * time.Hour)
	e.slash(dave, announc, "declare bedroom Night issue")
	ch2 := e.channelOf(2)
	e.waitFor("domain on-call", func() bool { return strings.Contains(strings.Join(e.fs.Members(ch2.ID), ","), frank) })
}

// A major with no volunteer gets the team on-call as commander after
// commander_timeout; the commander is reminded to post updates.
func TestCommanderTimeoutAndReminders(t *testing.T) {
	e := newEnv(t, tuesdayNoon)
	e.slash(dave, announc, "declare bedroom Nobody volunteers")
	ch := e.channelOf(1)
	e.slash(dave, ch.ID, "impact blocked")
	e.waitFor("major", func() bool { _, st := e.incident(1); return st.Class == incident.Major })
	time.Sleep(300 * time.Millisecond)
	if _, st := e.incident(1); st.Commander != "" {
		t.Fatalf("commander assigned before the timeout: %s", st.Commander)
	}
	e.clock.Advance(10*time.Minute + time.Second)
	e.inst.Runner.Wake()
	e.waitFor("team on-call takes command", func() bool { _, st := e.incident(1); return st.Commander == alice })
	e.clock.Advance(30 * time.Minute)
	e.inst.Runner.Wake()
	e.waitFor("reminder", func() bool { return e.hasBotText(ch.ID, "time for a stakeholder update") })
	// A person downgrading needs the right role and a reason.
	e.slash(dave, ch.ID, "minor only staff affected")
	e.waitFor("refusal", func() bool { return strings.Contains(e.ephemeralText(dave), "downgrade a major incident") })
	e.slash(carol, ch.ID, "minor only staff affected")
	e.waitFor("downgraded", func() bool { _, st := e.incident(1); return st.Class == incident.Minor })
}

// Card buttons: take command, change impact.
func TestCardButtons(t *testing.T) {
	e := newEnv(t, tuesdayNoon)
	e.slash(alice, announc, "declare bedroom Buttons")
	ch := e.channelOf(1)
	card := e.fs.Pins(ch.ID)[0]
	if _, err := e.fs.ClickButton(e.ctx(), bob, ch.ID, card.TS, "take_command"); err != nil {
		t.Fatal(err)
	}
	e.waitFor("bob commands", func() bool { _, st := e.incident(1); return st.Commander == bob })
	e.waitFor("card shows commander", func() bool {
		m, _ := e.fs.Message(ch.ID, card.TS)
		return strings.Contains(m.AllText(), "<@"+bob+">")
	})
	// Add note opens a modal; its submission is a note on the timeline.
	if _, err := e.fs.ClickButton(e.ctx(), bob, ch.ID, card.TS, "add_note"); err != nil {
		t.Fatal(err)
	}
	var viewID string
	e.waitFor("note modal", func() bool {
		for _, v := range e.fs.OpenViews(bob) {
			if v.CallbackID == "note" {
				viewID = v.ID
				return true
			}
		}
		return false
	})
	if _, err := e.fs.SubmitView(e.ctx(), bob, viewID, map[string]map[string]string{"text": {"text": "cache flushed"}}); err != nil {
		t.Fatal(err)
	}
	e.waitFor("note posted", func() bool { return e.hasBotText(ch.ID, "cache flushed") })
}

// App Home lists open incidents, majors first, with running loss.
func TestAppHome(t *testing.T) {
	e := newEnv(t, tuesdayNoon)
	e.slash(alice, announc, "declare appointments Small thing")
	// Declarations from the inbox run concurrently; wait for the first so
	// the numbering is known.
	e.channelOf(1)
	e.slash(alice, announc, "declare bedroom Big thing")
	ch := e.channelOf(2)
	e.slash(alice, ch.ID, "impact blocked")
	e.waitFor("major", func() bool { _, st := e.incident(2); return st.Class == incident.Major })
	if err := e.fs.OpenAppHome(e.ctx(), dave); err != nil {
		t.Fatal(err)
	}
	e.waitFor("home", func() bool {
		v, ok := e.fs.HomeView(dave)
		if !ok {
			return false
		}
		raw, _ := json.Marshal(v.Blocks)
		s := string(raw)
		big, small := strings.Index(s, "Big thing"), strings.Index(s, "Small thing")
		return big >= 0 && small > big && strings.Contains(s, "running loss")
	})
}

// An incident paged by PagerDuty shows an Acknowledge button on its card;
// pressing it records who acknowledged, and the button goes away.
func TestAcknowledgeButton(t *testing.T) {
	e := newEnv(t, tuesdayNoon)
	r, err := e.inst.Desk.Alert(e.ctx(), desk.Alert{Source: incident.ActorPagerDuty, Key: "pd:PINC1", Service: "bedroom", Title: "Beds paging", Firing: true, Idem: "w1"})
	if err != nil {
		t.Fatal(err)
	}
	ch := e.channelOf(int(r.Number))
	card := e.fs.Pins(ch.ID)[0]
	if !strings.Contains(card.AllText(), "Acknowledge") {
		t.Fatalf("no Acknowledge button on a paged incident's card:\n%s", card.AllText())
	}
	if _, err := e.fs.ClickButton(e.ctx(), alice, ch.ID, card.TS, "acknowledge"); err != nil {
		t.Fatal(err)
	}
	e.waitFor("acknowledged", func() bool { _, st := e.incident(r.Number); return st.Acknowledged })
	e.waitFor("button gone", func() bool {
		m, _ := e.fs.Message(ch.ID, card.TS)
		return !strings.Contains(m.AllText(), "Acknowledge")
	})
	inc, _ := e.incident(r.Number)
	last := inc.Events[len(inc.Events)-1]
	for _, ev := range inc.Events {
		if ev.Kind == incident.EventAcknowledged {
			last = ev
		}
	}
	if last.Actor != alice {
		t.Errorf("acknowledged by %q", last.Actor)
	}
}

// The card's running loss refreshes with time alone, and time alone can
// make an incident Major (the estimate crossing the high threshold).
func TestRunningLossAndTimeDrivenUpgrade(t *testing.T) {
	e := newEnv(t, tuesdayNoon)
	e.slash(alice, announc, "declare bedroom Slow search")
	ch := e.channelOf(1)
	e.slash(alice, ch.ID, "impact partial") // 10% of $200,000/h = $20,000/h
	e.waitFor("impact", func() bool { _, st := e.incident(1); return st.Rate == 2_000_000 })
	card := e.fs.Pins(ch.ID)[0].TS
	cardText := func() string { m, _ := e.fs.Message(ch.ID, card); return m.AllText() }
	e.clock.Advance(30 * time.Minute)
	e.inst.Runner.Wake()
	e.waitFor("loss so far on the card after 30 minutes", func() bool { return strings.Contains(cardText(), "$10,0") })
	if strings.Contains(cardText(), "Major") {
		t.Fatalf("major too early:\n%s", cardText())
	}
	// Estimate = 20,000 × (elapsed + 1 h) reaches $100,000 at 4 h.
	e.clock.Advance(4 * time.Hour)
	e.inst.Runner.Wake()
	e.waitFor("automatic upgrade", func() bool { _, st := e.incident(1); return st.Class == incident.Major })
	e.waitFor("card shows Major", func() bool { return strings.Contains(cardText(), "Major") })
	e.waitFor("announced", func() bool { return e.hasBotText(announc, "is now *Major*") })
	inc, _ := e.incident(1)
	var auto incident.Event
	for _, ev := range inc.Events {
		if ev.Kind == incident.EventClassChanged {
			auto = ev
		}
	}
	if auto.Actor != incident.ActorSystem || !strings.Contains(auto.Text, "reached the high threshold") {
		t.Errorf("upgrade recorded as %+v", auto)
	}
}
