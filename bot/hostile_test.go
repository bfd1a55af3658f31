package bot_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/incident"
	"github.com/incidentbot/incidentbot/incident/alertmanager"
	"github.com/incidentbot/incidentbot/incident/pagerduty"
	"github.com/incidentbot/incidentbot/internal/fakeslack"
)

// hostile is text from alerts and people that tries every Slack control
// sequence: broadcasts, a user group, mentions of people and channels that
// are not in the conversation, and a link that lies about where it goes.
const hostile = "<!channel> <!here> <!everyone> <!subteam^S0EVIL|@oncall> <@UEVIL0001> <#CEVIL0001> <https://evil.example/x|runbook> & more"

// Every text the bot sends to Slack during a hostile-input scenario
// (messages, blocks, topics, modals, App Home, bookmarks, ephemerals,
// response_url replies) is scanned for a Slack control sequence the bot
// did not write itself: the unmapped service names of an Alertmanager
// label and of a PagerDuty service summary go into the channel topic too.
func TestHostileInputNeverReachesSlackUnescaped(t *testing.T) {
	var rec *apiRecorder
	re := newReviewEnvWith(t, tuesdayNoon, func(e *env) {
		rec = newAPIRecorder(t, e.fs)
		e.api = rec.apiURL
	})
	fs := re.fs

	// An Alertmanager group whose service label is not in the catalogue.
	am := alertmanager.Handler(re.inst.Desk, alertmanager.Options{})
	serve(t, am, "/webhooks/alertmanager", amNotification(re.clock.Now()), nil)
	// A PagerDuty incident on a service the catalogue does not map.
	const secret = "whsec-hostile"
	pd := pagerduty.WebhookHandler(re.inst.Desk, re.inst.Store, pagerduty.Options{Secret: secret})
	body := pdTriggered(re.clock.Now())
	serve(t, pd, pagerduty.WebhookPath, body, map[string]string{"X-PagerDuty-Signature": pdSign(body, secret), "X-Webhook-Id": "WHOSTILE1"})
	re.waitFor("both alert incidents have channels", func() bool {
		return len(fs.Pins(re.channelOf(1).ID)) > 0 && len(fs.Pins(re.channelOf(2).ID)) > 0
	})

	// People type it too, through every path that echoes their words.
	re.slash(dave, announc, "declare "+hostile) // no such service: the refusal quotes it
	re.lastEphemeral(dave, "There is no service called")
	re.slash(dave, announc, "declare bedroom "+hostile)
	ch := re.channelOf(3).ID
	re.waitMember(alice, ch)
	for _, c := range []string{"impact blocked", "note " + hostile, "update " + hostile, "cost 10 " + hostile,
		"commander me", "action " + hostile, "status", "nonsense " + hostile, "impact partial " + hostile, "cost " + hostile,
		"commander " + hostile} {
		re.slash(alice, ch, c)
	}
	re.waitFor("the update announced", func() bool {
		return re.countBotText(announc, "Stakeholder update") > 0 || re.countBotText(announc, "Update on") > 0
	})
	re.slash(alice, ch, "resolve "+hostile)
	re.waitFor("review drafted", func() bool { r, ok := re.record(3); return ok && r.Status == incident.ReviewDrafted })
	re.slash(alice, ch, "review")
	re.lastEphemeral(alice, "Review of #3")
	re.slash(carol, ch, "publish confirm")
	re.waitFor("published", func() bool { r, _ := re.record(3); return r.Published() })
	if err := fs.OpenAppHome(re.ctx(), alice); err != nil {
		t.Fatal(err)
	}
	re.waitFor("App Home", func() bool { _, ok := fs.HomeView(alice); return ok })
	re.slash(alice, announc, "list")
	re.slash(alice, announc, "")
	re.waitView(alice, "declare", nil)
	re.waitFor("topics set", func() bool {
		return strings.Contains(fs.Topic(re.channelOf(1).ID), "Minor") && strings.Contains(fs.Topic(re.channelOf(2).ID), "Minor")
	})

	links := []string{re.web.URL}
	for _, svc := range re.cat.Services {
		links = append(links, svc.Runbook)
	}
	known := knownRefs(fs, links...)
	texts := append(rec.texts(t), slackReplies(fs)...)
	scanned := 0
	for _, s := range texts {
		scanned++
		for _, bad := range unescaped(s.text, known) {
			t.Errorf("%s sent %q unescaped in:\n%s", s.where, bad, s.text)
		}
	}
	for _, need := range []string{"conversations.setTopic", "chat.postMessage", "chat.update", "views.publish", "views.open", "bookmarks.add"} {
		if !rec.called(need) {
			t.Errorf("the scenario never called %s: the scan did not cover it", need)
		}
	}
	if !strings.Contains(fs.Topic(re.channelOf(1).ID), "&lt;!channel&gt;") {
		t.Errorf("topic of the Alertmanager incident: %q", fs.Topic(re.channelOf(1).ID))
	}
	t.Logf("scanned %d texts", scanned)
}

