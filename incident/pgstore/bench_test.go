package pgstore

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/incident"
	"github.com/incidentbot/incidentbot/incident/desk"
	"github.com/incidentbot/incidentbot/incident/incidenttest"
	"github.com/incidentbot/incidentbot/internal/pgtest"
)

// BenchmarkAlertIntake measures alerts recorded through the desk on
// PostgreSQL, as webhooks arrive at 1 or 3 replicas (each its own pool and
// desk): 16 senders at once, alert groups spread over the catalogue's three
// services, each alert a new group (the storm case: every alert finds or
// opens its incident under the cross-replica lock). It reports alerts/s
// and the p99 latency of one alert.
func BenchmarkAlertIntake(b *testing.B) {
	for _, n := range []int{1, 3} {
		b.Run(fmt.Sprintf("replicas=%d", n), func(b *testing.B) {
			url := pgtest.DB(b)
			cat := incidenttest.Valid(b, incidenttest.Furniture())
			var desks []*desk.Desk
			for range n {
				s, err := Open(context.Background(), url, Options{})
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { s.Close() })
				desks = append(desks, desk.New(s, cat, desk.Options{}))
			}
			services := []string{"bedroom", "appointments", "ecommerce-platform"}
			var seq atomic.Int64
			var mu sync.Mutex
			var lat []time.Duration
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			per := (b.N + 15) / 16
			for w := range 16 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range per {
						i := seq.Add(1)
						t := time.Now()
						_, err := desks[int(i)%n].Alert(context.Background(), desk.Alert{Source: incident.ActorAlertmanager,
							Key: fmt.Sprint("g", i), Service: services[i%3], Title: "errors", Firing: true, Idem: fmt.Sprint("n", i)})
						if err != nil {
							b.Error(err)
							return
						}
						mu.Lock()
						lat = append(lat, time.Since(t))
						mu.Unlock()
					}
					_ = w
				}()
			}
			wg.Wait()
			el := time.Since(start)
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			b.ReportMetric(float64(len(lat))/el.Seconds(), "alerts/s")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		})
	}
}
