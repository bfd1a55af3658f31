package main

import (
	"bytes"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/incident/alertmanager"
)

// BenchmarkWebhookIntake posts Alertmanager notifications to 1 or 3 serve
// replicas on one PostgreSQL (real processes, fake Slack), 16 senders at
// once spread over the replicas, each notification a new alert group of
// one of four services: every webhook finds or opens its incident under
// the cross-replica lock and is stored before its 200. It reports
// webhooks/s and the p99 latency of one webhook.
//
//	go test -run '^$' -bench WebhookIntake -benchtime 2000x ./cmd/incidentbot/
func BenchmarkWebhookIntake(b *testing.B) {
	for _, n := range []int{1, 3} {
		b.Run(fmt.Sprintf("replicas=%d", n), func(b *testing.B) {
			f := newFailover(b, n)
			var urls []string
			for _, r := range f.replicas {
				urls = append(urls, r.url()+alertmanager.Path)
			}
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
			var seq atomic.Int64
			var mu sync.Mutex
			var lat []time.Duration
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			for range 16 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						i := int(seq.Add(1))
						if i > b.N {
							return
						}
						body := alertBody(fmt.Sprintf("{}:{group=\"b%d\"}", i), fmt.Sprintf("svc-%d", i%4))
						t := time.Now()
						resp, err := client.Post(urls[i%n], "application/json", bytes.NewReader(body))
						if err != nil {
							b.Error(err)
							return
						}
						resp.Body.Close()
						if resp.StatusCode != 200 {
							b.Errorf("status %d", resp.StatusCode)
							return
						}
						mu.Lock()
						lat = append(lat, time.Since(t))
						mu.Unlock()
					}
				}()
			}
			wg.Wait()
			el := time.Since(start)
			b.StopTimer()
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			if len(lat) > 0 {
				b.ReportMetric(float64(len(lat))/el.Seconds(), "webhooks/s")
				b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
			}
		})
	}
}
