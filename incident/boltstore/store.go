// Package boltstore is incidentbot's storage adapter on bbolt, the bot's
// source of truth: incidents and their append-only timelines, the durable job
// queue (outbox) that drives Slack and PagerDuty side effects, deduplication
// of redelivered envelopes and webhooks, and a small key/value space for
// adapter state.
//
// Every write method returns nil only after its bbolt transaction has been
// committed and fsynced. All methods are safe for concurrent use; bbolt
// serialises writers.
//
// # Layout
//
//	meta        schema_version → "2"; scrub_due → "" while free pages may hold erased text
//	incidents   be64(number) → JSON header (Incident without Events); NextSequence numbers incidents
//	events      be64(number) → bucket: be64(seq) → JSON Event
//	open        be64(number) → ""                   (derived from the timeline)
//	by_service  lower(service) 0x00 be64(number) → ""
//	alert_keys  key → be64(number)                  (Key of each alert_fired event)
//	jobs        id → JSON desk.Job                  (pending jobs)
//	jobs_due    be64(unix nanos of DueAt) 0x00 id → ""  (effects queue)
//	jobs_due_input   the same, for the input queue (schema version 2)
//	jobs_done   id → be64(unix nanos of completion) (tombstones)
//	seen        namespace 0x00 key → be64(unix nanos)
//	kv          name → bucket: key → value          (adapter state)
package boltstore

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/incidentbot/incidentbot/incident"
	"github.com/incidentbot/incidentbot/incident/internal/timelinecache"
)

// SchemaVersion is the version of the layout this package reads and writes.
// Version 2 added the input queue (jobs_due_input); a version 1 file is
// upgraded in place when opened.
const SchemaVersion = 2

// fileMode is the mode of the database and of backups: incidents, user
// e-mails and review drafts are nobody else's business.
const fileMode os.FileMode = 0o600

var (
	// ErrLocked is returned (wrapped, together with bbolt's ErrTimeout) by
	// Open when another process holds the database file.
	ErrLocked = errors.New("database file is locked")
	// ErrSchemaTooNew is returned (wrapped) by Open when the file was written
	// by a newer incidentbot with a newer layout.
	ErrSchemaTooNew = errors.New("database schema is newer than this incidentbot supports")
)

// Bucket names.
var (
	bMeta         = []byte("meta")
	bIncidents    = []byte("incidents")
	bEvents       = []byte("events")
	bOpen         = []byte("open")
	bByService    = []byte("by_service")
	bAlertKeys    = []byte("alert_keys")
	bIdem         = []byte("idem") // event idempotency key → incident number
	bJobs         = []byte("jobs")
	bJobsDue      = []byte("jobs_due")
	bJobsDueInput = []byte("jobs_due_input") // schema version 2
	bJobsDone     = []byte("jobs_done")
	bSeen         = []byte("seen")
	bKV           = []byte("kv")

	allBuckets = [][]byte{bMeta, bIncidents, bEvents, bOpen, bByService, bAlertKeys, bIdem, bJobs, bJobsDue, bJobsDueInput, bJobsDone, bSeen, bKV}

	kSchemaVersion = []byte("schema_version")
	kScrubDue      = []byte("scrub_due")

	// empty is the value of index entries. Not nil: inside the transaction
	// that put it, bbolt's Get returns nil for a nil value.
	empty = []byte{}
)

// Options configure a Store.
type Options struct {
	// Timeout is how long Open waits for the file lock held by another
	// process; zero means 1s.
	Timeout time.Duration
	// Logger receives the store's diagnostics; nil discards them.
	Logger *slog.Logger
	// Now is the clock used for job bookkeeping (completion tombstones, the
	// due time of a job enqueued without one); nil means time.Now.
	Now func() time.Time
	// TimelineCacheEvents bounds the decoded timelines kept in memory, in
	// events across incidents; zero means 100,000, negative disables.
	TimelineCacheEvents int
}

// Store is an open incidentbot database.
type Store struct {
	db     *bolt.DB
	path   string
	log    *slog.Logger
	now    func() time.Time
	cache  *timelinecache.Cache
	claims claims
	// pages is held shared by every read transaction and exclusively while
	// free pages are zeroed: a free page may still be part of an older
	// reader's snapshot.
	pages sync.RWMutex
}

