package review_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/incident"
	"github.com/incidentbot/incidentbot/review"
)

// bigIncident is a long, busy incident with 20,000 timeline events: chat
// (every 40th message pinned, some edited or deleted), a storm of repeated
// alerts, people joining, notes, updates, impact and cost revisions,
// handovers, and the resolution.
func bigIncident(tb testing.TB, c *incident.Catalogue, events int) (*incident.Incident, incident.State) {
	tb.Helper()
	p := c.Policy
	svc, _ := c.Service("bedroom")
	t0 := time.Date(2026, 11, 17, 10, 0, 0, 0, time.UTC)
	inc := must(incident.Declare(p, 9, incident.Declaration{Title: "Checkout degraded for a day", Service: svc, Actor: "U1", Impact: c.Shares.Impact(incident.ImpactPartial)}, t0))
	users := []string{"U1", "U2", "U3", "UB1", "UA1", "UA2"}
	at := t0
	for i := 0; len(inc.Events) < events-1; i++ {
		at = at.Add(3 * time.Second)
		u := users[i%len(users)]
		var e incident.Event
		switch k := i % 100; {
		case k == 0 && i%1000 == 0:
			share := incident.Share(1000 + (i/1000)%5*1000)
			must(inc.SetImpact(p, at, u, incident.Impact{Level: incident.ImpactPartial, Share: share, Explicit: true}))
			continue
		case k == 1 && i%2000 == 1:
			must(inc.AddCost(p, at, u, usd.Major(250), "overtime"))
			continue
		case k < 8:
			e = incident.Event{Kind: incident.EventAlertFired, Actor: incident.ActorAlertmanager, Source: incident.ActorAlertmanager, Key: fmt.Sprintf("ak%d", i%7), Text: "CheckoutLatency high"}
		case k == 8:
			e = incident.Event{Kind: incident.EventAlertResolved, Actor: incident.ActorAlertmanager, Source: incident.ActorAlertmanager, Key: fmt.Sprintf("ak%d", i%7)}
		case k == 9:
			e = incident.Event{Kind: incident.EventNote, Actor: u, Text: fmt.Sprintf("note %d: checked <https://grafana.example/d/%d|dashboard %d>", i, i, i)}
		case k == 10 && i%500 == 10:
			e = incident.Event{Kind: incident.EventUpdate, Actor: u, Text: fmt.Sprintf("update %d: still degraded, next update in 30 minutes", i)}
		case k == 11 && i%3000 == 11:
			e = incident.Event{Kind: incident.EventCommander, Actor: u, User: users[(i/3000)%len(users)], Text: "appointed"}
		case k == 12:
			e = incident.Event{Kind: incident.EventParticipantJoined, Actor: u, User: u}
		case k == 13:
			e = incident.Event{Kind: incident.EventMessageEdited, Actor: u, Key: fmt.Sprintf("m%d", i-20), Text: "edited | " + strings.Repeat("word ", 20)}
		case k == 14:
			e = incident.Event{Kind: incident.EventMessageDeleted, Actor: u, Key: fmt.Sprintf("m%d", i-30)}
		case i%40 == 15:
			e = incident.Event{Kind: incident.EventKeyEvent, Actor: u, Key: fmt.Sprintf("m%d", i-1)}
		default:
			e = incident.Event{Kind: incident.EventMessage, Actor: u, Key: fmt.Sprintf("m%d", i), Text: fmt.Sprintf("message %d from <@%s>: %s", i, u, strings.Repeat("looking at the logs ", 1+i%5))}
		}
		e.At = at
		inc.Append(e) // Record would replay the state after each event; the benchmark builds faster
	}
	must(inc.Resolve(p, at.Add(time.Minute), "U2", "Scaled the checkout pods."))
	if len(inc.Events) != events {
		tb.Fatalf("built %d events, want %d", len(inc.Events), events)
	}
	return inc, inc.State(p, at.Add(time.Hour))
}

// BenchmarkDraftAndRender20kEvents drafts a review of an incident with
// 20,000 timeline events, renders it to Markdown and converts that to HTML.
func BenchmarkDraftAndRender20kEvents(b *testing.B) {
	c := furniture(b)
	inc, st := bigIncident(b, c, 20_000)
	for _, bc := range []struct {
		name string
		max  int
	}{{"timeline=300", 0}, {"timeline=all", -1}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			var size int
			for b.Loop() {
				r, err := review.Draft(inc, st, c, review.DraftOptions{Name: name, MaxTimeline: bc.max})
				if err != nil {
					b.Fatal(err)
				}
				md, err := review.Markdown(r)
				if err != nil {
					b.Fatal(err)
				}
				h, err := review.HTML(md)
				if err != nil {
					b.Fatal(err)
				}
				size = len(h)
			}
			b.ReportMetric(float64(size)/1024, "KiB-html")
		})
	}
}

func TestBigIncidentDraft(t *testing.T) {
	c := furniture(t)
	inc, st := bigIncident(t, c, 20_000)
	r, err := review.Draft(inc, st, c, review.DraftOptions{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	tl := r.Sections[review.SectionTimeline]
	if rows := strings.Count(tl, "\n|"); rows != review.DefaultMaxTimeline+2 {
		t.Errorf("timeline rows = %d", rows)
	}
	if !strings.Contains(tl, "more key events: see the incident channel") || !strings.Contains(tl, "Availability restored") {
		t.Error("timeline of a long incident lost its gap or its end")
	}
	if strings.Contains(tl, "looking at the logs") && !strings.Contains(tl, "📌") {
		t.Error("ordinary chat on the timeline")
	}
	if _, err := review.HTML(must(review.Markdown(r))); err != nil {
		t.Fatal(err)
	}
}
