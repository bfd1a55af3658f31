package site_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/incident"
	"github.com/incidentbot/incidentbot/incident/boltstore"
	"github.com/incidentbot/incidentbot/incident/boltstore/bolttest"
	"github.com/incidentbot/incidentbot/incident/desk"
	"github.com/incidentbot/incidentbot/incident/httpapi"
	"github.com/incidentbot/incidentbot/review"
	"github.com/incidentbot/incidentbot/review/reviewstore"
	"github.com/incidentbot/incidentbot/review/site"
)

var t0 = time.Date(2026, 11, 17, 12, 0, 0, 0, time.UTC)

// fixture is a review site over a real store holding four reviews:
// 1 published (bedroom), 2 published (appointments), 3 a draft, 4 a
// published security incident.
type fixture struct {
	t      *testing.T
	path   string
	store  *boltstore.Store
	kv     *countingKV
	rs     *reviewstore.Store
	srv    *httptest.Server
	tokens map[int64]string
	opts   site.Options // Reviews and Now are the fixture's
	mu     sync.Mutex
	now    time.Time
}

func (f *fixture) clock() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fixture) advance(d time.Duration) {
	f.mu.Lock()
	f.now = f.now.Add(d)
	f.mu.Unlock()
}

func seed(t *testing.T, rs *reviewstore.Store, n int64, title, svc, team string, published, private bool, sections map[review.SectionID]string) string {
	t.Helper()
	rec, err := rs.Update(context.Background(), n, func(rec *reviewstore.Record, _ bool) error {
		rec.Title, rec.Service, rec.Team, rec.Class = title, svc, team, incident.Major
		rec.StartedAt, rec.DraftedAt, rec.Status, rec.Private = t0.Add(-time.Hour), t0, incident.ReviewDrafted, private
		rec.Sections = map[review.SectionID]string{review.SectionSummary: "The summary of " + title + "."}
		for k, v := range sections {
			rec.Sections[k] = v
		}
		if published {
			return rec.Publish(t0.Add(time.Duration(n) * time.Minute))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := rs.PreviewToken(context.Background(), rec.Number, t0.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func newFixture(t *testing.T, sections map[review.SectionID]string) *fixture {
	t.Helper()
	return newFixtureWith(t, sections, site.Options{})
}

func newFixtureWith(t *testing.T, sections map[review.SectionID]string, o site.Options) *fixture {
	t.Helper()
	f := &fixture{t: t, path: filepath.Join(t.TempDir(), "db"), tokens: map[int64]string{}, opts: o, now: t0}
	f.open()
	f.tokens[1] = seed(t, f.rs, 1, "Checkout fails for beds", "bedroom", "bedroom-team", true, false, sections)
	f.tokens[2] = seed(t, f.rs, 2, "Booking emails late", "appointments", "appointments-team", true, false, nil)
	f.tokens[3] = seed(t, f.rs, 3, "Draft only", "bedroom", "bedroom-team", false, false, nil)
	f.tokens[4] = seed(t, f.rs, 4, "Card data in logs", "bedroom", "bedroom-team", true, true, nil)
	t.Cleanup(f.close)
	return f
}

func (f *fixture) open() {
	st, err := boltstore.Open(f.path, boltstore.Options{Now: func() time.Time { return t0 }})
	if err != nil {
		f.t.Fatal(err)
	}
	if incs, _ := st.List(context.Background(), desk.Filter{}); len(incs) == 0 {
		bolttest.Incidents(f.t, st, 5, t0) // reviews belong to incidents
	}
	f.kv = &countingKV{Storage: st}
	f.store, f.rs = st, reviewstore.New(f.kv)
	o := f.opts
	o.Reviews, o.Now = f.rs, f.clock
	s, err := site.New(o)
	if err != nil {
		f.t.Fatal(err)
	}
	mux := http.NewServeMux()
	s.Routes(mux)
	f.srv = httptest.NewServer(mux)
}

func (f *fixture) close() {
	if f.srv != nil {
		f.srv.Close()
		f.store.Close()
		f.srv = nil
	}
}

func (f *fixture) reopen() { f.close(); f.open() }

func client() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func (f *fixture) do(c *http.Client, method, path string) (*http.Response, string) {
	f.t.Helper()
	req, _ := http.NewRequest(method, f.srv.URL+path, nil)
	resp, err := c.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestIndexListsPublishedPublicReviews(t *testing.T) {
	f := newFixture(t, nil)
	c := client()
	resp, body := f.do(c, "GET", "/reviews/")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("index: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, want := range []string{"Checkout fails for beds", "Booking emails late"} {
		if !strings.Contains(body, want) {
			t.Errorf("index lacks %q", want)
		}
	}
	for _, not := range []string{"Draft only", "Card data"} {
		if strings.Contains(body, not) {
			t.Errorf("index lists %q", not)
		}
	}
	if strings.Index(body, "Booking emails late") > strings.Index(body, "Checkout fails for beds") {
		t.Errorf("index is not newest first")
	}
	_, body = f.do(c, "GET", "/reviews/?service=appointments")
	if strings.Contains(body, "Checkout fails") || !strings.Contains(body, "Booking emails late") {
		t.Errorf("service filter:\n%s", body)
	}
	_, body = f.do(c, "GET", "/reviews/?team=bedroom-team")
	if !strings.Contains(body, "Checkout fails") || strings.Contains(body, "Booking emails late") {
		t.Errorf("team filter")
	}
	_, body = f.do(c, "GET", "/reviews/?service=%3Cscript%3E")
	if strings.Contains(body, "<script>") {
		t.Errorf("filter value reflected unescaped")
	}
	resp, _ = f.do(c, "GET", "/reviews")
	if resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != "/reviews/" {
		t.Errorf("/reviews: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
}

func TestPageVisibilityAndHeaders(t *testing.T) {
	f := newFixture(t, nil)
	c := client()
	rd, _ := review.Default()
	resp, body := f.do(c, "GET", "/reviews/1")
	if resp.StatusCode != 200 || !strings.Contains(body, "The summary of Checkout fails for beds.") {
		t.Fatalf("page: %d\n%s", resp.StatusCode, body)
	}
	h := resp.Header
	if h.Get("Content-Security-Policy") != rd.ContentSecurityPolicy() || h.Get("X-Content-Type-Options") != "nosniff" || h.Get("X-Frame-Options") != "DENY" {
		t.Errorf("headers: %v", h)
	}
	for _, tc := range []struct {
		path string
		want int
	}{
		{"/reviews/3", 404}, {"/reviews/3?preview=nope", 404}, {"/reviews/3?preview=" + f.tokens[1], 404},
		{"/reviews/3?preview=" + f.tokens[3], 200}, {"/reviews/3.md?preview=" + f.tokens[3], 200},
		{"/reviews/4", 404}, {"/reviews/4.md", 404}, {"/reviews/4?preview=" + f.tokens[4], 200},
		{"/reviews/99", 404}, {"/reviews/abc", 404}, {"/reviews/01", 404}, {"/reviews/-1", 404}, {"/reviews/0", 404},
		{"/reviews/1.txt", 404}, {"/reviews/1/extra", 404}, {"/reviews/1.md", 200}, {"/reviews/2", 200},
	} {
		resp, body := f.do(c, "GET", tc.path)
		if resp.StatusCode != tc.want {
			t.Errorf("GET %s = %d, want %d", tc.path, resp.StatusCode, tc.want)
		}
		if tc.want == 404 {
			if !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") || !strings.Contains(body, `"error"`) {
				t.Errorf("GET %s: 404 body %q", tc.path, body)
			}
			if strings.Contains(body, "Draft only") || strings.Contains(body, "Card data") {
				t.Errorf("GET %s leaks", tc.path)
			}
		}
	}
	resp, body = f.do(c, "GET", "/reviews/3?preview="+f.tokens[3])
	if resp.Header.Get("Cache-Control") != "no-store" || !strings.Contains(body, "Draft: not yet published") {
		t.Errorf("preview: %q", resp.Header.Get("Cache-Control"))
	}
	resp, _ = f.do(c, "POST", "/reviews/1")
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST: %d", resp.StatusCode)
	}
	resp, md := f.do(c, "GET", "/reviews/1.md")
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/markdown") || !strings.HasPrefix(md, "# Incident 1: Checkout fails for beds") {
		t.Errorf("markdown: %s\n%s", resp.Header.Get("Content-Type"), md)
	}
}

// Readers are counted once each, durably, by an anonymous signed cookie
// that counts when it comes back; previews of drafts and HEAD requests do
// not count.
func TestUniqueReaders(t *testing.T) {
	f := newFixture(t, nil)
	alice, bob := client(), client()
	resp, body := f.do(alice, "GET", "/reviews/1")
	var ck *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == site.ReaderCookie {
			ck = c
		}
	}
	if ck == nil || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/reviews/" || len(ck.Value) != 55 {
		t.Fatalf("reader cookie: %+v", ck)
	}
	if !strings.Contains(body, "0 readers") {
		t.Errorf("a first visit, before the cookie came back, counted:\n%s", body)
	}
	_, body = f.do(alice, "GET", "/reviews/1")
	if !strings.Contains(body, "1 reader<") {
		t.Errorf("the cookie came back but the reader was not counted:\n%s", body)
	}
	_, body = f.do(alice, "GET", "/reviews/1")
	if !strings.Contains(body, "1 reader<") {
		t.Errorf("the same reader counted twice:\n%s", body)
	}
	f.do(alice, "GET", "/reviews/1.md")
	f.do(bob, "HEAD", "/reviews/1")
	f.do(bob, "HEAD", "/reviews/1")
	f.do(bob, "GET", "/reviews/3?preview="+f.tokens[3])
	f.do(bob, "GET", "/reviews/3?preview="+f.tokens[3])
	f.do(bob, "GET", "/reviews/1")
	_, body = f.do(bob, "GET", "/reviews/1")
	if !strings.Contains(body, "2 readers") {
		t.Errorf("second reader not counted:\n%s", body)
	}
	// A forged cookie is replaced, not trusted, and counts nothing.
	for _, v := range []string{"../../etc", strings.Repeat("a", 32), strings.Repeat("a", 32) + "." + strings.Repeat("A", 22), flip(ck.Value, 40), flip(ck.Value, 3)} {
		req, _ := http.NewRequest("GET", f.srv.URL+"/reviews/2", nil)
		req.AddCookie(&http.Cookie{Name: site.ReaderCookie, Value: v})
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if len(resp.Cookies()) != 1 {
			t.Errorf("forged cookie %q kept", v)
		}
	}
	f.reopen()
	for n, want := range map[int64]int{1: 2, 2: 0, 3: 0} {
		r, _, _ := f.rs.Record(context.Background(), n)
		if r.ReaderCount() != want {
			t.Errorf("review %d: %d readers after reopening, want %d", n, r.ReaderCount(), want)
		}
	}
	// The database never holds the cookie itself.
	_ = f.store.Scan(context.Background(), reviewstore.BucketReaders, "", func(k string, _ []byte) error {
		if id, _, _ := strings.Cut(ck.Value, "."); strings.Contains(k, id) {
			t.Errorf("cookie stored as is: %s", k)
		}
		return nil
	})
}

// flip changes the character at i of a cookie to another of its alphabet.
func flip(v string, i int) string {
	c := byte('A')
	if v[i] == 'A' {
		c = 'B'
	}
	if v[i] >= '0' && v[i] <= '9' || v[i] >= 'a' && v[i] <= 'f' {
		c = '0' + (v[i]-'0'+1)%10 // a hex digit: another digit
	}
	return v[:i] + string(c) + v[i+1:]
}

// One client cannot inflate the count: 4,000 GETs without a cookie jar
// count nothing, while a browser that keeps its cookie counts once.
func TestCookielessGETsCountNothing(t *testing.T) {
	f := newFixture(t, nil)
	noJar := &http.Client{Timeout: 10 * time.Second}
	for i := 0; i < 4000; i++ {
		resp, err := noJar.Get(f.srv.URL + "/reviews/1")
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("GET %d: %d", i, resp.StatusCode)
		}
	}
	if c, _ := f.rs.ReaderCount(context.Background(), 1); c != 0 {
		t.Fatalf("4,000 cookie-less GETs counted %d readers", c)
	}
	browser := client()
	for i := 0; i < 3; i++ {
		f.do(browser, "GET", "/reviews/1")
	}
	if c, _ := f.rs.ReaderCount(context.Background(), 1); c != 1 {
		t.Errorf("a browser keeping its cookie counted %d readers, want 1", c)
	}
	n := 0
	_ = f.store.Scan(context.Background(), reviewstore.BucketReaders, "", func(string, []byte) error { n++; return nil })
	if n != 1 {
		t.Errorf("%d readers stored", n)
	}
}

// A client that takes a fresh cookie for every visit and brings it back
// once is bounded by the write rate: NewReadersPerMinute new readers a
// minute on the site's clock, then more as time passes.
func TestNewReadersAreRateLimited(t *testing.T) {
	f := newFixtureWith(t, nil, site.Options{NewReadersPerMinute: 10})
	harvest := func(times int) {
		for i := 0; i < times; i++ {
			c := client()
			f.do(c, "GET", "/reviews/1")
			f.do(c, "GET", "/reviews/1")
		}
	}
	harvest(50)
	if c, _ := f.rs.ReaderCount(context.Background(), 1); c != 10 {
		t.Fatalf("50 fresh cookies in no time counted %d readers, want the burst of 10", c)
	}
	f.advance(30 * time.Second)
	harvest(50)
	if c, _ := f.rs.ReaderCount(context.Background(), 1); c != 15 {
		t.Errorf("after 30 s, %d readers, want 15", c)
	}
	// A counted reader is still recognised when writes are exhausted.
	c := client()
	f.advance(time.Minute)
	f.do(c, "GET", "/reviews/2")
	f.do(c, "GET", "/reviews/2")
	harvest(20)
	_, body := f.do(c, "GET", "/reviews/2")
	if !strings.Contains(body, "1 reader<") {
		t.Errorf("a known reader, with no writes left:\n%s", body)
	}
}

// Behind an authenticating proxy, review.reader_header names the reader: a
// request counts as that person at once (case-insensitively), once. The
// header is ignored when it is not configured: anybody could send it.
func TestReaderHeader(t *testing.T) {
	get := func(f *fixture, who string) {
		req, _ := http.NewRequest("GET", f.srv.URL+"/reviews/1", nil)
		req.Header.Set("X-Forwarded-Email", who)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	f := newFixtureWith(t, nil, site.Options{ReaderHeader: "X-Forwarded-Email"})
	for _, who := range []string{"alice@example.com", "ALICE@example.com", "bob@example.com", "alice@example.com"} {
		get(f, who)
	}
	if c, _ := f.rs.ReaderCount(context.Background(), 1); c != 2 {
		t.Errorf("two people behind the proxy counted %d", c)
	}
	_ = f.store.Scan(context.Background(), reviewstore.BucketReaders, "", func(k string, _ []byte) error {
		if strings.Contains(k, "example.com") {
			t.Errorf("an identity stored as is: %s", k)
		}
		return nil
	})
	plain := newFixture(t, nil)
	for i := 0; i < 20; i++ {
		get(plain, "someone"+strconv.Itoa(i)+"@example.com")
	}
	if c, _ := plain.rs.ReaderCount(context.Background(), 1); c != 0 {
		t.Errorf("an unconfigured header counted %d readers", c)
	}
}

// A page view reads the same number of keys with 5 readers as with 1,000:
// it reads the review's counter, never its readers.
func TestPageViewCostDoesNotGrowWithReaders(t *testing.T) {
	f := newFixture(t, nil)
	browser := client()
	f.do(browser, "GET", "/reviews/1")
	addReaders := func(from, to int) {
		for i := from; i < to; i++ {
			if _, err := f.rs.Read(context.Background(), 1, "r"+strconv.Itoa(i), t0, nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	cost := func() int {
		f.kv.reset()
		for _, p := range []string{"/reviews/1", "/reviews/"} {
			if resp, _ := f.do(browser, "GET", p); resp.StatusCode != 200 {
				t.Fatalf("GET %s: %d", p, resp.StatusCode)
			}
		}
		return f.kv.count()
	}
	addReaders(0, 5)
	f.do(browser, "GET", "/reviews/1") // counted now: later views write nothing
	few := cost()
	addReaders(5, 1000)
	if many := cost(); many != few {
		t.Errorf("a page and the index read %d keys with 6 readers and %d with 1,001", few, many)
	}
	if _, body := f.do(browser, "GET", "/reviews/1"); !strings.Contains(body, "1001 readers") && !strings.Contains(body, "1,001 readers") {
		t.Errorf("count shown:\n%s", body)
	}
}

// Preview links expire: the same link is a 404 once its time has passed.
func TestPreviewLinksExpire(t *testing.T) {
	f := newFixture(t, nil)
	if resp, _ := f.do(client(), "GET", "/reviews/3?preview="+f.tokens[3]); resp.StatusCode != 200 {
		t.Fatalf("fresh preview: %d", resp.StatusCode)
	}
	f.advance(24 * time.Hour)
	if resp, _ := f.do(client(), "GET", "/reviews/3?preview="+f.tokens[3]); resp.StatusCode != 404 {
		t.Errorf("expired preview: %d", resp.StatusCode)
	}
}

// countingKV counts the keys the store reads (GetKV and every row a Scan
// visits).
type countingKV struct {
	reviewstore.Storage
	mu   sync.Mutex
	rows int
}

func (c *countingKV) add() { c.mu.Lock(); c.rows++; c.mu.Unlock() }

func (c *countingKV) reset() { c.mu.Lock(); c.rows = 0; c.mu.Unlock() }

func (c *countingKV) count() int { c.mu.Lock(); defer c.mu.Unlock(); return c.rows }

func (c *countingKV) GetKV(ctx context.Context, bucket, key string) ([]byte, bool, error) {
	c.add()
	return c.Storage.GetKV(ctx, bucket, key)
}

func (c *countingKV) Scan(ctx context.Context, bucket, prefix string, fn func(string, []byte) error) error {
	return c.Storage.Scan(ctx, bucket, prefix, func(k string, v []byte) error { c.add(); return fn(k, v) })
}

// Review text is rendered without raw HTML and without javascript: links.
func TestPageEscapesReviewText(t *testing.T) {
	f := newFixture(t, map[review.SectionID]string{
		review.SectionNarrative: "<script>alert(1)</script>\n\n[click](javascript:alert(1)) <img src=x onerror=alert(1)>",
	})
	_, body := f.do(client(), "GET", "/reviews/1")
	for _, bad := range []string{"<script>alert", "javascript:", "onerror=alert"} {
		if strings.Contains(body, bad) {
			t.Errorf("page contains %q", bad)
		}
	}
}

func TestStatsHandler(t *testing.T) {
	var gotPeriod time.Duration
	var gotService string
	h := site.StatsHandler(site.StatsOptions{
		Measure: func(ctx context.Context, period time.Duration, service string) (review.Measures, error) {
			gotPeriod, gotService = period, service
			return review.Measures{
				From: t0.Add(-period), To: t0, Service: service, Drills: 3, Incidents: 2, Majors: 1, Minors: 1, Restored: 2,
				MedianTimeToRestore: 30 * time.Minute, TotalLoss: incident.USD.Major(100_000),
				LossByService:         []review.Loss{{Name: "bedroom", Loss: incident.USD.Major(100_000), Incidents: 2}},
				EffectivenessMeasured: 1, LossAtTolerable: incident.USD.Major(336_000), Protected: incident.USD.Major(236_000), Effectiveness: 7024,
				ActionsDone: 1, MedianActionLeadTime: 36 * time.Hour,
				Reviews: []review.ReviewReaders{{Number: 1, Title: "T", Readers: 3}}, ReviewReaders: 3, UniqueReaders: 3,
			}, nil
		},
		Authorize: site.BearerAuthorizer("tok"),
		Services:  []string{"bedroom", "appointments"},
	})
	srv := httptest.NewServer(h)
	defer srv.Close()
	get := func(path, token, method string) (int, map[string]any) {
		req, _ := http.NewRequest(method, srv.URL+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	if code, _ := get("/api/stats", "", "GET"); code != 401 {
		t.Errorf("no token: %d", code)
	}
	if code, _ := get("/api/stats", "wrong", "GET"); code != 401 {
		t.Errorf("wrong token: %d", code)
	}
	code, m := get("/api/stats", "tok", "GET")
	if code != 200 || m["period"] != "30d" || m["majors"] != float64(1) || m["drills"] != float64(3) || gotPeriod != site.DefaultPeriod {
		t.Errorf("default: %d %v", code, m)
	}
	eff, _ := m["effectiveness"].(map[string]any)
	if eff["percent"] != 70.2 || eff["ratio_bp"] != float64(7024) {
		t.Errorf("effectiveness: %v", m["effectiveness"])
	}
	acts, _ := m["actions"].(map[string]any)
	lead, _ := acts["median_lead_time"].(map[string]any)
	if lead["seconds"] != float64(36*3600) || lead["hms"] != "36:00:00" || acts["mean_time_between_completions"] != nil {
		t.Errorf("actions: %v", acts)
	}
	// Durations have the shape of the incidents' ({seconds, hms}).
	ttr, _ := m["median_time_to_restore"].(map[string]any)
	if ttr["seconds"] != float64(1800) || ttr["hms"] != "0:30:00" {
		t.Errorf("median_time_to_restore: %v", m["median_time_to_restore"])
	}
	code, m = get("/api/stats?period=7d&service=BEDROOM", "tok", "GET")
	if code != 200 || gotService != "bedroom" || gotPeriod != 7*24*time.Hour || m["period"] != "7d" {
		t.Errorf("filtered: %d %v %q", code, m, gotService)
	}
	if code, m := get("/api/stats?period=soon", "tok", "GET"); code != 400 || m["error"] == nil {
		t.Errorf("bad period: %d %v", code, m)
	}
	if code, _ := get("/api/stats?service=nosuch", "tok", "GET"); code != 404 {
		t.Errorf("unknown service: %d", code)
	}
	if code, _ := get("/api/stats", "tok", "POST"); code != 405 {
		t.Errorf("POST: %d", code)
	}
	disabled := httptest.NewServer(site.StatsHandler(site.StatsOptions{Authorize: site.BearerAuthorizer("")}))
	defer disabled.Close()
	resp, err := http.Get(disabled.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Errorf("disabled API: %d", resp.StatusCode)
	}
}

// TestStatsWithoutDataAreNull: a measure nothing was measured for is null,
// not a zero that reads as "restored in no time" or "0% effective".
func TestStatsWithoutDataAreNull(t *testing.T) {
	h := site.StatsHandler(site.StatsOptions{
		Measure: func(ctx context.Context, period time.Duration, service string) (review.Measures, error) {
			return review.Measures{To: t0, Incidents: 1, Open: 1}, nil
		},
		Authorize: site.BearerAuthorizer("tok"),
	})
	req := httptest.NewRequest("GET", "/api/stats", nil)
	req.Header.Set("Authorization", "Bearer tok")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var m map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil || rec.Code != 200 {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	acts, _ := m["actions"].(map[string]any)
	for name, v := range map[string]any{
		"median_time_to_restore": m["median_time_to_restore"], "p90_time_to_restore": m["p90_time_to_restore"],
		"effectiveness": m["effectiveness"], "actions.median_lead_time": acts["median_lead_time"],
		"actions.mean_time_between_completions": acts["mean_time_between_completions"],
	} {
		if v != nil {
			t.Errorf("%s = %v, want null", name, v)
		}
	}
	for _, key := range []string{"median_time_to_restore", "effectiveness"} {
		if _, present := m[key]; !present {
			t.Errorf("%s is left out instead of null", key)
		}
	}
}

// The site and /api/stats mount on the same mux as the HTTP API, as serve
// wires them, without conflicting patterns.
func TestRoutesCoexistWithAPI(t *testing.T) {
	f := newFixture(t, nil)
	api := httpapi.New(httpapi.Options{APIToken: "tok"})
	mux := http.NewServeMux()
	api.Routes(mux)
	s, err := site.New(site.Options{Reviews: f.rs, Metrics: api.Metrics()})
	if err != nil {
		t.Fatal(err)
	}
	s.Routes(mux)
	mux.Handle("/api/stats", api.Metrics().Instrument(site.RouteStats, site.StatsHandler(site.StatsOptions{
		Measure: func(context.Context, time.Duration, string) (review.Measures, error) {
			return review.Measures{To: t0}, nil
		},
		Authorize: site.BearerAuthorizer("tok"),
	})))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	for _, tc := range []struct {
		method, path, token string
		want                int
	}{
		{"GET", "/api/stats", "", 401}, {"GET", "/api/stats", "tok", 200}, {"POST", "/api/stats", "tok", 405},
		{"GET", "/api/nothing", "tok", 404}, {"GET", "/reviews/", "", 200}, {"GET", "/reviews/1", "", 200},
		{"GET", "/healthz", "", 200},
	} {
		req, _ := http.NewRequest(tc.method, srv.URL+tc.path, nil)
		if tc.token != "" {
			req.Header.Set("Authorization", "Bearer "+tc.token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s %s = %d, want %d", tc.method, tc.path, resp.StatusCode, tc.want)
		}
	}
	if api.Metrics().Requests(site.RouteStats, 200) != 1 || api.Metrics().Requests(site.RouteReview, 200) != 1 {
		t.Errorf("requests not counted")
	}
}

// TestBrowsersGetHTMLErrors: a browser (Accept: text/html) asking for a
// review that is not there, a draft without its token, or an unknown page
// gets an HTML page linking back to the index, under the same strict
// headers; API clients still get the JSON error.
func TestBrowsersGetHTMLErrors(t *testing.T) {
	f := newFixture(t, nil)
	const browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
	get := func(path, accept string) (*http.Response, string) {
		req, _ := http.NewRequest("GET", f.srv.URL+path, nil)
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	for _, path := range []string{"/reviews/99", "/reviews/3", "/reviews/4", "/reviews/x/y"} {
		resp, body := get(path, browser)
		if resp.StatusCode != 404 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") ||
			!strings.Contains(body, "<!doctype html>") || !strings.Contains(body, `<a href="/reviews/">`) {
			t.Errorf("browser GET %s: %d %s\n%s", path, resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("browser GET %s: headers %v", path, resp.Header)
		}
		resp, body = get(path, "")
		var e struct{ Error string }
		if resp.StatusCode != 404 || json.Unmarshal([]byte(body), &e) != nil || e.Error == "" {
			t.Errorf("API GET %s: %d %s", path, resp.StatusCode, body)
		}
	}
	if resp, body := get("/reviews/1", browser); resp.StatusCode != 200 || !strings.Contains(body, "Checkout fails for beds") {
		t.Errorf("a published review: %d", resp.StatusCode)
	}
}
