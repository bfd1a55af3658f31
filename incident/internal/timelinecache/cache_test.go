package timelinecache

import (
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/incident"
)

var at = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

func ev(seq int, kind incident.EventKind, text string) incident.Event {
	return incident.Event{Seq: seq, At: at, Kind: kind, Key: "1.1", Text: text}
}

// A reader's snapshot from before an erasure, put into the cache after it
// (even once the erased timeline was evicted), never brings the text back:
// later commits would otherwise extend the stale prefix.
func TestCacheRefusesTimelinesFromBeforeAnErasure(t *testing.T) {
	stale := []incident.Event{ev(1, incident.EventDeclared, ""), ev(2, incident.EventMessage, "hunter2")}
	erased := []incident.Event{stale[0], ev(2, incident.EventMessage, ""), ev(3, incident.EventMessageDeleted, "")}
	later := append(append([]incident.Event{}, erased...), ev(4, incident.EventNote, "later"))

	c := New(5)
	c.Extend(1, stale)
	c.Erased(1, erased)
	c.Extend(1, stale)
	if got, ok := c.Get(1, 3); !ok || got[1].Text != "" {
		t.Errorf("after the erasure the cache gives %+v, %v", got, ok)
	}
	c.Extend(2, erased) // evicts incident 1
	c.Extend(1, stale)
	c.Extend(1, later)
	if got, ok := c.Get(1, 4); ok && got[1].Text != "" {
		t.Errorf("the cache gives the erased text back: %+v", got)
	}
}

// Put replaces an entry whole: a shorter cached timeline that another
// replica's erasure made stale is not extended with the longer one's tail.
func TestPutReplacesRatherThanExtends(t *testing.T) {
	stale := []incident.Event{ev(1, incident.EventDeclared, ""), ev(2, incident.EventMessage, "hunter2")}
	erased := []incident.Event{stale[0], ev(2, incident.EventMessage, ""), ev(3, incident.EventMessageDeleted, "")}
	c := New(5)
	c.Put(1, stale)
	c.Put(1, erased)
	if got, ok := c.Get(1, 3); !ok || got[1].Text != "" {
		t.Errorf("after another replica's erasure the cache gives %+v, %v", got, ok)
	}
}

// Readers get copies: changing what Get returned does not reach the cache,
// and neither does changing what was Put.
func TestGetAndPutCopy(t *testing.T) {
	evs := []incident.Event{ev(1, incident.EventDeclared, "declared")}
	c := New(5)
	c.Put(1, evs)
	evs[0].Text = "changed after put"
	got, _ := c.Get(1, 1)
	got[0].Text = "scribbled"
	if again, ok := c.Get(1, 1); !ok || again[0].Text != "declared" {
		t.Errorf("the cache gives %+v, %v", again, ok)
	}
}
