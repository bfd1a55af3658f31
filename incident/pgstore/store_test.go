package pgstore

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/incidentbot/incidentbot/internal/pgtest"
)

// Replicas starting together on an empty database apply each migration
// once; a restart finds nothing to do.
func TestMigrationsOnceAcrossReplicas(t *testing.T) {
	url := pgtest.DB(t)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := Open(context.Background(), url, Options{MaxConns: 2})
			if err != nil {
				t.Error(err)
				return
			}
			s.Close()
		}()
	}
	wg.Wait()
	s := open(t, url, Options{})
	var rows, max int
	if err := s.pool.QueryRow(context.Background(), `SELECT count(*), max(version) FROM schema_migrations`).Scan(&rows, &max); err != nil {
		t.Fatal(err)
	}
	if want := SchemaVersion(); rows != want || max != want {
		t.Fatalf("schema_migrations has %d rows up to %d, want %d", rows, max, want)
	}
	if v, err := s.Version(context.Background()); err != nil || v != SchemaVersion() {
		t.Fatalf("Version = %d, %v", v, err)
	}
}

// A database migrated by a newer incidentbot is refused, not written.
func TestSchemaTooNew(t *testing.T) {
	url := pgtest.DB(t)
	s := open(t, url, Options{})
	if _, err := s.pool.Exec(context.Background(), `INSERT INTO schema_migrations (version, name) VALUES ($1, 'future')`, SchemaVersion()+1); err != nil {
		t.Fatal(err)
	}
	_, err := Open(context.Background(), url, Options{})
	if !errors.Is(err, ErrSchemaTooNew) || !strings.Contains(err.Error(), "run a newer incidentbot") {
		t.Fatalf("Open = %v, want ErrSchemaTooNew", err)
	}
}

// A bad URL is refused without repeating it: it may hold a password.
func TestBadURLKeepsThePasswordOut(t *testing.T) {
	_, err := Open(context.Background(), "postgres://bot:s3cret@db:notaport/x", Options{})
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("Open = %v", err)
	}
}

func TestMigrationFiles(t *testing.T) {
	ms, err := migrations()
	if err != nil || len(ms) == 0 || ms[0].name != "init" {
		t.Fatalf("migrations = %+v, %v", ms, err)
	}
}
