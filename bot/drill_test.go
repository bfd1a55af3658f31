package bot_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/incident"
)

// TestDrillIsFlaggedEverywhere: /incident drill opens a practice incident in
// drill-<n>-<slug>, flagged on the card, in the announcement and in the
// list, priced like a real one and left out of the error budget.
func TestDrillIsFlaggedEverywhere(t *testing.T) {
	e := newEnv(t, tuesdayNoon)
	fs := e.fs
	e.slash(alice, announc, "drill bedroom Chaos Day: database failover")
	var ch string
	e.waitFor("drill channel", func() bool {
		for _, c := range fs.Channels() {
			if c.Name == "drill-1-chaos-day-database-failover" && len(fs.Pins(c.ID)) > 0 {
				ch = c.ID
				return true
			}
		}
		return false
	})
	if !strings.Contains(e.ephemeralText(alice), "Drill") {
		t.Errorf("the declaration reply does not say it is a drill: %s", e.ephemeralText(alice))
	}
	card := fs.Pins(ch)[0].AllText()
	for _, want := range []string{"DRILL", "This is a drill", "PagerDuty is not paged", "does not count against `bedroom`'s weekly error budget"} {
		if !strings.Contains(card, want) {
			t.Errorf("drill card lacks %q:\n%s", want, card)
		}
	}
	if !strings.HasPrefix(fs.Topic(ch), "DRILL · ") {
		t.Errorf("topic %q", fs.Topic(ch))
	}
	e.waitFor("drill announced", func() bool { return e.hasBotText(announc, "DRILL* *#1 Chaos Day") })

	// Priced like a real incident.
	e.slash(alice, ch, "impact blocked")
	e.waitFor("drill priced", func() bool {
		_, st := e.incident(1)
		return st.Rate == incident.USD.Major(200_000) && st.Class == incident.Major
	})
	inc, _ := e.incident(1)
	if !inc.Drill {
		t.Fatal("the incident is not a drill")
	}
	e.clock.Advance(2 * time.Hour) // a real incident would be past bedroom's 1:40:48 by now
	e.slash(alice, announc, "services bedroom")
	e.waitFor("services answered", func() bool { return strings.Contains(e.ephemeralText(alice), "Service catalogue") })
	if txt := e.ephemeralText(alice); !strings.Contains(txt, "Weekly error budget 0.0% used: 0:00:00 of 1:40:48") {
		t.Errorf("/incident services counts the drill against the budget:\n%s", txt)
	}
	e.slash(alice, announc, "list")
	e.waitFor("list", func() bool { return strings.Contains(e.ephemeralText(alice), "DRILL* *#1 Chaos Day") })
}

// TestErrorBudgetOnCardStatusServicesAndHome: the card and /incident status
// say how much of the service's weekly budget is used including the
// incident so far; /incident services and App Home show used and left, and
// flag a service past 100%.
func TestErrorBudgetOnCardStatusServicesAndHome(t *testing.T) {
	e := newEnv(t, tuesdayNoon)
	fs := e.fs
	e.slash(alice, announc, "declare bedroom Beds fail")
	ch := e.channelOf(1)
	card := fs.Pins(ch.ID)[0]
	if txt := card.AllText(); !strings.Contains(txt, "Weekly error budget 0.0% used: 0:00:00 of 1:40:48, 1:40:48 left (last 7 days), including this incident so far, for `bedroom`") {
		t.Errorf("card budget line:\n%s", txt)
	}
	e.slash(alice, ch.ID, "impact blocked")
	e.waitFor("impact", func() bool { _, st := e.incident(1); return st.Impact.Level == incident.ImpactBlocked })
	e.clock.Advance(2 * time.Hour)
	e.slash(alice, ch.ID, "status")
	e.waitFor("status", func() bool { return strings.Contains(e.ephemeralText(alice), "Over its weekly error budget") })
	if txt := e.ephemeralText(alice); !strings.Contains(txt, "of 1:40:48 (over by ") || !strings.Contains(txt, "including this incident so far") {
		t.Errorf("status budget:\n%s", txt)
	}
	e.slash(bob, ch.ID, "note the card refreshes")
	e.slash(bob, ch.ID, "cost 10 pizza")
	e.waitFor("card flags the budget", func() bool {
		c, _ := fs.Message(ch.ID, card.TS)
		return strings.Contains(c.AllText(), "Over its weekly error budget")
	})
	e.slash(bob, announc, "services")
	e.waitFor("services", func() bool { return strings.Contains(e.ephemeralText(bob), "Service catalogue") })
	txt := e.ephemeralText(bob)
	if !strings.Contains(txt, "Over its weekly error budget") || !strings.Contains(txt, "Weekly error budget 0.0% used: 0:00:00 of 8:24:00, 8:24:00 left") {
		t.Errorf("/incident services budgets:\n%s", txt)
	}
	if err := fs.OpenAppHome(e.ctx(), dave); err != nil {
		t.Fatal(err)
	}
	e.waitFor("home budgets", func() bool {
		v, ok := fs.HomeView(dave)
		if !ok {
			return false
		}
		raw, _ := json.Marshal(v.Blocks)
		s := string(raw)
		over, apps := strings.Index(s, "`bedroom` (99.0%): 🔥"), strings.Index(s, "`appointments` (95.0%): Weekly error budget 0.0% used")
		return strings.Contains(s, "Weekly error budgets") && over >= 0 && apps > over
	})
}
