// Package site serves the organisation's post-incident review site:
//
//	GET /reviews/               the published reviews, newest first (?service= &team=)
//	GET /reviews/{number}       one review as HTML
//	GET /reviews/{number}.md    the same review as Markdown
//
// Only published reviews of non-private incidents are public. A draft, or
// the review of a security incident, is shown only with a preview token
// (?preview=…): signed by the store's secret for that review, and expiring;
// the bot hands it only to people who may read the review. Otherwise it is a
// 404, as if it did not exist. Pages carry the renderer's strict
// Content-Security-Policy (no scripts at all, same-origin images only),
// nosniff and no-store for previews.
//
// Unique readers of published reviews are counted so that one client cannot
// inflate them: a reader is either the identity an authenticating proxy
// puts in Options.ReaderHeader, or an anonymous random ID in a signed,
// HttpOnly, SameSite=Lax cookie that counts only when it comes back on a
// later request (a client that never keeps cookies counts nothing, and one
// that forges them counts nothing either). New readers are written at most
// Options.NewReadersPerMinute a minute; stored reader IDs are keyed hashes,
// never the cookie or the identity itself. Each review keeps its count in a
// counter: a page view reads it, never every reader.
//
// StatsHandler serves GET /api/stats, the measures as JSON, behind the
// caller's authorizer (the API's bearer token).
package site

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/incidentbot/incidentbot/incident/httpapi"
	"github.com/incidentbot/incidentbot/review"
)

// Reviews is what the site reads reviews from; *reviewstore.Store
// satisfies it.
type Reviews interface {
	// Get returns a drafted or published review with its number of
	// readers (ReaderCount), without loading every reader.
	Get(ctx context.Context, n int64) (*review.Review, bool, error)
	// List returns every drafted or published review with its number of
	// readers.
	List(ctx context.Context) ([]*review.Review, error)
	// Read counts a unique reader of review n, durably, once; a new reader
	// only when allow agrees. It returns the number of readers after.
	Read(ctx context.Context, n int64, reader string, at time.Time, allow func() bool) (int, error)
	// CheckPreview reports whether token is a valid preview token of
	// review n at now.
	CheckPreview(ctx context.Context, n int64, token string, now time.Time) (bool, error)
	// Key returns a secret key for one purpose, the same for every process
	// on the database.
	Key(ctx context.Context, purpose string) ([]byte, error)
}

// Options configure the site.
type Options struct {
	Reviews  Reviews
	Renderer *review.Renderer // nil: review.Default()
	Logger   *slog.Logger
	Now      func() time.Time
	// Metrics counts requests (share the HTTP API's); nil counts nothing.
	Metrics *httpapi.Metrics
	// SecureCookie marks the reader cookie Secure (serve over HTTPS). When
	// false, it is still Secure on requests that arrived over TLS or with
	// X-Forwarded-Proto: https.
	SecureCookie bool
	// ReaderHeader names a request header carrying the reader's identity,
	// set by an authenticating proxy in front of the site (e.g.
	// X-Forwarded-Email; review.reader_header): a request that carries it
	// counts as that reader at once, without a cookie. Set it only when the
	// proxy sets the header on every request and drops it from clients'
	// requests: otherwise anyone can send it. Empty: cookies only.
	ReaderHeader string
	// NewReadersPerMinute bounds the new readers written per minute across
	// the site (a burst of as many, refilled evenly); a reader beyond it is
	// not counted. Zero: DefaultNewReadersPerMinute.
	NewReadersPerMinute int
}

// DefaultNewReadersPerMinute is the default bound of Options.NewReadersPerMinute.
const DefaultNewReadersPerMinute = 60

// Site serves the review site.
type Site struct {
	opts  Options
	rd    *review.Renderer
	log   *slog.Logger
	now   func() time.Time
	limit *limiter
}

// New returns a Site.
func New(o Options) (*Site, error) {
	rd := o.Renderer
	if rd == nil {
		var err error
		if rd, err = review.Default(); err != nil {
			return nil, err
		}
	}
	s := &Site{opts: o, rd: rd, log: o.Logger, now: o.Now}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	per := o.NewReadersPerMinute
	if per <= 0 {
		per = DefaultNewReadersPerMinute
	}
	s.limit = newLimiter(per, time.Minute, s.now)
	return s, nil
}

// Route labels for metrics.
const (
	RouteIndex  = "/reviews/"
	RouteReview = "/reviews/{number}"
	RouteStats  = "/api/stats"
)

