package bot

import (
	"container/list"
	"context"
	"strings"
	"sync"

	"github.com/slack-go/slack"

	"github.com/incidentbot/incidentbot/incident"
	"github.com/incidentbot/incidentbot/review"
)

// People's names are looked up with users.info once and kept in memory in
// a bounded LRU cache: a restart asks Slack again, which also picks up a
// renamed person. What a review says is durable anyway: the names it was
// drafted with are stored with it (review.Review.People).
const (
	nameCacheSize = 2000 // people remembered
	nameLookups   = 50   // users.info calls at most per review draft
)

// nameCache is an LRU cache of display names by Slack user ID.
type nameCache struct {
	mu   sync.Mutex
	max  int
	lru  *list.List // of *nameEntry, most recent first
	byID map[string]*list.Element
}

type nameEntry struct{ id, name string }

func newNameCache(max int) *nameCache {
	return &nameCache{max: max, lru: list.New(), byID: map[string]*list.Element{}}
}

func (c *nameCache) get(id string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.byID[id]
	if !ok {
		return "", false
	}
	c.lru.MoveToFront(el)
	return el.Value.(*nameEntry).name, true
}

func (c *nameCache) put(id, name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byID[id]; ok {
		el.Value.(*nameEntry).name = name
		c.lru.MoveToFront(el)
		return
	}
	c.byID[id] = c.lru.PushFront(&nameEntry{id: id, name: name})
	for c.lru.Len() > c.max {
		el := c.lru.Back()
		c.lru.Remove(el)
		delete(c.byID, el.Value.(*nameEntry).id)
	}
}

func (c *nameCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}

// names returns the names of people (Slack user IDs) that Slack can tell,
// from the cache or users.info, at most nameLookups calls; people Slack
// cannot name (unknown, or Slack failing) are left out, so that the caller
// falls back to the ID. Failures are not cached: the next draft asks again.
func (b *Bot) names(ctx context.Context, people []string) map[string]string {
	out := map[string]string{}
	seen := map[string]bool{}
	asked := 0
	for _, u := range people {
		if !isUser(u) || u == b.botUser() || seen[u] {
			continue
		}
		seen[u] = true
		if n, ok := b.nameCache.get(u); ok {
			out[u] = n
			continue
		}
		if asked == nameLookups {
			continue
		}
		asked++
		if n := b.lookupName(ctx, u); n != "" {
			b.nameCache.put(u, n)
			out[u] = n
		}
	}
	return out
}

// lookupName asks Slack for a person's name: their full name (a review is
// read on the web, by people who may not know Slack handles), else the
// display name they chose, else the handle.
func (b *Bot) lookupName(ctx context.Context, u string) string {
	su, err := b.api.GetUserInfoContext(ctx, u)
	if err != nil || su == nil {
		if err != nil {
			b.log.Warn("could not look up a name; the review shows the member ID", "user", u, "err", err)
		}
		return ""
	}
	return firstNonBlank(su.Profile.RealName, su.RealName, su.Profile.DisplayName, su.Name)
}

func firstNonBlank(ss ...string) string {
	for _, s := range ss {
		if s = strings.TrimSpace(s); s != "" {
			return s
		}
	}
	return ""
}

// The bot calls *slack.Client through SlackAPI: a method whose signature
// drifts with slack-go (as users.info's did) must fail to compile here,
// not silently fall back to IDs.
var _ SlackAPI = (*slack.Client)(nil)

// setNames writes the names Slack gave into a review, over the ID
// fallback ("@U…") a review holds for people Slack could not name before.
func setNames(r *review.Review, names map[string]string) {
	for u, n := range names {
		if cur := r.People[u]; cur != "" && cur != "@"+u {
			continue
		}
		if r.People == nil {
			r.People = map[string]string{}
		}
		r.People[u] = n
	}
}

// withoutSelf is v without what the bot itself did: timelines recorded
// before the bot learned to ignore its own echoes hold the edits of its
// card and its pins as if a person had made them, and it would count
// among the participants asked for an account.
func (b *Bot) withoutSelf(v view) view {
	self := b.botUser()
	if self == "" {
		return v
	}
	inc := *v.inc
	inc.Events = nil
	for _, e := range v.inc.Events {
		if e.Actor == self || (e.Kind == incident.EventParticipantJoined && e.User == self) {
			continue
		}
		inc.Events = append(inc.Events, e)
	}
	if len(inc.Events) == len(v.inc.Events) {
		return v
	}
	v.inc, v.st = &inc, inc.State(b.cat.Policy, v.now)
	return v
}
