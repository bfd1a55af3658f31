package sandbox_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/incidentbot/incidentbot/bot"
	"github.com/incidentbot/incidentbot/incident"
	"github.com/incidentbot/incidentbot/internal/sandbox"
)

const (
	riley  = sandbox.ResponderID
	morgan = sandbox.ManagerID
)

func form(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return v
}

func TestPageShowsWorkspace(t *testing.T) {
	s := startStack(t)
	code, body := s.get("/sandbox")
	if code != http.StatusOK {
		t.Fatalf("GET /sandbox: %d", code)
	}
	for _, want := range []string{
		"Riley Responder — on-call responder, every team", "Morgan Manager — incident manager", "Taylor (platform-team) — team member, platform-team",
		`data-channel-name="incidents"`, `data-channel-name="general"`,
		`data-alert-service="bedroom"`, "$200,000/h · 99.0%", `data-alert-service="ecommerce-platform"`, "$810,000/h · 99.9%",
		`action="/sandbox/send"`, "Message #incidents",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	// The trailing-slash form and an unknown user fall back to the first user.
	if code, body := s.get("/sandbox/?user=UNOBODY"); code != http.StatusOK || !strings.Contains(body, `data-user="`+riley+`"`) {
		t.Errorf("GET /sandbox/?user=UNOBODY: %d", code)
	}
}

// TestTourOverHTTP walks the tour of the browser test through the
// endpoints the page's forms post to.
func TestTourOverHTTP(t *testing.T) {
	s := startStack(t)

	r := s.mustPost("/sandbox/alert", form("user", riley, "service", "bedroom"))
	if r.Incident != 1 || !strings.Contains(r.Message, "incident #1 opened") {
		t.Fatalf("alert: %+v", r)
	}
	ch := s.incidentChannel(1)
	inc, err := s.desk.Get(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if inc.Service.Name != "bedroom" || inc.Title != "Slow responses from bedroom" && inc.Title != "High error rate on bedroom" && inc.Title != "bedroom pods are crash-looping" {
		t.Errorf("incident: service %q title %q", inc.Service.Name, inc.Title)
	}
	st := s.state(riley, ch.ID, "")
	for _, want := range []string{`data-pinned="true"`, "📌 Pinned", `data-action-id="take_command"`, `data-action-id="set_impact"`, "Take command", "Loss rate"} {
		if !strings.Contains(st.Main, want) {
			t.Errorf("channel view lacks %q:\n%s", want, st.Main)
		}
	}
	if !strings.Contains(st.Sidebar, ch.Name) {
		t.Errorf("sidebar lacks %s", ch.Name)
	}
	// The responder was called out into the channel.
	s.waitFor("responder invited", func() bool {
		for _, m := range s.fs.Members(ch.ID) {
			if m == riley {
				return true
			}
		}
		return false
	})

	card := s.card(ch.ID)
	s.mustPost("/sandbox/click", form("user", riley, "channel", ch.ID, "ts", card.TS, "action_id", bot.ActTakeCommand, "value", "take"))
	s.waitFor("commander", func() bool { return strings.Contains(s.card(ch.ID).AllText(), "<@"+riley+">") })
	if st := s.state(riley, ch.ID, ""); !strings.Contains(st.Main, "@riley") {
		t.Errorf("the commander is not shown as @riley")
	}

	// The impact select of the card.
	s.mustPost("/sandbox/select", form("user", riley, "channel", ch.ID, "ts", card.TS, "block_id", "card_actions", "action_id", bot.ActImpact, "value", "degraded"))
	s.waitFor("degraded", func() bool { return strings.Contains(s.card(ch.ID).AllText(), "$100,000/h") })

	// A slash command typed in the composer.
	s.mustPost("/sandbox/send", form("user", riley, "channel", ch.ID, "text", "/incident impact blocked"))
	s.waitFor("Major at $200,000/h", func() bool {
		c := s.card(ch.ID).AllText()
		return strings.Contains(c, "Major") && strings.Contains(c, "$200,000/h")
	})
	st = s.state(riley, ch.ID, "")
	if !strings.Contains(st.Main, "<b>Major</b>") || !strings.Contains(st.Main, "$200,000/h") {
		t.Errorf("rendered card lacks Major or the loss rate:\n%s", st.Main)
	}

	// The incident manager is told by DM; the DM is listed and shown, and
	// takes slash commands, whose ephemeral answers only they see.
	var dm string
	s.waitFor("the manager's DM", func() bool {
		var ok bool
		dm, ok = s.fs.DMChannel(morgan)
		return ok && len(s.fs.DMs(morgan)) > 0
	})
	st = s.state(morgan, dm, "")
	if st.Channel != dm || !strings.Contains(st.Sidebar, `data-channel-id="`+dm+`"`) || !strings.Contains(st.Main, "Major incident #1") {
		t.Errorf("DM view: channel %q\n%s", st.Channel, st.Main)
	}
	s.mustPost("/sandbox/send", form("user", morgan, "channel", dm, "text", "/incident list"))
	s.waitFor("the list, ephemeral", func() bool { return strings.Contains(s.state(morgan, dm, "").Main, "Only visible to you") })
	if st := s.state(riley, dm, ""); st.Channel == dm || strings.Contains(st.Main, "Only visible to you") {
		t.Errorf("someone else's DM or ephemeral shown to riley")
	}
	if r := s.post("/sandbox/send", form("user", riley, "channel", dm, "text", "hi")); r.Status != http.StatusBadRequest {
		t.Errorf("riley posted into morgan's DM: %+v", r)
	}

	// A plain message from someone not yet in the channel joins it first.
	s.mustPost("/sandbox/send", form("user", morgan, "channel", ch.ID, "text", "I'm here, <!channel> & co"))
	s.waitFor("message recorded", func() bool {
		for _, m := range s.fs.Messages(ch.ID) {
			if m.User == morgan && strings.Contains(m.Text, "I'm here") {
				return true
			}
		}
		return false
	})

	// Resolve through the button and its modal.
	s.mustPost("/sandbox/click", form("user", riley, "channel", ch.ID, "ts", card.TS, "action_id", bot.ActResolve))
	s.waitFor("resolve modal", func() bool { return len(s.fs.OpenViews(riley)) == 1 })
	st = s.state(riley, ch.ID, "")
	if !strings.Contains(st.Modal, "Resolve incident") || !strings.Contains(st.Modal, "<textarea") || st.ModalKey == "" {
		t.Fatalf("modal not rendered as a form:\n%s", st.Modal)
	}
	view := s.fs.OpenViews(riley)[0]
	s.mustPost("/sandbox/submit", form("user", riley, "view", view.ID, "b.0", "text", "a.0", "text", "t.0", "plain_text_input", "v.0", "rolled back the release"))
	s.waitFor("resolved", func() bool {
		_, st := s.incident(1)
		return st.Status == incident.StatusResolved
	})
	s.waitFor("card resolved", func() bool { return strings.Contains(s.card(ch.ID).AllText(), "resolved") })
	if st := s.state(riley, ch.ID, ""); st.Modal != "" || strings.Contains(st.Main, `data-action-id="take_command"`) {
		t.Errorf("after resolving: modal %q, buttons still shown", st.Modal)
	}
}

func (s *stack) incident(n int64) (*incident.Incident, incident.State) {
	s.t.Helper()
	inc, err := s.desk.Get(context.Background(), n)
	if err != nil {
		s.t.Fatal(err)
	}
	return inc, s.desk.State(inc)
}

func TestDeclareModalAndHome(t *testing.T) {
	s := startStack(t)
	ann, _ := s.fs.Channel(sandbox.AnnounceChannel)

	// A bare /incident opens the declare modal.
	s.mustPost("/sandbox/send", form("user", morgan, "channel", ann.ID, "text", "/incident"))
	s.waitFor("declare modal", func() bool { return len(s.fs.OpenViews(morgan)) == 1 })
	st := s.state(morgan, ann.ID, "")
	for _, want := range []string{"Declare an incident", `<select id="in-0" name="v.0" required>`, `value="bedroom"`, `type="checkbox"`, "(optional)", "Declare", "Cancel"} {
		if !strings.Contains(st.Modal, want) {
			t.Errorf("declare modal lacks %q:\n%s", want, st.Modal)
		}
	}
	view := s.fs.OpenViews(morgan)[0]
	fields := func(title string) url.Values {
		return form("user", morgan, "channel", ann.ID, "view", view.ID,
			"b.0", "service", "a.0", "service", "t.0", "static_select", "v.0", "appointments",
			"b.1", "title", "a.1", "title", "t.1", "plain_text_input", "v.1", title,
			"b.2", "impact", "a.2", "impact", "t.2", "static_select", "v.2", "partial",
			"b.3", "security", "a.3", "security", "t.3", "checkboxes",
			"b.4", "description", "a.4", "description", "t.4", "plain_text_input", "v.4", "")
	}
	// The bot's validation errors come back, and the modal stays open.
	r := s.post("/sandbox/submit", fields("   "))
	if r.Status != http.StatusUnprocessableEntity || r.Errors["title"] == "" {
		t.Fatalf("submitting a blank title: %+v", r)
	}
	if len(s.fs.OpenViews(morgan)) != 1 {
		t.Fatalf("the modal closed on errors")
	}
	s.mustPost("/sandbox/submit", fields("Booking page down"))
	ch := s.incidentChannel(1)
	if !strings.HasPrefix(ch.Name, "inc-1-booking-page-down") {
		t.Errorf("channel %q", ch.Name)
	}

	// The App Home: viewing it sends app_home_opened; the bot publishes it.
	code, _ := s.get("/sandbox/home?user=" + morgan)
	if code != http.StatusOK {
		t.Fatalf("GET /sandbox/home: %d", code)
	}
	s.waitFor("home published", func() bool { _, ok := s.fs.HomeView(morgan); return ok })
	st = s.state(morgan, "", "home")
	for _, want := range []string{"Open incidents", "Booking page down", "data-home-view="} {
		if !strings.Contains(st.Main, want) {
			t.Errorf("home lacks %q:\n%s", want, st.Main)
		}
	}
	if st.Tab != "home" || !strings.Contains(st.Sidebar, `class="chan home sel"`) {
		t.Errorf("home tab not selected in the sidebar")
	}
	// POST /home works too.
	s.mustPost("/sandbox/home", form("user", morgan))
}

func TestActionsRefuseBadRequests(t *testing.T) {
	s := startStack(t)
	ann, _ := s.fs.Channel(sandbox.AnnounceChannel)
	for _, tc := range []struct {
		name, path string
		form       url.Values
		status     int
		errPart    string
	}{
		{"unknown user", "/sandbox/send", form("user", "UNOBODY", "channel", ann.ID, "text", "hi"), 400, "unknown sandbox user"},
		{"the bot", "/sandbox/send", form("user", sandbox.BotUserID, "channel", ann.ID, "text", "hi"), 400, "unknown sandbox user"},
		{"empty text", "/sandbox/send", form("user", riley, "channel", ann.ID, "text", " "), 400, "type a message"},
		{"other command", "/sandbox/send", form("user", riley, "channel", ann.ID, "text", "/giphy cats"), 400, "not a command"},
		{"unknown channel", "/sandbox/send", form("user", riley, "channel", "CNOPE", "text", "hi"), 400, "no channel"},
		{"no button", "/sandbox/click", form("user", riley, "channel", ann.ID, "ts", "1.000001", "action_id", "x"), 400, "no message"},
		{"no modal", "/sandbox/submit", form("user", riley, "view", "VNOPE"), 400, "not the open modal"},
		{"no option", "/sandbox/select", form("user", riley, "channel", ann.ID, "ts", "1.1", "action_id", "x"), 400, "choose an option"},
		{"no service", "/sandbox/alert", form("user", riley), 400, "which service"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := s.post(tc.path, tc.form)
			if r.Status != tc.status || r.OK || !strings.Contains(r.Error, tc.errPart) {
				t.Errorf("got %d %+v, want %d with %q", r.Status, r, tc.status, tc.errPart)
			}
		})
	}
	if n := len(s.fs.Messages(ann.ID)); n != 0 {
		t.Errorf("bad requests posted %d messages", n)
	}

	// Cross-site posts are refused.
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/sandbox/send", strings.NewReader(form("user", riley, "channel", ann.ID, "text", "hi").Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://evil.example")
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || !strings.Contains(resp.Header.Get("Location"), "error=cross-site") {
		t.Errorf("cross-site post: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}

	// Without JavaScript, a form post redirects back to the page.
	resp, err = client.PostForm(s.URL+"/sandbox/send", form("user", riley, "channel", ann.ID, "text", "hello from a form"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/sandbox?") || !strings.Contains(loc, "channel="+ann.ID) {
		t.Errorf("form post: %d %q", resp.StatusCode, loc)
	}
	s.waitFor("message", func() bool { return len(s.fs.Messages(ann.ID)) == 1 })
}

func TestAlertWebhookFailureIsReported(t *testing.T) {
	s := startStack(t)
	mux := http.NewServeMux()
	broken := sandbox.New(s.fs, sandbox.Options{Prefix: "/broken", AlertWebhookURL: s.URL + "/nowhere"})
	broken.Routes(mux)
	none := sandbox.New(s.fs, sandbox.Options{Prefix: "/none"})
	none.Routes(mux)
	for _, p := range []string{"/broken", "/none"} {
		req, _ := http.NewRequest(http.MethodPost, p+"/alert", strings.NewReader(form("user", riley, "service", "bedroom").Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Accept", "application/json")
		rec := newRecorder()
		mux.ServeHTTP(rec, req)
		if rec.Code != http.StatusBadGateway || !strings.Contains(rec.Body.String(), "webhook") {
			t.Errorf("%s/alert: %d %s", p, rec.Code, rec.Body)
		}
	}
}

func newRecorder() *httptest.ResponseRecorder { return httptest.NewRecorder() }

// Alerts of two services that share the sandbox's dependency join one
// incident, priced across both: the card lists them.
func TestRelatedAlertsInTheSandbox(t *testing.T) {
	s := startStack(t)
	if r := s.mustPost("/sandbox/alert", form("user", riley, "service", "bedroom")); r.Incident != 1 {
		t.Fatalf("alert: %+v", r)
	}
	ch := s.incidentChannel(1)
	if r := s.mustPost("/sandbox/alert", form("user", riley, "service", "ecommerce-platform")); r.Incident != 1 {
		t.Fatalf("a related alert opened %+v, want it on #1", r)
	}
	s.waitFor("card lists both services", func() bool {
		c := s.card(ch.ID).AllText()
		return strings.Contains(c, "`bedroom` (bedroom-team)") && strings.Contains(c, "`ecommerce-platform` (platform-team)")
	})
	if st := s.state(riley, ch.ID, ""); !strings.Contains(st.Sidebar, "depends on "+sandbox.SharedDependency) {
		t.Errorf("the sidebar does not show the dependency")
	}
}
