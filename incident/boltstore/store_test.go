package boltstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/incidentbot/incidentbot/incident"
	"github.com/incidentbot/incidentbot/incident/desk"
)

func fileModeOf(t testing.TB, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func TestFileMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "incidentbot.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if s.Path() != path {
		t.Errorf("Path() = %q, want %q", s.Path(), path)
	}
	if m := fileModeOf(t, path); m != 0o600 {
		t.Errorf("new file mode = %v, want 0600", m)
	}
	create(t, s, "bedroom", t0)
	mustCheck(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// An existing, world-readable file is tightened on open.
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, path, Options{})
	if m := fileModeOf(t, path); m != 0o600 {
		t.Errorf("existing 0644 file mode after Open = %v, want 0600", m)
	}
	if _, err := s.Get(context.Background(), 1); err != nil {
		t.Fatalf("reopened store lost incident 1: %v", err)
	}
	// The schema version is recorded.
	_ = s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bMeta).Get(kSchemaVersion); string(v) != strconv.Itoa(SchemaVersion) {
			t.Errorf("schema_version = %q, want %d", v, SchemaVersion)
		}
		return nil
	})
}

func TestOpenNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "incidentbot.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	create(t, s, "bedroom", t0)
	if err := s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bMeta).Put(kSchemaVersion, []byte("99")) }); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	_, err = Open(path, Options{})
	if !errors.Is(err, ErrSchemaTooNew) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "schema version 99") {
		t.Fatalf("Open of a newer schema = %v; want ErrSchemaTooNew naming %s and version 99", err, path)
	}
	// The failed open released the file and left it as it was.
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatalf("file still locked after failed Open: %v", err)
	}
	defer db.Close()
	_ = db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bMeta).Get(kSchemaVersion); string(v) != "99" {
			t.Errorf("schema_version rewritten to %q", v)
		}
		return nil
	})
}

func TestOpenNotADatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notes.txt")
	if err := os.WriteFile(path, bytes.Repeat([]byte("not bolt "), 1000), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Open(path, Options{})
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("Open of a text file = %v, want an error naming it", err)
	}
	if _, err := Open(filepath.Join(t.TempDir(), "missing", "x.db"), Options{}); err == nil {
		t.Fatal("Open in a missing directory succeeded")
	}
}

// lockReport is what the "lock" child prints.
type lockReport struct {
	Err       string        `json:"err"`
	Locked    bool          `json:"locked"`
	Timeout   bool          `json:"timeout"`
	Elapsed   time.Duration `json:"elapsed"`
	Succeeded bool          `json:"succeeded"`
}

// childLock tries to open path, which the parent holds, and reports.
func childLock(path string) int {
	start := time.Now()
	s, err := Open(path, Options{})
	r := lockReport{Elapsed: time.Since(start)}
	if err != nil {
		r.Err, r.Locked, r.Timeout = err.Error(), errors.Is(err, ErrLocked), errors.Is(err, bolterrors.ErrTimeout)
	} else {
		r.Succeeded = true
		_ = s.Close()
	}
	if err := json.NewEncoder(os.Stdout).Encode(r); err != nil {
		return 1
	}
	return 0
}

func TestOpenLockedByAnotherProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "incidentbot.db")
	s := openStore(t, path, Options{})
	create(t, s, "bedroom", t0)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := childCommand(ctx, "lock", path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	out, err := cmd.Output()
	wall := time.Since(start)
	if err != nil {
		t.Fatalf("child: %v\n%s", err, stderr.String())
	}
	var r lockReport
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("child output %q: %v", out, err)
	}
	t.Logf("second Open failed after %v (child wall time %v): %s", r.Elapsed, wall, r.Err)
	if r.Succeeded {
		t.Fatal("a second process opened a database this process holds")
	}
	if r.Elapsed > 2*time.Second {
		t.Errorf("second Open took %v, want about 1s", r.Elapsed)
	}
	if !r.Locked || !r.Timeout {
		t.Errorf("error is ErrLocked %v, bbolt ErrTimeout %v; want both", r.Locked, r.Timeout)
	}
	if !strings.Contains(r.Err, path) || !strings.Contains(r.Err, "in use by another incidentbot") {
		t.Errorf("error %q should name %s and say it is in use by another incidentbot", r.Err, path)
	}
	// The holder is unaffected.
	if _, err := s.Get(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	mustCheck(t, s)
}

func TestBackupWhileWriting(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	for range 20 {
		inc := create(t, s, "bedroom", t0)
		appendEvents(t, s, inc.Number, incident.Event{At: t0.Add(time.Minute), Kind: incident.EventNote, Text: strings.Repeat("n", 500)})
	}

	// A writer keeps creating and appending while backups are taken.
	var stop atomic.Bool
	var written atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; !stop.Load(); i++ {
			inc, err := s.Create(ctx, func(n int64) (*incident.Incident, []desk.Job, error) {
				return declared(n, "appointments", t0), []desk.Job{{ID: fmt.Sprintf("j/%d", n), Kind: "x"}}, nil
			})
			if err != nil {
				t.Error(err)
				return
			}
			for j := range 3 {
				if _, err := s.Update(ctx, inc.Number, func(inc *incident.Incident) ([]desk.Job, error) {
					inc.Append(incident.Event{At: t0, Kind: incident.EventNote, Text: strings.Repeat("w", 200*j)})
					return nil, nil
				}); err != nil {
					t.Error(err)
					return
				}
			}
			written.Add(1)
		}
	}()

	dir := t.TempDir()
	var buf bytes.Buffer
	for i := range 3 {
		for written.Load() < int64(5*(i+1)) { // make sure writes interleave
			time.Sleep(time.Millisecond)
		}
		dst := filepath.Join(dir, "backup.db")
		if err := BackupFile(s, dst); err != nil {
			t.Fatal(err)
		}
		if i == 2 {
			buf.Reset()
			n, err := s.Backup(&buf)
			if err != nil || n != int64(buf.Len()) {
				t.Fatalf("Backup = %d, %v (buffer %d)", n, err, buf.Len())
			}
		}
	}
	stop.Store(true)
	wg.Wait()

	if err := BackupFile(s, s.Path()); err == nil || !strings.Contains(err.Error(), "live database") {
		t.Errorf("BackupFile over the live database = %v, want a refusal", err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Errorf("Ping: %v", err)
	}
	if m := fileModeOf(t, filepath.Join(dir, "backup.db")); m != 0o600 {
		t.Errorf("backup mode = %v, want 0600", m)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("backup left temporary files: %v", entries)
	}
	streamed := filepath.Join(dir, "streamed.db")
	if err := os.WriteFile(streamed, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{filepath.Join(dir, "backup.db"), streamed} {
		b := openStore(t, path, Options{})
		mustCheck(t, b)
		all, err := b.List(ctx, desk.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		if len(all) < 20+10 {
			t.Fatalf("%s holds %d incidents, want at least 30", path, len(all))
		}
		for _, inc := range all {
			assertTimeline(t, inc)
			if inc.Number <= 20 && len(inc.Events) != 2 {
				t.Fatalf("%s: incident %d has %d events, want 2", path, inc.Number, len(inc.Events))
			}
		}
		if _, err := b.Get(ctx, 1); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
	}
	mustCheck(t, s)
}
