package incidenttest

import (
	"sync"
	"testing"
	"time"
)

// T0 is the tests' usual "now": Tuesday 17 November 2026, 12:00 UTC, in
// working hours in London.
var T0 = time.Date(2026, 11, 17, 12, 0, 0, 0, time.UTC)

// Clock is the one injectable clock of the tests: it stands still until a
// test moves it.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock showing t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// WaitTimeout bounds every Eventually: long enough for a loaded CI machine,
// never part of what a test asserts.
const WaitTimeout = 30 * time.Second

// Eventually polls cond until it holds, failing the test with what after
// WaitTimeout. It asserts an outcome, not how fast it came.
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(WaitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
