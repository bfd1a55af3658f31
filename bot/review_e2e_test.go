package bot_test

import (
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/bot"
	"github.com/incidentbot/incidentbot/incident"
	"github.com/incidentbot/incidentbot/internal/fakeslack"
	"github.com/incidentbot/incidentbot/review"
	"github.com/incidentbot/incidentbot/review/reviewstore"
)

var effectivenessRE = regexp.MustCompile(`Protection effectiveness:\* (69|70)(\.\d)?% — \$23\d,\d{3}(\.\d\d)? protected of \$33\d,`)

// botMessage waits for a bot message in a channel containing substr.
func (re *reviewEnv) botMessage(channelID, substr string) fakeslack.Message {
	re.t.Helper()
	var found fakeslack.Message
	re.waitFor("message "+substr, func() bool {
		for _, m := range re.fs.Messages(channelID) {
			if (m.BotID != "" || m.User == re.fs.BotUserID()) && strings.Contains(m.AllText(), substr) {
				found = m
				return true
			}
		}
		return false
	})
	return found
}

// previewToken is the preview token of the review link in a message.
func previewToken(t *testing.T, text string) string {
	t.Helper()
	m := regexp.MustCompile(`preview=([0-9]+\.[A-Za-z0-9_-]{22})`).FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("no signed preview link in %q", text)
	}
	return m[1]
}

func (re *reviewEnv) dmCount(userID, substr string) int {
	n := 0
	for _, m := range re.fs.DMs(userID) {
		if strings.Contains(m.AllText(), substr) {
			n++
		}
	}
	return n
}

// resolvedMajor declares a bedroom incident (dave), prices it blocked
// (alice), gets bob to command it and resolves it after 30 minutes: the
// playbook's worked example. It returns the channel.
func (re *reviewEnv) resolvedMajor(title string, before func(ch string)) string {
	re.t.Helper()
	re.slash(dave, announc, "declare bedroom "+title)
	ch := re.channelOf(1).ID
	re.waitMember(alice, ch)
	re.slash(alice, ch, "impact blocked")
	re.slash(bob, ch, "commander me")
	re.waitFor("commander", func() bool { _, st := re.incident(1); return st.Commander == bob && st.Class == incident.Major })
	if before != nil {
		before(ch)
		ch = re.liveChannelOf(1) // a security incident moved
	}
	re.clock.Advance(30 * time.Minute)
	re.slash(bob, ch, "resolve rolled back the search index")
	re.waitFor("resolved", func() bool { _, st := re.incident(1); return st.Status == incident.StatusResolved })
	return ch
}

