package boltstore

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/incidentbot/incidentbot/incident"
	"github.com/incidentbot/incidentbot/incident/desk"
	"github.com/incidentbot/incidentbot/incident/incidenttest"
)

// onDisk decodes an incident's timeline from the file, bypassing the cache.
func onDisk(t testing.TB, s *Store, number int64) []incident.Event {
	t.Helper()
	var evs []incident.Event
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bEvents).Bucket(be64(uint64(number)))
		var err error
		evs, err = decodeEvents(b, number, 0)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

func msg(at time.Time, text string) incident.Event {
	return incident.Event{At: at, Kind: incident.EventMessage, Actor: "U02", Text: text, Labels: map[string]string{"ts": text}}
}

// Timelines read through the cache are exactly the stored ones, with
// writers and readers running concurrently, and after a reopen.
func TestTimelineCacheMatchesStoredTimelines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "incidentbot.db")
	s := openStore(t, path, Options{})
	ctx := context.Background()
	const incidents, perWriter = 3, 40
	for i := range incidents {
		create(t, s, fmt.Sprintf("svc%d", i), t0)
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for n := int64(1); n <= incidents; n++ {
		wg.Add(2)
		go func() { // writer
			defer wg.Done()
			for i := range perWriter {
				appendEvents(t, s, n, msg(t0.Add(time.Duration(i)*time.Second), fmt.Sprintf("m%d-%d", n, i)))
			}
		}()
		go func() { // reader: every read is a prefix-complete timeline
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				inc, err := s.Get(ctx, n)
				if err != nil {
					t.Error(err)
					return
				}
				for i, e := range inc.Events {
					if e.Seq != i+1 {
						t.Errorf("incident %d: event %d has seq %d", n, i, e.Seq)
						return
					}
				}
				// Scribbling on what we were given must not reach the cache.
				if len(inc.Events) > 0 {
					inc.Events[0].Text = "scribbled"
				}
			}
		}()
	}
	time.Sleep(10 * time.Millisecond)
	go func() {
		// Let the writers finish, then stop the readers.
		for {
			inc, _ := s.Get(ctx, incidents)
			if inc != nil && len(inc.Events) == 1+perWriter {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		time.Sleep(20 * time.Millisecond)
		close(stop)
	}()
	wg.Wait()
	check := func(s *Store) {
		t.Helper()
		for n := int64(1); n <= incidents; n++ {
			inc, err := s.Get(ctx, n)
			if err != nil {
				t.Fatal(err)
			}
			if len(inc.Events) != 1+perWriter {
				t.Fatalf("incident %d has %d events, want %d", n, len(inc.Events), 1+perWriter)
			}
			if disk := onDisk(t, s, n); !reflect.DeepEqual(inc.Events, disk) {
				t.Fatalf("incident %d: cached timeline differs from the stored one", n)
			}
			if inc.Events[0].Text != "declared" {
				t.Fatalf("a caller's change reached the cache: %q", inc.Events[0].Text)
			}
		}
	}
	check(s)
	if tl, _ := s.cache.Len(); tl != incidents {
		t.Errorf("%d timelines cached, want %d", tl, incidents)
	}
	mustCheck(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	check(openStore(t, path, Options{}))
}

// A rolled-back update leaves nothing in the cache: the next committed
// event with the same seq is the one read back.
func TestTimelineCacheIgnoresRolledBackUpdates(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	create(t, s, "bedroom", t0)
	if _, err := s.Get(ctx, 1); err != nil { // cached
		t.Fatal(err)
	}
	boom := errors.New("boom")
	if _, err := s.Update(ctx, 1, func(inc *incident.Incident) ([]desk.Job, error) {
		inc.Append(msg(t0, "rolled back"))
		return nil, boom
	}); !errors.Is(err, boom) {
		t.Fatal(err)
	}
	// A commit that fails after fn (here: history rewritten) rolls back too.
	if _, err := s.Update(ctx, 1, func(inc *incident.Incident) ([]desk.Job, error) {
		inc.Append(msg(t0, "also rolled back"))
		inc.Events[1].Seq = 7
		return nil, nil
	}); err == nil {
		t.Fatal("a bad seq was accepted")
	}
	appendEvents(t, s, 1, msg(t0, "kept"))
	inc, err := s.Get(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(inc.Events) != 2 || inc.Events[1].Text != "kept" {
		t.Fatalf("timeline after rollbacks: %+v", inc.Events)
	}
	if !reflect.DeepEqual(inc.Events, onDisk(t, s, 1)) {
		t.Fatal("cached timeline differs from the stored one")
	}
}

// The cache stays within its event budget, dropping the least recently
// used timelines, and can be turned off.
func TestTimelineCacheIsBounded(t *testing.T) {
	c := incidenttest.NewClock(t0)
	s := openStore(t, filepath.Join(t.TempDir(), "a.db"), Options{Now: c.Now, TimelineCacheEvents: 10})
	ctx := context.Background()
	for i := range 6 {
		create(t, s, fmt.Sprintf("svc%d", i), t0, msg(t0, "a"), msg(t0, "b")) // 3 events each
	}
	if tl, ev := s.cache.Len(); tl != 3 || ev != 9 {
		t.Errorf("cache holds %d timelines, %d events; want 3, 9", tl, ev)
	}
	for n := int64(1); n <= 6; n++ {
		inc, err := s.Get(ctx, n)
		if err != nil || len(inc.Events) != 3 {
			t.Fatalf("incident %d: %v, %+v", n, err, inc)
		}
	}
	if _, ev := s.cache.Len(); ev > 10 {
		t.Errorf("cache holds %d events, budget 10", ev)
	}
	off := openStore(t, filepath.Join(t.TempDir(), "b.db"), Options{TimelineCacheEvents: -1})
	create(t, off, "bedroom", t0)
	if _, err := off.Get(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if tl, _ := off.cache.Len(); tl != 0 {
		t.Errorf("a disabled cache holds %d timelines", tl)
	}
}
