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
func BenchmarkRecordMessageLongTimeline(b *testing.B) {
	d, st, clk := setup(b)
	ctx := context.Background()
	inc, err := d.Declare(ctx, desk.DeclareRequest{Service: "bedroom", Title: "Busy", Actor: "UA", Impact: incident.DefaultShares.Impact(incident.ImpactDegraded)})
	if err != nil {
		b.Fatal(err)
	}
	_, err = st.Update(ctx, inc.Number, func(inc *incident.Incident) ([]desk.Job, error) {
		for i := 0; i < 5000; i++ {
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
