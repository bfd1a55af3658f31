package httpapi

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
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
