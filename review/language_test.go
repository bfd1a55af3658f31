package review_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/incidentbot/incidentbot/review"
)

func TestCheckLanguage(t *testing.T) {
	for _, tc := range []struct {
		text  string
		rules []string // the rules expected to fire, in order; nil for none
	}{
		// Blame.
		{"The outage was caused by human error.", []string{"human error"}},
		{"Human\nerror during the deploy.", []string{"human error"}},
		{"We did a Root Cause Analysis.", []string{"root cause"}},
		{"The root-cause was the cache.", []string{"root cause"}},
		{"The rootcause was the cache.", []string{"root cause"}},
		{"Bilal should have checked the dashboard.", []string{"should have"}},
		{"They should've known.", []string{"should have"}},
		{"Alice shouldn't have deployed on a Friday.", []string{"shouldn't have"}},
		{"He should not\nhave restarted the database.", []string{"shouldn't have"}},
		{"The engineer failed to notice the alert.", []string{"failed to"}},
		{"A careless change to the config.", []string{"careless"}},
		{"It was their fault.", []string{"fault"}},
		{"Nobody is at fault here, but it was Dana's fault.", []string{"fault", "blaming a person"}},
		{"Why didn't anyone page the database team?", []string{"why didn't"}},
		{"Why did not the on-call escalate?", []string{"why didn't"}},
		{"That was negligent.", []string{"negligent"}},
		{"The database team is to blame for the delay.", []string{"blame"}},
		{"We reviewed it without blame.", nil},
		{"A mistake by the on-call engineer.", []string{"mistake by"}},
		{"Sloppy code review let it through.", []string{"sloppy"}},
		{"The cause was obviously the deploy.", []string{"obviously"}},
		{"She just had to run the script.", []string{"just had to"}},
		{"An incompetent rollout.", []string{"incompetent"}},
		{"They didn't bother to check.", []string{"didn't bother"}},
		{"A lazy fix.", []string{"lazy"}},
		{"OBVIOUSLY the cause; also Human Error.", []string{"obviously", "human error"}},
		{"Ops could have easily prevented it.", []string{"could have prevented"}},
		{"We forgot the cron job.", []string{"forgot"}},
		{"The certificate had been forgotten.", []string{"forgot"}},
		{"The deploy failed to roll back.", []string{"failed to"}},
		{"Whose fault was it? Nobody's faults.", []string{"fault", "fault"}},
		// Blaming a person: mentions, handles, names.
		{"<@U0123ABC> broke checkout.", []string{"blaming a person"}},
		{"<@U0123ABC|alice> caused the outage", []string{"blaming a person"}},
		{"It went down because <@U0123ABC> deployed on Friday.", []string{"blaming a person"}},
		{"@bilal missed the page", []string{"blaming a person"}},
		{"The data was lost because of @dana.", []string{"blaming a person"}},
		{"It failed because Alice deployed without the canary.", []string{"blaming a person"}},
		{"Checkout broke because Dana didn't run the migration.", []string{"blaming a person"}},
		{"It was Bilal's mistake.", []string{"blaming a person"}},
		{"Alice messed up the config.", []string{"blaming a person"}},
		{"Dana forgot to renew the certificate.", []string{"blaming a person"}},
		// Not blame.
		{"Redis broke under load.", nil},
		{"It slowed down because Redis evicted keys.", nil},
		{"Kubernetes ignored the memory limit.", nil},
		{"Mail to ops@example.com broke nothing.", nil},
		{"Because Monday traffic is high, we scaled out.", nil},
		{"Then Alice restored the service because she rolled back.", nil},
		{"It broke because the cache expired.", nil},
		{"The default timeout is 30 seconds.", nil},
		{"We run a rootcause-free review.", nil},
		{"Fault tolerance held in two regions; a page fault was logged.", nil},
		{"The faulty disk was replaced.", nil},
		{"This review is blameless.", nil},
		{"Our blame-free culture helps.", nil},
		{"Images are lazy loaded.", nil},
		{"The signal was not obvious at the time.", nil},
		{"The deployment failed. The alert fired at 10:01.", nil},
		{"We learned that contributing factors combined.", nil},
		{"The human operators restored the error budget.", nil},
		{"Shoulder season traffic was high.", nil},
		{"Failover to the second region took 4 minutes.", nil},
	} {
		got := review.Check(tc.text)
		var rules []string
		for _, f := range got {
			rules = append(rules, f.Rule)
			if f.Suggestion == "" {
				t.Errorf("%q: no suggestion for %q", tc.text, f.Phrase)
			}
			if !strings.EqualFold(strings.Join(strings.Fields(tc.text[f.Offset:f.Offset+len(f.Phrase)]), " "), strings.Join(strings.Fields(f.Phrase), " ")) {
				t.Errorf("%q: offset %d does not point at %q", tc.text, f.Offset, f.Phrase)
			}
		}
		if strings.Join(rules, ",") != strings.Join(tc.rules, ",") {
			t.Errorf("Check(%q) = %v, want %v", tc.text, rules, tc.rules)
		}
	}
}

