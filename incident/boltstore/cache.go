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
// writer, so equal last seqs mean equal timelines), entries are added only
// after a commit, and callers always get their own copy.
//
// Erasing a deleted message's text is the one change that is not an
// append: the writer replaces the entry with the erased timeline, and the
// cache refuses from then on any timeline of that incident shorter than the
// erasing one (a reader's snapshot from before the erasure, put late), so
// that the text never comes back from memory.
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
	events []incident.Event // never modified, never handed out
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
	c.putLocked(number, evs)
}

// erased replaces the cached timeline of incident number with the committed
// timeline of a transaction that erased text from earlier events.
func (c *timelineCache) erased(number int64, evs []incident.Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.floor[number] = len(evs)
	c.dropLocked(number)
	if c.maxEvents > 0 && len(evs) <= c.maxEvents {
		c.putLocked(number, evs)
	}
}

func (c *timelineCache) dropLocked(number int64) {
	if el, ok := c.byNumber[number]; ok {
		c.lru.Remove(el)
		delete(c.byNumber, number)
		c.events -= len(el.Value.(*cachedTimeline).events)
	}
}

func (c *timelineCache) putLocked(number int64, evs []incident.Event) {
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
	for c.events > c.maxEvents {
		c.dropLocked(c.lru.Back().Value.(*cachedTimeline).number)
	}
}

// len reports the number of cached timelines and events (for tests).
func (c *timelineCache) len() (timelines, events int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len(), c.events
}
