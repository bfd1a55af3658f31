package sandbox

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"
)

func testNames() *names {
	return &names{
		users:    map[string]string{"U0SANDRESP": "riley", "U0SANDIMGR": "morgan"},
		channels: map[string]string{"C123": "inc-1-beds"},
		loc:      time.UTC,
	}
}

func TestMrkdwn(t *testing.T) {
	n := testNames()
	for _, tc := range []struct{ in, want string }{
		{"plain text", "plain text"},
		{"*bold* and _italic_ and ~gone~", "<b>bold</b> and <i>italic</i> and <s>gone</s>"},
		{"🔴 *Major* — restore", "🔴 <b>Major</b> — restore"},
		{"*Impact*\nblocked (100%)", "<b>Impact</b>\nblocked (100%)"},
		{"`bedroom` · team", "<code>bedroom</code> · team"},
		{"`<b>not bold</b>`", "<code>&lt;b&gt;not bold&lt;/b&gt;</code>"},
		{"snake_case_name and 2*3*4", "snake_case_name and 2*3*4"},
		{"* not bold *", "* not bold *"},
		{"*unclosed", "*unclosed"},
		{"*bold _both_*", "<b>bold <i>both</i></b>"},
		{"<@U0SANDRESP> took it", `<span class="bk-mention">@riley</span> took it`},
		{"<@UOTHER|someone>", `<span class="bk-mention">@someone</span>`},
		{"<@UOTHER>", `<span class="bk-mention">@UOTHER</span>`},
		{"join <#C123>", `join <span class="bk-mention">#inc-1-beds</span>`},
		{"join <#C999|elsewhere>", `join <span class="bk-mention">#elsewhere</span>`},
		{"<!here> look", `<span class="bk-mention">@here</span> look`},
		{"<https://example.com/a?b=1&amp;c=2|the runbook>", `<a href="https://example.com/a?b=1&amp;c=2" target="_blank" rel="noopener noreferrer">the runbook</a>`},
		{"<https://example.com>", `<a href="https://example.com" target="_blank" rel="noopener noreferrer">https://example.com</a>`},
		{"<javascript:alert(1)|click me>", "click me"},
		{`<https://x.example/"onmouseover="alert(1)|x>`, `<a href="https://x.example/%22onmouseover=%22alert%281%29" target="_blank" rel="noopener noreferrer">x</a>`},
		{"a &lt;script&gt;alert(1)&lt;/script&gt; &amp; more", "a &lt;script&gt;alert(1)&lt;/script&gt; &amp; more"},
		{"raw <script>alert(1)</script>", "raw scriptalert(1)/script"}, // Slack would have escaped a literal <
		{`quotes " and ' stay text`, "quotes &#34; and &#39; stay text"},
		{"<!date^1763467200^{date_short_pretty} {time}|fallback>", "18 Nov 2025 12:00"},
		{"<!date^bad^{time}|fallback>", "fallback"},
		{"first\n>quoted *bold*\n>more\nafter", "first<blockquote class=\"bk-quote\">quoted <b>bold</b>\nmore</blockquote>after"},
		{"```\ncode *x*\n```\nafter", "<pre class=\"bk-pre\">code *x*</pre>after"},
		{":white_check_mark: done :unknown_emoji:", "✅ done :unknown_emoji:"},
	} {
		if got := string(n.mrkdwn(tc.in)); got != tc.want {
			t.Errorf("mrkdwn(%q)\n got %q\nwant %q", tc.in, got, tc.want)
		}
	}
}

