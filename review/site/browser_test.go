package site_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/incidentbot/incidentbot/internal/cdptest"
	"github.com/incidentbot/incidentbot/review"
)

// hostile is review text typed by people: a script, a javascript: link, an
// event handler, raw HTML links, plus content that is wide on a phone.
var hostile = map[review.SectionID]string{
	review.SectionNarrative: "We learned a lot.\n\n" +
		"<script>document.title='pwned';window.pwned=1</script>\n\n" +
		"[the runbook](javascript:window.pwned=2) and <a href=\"javascript:window.pwned=3\">raw link</a>\n\n" +
		"<img src=x onerror=\"window.pwned=4\">\n\n" +
		"![pic](javascript:window.pwned=5)\n\n" +
		"A very long token: " + strings.Repeat("averyveryverylongwordwithoutbreaks", 8) + "\n\n" +
		"https://example.com/" + strings.Repeat("path/", 40) + "\n\n" +
		"| time | what | who | where | how | why | what next | notes |\n|---|---|---|---|---|---|---|---|\n" +
		"| 12:00:00 | the checkout error rate went up sharply | the on-call engineer | eu-west-1 | dashboard | deploy | rollback | none |\n\n" +
		"```\n" + strings.Repeat("a long line of log output ", 20) + "\n```\n",
	review.SectionLearnings: "Alerts need an owner.",
}

func evalBool(t *testing.T, b *cdptest.Browser, expr string) bool {
	t.Helper()
	var v bool
	if err := json.Unmarshal(b.MustEval(expr), &v); err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	return v
}

func evalInt(t *testing.T, b *cdptest.Browser, expr string) int {
	t.Helper()
	var v int
	if err := json.Unmarshal(b.MustEval(expr), &v); err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	return v
}

// TestBrowser loads the review site in a real headless Chromium: the index
// and a review show the right content, nothing typed into the review
// executes, and the pages fit a 375 px phone screen.
func TestBrowser(t *testing.T) {
	f := newFixture(t, hostile)
	b := cdptest.New(t) // skipped without Chromium unless $CI is set

	b.Navigate(f.srv.URL + "/reviews/")
	b.WaitTrue("index", `document.querySelector("h1") && document.querySelector("h1").textContent === "Post-incident reviews"`)
	if got := b.String(`Array.from(document.querySelectorAll("ul.reviews > li a strong")).map(e => e.textContent).join("|")`); got != "Incident 2: Booking emails late|Incident 1: Checkout fails for beds" {
		t.Errorf("index lists %q", got)
	}
	if body := b.String(`document.body.innerText`); strings.Contains(body, "Draft only") || strings.Contains(body, "Card data") {
		t.Errorf("index shows a draft or a private review:\n%s", body)
	}
	// The filter form works without JavaScript.
	b.SetValue(`select[name="service"]`, "appointments")
	b.Click(`form.filter button[type="submit"]`)
	b.WaitTrue("filtered", `location.search.includes("service=appointments")`)
	b.WaitTrue("filtered list", `document.querySelectorAll("ul.reviews > li").length === 1`)
	if got := b.String(`document.querySelector("ul.reviews a").textContent`); !strings.Contains(got, "Booking emails late") {
		t.Errorf("filtered index shows %q", got)
	}

	// The first visit sets the reader cookie; the browser brings it back on
	// the next, and is counted then, once.
	b.Navigate(f.srv.URL + "/reviews/1")
	b.WaitTrue("review page", `document.querySelector("article h1") !== null`)
	if body := b.String(`document.querySelector("article").innerText`); !strings.Contains(body, "0 readers") {
		t.Errorf("a first visit counted:\n%s", body)
	}
	for i := 0; i < 2; i++ {
		b.Navigate(f.srv.URL + "/reviews/1")
	}
	b.WaitTrue("review page", `document.querySelector("article h1") !== null`)
	if c, _ := f.rs.ReaderCount(context.Background(), 1); c != 1 {
		t.Errorf("a browser counted %d readers, want 1", c)
	}
	if got := b.String(`document.querySelector("article h1").textContent`); got != "Incident 1: Checkout fails for beds" {
		t.Errorf("h1 = %q", got)
	}
	body := b.String(`document.querySelector("article").innerText`)
	for _, want := range []string{"The summary of Checkout fails for beds.", "We learned a lot.", "Alerts need an owner.", "1 reader"} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q:\n%s", want, body)
		}
	}
	// Nothing typed into the review ran or can run.
	if title := b.String(`document.title`); title == "pwned" || !strings.Contains(title, "Checkout fails for beds") {
		t.Errorf("document.title = %q", title)
	}
	if evalBool(t, b, `typeof window.pwned !== "undefined"`) {
		t.Errorf("window.pwned = %s", b.MustEval(`window.pwned`))
	}
	if n := evalInt(t, b, `document.querySelectorAll("script").length`); n != 0 {
		t.Errorf("%d script elements on the page", n)
	}
	if n := evalInt(t, b, `document.querySelectorAll("[onerror],[onclick],[onload]").length`); n != 0 {
		t.Errorf("%d elements with event handlers", n)
	}
	hrefs := b.String(`Array.from(document.querySelectorAll("a, img")).map(e => (e.getAttribute("href") ?? e.getAttribute("src") ?? "") + " → " + (e.protocol ?? "")).join("\n")`)
	if strings.Contains(strings.ToLower(hrefs), "javascript:") {
		t.Errorf("a javascript: URL survived:\n%s", hrefs)
	}
	if got := b.String(`Array.from(document.querySelectorAll("article a")).filter(a => a.textContent === "the runbook").map(a => a.getAttribute("href")).join()`); got != "" {
		t.Errorf("the javascript: link kept an href: %q", got)
	}

	// A phone: 375 px wide. Nothing may make the page scroll sideways.
	if err := b.Call("Emulation.setDeviceMetricsOverride", map[string]any{"width": 375, "height": 812, "deviceScaleFactor": 2, "mobile": true}, nil); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/reviews/1", "/reviews/"} {
		b.Navigate(f.srv.URL + path)
		b.WaitTrue("phone layout", `window.innerWidth === 375`)
		if w := evalInt(t, b, `document.documentElement.scrollWidth`); w > 375 {
			wide := b.String(`Array.from(document.querySelectorAll("body *")).filter(e => e.getBoundingClientRect().right > 376).slice(0, 5).map(e => e.tagName + "." + e.className + " " + Math.round(e.getBoundingClientRect().right)).join(", ")`)
			t.Errorf("%s is %d px wide at 375 px (too wide: %s)", path, w, wide)
		}
	}
	if logs := b.Logs(); len(logs) > 0 {
		for _, l := range logs {
			if strings.Contains(l, "Content Security Policy") || strings.Contains(l, "exceptionThrown") {
				t.Errorf("browser console: %s", l)
			}
		}
	}
}

