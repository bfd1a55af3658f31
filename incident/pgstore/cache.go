package pgstore

import (
	"container/list"
	"sync"

	"github.com/incidentbot/incidentbot/incident"
)

// timelineCache keeps the decoded timelines of recently used incidents, so
// that appending an alert or a chat message to a long incident does not
// read and decode its whole timeline again (the same cache as the bbolt
// store's). It is only a cache: an entry is used only when its last
// sequence number equals the incident's last_seq read in the same
// transaction (timelines are append-only and numbered 1..n whichever
// replica wrote them, so equal last seqs mean equal timelines), entries are
// added only from committed data, and callers always get their own copy.
type timelineCache struct {
	mu        sync.Mutex
	maxEvents int // total events kept; 0 disables the cache
	events    int
	lru       *list.List // of *cachedTimeline, most recent first
	byNumber  map[int64]*list.Element
}

type cachedTimeline struct {
	number int64
	events []incident.Event // never modified, never handed out
}

func newTimelineCache(maxEvents int) *timelineCache {
	return &timelineCache{maxEvents: maxEvents, lru: list.New(), byNumber: map[int64]*list.Element{}}
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
// commit, seen by a concurrent reader first) is already cached.
func (c *timelineCache) put(number int64, evs []incident.Event) {
	if c.maxEvents <= 0 || len(evs) > c.maxEvents {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byNumber[number]; ok {
		ct := el.Value.(*cachedTimeline)
		if len(ct.events) > len(evs) {
			return
		}
		// Replaced whole, not extended: a message deletion rewrites
		// earlier events (erasing their text), so a shorter cached
		// timeline need not be a prefix of a longer one.
		own := make([]incident.Event, len(evs))
		copy(own, evs)
		c.events += len(own) - len(ct.events)
		ct.events = own
		c.lru.MoveToFront(el)
	} else {
		own := make([]incident.Event, len(evs))
		copy(own, evs)
		c.byNumber[number] = c.lru.PushFront(&cachedTimeline{number: number, events: own})
		c.events += len(own)
	}
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
