package boltstore

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/incidentbot/incidentbot/incident"
	"github.com/incidentbot/incidentbot/incident/desk"
)

// record records an observed event through the domain, as the desk does.
func record(t testing.TB, s *Store, number int64, e incident.Event) *incident.Incident {
	t.Helper()
	inc, err := tryRecord(s, number, e)
	if err != nil {
		t.Fatalf("record %s: %v", e.Kind, err)
	}
	return inc
}

func tryRecord(s *Store, number int64, e incident.Event) (*incident.Incident, error) {
	return s.Update(context.Background(), number, func(inc *incident.Incident) ([]desk.Job, error) {
		_, err := inc.Record(incident.Policy{}, t0.Add(time.Hour), e)
		return nil, err
	})
}

func message(ts, text string) incident.Event {
	return incident.Event{At: t0, Kind: incident.EventMessage, Actor: "U02", Key: ts, Text: text, Idem: "msg/" + ts}
}

func fileHas(t testing.TB, path, secret string) bool {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Contains(raw, []byte(secret))
}

// A message deleted in Slack leaves no trace of its text: not in its event
// or its edits' events, not in the timeline cache, not in the bytes of the
// database file (bbolt keeps old versions of pages in free pages, and the
// message's inbox envelope was in a page freed when its job completed), not
// in a backup.
func TestDeletedMessageTextLeavesTheFile(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	const secret, edited = "db password is hunter2", "db password is hunter3 now"
	inc := create(t, s, "bedroom", t0)
	for i := range 30 {
		record(t, s, inc.Number, message(fmt.Sprintf("1700.%04d", i), fmt.Sprintf("chatter %d", i)))
	}
	record(t, s, inc.Number, message("1800.0001", secret))
	// The envelope of the message waited in the inbox until it was recorded.
	if err := s.Enqueue(ctx, desk.Job{ID: "inbox/ev/1", Kind: "slack.inbox", Queue: desk.QueueInput, Payload: []byte(`{"text":"` + secret + `"}`)}); err != nil {
		t.Fatal(err)
	}
	if err := s.Complete(ctx, "inbox/ev/1"); err != nil {
		t.Fatal(err)
	}
	record(t, s, inc.Number, incident.Event{Kind: incident.EventMessageEdited, Actor: "U02", Key: "1800.0001", Text: edited})
	record(t, s, inc.Number, message("1800.0002", "see you"))
	if _, err := s.Get(ctx, inc.Number); err != nil { // the cache holds the timeline
		t.Fatal(err)
	}
	if !fileHas(t, s.Path(), secret) || !fileHas(t, s.Path(), edited) {
		t.Fatal("the file does not hold the texts before the deletion: this test would prove nothing")
	}

	got := record(t, s, inc.Number, incident.Event{Kind: incident.EventMessageDeleted, Key: "1800.0001", Idem: "ev/del"})
	del := got.Events[len(got.Events)-1]
	if del.Kind != incident.EventMessageDeleted || len(del.Erases) != 2 {
		t.Fatalf("last event %+v, want a deletion erasing the message and its edit", del)
	}

	for what, evs := range map[string][]incident.Event{"cache": mustGet(t, s, inc.Number).Events, "file": onDisk(t, s, inc.Number)} {
		for _, e := range evs {
			if strings.Contains(e.Text, "hunter") {
				t.Errorf("%s: event %d (%s) still reads %q", what, e.Seq, e.Kind, e.Text)
			}
		}
	}
	for _, text := range []string{secret, edited} {
		if fileHas(t, s.Path(), text) {
			t.Errorf("the database file still holds %q", text)
		}
	}
	var buf bytes.Buffer
	if _, err := s.Backup(&buf); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "backup.db")
	if err := BackupFile(s, dst); err != nil {
		t.Fatal(err)
	}
	for _, text := range []string{secret, edited} {
		if bytes.Contains(buf.Bytes(), []byte(text)) || fileHas(t, dst, text) {
			t.Errorf("a backup holds %q", text)
		}
	}
	if !fileHas(t, dst, "see you") || !bytes.Contains(buf.Bytes(), []byte("chatter 29")) {
		t.Error("a backup lost the messages that were not deleted")
	}
	cp := openStore(t, dst, Options{})
	if evs := mustGet(t, cp, inc.Number).Events; len(evs) != len(got.Events) {
		t.Errorf("the backup has %d events, want %d", len(evs), len(got.Events))
	}
}

