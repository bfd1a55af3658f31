package bot_test

import (
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"
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
