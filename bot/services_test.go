package bot_test

import (
	"strings"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/bot"
	"github.com/incidentbot/incidentbot/incident"
)

func (e *env) cardText(channelID string) string {
	pins := e.fs.Pins(channelID)
	if len(pins) == 0 {
		return ""
	}
	m, _ := e.fs.Message(channelID, pins[0].TS)
	return m.AllText()
}

func (e *env) hasDM(userID, substr string) bool {
	for _, m := range e.fs.DMs(userID) {
		if strings.Contains(m.AllText(), substr) {
			return true
		}
	}
	return false
}

// affects, impact <service> and unaffects: the card lists every service
// with its impact and loss rate; the affected service's team is called out.
func TestAffectedServicesFromSlack(t *testing.T) {
	e := newEnv(t, tuesdayNoon)
	e.slash(grace, announc, "declare ecommerce-platform Checkout down")
	ch := e.channelOf(1)
	e.slash(grace, ch.ID, "impact blocked")
	e.slash(grace, ch.ID, "affects bedroom degraded")
	e.waitFor("card with both services and the total", func() bool {
		c := e.cardText(ch.ID)
		return strings.Contains(c, "$910,000/h") && strings.Contains(c, "`bedroom` (bedroom-team) — degraded (50%), $100,000/h") &&
			strings.Contains(c, "`ecommerce-platform` (platform-team) — blocked (100%), $810,000/h · primary")
	})
	e.waitFor("affected service posted", func() bool {
		return e.hasBotText(ch.ID, "added `bedroom` as an affected service, impact *degraded (50%)*")
	})
	// bedroom's team (alice on call) is called out too.
	e.waitMember(alice, ch.ID)

	e.slash(grace, ch.ID, "impact bedroom partial")
	e.waitFor("bedroom revised", func() bool { return strings.Contains(e.cardText(ch.ID), "partial (10%), $20,000/h") })
	if _, st := e.incident(1); st.Impact.Level != incident.ImpactBlocked || st.Rate != incident.USD.Major(830_000) {
		t.Errorf("primary impact %s, rate %d", st.Impact, st.Rate)
	}
	e.slash(grace, ch.ID, "unaffects bedroom search index rebuilt")
	e.waitFor("bedroom ended", func() bool {
		c := e.cardText(ch.ID)
		return strings.Contains(c, "~`bedroom`~") && strings.Contains(c, "search index rebuilt") && strings.Contains(c, "$810,000/h")
	})
	// Mistakes change nothing and say why.
	e.slash(grace, ch.ID, "affects warehouse")
	e.slash(grace, ch.ID, "unaffects bedroom")
	e.slash(grace, ch.ID, "impact appointments blocked")
	e.waitFor("refusals", func() bool {
		t := e.ephemeralText(grace)
		return strings.Contains(t, `no service called "warehouse"`) && strings.Contains(t, "needs a service and why") &&
			strings.Contains(t, "`appointments` is not affected by incident 1")
	})
	inc, _ := e.incident(1)
	if n := countEvents(inc, incident.EventServiceAffected); n != 1 {
		t.Errorf("%d services attached, want 1", n)
	}
}

func countEvents(inc *incident.Incident, k incident.EventKind) int {
	n := 0
	for _, ev := range inc.Events {
		if ev.Kind == k && ev.From == 0 {
			n++
		}
	}
	return n
}

// merge: the other incident's channel gets a pointer and is archived, its
// people are invited here, it is closed as merged (not resolved); the
// command typed again merges nothing more.
func TestMergeFromSlack(t *testing.T) {
	e := newEnv(t, tuesdayNoon)
	e.slash(alice, announc, "declare bedroom Beds slow")
	one := e.channelOf(1)
	e.slash(alice, one.ID, "impact degraded")
	e.slash(grace, announc, "declare ecommerce-platform Checkout down")
	two := e.channelOf(2)
	e.slash(grace, two.ID, "impact partial")
	e.slash(dave, two.ID, "note the database is slow")
	e.waitFor("note on #2", func() bool { return e.hasBotText(two.ID, "the database is slow") })

	e.slash(alice, one.ID, "merge #2 same database outage")
	e.waitFor("merged event posted", func() bool { return e.hasBotText(one.ID, "merged incident *#2*") })
	e.waitFor("pointer in #2 and archived", func() bool {
		c, _ := e.fs.Channel(two.ID)
		return c.IsArchived && e.hasBotText(two.ID, "merged into *#1* <#"+one.ID+">")
	})
	e.waitFor("#2's people invited", func() bool {
		m := strings.Join(e.fs.Members(one.ID), ",")
		return strings.Contains(m, grace) && strings.Contains(m, dave)
	})
	e.waitFor("card lists the merged service", func() bool {
		c := e.cardText(one.ID)
		return strings.Contains(c, "`ecommerce-platform` (platform-team) — partial (10%), $81,000/h · from #2") && strings.Contains(c, "$181,000/h")
	})
	e.waitFor("merge announced", func() bool { return e.hasBotText(announc, "Incident #2 was merged into *#1 Beds slow*") })
	_, st2 := e.incident(2)
	if st2.Status != incident.StatusMerged || st2.MergedInto != 1 {
		t.Errorf("#2 is %s into %d", st2.Status, st2.MergedInto)
	}
	// Typed again: already merged. (#2's channel is archived: Slack takes
	// no commands there.)
	e.slash(bob, one.ID, "merge 2")
	e.waitFor("refusal", func() bool {
		return strings.Contains(e.ephemeralText(bob), "Incident 2 is already merged into #1")
	})
	e.slash(alice, one.ID, "note after the merge")
	e.waitFor("later note", func() bool { return e.hasBotText(one.ID, "after the merge") })
	inc1, st1 := e.incident(1)
	if n := countEvents(inc1, incident.EventMerged); n != 1 {
		t.Errorf("%d merged events on #1, want 1", n)
	}
	inc2, _ := e.incident(2)
	if n := countEvents(inc2, incident.EventMergedInto); n != 1 {
		t.Errorf("%d merged_into events on #2, want 1", n)
	}
	if n := e.countBotText(two.ID, "merged into *#1*"); n != 1 {
		t.Errorf("%d pointers in #2's channel, want 1", n)
	}
	if len(st1.Services) != 2 || st1.Rate != incident.USD.Major(181_000) {
		t.Errorf("#1: %d services at %d/h", len(st1.Services), st1.Rate)
	}
}

