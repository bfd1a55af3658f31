package boltstore

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/incident"
	"github.com/incidentbot/incidentbot/incident/desk"
	"github.com/incidentbot/incidentbot/incident/desk/storetest"
	"github.com/incidentbot/incidentbot/incident/incidenttest"
)

// Child processes: the test binary re-executes itself with childEnv set to a
// role, because a bbolt file lock only means something between processes.
const (
	childEnv     = "BOLTSTORE_TEST_CHILD"
	childPathEnv = "BOLTSTORE_TEST_PATH"
)

func TestMain(m *testing.M) {
	switch role := os.Getenv(childEnv); role {
	case "":
		os.Exit(m.Run())
	case "lock":
		os.Exit(childLock(os.Getenv(childPathEnv)))
	case "crash":
		os.Exit(childCrash(os.Getenv(childPathEnv)))
	default:
		fmt.Fprintf(os.Stderr, "unknown %s=%q\n", childEnv, role)
		os.Exit(2)
	}
}

// childCommand prepares a re-execution of the test binary in a role.
func childCommand(ctx context.Context, role, path string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+role, childPathEnv+"="+path)
	return cmd
}

// t0 is the tests' fixed "now".
var t0 = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

// clock is the tests' settable clock.
type clock = incidenttest.Clock

// openStore opens (or creates) a store at path; at the end of the test it is
// checked for consistency and closed.
func openStore(t testing.TB, path string, opts Options) *Store {
	t.Helper()
	s, err := Open(path, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		mustCheck(t, s)
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// newStore opens a fresh store in a temporary directory, with a clock at t0.
func newStore(t testing.TB) (*Store, *clock) {
	t.Helper()
	c := incidenttest.NewClock(t0)
	return openStore(t, filepath.Join(t.TempDir(), "incidentbot.db"), Options{Now: c.Now}), c
}

// mustCheck runs bbolt's consistency check (tx.Check, as bbolt's own tests
// do after every test) and fails the test on any problem. It is a no-op on a
// closed store.
func mustCheck(t testing.TB, s *Store) {
	t.Helper()
	errs, err := s.checkAll()
	if err != nil {
		if strings.Contains(err.Error(), "database not open") {
			return
		}
		t.Fatalf("consistency check: %v", err)
	}
	if len(errs) > 0 {
		var b strings.Builder
		for _, e := range errs {
			fmt.Fprintf(&b, "\n\t%v", e)
		}
		t.Fatalf("consistency check of %s failed (%d problems):%s", s.Path(), len(errs), b.String())
	}
}

func service(name string) incident.Service {
	return incident.Service{Name: name, Team: name + "-team", Domain: "furniture", HourlyExposure: incident.USD.Major(200_000)}
}

// declared builds a new incident with its declaration event.
func declared(number int64, svc string, at time.Time, more ...incident.Event) *incident.Incident {
	inc := &incident.Incident{Number: number, Title: "Checkout down on " + svc, Service: service(svc), StartedAt: at}
	inc.Append(incident.Event{At: at, Kind: incident.EventDeclared, Actor: "U01",
		Impact: &incident.Impact{Level: incident.ImpactBlocked, Share: incident.FullShare}, Text: "declared"})
	inc.Append(more...)
	return inc
}

// create stores a declared incident and returns its number.
func create(t testing.TB, s *Store, svc string, at time.Time, more ...incident.Event) *incident.Incident {
	t.Helper()
	inc, err := s.Create(context.Background(), func(n int64) (*incident.Incident, []desk.Job, error) {
		return declared(n, svc, at, more...), nil, nil
	})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	return inc
}

// appendEvents appends events to an incident through Update.
func appendEvents(t testing.TB, s *Store, number int64, evs ...incident.Event) *incident.Incident {
	t.Helper()
	inc, err := s.Update(context.Background(), number, func(inc *incident.Incident) ([]desk.Job, error) {
		inc.Append(evs...)
		return nil, nil
	})
	if err != nil {
		t.Fatalf("Update %d: %v", number, err)
	}
	return inc
}

// listNumbers lists the numbers of the incidents f selects, nil for none.
func listNumbers(t testing.TB, s *Store, f desk.Filter) []int64 {
	t.Helper()
	incs, err := s.List(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	if len(incs) == 0 {
		return nil
	}
	return storetest.Numbers(incs)
}

// assertTimeline checks that seqs are 1..n in order.
func assertTimeline(t testing.TB, inc *incident.Incident) {
	t.Helper()
	for i, e := range inc.Events {
		if e.Seq != i+1 {
			t.Fatalf("incident %d: event %d has seq %d, want %d", inc.Number, i, e.Seq, i+1)
		}
	}
}

// txID is the id of the last committed transaction.
func txID(t testing.TB, s *Store) int {
	t.Helper()
	tx, err := s.db.Begin(false)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback() }()
	return tx.ID()
}
