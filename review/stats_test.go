package review_test

import (
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/incident"
	"github.com/incidentbot/incidentbot/review"
)

// statsWorld is a month of hand-checked incidents (now is 2026-12-01 12:00Z):
//
//	#  service             impact         restored after  loss          at tolerable  protected
//	1  bedroom             blocked 100%   10 min          $33,333.33    $336,000      $302,666.67  Major
//	2  bedroom             partial 10%    20 min          $6,666.67     $33,600       $26,933.33   Minor
//	3  appointments        blocked        30 min          $3,000        $50,400       $47,400      Minor
//	4  ecommerce-platform  degraded 50%   40 min          $270,000      $68,040       −$201,960    Major
//	5  mattresses          blocked        50 min          $10,000       $20,160       $10,160      Minor
//	6  bedroom             blocked        open, 20 min    $66,666.67    –             –            Major
//	7  bedroom             blocked        40 days ago     (outside the period)
//
// Effectiveness: $185,200 ÷ $508,200 = 36.44% → 3644 bp.
func statsWorld(t *testing.T) (in []review.StatsInput, now time.Time) {
	c := furniture(t)
	c.Services = append(c.Services, incident.Service{Name: "mattresses", Team: "bedroom-team", HourlyExposure: usd.Major(12_000)})
	c.Normalize()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	now = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	add := func(n int64, service string, imp incident.Impact, start time.Time, ttr time.Duration) {
		svc, _ := c.Service(service)
		inc := must(incident.Declare(c.Policy, n, incident.Declaration{Title: "t", Service: svc, Actor: "U1", Impact: imp}, start))
		if ttr > 0 {
			must(inc.Resolve(c.Policy, start.Add(ttr), "U1", ""))
		}
		in = append(in, review.StatsInput{Incident: inc, State: inc.State(c.Policy, now)})
	}
	day := func(d int) time.Time { return time.Date(2026, 11, d, 10, 0, 0, 0, time.UTC) }
	blocked := c.Shares.Impact(incident.ImpactBlocked)
	add(1, "bedroom", blocked, day(10), 10*time.Minute)
	add(2, "bedroom", c.Shares.Impact(incident.ImpactPartial), day(12), 20*time.Minute)
	add(3, "appointments", blocked, day(14), 30*time.Minute)
	add(4, "ecommerce-platform", c.Shares.Impact(incident.ImpactDegraded), day(16), 40*time.Minute)
	add(5, "mattresses", blocked, day(18), 50*time.Minute)
	add(6, "bedroom", blocked, now.Add(-20*time.Minute), 0)
	add(7, "bedroom", blocked, now.AddDate(0, 0, -40), time.Hour)
	return in, now
}

