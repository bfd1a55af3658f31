package review_test

import (
	"strings"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/incident"
	"github.com/incidentbot/incidentbot/review"
)

func TestDraftGoldenBedroom(t *testing.T) {
	c := furniture(t)
	r := draft(t, c, bedroomIncident(t, c), nil)
	md, err := review.Markdown(r)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "bedroom.md.golden", md)
	for _, want := range []string{
		"| Financial loss | $100,000 |",
		"| Loss at tolerable unavailability per week | $336,000 |",
		"| Financial loss protected | $236,000 |",
		"| Financial loss protection effectiveness | 70.2% |",
		"1:40:48",
		"0:30:00",
		"Contributing factors",
		"contributing factors, human and technical",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("draft lacks %q", want)
		}
	}
}

func TestDraftGoldenNegativeEffectiveness(t *testing.T) {
	c := furniture(t)
	r := draft(t, c, appointmentsIncident(t, c), nil)
	md, err := review.Markdown(r)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "appointments.md.golden", md)
	for _, want := range []string{
		"| Financial loss, including costs incurred | $43,500 |",
		"| Loss at tolerable unavailability per week | $35,280 |",
		"| Financial loss protected | -$8,220 |",
		"| Financial loss protection effectiveness | -23.3% |",
		"exceeded the loss at tolerable unavailability by $8,220",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("draft lacks %q", want)
		}
	}
	_ = time.Second
	_ = incident.Major
}

func TestRedraftKeepsHumanEdits(t *testing.T) {
	c := furniture(t)
	inc := bedroomIncident(t, c)
	first := draft(t, c, inc, nil)
	if first.Edited(review.SectionSummary) || first.Edited(review.SectionTimeline) {
		t.Fatal("a fresh draft counts as edited")
	}
	if got := first.Missing(); len(got) != 5 {
		t.Errorf("missing = %v, want accounts and the four sections people write", got)
	}

	// People edit a drafted section and write two of theirs.
	summary := "Checkout for bedroom furniture failed for 30 minutes after a cart-service deploy."
	factors := "- The deploy pipeline ran no checkout smoke test.\n- The error-rate alert fired 3 minutes after the deploy."
	for id, text := range map[review.SectionID]string{review.SectionSummary: summary, review.SectionContributingFactors: factors} {
		if err := first.SetSection(id, text); err != nil {
			t.Fatal(err)
		}
	}
	if err := first.SetSection(review.SectionActions, "x"); incident.ErrorCode(err) != incident.EINVALID {
		t.Errorf("editing a derived section: %v", err)
	}
	if err := first.SetSection("root_cause", "x"); incident.ErrorCode(err) != incident.EINVALID {
		t.Errorf("editing an unknown section: %v", err)
	}
	if err := first.SetAccount(review.Account{User: "U2", Saw: "502s on the dashboard", At: time.Date(2026, 11, 17, 12, 0, 0, 0, time.UTC)}); err != nil {
		t.Fatal(err)
	}
	a, err := first.AddAction("Add a checkout smoke test to the deploy pipeline", "U2", time.Date(2026, 11, 18, 9, 0, 0, 0, time.UTC))
	if err != nil || a.ID != "1-1" || a.Service != "bedroom" {
		t.Fatalf("action %+v, %v", a, err)
	}

	// Meanwhile the timeline grows: a late note.
	must(inc.AddNote(c.Policy, time.Date(2026, 11, 17, 11, 0, 0, 0, time.UTC), "U3", "Found a second affected region"))
	second := draft(t, c, inc, first)

	if got := second.Sections[review.SectionSummary]; got != summary {
		t.Errorf("edited summary was redrafted:\n%s", got)
	}
	if !second.Edited(review.SectionSummary) {
		t.Error("the kept summary is no longer marked edited")
	}
	if got := second.Sections[review.SectionContributingFactors]; got != factors {
		t.Errorf("contributing factors lost: %q", got)
	}
	if got := second.Sections[review.SectionTimeline]; !strings.Contains(got, "Found a second affected region") {
		t.Errorf("unedited timeline not redrafted:\n%s", got)
	}
	if second.Edited(review.SectionTimeline) || second.Edited(review.SectionImpact) {
		t.Error("redrafted sections count as edited")
	}
	if len(second.Accounts) != 1 || len(second.Actions) != 1 {
		t.Errorf("accounts %d actions %d, want 1 and 1", len(second.Accounts), len(second.Actions))
	}
	if got := second.Missing(); len(got) != 3 {
		t.Errorf("missing = %v, want went_well, learnings, narrative", got)
	}

	// A third redraft after the person edits the timeline keeps that too.
	if err := second.SetSection(review.SectionTimeline, "My own timeline"); err != nil {
		t.Fatal(err)
	}
	third := draft(t, c, inc, second)
	if third.Sections[review.SectionTimeline] != "My own timeline" || third.Sections[review.SectionSummary] != summary {
		t.Error("third draft lost edits")
	}
}

