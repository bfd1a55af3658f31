package bot

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/incident"
	"github.com/incidentbot/incidentbot/incident/incidenttest"
	"github.com/incidentbot/incidentbot/review"
	"github.com/incidentbot/incidentbot/review/reviewstore"
)

var wordsT0 = time.Date(2026, 11, 17, 10, 0, 0, 0, time.UTC)

// wordsIncident declares an incident of bedroom ($200,000/h) with no
// impact yet.
func wordsIncident(t *testing.T, title string) (*incident.Incident, *incident.Catalogue) {
	t.Helper()
	c := incidenttest.Valid(t, incidenttest.Furniture())
	svc, _ := c.Service("bedroom")
	inc, err := incident.Declare(c.Policy, 1, incident.Declaration{Title: title, Service: svc, Actor: "UALICE001"}, wordsT0)
	if err != nil {
		t.Fatal(err)
	}
	return inc, c
}

func viewAt(inc *incident.Incident, c *incident.Catalogue, at time.Time) view {
	return view{inc: inc, st: inc.State(c.Policy, at), cat: c, now: at}
}

func lastEvent(t *testing.T, inc *incident.Incident, kind incident.EventKind) incident.Event {
	t.Helper()
	for i := len(inc.Events) - 1; i >= 0; i-- {
		if inc.Events[i].Kind == kind {
			return inc.Events[i]
		}
	}
	t.Fatalf("no %s event", kind)
	return incident.Event{}
}

// TestClassAnnouncementStatesOneEstimate: the automatic upgrade's reason
// already gives the estimate at the crossing; the announcement, posted a
// little later, does not add a second, different figure.
func TestClassAnnouncementStatesOneEstimate(t *testing.T) {
	inc, c := wordsIncident(t, "Beds cannot be ordered")
	if _, err := inc.SetImpact(c.Policy, wordsT0, "UALICE001", c.Shares.Impact(incident.ImpactBlocked)); err != nil {
		t.Fatal(err)
	}
	e := lastEvent(t, inc, incident.EventClassChanged)
	later := viewAt(inc, c, wordsT0.Add(18*time.Second)) // the running estimate has moved on: $201,000
	got := announceText(later, "class", e, "C1")
	want := "🏷️ *#1 Beds cannot be ordered* (`bedroom`) is now *Major*: estimated loss $200,000 reached the high threshold $100,000. <#C1>"
	if got != want {
		t.Errorf("automatic upgrade:\n got %s\nwant %s", got, want)
	}

	// A person's reclassification states the estimate once, as it was then.
	inc, c = wordsIncident(t, "Beds cannot be ordered")
	if _, err := inc.SetImpact(c.Policy, wordsT0, "UALICE001", c.Shares.Impact(incident.ImpactPartial)); err != nil {
		t.Fatal(err)
	}
	if _, err := inc.Reclassify(c.Policy, wordsT0, "UALICE001", incident.Major, "checkout is at risk."); err != nil {
		t.Fatal(err)
	}
	e = lastEvent(t, inc, incident.EventClassChanged)
	got = announceText(viewAt(inc, c, wordsT0.Add(time.Hour)), "class", e, "C1")
	want = "🏷️ *#1 Beds cannot be ordered* (`bedroom`) is now *Major*: checkout is at risk. Estimated loss $20,000. <#C1>"
	if got != want {
		t.Errorf("reclassification:\n got %s\nwant %s", got, want)
	}
}

// TestTitlesDoNotRepeatTheService: "High error rate on bedroom" is not
// followed by "on `bedroom`" or "(`bedroom`)".
func TestTitlesDoNotRepeatTheService(t *testing.T) {
	for title, named := range map[string]bool{
		"High error rate on bedroom":   true,
		"BEDROOM checkout down":        true,
		"bedroom: 502s":                true,
		"Beds cannot be ordered":       false,
		"bedrooms page is slow":        false,
		"bedroom-v2 migration stalled": false,
	} {
		if got := namesService(title, "bedroom"); got != named {
			t.Errorf("namesService(%q) = %v", title, got)
		}
	}
	inc, c := wordsIncident(t, "High error rate on bedroom")
	if _, err := inc.SetImpact(c.Policy, wordsT0, "UALICE001", c.Shares.Impact(incident.ImpactBlocked)); err != nil {
		t.Fatal(err)
	}
	v := viewAt(inc, c, wordsT0)
	texts := map[string]string{
		"manager DM":   managerText(v, "<#C1>"),
		"announcement": announceText(v, "declared", incident.Event{}, "C1"),
		"home":         string(mustJSON(t, homeBlocks(c, []view{v}, wordsT0, nil))),
	}
	for what, text := range texts {
		if strings.Count(strings.ToLower(text), "bedroom") != 1 {
			t.Errorf("%s names bedroom more than once: %s", what, text)
		}
	}
	if want := "🔴 *Major incident #1 High error rate on bedroom*: restore availability immediately."; !strings.HasPrefix(texts["manager DM"], want) {
		t.Errorf("manager DM: %s", texts["manager DM"])
	}
	inc, c = wordsIncident(t, "Beds cannot be ordered")
	if got := managerText(viewAt(inc, c, wordsT0), "<#C1>"); !strings.Contains(got, "*Major incident #1 Beds cannot be ordered* on `bedroom`:") {
		t.Errorf("a title without the service gets it: %s", got)
	}
}

