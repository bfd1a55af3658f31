package main

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/incidentbot/incidentbot/incident/boltstore"
	"github.com/incidentbot/incidentbot/incident/pgstore"
)

func (a *app) migrate(args []string) int {
	flags := a.newFlags("migrate", "migrate --from FILE [--to URL]")
	from := flags.String("from", "", "the bbolt database to copy (the storage.path of a stopped incidentbot)")
	to := flags.String("to", "", "the PostgreSQL database to copy into, a libpq URL (default: INCIDENTBOT_STORAGE_POSTGRES_URL)")
	if _, err := parseFlags(flags, args, 0); err != nil {
		return flagExit(err)
	}
	url := *to
	if url == "" {
		url = a.env("INCIDENTBOT_STORAGE_POSTGRES_URL")
	}
	if *from == "" || url == "" {
		fmt.Fprintln(a.stderr, "incidentbot migrate: --from FILE and --to URL (or INCIDENTBOT_STORAGE_POSTGRES_URL) are required")
		flags.Usage()
		return 2
	}
	if err := a.runMigrate(*from, url); err != nil {
		fmt.Fprintf(a.stderr, "incidentbot migrate: %v\n", err)
		return 1
	}
	return 0
}

// runMigrate copies a bbolt database into PostgreSQL in one transaction and
// prints what each holds. Records already there are left alone, so a second
// run changes nothing; a target holding other data is refused.
func (a *app) runMigrate(from, url string) error {
	log := slog.New(slog.NewJSONHandler(a.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	src, err := boltstore.Open(from, boltstore.Options{Logger: log})
	if errors.Is(err, boltstore.ErrLocked) {
		return fmt.Errorf("%s is in use: stop the incidentbot serving it first, so that nothing changes during the copy", from)
	}
	if err != nil {
		return err
	}
	defer func() { _ = src.Close() }()
	ctx := a.ctx
	dst, err := pgstore.Open(ctx, url, pgstore.Options{Logger: log})
	if err != nil {
		return fmt.Errorf("%s: %w", ConnString(url), err)
	}
	defer func() { _ = dst.Close() }()
	before, err := dst.Counts(ctx)
	if err != nil {
		return err
	}
	im, err := dst.Import(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = im.Rollback(ctx) }()
	got, err := src.Export(ctx, im)
	if err != nil {
		return err
	}
	after, err := im.Counts(ctx)
	if err != nil {
		return err
	}
	a.printCounts(from, pgstore.Counts(got), after)
	if pgstore.Counts(got) != after {
		return fmt.Errorf("the PostgreSQL database holds other data than %s, so nothing was copied; migrate into an empty database", from)
	}
	if err := im.Commit(ctx); err != nil {
		return err
	}
	if before == after {
		fmt.Fprintln(a.stdout, "Nothing to copy: the PostgreSQL database already holds all of it.")
	} else {
		fmt.Fprintln(a.stdout, "Copied. Set storage.driver: postgres and storage.postgres.url, then start incidentbot serve.")
	}
	return nil
}

func (a *app) printCounts(from string, src, dst pgstore.Counts) {
	fmt.Fprintf(a.stdout, "From %s:\n%-34s %10s %10s\n", from, "", "bbolt", "postgres")
	for _, r := range []struct {
		name     string
		src, dst int
	}{
		{"incidents", src.Incidents, dst.Incidents},
		{"timeline events", src.Events, dst.Events},
		{"alert keys", src.AlertKeys, dst.AlertKeys},
		{"idempotency keys", src.IdemKeys, dst.IdemKeys},
		{"pending jobs", src.Jobs, dst.Jobs},
		{"done jobs", src.DoneJobs, dst.DoneJobs},
		{"dedupe keys", src.SeenKeys, dst.SeenKeys},
		{"adapter state (reviews, channels)", src.KV, dst.KV},
	} {
		fmt.Fprintf(a.stdout, "%-34s %10d %10d\n", r.name, r.src, r.dst)
	}
}
