package pgstore

import (
	"context"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/incident/desk"
	"github.com/incidentbot/incidentbot/incident/desk/storetest"
	"github.com/incidentbot/incidentbot/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// open opens a store on url, closed at the end of the test.
func open(t *testing.T, url string, opts Options) *Store {
	t.Helper()
	s, err := Open(context.Background(), url, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// The store passes the storage conformance suite on a real PostgreSQL;
// another replica's handle is a second pool on the same database.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T, now func() time.Time) storetest.Backend {
		url := pgtest.DB(t)
		s := open(t, url, Options{Now: now})
		return storetest.Backend{
			Store: s,
			Reopen: func(t *testing.T) desk.Storage {
				_ = s.Close()
				s = open(t, url, Options{Now: now})
				return s
			},
			Replica: func(t *testing.T) desk.Storage { return open(t, url, Options{Now: now}) },
		}
	})
}

var _ desk.Storage = (*Store)(nil)