// Open opens or creates the database at path. The file gets mode 0600, even
// if it existed with a wider mode. If another process holds the file, Open
// gives up after Options.Timeout with an error that wraps ErrLocked.
func Open(path string, opts Options) (*Store, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = time.Second
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
	db, err := bolt.Open(path, fileMode, &bolt.Options{Timeout: opts.Timeout})
	if err != nil {
		if errors.Is(err, bolterrors.ErrTimeout) {
			return nil, fmt.Errorf("boltstore: open %s: the file is in use by another incidentbot (or another program) and its lock was not released within %s; stop the other process or use another storage.path: %w: %w",
				path, opts.Timeout, ErrLocked, err)
		}
		return nil, fmt.Errorf("boltstore: open %s: %w", path, err)
	}
	s := &Store{db: db, path: path, log: opts.Logger, now: opts.Now, cache: timelinecache.New(opts.TimelineCacheEvents),
		claims: claims{byID: map[string]claim{}}}
	if err := s.init(); err != nil {
		_ = db.Close()
		return nil, err
	}
	if err := s.scrubIfDue(); err != nil {
		_ = db.Close()
		return nil, err
	}
	s.log.Debug("storage opened", "path", path)
	return s, nil
}

func (s *Store) init() error {
	// bbolt creates the file with 0600 less the umask; an existing file keeps
	// its mode, so set it explicitly now that the file is ours.
	if fi, err := os.Stat(s.path); err != nil {
		return fmt.Errorf("boltstore: open %s: %w", s.path, err)
	} else if fi.Mode().Perm() != fileMode {
		if err := os.Chmod(s.path, fileMode); err != nil {
			return fmt.Errorf("boltstore: open %s: set mode 0600: %w", s.path, err)
		}
		s.log.Info("storage file mode set to 0600", "path", s.path, "was", fi.Mode().Perm().String())
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		if meta := tx.Bucket(bMeta); meta != nil {
			if v := meta.Get(kSchemaVersion); v != nil {
				n, err := strconv.Atoi(string(v))
				switch {
				case err != nil || n < 1:
					return fmt.Errorf("schema_version %q is not valid", v)
				case n > SchemaVersion:
					return fmt.Errorf("%w: the file has schema version %d, this incidentbot supports %d; run a newer incidentbot",
						ErrSchemaTooNew, n, SchemaVersion)
				}
			}
		}
		for _, name := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return fmt.Errorf("create bucket %s: %w", name, err)
			}
		}
		// Every upgrade so far only adds buckets, created above; a version 1
		// queue's jobs stay in jobs_due, the effects queue, and run there.
		return tx.Bucket(bMeta).Put(kSchemaVersion, []byte(strconv.Itoa(SchemaVersion)))
	})
	if err != nil {
		return fmt.Errorf("boltstore: open %s: %w", s.path, err)
	}
	return nil
}

// Close closes the database, waiting for running transactions.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("boltstore: close %s: %w", s.path, err)
	}
	return nil
}

// Path is the database file's path as given to Open.
func (s *Store) Path() string { return s.path }