func amNotification(now time.Time) []byte {
	labels := map[string]string{"alertname": "HighErrorRate " + hostile, "service": hostile + " svc"}
	n := map[string]any{
		"version": "4", "groupKey": `{}:{alertname="HighErrorRate"}`, "status": "firing", "receiver": "incidentbot",
		"groupLabels": labels, "commonLabels": labels,
		"commonAnnotations": map[string]string{"summary": "Errors " + hostile},
		"externalURL":       "http://alertmanager.example",
		"alerts": []map[string]any{{
			"status": "firing", "labels": labels, "annotations": map[string]string{"summary": "Errors " + hostile, "description": hostile},
			"startsAt": now.UTC().Add(-time.Minute).Format(time.RFC3339), "endsAt": "0001-01-01T00:00:00Z",
			"generatorURL": "http://prometheus.example/graph", "fingerprint": "f00dfeed",
		}},
	}
	b, _ := json.Marshal(n)
	return b
}

func pdTriggered(now time.Time) []byte {
	data := map[string]any{
		"id": "PHOSTILE", "type": "incident", "number": 7, "title": "Checkout " + hostile, "status": "triggered",
		"incident_key": "hostile", "html_url": "https://acme.pagerduty.com/incidents/PHOSTILE",
		"created_at": now.UTC().Add(-time.Minute).Format(time.RFC3339), "urgency": "high",
		"service":           map[string]any{"id": "PUNKNOWN", "type": "service_reference", "summary": hostile + " pd"},
		"escalation_policy": map[string]any{"id": "PNOPE", "type": "escalation_policy_reference", "summary": hostile},
		"priority":          map[string]any{"id": "PP1", "summary": hostile},
	}
	ev := map[string]any{"event": map[string]any{
		"id": "01HOSTILE0001", "event_type": "incident.triggered", "resource_type": "incident",
		"occurred_at": now.UTC().Format(time.RFC3339Nano),
		"agent":       map[string]any{"id": "PAGENT", "type": "user_reference", "summary": hostile},
		"data":        data,
	}}
	b, _ := json.Marshal(ev)
	return b
}

func pdSign(body []byte, secret string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "v1=" + hex.EncodeToString(m.Sum(nil))
}

// serve posts body to h as JSON and expects a 2xx.
func serve(t *testing.T, h http.Handler, target string, body []byte, headers map[string]string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, target, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code/100 != 2 {
		t.Fatalf("%s: %d %s", target, w.Code, w.Body)
	}
}

// apiRecorder sits between the bot and the fake's Web API and keeps every
// request body.
type apiRecorder struct {
	apiURL string
	mu     sync.Mutex
	calls  []recordedCall
}

type recordedCall struct {
	method, contentType string
	body                []byte
}

func newAPIRecorder(t *testing.T, fs *fakeslack.Server) *apiRecorder {
	r := &apiRecorder{}
	h := fs.Handler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(body))
		r.mu.Lock()
		r.calls = append(r.calls, recordedCall{method: path.Base(req.URL.Path), contentType: req.Header.Get("Content-Type"), body: body})
		r.mu.Unlock()
		h.ServeHTTP(w, req)
	}))
	t.Cleanup(srv.Close)
	r.apiURL = srv.URL + strings.TrimPrefix(fs.APIURL(), fs.BaseURL())
	return r
}

func (r *apiRecorder) called(method string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.calls {
		if c.method == method {
			return true
		}
	}
	return false
}

type sentText struct{ where, text string }

