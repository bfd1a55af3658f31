package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/incidentbot/incidentbot/incident/boltstore"
	"github.com/incidentbot/incidentbot/incident/desk"
	"github.com/incidentbot/incidentbot/incident/pgstore"
)

// storage is what serve wires: a whole storage adapter, and a backup.
type storage interface {
	desk.Storage
	Backup(w io.Writer) (int64, error)
}

// connectTimeout bounds connecting to PostgreSQL at start-up and in check.
const connectTimeout = 30 * time.Second

// openStorage opens the configured storage; PostgreSQL's schema is brought
// up to date.
func openStorage(ctx context.Context, s Settings, log *slog.Logger) (storage, error) {
	if s.Storage.Driver != DriverPostgres {
		return boltstore.Open(s.Storage.Path, boltstore.Options{Logger: log})
	}
	ctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	return pgstore.Open(ctx, s.Storage.Postgres.URL.Reveal(), pgstore.Options{MaxConns: int32(s.Storage.Postgres.MaxConns), Logger: log})
}

// reportStorage prints the storage check uses and whether it can reach it;
// false when it cannot.
func (a *app) reportStorage(s Settings) bool {
	if s.Storage.Driver != DriverPostgres {
		state := "will be created"
		if fi, err := os.Stat(s.Storage.Path); err == nil {
			state = fmt.Sprintf("exists, %d bytes", fi.Size())
		}
		fmt.Fprintf(a.stdout, "Storage: bbolt file %s (%s)\n\n", s.Storage.Path, state)
		return true
	}
	ctx, cancel := context.WithTimeout(a.ctx, connectTimeout)
	defer cancel()
	v, err := pgstore.Probe(ctx, s.Storage.Postgres.URL.Reveal())
	if err != nil {
		fmt.Fprintf(a.stdout, "Storage: PostgreSQL %s: NOT reachable: %v\n\n", s.Storage.Postgres.URL, err)
		return false
	}
	schema := fmt.Sprintf("schema version %d of %d", v, pgstore.SchemaVersion())
	switch {
	case v == 0:
		schema = "empty: serve creates the schema"
	case v < pgstore.SchemaVersion():
		schema += ": serve upgrades it"
	case v > pgstore.SchemaVersion():
		schema += ": written by a newer incidentbot"
	}
	fmt.Fprintf(a.stdout, "Storage: PostgreSQL %s: reachable, %s; pool of %d connections, job lease %s\n\n",
		s.Storage.Postgres.URL, schema, s.Storage.Postgres.MaxConns, s.Storage.Postgres.Lease)
	return v <= pgstore.SchemaVersion()
}