// TestResolvedCardSaysResolved: once resolved, the card no longer asks to
// restore availability immediately, and its durations are whole seconds.
func TestResolvedCardSaysResolved(t *testing.T) {
	inc, c := wordsIncident(t, "Beds cannot be ordered")
	if _, err := inc.SetImpact(c.Policy, wordsT0, "UALICE001", c.Shares.Impact(incident.ImpactBlocked)); err != nil {
		t.Fatal(err)
	}
	end := wordsT0.Add(2*time.Minute + 46113*time.Millisecond)
	if _, err := inc.Resolve(c.Policy, end, "UALICE001", "rolled back"); err != nil {
		t.Fatal(err)
	}
	v := viewAt(inc, c, end)
	card := string(mustJSON(t, cardBlocks(v)))
	if strings.Contains(card, "restore availability immediately") || !strings.Contains(card, "✅ *Major* — resolved") {
		t.Errorf("resolved card: %s", card)
	}
	if !strings.Contains(card, "Restored in 2 min 46 s.") || strings.Contains(card, "46.113") {
		t.Errorf("the card's time to restore is not in whole seconds: %s", card)
	}
	if got := eventLine(v, lastEvent(t, inc, incident.EventResolved)); !strings.Contains(got, "resolved the incident after 2 min 46 s.") {
		t.Errorf("resolution message: %s", got)
	}
}

// TestResolveModalWords: Slack adds "(optional)" to an optional input by
// itself; the label does not say it again, and the button says Resolve.
func TestResolveModalWords(t *testing.T) {
	m := resolveModal(7)
	raw := string(mustJSON(t, m))
	if strings.Contains(raw, "optional)") || m.Submit.Text != "Resolve" || m.PrivateMetadata != "7" || m.CallbackID != ViewResolve {
		t.Errorf("resolve modal: %s", raw)
	}
	if !strings.Contains(raw, `"optional":true`) {
		t.Errorf("the summary is not optional: %s", raw)
	}
	if n := noteModal(7); n.Submit.Text != "Add note" || n.CallbackID != ViewNote {
		t.Errorf("note modal: %+v", n)
	}
}

// TestHomeMeasuresPlurals: "1 incident", "2 incidents".
func TestHomeMeasuresPlurals(t *testing.T) {
	one := homeMeasuresText(review.Measures{Incidents: 1, Majors: 1}, incident.USD)
	two := homeMeasuresText(review.Measures{Incidents: 2, Majors: 1, Minors: 1}, incident.USD)
	if !strings.HasPrefix(one, "*1* incident: *1* major") || !strings.HasPrefix(two, "*2* incidents:") {
		t.Errorf("home measures:\n%s\n%s", one, two)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// TestLanguageCheckKnowsTheReviewsPeople: what people write for a review is
// checked knowing its participants' names ("riley caused …" blames Riley).
func TestLanguageCheckKnowsTheReviewsPeople(t *testing.T) {
	rec := &reviewstore.Record{Review: review.Review{Number: 1, People: map[string]string{"U0SANDRESP": "Riley Responder"}}}
	fs := checkText(rec, "The outage happened because riley caused a restart loop.")
	if len(fs) != 1 || fs[0].Rule != "blaming a person" || !strings.Contains(fs[0].Suggestion, "not who is to blame") {
		t.Errorf("findings %+v", fs)
	}
	if fs := checkText(nil, "riley caused a restart loop."); len(fs) != 0 {
		t.Errorf("without the review, no names are known: %+v", fs)
	}
}