// render executes a template on blocks in a scope.
func render(t *testing.T, raw string, s *scope, errs map[string]string) string {
	t.Helper()
	r := &blockRenderer{names: testNames(), errors: errs, users: []optVM{{Value: "U0SANDRESP", Text: "Riley"}}}
	var b strings.Builder
	if err := pageTemplate.ExecuteTemplate(&b, "blocks", r.blocks(json.RawMessage(raw), s)); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestRenderMessageBlocks(t *testing.T) {
	// Blocks built with slack-go as the bot builds its card.
	blocks := []slack.Block{
		slack.NewHeaderBlock(slack.NewTextBlockObject(slack.PlainTextType, "#1 Beds <b>fail</b>", false, false)),
		slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, "🔴 *Major* — restore availability immediately", false, false), nil, nil),
		slack.NewSectionBlock(nil, []*slack.TextBlockObject{
			slack.NewTextBlockObject(slack.MarkdownType, "*Loss rate*\n$200,000/h", false, false),
			slack.NewTextBlockObject(slack.MarkdownType, "*Commander*\n<@U0SANDRESP>", false, false),
		}, slack.NewAccessory(slack.NewButtonBlockElement("acc", "v1", slack.NewTextBlockObject(slack.PlainTextType, "Accessory", false, false)))),
		slack.NewContextBlock("ctx", slack.NewTextBlockObject(slack.MarkdownType, "updated _now_", false, false)),
		slack.NewDividerBlock(),
		slack.NewActionBlock("card_actions",
			slack.NewButtonBlockElement("take_command", "take", slack.NewTextBlockObject(slack.PlainTextType, "Take command", false, false)),
			slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, slack.NewTextBlockObject(slack.PlainTextType, "Change impact", false, false), "set_impact",
				slack.NewOptionBlockObject("blocked", slack.NewTextBlockObject(slack.PlainTextType, "Blocked", false, false), nil),
				slack.NewOptionBlockObject(`x"><script>`, slack.NewTextBlockObject(slack.PlainTextType, "<i>evil</i>", false, false), nil)),
			slack.NewButtonBlockElement("resolve", "resolve", slack.NewTextBlockObject(slack.PlainTextType, "Resolve", false, false)).WithStyle(slack.StyleDanger),
			&slack.ButtonBlockElement{Type: slack.METButton, ActionID: "link", Text: slack.NewTextBlockObject(slack.PlainTextType, "Bad link", false, false), URL: "javascript:alert(1)"},
		),
		slack.NewImageBlock("https://img.example/a.png", "a chart", "", nil),
	}
	raw, err := json.Marshal(blocks)
	if err != nil {
		t.Fatal(err)
	}
	out := render(t, string(raw), &scope{Prefix: "/sandbox", User: "U0SANDRESP", Channel: "C123", TS: "1.000001"}, nil)
	for _, want := range []string{
		`<h3 class="bk bk-header">#1 Beds &lt;b&gt;fail&lt;/b&gt;</h3>`,
		`<b>Major</b> — restore availability immediately`,
		`<div class="bk-field"><b>Loss rate</b>` + "\n$200,000/h</div>",
		`<span class="bk-mention">@riley</span>`,
		`<div class="bk bk-context"><span class="bk-ctx-text">updated <i>now</i></span>`,
		`<hr class="bk bk-divider">`,
		`<form method="post" action="/sandbox/click" class="bk-inline">`,
		`<input type="hidden" name="ts" value="1.000001">`,
		`data-action-id="take_command" data-value="take">Take command</button>`,
		`class="bk-btn danger" data-action-id="resolve"`,
		`data-action-id="acc"`,
		`<form method="post" action="/sandbox/select" class="bk-inline">`,
		`<select name="value" class="bk-select" data-autosubmit data-action-id="set_impact" aria-label="Change impact">`,
		`<option value="blocked">Blocked</option>`,
		`<option value="x&#34;&gt;&lt;script&gt;">&lt;i&gt;evil&lt;/i&gt;</option>`,
		`href="#ZgotmplZ"`, // html/template neutralises the javascript: URL
		`a chart`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("rendering lacks %s\n%s", want, out)
		}
	}
	if strings.Contains(out, "<script>") || strings.Contains(out, "javascript:") {
		t.Errorf("unsafe output:\n%s", out)
	}
	// Unknown blocks and elements are shown as such, not dropped silently.
	out = render(t, `[{"type":"video","block_id":"v"},{"type":"actions","elements":[{"type":"workflow_button","action_id":"w"}]}]`, &scope{}, nil)
	if !strings.Contains(out, "[video block]") || !strings.Contains(out, "[workflow_button]") {
		t.Errorf("unsupported blocks:\n%s", out)
	}
	// Garbage renders nothing.
	if out := render(t, `{"not":"blocks"}`, &scope{}, nil); strings.TrimSpace(out) != "" {
		t.Errorf("garbage rendered %q", out)
	}
}

