package desk_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/incident"
	"github.com/incidentbot/incidentbot/incident/desk"
)

// BenchmarkRecordMessageLongTimeline records one chat message, durably, on
// an incident whose timeline already holds 5,000 events.
// Recording a chat message costs about the same on a long timeline as on a
// short one.
func BenchmarkRecordMessage(b *testing.B) {
	for _, n := range []int{10, 20_000} {
		b.Run(fmt.Sprintf("events=%d", n), func(b *testing.B) { benchRecordMessage(b, n) })
	}
}

func benchRecordMessage(b *testing.B, events int) {
	d, st, clk := setup(b)
	ctx := context.Background()
	inc, err := d.Declare(ctx, desk.DeclareRequest{Service: "bedroom", Title: "Busy", Actor: "UA", Impact: incident.DefaultShares.Impact(incident.ImpactDegraded)})
	if err != nil {
		b.Fatal(err)
	}
	_, err = st.Update(ctx, inc.Number, func(inc *incident.Incident) ([]desk.Job, error) {
		for i := 0; i < events; i++ {
			inc.Append(incident.Event{At: clk.Now(), Kind: incident.EventMessage, Actor: "UA", Key: fmt.Sprintf("m%d", i), Text: "chatter"})
		}
		return nil, nil
	})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		clk.Advance(time.Second)
		if _, err := d.Record(ctx, inc.Number, incident.Event{Kind: incident.EventMessage, Actor: "UA", Key: fmt.Sprintf("b%d", i), Text: "more", Idem: fmt.Sprintf("ev%d", i)}); err != nil {
			b.Fatal(err)
		}
	}
}
