package insights

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/incidentbot/incidentbot/incident"
	"github.com/incidentbot/incidentbot/review"
)

// SampleHistory makes a deterministic history of past incidents over the
// twelve weeks before now for the catalogue's services: majors and minors
// of every impact, a few drills on Chaos Days, published reviews with
// readers and improvement actions, a Chaos Day review, and something in the
// last week so that the error budgets show. Numbers start at first. It is
// sample data: the sandbox shows it on the insights pages, marked as such,
// and the browser tests draw every chart from it.
func SampleHistory(cat *incident.Catalogue, now time.Time, first int64) ([]*incident.Incident, []*review.Review) {
	rng := rand.New(rand.NewPCG(14, uint64(len(cat.Services))))
	var incs []*incident.Incident
	var reviews []*review.Review
	n := first
	levels := []incident.ImpactLevel{incident.ImpactBlocked, incident.ImpactDegraded, incident.ImpactPartial}
	titles := []string{"Checkout errors", "Slow search", "Payments declined", "Images missing", "Login loops", "Stock counts wrong"}
	for day := 84; day >= 1; day -= 2 + rng.IntN(4) {
		for _, s := range cat.Services {
			if rng.IntN(2) != 0 {
				continue
			}
			start := now.Add(-time.Duration(day)*24*time.Hour + time.Duration(rng.IntN(10*60))*time.Minute)
			// Restored within a fifth to one and a half times the
			// tolerable unavailability: mostly effective, sometimes not.
			tol := cat.TargetAt(s, start).TolerableUnavailability()
			ttr := max(3*time.Minute, tol/5+time.Duration(rng.Int64N(int64(tol*13/10))).Round(time.Minute))
			inc := sampleIncident(cat, n, s, titles[rng.IntN(len(titles))], cat.Shares.Impact(levels[rng.IntN(3)]), start, ttr, false)
			incs = append(incs, inc)
			if day > 3 {
				reviews = append(reviews, sampleReview(cat, inc, rng))
			}
			n++
		}
	}
	// Chaos Days: a drill on a few days, some services twice the same day.
	for i, day := range []int{70, 49, 49, 28, 7} {
		s := cat.Services[i%len(cat.Services)]
		start := now.Add(-time.Duration(day)*24*time.Hour + 10*time.Hour)
		inc := sampleIncident(cat, n, s, "Chaos Day: fail over the database", cat.Shares.Impact(incident.ImpactDegraded), start, 40*time.Minute, true)
		incs = append(incs, inc)
		if day == 49 && i == 1 {
			reviews = append(reviews, sampleReview(cat, inc, rng))
		}
		n++
	}
	// The last week: the first service blocked long enough to overspend
	// its budget; the incident is still open.
	if len(cat.Services) > 0 {
		s := cat.Services[0]
		tol := cat.TargetAt(s, now).TolerableUnavailability()
		incs = append(incs, sampleIncident(cat, n, s, "Bookings fail", cat.Shares.Impact(incident.ImpactBlocked), now.Add(-tol-30*time.Minute), 0, false))
	}
	return incs, reviews
}

func sampleIncident(cat *incident.Catalogue, n int64, s incident.Service, title string, imp incident.Impact, start time.Time, ttr time.Duration, drill bool) *incident.Incident {
	inc, err := incident.Declare(cat.Policy, n, incident.Declaration{Title: title, Service: s, Actor: "USAMPLE", Impact: imp, Drill: drill, StartedAt: start}, start)
	if err != nil {
		panic(fmt.Sprintf("insights: sample incident: %v", err))
	}
	if ttr > 0 {
		if _, err := inc.Resolve(cat.Policy, start.Add(ttr), "USAMPLE", "restored"); err != nil {
			panic(fmt.Sprintf("insights: sample resolution: %v", err))
		}
	}
	return inc
}

func sampleReview(cat *incident.Catalogue, inc *incident.Incident, rng *rand.Rand) *review.Review {
	st := inc.State(cat.Policy, inc.StartedAt.Add(30*24*time.Hour))
	published := st.ResolvedAt.Add(time.Duration(1+rng.IntN(4)) * 24 * time.Hour)
	r := &review.Review{
		Number: inc.Number, Title: inc.Title, Service: inc.Service.Name, Team: inc.Service.Team, Class: st.Class,
		StartedAt: inc.StartedAt, ResolvedAt: st.ResolvedAt, TimeToRestore: st.TimeToRestore,
		Status: incident.ReviewPublished, DraftedAt: st.ResolvedAt, PublishedAt: published, Drill: inc.Drill,
		Readers: map[string]time.Time{},
	}
	for i := range 2 + rng.IntN(12) {
		r.Readers[fmt.Sprintf("sample-reader-%d", i)] = published.Add(time.Duration(i) * time.Hour)
	}
	for i := range 1 + rng.IntN(3) {
		a := review.Action{ID: fmt.Sprintf("%d-%d", inc.Number, i+1), Incident: inc.Number, Service: inc.Service.Name,
			Text: "Improve the runbook", CreatedAt: published}
		if rng.IntN(4) != 0 {
			a.DoneAt = published.Add(time.Duration(6+rng.IntN(40*24)) * time.Hour)
		}
		r.Actions = append(r.Actions, a)
	}
	return r
}
