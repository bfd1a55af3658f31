package boltstore

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/incidentbot/incidentbot/incident/desk"
)

// claims are the job claims of desk.JobStore. One process holds a bbolt
// file, so they live in memory: a restart forgets them, as it should.
type claims struct {
	mu    sync.Mutex
	byID  map[string]claim
	locks sync.Map // name → *sync.Mutex, for WithLock
}

type claim struct {
	owner    string
	until    time.Time
	queue    string
	incident int64
}

// Claim claims up to limit due jobs of a queue for owner until now+lease;
// see desk.JobStore.
func (s *Store) Claim(ctx context.Context, queue, owner string, now time.Time, limit int, lease time.Duration) ([]desk.Job, error) {
	s.claims.mu.Lock()
	defer s.claims.mu.Unlock()
	due, err := s.Due(ctx, queue, now, 0)
	if err != nil {
		return nil, fmt.Errorf("boltstore: claim jobs: %w", err)
	}
	busy := map[int64]bool{} // lanes with a claimed job, or whose head was passed
	for _, c := range s.claims.byID {
		if c.queue == queue && c.incident != 0 && c.until.After(now) {
			busy[c.incident] = true
		}
	}
	var out []desk.Job
	for _, j := range due {
		if limit > 0 && len(out) >= limit {
			break
		}
		if c, ok := s.claims.byID[j.ID]; ok && c.until.After(now) {
			continue
		}
		if j.Incident != 0 {
			if busy[j.Incident] {
				continue
			}
			busy[j.Incident] = true
		}
		s.claims.byID[j.ID] = claim{owner: owner, until: now.Add(lease), queue: queue, incident: j.Incident}
		out = append(out, j)
	}
	return out, nil
}

// Renew extends owner's claims on ids until until.
func (s *Store) Renew(_ context.Context, owner string, ids []string, until time.Time) error {
	s.claims.mu.Lock()
	defer s.claims.mu.Unlock()
	for _, id := range ids {
		if c, ok := s.claims.byID[id]; ok && c.owner == owner {
			c.until = until
			s.claims.byID[id] = c
		}
	}
	return nil
}

// Release ends owner's claims on ids.
func (s *Store) Release(_ context.Context, owner string, ids []string) error {
	s.claims.mu.Lock()
	defer s.claims.mu.Unlock()
	for _, id := range ids {
		if c, ok := s.claims.byID[id]; ok && c.owner == owner {
			delete(s.claims.byID, id)
		}
	}
	return nil
}

// unclaim ends any claim on a job (it completed or was rescheduled).
func (s *Store) unclaim(id string) {
	s.claims.mu.Lock()
	defer s.claims.mu.Unlock()
	delete(s.claims.byID, id)
}

// WithLock runs fn holding the named lock. One process holds the file, so
// a process mutex is the lock.
func (s *Store) WithLock(ctx context.Context, name string, fn func(ctx context.Context) error) error {
	m, _ := s.claims.locks.LoadOrStore(name, new(sync.Mutex))
	mu := m.(*sync.Mutex)
	mu.Lock()
	defer mu.Unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	return fn(ctx)
}