// Ping reports whether the store can serve a read, cheaply (for /readyz).
func (s *Store) Ping(ctx context.Context) error {
	err := s.view(ctx, func(tx *bolt.Tx) error {
		if tx.Bucket(bMeta) == nil {
			return errors.New("meta bucket missing")
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("boltstore: ping %s: %w", s.path, err)
	}
	return nil
}

// Check runs bbolt's consistency check and returns the first problem found
// (with the number of problems), or nil. It runs in a write transaction that
// is rolled back, because checking in a read transaction races with writers;
// writes wait while it runs, so do not run it on every probe of a large
// database.
func (s *Store) Check() error {
	errs, err := s.checkAll()
	if err != nil {
		return err
	}
	if len(errs) == 0 {
		return nil
	}
	if len(errs) == 1 {
		return fmt.Errorf("boltstore: check %s: %w", s.path, errs[0])
	}
	return fmt.Errorf("boltstore: check %s: %w (and %d more problems)", s.path, errs[0], len(errs)-1)
}

// checkAll returns every problem tx.Check reports (at most 100).
func (s *Store) checkAll() ([]error, error) {
	tx, err := s.db.Begin(true)
	if err != nil {
		return nil, fmt.Errorf("boltstore: check %s: %w", s.path, err)
	}
	defer func() { _ = tx.Rollback() }()
	var errs []error
	// Drain the channel: the checker goroutine uses tx until it closes it.
	for err := range tx.Check() {
		if len(errs) < 100 {
			errs = append(errs, err)
		}
	}
	return errs, nil
}

// Backup writes a consistent copy of the database to w while the store keeps
// serving, and returns the number of bytes written. The copy is made in a
// temporary file next to the database (it needs as much free space as the
// database takes) and its free pages are zeroed before it is sent: pages
// that were free when the copy began hold whatever writers put there while
// it was made, which may be the text of a message deleted meanwhile.
func (s *Store) Backup(w io.Writer) (int64, error) {
	f, err := os.CreateTemp(filepath.Dir(s.path), "."+filepath.Base(s.path)+".backup-*")
	if err != nil {
		return 0, fmt.Errorf("boltstore: backup %s: %w", s.path, err)
	}
	defer func() {
		_ = f.Close()
		_ = os.Remove(f.Name())
	}()
	if err := s.copyTo(f); err != nil {
		return 0, fmt.Errorf("boltstore: backup %s: %w", s.path, err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return 0, fmt.Errorf("boltstore: backup %s: %w", s.path, err)
	}
	n, err := io.Copy(w, f)
	if err != nil {
		return n, fmt.Errorf("boltstore: backup %s: %w", s.path, err)
	}
	return n, nil
}

// copyTo writes a consistent copy of the database to f, from one read
// transaction, and zeroes the copy's free pages.
func (s *Store) copyTo(f *os.File) error {
	err := s.view(context.Background(), func(tx *bolt.Tx) error {
		_, err := tx.WriteTo(f)
		return err
	})
	if err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync the copy: %w", err)
	}
	return scrubCopy(f.Name())
}

// scrubCopy zeroes the free pages of a copy nobody else uses: the pages its
// own freelist (the one of the snapshot it was copied from) names.
func scrubCopy(path string) error {
	db, err := bolt.Open(path, fileMode, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return fmt.Errorf("open the copy: %w", err)
	}
	tx, err := db.Begin(true)
	if err != nil {
		_ = db.Close()
		return fmt.Errorf("zero the copy's free pages: %w", err)
	}
	_, err = zeroFreePages(tx, path, db.Info().PageSize)
	_ = tx.Rollback()
	if cerr := db.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("zero the copy's free pages: %w", err)
	}
	return nil
}

// Scrub overwrites every free page of the database file with zeros. bbolt
// never updates a page in place: a changed page is written elsewhere and the
// old one is freed, keeping its bytes until it is reused. Update calls
// Scrub after a transaction that erased text (a deleted message's), so that
// the text is not left in the file; Open calls it when the process stopped
// before that finished. It waits for running read transactions and holds
// new ones off while it runs; it reads every page's header, so its cost
// grows with the file.
func (s *Store) Scrub(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var zeroed int
	err := s.db.Update(func(tx *bolt.Tx) error {
		s.pages.Lock()
		defer s.pages.Unlock()
		var err error
		if zeroed, err = zeroFreePages(tx, s.path, s.db.Info().PageSize); err != nil {
			return err
		}
		return tx.Bucket(bMeta).Delete(kScrubDue)
	})
	if err != nil {
		return fmt.Errorf("boltstore: zero the free pages of %s: %w", s.path, err)
	}
	s.log.Debug("free pages zeroed", "pages", zeroed)
	return nil
}

func (s *Store) scrubIfDue() error {
	due := false
	if err := s.db.View(func(tx *bolt.Tx) error {
		due = tx.Bucket(bMeta).Get(kScrubDue) != nil
		return nil
	}); err != nil {
		return fmt.Errorf("boltstore: open %s: %w", s.path, err)
	}
	if !due {
		return nil
	}
	s.log.Info("zeroing free pages that may hold erased text (the last run stopped before it did)", "path", s.path)
	return s.Scrub(context.Background())
}

// scrubAfterErasure zeroes the free pages after a committed erasure; the
// mark stays in the file if it fails, so the next Open does it.
func (s *Store) scrubAfterErasure() {
	if err := s.Scrub(context.Background()); err != nil {
		s.log.Error("free pages may still hold erased text; they will be zeroed at the next start", "err", err)
	}
}

// zeroFreePages writes zeros over every page tx's freelist holds (free and
// pending), through its own file handle, and syncs. The caller makes sure
// that nothing reads or allocates those pages meanwhile: tx is a write
// transaction that has not allocated yet (bbolt's writer lock keeps others
// from allocating) and no read transaction whose snapshot may reach a
// pending page is open.
func zeroFreePages(tx *bolt.Tx, path string, pageSize int) (int, error) {
	runs, err := freeRuns(tx)
	if err != nil {
		return 0, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return 0, err
	}
	defer func() { _ = f.Close() }()
	zeros := make([]byte, 64*pageSize)
	zeroed := 0
	for _, r := range runs {
		for id := r.start; id < r.end; {
			n := min(r.end-id, 64)
			if _, err := f.WriteAt(zeros[:n*pageSize], int64(id)*int64(pageSize)); err != nil {
				return zeroed, err
			}
			id, zeroed = id+n, zeroed+n
		}
	}
	return zeroed, f.Sync()
}

type pageRun struct{ start, end int } // page ids [start, end)

// freeRuns lists the runs of consecutive free pages below tx's high-water
// mark, skipping the overflow pages of pages in use.
func freeRuns(tx *bolt.Tx) ([]pageRun, error) {
	var runs []pageRun
	for id := 2; ; id++ {
		info, err := tx.Page(id)
		switch {
		case err != nil:
			return nil, err
		case info == nil:
			return runs, nil
		case info.Type != "free":
			id += info.OverflowCount
		case len(runs) > 0 && runs[len(runs)-1].end == id:
			runs[len(runs)-1].end++
		default:
			runs = append(runs, pageRun{id, id + 1})
		}
	}
}

// BackupFile writes a consistent copy of the database to path, atomically:
// to a temporary file in the same directory, fsynced, then renamed over path.
// The copy has mode 0600.
func BackupFile(s *Store, path string) (err error) {
	// Renaming over the live file would leave the store writing to an
	// unlinked inode: refuse.
	if filepath.Clean(path) == filepath.Clean(s.path) {
		return fmt.Errorf("boltstore: backup to %s: that is the live database", path)
	}
	if a, err1 := os.Stat(path); err1 == nil {
		if b, err2 := os.Stat(s.path); err2 == nil && os.SameFile(a, b) {
			return fmt.Errorf("boltstore: backup to %s: that is the live database", path)
		}
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("boltstore: backup to %s: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	if err = f.Chmod(fileMode); err != nil {
		return fmt.Errorf("boltstore: backup to %s: %w", path, err)
	}
	if err = s.copyTo(f); err != nil {
		return fmt.Errorf("boltstore: backup to %s: %w", path, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("boltstore: backup to %s: close: %w", path, err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("boltstore: backup to %s: %w", path, err)
	}
	// Make the rename durable too.
	if d, derr := os.Open(dir); derr == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	s.log.Info("backup written", "path", path)
	return nil
}

// update runs fn in a write transaction after checking ctx. It commits only
// if fn returns nil; bbolt fsyncs the commit before it returns.
func (s *Store) update(ctx context.Context, fn func(tx *bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return neverFits(s.db.Update(fn))
}

// neverFits marks what bbolt can never store (a key or value too large, an
// empty key) as invalid input, so that adapters answer 4xx instead of
// asking the sender to retry forever.
func neverFits(err error) error {
	if errors.Is(err, bolterrors.ErrKeyTooLarge) || errors.Is(err, bolterrors.ErrValueTooLarge) || errors.Is(err, bolterrors.ErrKeyRequired) {
		return fmt.Errorf("%w: %w", incident.Errorf(incident.EINVALID, "This cannot be stored: a key or a value is empty or too large."), err)
	}
	return err
}

func (s *Store) view(ctx context.Context, fn func(tx *bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.pages.RLock()
	defer s.pages.RUnlock()
	return s.db.View(fn)
}

func be64(n uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, n)
	return b
}

// timeKey encodes t as big-endian unix nanoseconds, which sort like time.
// Instants before 1970 (including the zero time) encode as 0 and instants
// after 2262 as the maximum.
func timeKey(t time.Time) uint64 {
	switch {
	case t.Before(time.Unix(0, 0)):
		return 0
	case t.After(time.Unix(0, 1<<63-1)):
		return 1<<63 - 1
	}
	return uint64(t.UnixNano())
}

func keyTime(n uint64) time.Time { return time.Unix(0, int64(n)).UTC() }

func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append(make([]byte, 0, len(b)), b...)
}
