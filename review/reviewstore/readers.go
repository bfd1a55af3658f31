package reviewstore

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/incidentbot/incidentbot/incident"
)

// BucketReaderCounts holds one counter per review: its number of unique
// readers, so that showing a review never scans its readers.
const BucketReaderCounts = "review_reader_counts"

// ReaderCount returns review n's number of unique readers.
func (s *Store) ReaderCount(ctx context.Context, n int64) (int, error) {
	s.readMu.Lock()
	defer s.readMu.Unlock()
	return s.countLocked(ctx, n)
}

// countLocked reads review n's counter. A database from before the
// counters has readers but no counter: they are counted once and the
// count is kept.
func (s *Store) countLocked(ctx context.Context, n int64) (int, error) {
	raw, ok, err := s.kv.GetKV(ctx, BucketReaderCounts, key(n))
	if err != nil {
		return 0, err
	}
	if ok {
		c, err := strconv.Atoi(string(raw))
		if err != nil || c < 0 {
			return 0, fmt.Errorf("reviewstore: reader count of review %d: %q", n, raw)
		}
		return c, nil
	}
	c := 0
	if err := s.kv.Scan(ctx, BucketReaders, key(n)+"/", func(string, []byte) error { c++; return nil }); err != nil {
		return 0, err
	}
	return c, s.kv.Put(ctx, BucketReaderCounts, key(n), []byte(strconv.Itoa(c)))
}

// counts returns the counters of the given reviews, by number.
func (s *Store) counts(ctx context.Context, ns []int64) (map[int64]int, error) {
	s.readMu.Lock()
	defer s.readMu.Unlock()
	out := map[int64]int{}
	err := s.kv.Scan(ctx, BucketReaderCounts, "", func(k string, v []byte) error {
		n, err1 := strconv.ParseInt(k, 10, 64)
		c, err2 := strconv.Atoi(string(v))
		if err1 == nil && err2 == nil {
			out[n] = c
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, n := range ns {
		if _, ok := out[n]; !ok {
			if out[n], err = s.countLocked(ctx, n); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// Read counts reader as a reader of review n from at, once: a reader
// already counted changes nothing (their first read is kept). A new reader
// is written only when allow (nil: always) agrees, so that the caller can
// bound the writes. It returns the number of unique readers after.
func (s *Store) Read(ctx context.Context, n int64, reader string, at time.Time, allow func() bool) (int, error) {
	if reader == "" || strings.ContainsAny(reader, "/\x00") {
		return 0, incident.Errorf(incident.EINVALID, "a reader ID is required and may not contain / or NUL")
	}
	s.readMu.Lock()
	defer s.readMu.Unlock()
	c, err := s.countLocked(ctx, n)
	if err != nil {
		return 0, err
	}
	k := key(n) + "/" + reader
	if _, ok, err := s.kv.GetKV(ctx, BucketReaders, k); err != nil || ok {
		return c, err
	}
	if allow != nil && !allow() {
		return c, nil
	}
	// The reader first: a crash in between undercounts by one, and the
	// reader is not counted twice.
	if err := s.kv.Put(ctx, BucketReaders, k, []byte(at.UTC().Format(time.RFC3339Nano))); err != nil {
		return c, err
	}
	return c + 1, s.kv.Put(ctx, BucketReaderCounts, key(n), []byte(strconv.Itoa(c+1)))
}

// readers loads every reader of every review, by review: for the measures
// (unique readers across reviews), never for showing a review.
func (s *Store) readers(ctx context.Context) (map[int64]map[string]time.Time, error) {
	out := map[int64]map[string]time.Time{}
	err := s.kv.Scan(ctx, BucketReaders, "", func(k string, v []byte) error {
		ns, reader, ok := strings.Cut(k, "/")
		n, err := strconv.ParseInt(ns, 10, 64)
		if !ok || err != nil || reader == "" {
			return nil
		}
		at, _ := time.Parse(time.RFC3339Nano, string(v))
		if out[n] == nil {
			out[n] = map[string]time.Time{}
		}
		out[n][reader] = at
		return nil
	})
	return out, err
}