func TestStatsHandChecked(t *testing.T) {
	in, now := statsWorld(t)
	day := func(d int) time.Time { return time.Date(2026, 11, d, 12, 0, 0, 0, time.UTC) }
	actions := []review.Action{
		{ID: "1-1", Incident: 1, Service: "bedroom", CreatedAt: day(10), DoneAt: day(12)},      // 2 days
		{ID: "1-2", Incident: 1, Service: "bedroom", CreatedAt: day(10), DoneAt: day(16)},      // 6 days
		{ID: "3-1", Incident: 3, Service: "appointments", CreatedAt: day(10), DoneAt: day(11)}, // 1 day
		{ID: "7-1", Incident: 7, CreatedAt: time.Date(2026, 10, 20, 12, 0, 0, 0, time.UTC), DoneAt: day(20)},
		{ID: "4-1", Incident: 4, Service: "ecommerce-platform", CreatedAt: day(20)},       // open
		{ID: "1-1", Incident: 1, Service: "bedroom", CreatedAt: day(10), DoneAt: day(12)}, // duplicate
	}
	reviews := []*review.Review{
		{Number: 1, Service: "bedroom", Team: "bedroom-team", Status: incident.ReviewPublished, PublishedAt: day(20), Readers: readers("a", "b", "c")},
		{Number: 3, Service: "appointments", Team: "appointments-team", Status: incident.ReviewPublished, PublishedAt: day(25), Readers: readers("a", "d")},
		{Number: 4, Service: "ecommerce-platform", Status: incident.ReviewDrafted, Readers: readers("z")},
		{Number: 7, Service: "bedroom", Status: incident.ReviewPublished, PublishedAt: time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC), Readers: readers("x")},
		nil,
	}
	s := review.Stats(in, actions, reviews, 30*24*time.Hour, "", now)

	ints := []struct {
		name      string
		got, want int
	}{
		{"incidents", s.Incidents, 6}, {"majors", s.Majors, 3}, {"minors", s.Minors, 3}, {"open", s.Open, 1},
		{"restored", s.Restored, 5}, {"effectiveness measured", s.EffectivenessMeasured, 5},
		{"actions defined", s.ActionsDefined, 4}, {"actions done", s.ActionsDone, 4}, {"actions open", s.ActionsOpen, 1},
		{"reviews", len(s.Reviews), 2}, {"review readers", s.ReviewReaders, 5}, {"unique readers", s.UniqueReaders, 4},
	}
	for _, c := range ints {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.name, c.got, c.want)
		}
	}
	durs := []struct {
		name      string
		got, want time.Duration
	}{
		{"median TTR", s.MedianTimeToRestore, 30 * time.Minute},
		{"p90 TTR", s.P90TimeToRestore, 50 * time.Minute},
		{"median action lead time", s.MedianActionLeadTime, 48 * time.Hour}, // of 1, 2, 6, 31 days
		{"mean time between actions", s.MeanTimeBetweenActions, 72 * time.Hour},
	}
	for _, c := range durs {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if review.Days(s.MedianActionLeadTime) != 2 {
		t.Errorf("lead time days = %v", review.Days(s.MedianActionLeadTime))
	}
	if want := 4.0 / (30.0 / 7.0); s.ActionsPerWeek < want-1e-9 || s.ActionsPerWeek > want+1e-9 {
		t.Errorf("actions per week = %v, want %v", s.ActionsPerWeek, want)
	}
	money := func(d, c int64) incident.Money { return usd.Major(d) + incident.Money(c) }
	if want := money(389_666, 67); s.TotalLoss != want {
		t.Errorf("total loss = %s, want %s", usd.Format(s.TotalLoss), usd.Format(want))
	}
	wantServices := []review.Loss{
		{Name: "ecommerce-platform", Loss: money(270_000, 0), Incidents: 1},
		{Name: "bedroom", Loss: money(106_666, 67), Incidents: 3},
		{Name: "mattresses", Loss: money(10_000, 0), Incidents: 1},
		{Name: "appointments", Loss: money(3_000, 0), Incidents: 1},
	}
	wantTeams := []review.Loss{
		{Name: "platform-team", Loss: money(270_000, 0), Incidents: 1},
		{Name: "bedroom-team", Loss: money(116_666, 67), Incidents: 4},
		{Name: "appointments-team", Loss: money(3_000, 0), Incidents: 1},
	}
	checkLoss(t, "service", s.LossByService, wantServices)
	checkLoss(t, "team", s.LossByTeam, wantTeams)
	var sum incident.Money
	for _, l := range s.LossByService {
		sum += l.Loss
	}
	if sum != s.TotalLoss {
		t.Errorf("loss by service sums to %s, total %s", usd.Format(sum), usd.Format(s.TotalLoss))
	}
	if s.LossAtTolerable != money(508_200, 0) || s.Protected != money(185_200, 0) || s.Effectiveness != 3644 || s.EffectivenessText() != "36.4%" {
		t.Errorf("effectiveness %s of %s = %d bp", usd.Format(s.Protected), usd.Format(s.LossAtTolerable), s.Effectiveness)
	}
	if s.Reviews[0].Number != 3 || s.Reviews[0].Readers != 2 || s.Reviews[1].Number != 1 || s.Reviews[1].Readers != 3 {
		t.Errorf("reviews %+v", s.Reviews)
	}
}

func TestStatsForOneService(t *testing.T) {
	in, now := statsWorld(t)
	day := func(d int) time.Time { return time.Date(2026, 11, d, 12, 0, 0, 0, time.UTC) }
	actions := []review.Action{
		{ID: "1-1", Incident: 1, Service: "bedroom", CreatedAt: day(10), DoneAt: day(12)},
		{ID: "1-2", Incident: 1, Service: "bedroom", CreatedAt: day(10), DoneAt: day(16)},
		{ID: "3-1", Incident: 3, Service: "appointments", CreatedAt: day(10), DoneAt: day(11)},
		// No service: matched through incident 7, which is outside the period.
		{ID: "7-1", Incident: 7, CreatedAt: time.Date(2026, 10, 20, 12, 0, 0, 0, time.UTC), DoneAt: day(20)},
	}
	s := review.Stats(in, actions, nil, 30*24*time.Hour, "Bedroom", now)
	if s.Incidents != 3 || s.Majors != 2 || s.Minors != 1 || s.Open != 1 {
		t.Errorf("counts %d/%d/%d/%d", s.Incidents, s.Majors, s.Minors, s.Open)
	}
	// Nearest rank of two values: the median is the lower, p90 the higher.
	if s.MedianTimeToRestore != 10*time.Minute || s.P90TimeToRestore != 20*time.Minute {
		t.Errorf("TTR median %v p90 %v", s.MedianTimeToRestore, s.P90TimeToRestore)
	}
	if s.ActionsDone != 3 || s.MedianActionLeadTime != 6*24*time.Hour {
		t.Errorf("actions done %d median lead %v", s.ActionsDone, s.MedianActionLeadTime)
	}
	if len(s.LossByService) != 1 || len(s.LossByTeam) != 1 || s.LossByTeam[0].Name != "bedroom-team" {
		t.Errorf("loss %+v %+v", s.LossByService, s.LossByTeam)
	}
	// All time: incident 7 counts too.
	if all := review.Stats(in, nil, nil, 0, "bedroom", now); all.Incidents != 4 || !all.From.IsZero() {
		t.Errorf("all-time incidents = %d", all.Incidents)
	}
	// Nothing at all.
	if empty := review.Stats(nil, nil, nil, time.Hour, "", now); empty.Incidents != 0 || empty.MedianTimeToRestore != 0 || empty.Effectiveness != 0 || empty.ActionsPerWeek != 0 {
		t.Errorf("empty stats %+v", empty)
	}
}