// TestBrowserLoadsNoForeignImage puts an image from another origin (https,
// so that it is "any https image") and a data: image into a review: real
// Chromium loads neither, because the page's CSP allows same-origin images
// only. The foreign server counts the requests it gets; a direct load of the
// same image first shows that the browser can reach it at all.
func TestBrowserLoadsNoForeignImage(t *testing.T) {
	var hits atomic.Int32
	remote := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/pixel.gif" {
			http.NotFound(w, r) // the browser's favicon.ico
			return
		}
		hits.Add(1)
		w.Header().Set("Content-Type", "image/gif")
		_, _ = w.Write(pixelGIF)
	}))
	remote.Config.ErrorLog = log.New(io.Discard, "", 0) // handshakes before certificate errors are ignored
	remote.StartTLS()
	defer remote.Close()
	pixel := remote.URL + "/pixel.gif"
	f := newFixture(t, map[review.SectionID]string{
		review.SectionNarrative: "Tracked: ![tracker](" + pixel + ")\n\nInline: ![dot](data:image/gif;base64," + base64.StdEncoding.EncodeToString(pixelGIF) + ")",
	})
	b := cdptest.New(t) // skipped without Chromium unless $CI is set
	if err := b.Call("Security.setIgnoreCertificateErrors", map[string]any{"ignore": true}, nil); err != nil {
		t.Fatal(err)
	}
	if err := b.Call("Log.enable", nil, nil); err != nil { // CSP violations are log entries
		t.Fatal(err)
	}
	b.Navigate(pixel)
	if hits.Load() != 1 {
		t.Fatalf("the browser could not reach the foreign image server (%d requests)", hits.Load())
	}

	b.Navigate(f.srv.URL + "/reviews/1")
	b.WaitTrue("both images settled", `document.querySelectorAll("article img").length === 2 && Array.from(document.querySelectorAll("article img")).every(i => i.complete)`)
	if got := evalInt(t, b, `Array.from(document.querySelectorAll("article img")).filter(i => i.naturalWidth > 0).length`); got != 0 {
		t.Errorf("%d images loaded; only same-origin images may load", got)
	}
	if n := hits.Load(); n != 1 {
		t.Errorf("the foreign image server got %d more requests from the review page", n-1)
	}
	blocked := 0
	for _, l := range b.Logs() {
		if strings.Contains(l, "Content Security Policy") && strings.Contains(l, "img-src") {
			blocked++
		}
	}
	if blocked == 0 {
		t.Errorf("no CSP report of the blocked images in the console:\n%s", strings.Join(b.Logs(), "\n"))
	}
}

// pixelGIF is a 1×1 transparent GIF.
var pixelGIF = []byte{
	0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00,
	0xff, 0xff, 0xff, 0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00,
	0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b,
}
