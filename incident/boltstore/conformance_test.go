package boltstore

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/incident/desk"
	"github.com/incidentbot/incidentbot/incident/desk/storetest"
)

// The store passes the storage conformance suite. bbolt allows one process
// per file, so another replica's handle is the store itself.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T, now func() time.Time) storetest.Backend {
		path := filepath.Join(t.TempDir(), "incidentbot.db")
		s := openStore(t, path, Options{Now: now})
		return storetest.Backend{
			Store: s,
			Reopen: func(t *testing.T) desk.Storage {
				mustCheck(t, s)
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
				s = openStore(t, path, Options{Now: now})
				return s
			},
			Replica: func(*testing.T) desk.Storage { return s },
		}
	})
}

var _ desk.Storage = (*Store)(nil)
