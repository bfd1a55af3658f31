package pgstore

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/incidentbot/incidentbot/incident/internal/timelinecache"
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

// A database at schema version 1 (one service per incident) is upgraded
// when opened: its incidents are found by their service as before.
func TestUpgradeFromSchemaV1(t *testing.T) {
	ctx := context.Background()
	url := pgtest.DB(t)
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	v1 := &Store{pool: pool, log: slog.New(slog.DiscardHandler), now: time.Now, cache: timelinecache.New(-1)}
	if err := v1.migrateTo(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO incidents (number, service, started_at, open, last_seq, header)
		VALUES (1, 'bedroom', now(), true, 0, '{"number":1,"title":"Beds","service":{"name":"Bedroom"}}')`); err != nil {
		t.Fatal(err)
	}
	pool.Close()
	s := open(t, url, Options{})
	if v, _ := s.Version(ctx); v != SchemaVersion() || v < 2 {
		t.Fatalf("schema version %d after the upgrade, want %d", v, SchemaVersion())
	}
	incs, err := s.OpenByService(ctx, "BEDROOM")
	if err != nil || len(incs) != 1 || incs[0].Title != "Beds" {
		t.Fatalf("OpenByService after the upgrade = %v, %v", incs, err)
	}
}
