// Package timelinecache keeps the decoded timelines of recently used
// incidents for the storage adapters, so that appending an alert or a chat
// message to a long incident does not read and decode its whole stored
// timeline again.
//
// It is only a cache: an entry is used only when its last sequence number
// equals the one the adapter read from storage in the same transaction
// (timelines are numbered 1..n, so equal last seqs mean equal timelines),
// entries are added only from committed data, and readers get their own
// copy. A single writer may borrow an entry and append in place, beyond
// what any reader sees (Borrow, Adopt, Drop).
//
// Erasing a deleted message's text is the one change that is not an
// append. The erased timeline replaces the entry (Erased), and from then on
// the cache refuses any timeline of that incident shorter than the erasing
// one (a reader's snapshot from before the erasure, put late, which later
// puts would extend), so that the text never comes back from memory.
package timelinecache

import (
	"container/list"
	"sync"

	"github.com/incidentbot/incidentbot/incident"
)

// Cache is a bounded LRU of timelines by incident number. It is safe for
// concurrent use.
type Cache struct {
	mu        sync.Mutex
	maxEvents int // total events kept; 0 or less disables the cache
	events    int
	lru       *list.List // of *entry, most recent first
	byNumber  map[int64]*list.Element
	floor     map[int64]int // incident → length of its last erasing timeline
}

type entry struct {
	number int64
	// events is never modified below its length; only the writer that
	// borrowed it appends beyond.
	events []incident.Event
}

// New returns a cache that keeps at most maxEvents events in all; a
// maxEvents of 0 or less disables it.
func New(maxEvents int) *Cache {
	return &Cache{maxEvents: maxEvents, lru: list.New(), byNumber: map[int64]*list.Element{}, floor: map[int64]int{}}
}

// Get returns a copy of the cached timeline of incident number if it ends at
// lastSeq. The copy has room for a few more events, so the caller's next
// append does not copy it again.
func (c *Cache) Get(number int64, lastSeq int) ([]incident.Event, bool) {
	evs, ok := c.Borrow(number, lastSeq)
	if !ok {
		return nil, false
	}
	out := make([]incident.Event, len(evs), len(evs)+8)
	copy(out, evs)
	return out, true
}

// Borrow returns the cached timeline of incident number itself, for the
// one writer, if it ends at lastSeq. The writer may append to it (in place
// while capacity lasts) but must not change its events.
func (c *Cache) Borrow(number int64, lastSeq int) ([]incident.Event, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.byNumber[number]
	if !ok {
		return nil, false
	}
	e := el.Value.(*entry)
	if n := len(e.events); n != lastSeq || (n > 0 && e.events[n-1].Seq != lastSeq) {
		return nil, false
	}
	c.lru.MoveToFront(el)
	return e.events, true
}

// Adopt caches a writer's committed timeline as it is, without copying:
// from now on it is read only below its length.
func (c *Cache) Adopt(number int64, evs []incident.Event) {
	if c.maxEvents <= 0 || len(evs) > c.maxEvents {
		c.Drop(number)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.set(number, evs)
}

// Erased adopts the committed timeline of a write that erased text from
// earlier events, and refuses shorter timelines of the incident from now on.
func (c *Cache) Erased(number int64, evs []incident.Event) {
	c.mu.Lock()
	c.floor[number] = len(evs)
	c.mu.Unlock()
	c.Adopt(number, evs)
}

// Drop forgets incident number's timeline.
func (c *Cache) Drop(number int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byNumber[number]; ok {
		c.events -= len(el.Value.(*entry).events)
		c.lru.Remove(el)
		delete(c.byNumber, number)
	}
}

// Put caches a copy of a committed timeline, unless a longer one (a later
// commit, seen by a concurrent reader first) is already cached. The entry
// is replaced whole, not extended: where another writer may erase text
// (another replica), a shorter cached timeline need not be a prefix of evs.
func (c *Cache) Put(number int64, evs []incident.Event) {
	c.put(number, evs, false)
}

// Extend is Put for an adapter whose every erasure goes through Erased
// (one writer): a cached shorter timeline is then a prefix of evs, and only
// the new events are copied.
func (c *Cache) Extend(number int64, evs []incident.Event) {
	c.put(number, evs, true)
}

func (c *Cache) put(number int64, evs []incident.Event, extend bool) {
	if c.maxEvents <= 0 || len(evs) > c.maxEvents {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(evs) < c.floor[number] {
		return // a snapshot from before an erasure
	}
	el, ok := c.byNumber[number]
	if ok && len(el.Value.(*entry).events) > len(evs) {
		return
	}
	if ok && extend {
		old := el.Value.(*entry).events
		c.set(number, append(old, evs[len(old):]...))
		return
	}
	own := make([]incident.Event, len(evs))
	copy(own, evs)
	c.set(number, own)
}

// set makes evs the entry of incident number and evicts beyond the bound;
// c.mu is held.
func (c *Cache) set(number int64, evs []incident.Event) {
	if el, ok := c.byNumber[number]; ok {
		e := el.Value.(*entry)
		c.events += len(evs) - len(e.events)
		e.events = evs
		c.lru.MoveToFront(el)
	} else {
		c.byNumber[number] = c.lru.PushFront(&entry{number: number, events: evs})
		c.events += len(evs)
	}
	for c.events > c.maxEvents {
		el := c.lru.Back()
		e := el.Value.(*entry)
		c.lru.Remove(el)
		delete(c.byNumber, e.number)
		c.events -= len(e.events)
	}
}

// Len reports the number of cached timelines and events.
func (c *Cache) Len() (timelines, events int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len(), c.events
}
