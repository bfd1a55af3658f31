package alertmanager_test

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/incident/alertmanager"
	"github.com/incidentbot/incidentbot/internal/cdptest"
)

// seen records what reached the webhook: method, Origin, Sec-Fetch-Site,
// Content-Type and the answer.
type seen struct {
	mu   sync.Mutex
	reqs []string
	h    http.Handler
}

func (s *seen) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := httptest.NewRecorder()
	s.h.ServeHTTP(rec, r)
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
	s.mu.Lock()
	s.reqs = append(s.reqs, fmt.Sprintf("%s origin=%q site=%q type=%q → %d", r.Method, r.Header.Get("Origin"),
		r.Header.Get("Sec-Fetch-Site"), r.Header.Get("Content-Type"), rec.Code))
	s.mu.Unlock()
}

func (s *seen) posts() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, r := range s.reqs {
		if strings.HasPrefix(r, "POST ") {
			out = append(out, r)
		}
	}
	return out
}

// TestBrowserPageCannotOpenIncidents: a page of another origin, in a real
// headless Chromium, posts a valid notification to a webhook without a
// bearer token (the default) the ways a page can without CORS: no-cors
// fetches with text/plain bodies, and a CORS fetch with application/json
// (which needs a preflight). No incident opens.
func TestBrowserPageCannotOpenIncidents(t *testing.T) {
	e := newEnv(t, alertmanager.Options{})
	rec := &seen{h: e.h}
	mux := http.NewServeMux()
	mux.Handle("POST "+alertmanager.Path, rec)
	mux.Handle(alertmanager.Path, rec) // the preflight, if any, is recorded too
	hook := httptest.NewServer(mux)
	defer hook.Close()
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!doctype html><title>cute cats</title><p>cats</p>`)
	}))
	defer page.Close()

	body := string(mustJSON(t, notification("browser", "firing", labels("service", "bedroom", "alertname", "FromAPage"),
		firing("fp", time.Now().Add(-time.Minute), labels("service", "bedroom", "alertname", "FromAPage"), "a web page opened this"))))
	b := cdptest.New(t) // skipped without Chromium unless $CI is set
	b.Navigate(page.URL + "/")
	script := fmt.Sprintf(`(async () => {
		const url = %q, body = %q, out = [];
		const send = async (opts) => {
			try { const r = await fetch(url, Object.assign({method: "POST", body}, opts)); out.push(r.type + ":" + r.status); }
			catch (e) { out.push("failed"); }
		};
		await send({mode: "no-cors", headers: {"Content-Type": "text/plain"}});
		await send({mode: "no-cors"});
		await send({mode: "no-cors", headers: {"Content-Type": "application/x-www-form-urlencoded"}});
		await send({headers: {"Content-Type": "application/json"}});
		return out.join(" ");
	})()`, hook.URL+alertmanager.Path, body)
	got := b.String(script)
	t.Logf("fetch results: %s", got)

	posts := rec.posts()
	if len(posts) < 3 {
		t.Fatalf("the page's requests did not reach the webhook (the test proves nothing): %q", posts)
	}
	for _, p := range posts {
		if !strings.Contains(p, "origin=\""+page.URL+"\"") || !strings.HasSuffix(p, "→ 403") {
			t.Errorf("request %s: want the page's Origin answered 403", p)
		}
	}
	if n := len(e.incidents()); n != 0 {
		t.Fatalf("a web page opened %d incidents (requests %q)", n, posts)
	}

	// The same body from Alertmanager (no browser headers, JSON) opens one:
	// the page was refused for what it is, not for what it sent.
	req, _ := http.NewRequest(http.MethodPost, hook.URL+alertmanager.Path, bytes.NewReader([]byte(body)))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || len(e.incidents()) != 1 {
		t.Fatalf("Alertmanager's request: %s, %d incidents", resp.Status, len(e.incidents()))
	}
}
