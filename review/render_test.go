package review_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/incident"
	"github.com/incidentbot/incidentbot/review"
)

// publishedBedroom is the bedroom review as a team finishes it.
func publishedBedroom(t testing.TB) *review.Review {
	t.Helper()
	c := furniture(t)
	r := draft(t, c, bedroomIncident(t, c), nil)
	day := func(d int) time.Time { return time.Date(2026, 11, 17+d, 15, 0, 0, 0, time.UTC) }
	for id, text := range map[review.SectionID]string{
		review.SectionContributingFactors: "- **Technical:** the deploy pipeline had no checkout smoke test.\n- **Human:** the on-call engineer was new to cart-service and the runbook did not mention rollbacks.",
		review.SectionWentWell:            "The alert fired within a minute and the rollback took 15 minutes.",
		review.SectionLearnings:           "Rollbacks of cart-service are safe and fast: we can reach for them sooner.",
		review.SectionNarrative:           "At 09:58 a routine deploy of cart-service reached production…",
	} {
		if err := r.SetSection(id, text); err != nil {
			t.Fatal(err)
		}
	}
	must(r.AddAction("Add a checkout smoke test to the deploy pipeline", "U2", day(1)))
	must(r.AddAction("Document rollbacks in the cart-service runbook", "U1", day(1)))
	if err := r.CompleteAction("1-2", day(4)); err != nil {
		t.Fatal(err)
	}
	if err := r.SetAccount(review.Account{User: "U2", Saw: "502s on the checkout dashboard.", Did: "Rolled back to 1.4.2.", Surprised: "How fast the rollback was.", At: day(0)}); err != nil {
		t.Fatal(err)
	}
	if err := r.Publish(day(5)); err != nil {
		t.Fatal(err)
	}
	return r
}

