package pgstore

import (
	"context"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/incident/desk"
	"github.com/incidentbot/incidentbot/incident/incidenttest"
)

// claimIDs claims for owner and returns the claimed jobs' IDs, noting which
// were taken over from another owner.
func claimIDs(t *testing.T, s *Store, owner string, now time.Time) (ids []string, takenOver map[string]bool) {
	t.Helper()
	jobs, err := s.Claim(context.Background(), desk.QueueEffects, owner, now, 0, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	takenOver = map[string]bool{}
	for _, j := range jobs {
		ids = append(ids, j.ID)
		takenOver[j.ID] = j.TakenOver
	}
	return ids, takenOver
}

// A replica that dies loses its claims at once, not when their lease runs
// out: its presence session ends with its process, and another replica
// takes the jobs at its next claim (and knows it took them over).
func TestDeadOwnersClaimsAreTakenAtOnce(t *testing.T) {
	stores := replicas(t, 2)
	a, b := stores[0], stores[1]
	now := time.Now()
	if err := a.Enqueue(context.Background(),
		desk.Job{ID: "lane/1", Kind: "k", Incident: 7, DueAt: now.Add(-time.Second)},
		desk.Job{ID: "lane/2", Kind: "k", Incident: 7, DueAt: now.Add(-time.Second / 2)},
		desk.Job{ID: "free", Kind: "k", DueAt: now.Add(-time.Second)}); err != nil {
		t.Fatal(err)
	}
	if ids, _ := claimIDs(t, a, "replica-a", now); len(ids) != 2 {
		t.Fatalf("replica a claimed %v, want the lane's head and the free job", ids)
	}
	if ids, _ := claimIDs(t, b, "replica-b", now); len(ids) != 0 {
		t.Fatalf("replica b claimed %v while a lives and holds them for an hour", ids)
	}
	_ = a.Close() // as a SIGKILL would: the presence session is gone, the claims are not released
	ids, taken := claimIDs(t, b, "replica-b", now)
	if len(ids) != 2 || !taken["lane/1"] || !taken["free"] {
		t.Fatalf("after a died, b claimed %v (taken over: %v), want lane/1 and free, both taken over", ids, taken)
	}
}

// A replica whose presence session is lost (PostgreSQL restarted, a proxy
// dropped the connection) takes its presence back by itself.
func TestPresenceComesBackAfterItsSessionIsLost(t *testing.T) {
	stores := replicas(t, 2)
	a, b := stores[0], stores[1]
	ctx := context.Background()
	now := time.Now()
	if err := a.Enqueue(ctx, desk.Job{ID: "j", Kind: "k", Incident: 1, DueAt: now}); err != nil {
		t.Fatal(err)
	}
	if ids, _ := claimIDs(t, a, "replica-a", now); len(ids) != 1 {
		t.Fatalf("replica a claimed %v, want j", ids)
	}
	var ended bool
	err := b.pool.QueryRow(ctx, `SELECT bool_or(pg_terminate_backend(pid)) FROM pg_locks
		WHERE locktype = 'advisory' AND classid = $1::oid AND objid = hashtext('replica-a')::oid`, lockClassLive).Scan(&ended)
	if err != nil || !ended {
		t.Fatalf("ending a's presence session: %v (ended %v)", err, ended)
	}
	present := func(owner string) bool {
		var ok bool
		if err := b.pool.QueryRow(ctx, presentSQL, owner, lockClassLive).Scan(&ok); err != nil {
			t.Fatal(err)
		}
		return ok
	}
	incidenttest.Eventually(t, "replica a to be present again", func() bool { return present("replica-a") })
	if !present("replica-a") || present("replica-nobody") {
		t.Fatal("presence is not told apart by owner")
	}
}