// renderedKeys are the fields Slack renders as text (mrkdwn, topics and
// bookmark titles); plain_text objects and input values are not parsed.
var renderedKeys = map[string]bool{"text": true, "topic": true, "title": true, "purpose": true, "fallback": true, "pretext": true, "footer": true}

// texts returns every rendered text of every request the bot made.
func (r *apiRecorder) texts(t *testing.T) []sentText {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []sentText
	for _, c := range r.calls {
		if len(bytes.TrimSpace(c.body)) == 0 {
			continue
		}
		if strings.HasPrefix(c.contentType, "application/json") {
			var v any
			if err := json.Unmarshal(c.body, &v); err != nil {
				t.Fatalf("%s: %v", c.method, err)
			}
			walkTexts(c.method, "", v, &out)
			continue
		}
		form, err := url.ParseQuery(string(c.body))
		if err != nil {
			t.Fatalf("%s: %v", c.method, err)
		}
		for k, vs := range form {
			for _, s := range vs {
				var v any
				if t := strings.TrimSpace(s); (strings.HasPrefix(t, "{") || strings.HasPrefix(t, "[")) && json.Unmarshal([]byte(t), &v) == nil {
					walkTexts(c.method+" "+k, "", v, &out)
				} else if renderedKeys[k] {
					out = append(out, sentText{c.method + " " + k, s})
				}
			}
		}
	}
	return out
}

func walkTexts(where, key string, v any, out *[]sentText) {
	switch x := v.(type) {
	case map[string]any:
		if x["type"] == "plain_text" {
			return
		}
		for k, v := range x {
			if k != "initial_value" && k != "value" && k != "private_metadata" {
				walkTexts(where, k, v, out)
			}
		}
	case []any:
		for _, v := range x {
			walkTexts(where, key, v, out)
		}
	case string:
		if renderedKeys[key] {
			*out = append(*out, sentText{where + " " + key, x})
		}
	}
}

// slackReplies are the texts the bot sent another way: slash-command ack
// payloads and response_url posts.
func slackReplies(fs *fakeslack.Server) []sentText {
	var out []sentText
	for _, u := range []string{alice, bob, carol, dave} {
		for _, e := range fs.Ephemerals(u) {
			if e.Source == "ack" {
				out = append(out, sentText{"ack to " + u, e.Text})
				var v any
				if json.Unmarshal(e.Blocks, &v) == nil {
					walkTexts("ack blocks to "+u, "", v, &out)
				}
			}
		}
	}
	for _, p := range fs.ResponseURLPosts() {
		var v any
		if json.Unmarshal(p.Body, &v) == nil {
			walkTexts("response_url", "", v, &out)
		}
	}
	return out
}

// refs are what the bot may legitimately write between < and >.
type refs struct {
	users, channels map[string]bool
	links           []string // URL prefixes
}

func knownRefs(fs *fakeslack.Server, links ...string) refs {
	r := refs{users: map[string]bool{fs.BotUserID(): true}, channels: map[string]bool{}}
	for _, u := range fs.Users() {
		r.users[u.ID] = true
	}
	for _, c := range fs.Channels() {
		r.channels[c.ID] = true
	}
	for _, l := range links {
		if l != "" {
			r.links = append(r.links, l)
		}
	}
	return r
}

var controlRE = regexp.MustCompile(`<[^<>]*>`)

// unescaped returns the control sequences in s that the bot did not write
// itself: every broadcast and user group, mentions of unknown people and
// channels, and links anywhere but the bot's own pages and runbooks.
func unescaped(s string, known refs) []string {
	var bad []string
	for _, seq := range controlRE.FindAllString(s, -1) {
		inner := strings.TrimSuffix(strings.TrimPrefix(seq, "<"), ">")
		target, _, _ := strings.Cut(inner, "|")
		ok := false
		switch {
		case strings.HasPrefix(target, "@"):
			ok = known.users[target[1:]]
		case strings.HasPrefix(target, "#"):
			ok = known.channels[target[1:]]
		case strings.HasPrefix(target, "!date^"):
			ok = true
		default:
			for _, l := range known.links {
				ok = ok || strings.HasPrefix(target, l)
			}
		}
		if !ok {
			bad = append(bad, seq)
		}
	}
	return bad
}