func TestDraftRefusals(t *testing.T) {
	c := furniture(t)
	inc := bedroomIncident(t, c)
	st := inc.State(c.Policy, inc.Events[len(inc.Events)-1].At)
	if _, err := review.Draft(inc, st, nil, review.DraftOptions{}); incident.ErrorCode(err) != incident.EINVALID {
		t.Errorf("no catalogue: %v", err)
	}
	open := inc.State(c.Policy, inc.Events[0].At)
	if _, err := review.Draft(inc, open, c, review.DraftOptions{}); incident.ErrorCode(err) != incident.ECONFLICT {
		t.Errorf("open incident: %v", err)
	}
	other := &review.Review{Number: 99}
	if _, err := review.Draft(inc, st, c, review.DraftOptions{Previous: other}); incident.ErrorCode(err) != incident.EINVALID {
		t.Errorf("previous of another incident: %v", err)
	}
	pub := draft(t, c, inc, nil)
	if err := pub.Publish(time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := review.Draft(inc, st, c, review.DraftOptions{Previous: pub}); incident.ErrorCode(err) != incident.ECONFLICT {
		t.Errorf("published: %v", err)
	}
	if err := pub.Publish(time.Now()); incident.ErrorCode(err) != incident.ECONFLICT {
		t.Errorf("publishing twice: %v", err)
	}
}

func TestDraftTimelineIsKeyEventsOnly(t *testing.T) {
	c := furniture(t)
	r := draft(t, c, bedroomIncident(t, c), nil)
	tl := r.Sections[review.SectionTimeline]
	for _, not := range []string{"looking at the logs", "joined"} {
		if strings.Contains(tl, not) {
			t.Errorf("timeline has an ordinary message or join: %q", not)
		}
	}
	if n := strings.Count(tl, "Alert fired"); n != 1 {
		t.Errorf("a repeated alert appears %d times", n)
	}
	if r.Private {
		t.Error("an ordinary incident's review is private")
	}
}

func TestDraftSecurityIsPrivateAndTimelineCapped(t *testing.T) {
	c := furniture(t)
	svc, _ := c.Service("bedroom")
	t0 := time.Date(2026, 11, 17, 10, 0, 0, 0, time.UTC)
	inc := must(incident.Declare(c.Policy, 5, incident.Declaration{Title: "Leaked tokens", Service: svc, Actor: "U1", Security: true}, t0))
	for i := 1; i <= 50; i++ {
		must(inc.AddNote(c.Policy, t0.Add(time.Duration(i)*time.Minute), "U1", "note "+strings.Repeat("x", i%3)))
	}
	must(inc.Resolve(c.Policy, t0.Add(2*time.Hour), "U1", ""))
	st := inc.State(c.Policy, t0.Add(3*time.Hour))
	r, err := review.Draft(inc, st, c, review.DraftOptions{MaxTimeline: 10})
	if err != nil {
		t.Fatal(err)
	}
	if !r.Private || r.Class != incident.Major {
		t.Errorf("security review: private %v class %s", r.Private, r.Class)
	}
	tl := r.Sections[review.SectionTimeline]
	if rows := strings.Count(tl, "\n|"); rows != 12 { // separator + 10 rows + the gap row
		t.Errorf("timeline rows = %d:\n%s", rows, tl)
	}
	if !strings.Contains(tl, "43 more key events") || !strings.Contains(tl, "Availability restored") {
		t.Errorf("capped timeline lost its gap or its end:\n%s", tl)
	}
	if !strings.Contains(r.Sections[review.SectionImpact], "No financial loss protection effectiveness was measured") {
		t.Errorf("no-impact incident:\n%s", r.Sections[review.SectionImpact])
	}
}
