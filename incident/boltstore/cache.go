package boltstore

import (
	"container/list"
	"sync"

	"github.com/incidentbot/incidentbot/incident"
)

// timelineCache keeps the decoded timelines of recently used incidents, so
// that appending a chat message to a long incident does not decode its
// whole stored timeline again. It is only a cache: an entry is used only
// when its last sequence number equals the last key in the incident's
// events bucket (timelines are append-only and this process is the only
// writer, so equal last seqs mean equal timelines), and entries are added
// only after a commit. Readers get their own copy. The writer (bbolt has
// one at a time) borrows the cached slice itself and appends in place,
// beyond what any reader sees, so that recording a message on a long
// timeline copies nothing; its committed timeline is adopted, and a
// rolled-back write drops the entry.
//
// Erasing a deleted message's text is the one change that is not an
// append. The domain erases in a copy of the timeline (never in the
// borrowed slice), the writer's erased timeline replaces the entry, and
// from then on the cache refuses any timeline of that incident shorter
// than the erasing one (a reader's snapshot from before the erasure, put
// late, which later puts would extend), so that the text never comes back
// from memory.
type timelineCache struct {
	mu        sync.Mutex
	maxEvents int // total events kept; 0 disables the cache
	events    int
	lru       *list.List // of *cachedTimeline, most recent first
	byNumber  map[int64]*list.Element
	floor     map[int64]int // incident → length of its last erasing timeline
}

type cachedTimeline struct {
	number int64
	// events is never modified below its length; only the writer that
	// borrowed it appends beyond.
	events []incident.Event
}

func newTimelineCache(maxEvents int) *timelineCache {
	return &timelineCache{maxEvents: maxEvents, lru: list.New(), byNumber: map[int64]*list.Element{}, floor: map[int64]int{}}
}

// get returns a copy of the cached timeline of incident number if it ends at
// lastSeq. The copy has room for a few more events, so the caller's next
// append does not copy it again.
func (c *timelineCache) get(number int64, lastSeq int) ([]incident.Event, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.byNumber[number]
	if !ok {
		return nil, false
	}
	ct := el.Value.(*cachedTimeline)
	if n := len(ct.events); n != lastSeq || (n > 0 && ct.events[n-1].Seq != lastSeq) {
		return nil, false
	}
	c.lru.MoveToFront(el)
	out := make([]incident.Event, len(ct.events), len(ct.events)+8)
	copy(out, ct.events)
	return out, true
}

// borrow returns the cached timeline of incident number itself, for the
// one write transaction, if it ends at lastSeq. The writer may append to it
// (in place while capacity lasts) but must not change its events.
func (c *timelineCache) borrow(number int64, lastSeq int) ([]incident.Event, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.byNumber[number]
	if !ok {
		return nil, false
	}
	ct := el.Value.(*cachedTimeline)
	if n := len(ct.events); n != lastSeq || (n > 0 && ct.events[n-1].Seq != lastSeq) {
		return nil, false
	}
	c.lru.MoveToFront(el)
	return ct.events, true
}

// adopt caches a writer's committed timeline as it is, without copying:
// from now on it is read only below its length.
func (c *timelineCache) adopt(number int64, evs []incident.Event) {
	if c.maxEvents <= 0 || len(evs) > c.maxEvents {
		c.drop(number)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byNumber[number]; ok {
		ct := el.Value.(*cachedTimeline)
		c.events += len(evs) - len(ct.events)
		ct.events = evs
		c.lru.MoveToFront(el)
	} else {
		c.byNumber[number] = c.lru.PushFront(&cachedTimeline{number: number, events: evs})
		c.events += len(evs)
	}
	c.evict()
}

// erased adopts the committed timeline of a write that erased text from
// earlier events, and refuses shorter timelines of the incident from now on.
func (c *timelineCache) erased(number int64, evs []incident.Event) {
	c.mu.Lock()
	c.floor[number] = len(evs)
	c.mu.Unlock()
	c.adopt(number, evs)
}

// drop forgets incident number's timeline.
func (c *timelineCache) drop(number int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byNumber[number]; ok {
		c.events -= len(el.Value.(*cachedTimeline).events)
		c.lru.Remove(el)
		delete(c.byNumber, number)
	}
}

// put caches a copy of a committed timeline, unless a longer one (a later
// commit, seen by a concurrent reader first) is already cached. Committed
// timelines only grow, so a cached shorter one is a prefix of evs and only
// the new events are copied.
func (c *timelineCache) put(number int64, evs []incident.Event) {
	if c.maxEvents <= 0 || len(evs) > c.maxEvents {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(evs) < c.floor[number] {
		return // a snapshot from before an erasure
	}
	if el, ok := c.byNumber[number]; ok {
		ct := el.Value.(*cachedTimeline)
		if len(ct.events) > len(evs) {
			return
		}
		c.events += len(evs) - len(ct.events)
		ct.events = append(ct.events, evs[len(ct.events):]...)
		c.lru.MoveToFront(el)
	} else {
		own := make([]incident.Event, len(evs))
		copy(own, evs)
		c.byNumber[number] = c.lru.PushFront(&cachedTimeline{number: number, events: own})
		c.events += len(own)
	}
	c.evict()
}

// evict drops the least recently used timelines beyond the bound.
func (c *timelineCache) evict() {
	for c.events > c.maxEvents {
		el := c.lru.Back()
		ct := el.Value.(*cachedTimeline)
		c.lru.Remove(el)
		delete(c.byNumber, ct.number)
		c.events -= len(ct.events)
	}
}

// len reports the number of cached timelines and events (for tests).
func (c *timelineCache) len() (timelines, events int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len(), c.events
}
