package httpapi

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
	"time"
)

// Bearer checks "Authorization: Bearer <token>" against a configured token
// in constant time (both hashed, so neither length leaks). The zero value
// has no token.
type Bearer struct {
	sum [sha256.Size]byte
	set bool
}

// NewBearer returns the check for token; an empty token sets none.
func NewBearer(token string) Bearer {
	if token == "" {
		return Bearer{}
	}
	return Bearer{sum: sha256.Sum256([]byte(token)), set: true}
}

// Set reports whether a token is configured.
func (b Bearer) Set() bool { return b.set }

// Allows reports whether the request carries the token.
func (b Bearer) Allows(r *http.Request) bool {
	scheme, tok, ok := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
	tok = strings.TrimSpace(tok)
	if !b.set || !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return false
	}
	got := sha256.Sum256([]byte(tok))
	return subtle.ConstantTimeCompare(got[:], b.sum[:]) == 1
}

// WithDeadline gives every request h serves a deadline, so that a handler
// waiting on storage (PostgreSQL unreachable, a hung query) answers 5xx in
// time instead of holding the sender.
func WithDeadline(d time.Duration, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), d)
		defer cancel()
		h.ServeHTTP(w, r.WithContext(ctx))
	})
}
