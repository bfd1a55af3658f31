package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

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

// BenchmarkAlertToFirstSlackCall posts one Alertmanager notification at a
// time to 1 or 3 serve replicas on one PostgreSQL, each for a new service
// (so each opens an incident), and measures the time from the POST to the
// incident's channel existing in the fake Slack (its conversations.create,
// the first Slack effect). It reports the p50 and p99.
//
//	go test -run '^$' -bench AlertToFirstSlackCall -benchtime 100x ./cmd/incidentbot/
func BenchmarkAlertToFirstSlackCall(b *testing.B) {
	for _, n := range []int{1, 3} {
		b.Run(fmt.Sprintf("replicas=%d", n), func(b *testing.B) {
			f := newFailover(b, n)
			var lat []time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				before := f.fs.Calls("conversations.create")
				body := alertBody(fmt.Sprintf("{}:{group=\"first%d\"}", i), fmt.Sprintf("first-svc-%d", i))
				t := time.Now()
				resp, err := http.Post(f.replicas[i%n].url()+alertmanager.Path, "application/json", bytes.NewReader(body))
				if err != nil || resp.StatusCode != 200 {
					b.Fatalf("post: %v %v", err, resp)
				}
				resp.Body.Close()
				for f.fs.Calls("conversations.create") == before {
					if time.Since(t) > time.Minute {
						b.Fatal("no channel within a minute")
					}
					time.Sleep(200 * time.Microsecond)
				}
				lat = append(lat, time.Since(t))
			}
			b.StopTimer()
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		})
	}
}

// BenchmarkFailoverAfterSIGKILL runs three serve replicas on one PostgreSQL
// with the default job lease. Each iteration opens an incident whose
// conversations.create hangs and signals the replica holding that job's
// claim, then measures the time from the signal to the job done by another
// replica. killed: SIGKILL, the process dies and PostgreSQL ends its
// presence session, so the claim is free at once and the next claim poll
// takes it. frozen: SIGSTOP, the process hangs with its connections open
// (like a host cut off), so the others wait for the lease to run out. It
// reports the p50 and the maximum.
//
//	go test -run '^$' -bench FailoverAfterSIGKILL -benchtime 20x ./cmd/incidentbot/
func BenchmarkFailoverAfterSIGKILL(b *testing.B) {
	for _, c := range []struct {
		name string
		sig  syscall.Signal
	}{{"killed", syscall.SIGKILL}, {"frozen", syscall.SIGSTOP}} {
		b.Run(c.name, func(b *testing.B) { benchFailover(b, c.sig) })
	}
}

func benchFailover(b *testing.B, sig syscall.Signal) {
	f := newFailoverLease(b, 3, "")
	ctx := context.Background()
	db, err := pgxpool.New(ctx, f.url)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	var took []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		trigger := func() {
			body := alertBody(fmt.Sprintf("{}:{group=\"fail%d\"}", i), fmt.Sprintf("fail-svc-%d", i))
			resp, err := http.Post(f.replicas[i%3].url()+alertmanager.Path, "application/json", bytes.NewReader(body))
			if err != nil || resp.StatusCode != 200 {
				b.Fatalf("post: %v %v", err, resp)
			}
			resp.Body.Close()
		}
		wctx, cancel := context.WithTimeout(ctx, time.Minute)
		d, err := f.failOver(wctx, db, "conversations.create", sig, trigger)
		cancel()
		if err != nil {
			f.fail("iteration %d: %v", i, err)
		}
		took = append(took, d)
	}
	b.StopTimer()
	sort.Slice(took, func(i, j int) bool { return took[i] < took[j] })
	b.ReportMetric(took[len(took)/2].Seconds(), "p50-s")
	b.ReportMetric(took[len(took)-1].Seconds(), "max-s")
}