// TestReviewLifecycle walks a review from resolution to publication, all
// from Slack: the draft, accounts by DM, section edits, improvement
// actions, the blameless check, publishing, the site and its readers, and
// the measures.
func TestReviewLifecycle(t *testing.T) {
	re := newReviewEnv(t, tuesdayNoon)
	fs := re.fs
	ctx := re.ctx()

	ch := re.resolvedMajor("Checkout fails for beds", func(ch string) {
		// An action defined while the incident runs is kept by the draft.
		re.slash(alice, ch, "action Alert on the checkout error rate <@"+bob+">")
		re.botMessage(ch, "Improvement action *1-1*")
	})

	// 1. The draft on resolution, recorded once, told to the channel.
	re.waitFor("draft", func() bool { rec, ok := re.record(1); return ok && rec.Status == incident.ReviewDrafted })
	drafted := re.botMessage(ch, "blameless review of *#1")
	if !strings.Contains(drafted.Text, re.web.URL+"/reviews/1?preview=") {
		t.Errorf("the drafted message has no preview link: %s", drafted.Text)
	}
	rec, _ := re.record(1)
	if len(rec.Actions) != 1 || rec.Actions[0].Owner != bob {
		t.Fatalf("the draft lost the action defined before: %+v", rec.Actions)
	}
	if !strings.Contains(rec.Sections[review.SectionImpact], "$10") {
		t.Errorf("impact section lacks the loss:\n%s", rec.Sections[review.SectionImpact])
	}
	re.waitFor("drafted on the timeline", func() bool { return re.countEvents(1, incident.EventReviewDrafted) == 1 })

	// 2. Every participant is asked for an account by DM, once.
	for _, u := range []string{dave, alice, bob} {
		re.waitFor("account asked of "+u, func() bool { return re.dmCount(u, "Add my account") == 1 })
	}
	if n := re.dmCount(fs.BotUserID(), "Add my account"); n != 0 {
		t.Errorf("the bot asked itself")
	}

	// Drafts are not public; the preview link works.
	web := newBrowserClient(t)
	if code, _, _ := re.get(web, "/reviews/1"); code != http.StatusNotFound {
		t.Errorf("unpublished review: %d", code)
	}
	if code, _, _ := re.get(web, "/reviews/1?preview=wrong"); code != http.StatusNotFound {
		t.Errorf("wrong preview token: %d", code)
	}
	code, body, hdr := re.get(web, "/reviews/1?preview="+previewToken(t, drafted.Text))
	if code != http.StatusOK || !strings.Contains(body, "Draft: not yet published") || hdr.Get("Cache-Control") != "no-store" {
		t.Errorf("preview: %d %q\n%s", code, hdr.Get("Cache-Control"), body)
	}

	// Alice gives her account: the button opens the modal at once.
	dm, _ := fs.DMChannel(alice)
	var ask fakeslack.Message
	for _, m := range fs.DMs(alice) {
		if strings.Contains(m.AllText(), "Add my account") {
			ask = m
		}
	}
	ack, err := fs.ClickButton(ctx, alice, dm, ask.TS, "review_account")
	if err != nil || ack.Late {
		t.Fatalf("click: %v %+v", err, ack)
	}
	v := re.waitView(alice, "review_account", nil)
	if _, err := fs.SubmitView(ctx, alice, v.ID, map[string]map[string]string{
		"saw":       {"text": "Checkout errors on the dashboard <!channel>"},
		"did":       {"text": "Rolled back the search index"},
		"surprised": {"text": "The alert stayed silent"},
	}); err != nil {
		t.Fatal(err)
	}
	re.waitFor("account saved", func() bool {
		rec, _ := re.record(1)
		return len(rec.Accounts) == 1 && rec.Accounts[0].User == alice && rec.Accounts[0].Did == "Rolled back the search index"
	})
	re.waitFor("thanks", func() bool { return re.dmCount(alice, "your account is in the review") == 1 })

	// 3. /incident review shows each section's state with Edit buttons.
	re.slash(bob, ch, "review")
	eph := re.lastEphemeral(bob, "Contributing factors")
	for _, want := range []string{"*Summary* — drafted", "*Contributing factors* — _empty_", "1 of 3 responders gave their account", "1 action, 1 open", "Preview"} {
		if !strings.Contains(eph.AllText(), want) {
			t.Errorf("review state lacks %q:\n%s", want, eph.AllText())
		}
	}
	edit := func(section, text string) {
		t.Helper()
		e := re.lastEphemeral(bob, "Review of #1")
		seen := map[string]bool{}
		for _, v := range fs.OpenViews(bob) {
			seen[v.ID] = true
		}
		if _, err := fs.ClickButtonValue(ctx, bob, ch, e.TS, "review_edit", "1:"+section); err != nil {
			t.Fatal(err)
		}
		v := re.waitView(bob, "review_edit", seen)
		if _, err := fs.SubmitView(ctx, bob, v.ID, map[string]map[string]string{"part_1": {"text": text}}); err != nil {
			t.Fatal(err)
		}
		id := review.SectionID(section)
		re.waitFor("section "+section+" saved", func() bool { rec, _ := re.record(1); return rec.Sections[id] == strings.TrimSpace(text) })
	}
	edit("contributing_factors", "Human error by the on-call engineer.\n\nThe search index rebuild and a silent alert combined.")
	conf := re.lastEphemeral(bob, "Saved *Contributing factors*")
	if !strings.Contains(conf.Text, "Human error") || !strings.Contains(conf.Text, "Describe the conditions") {
		t.Errorf("the save did not show the language check: %s", conf.Text)
	}
	edit("summary", "Our own summary of the checkout failure.")

	// A redraft keeps the edits, records nothing twice, asks nobody twice.
	re.slash(bob, ch, "review")
	re.waitFor("edited state", func() bool {
		return strings.Contains(re.ephemeralText(bob), "*Summary* — edited") && strings.Contains(re.ephemeralText(bob), "*Contributing factors* — edited · ⚠️ 1 language warning")
	})
	rec, _ = re.record(1)
	if rec.Sections[review.SectionSummary] != "Our own summary of the checkout failure." || !rec.Edited(review.SectionSummary) {
		t.Errorf("redraft lost the edit: %q", rec.Sections[review.SectionSummary])
	}
	if n := re.countEvents(1, incident.EventReviewDrafted); n != 1 {
		t.Errorf("review_drafted events = %d", n)
	}
	for _, u := range []string{dave, alice, bob} {
		if n := re.dmCount(u, "Add my account"); n != 1 {
			t.Errorf("%s asked %d times", u, n)
		}
	}

	// 5. Improvement actions: the owner, or the commander, managers and
	// the team, mark them done; someone else may not.
	re.slash(alice, ch, "action Write the checkout runbook")
	runbook := re.botMessage(ch, "Improvement action *1-2*")
	if !strings.Contains(runbook.Text, "<@"+alice+">") {
		t.Errorf("owner defaults to the actor: %s", runbook.Text)
	}
	first := re.botMessage(ch, "Improvement action *1-1*")
	if _, err := fs.ClickButton(ctx, dave, ch, first.TS, "review_action_done"); err != nil {
		t.Fatal(err)
	}
	re.lastEphemeral(dave, "Only the action's owner")
	re.clock.Advance(36 * time.Hour)
	if _, err := fs.ClickButton(ctx, bob, ch, first.TS, "review_action_done"); err != nil {
		t.Fatal(err)
	}
	re.waitFor("done", func() bool {
		rec, _ := re.record(1)
		return rec.Actions[0].Done() && !rec.Actions[1].Done()
	})
	re.waitFor("message shows done", func() bool {
		m, _ := fs.Message(ch, first.TS)
		return strings.Contains(m.Text, "✅ Done") && len(m.Buttons()) == 0
	})
	re.lastEphemeral(bob, "is done, 1.5 days after")

	re.slash(dave, announc, "actions")
	list := re.lastEphemeral(dave, "Open improvement actions")
	if !strings.Contains(list.Text, "*1-2*") || strings.Contains(list.Text, "*1-1*") || !strings.Contains(list.Text, "1 day old") {
		t.Errorf("actions list:\n%s", list.Text)
	}

	// 4 and 6. Publishing: permission, the blameless check, confirmation.
	re.slash(dave, ch, "publish")
	re.lastEphemeral(dave, "Only the commander, incident managers and the owning team can publish")
	re.slash(bob, ch, "publish")
	check := re.lastEphemeral(bob, "blameless language check found")
	for _, want := range []string{"Human error", "Describe the conditions", "Publish anyway", "/incident publish confirm"} {
		if !strings.Contains(check.AllText(), want) {
			t.Errorf("the check lacks %q:\n%s", want, check.AllText())
		}
	}
	time.Sleep(200 * time.Millisecond)
	if rec, _ := re.record(1); rec.Published() {
		t.Fatal("published over warnings without confirmation")
	}
	if _, err := fs.ClickButton(ctx, bob, ch, check.TS, "review_publish"); err != nil {
		t.Fatal(err)
	}
	re.waitFor("published", func() bool { rec, _ := re.record(1); return rec.Published() })
	// The answer names the incident once ("of #1: #1 …" said it twice).
	if pub := re.lastEphemeral(bob, "Published the review").AllText(); !strings.Contains(pub, "📘 Published the review: <"+re.web.URL+"/reviews/1|#1 Checkout fails for beds>") {
		t.Errorf("publish answer: %s", pub)
	}
	re.botMessage(ch, "review of this incident is published")
	ann := re.botMessage(announc, "Post-incident review published")
	if !strings.Contains(ann.Text, re.web.URL+"/reviews/1|") || strings.Contains(ann.Text, "preview=") {
		t.Errorf("announcement: %s", ann.Text)
	}
	if strings.Count(ann.Text, "Checkout fails for beds") != 1 {
		t.Errorf("the announcement names the review more than once: %s", ann.Text)
	}
	re.waitFor("published on the timeline", func() bool { return re.countEvents(1, incident.EventReviewPublished) == 1 })
	inc, _ := re.incident(1)
	for _, e := range inc.Events {
		if e.Kind == incident.EventReviewPublished && e.Text != re.web.URL+"/reviews/1" {
			t.Errorf("published event text %q", e.Text)
		}
	}
	// Publishing again changes nothing.
	re.slash(carol, ch, "publish confirm")
	re.lastEphemeral(carol, "already published")
	if n := re.countEvents(1, incident.EventReviewPublished); n != 1 || re.countBotText(announc, "Post-incident review published") != 1 {
		t.Errorf("published twice: events %d", n)
	}

	// The site: the page, the Markdown export, the index, unique readers.
	code, body, hdr = re.get(web, "/reviews/1")
	if code != http.StatusOK || !strings.Contains(body, "Checkout fails for beds") || !strings.Contains(body, "Our own summary") {
		t.Fatalf("page: %d\n%s", code, body)
	}
	if !strings.Contains(hdr.Get("Content-Security-Policy"), "default-src 'none'") || hdr.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("headers: %v", hdr)
	}
	if strings.Contains(body, "<!channel>") {
		t.Errorf("Slack markup reached the page")
	}
	re.get(web, "/reviews/1")
	code, md, hdr := re.get(web, "/reviews/1.md")
	if code != http.StatusOK || !strings.HasPrefix(hdr.Get("Content-Type"), "text/markdown") || !strings.Contains(md, "# Incident 1: Checkout fails for beds") {
		t.Errorf("markdown: %d %s\n%s", code, hdr.Get("Content-Type"), md)
	}
	other := newBrowserClient(t) // counted when its cookie comes back
	re.get(other, "/reviews/1")
	re.get(other, "/reviews/1")
	re.get(&http.Client{}, "/reviews/1") // keeps no cookie: never counted
	_, body, _ = re.get(web, "/reviews/1")
	if !strings.Contains(body, "2 readers") {
		t.Errorf("readers not counted uniquely:\n%s", body)
	}
	_, index, _ := re.get(web, "/reviews/?service=bedroom")
	if !strings.Contains(index, "Incident 1: Checkout fails for beds") {
		t.Errorf("index:\n%s", index)
	}
	_, index, _ = re.get(web, "/reviews/?team=appointments-team")
	if strings.Contains(index, "Incident 1:") {
		t.Errorf("index filter by team ignored")
	}

	// 7. The measures.
	re.slash(erin, announc, "stats 30d")
	stats := re.lastEphemeral(erin, "Measures, last 30 days")
	// Real time passes on top of the 30 minutes: the loss is about
	// $100,000 and the effectiveness about 70%.
	if !effectivenessRE.MatchString(stats.Text) {
		t.Errorf("stats lack the effectiveness:\n%s", stats.Text)
	}
	for _, want := range []string{"1 major, 0 minor", "`bedroom` $10", "bedroom-team", "2 defined, 1 done, 1 open", "median lead time 1.5 days", "2 reads of 1 published review; 2 unique readers", "#1 Checkout fails for beds — 2 readers"} {
		if !strings.Contains(stats.Text, want) {
			t.Errorf("stats lack %q:\n%s", want, stats.Text)
		}
	}
	re.slash(erin, announc, "stats 7d appointments")
	re.lastEphemeral(erin, "Measures, last 7 days* (`appointments`)")
	re.slash(erin, announc, "stats nosuch")
	re.lastEphemeral(erin, "There is no service called")

	api := &http.Client{Timeout: 10 * time.Second}
	req, _ := http.NewRequest(http.MethodGet, re.web.URL+"/api/stats?period=30d&service=bedroom", nil)
	resp, err := api.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("/api/stats without a token: %d", resp.StatusCode)
	}
	req.Header.Set("Authorization", "Bearer secret-token")
	resp, err = api.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	js := jsonOf(t, string(raw))
	if resp.StatusCode != http.StatusOK || js["majors"] != float64(1) || js["unique_readers"] != float64(2) || js["service"] != "bedroom" {
		t.Errorf("/api/stats: %d %s", resp.StatusCode, raw)
	}

	// App Home: alice's open action with its Done button, and the measures.
	if err := fs.OpenAppHome(ctx, alice); err != nil {
		t.Fatal(err)
	}
	re.waitFor("home with actions", func() bool {
		v, ok := fs.HomeView(alice)
		return ok && strings.Contains(v.AllText(), "Write the checkout runbook") && strings.Contains(v.AllText(), "Last 30 days") && len(v.Buttons()) > 0
	})
	if _, err := fs.ClickHomeButton(ctx, alice, "review_action_done", "1-2"); err != nil {
		t.Fatal(err)
	}
	re.waitFor("done from home", func() bool { rec, _ := re.record(1); return rec.Actions[1].Done() })
	re.waitFor("home refreshed", func() bool {
		v, _ := fs.HomeView(alice)
		return strings.Contains(v.AllText(), "No open improvement actions")
	})

	// Everything survives a restart.
	re.restartReview()
	rec, _ = re.record(1)
	if !rec.Published() || len(rec.Actions) != 2 || rec.ReaderCount() != 2 || len(rec.Accounts) != 1 {
		t.Errorf("after restart: published=%v actions=%d readers=%d accounts=%d", rec.Published(), len(rec.Actions), rec.ReaderCount(), len(rec.Accounts))
	}
	if late := fs.LateAcks(); len(late) != 0 {
		t.Errorf("late acks: %+v", late)
	}
}