func TestRenderPageGolden(t *testing.T) {
	r := publishedBedroom(t)
	var b bytes.Buffer
	if err := review.RenderPage(&b, r, 42); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	golden(t, "bedroom.page.html.golden", page)
	for _, want := range []string{
		`<meta name="viewport" content="width=device-width, initial-scale=1">`,
		`max-width:46rem`,
		`overflow-x:auto`,
		`<h1>Incident 1: Bedroom checkout down</h1>`,
		`Service: <a href="/reviews/?service=bedroom">bedroom</a>`,
		`Team: <a href="/reviews/?team=bedroom-team">bedroom-team</a>`,
		`Published <time datetime="2026-11-22T15:00:00Z">22 November 2026</time>`,
		`42 readers`,
		`<table>`,
		`<input checked="" disabled="" type="checkbox"> <strong>1-2</strong>`,
		`<td>$336,000</td>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	mobileFriendly(t, page)
	// Published pages leave out the prompts of unwritten sections; the
	// accounts prompt is gone as someone gave one.
	if strings.Contains(page, "Every responder is asked") || strings.Contains(page, "Awaiting accounts") {
		t.Error("a published page shows draft prompts")
	}
}

// mobileFriendly checks what makes a page readable at 375 px without
// horizontal scrolling: a viewport, a max-width container, tables that
// scroll inside themselves, no fixed widths wider than a phone, no script.
func mobileFriendly(t *testing.T, page string) {
	t.Helper()
	if strings.Contains(strings.ToLower(page), "<script") || strings.Contains(page, "javascript:") || regexp.MustCompile(`(?i)\son[a-z]+=`).MatchString(page) {
		t.Error("page has script")
	}
	if m := regexp.MustCompile(`(?:^|[;{\s])(?:min-)?width:\s*(\d+)px`).FindAllStringSubmatch(page, -1); len(m) > 0 {
		t.Errorf("fixed pixel widths: %v", m)
	}
	for _, want := range []string{`name="viewport"`, `.wrap{max-width:`, `table{display:block;max-width:100%;overflow-x:auto`, `overflow-wrap:break-word`, `img{max-width:100%`, `pre{overflow-x:auto`} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
}

func TestRenderIndex(t *testing.T) {
	c := furniture(t)
	bed := publishedBedroom(t)
	bed.Read("reader-1", time.Now())
	bed.Read("reader-2", time.Now())
	bed.Read("reader-1", time.Now())
	appt := draft(t, c, appointmentsIncident(t, c), nil)
	if err := appt.Publish(time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	drafted := draft(t, c, appointmentsIncident(t, c), nil)
	drafted.Number = 3
	private := publishedBedroom(t)
	private.Number, private.Private, private.Title = 4, true, "Leaked tokens"
	all := []*review.Review{bed, drafted, appt, private}

	var b bytes.Buffer
	if err := review.RenderIndex(&b, all, review.IndexFilter{}); err != nil {
		t.Fatal(err)
	}
	idx := b.String()
	golden(t, "index.html.golden", idx)
	mobileFriendly(t, idx)
	i2, i1 := strings.Index(idx, "Incident 2:"), strings.Index(idx, "Incident 1:")
	if i2 < 0 || i1 < 0 || i2 > i1 {
		t.Error("index is not newest first")
	}
	if strings.Contains(idx, "Incident 3:") || strings.Contains(idx, "Leaked tokens") {
		t.Error("index lists a draft or a private review")
	}
	if !strings.Contains(idx, "2 readers") {
		t.Error("unique readers not shown")
	}

	b.Reset()
	if err := review.RenderIndex(&b, all, review.IndexFilter{Service: "Bedroom"}); err != nil {
		t.Fatal(err)
	}
	idx = b.String()
	if strings.Contains(idx, "Incident 2:") || !strings.Contains(idx, "Incident 1:") {
		t.Error("service filter")
	}
	if !strings.Contains(idx, `<option value="bedroom" selected>bedroom</option>`) || !strings.Contains(idx, `<option value="appointments">appointments</option>`) {
		t.Errorf("filter options:\n%s", idx)
	}

	b.Reset()
	if err := review.RenderIndex(&b, all, review.IndexFilter{Team: "appointments-team", IncludeDrafts: true, IncludePrivate: true}); err != nil {
		t.Fatal(err)
	}
	idx = b.String()
	if strings.Contains(idx, "Incident 1:") || !strings.Contains(idx, "Incident 2:") || !strings.Contains(idx, "Incident 3:") {
		t.Error("team filter with drafts")
	}

	b.Reset()
	if err := review.RenderIndex(&b, all, review.IndexFilter{Team: "nobody"}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "No post-incident reviews match these filters yet.") {
		t.Error("empty filtered index")
	}
}

func TestRenderEscapesUserText(t *testing.T) {
	r := publishedBedroom(t)
	r.Title = `<script>alert(1)</script> & "quotes"`
	r.Service = `x"><img src=x onerror=alert(1)>`
	if err := r.SetSection(review.SectionNarrative, "Hello <script>alert(1)</script>\n\n<img src=x onerror=alert(1)>\n\n[click](javascript:alert(1)) and [ok](https://example.com)"); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := review.RenderPage(&b, r, 1); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, bad := range []string{"<script", "<img src=x", `href="javascript`} {
		if strings.Contains(page, bad) {
			t.Errorf("page contains %q", bad)
		}
	}
	if regexp.MustCompile(`<[^>]*\sonerror=`).MatchString(page) {
		t.Error("page has an element with an event handler")
	}
	if !strings.Contains(page, "&lt;img src=x onerror=alert(1)&gt;") {
		t.Error("the service name is not shown as text")
	}
	if !strings.Contains(page, `<a href="https://example.com">ok</a>`) || !strings.Contains(page, "1 reader<") {
		t.Error("safe content lost")
	}
	md, err := review.Markdown(r)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(md, `# Incident 1: \<script\>alert(1)\</script\> \& "quotes"`) {
		t.Errorf("title not made literal in Markdown:\n%s", md[:200])
	}
}

func TestHTMLIsSafe(t *testing.T) {
	for _, tc := range []struct {
		in        string
		want, not []string
	}{
		{"<script>alert(1)</script>", []string{"<!-- raw HTML omitted -->"}, []string{"<script", "alert(1)"}},
		{"before <img src=x onerror=alert(1)> after", []string{"before", "after"}, []string{"<img", "onerror"}},
		{"[x](javascript:alert(1))", []string{`<a href="">x</a>`}, []string{"javascript:"}},
		{"[x](JaVaScRiPt:alert(1))", []string{`<a href="">x</a>`}, []string{"avaScRiPt:"}},
		{"[x](&#106;avascript:alert(1))", []string{`<a href="">x</a>`}, []string{"avascript:alert"}},
		{"<javascript:alert(1)>", []string{`<a href="">`}, []string{`href="javascript`}},
		{"![a](javascript:alert(1))", []string{`<img src="" alt="a">`}, []string{"javascript:"}},
		{"[x](vbscript:msgbox(1))", []string{`<a href="">x</a>`}, nil},
		{"[x](data:text/html;base64,PHNjcmlwdD4=)", []string{`<a href="">x</a>`}, nil},
		{"[x](java&#9;script:alert(1))", []string{`href="java%09script:alert(1)"`}, nil}, // inert: not a scheme
		{"<a href=\"https://x\" onclick=\"alert(1)\">y</a>", nil, []string{"onclick", "<a href"}},
		{"<iframe src=https://evil></iframe>", nil, []string{"<iframe"}},
		// GFM: tables, strikethrough, autolinks, task lists.
		{"| a | b |\n|---|---|\n| 1 | 2 |", []string{"<table>", "<td>1</td>"}, nil},
		{"~~gone~~", []string{"<del>gone</del>"}, nil},
		{"see https://example.com/x", []string{`<a href="https://example.com/x">https://example.com/x</a>`}, nil},
		{"- [ ] todo\n- [x] done", []string{`<input disabled="" type="checkbox"> todo`, `<input checked="" disabled="" type="checkbox"> done`}, nil},
	} {
		h, err := review.HTML(tc.in)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range tc.want {
			if !strings.Contains(string(h), w) {
				t.Errorf("HTML(%q) = %q, want %q", tc.in, h, w)
			}
		}
		for _, n := range tc.not {
			if strings.Contains(string(h), n) {
				t.Errorf("HTML(%q) = %q contains %q", tc.in, h, n)
			}
		}
	}
}

func TestTemplateOverride(t *testing.T) {
	dir := t.TempDir()
	// A namespaced override redefining one prompt only, and a flat
	// override replacing the whole page.
	if err := os.MkdirAll(filepath.Join(dir, "review"), 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(p, s string) {
		if err := os.WriteFile(filepath.Join(dir, p), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("review/review.md.tmpl", `{{define "review/prompt/narrative"}}Tell the story, the ACME way.{{end}}`)
	write("page.html.tmpl", `<!doctype html><title>{{.Title}}</title><style>{{template "review/style.css"}}</style><p>ACME {{.Readers}}</p>{{.Body}}`)
	write("unrelated.tmpl", `{{ this is not parsed }}`)

	rd, err := review.NewRenderer(review.Options{TemplatesDir: dir, BasePath: "/r"})
	if err != nil {
		t.Fatal(err)
	}
	c := furniture(t)
	r := draft(t, c, bedroomIncident(t, c), nil)
	md, err := rd.Markdown(r)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(md, "> Tell the story, the ACME way.") || !strings.Contains(md, "## Contributing factors") {
		t.Errorf("prompt override not applied, or the rest lost:\n%s", md)
	}
	if rd.Prompt(review.SectionNarrative) != "Tell the story, the ACME way." {
		t.Errorf("Prompt = %q", rd.Prompt(review.SectionNarrative))
	}
	var b bytes.Buffer
	if err := rd.RenderPage(&b, r, 7); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(b.String(), "<!doctype html><title>Bedroom checkout down</title>") || !strings.Contains(b.String(), "<p>ACME 7</p>") {
		t.Errorf("page override not applied:\n%.300s", b.String())
	}
	// The index is still the embedded one, with the base path.
	b.Reset()
	if err := rd.RenderIndex(&b, nil, review.IndexFilter{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), `action="/r/"`) {
		t.Errorf("embedded index with base path:\n%s", b.String())
	}

	// Errors: a broken override names its file; a missing directory fails.
	write("index.html.tmpl", `{{ .Broken `)
	if _, err := review.NewRenderer(review.Options{TemplatesDir: dir}); err == nil || !strings.Contains(err.Error(), "index.html.tmpl") {
		t.Errorf("broken override: %v", err)
	}
	if _, err := review.NewRenderer(review.Options{TemplatesDir: filepath.Join(dir, "nope")}); err == nil {
		t.Error("missing templates directory accepted")
	}
	if _, err := review.NewRenderer(review.Options{BasePath: "javascript:alert(1)//"}); err == nil {
		t.Error("bad base path accepted")
	}
}

func TestContentSecurityPolicyAllowsTheStyle(t *testing.T) {
	rd, err := review.Default()
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := rd.RenderPage(&b, publishedBedroom(t), 0); err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?s)<style>(.*?)</style>`).FindStringSubmatch(b.String())
	if m == nil {
		t.Fatal("no style block")
	}
	sum := sha256.Sum256([]byte(m[1]))
	hash := "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
	csp := rd.ContentSecurityPolicy()
	if !strings.Contains(csp, "style-src "+hash) || !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "script-src") {
		t.Errorf("CSP %q does not allow the style %s, or allows scripts", csp, hash)
	}
	// Exactly: no scripts, the one style, same-origin images only (no
	// https: or data: image that would tell a third party who reads).
	want := "default-src 'none'; style-src " + hash + "; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
	if csp != want {
		t.Errorf("CSP\n got %q\nwant %q", csp, want)
	}
}

func TestRendererConcurrent(t *testing.T) {
	r := publishedBedroom(t)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var b bytes.Buffer
			if err := review.RenderPage(&b, r, 1); err != nil {
				t.Error(err)
			}
			if _, err := review.Markdown(r); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
}

func TestActionsAndReaders(t *testing.T) {
	r := &review.Review{Number: 7, Service: "bedroom"}
	t0 := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	a1 := must(r.AddAction("one", "", t0))
	a2 := must(r.AddAction("two", "U1", t0))
	if a1.ID != "7-1" || a2.ID != "7-2" {
		t.Errorf("ids %s %s", a1.ID, a2.ID)
	}
	if _, err := r.AddAction("  ", "", t0); incident.ErrorCode(err) != incident.EINVALID {
		t.Error("blank action accepted")
	}
	if _, ok := r.Actions[0].LeadTime(); ok {
		t.Error("open action has a lead time")
	}
	if err := r.CompleteAction("7-1", t0.Add(60*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if lt, ok := r.Actions[0].LeadTime(); !ok || lt != 60*time.Hour {
		t.Errorf("lead time %v %v", lt, ok)
	}
	if err := r.CompleteAction("7-1", t0); incident.ErrorCode(err) != incident.ECONFLICT {
		t.Error("completed twice")
	}
	if err := r.CompleteAction("7-9", t0); incident.ErrorCode(err) != incident.ENOTFOUND {
		t.Error("unknown action")
	}
	if !r.Read("a", t0) || r.Read("a", t0) || !r.Read("b", t0) || r.Read("", t0) || r.ReaderCount() != 2 {
		t.Error("unique readers")
	}
	if err := r.SetAccount(review.Account{User: "U1", Saw: "x"}); err != nil {
		t.Fatal(err)
	}
	if err := r.SetAccount(review.Account{User: "U1", Saw: "y"}); err != nil || len(r.Accounts) != 1 || r.Accounts[0].Saw != "y" {
		t.Error("account not replaced")
	}
	if id, ok := review.ParseSectionID("Contributing factors"); !ok || id != review.SectionContributingFactors {
		t.Error("ParseSectionID by title")
	}
	if id, ok := review.ParseSectionID("went-well"); !ok || id != review.SectionWentWell {
		t.Error("ParseSectionID with dash")
	}
}

// A drill's review is listed and shown as a Chaos Day review; Draft carries
// the drill flag from the incident.
func TestChaosDayReview(t *testing.T) {
	c := furniture(t)
	inc := appointmentsIncident(t, c)
	inc.Drill = true
	r := draft(t, c, inc, nil)
	if !r.Drill {
		t.Fatal("the draft of a drill is not a Chaos Day review")
	}
	if err := r.Publish(time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	bed := publishedBedroom(t)
	var b bytes.Buffer
	if err := review.RenderIndex(&b, []*review.Review{r, bed}, review.IndexFilter{}); err != nil {
		t.Fatal(err)
	}
	idx := b.String()
	if strings.Count(idx, "Chaos Day review") != 1 || strings.Index(idx, "Chaos Day review") > strings.Index(idx, "Incident 1:") {
		t.Errorf("index should mark only the drill's review as a Chaos Day review:\n%s", idx)
	}
	b.Reset()
	if err := review.RenderPage(&b, r, 0); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "Chaos Day review (a practice incident)") {
		t.Errorf("page does not say it is a Chaos Day review")
	}
}