func TestStatsNearestRank(t *testing.T) {
	c := furniture(t)
	svc, _ := c.Service("appointments")
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	var in []review.StatsInput
	for i, m := range []int{50, 10, 40, 20, 30} { // unsorted on purpose
		start := now.Add(-time.Duration(i+1) * 24 * time.Hour)
		inc := must(incident.Declare(c.Policy, int64(i+1), incident.Declaration{Title: "t", Service: svc, Actor: "U1", Impact: c.Shares.Impact(incident.ImpactBlocked)}, start))
		must(inc.Resolve(c.Policy, start.Add(time.Duration(m)*time.Minute), "U1", ""))
		in = append(in, review.StatsInput{Incident: inc, State: inc.State(c.Policy, now)})
	}
	s := review.Stats(in, nil, nil, 7*24*time.Hour, "", now)
	if s.MedianTimeToRestore != 30*time.Minute || s.P90TimeToRestore != 50*time.Minute {
		t.Errorf("TTRs 10..50 min: median %v p90 %v, want 30m and 50m", s.MedianTimeToRestore, s.P90TimeToRestore)
	}
}

func readers(ids ...string) map[string]time.Time {
	m := map[string]time.Time{}
	for _, id := range ids {
		m[id] = time.Time{}
	}
	return m
}

func checkLoss(t *testing.T, what string, got, want []review.Loss) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("loss by %s = %+v, want %+v", what, got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("loss by %s [%d] = %s %s (%d), want %s %s (%d)", what, i, got[i].Name, usd.Format(got[i].Loss), got[i].Incidents, want[i].Name, usd.Format(want[i].Loss), want[i].Incidents)
		}
	}
}

// A drill is priced like a real incident but left out of every incident,
// loss, restoration and effectiveness figure; it is only counted as a drill.
func TestStatsLeaveDrillsOut(t *testing.T) {
	in, now := statsWorld(t)
	base := review.Stats(in, nil, nil, 30*24*time.Hour, "", now)
	c := furniture(t)
	svc, _ := c.Service("ecommerce-platform")
	drill := must(incident.Declare(c.Policy, 8, incident.Declaration{Title: "Chaos Day", Service: svc, Actor: "U1", Drill: true, Impact: c.Shares.Impact(incident.ImpactBlocked)}, now.Add(-48*time.Hour)))
	must(drill.Resolve(c.Policy, now.Add(-47*time.Hour), "U1", ""))
	st := drill.State(c.Policy, now)
	if st.LossSoFar != usd.Major(810_000) || st.Effectiveness == nil {
		t.Fatalf("a drill is priced like a real incident: loss %s, effectiveness %v", usd.Format(st.LossSoFar), st.Effectiveness)
	}
	s := review.Stats(append(in, review.StatsInput{Incident: drill, State: st}), nil, nil, 30*24*time.Hour, "", now)
	if s.Drills != 1 || base.Drills != 0 {
		t.Errorf("drills = %d (without: %d), want 1", s.Drills, base.Drills)
	}
	if s.Incidents != base.Incidents || s.Majors != base.Majors || s.TotalLoss != base.TotalLoss ||
		s.Restored != base.Restored || s.P90TimeToRestore != base.P90TimeToRestore ||
		s.EffectivenessMeasured != base.EffectivenessMeasured || s.Effectiveness != base.Effectiveness {
		t.Errorf("the drill changed the measures:\nwith    %+v\nwithout %+v", s, base)
	}
	checkLoss(t, "service", s.LossByService, base.LossByService)
	if got := review.Shares(review.StatsInput{Incident: drill, State: st}); len(got) != 0 {
		t.Errorf("a drill has loss shares %+v", got)
	}
}