// A section longer than one Slack input (7,000 characters) is split across
// parts in the edit modal and joined on submit: nothing is lost, and the
// extra part lets it grow.
func TestReviewLongSectionEdit(t *testing.T) {
	re := newReviewEnv(t, tuesdayNoon)
	fs := re.fs
	ctx := re.ctx()
	ch := re.resolvedMajor("Long narrative", nil)
	re.waitFor("draft", func() bool { rec, ok := re.record(1); return ok && rec.Status == incident.ReviewDrafted })

	var b strings.Builder
	for i := 0; b.Len() < 7000; i++ {
		fmt.Fprintf(&b, "Paragraph %03d: at 12:%02d the on-call engineer watched the queue depth grow while the index rebuilt.\n", i, i%60)
		if i%5 == 4 {
			b.WriteString("\n")
		}
	}
	long := strings.TrimSpace(b.String())[:7000]
	long = strings.TrimSpace(long) + " — ünïcödé ✅ end."
	if _, err := re.reviews().Update(ctx, 1, func(rec *reviewstore.Record, _ bool) error {
		return rec.SetSection(review.SectionNarrative, long)
	}); err != nil {
		t.Fatal(err)
	}

	re.slash(bob, ch, "review")
	eph := re.lastEphemeral(bob, "Review of #1")
	if _, err := fs.ClickButtonValue(ctx, bob, ch, eph.TS, "review_edit", "1:narrative"); err != nil {
		t.Fatal(err)
	}
	v := re.waitView(bob, "review_edit", nil)
	text := v.AllText()
	for _, want := range []string{"part 1 of 3", "part 2 of 3", "part 3 of 3"} {
		if !strings.Contains(text, want) {
			t.Errorf("modal lacks %q:\n%.600s", want, text)
		}
	}
	// Submitted unchanged (every part keeps its initial value).
	if _, err := fs.SubmitView(ctx, bob, v.ID, nil); err != nil {
		t.Fatal(err)
	}
	re.lastEphemeral(bob, "Saved *Narrative*")
	rec, _ := re.record(1)
	if rec.Sections[review.SectionNarrative] != long {
		t.Fatalf("text changed on a round trip through the modal: %d → %d characters", len(long), len(rec.Sections[review.SectionNarrative]))
	}

	// One long line without spaces (8,500 characters), then grow it through the extra part.
	blob := strings.Repeat("x", 8500)
	if _, err := re.reviews().Update(ctx, 1, func(rec *reviewstore.Record, _ bool) error {
		return rec.SetSection(review.SectionNarrative, blob)
	}); err != nil {
		t.Fatal(err)
	}
	re.slash(bob, ch, "review")
	eph = re.lastEphemeral(bob, "Review of #1")
	seen := map[string]bool{v.ID: true}
	if _, err := fs.ClickButtonValue(ctx, bob, ch, eph.TS, "review_edit", "1:narrative"); err != nil {
		t.Fatal(err)
	}
	v = re.waitView(bob, "review_edit", seen)
	if !strings.Contains(v.AllText(), "part 3 of 4") || !strings.Contains(v.AllText(), "part 4 (room to continue)") {
		t.Errorf("modal parts:\n%.600s", v.AllText())
	}
	if _, err := fs.SubmitView(ctx, bob, v.ID, map[string]map[string]string{"part_4": {"text": "Appended."}}); err != nil {
		t.Fatal(err)
	}
	re.waitFor("grown", func() bool {
		rec, _ := re.record(1)
		return rec.Sections[review.SectionNarrative] == blob+"\nAppended."
	})
}

