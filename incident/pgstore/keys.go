package pgstore

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"unicode/utf8"

	"github.com/incidentbot/incidentbot/incident"
)

// Index keys come from outside: an Alertmanager groupKey, a service name
// from an alert label, a webhook or event id. A btree entry holds at most
// about 2.7 KB and text holds neither NUL nor invalid UTF-8, so keys longer
// than maxIndexKey, or that text cannot hold, are stored as a hash of
// themselves (as the bbolt store hashes long keys). The same key always
// maps to the same stored key: lookups, deduplication and grouping work
// alike for every key.
const maxIndexKey = 1024

// hashedMark starts a hashed key; a key that itself starts with it is
// hashed too, so no short key passes for a long one's hash. bbolt's mark
// starts with NUL, which text cannot hold: migrate translates it.
const (
	hashedMark     = "\x01sha256:"
	boltHashedMark = "\x00sha256:"
)

// indexKey is the stored form of an index key.
func indexKey(k string) string {
	if len(k) <= maxIndexKey && storable(k) && !strings.HasPrefix(k, hashedMark) {
		return k
	}
	sum := sha256.Sum256([]byte(k))
	return hashedMark + hex.EncodeToString(sum[:])
}

// storable says whether text can hold s.
func storable(s string) bool {
	return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0
}

// fromBolt translates a key the bbolt store hashed to this store's form.
func fromBolt(k string) string {
	if rest, ok := strings.CutPrefix(k, boltHashedMark); ok {
		return hashedMark + rest
	}
	return indexKey(k)
}

// maxStoredKey bounds the keys stored as they are (job IDs, adapter state
// keys and buckets): longer ones, or ones text cannot hold, are invalid
// input, refused with incident.EINVALID rather than retried.
const maxStoredKey = 2048

func checkStoredKey(what, k string) error {
	if len(k) > maxStoredKey || !storable(k) {
		return incident.Errorf(incident.EINVALID, "%s %q is over %d bytes or not UTF-8 text", what, clipKey(k), maxStoredKey)
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
