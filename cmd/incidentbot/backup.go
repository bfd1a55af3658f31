package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/incidentbot/incidentbot/incident/boltstore"
)

func (a *app) backup(args []string) int {
	flags := a.newFlags("backup", "backup FILE [--config FILE]")
	path := flags.String("config", "", "configuration file (default ./incidentbot.yaml if present)")
	pos, err := parseFlags(flags, args, 1)
	if err != nil {
		return flagExit(err)
	}
	dest := pos[0]
	s, _, ok := a.loadSettings(*path)
	if !ok {
		return 1
	}
	if err := a.runBackup(s, dest); err != nil {
		fmt.Fprintf(a.stderr, "incidentbot backup: %v\n", err)
		return 1
	}
	fmt.Fprintf(a.stdout, "wrote %s\n", dest)
	return 0
}

// runBackup copies the database to dest: directly when no incidentbot holds
// the file, else from the serving bot over HTTP (GET /api/backup).
func (a *app) runBackup(s Settings, dest string) error {
	if s.Storage.Driver == DriverPostgres {
		return errors.New("with storage.driver postgres, back up the database with pg_dump or your provider's snapshots")
	}
	src := s.Storage.Path
	if _, err := os.Stat(src); err != nil {
		return fmt.Errorf("storage.path %s: %w", src, err)
	}
	if same(src, dest) {
		return fmt.Errorf("%s is the database itself (storage.path); choose another file", dest)
	}
	log := newLogger(a.stderr, slog.LevelWarn)
	store, err := boltstore.Open(src, boltstore.Options{Logger: log})
	if errors.Is(err, boltstore.ErrLocked) {
		ctx, cancel := context.WithTimeout(a.ctx, 30*time.Minute)
		defer cancel()
		return backupOverHTTP(ctx, s.HTTP, dest)
	}
	if err != nil {
		return err
	}
	defer func() { _ = store.Close() }()
	return boltstore.BackupFile(store, dest)
}

// same reports whether a and b name the same existing file.
func same(a, b string) bool {
	fa, err1 := os.Stat(a)
	fb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(fa, fb)
}

// localURL is path on the serving bot's own listener; an unspecified listen
// host (0.0.0.0, ::, "") is reached on the loopback.
func localURL(listen, path string) (string, error) {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "", fmt.Errorf("http.listen %q: %w", listen, err)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + path, nil
}

// backupOverHTTP streams the serving bot's consistent copy to dest,
// atomically: a temporary file in the same directory, fsynced, renamed.
func backupOverHTTP(ctx context.Context, h HTTPSettings, dest string) (err error) {
	if h.APIToken == "" {
		return errors.New("the database is in use by a running incidentbot; copying it over HTTP needs http.api_token (INCIDENTBOT_HTTP_API_TOKEN), the same as the running bot's")
	}
	u, err := localURL(h.Listen, "/api/backup")
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+h.APIToken.Reveal())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("the database is in use by a running incidentbot, and its backup endpoint cannot be reached: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("GET %s: %s: %s", u, resp.Status, strings.TrimSpace(string(body)))
	}

	dir := filepath.Dir(dest)
	f, err := os.CreateTemp(dir, "."+filepath.Base(dest)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	if err = f.Chmod(0o600); err != nil {
		return err
	}
	n, err := io.Copy(f, resp.Body)
	if err != nil {
		return fmt.Errorf("GET %s: %w", u, err)
	}
	if resp.ContentLength >= 0 && n != resp.ContentLength {
		return fmt.Errorf("GET %s: got %d of %d bytes", u, n, resp.ContentLength)
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp, dest); err != nil {
		return err
	}
	if d, derr := os.Open(dir); derr == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}