// A security incident's review is private: publishing needs confirmation
// even without findings, the announcement has no details, the index does
// not list it and its page needs the token.
func TestReviewPrivateSecurityIncident(t *testing.T) {
	re := newReviewEnv(t, tuesdayNoon)
	fs := re.fs
	var pub string
	ch := re.resolvedMajor("Card data in logs", func(ch string) {
		pub = ch
		re.slash(bob, ch, "security")
		re.waitFor("security", func() bool { _, st := re.incident(1); return st.Security })
		re.waitFor("the move", func() bool { c, _ := re.fs.Channel(ch); return c.IsArchived })
	})
	if c, _ := fs.Channel(ch); ch == pub || !c.IsPrivate {
		t.Fatalf("the review was worked in channel %+v", c)
	}
	re.waitFor("draft", func() bool { rec, ok := re.record(1); return ok && rec.Status == incident.ReviewDrafted && rec.Private })
	re.slash(carol, ch, "publish")
	check := re.lastEphemeral(carol, "security incident")
	if !strings.Contains(check.AllText(), "Publish anyway") {
		t.Errorf("no confirmation asked:\n%s", check.AllText())
	}
	time.Sleep(150 * time.Millisecond)
	if rec, _ := re.record(1); rec.Published() {
		t.Fatal("a private review was published without confirmation")
	}
	re.slash(carol, ch, "publish confirm")
	re.waitFor("published", func() bool { rec, _ := re.record(1); return rec.Published() })
	ann := re.botMessage(announc, "review of security incident #1 is published")
	if strings.Contains(ann.Text, "Card data") || strings.Contains(ann.Text, "/reviews/") {
		t.Errorf("the announcement leaks: %s", ann.Text)
	}
	// The link, the only key to the private review, is posted in the
	// private channel only, and expires.
	link := re.botMessage(ch, "review of this incident is published")
	token := previewToken(t, link.Text)
	for _, c := range fs.Channels() {
		for _, m := range c.Messages {
			if strings.Contains(m.AllText(), "preview=") && (!c.IsPrivate && !c.IsIM) {
				t.Errorf("a preview link in public channel #%s: %s", c.Name, m.Text)
			}
		}
	}
	web := newBrowserClient(t)
	if code, _, _ := re.get(web, "/reviews/1"); code != http.StatusNotFound {
		t.Errorf("private review public: %d", code)
	}
	if code, _, _ := re.get(web, "/reviews/1.md"); code != http.StatusNotFound {
		t.Errorf("private review markdown public: %d", code)
	}
	code, body, _ := re.get(web, "/reviews/1?preview="+token)
	if code != http.StatusOK || !strings.Contains(body, "Private: a security incident") {
		t.Errorf("with the token: %d", code)
	}
	re.clock.Advance(bot.DefaultPreviewTTL)
	if code, _, _ := re.get(web, "/reviews/1?preview="+token); code != http.StatusNotFound {
		t.Errorf("with the token after %v: %d", bot.DefaultPreviewTTL, code)
	}
	re.slash(carol, ch, "review")
	fresh := previewToken(t, re.lastEphemeral(carol, "Read it").AllText())
	if code, _, _ := re.get(web, "/reviews/1?preview="+fresh); code != http.StatusOK || fresh == token {
		t.Errorf("a fresh link from /incident review: %d", code)
	}
	if _, index, _ := re.get(web, "/reviews/"); strings.Contains(index, "Card data") {
		t.Errorf("the index lists a private review")
	}
	// Other people see its actions without text.
	re.slash(bob, ch, "action Rotate the leaked keys")
	re.botMessage(ch, "Improvement action *1-1*")
	re.slash(dave, announc, "actions")
	list := re.lastEphemeral(dave, "Open improvement actions")
	if strings.Contains(list.Text, "Rotate") || !strings.Contains(list.Text, "🔒") {
		t.Errorf("actions list leaks a security action:\n%s", list.Text)
	}
	re.slash(carol, announc, "actions")
	if l := re.lastEphemeral(carol, "Open improvement actions"); !strings.Contains(l.Text, "Rotate the leaked keys") {
		t.Errorf("incident managers see the text:\n%s", l.Text)
	}
	_ = fs
}

