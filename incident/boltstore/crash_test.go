package boltstore

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/incident"
	"github.com/incidentbot/incidentbot/incident/desk"
)

// childCrash appends events to incident 1 of the store at path until it is
// killed, printing "ACK <seq>" only after the Update that stored seq has
// returned nil. On its first run it creates the incident (seq 1). Each event
// also enqueues a job, and every other one completes the previous job, so
// that the crash lands amid several kinds of writes.
func childCrash(path string) int {
	fail := func(format string, args ...any) int {
		fmt.Fprintf(os.Stderr, "crash child: "+format+"\n", args...)
		return 1
	}
	ctx := context.Background()
	s, err := Open(path, Options{Timeout: 10 * time.Second})
	if err != nil {
		return fail("%v", err)
	}
	if _, err := s.Get(ctx, 1); incident.ErrorCode(err) == incident.ENOTFOUND {
		if _, err := s.Create(ctx, func(n int64) (*incident.Incident, []desk.Job, error) {
			return declared(n, "bedroom", t0), []desk.Job{{ID: "note/1", Kind: "test.note"}}, nil
		}); err != nil {
			return fail("create: %v", err)
		}
		fmt.Println("ACK 1")
	} else if err != nil {
		return fail("get: %v", err)
	}
	rnd := rand.New(rand.NewPCG(uint64(os.Getpid()), 1))
	for {
		var seq int
		_, err := s.Update(ctx, 1, func(inc *incident.Incident) ([]desk.Job, error) {
			added := inc.Append(incident.Event{At: t0.Add(time.Second), Kind: incident.EventNote, Actor: "U01",
				Text: strings.Repeat("x", rnd.IntN(2000))})
			seq = added[0].Seq
			return []desk.Job{{ID: "note/" + strconv.Itoa(seq), Kind: "test.note", Incident: 1}}, nil
		})
		if err != nil {
			return fail("update: %v", err)
		}
		fmt.Printf("ACK %d\n", seq) // one write(2): a line is never torn
		if seq%2 == 0 {
			if err := s.Complete(ctx, "note/"+strconv.Itoa(seq-1)); err != nil {
				return fail("complete: %v", err)
			}
		}
		if _, err := s.Seen(ctx, "crash", strconv.Itoa(seq), t0); err != nil {
			return fail("seen: %v", err)
		}
	}
}

func TestCrashKeepsAcknowledgedWrites(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test spawns processes")
	}
	path := filepath.Join(t.TempDir(), "incidentbot.db")
	acked := 0 // highest seq acknowledged so far, over all runs
	const cycles = 4
	for cycle := range cycles {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		cmd := childCommand(ctx, "crash", path)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		killAfter := 150 + rand.IntN(100)
		lines := bufio.NewScanner(stdout)
		n, killed := 0, false
		for lines.Scan() {
			seq, err := strconv.Atoi(strings.TrimPrefix(lines.Text(), "ACK "))
			if err != nil {
				t.Fatalf("cycle %d: child printed %q", cycle, lines.Text())
			}
			if seq != acked+1 {
				t.Fatalf("cycle %d: child acknowledged %d after %d", cycle, seq, acked)
			}
			acked = seq
			n++
			// Keep reading after the kill: lines already in the pipe were
			// acknowledged too.
			if n == killAfter && !killed {
				if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
				killed = true
			}
		}
		err = cmd.Wait()
		cancel()
		if !killed {
			t.Fatalf("cycle %d: child exited by itself after %d acks: %v\n%s", cycle, n, err, stderr.String())
		}
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
			t.Fatalf("cycle %d: child ended with %v, want SIGKILL\n%s", cycle, err, stderr.String())
		}

		// Reopen after the crash: every acknowledged event is there, in order,
		// with its job, and at most the one write in flight beyond it.
		s, err := Open(path, Options{})
		if err != nil {
			t.Fatalf("cycle %d: reopen after crash: %v", cycle, err)
		}
		mustCheck(t, s)
		inc, err := s.Get(context.Background(), 1)
		if err != nil {
			t.Fatalf("cycle %d: %v", cycle, err)
		}
		assertTimeline(t, inc)
		got := len(inc.Events)
		if got < acked || got > acked+1 {
			t.Fatalf("cycle %d: %d events after the crash, %d acknowledged", cycle, got, acked)
		}
		jobs, err := s.Pending(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		pending := map[string]bool{}
		for _, j := range jobs {
			pending[j.ID] = true
		}
		for seq := 1; seq <= got; seq++ {
			id := "note/" + strconv.Itoa(seq)
			if pending[id] {
				continue
			}
			// Not pending: it must have been completed (enqueueing it again is a no-op).
			if err := s.Complete(context.Background(), id); err != nil {
				t.Fatalf("cycle %d: job %s of stored event %d is lost: %v", cycle, id, seq, err)
			}
		}
		if open := listNumbers(t, s, desk.Filter{OpenOnly: true}); len(open) != 1 {
			t.Fatalf("cycle %d: open set = %v", cycle, open)
		}
		mustCheck(t, s)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		t.Logf("cycle %d: killed after %d acks; %d events stored, %d acknowledged", cycle, n, got, acked)
		acked = got // the next run continues from what is stored
	}
}
