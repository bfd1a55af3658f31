package incidenttest

import (
	"sync"
	"testing"
	"time"
)

// T0 is the tests' usual "now": Tuesday 17 November 2026, 12:00 UTC, in
// working hours in London.
var T0 = time.Date(2026, 11, 17, 12, 0, 0, 0, time.UTC)

// Clock is the one injectable clock of the tests. A clock from NewClock
// stands still until a test moves it; one from NewRunningClock also moves
// with real time, for end-to-end tests whose retries and deadlines wait
// for real.
type Clock struct {
	mu    sync.Mutex
	t     time.Time
	start time.Time // zero: standing still
}

// NewClock returns a clock showing t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// NewRunningClock returns a clock showing t now and moving on from there.
func NewRunningClock(t time.Time) *Clock { return &Clock{t: t, start: time.Now()} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.start.IsZero() {
		return c.t
	}
	return c.t.Add(time.Since(c.start))
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
	if !c.start.IsZero() {
		c.start = time.Now()
	}
	c.mu.Unlock()
}

// WaitTimeout bounds every Eventually: long enough for a loaded CI machine,
// never part of what a test asserts.
const WaitTimeout = 30 * time.Second

// Eventually polls cond until it holds, failing the test with what after
// WaitTimeout. It asserts an outcome, not how fast it came.
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	EventuallyWithin(t, WaitTimeout, what, cond)
}

// EventuallyWithin is Eventually for outcomes that take long by design
// (backoffs, outages, reconnections): it gives up after d.
func EventuallyWithin(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up after %s waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