// /incident review before resolution explains; commands outside a channel
// are refused at once; a bad period is a usage message.
func TestReviewCommandsBeforeResolution(t *testing.T) {
	re := newReviewEnv(t, tuesdayNoon)
	re.slash(dave, announc, "declare bedroom Still burning")
	ch := re.channelOf(1).ID
	re.slash(alice, ch, "review")
	re.lastEphemeral(alice, "still open")
	ack := re.slash(alice, announc, "publish")
	if !strings.Contains(string(ack.Payload), "works inside an incident channel") {
		t.Errorf("publish outside a channel: %s", ack.Payload)
	}
	re.slash(alice, announc, "stats 0d")
	re.lastEphemeral(alice, "A period is a number of days")
	re.slash(alice, ch, "publish")
	re.lastEphemeral(alice, "still open")
	if _, ok := re.record(1); ok {
		if rec, _ := re.record(1); rec.Status != incident.ReviewNone {
			t.Errorf("a review was drafted for an open incident")
		}
	}
}

// Slack failing half-way (posts applied but answered internal_error, a DM
// that cannot be opened) while the review is drafted: the job is retried,
// and nobody is asked twice, nothing is recorded twice.
func TestReviewDraftSurvivesSlackFailures(t *testing.T) {
	re := newReviewEnv(t, tuesdayNoon)
	fs := re.fs
	ch := re.resolvedMajor("Flaky Slack", func(string) {
		fs.FailNext("conversations.open", "internal_error", false)
		for i := 0; i < 3; i++ {
			fs.FailNext("chat.postMessage", "internal_error", true)
		}
	})
	for _, u := range []string{dave, alice, bob} {
		re.waitFor("account asked of "+u, func() bool {
			re.clock.Advance(2 * time.Second) // past the retry backoff
			re.inst.Runner.Wake()
			return re.dmCount(u, "Add my account") >= 1
		})
	}
	re.botMessage(ch, "blameless review of *#1")
	// Restarting and asking for the review again asks nobody again.
	re.restartReview()
	re.slash(bob, ch, "review")
	re.lastEphemeral(bob, "Review of #1")
	time.Sleep(300 * time.Millisecond)
	for _, u := range []string{dave, alice, bob} {
		if n := re.dmCount(u, "Add my account"); n != 1 {
			t.Errorf("%s asked %d times", u, n)
		}
	}
	if n := re.countBotText(ch, "blameless review of *#1"); n != 1 {
		t.Errorf("drafted message posted %d times", n)
	}
	if n := re.countEvents(1, incident.EventReviewDrafted); n != 1 {
		t.Errorf("review_drafted events = %d", n)
	}
}
