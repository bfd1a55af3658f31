package e2e_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/bot/bottest"
	"github.com/incidentbot/incidentbot/incident"
	"github.com/incidentbot/incidentbot/incident/boltstore"
	"github.com/incidentbot/incidentbot/incident/incidenttest"
	"github.com/incidentbot/incidentbot/internal/fakeslack"
)

// TestBotChild is the bot process of TestSIGKILLMidIncident; it only runs
// when that test starts it.
func TestBotChild(t *testing.T) {
	if os.Getenv("INCIDENTBOT_CRASH_CHILD") == "" {
		t.Skip("helper process")
	}
	base, _ := time.Parse(time.RFC3339Nano, os.Getenv("CHILD_BASE"))
	clk := incidenttest.NewRunningClock(base)
	bottest.Start(t, bottest.Config{APIURL: os.Getenv("CHILD_API"), BotToken: os.Getenv("CHILD_BOT"), AppToken: os.Getenv("CHILD_APP"), Path: os.Getenv("CHILD_DB"), Clock: clk, Catalogue: bottest.Catalogue(t), Log: slog.New(slog.DiscardHandler)})
	select {} // until SIGKILL
}

// TestSIGKILLMidIncident kills the bot process while it works through an
// incident with a slow Slack, restarts it, and checks that nothing was lost
// and nothing was done twice.
func TestSIGKILLMidIncident(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	fs := bottest.NewFake(t)
	db := filepath.Join(t.TempDir(), "incidentbot.db")
	spawn := func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^TestBotChild$")
		cmd.Env = append(os.Environ(), "INCIDENTBOT_CRASH_CHILD=1", "CHILD_API="+fs.APIURL(), "CHILD_BOT="+fs.BotToken(),
			"CHILD_APP="+fs.AppToken(), "CHILD_DB="+db, "CHILD_BASE="+bottest.TuesdayNoon.Format(time.RFC3339Nano))
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	waitConn := func(min int) {
		if err := fs.WaitFor(ctx, func() bool { return fs.Connections() >= 1 && fs.TotalConnections() >= min }); err != nil {
			t.Fatal(err)
		}
	}
	child := spawn()
	waitConn(1)
	fs.SetLatency("chat.postMessage", 400*time.Millisecond)
	if _, err := fs.SlashCommand(ctx, bottest.Alice, bottest.Announce, "declare bedroom Crash test"); err != nil {
		t.Fatal(err)
	}
	var chID string
	if err := fs.WaitFor(ctx, func() bool { c, ok := fs.Channel("inc-1-crash-test"); chID = c.ID; return ok && len(c.Pins) == 1 }); err != nil {
		t.Fatal(err)
	}
	const notes = 12
	for i := 0; i < notes; i++ {
		ack, err := fs.SlashCommand(ctx, bottest.Alice, chID, fmt.Sprintf("note step %02d", i))
		if err != nil || ack.Late {
			t.Fatalf("note %d: %v", i, err)
		}
	}
	// Kill it while the notes are still being posted.
	_ = fs.WaitFor(ctx, func() bool { return countText(fs.Messages(chID), "step ") >= 3 })
	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = child.Wait()
	posted := countText(fs.Messages(chID), "step ")
	if posted >= notes {
		t.Fatalf("the kill came too late to test anything (%d posted)", posted)
	}

	child = spawn()
	defer func() { _ = child.Process.Kill(); _ = child.Wait() }()
	waitConn(2)
	if err := fs.WaitFor(ctx, func() bool { return countText(fs.Messages(chID), "step ") >= notes }); err != nil {
		t.Fatalf("after restart only %d of %d notes posted", countText(fs.Messages(chID), "step "), notes)
	}
	time.Sleep(500 * time.Millisecond)
	for i := 0; i < notes; i++ {
		if n := countText(fs.Messages(chID), fmt.Sprintf("step %02d", i)); n != 1 {
			t.Errorf("note %d posted %d times", i, n)
		}
	}
	n := 0
	for _, c := range fs.Channels() {
		if strings.HasPrefix(c.Name, "inc-") {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d incident channels", n)
	}
	_ = child.Process.Signal(syscall.SIGKILL)
	_ = child.Wait()
	st, err := boltstore.Open(db, boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Check(); err != nil {
		t.Fatalf("database after SIGKILL: %v", err)
	}
	inc, err := st.Get(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	got := 0
	for _, e := range inc.Events {
		if e.Kind == incident.EventNote {
			got++
		}
	}
	if got != notes {
		t.Errorf("timeline has %d notes, want %d", got, notes)
	}
}

func countText(ms []fakeslack.Message, sub string) int {
	n := 0
	for _, m := range ms {
		if m.BotID != "" && strings.Contains(m.AllText(), sub) {
			n++
		}
	}
	return n
}