func mustGet(t testing.TB, s *Store, n int64) *incident.Incident {
	t.Helper()
	inc, err := s.Get(context.Background(), n)
	if err != nil {
		t.Fatal(err)
	}
	return inc
}

// A process that stops between the erasure and the zeroing of free pages
// leaves the mark, and the next Open zeroes them.
func TestOpenZeroesFreePagesLeftByAnInterruptedErasure(t *testing.T) {
	path := filepath.Join(t.TempDir(), "incidentbot.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	const secret = "the root password is correct-horse"
	// Over several pages, so that what Open writes cannot reuse them all.
	if err := s.Put(context.Background(), "scratch", "k", []byte(strings.Repeat(secret+"\n", 1000))); err != nil {
		t.Fatal(err)
	}
	// Removed, and marked, as an erasing transaction leaves it before the
	// zeroing.
	if err := s.db.Update(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bKV).Bucket([]byte("scratch")).Delete([]byte("k")); err != nil {
			return err
		}
		return tx.Bucket(bMeta).Put(kScrubDue, empty)
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if !fileHas(t, path, secret) {
		t.Fatal("the freed page does not hold the text: this test would prove nothing")
	}
	s = openStore(t, path, Options{})
	if fileHas(t, path, secret) {
		t.Error("Open left the text of a freed page in the file")
	}
	_ = s.db.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bMeta).Get(kScrubDue) != nil {
			t.Error("the mark is still set")
		}
		return nil
	})
}

// Messages posted and deleted while backups run: every text in a backup's
// bytes is the text of a message the backup holds (as of its snapshot), so
// no free page of a backup carries a deleted message, and the live file
// keeps none once everything is deleted. Readers run meanwhile.
func TestBackupsWhileMessagesAreDeleted(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	inc := create(t, s, "bedroom", t0)
	const rounds = 40
	secret := func(i int) string { return fmt.Sprintf("secret-%03d-%s", i, strings.Repeat("x", 300)) }
	var wg sync.WaitGroup
	done := make(chan struct{})
	wg.Go(func() {
		defer close(done)
		for i := range rounds {
			ts := fmt.Sprintf("1900.%04d", i)
			if _, err := tryRecord(s, inc.Number, message(ts, secret(i))); err != nil {
				t.Error(err)
				return
			}
			if _, err := tryRecord(s, inc.Number, incident.Event{Kind: incident.EventMessageDeleted, Key: ts, Idem: "del/" + ts}); err != nil {
				t.Error(err)
				return
			}
		}
	})
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			if _, err := s.Get(ctx, inc.Number); err != nil {
				t.Error(err)
				return
			}
		}
	})
	var copies [][]byte
	for {
		var buf bytes.Buffer
		if _, err := s.Backup(&buf); err != nil {
			t.Fatal(err)
		}
		copies = append(copies, buf.Bytes())
		select {
		case <-done:
		default:
			continue
		}
		break
	}
	wg.Wait()
	for i, raw := range copies {
		path := filepath.Join(t.TempDir(), fmt.Sprintf("copy%d.db", i))
		if err := os.WriteFile(path, raw, fileMode); err != nil {
			t.Fatal(err)
		}
		cp := openStore(t, path, Options{})
		live := map[string]bool{}
		for _, e := range mustGet(t, cp, inc.Number).Events {
			live[e.Text] = true
		}
		for j := range rounds {
			if bytes.Contains(raw, []byte(secret(j))) && !live[secret(j)] {
				t.Errorf("backup %d holds the text of deleted message %d in a free page", i, j)
			}
		}
	}
	for j := range rounds {
		if fileHas(t, s.Path(), secret(j)) {
			t.Errorf("the database file holds the text of deleted message %d", j)
		}
	}
	t.Logf("%d backups", len(copies))
}
