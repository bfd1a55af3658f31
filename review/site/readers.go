package site

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Purposes of the keys the site asks the store for.
const (
	keyCookie = "reader-cookie" // signs reader cookies
	keyReader = "reader-id"     // hashes reader IDs before they are stored
)

// countReader counts the request's reader of review n and returns the
// number of readers to show (current when the request does not count).
func (s *Site) countReader(w http.ResponseWriter, r *http.Request, n int64, current int) (int, error) {
	reader, ok, err := s.reader(w, r)
	if err != nil || !ok {
		return current, err
	}
	return s.opts.Reviews.Read(r.Context(), n, reader, s.now(), s.limit.allow)
}

// reader returns the stored ID of the request's reader, and whether the
// request counts: it names an identity in Options.ReaderHeader, or brings
// back a reader cookie the site signed. Without either, it sets a new
// cookie, which counts when it comes back.
func (s *Site) reader(w http.ResponseWriter, r *http.Request) (string, bool, error) {
	ctx := r.Context()
	if h := s.opts.ReaderHeader; h != "" {
		if who := strings.TrimSpace(r.Header.Get(h)); who != "" {
			id, err := s.readerID(r, "identity\x00"+strings.ToLower(who))
			return id, err == nil, err
		}
	}
	key, err := s.opts.Reviews.Key(ctx, keyCookie)
	if err != nil {
		return "", false, err
	}
	if c, err := r.Cookie(ReaderCookie); err == nil {
		if id, ok := openCookie(key, c.Value); ok {
			rid, err := s.readerID(r, "cookie\x00"+id)
			return rid, err == nil, err
		}
	}
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", false, err
	}
	secure := s.opts.SecureCookie || r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
	http.SetCookie(w, &http.Cookie{
		Name: ReaderCookie, Value: sealCookie(key, hex.EncodeToString(b)), Path: "/reviews/", MaxAge: 2 * 365 * 24 * 3600,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: secure,
	})
	return "", false, nil
}

// readerID is the stored form of a reader: a keyed hash, so the database
// never holds a cookie that could be replayed, nor a person's identity.
func (s *Site) readerID(r *http.Request, who string) (string, error) {
	key, err := s.opts.Reviews.Key(r.Context(), keyReader)
	if err != nil {
		return "", err
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(who))
	return hex.EncodeToString(m.Sum(nil)[:16]), nil
}

// sealCookie signs a reader cookie's random ID: "<id>.<signature>".
func sealCookie(key []byte, id string) string {
	return id + "." + base64.RawURLEncoding.EncodeToString(cookieMAC(key, id))
}

// openCookie returns the ID of a cookie the site signed.
func openCookie(key []byte, v string) (string, bool) {
	id, sig, ok := strings.Cut(v, ".")
	if !ok || len(id) != 32 || len(sig) != 22 {
		return "", false
	}
	if _, err := hex.DecodeString(id); err != nil {
		return "", false
	}
	got, err := base64.RawURLEncoding.Strict().DecodeString(sig)
	return id, err == nil && hmac.Equal(got, cookieMAC(key, id))
}

func cookieMAC(key []byte, id string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id))
	return m.Sum(nil)[:16]
}

// limiter is a token bucket on the injected clock: up to n at once,
// refilled at n per period.
type limiter struct {
	mu     sync.Mutex
	n      float64
	per    time.Duration
	tokens float64
	last   time.Time
	now    func() time.Time
}

func newLimiter(n int, per time.Duration, now func() time.Time) *limiter {
	return &limiter{n: float64(n), per: per, tokens: float64(n), now: now}
}

// allow takes a token if there is one.
func (l *limiter) allow() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if !l.last.IsZero() && now.After(l.last) {
		l.tokens = min(l.n, l.tokens+l.n*float64(now.Sub(l.last))/float64(l.per))
	}
	if l.last.IsZero() || now.After(l.last) {
		l.last = now
	}
	if l.tokens < 1 {
		return false
	}
	l.tokens--
	return true
}
