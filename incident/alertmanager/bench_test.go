package alertmanager_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/incident/alertmanager"
)

// BenchmarkAlertmanagerWebhookToStored measures one notification from the
// HTTP handler to the durable store (bbolt commit with fsync) and the 200:
//
//   - open: every notification is a new group of a new service and opens
//     an incident (its first jobs are enqueued in the same transaction);
//   - attach: a changed notification of a known group goes on its
//     incident's timeline (timelines of up to 100 events, then a new group);
//   - resend: an identical re-send, recognised by its idempotency key.
func BenchmarkAlertmanagerWebhookToStored(b *testing.B) {
	start := time.Now().Add(-time.Hour).UTC()
	body := func(group, k int) []byte {
		svc := fmt.Sprintf("bench-svc-%d", group)
		lb := labels("alertname", "Bench", "service", svc)
		n := notification(fmt.Sprintf(`{}:{alertname="Bench", service="%s"}`, svc), "firing", lb,
			firing(fmt.Sprint("fp-", k), start.Add(time.Duration(k)*time.Second), labels("alertname", "Bench", "service", svc, "instance", "host-1"), "disk filling"),
			firing("fp-base", start, labels("alertname", "Bench", "service", svc, "instance", "host-0"), "disk filling"))
		return mustJSON(b, n)
	}
	run := func(b *testing.B, next func(i int) []byte) {
		e := newEnv(b, alertmanager.Options{BearerToken: token})
		bodies := make([][]byte, b.N)
		for i := range bodies {
			bodies[i] = next(i)
		}
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			if rec := e.post(bodies[i], "Bearer "+token); rec.Code != http.StatusOK {
				b.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
		}
	}
	b.Run("open", func(b *testing.B) {
		run(b, func(i int) []byte { return body(i, 0) })
	})
	b.Run("attach", func(b *testing.B) {
		run(b, func(i int) []byte { return body(i/100, i) })
	})
	b.Run("resend", func(b *testing.B) {
		one := body(0, 0)
		run(b, func(int) []byte { return one })
	})
}
