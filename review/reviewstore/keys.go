package reviewstore

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// BucketKeys holds the store's secret, made once per database.
const BucketKeys = "review_keys"

const keySecret = "secret"

// secret returns the database's 256-bit secret, making it on first use.
// It never leaves the store: callers get keys derived from it.
func (s *Store) secret(ctx context.Context) ([]byte, error) {
	s.keyMu.Lock()
	defer s.keyMu.Unlock()
	if s.key != nil {
		return s.key, nil
	}
	raw, ok, err := s.kv.GetKV(ctx, BucketKeys, keySecret)
	if err != nil {
		return nil, err
	}
	if ok {
		k, err := hex.DecodeString(string(raw))
		if err != nil || len(k) != 32 {
			return nil, fmt.Errorf("reviewstore: the stored secret (%s/%s) is damaged", BucketKeys, keySecret)
		}
		s.key = k
		return k, nil
	}
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return nil, fmt.Errorf("reviewstore: random secret: %w", err)
	}
	if err := s.kv.Put(ctx, BucketKeys, keySecret, []byte(hex.EncodeToString(k))); err != nil {
		return nil, err
	}
	s.key = k
	return k, nil
}

// Key returns a 256-bit key for one purpose ("reader-cookie", say), derived
// from the database's secret: the same for every process on the database,
// different for every purpose.
func (s *Store) Key(ctx context.Context, purpose string) ([]byte, error) {
	sec, err := s.secret(ctx)
	if err != nil {
		return nil, err
	}
	m := hmac.New(sha256.New, sec)
	m.Write([]byte("incidentbot review key\x00" + purpose))
	return m.Sum(nil), nil
}

// previewMAC is the signature of review n's preview link expiring at exp.
func (s *Store) previewMAC(ctx context.Context, n, exp int64) ([]byte, error) {
	k, err := s.Key(ctx, "preview")
	if err != nil {
		return nil, err
	}
	m := hmac.New(sha256.New, k)
	m.Write([]byte(strconv.FormatInt(n, 10) + "\x00" + strconv.FormatInt(exp, 10)))
	return m.Sum(nil)[:16], nil
}

// PreviewToken returns a token that shows review n (a draft, or a private
// review) until expires: "<unix expiry>.<signature>", an HMAC over the
// number and the expiry with a key of the database's secret. Nothing is
// stored per token; an expired link is replaced by asking for a new one.
func (s *Store) PreviewToken(ctx context.Context, n int64, expires time.Time) (string, error) {
	exp := expires.Unix()
	mac, err := s.previewMAC(ctx, n, exp)
	if err != nil {
		return "", err
	}
	return strconv.FormatInt(exp, 10) + "." + base64.RawURLEncoding.EncodeToString(mac), nil
}

// CheckPreview reports whether token is a valid preview token of review n
// at now: signed by this database, for this review, not expired. Tokens of
// earlier versions (random, unsigned, never expiring) are not.
func (s *Store) CheckPreview(ctx context.Context, n int64, token string, now time.Time) (bool, error) {
	es, sig, ok := strings.Cut(token, ".")
	if !ok || len(es) > 12 || len(sig) != 22 {
		return false, nil
	}
	exp, err := strconv.ParseInt(es, 10, 64)
	if err != nil || es != strconv.FormatInt(exp, 10) || !now.Before(time.Unix(exp, 0)) {
		return false, nil
	}
	got, err := base64.RawURLEncoding.Strict().DecodeString(sig)
	if err != nil {
		return false, nil
	}
	want, err := s.previewMAC(ctx, n, exp)
	if err != nil {
		return false, err
	}
	return hmac.Equal(got, want), nil
}