// page: a team's rotation is invited and told why and what it costs; the
// same team again within minutes is already paged; a person is paged too.
func TestPageFromSlack(t *testing.T) {
	e := newEnv(t, tuesdayNoon)
	e.slash(alice, announc, "declare bedroom Beds down")
	ch := e.channelOf(1)
	e.slash(alice, ch.ID, "impact blocked")
	e.slash(alice, ch.ID, "page appointments-team bookings look broken too")
	e.waitMember(erin, ch.ID)
	e.waitFor("erin told why", func() bool {
		return e.hasDM(erin, "pages you into *#1 Beds down*") && e.hasDM(erin, "bookings look broken too") && e.hasDM(erin, "Loss rate $200,000/h")
	})
	e.waitFor("page posted", func() bool { return e.hasBotText(ch.ID, "paged appointments-team's on-call: bookings look broken too") })
	e.clock.Advance(2 * time.Minute)
	e.slash(bob, ch.ID, "page appointments-team again")
	e.waitFor("already paged", func() bool {
		return strings.Contains(e.ephemeralText(bob), "appointments-team was already paged 2 min")
	})
	e.slash(alice, ch.ID, "page <@"+dave+"|dave> knows the database")
	e.waitMember(dave, ch.ID)
	e.waitFor("dave told why", func() bool { return e.hasDM(dave, "knows the database") })
	inc, _ := e.incident(1)
	if n := countEvents(inc, incident.EventPaged); n != 2 {
		t.Errorf("%d pages recorded, want 2", n)
	}
	e.clock.Advance(5 * time.Minute)
	e.slash(bob, ch.ID, "page appointments-team still broken")
	e.waitFor("paged again after a while", func() bool { inc, _ := e.incident(1); return countEvents(inc, incident.EventPaged) == 3 })
}

func TestParseServiceCommands(t *testing.T) {
	shares := incident.DefaultShares
	for _, tc := range []struct {
		text    string
		verb    string
		service string
		level   incident.ImpactLevel
		share   incident.Share
		has     bool
		number  int64
		team    string
		user    string
		rest    string
	}{
		{text: "affects bedroom", verb: "affects", service: "bedroom"},
		{text: "affects bedroom degraded", verb: "affects", service: "bedroom", level: incident.ImpactDegraded, share: 5000, has: true},
		{text: "affects bedroom 30%", verb: "affects", service: "bedroom", level: incident.ImpactPartial, share: 3000, has: true},
		{text: "affects bedroom blocked 80%", verb: "affects", service: "bedroom", level: incident.ImpactBlocked, share: 8000, has: true},
		{text: "impact blocked", verb: "impact", level: incident.ImpactBlocked, share: 10000, has: true},
		{text: "impact partial 5%", verb: "impact", level: incident.ImpactPartial, share: 500, has: true},
		{text: "impact bedroom partial", verb: "impact", service: "bedroom", level: incident.ImpactPartial, share: 1000, has: true},
		{text: "unaffects bedroom it is fine now", verb: "unaffects", service: "bedroom", rest: "it is fine now"},
		{text: "merge #12 same outage", verb: "merge", number: 12, rest: "same outage"},
		{text: "merge 3", verb: "merge", number: 3},
		{text: "page platform-team db down", verb: "page", team: "platform-team", rest: "db down"},
		{text: "page <@UDAVE0004|dave>", verb: "page", user: "UDAVE0004"},
	} {
		c, err := bot.ParseCommand(tc.text, alice, incident.USD, shares)
		if err != nil {
			t.Errorf("%q: %v", tc.text, err)
			continue
		}
		if c.Verb != tc.verb || c.Service != tc.service || c.HasImpact != tc.has || c.Number != tc.number || c.Team != tc.team || c.User != tc.user || (tc.rest != "" && c.Rest != tc.rest) ||
			(tc.has && (c.Impact.Level != tc.level || c.Impact.Share != tc.share)) || !c.InChannel() {
			t.Errorf("%q = %+v", tc.text, c)
		}
	}
	for _, bad := range []string{"affects", "affects bedroom sideways", "unaffects bedroom", "merge", "merge two", "merge -1", "page", "impact bedroom"} {
		if _, err := bot.ParseCommand(bad, alice, incident.USD, shares); incident.ErrorCode(err) != incident.EINVALID {
			t.Errorf("%q: err = %v, want a usage message", bad, err)
		}
	}
}
