// Package site serves the organisation's post-incident review site:
//
//	GET /reviews/               the published reviews, newest first (?service= &team=)
//	GET /reviews/{number}       one review as HTML
//	GET /reviews/{number}.md    the same review as Markdown
//
// Only published reviews of non-private incidents are public. A draft, or
// the review of a security incident, is shown only with its preview token
// (?preview=…), which the bot hands to the incident's channel; otherwise it
// is a 404, as if it did not exist. Pages carry the renderer's strict
// Content-Security-Policy (no scripts at all), nosniff and no-store for
// previews. Unique readers are counted with an anonymous random reader ID
// kept in an HttpOnly, SameSite=Lax cookie (hashed before it is stored).
//
// StatsHandler serves GET /api/stats, the measures as JSON, behind the
// caller's authorizer (the API's bearer token).
package site

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
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
	// Get returns a drafted or published review with its readers.
	Get(ctx context.Context, n int64) (*review.Review, bool, error)
	// List returns every drafted or published review with its readers.
	List(ctx context.Context) ([]*review.Review, error)
	// Read records a unique reader of review n, durably.
	Read(ctx context.Context, n int64, reader string, at time.Time) error
	// CheckPreview reports whether token is review n's preview token.
	CheckPreview(ctx context.Context, n int64, token string) (bool, error)
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
}

// Site serves the review site.
type Site struct {
	opts Options
	rd   *review.Renderer
	log  *slog.Logger
	now  func() time.Time
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
		valid, err := s.opts.Reviews.CheckPreview(ctx, n, tok)
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
		reader := s.reader(w, r)
		if err := s.opts.Reviews.Read(ctx, n, reader, s.now()); err != nil {
			s.fail(w, r, err)
			return
		}
		if rv.Readers == nil {
			rv.Readers = map[string]time.Time{}
		}
		if _, seen := rv.Readers[reader]; !seen {
			rv.Readers[reader] = s.now()
		}
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

// reader returns the request's anonymous reader ID, setting the cookie
// when the request has none. The stored ID is a hash of the cookie, so the
// database never holds a value that could be replayed as someone's cookie.
func (s *Site) reader(w http.ResponseWriter, r *http.Request) string {
	val := ""
	if c, err := r.Cookie(ReaderCookie); err == nil && validCookie(c.Value) {
		val = c.Value
	} else {
		b := make([]byte, 16)
		_, _ = rand.Read(b)
		val = hex.EncodeToString(b)
		secure := s.opts.SecureCookie || r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
		http.SetCookie(w, &http.Cookie{
			Name: ReaderCookie, Value: val, Path: "/reviews/", MaxAge: 2 * 365 * 24 * 3600,
			HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: secure,
		})
	}
	sum := sha256.Sum256([]byte("incidentbot reader\x00" + val))
	return hex.EncodeToString(sum[:16])
}

func validCookie(v string) bool {
	if len(v) != 32 {
		return false
	}
	_, err := hex.DecodeString(v)
	return err == nil
}
