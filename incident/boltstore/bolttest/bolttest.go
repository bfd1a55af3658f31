// Package bolttest opens bbolt stores for tests, the way bbolt's own
// btesting does: one helper that opens a store on a real file in the test's
// temporary directory and, when the test ends, runs the consistency check
// and closes it.
package bolttest

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/incidentbot/incidentbot/incident"
	"github.com/incidentbot/incidentbot/incident/boltstore"
	"github.com/incidentbot/incidentbot/incident/desk"
	"github.com/incidentbot/incidentbot/incident/incidenttest"
)

// Open opens a store in a fresh file; the test fails if the file is not
// consistent when it ends.
func Open(t testing.TB, opts boltstore.Options) *boltstore.Store {
	t.Helper()
	return OpenPath(t, filepath.Join(t.TempDir(), "incidentbot.db"), opts)
}

// OpenPath opens the store at path, checked and closed when the test ends.
func OpenPath(t testing.TB, path string, opts boltstore.Options) *boltstore.Store {
	t.Helper()
	s, err := boltstore.Open(path, opts)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	t.Cleanup(func() { Close(t, s) })
	return s
}

// Close checks and closes a store; a store the test closed itself is
// not checked again.
func Close(t testing.TB, s *boltstore.Store) {
	t.Helper()
	if err := s.Check(); err != nil && !errors.Is(err, bolterrors.ErrDatabaseNotOpen) {
		t.Errorf("database check: %v", err)
	}
	_ = s.Close()
}

// Incidents declares n incidents of the furniture retailer's bedroom
// service at t, numbered 1…n, for tests that need incidents to hang
// records on.
func Incidents(t testing.TB, s *boltstore.Store, n int, at time.Time) {
	t.Helper()
	p := incidenttest.Furniture().Policy
	svc := incident.Service{Name: "bedroom", Team: "bedroom-team", HourlyExposure: incident.USD.Major(200_000)}
	for range n {
		_, err := s.Create(context.Background(), func(num int64) (*incident.Incident, []desk.Job, error) {
			inc, err := incident.Declare(p, num, incident.Declaration{Title: fmt.Sprintf("Incident %d", num), Service: svc, Actor: "U0TEST", StartedAt: at}, at)
			return inc, nil, err
		})
		if err != nil {
			t.Fatalf("declare: %v", err)
		}
	}
}
