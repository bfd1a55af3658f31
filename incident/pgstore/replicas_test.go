package pgstore

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/incident"
	"github.com/incidentbot/incidentbot/incident/desk"
	"github.com/incidentbot/incidentbot/incident/incidenttest"
	"github.com/incidentbot/incidentbot/internal/pgtest"
)

// replicas opens n stores on one fresh database.
func replicas(t *testing.T, n int) []*Store {
	url := pgtest.DB(t)
	var out []*Store
	for range n {
		out = append(out, open(t, url, Options{MaxConns: 4}))
	}
	return out
}

// An alert storm spread over three replicas opens one incident: finding or
// opening the incident holds a lock across replicas.
func TestAlertStormOpensOneIncidentAcrossReplicas(t *testing.T) {
	stores := replicas(t, 3)
	cat := incidenttest.Valid(t, incidenttest.Furniture())
	now := func() time.Time { return time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC) }
	var desks []*desk.Desk
	for _, s := range stores {
		desks = append(desks, desk.New(s, cat, desk.Options{Now: now}))
	}
	var wg sync.WaitGroup
	for i := range 30 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := desks[i%3].Alert(context.Background(), desk.Alert{Source: incident.ActorAlertmanager,
				Key: fmt.Sprint("group-", i), Service: "bedroom", Title: "Checkout errors", Firing: true, Idem: fmt.Sprint("n", i)})
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	incs, err := stores[0].List(context.Background(), desk.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(incs) != 1 {
		t.Fatalf("the storm opened %d incidents, want 1", len(incs))
	}
	st := incs[0].State(cat.Policy, now())
	if len(st.Alerts) != 30 {
		t.Fatalf("the incident has %d alerts, want 30", len(st.Alerts))
	}
}

// Three runners on three replicas share one queue: every job runs once,
// an incident's jobs one at a time and in order, whichever replica runs
// them.
func TestRunnersShareTheQueueAcrossReplicas(t *testing.T) {
	stores := replicas(t, 3)
	ctx := context.Background()
	t0 := time.Now()
	var jobs []desk.Job
	for i := range 15 {
		for inc := int64(1); inc <= 3; inc++ {
			jobs = append(jobs, desk.Job{ID: fmt.Sprintf("i%d/%02d", inc, i), Kind: "step", Incident: inc, DueAt: t0})
		}
		jobs = append(jobs, desk.Job{ID: fmt.Sprintf("free/%02d", i), Kind: "step", DueAt: t0})
	}
	if err := stores[0].Enqueue(ctx, jobs...); err != nil {
		t.Fatal(err)
	}
	var (
		mu       sync.Mutex
		runs     = map[string]int{}
		order    = map[int64][]string{}
		inFlight = map[int64]int{}
	)
	rctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for i, s := range stores {
		r := desk.NewRunner(s, desk.RunnerOptions{Owner: fmt.Sprint("replica-", i), Poll: 5 * time.Millisecond, Concurrency: 3})
		r.Handle("step", func(ctx context.Context, j desk.Job) error {
			mu.Lock()
			runs[j.ID]++
			if j.Incident != 0 {
				inFlight[j.Incident]++
				if inFlight[j.Incident] > 1 {
					t.Errorf("incident %d: two jobs at once (%s)", j.Incident, j.ID)
				}
				order[j.Incident] = append(order[j.Incident], j.ID)
			}
			mu.Unlock()
			time.Sleep(2 * time.Millisecond)
			mu.Lock()
			inFlight[j.Incident]--
			mu.Unlock()
			return nil
		})
		wg.Add(1)
		go func() { defer wg.Done(); _ = r.Run(rctx) }()
	}
	incidenttest.Eventually(t, "the queue to drain", func() bool { p, _ := stores[1].Pending(ctx); return len(p) == 0 })
	cancel()
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if len(runs) != len(jobs) {
		t.Fatalf("%d jobs ran, want %d", len(runs), len(jobs))
	}
	for id, n := range runs {
		if n != 1 {
			t.Errorf("%s ran %d times", id, n)
		}
	}
	for inc, ids := range order {
		if !slices.IsSorted(ids) {
			t.Errorf("incident %d ran out of order: %v", inc, ids)
		}
	}
}

// A timeline cached by one replica is not served once another replica has
// appended to it: the cache is checked against the stored last seq.
func TestTimelineCacheSeesOtherReplicasAppends(t *testing.T) {
	stores := replicas(t, 2)
	ctx := context.Background()
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	inc, err := stores[0].Create(ctx, func(n int64) (*incident.Incident, []desk.Job, error) {
		inc := &incident.Incident{Number: n, Title: "x", Service: incident.Service{Name: "bedroom"}, StartedAt: at}
		inc.Append(incident.Event{At: at, Kind: incident.EventDeclared})
		return inc, nil, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if got, err := stores[0].Get(ctx, inc.Number); err != nil || len(got.Events) != 1+i {
			t.Fatalf("replica 0 sees %d events (%v), want %d", len(got.Events), err, 1+i)
		}
		if l, _ := stores[0].List(ctx, desk.Filter{}); len(l[0].Events) != 1+i {
			t.Fatalf("replica 0 lists %d events, want %d", len(l[0].Events), 1+i)
		}
		if _, err := stores[1].Update(ctx, inc.Number, func(inc *incident.Incident) ([]desk.Job, error) {
			inc.Append(incident.Event{At: at, Kind: incident.EventNote, Text: fmt.Sprint(i)})
			return nil, nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	got, _ := stores[0].Update(ctx, inc.Number, func(inc *incident.Incident) ([]desk.Job, error) {
		inc.Append(incident.Event{At: at, Kind: incident.EventNote, Text: "last"})
		return nil, nil
	})
	if len(got.Events) != 5 || got.Events[4].Seq != 5 {
		t.Fatalf("replica 0 appended after a stale cache: %+v", got.Events)
	}
}