func TestRenderModalInputs(t *testing.T) {
	raw := `[
	 {"type":"input","block_id":"service","label":{"type":"plain_text","text":"Service"},
	  "element":{"type":"static_select","action_id":"service","options":[{"text":{"type":"plain_text","text":"bedroom ($200,000/h)"},"value":"bedroom"}]}},
	 {"type":"input","block_id":"title","label":{"type":"plain_text","text":"Title"},
	  "element":{"type":"plain_text_input","action_id":"title","max_length":80,"initial_value":"\"><script>x</script>"}},
	 {"type":"input","block_id":"security","optional":true,"label":{"type":"plain_text","text":"Security"},
	  "element":{"type":"checkboxes","action_id":"security","options":[{"text":{"type":"plain_text","text":"Secret"},"value":"security"}],
	  "initial_options":[{"text":{"type":"plain_text","text":"Secret"},"value":"security"}]}},
	 {"type":"input","block_id":"text","optional":true,"label":{"type":"plain_text","text":"Summary"},"hint":{"type":"plain_text","text":"a hint"},
	  "element":{"type":"plain_text_input","action_id":"text","multiline":true}},
	 {"type":"input","block_id":"who","label":{"type":"plain_text","text":"Who"},"element":{"type":"users_select","action_id":"who","initial_user":"U0SANDRESP"}},
	 {"type":"input","block_id":"when","label":{"type":"plain_text","text":"When"},"element":{"type":"datepicker","action_id":"when","initial_date":"2026-11-17"}},
	 {"type":"input","block_id":"pick","label":{"type":"plain_text","text":"Pick"},"element":{"type":"radio_buttons","action_id":"pick","options":[{"text":{"type":"plain_text","text":"A"},"value":"a"}]}},
	 {"type":"input","block_id":"multi","label":{"type":"plain_text","text":"Multi"},"element":{"type":"multi_static_select","action_id":"multi","option_groups":[{"label":{"type":"plain_text","text":"G"},"options":[{"text":{"type":"plain_text","text":"One"},"value":"1"}]}]}}
	]`
	out := render(t, raw, &scope{Prefix: "/sandbox", User: "U0SANDRESP", ViewID: "V1", Modal: true}, map[string]string{"title": "Say what <happens>"})
	for _, want := range []string{
		`<input type="hidden" name="b.0" value="service">`,
		`<input type="hidden" name="a.0" value="service">`,
		`<select id="in-0" name="v.0" required><option value="">Choose…</option><option value="bedroom">bedroom ($200,000/h)</option>`,
		`<input id="in-1" name="v.1" value="&#34;&gt;&lt;script&gt;x&lt;/script&gt;" placeholder="" maxlength="80" required>`,
		`<div class="bk-error" data-error-for="title">Say what &lt;happens&gt;</div>`,
		`<input type="checkbox" name="v.2" value="security" checked> Secret`,
		`Security <span class="muted">(optional)</span>`,
		`<textarea id="in-3" name="v.3" rows="4" placeholder="">`,
		`<div class="bk-hint muted">a hint</div>`,
		`<option value="U0SANDRESP" selected>Riley</option>`,
		`<input id="in-5" type="date" name="v.5" value="2026-11-17" required>`,
		`<input type="radio" name="v.6" value="a"> A`,
		`<select id="in-7" name="v.7" multiple required>`,
		`<optgroup label="G"><option value="1">One</option></optgroup></select>`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("modal lacks %s\n%s", want, out)
		}
	}
	if strings.Contains(out, "<script>") {
		t.Errorf("unsafe output:\n%s", out)
	}
}

func TestFindOption(t *testing.T) {
	raw := `[{"type":"actions","block_id":"b","elements":[{"type":"static_select","action_id":"s","option_groups":[{"label":{"type":"plain_text","text":"g"},"options":[{"text":{"type":"plain_text","text":"Two"},"value":"2"}]}]}]},
	         {"type":"section","block_id":"c","text":{"type":"mrkdwn","text":"x"},"accessory":{"type":"users_select","action_id":"u"}}]`
	if o, typ, ok := findOption(json.RawMessage(raw), "b", "s", "2"); !ok || typ != "static_select" || o.Text.Text != "Two" {
		t.Errorf("static_select: %+v %s %v", o, typ, ok)
	}
	if _, _, ok := findOption(json.RawMessage(raw), "b", "s", "3"); ok {
		t.Errorf("found a missing option")
	}
	if _, _, ok := findOption(json.RawMessage(raw), "c", "s", "2"); ok {
		t.Errorf("found an option in the wrong block")
	}
	if _, typ, ok := findOption(json.RawMessage(raw), "", "u", "U1"); !ok || typ != "users_select" {
		t.Errorf("users_select accessory: %s %v", typ, ok)
	}
}

func TestPlainSlackAndTS(t *testing.T) {
	if got := plainSlack("Major · <@U0SANDRESP> in <#C123> &amp; <https://x.example|link> <!here>", testNames()); got != "Major · @riley in #inc-1-beds & link !here" {
		t.Errorf("plainSlack = %q", got)
	}
	if got := tsTime("1763467200.000123", time.UTC); !got.Equal(time.Unix(1763467200, 123000)) {
		t.Errorf("tsTime = %v", got)
	}
	if !tsTime("garbage", time.UTC).IsZero() {
		t.Errorf("tsTime of garbage")
	}
}

func TestSameOrigin(t *testing.T) {
	for _, tc := range []struct {
		site, origin, host string
		ok                 bool
	}{
		{"", "", "h:1", true},
		{"same-origin", "http://h:1", "h:1", true},
		{"none", "", "h:1", true},
		{"cross-site", "http://evil", "h:1", false},
		{"same-site", "http://sub.h:1", "h:1", false},
		{"", "http://evil", "h:1", false},
		{"", "null", "h:1", false},
		{"same-origin", "null", "h:1", false},
	} {
		r := newReq(tc.host)
		if tc.site != "" {
			r.Header.Set("Sec-Fetch-Site", tc.site)
		}
		if tc.origin != "" {
			r.Header.Set("Origin", tc.origin)
		}
		if got := sameOrigin(r); got != tc.ok {
			t.Errorf("%+v: got %v", tc, got)
		}
	}
}
