// Package pgstore is incidentbot's storage adapter on PostgreSQL, for
// running several replicas on one database. It implements desk.Storage like
// incident/boltstore and passes the same conformance suite
// (incident/desk/storetest); on top of that, jobs are claimed by one
// replica at a time under a lease (see Claim) that ends early when its
// owner's process dies (see presence.go), and WithLock serialises
// across replicas what a process mutex serialises in one.
//
// The schema is created and upgraded by Open: versioned migrations
// (migrations/NNNN_name.sql, embedded) applied in one transaction under an
// advisory lock, so that replicas starting together apply each once.
//
// Every write method returns nil only after its transaction has committed.
package pgstore

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/incidentbot/incidentbot/incident/internal/timelinecache"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// ErrSchemaTooNew is returned (wrapped) by Open when the database was
// migrated by a newer incidentbot.
var ErrSchemaTooNew = errors.New("database schema is newer than this incidentbot supports")

// Advisory lock keys: the class is incidentbot's, the object what is locked.
const (
	lockClass   = 0x1bd5 // "incidentbot"
	lockMigrate = 1
	lockClaim   = 2 // + queue hash: one claimer per queue at a time
)

// Options configure a Store. The zero value is usable.
type Options struct {
	// MaxConns bounds the connection pool; zero means 10.
	MaxConns int32
	// Logger receives the store's diagnostics; nil discards them.
	Logger *slog.Logger
	// Now is the clock of job bookkeeping (tombstones, the due time of a
	// job enqueued without one); nil means time.Now.
	Now func() time.Time
	// TimelineCacheEvents bounds the decoded timelines kept in memory, in
	// events across incidents; zero means 100,000, negative disables.
	TimelineCacheEvents int
}

// Store is an open PostgreSQL database.
type Store struct {
	pool     *pgxpool.Pool
	presence *presence
	log      *slog.Logger
	now      func() time.Time
	cache    *timelinecache.Cache
}

// Open connects to the database at url (a libpq URL or key=value string)
// and brings its schema up to date.
func Open(ctx context.Context, url string, opts Options) (*Store, error) {
	if opts.MaxConns <= 0 {
		opts.MaxConns = 10
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.TimelineCacheEvents == 0 {
		opts.TimelineCacheEvents = 100_000
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgx's message may quote the URL, password included.
		return nil, errors.New("pgstore: the URL is not a valid PostgreSQL connection string (postgres://user:password@host:5432/db)")
	}
	cfg.MaxConns = opts.MaxConns
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("pgstore: %w", err)
	}
	s := &Store{pool: pool, log: opts.Logger, now: opts.Now, cache: timelinecache.New(opts.TimelineCacheEvents),
		presence: newPresence(cfg.ConnConfig.Copy(), opts.Logger)}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// Close ends the owners' presence and closes the pool's connections.
func (s *Store) Close() error {
	s.presence.close()
	s.pool.Close()
	return nil
}

// Ping reports whether the database answers (for /readyz).
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("pgstore: ping: %w", err)
	}
	return nil
}

// migration is one embedded schema version.
type migration struct {
	version int
	name    string
	sql     string
}

// migrations returns the embedded migrations by version.
func migrations() ([]migration, error) {
	files, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, f := range files {
		base := strings.TrimSuffix(strings.TrimPrefix(f, "migrations/"), ".sql")
		num, name, _ := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if err != nil {
			return nil, fmt.Errorf("migration %s: the name must start with its version", f)
		}
		b, err := migrationFiles.ReadFile(f)
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: name, sql: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	for i, m := range out {
		if m.version != i+1 {
			return nil, fmt.Errorf("migration versions must be 1, 2, 3…: found %d at position %d", m.version, i+1)
		}
	}
	return out, nil
}

// SchemaVersion is the newest schema version this package knows.
func SchemaVersion() int {
	ms, _ := migrations()
	return len(ms)
}

// migrate applies the migrations the database lacks, all in one
// transaction under an advisory lock: replicas starting together wait for
// the first, and then find nothing to do.
func (s *Store) migrate(ctx context.Context) error { return s.migrateTo(ctx, -1) }

// migrateTo applies the migrations up to version upTo (all when negative).
func (s *Store) migrateTo(ctx context.Context, upTo int) error {
	ms, err := migrations()
	if err != nil {
		return fmt.Errorf("pgstore: migrations: %w", err)
	}
	known := len(ms)
	if upTo >= 0 && upTo < len(ms) {
		ms = ms[:upTo]
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, $2)`, lockClass, lockMigrate); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
			return err
		}
		var cur int
		if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&cur); err != nil {
			return err
		}
		if cur > known {
			return fmt.Errorf("%w: the database has schema version %d, this incidentbot supports %d; run a newer incidentbot", ErrSchemaTooNew, cur, known)
		}
		for _, m := range ms[min(cur, len(ms)):] {
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return fmt.Errorf("migration %d (%s): %w", m.version, m.name, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.version, m.name); err != nil {
				return err
			}
			s.log.Info("database schema migrated", "version", m.version, "name", m.name)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("pgstore: schema: %w", err)
	}
	return nil
}

// Version returns the database's schema version.
func (s *Store) Version(ctx context.Context) (int, error) {
	var v int
	if err := s.pool.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, fmt.Errorf("pgstore: schema version: %w", err)
	}
	return v, nil
}

// tx runs fn in a read-write transaction, committed if fn returns nil. A
// cancelled context stops it before anything is sent.
func (s *Store) tx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return pgx.BeginFunc(ctx, s.pool, fn)
}

// snapshot runs fn in a read-only transaction that sees one snapshot.
func (s *Store) snapshot(ctx context.Context, fn func(tx pgx.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, fn)
}

// errNoChange rolls back a transaction that changed nothing.
var errNoChange = errors.New("no change")

// Probe connects to the database at url without changing it and returns
// its schema version (0 for a database incidentbot never used).
func Probe(ctx context.Context, url string) (int, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return 0, errors.New("the URL is not a valid PostgreSQL connection string")
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return 0, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT to_regclass('schema_migrations') IS NOT NULL`).Scan(&exists); err != nil || !exists {
		return 0, err
	}
	var v int
	err = conn.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&v)
	return v, err
}