// ReaderCookie is the name of the anonymous reader cookie.
const ReaderCookie = "ib_reader"

// Routes registers the site on mux: GET (and HEAD) /reviews/, /reviews/{number}
// and /reviews/{number}.md; /reviews redirects to /reviews/; other methods
// get a JSON 405.
func (s *Site) Routes(mux *http.ServeMux) {
	m := s.opts.Metrics
	mux.Handle("GET /reviews/{$}", m.Instrument(RouteIndex, http.HandlerFunc(s.index)))
	mux.Handle("GET /reviews/{number}", m.Instrument(RouteReview, http.HandlerFunc(s.page)))
	mux.Handle("GET /reviews", http.RedirectHandler("/reviews/", http.StatusMovedPermanently))
	mux.Handle("/reviews/", m.Instrument(RouteIndex, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			s.headers(w, false)
			s.writeError(w, r, http.StatusNotFound, "There is no such page on the review site.")
			return
		}
		w.Header().Set("Allow", "GET, HEAD")
		httpapi.WriteError(w, http.StatusMethodNotAllowed, "method "+r.Method+" is not allowed; use GET")
	})))
}

func (s *Site) headers(w http.ResponseWriter, private bool) {
	h := w.Header()
	h.Set("Content-Security-Policy", s.rd.ContentSecurityPolicy())
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	if private {
		h.Set("Cache-Control", "no-store")
		h.Set("X-Robots-Tag", "noindex")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
}

func (s *Site) fail(w http.ResponseWriter, r *http.Request, err error) {
	s.log.Error("review site", "path", r.URL.Path, "err", err)
	s.writeError(w, r, http.StatusInternalServerError, "The review could not be shown just now; the problem has been logged.")
}

func (s *Site) index(w http.ResponseWriter, r *http.Request) {
	list, err := s.opts.Reviews.List(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	q := r.URL.Query()
	f := review.IndexFilter{Service: clipParam(q.Get("service")), Team: clipParam(q.Get("team"))}
	var b bytes.Buffer
	if err := s.rd.RenderIndex(&b, list, f); err != nil {
		s.fail(w, r, err)
		return
	}
	s.headers(w, false)
	s.write(w, "text/html; charset=utf-8", b.Bytes())
}

func clipParam(v string) string {
	v = strings.TrimSpace(v)
	if len(v) > 200 {
		v = v[:200]
	}
	return v
}

func (s *Site) write(w http.ResponseWriter, contentType string, body []byte) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

func (s *Site) notFound(w http.ResponseWriter, r *http.Request) {
	s.headers(w, true)
	s.writeError(w, r, http.StatusNotFound, "There is no published review here. A draft is shown only through the preview link posted in its incident channel.")
}

func (s *Site) page(w http.ResponseWriter, r *http.Request) {
	raw := r.PathValue("number")
	md := strings.HasSuffix(raw, ".md")
	raw = strings.TrimSuffix(raw, ".md")
	n, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || n <= 0 || raw != strconv.FormatInt(n, 10) {
		s.notFound(w, r)
		return
	}
	ctx := r.Context()
	rv, ok, err := s.opts.Reviews.Get(ctx, n)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if !ok {
		s.notFound(w, r)
		return
	}
	public := rv.Published() && !rv.Private
	if !public {
		tok := r.URL.Query().Get("preview")
		valid, err := s.opts.Reviews.CheckPreview(ctx, n, tok, s.now())
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if !valid {
			s.notFound(w, r)
			return
		}
	}
	if rv.Published() && r.Method == http.MethodGet {
		count, err := s.countReader(w, r, n, rv.ReaderCount())
		if err != nil {
			s.fail(w, r, err)
			return
		}
		rv.Readers, rv.ReaderTotal = nil, count
	}
	s.headers(w, !public)
	var b bytes.Buffer
	if md {
		text, err := s.rd.Markdown(rv)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		b.WriteString(text)
		w.Header().Set("Content-Disposition", `inline; filename="incident-`+raw+`-review.md"`)
		s.write(w, "text/markdown; charset=utf-8", b.Bytes())
		return
	}
	if err := s.rd.RenderPage(&b, rv, rv.ReaderCount()); err != nil {
		s.fail(w, r, err)
		return
	}
	s.write(w, "text/html; charset=utf-8", b.Bytes())
}
