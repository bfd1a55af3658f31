package boltstore

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// Index keys come from outside: an Alertmanager groupKey, a service name
// from an alert label, a webhook or event id. bbolt refuses keys over 32 KiB
// (bolt.MaxKeySize), and long keys make every page they sit on slow, so
// keys longer than maxIndexKey are stored as a hash of themselves. The same
// key always maps to the same stored key, so lookups, deduplication and
// grouping work alike for short and long keys.
const maxIndexKey = 1024

// hashedMark starts a hashed key. A key that itself starts with the mark
// is hashed too, so no short key can pass for a long one's hash.
const hashedMark = "\x00sha256:"

// indexKey is the stored form of an index key.
func indexKey(k string) []byte {
	if len(k) <= maxIndexKey && !strings.HasPrefix(k, hashedMark) {
		return []byte(k)
	}
	sum := sha256.Sum256([]byte(k))
	return []byte(hashedMark + hex.EncodeToString(sum[:]))
}

// getIndexed looks an index key up. A key stored as is by a version that
// did not hash keys between maxIndexKey and bolt.MaxKeySize is still found.
func getIndexed(b *bolt.Bucket, k string) []byte {
	if v := b.Get(indexKey(k)); v != nil {
		return v
	}
	if len(k) > maxIndexKey && len(k) <= bolt.MaxKeySize && !strings.HasPrefix(k, hashedMark) {
		return b.Get([]byte(k))
	}
	return nil
}

// clipKey shortens a key for an error message or a log line.
func clipKey(k string) string {
	const n = 100
	if len(k) <= n {
		return k
	}
	return k[:n] + "…"
}