// TestCheckNames: known names are blamed in any case and with any blaming
// verb; the longest name wins.
func TestCheckNames(t *testing.T) {
	names := []string{"Riley Responder", "Riley", "bilal"}
	for text, want := range map[string]string{
		"Riley broke checkout.":                      "Riley broke",
		"bilal missed the page.":                     "bilal missed",
		"Checkout failed because of Riley Responder": "because of Riley Responder",
		"BILAL was responsible for the outage":       "BILAL was responsible for",
		"Riley restored it.":                         "",
	} {
		got := review.CheckNames(text, names)
		phrase := ""
		if len(got) == 1 && got[0].Rule == "blaming a person" {
			phrase = got[0].Phrase
		} else if len(got) > 0 {
			phrase = fmt.Sprint(got)
		}
		if phrase != want {
			t.Errorf("CheckNames(%q) = %q, want %q", text, phrase, want)
		}
	}
	if f := review.Check("Riley broke checkout."); len(f) != 0 {
		t.Errorf("without names, a capitalised word with \"broke\" is not taken for a person: %+v", f)
	}
}

func TestCheckReview(t *testing.T) {
	c := furniture(t)
	r := draft(t, c, bedroomIncident(t, c), nil)
	if f := review.CheckReview(r); len(f) != 0 {
		t.Errorf("a fresh draft is not blameless: %+v", f)
	}
	md, err := review.Markdown(r)
	if err != nil {
		t.Fatal(err)
	}
	if f := review.Check(md); len(f) != 0 {
		t.Errorf("the template's own words are not blameless: %+v", f)
	}
	if err := r.SetSection(review.SectionContributingFactors, "The root cause was human error."); err != nil {
		t.Fatal(err)
	}
	if err := r.SetAccount(review.Account{User: "U2", Did: "I should have paged earlier."}); err != nil {
		t.Fatal(err)
	}
	must(r.AddAction("Stop careless deploys", "", r.DraftedAt))
	got := review.CheckReview(r)
	want := []struct {
		section review.SectionID
		field   string
		rule    string
		offset  int
	}{
		{review.SectionAccounts, "U2 did", "should have", 2},
		{review.SectionContributingFactors, "", "root cause", 4},
		{review.SectionContributingFactors, "", "human error", 19},
		{review.SectionActions, "action 1-1", "careless", 5},
	}
	if len(got) != len(want) {
		t.Fatalf("findings %+v", got)
	}
	for i, w := range want {
		g := got[i]
		if g.Section != w.section || g.Field != w.field || g.Rule != w.rule || g.Offset != w.offset {
			t.Errorf("finding %d = %+v, want %+v", i, g, w)
		}
	}
	// The review's people are recognised by name wherever they are blamed,
	// also where a capitalised word alone would not tell.
	if err := r.SetSection(review.SectionLearnings, "bilal caused the outage; Chen restored it."); err != nil {
		t.Fatal(err)
	}
	got = review.CheckReview(r)
	if g := got[len(got)-2]; g.Section != review.SectionLearnings || g.Rule != "blaming a person" || g.Phrase != "bilal caused" {
		t.Errorf("blaming a participant by name: %+v", got)
	}
	if len(review.Phrases()) < 17 {
		t.Error("phrase table too short")
	}
}
