package pagerduty

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/slack-go/slack"

	"github.com/incidentbot/incidentbot/incident/desk"
)

// UserLookup maps an e-mail address to a Slack user ID.
type UserLookup interface {
	// LookupByEmail returns the Slack user ID of the account with the
	// e-mail, or an error wrapping ErrUserNotFound if there is none.
	LookupByEmail(ctx context.Context, email string) (slackID string, err error)
}

// ErrUserNotFound says that no Slack user has the e-mail.
var ErrUserNotFound = errors.New("no Slack user with that e-mail")

// SlackUserAPI is the slack-go call SlackUsers needs; *slack.Client has it.
type SlackUserAPI interface {
	GetUserByEmailContext(ctx context.Context, email string) (*slack.User, error)
}

// SlackUsers looks e-mails up with users.lookupByEmail (Tier 3, about 50 a
// minute) and caches the answers in memory, misses too, so that a callout
// costs no Slack call for people seen recently.
type SlackUsers struct {
	api     SlackUserAPI
	ttl     time.Duration
	missTTL time.Duration
	now     func() time.Time

	mu    sync.Mutex
	cache map[string]cached
}

type cached struct {
	id      string // "" for a miss
	expires time.Time
}

// SlackUsersOptions configure SlackUsers.
type SlackUsersOptions struct {
	TTL     time.Duration // how long a found user is kept; default 24 h
	MissTTL time.Duration // how long "no such user" is kept; default 1 h
	Now     func() time.Time
}

// NewSlackUsers returns a cached e-mail lookup over Slack.
func NewSlackUsers(api SlackUserAPI, opts SlackUsersOptions) *SlackUsers {
	if opts.TTL <= 0 {
		opts.TTL = 24 * time.Hour
	}
	if opts.MissTTL <= 0 {
		opts.MissTTL = time.Hour
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &SlackUsers{api: api, ttl: opts.TTL, missTTL: opts.MissTTL, now: opts.Now, cache: map[string]cached{}}
}

// LookupByEmail implements UserLookup. A Slack rate limit comes back as a
// *desk.RetryAfterError with Slack's Retry-After.
func (s *SlackUsers) LookupByEmail(ctx context.Context, email string) (string, error) {
	key := strings.ToLower(strings.TrimSpace(email))
	if key == "" {
		return "", fmt.Errorf("lookup by e-mail: %w", ErrUserNotFound)
	}
	now := s.now()
	s.mu.Lock()
	c, ok := s.cache[key]
	s.mu.Unlock()
	if ok && now.Before(c.expires) {
		if c.id == "" {
			return "", fmt.Errorf("lookup by e-mail: %w", ErrUserNotFound)
		}
		return c.id, nil
	}
	u, err := s.api.GetUserByEmailContext(ctx, key)
	switch {
	case err == nil && u != nil && u.ID != "" && !u.Deleted:
		s.put(key, cached{id: u.ID, expires: now.Add(s.ttl)})
		return u.ID, nil
	case err == nil || isSlackError(err, "users_not_found"):
		s.put(key, cached{expires: now.Add(s.missTTL)})
		return "", fmt.Errorf("lookup by e-mail: %w", ErrUserNotFound)
	}
	var rl *slack.RateLimitedError
	if errors.As(err, &rl) {
		return "", &desk.RetryAfterError{Delay: rl.RetryAfter, Err: fmt.Errorf("slack users.lookupByEmail: %w", err)}
	}
	return "", fmt.Errorf("slack users.lookupByEmail: %w", err)
}

func (s *SlackUsers) put(key string, c cached) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.cache) > 10_000 {
		now := s.now()
		for k, v := range s.cache {
			if !now.Before(v.expires) {
				delete(s.cache, k)
			}
		}
	}
	s.cache[key] = c
}

func isSlackError(err error, code string) bool {
	var se slack.SlackErrorResponse
	if errors.As(err, &se) {
		return se.Err == code
	}
	return err != nil && err.Error() == code
}
