package bot_test

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/incident"
)

// BenchmarkEnvelopeAck measures how long the bot takes to acknowledge
// slash-command envelopes (parse, durable inbox write, ack) while every
// Slack Web API call takes 1 s, with 8 commands in flight at once.
func BenchmarkEnvelopeAck(b *testing.B) {
	e := newEnv(b, tuesdayNoon)
	e.slash(alice, announc, "declare bedroom Benchmark")
	ch := e.channelOf(1)
	e.fs.SetLatency("*", time.Second)
	var (
		mu   sync.Mutex
		lats []time.Duration
		late atomic.Int64
		next atomic.Int64
	)
	b.ResetTimer()
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				ack, err := e.fs.SlashCommand(e.ctx(), alice, ch.ID, fmt.Sprintf("note bench %d", next.Load()))
				if err != nil {
					b.Error(err)
					return
				}
				if ack.Late {
					late.Add(1)
				}
				mu.Lock()
				lats = append(lats, ack.Latency)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	sort.Slice(lats, func(i, j int) bool { return lats[i] < lats[j] })
	if len(lats) > 0 {
		b.ReportMetric(float64(lats[len(lats)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(lats[len(lats)*99/100].Microseconds())/1000, "p99-ms")
		b.ReportMetric(float64(lats[len(lats)-1].Microseconds())/1000, "max-ms")
	}
	b.ReportMetric(float64(late.Load()), "late-acks")
	e.fs.SetLatency("*", 0)
}

// BenchmarkImpactCommand measures `/incident impact` end to end: the slash
// command through Socket Mode, the durable inbox, the desk (pricing and
// classification) until the revision is on the timeline, and until the
// pinned card shows it.
func BenchmarkImpactCommand(b *testing.B) {
	e := newEnv(b, tuesdayNoon)
	e.slash(alice, announc, "declare bedroom Benchmark")
	ch := e.channelOf(1)
	levels := []string{"degraded", "partial"}
	rates := map[string]string{"degraded": "$100,000/h", "partial": "$20,000/h"} // bedroom at $200,000/h
	var recorded, carded []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		lvl := levels[i%2]
		want := incident.DefaultShares.Impact(map[string]incident.ImpactLevel{"degraded": incident.ImpactDegraded, "partial": incident.ImpactPartial}[lvl]).Share
		start := time.Now()
		e.slash(alice, ch.ID, "impact "+lvl)
		spin(b, func() bool {
			_, st := e.incident(1)
			return st.Impact.Share == want
		})
		recorded = append(recorded, time.Since(start))
		spin(b, func() bool {
			for _, m := range e.fs.Pins(ch.ID) {
				if strings.Contains(m.Text, rates[lvl]) {
					return true
				}
			}
			return false
		})
		carded = append(carded, time.Since(start))
	}
	b.StopTimer()
	for _, m := range []struct {
		name string
		d    []time.Duration
	}{{"recorded", recorded}, {"card", carded}} {
		sort.Slice(m.d, func(i, j int) bool { return m.d[i] < m.d[j] })
		b.ReportMetric(float64(m.d[len(m.d)/2].Microseconds())/1000, m.name+"-p50-ms")
	}
}

// spin polls cond closely, for measuring (the tests' waits poll every 20 ms).
func spin(b *testing.B, cond func() bool) {
	b.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			b.Fatal("gave up waiting")
		}
		time.Sleep(200 * time.Microsecond)
	}
}
