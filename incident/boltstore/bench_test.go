package boltstore

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/incident"
	"github.com/incidentbot/incidentbot/incident/desk"
)

// BenchmarkAppendEvent measures Update adding one event (load the timeline,
// append, commit with fsync) to incidents whose timelines hold about the
// given number of events: every 100 appends it moves on to a fresh incident.
func BenchmarkAppendEvent(b *testing.B) {
	for _, size := range []int{10, 1000} {
		b.Run("timeline="+strconv.Itoa(size), func(b *testing.B) {
			s := openStore(b, filepath.Join(b.TempDir(), "bench.db"), Options{})
			ctx := context.Background()
			newIncident := func() int64 {
				evs := make([]incident.Event, size-1)
				for i := range evs {
					evs[i] = incident.Event{At: t0, Kind: incident.EventMessage, Actor: "U01", Key: fmt.Sprint(i), Text: "a typical message in the incident channel"}
				}
				inc, err := s.Create(ctx, func(n int64) (*incident.Incident, []desk.Job, error) {
					return declared(n, "bedroom", t0, evs...), nil, nil
				})
				if err != nil {
					b.Fatal(err)
				}
				return inc.Number
			}
			number := newIncident()
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				if i > 0 && i%100 == 0 {
					b.StopTimer()
					number = newIncident()
					b.StartTimer()
				}
				_, err := s.Update(ctx, number, func(inc *incident.Incident) ([]desk.Job, error) {
					inc.Append(incident.Event{At: t0.Add(time.Minute), Kind: incident.EventNote, Actor: "U01", Text: "checked the dashboards"})
					return nil, nil
				})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkGet measures reading an incident with a 1,000-event timeline.
func BenchmarkGet(b *testing.B) {
	s := openStore(b, filepath.Join(b.TempDir(), "bench.db"), Options{})
	ctx := context.Background()
	evs := make([]incident.Event, 999)
	for i := range evs {
		evs[i] = incident.Event{At: t0, Kind: incident.EventMessage, Actor: "U01", Key: fmt.Sprint(i), Text: "a typical message in the incident channel"}
	}
	if _, err := s.Create(ctx, func(n int64) (*incident.Incident, []desk.Job, error) {
		return declared(n, "bedroom", t0, evs...), nil, nil
	}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := s.Get(ctx, 1); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSeen measures recording a new delivery id.
func BenchmarkSeen(b *testing.B) {
	s := openStore(b, filepath.Join(b.TempDir(), "bench.db"), Options{})
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if _, err := s.Seen(ctx, "slack.event", "Ev"+strconv.Itoa(i), t0); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkJobCycle measures enqueue, Due and Complete of one job.
func BenchmarkJobCycle(b *testing.B) {
	s := openStore(b, filepath.Join(b.TempDir(), "bench.db"), Options{})
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		id := "slack.post/" + strconv.Itoa(i)
		if err := s.Enqueue(ctx, desk.Job{ID: id, Kind: "slack.post", DueAt: t0}); err != nil {
			b.Fatal(err)
		}
		if jobs, err := s.Due(ctx, desk.QueueEffects, t0, 10); err != nil || len(jobs) != 1 {
			b.Fatal(jobs, err)
		}
		if err := s.Complete(ctx, id); err != nil {
			b.Fatal(err)
		}
	}
}
