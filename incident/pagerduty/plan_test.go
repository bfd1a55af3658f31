package pagerduty_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/incidentbot/incidentbot/incident"
	"github.com/incidentbot/incidentbot/incident/boltstore"
	"github.com/incidentbot/incidentbot/incident/boltstore/bolttest"
	"github.com/incidentbot/incidentbot/incident/desk"
	"github.com/incidentbot/incidentbot/incident/incidenttest"
	"github.com/incidentbot/incidentbot/incident/pagerduty"
)

// A person's acknowledgement, note and resolution are synced to PagerDuty;
// what PagerDuty itself did is not echoed back; a Major pages the incident
// managers once.
func TestPlannerSyncsPeopleNotPagerDuty(t *testing.T) {
	st := bolttest.Open(t, boltstore.Options{})
	clk := incidenttest.NewClock(incidenttest.T0)
	d := desk.New(st, incidenttest.Furniture(), desk.Options{Now: clk.Now, Planners: []desk.Planner{pagerduty.Planner{}}})
	ctx := context.Background()
	inc, err := d.Declare(ctx, desk.DeclareRequest{Service: "bedroom", Title: "Beds", Actor: "UA"})
	if err != nil {
		t.Fatal(err)
	}
	n := inc.Number
	steps := []func() error{
		func() error { _, err := d.Acknowledge(ctx, n, desk.Op{Actor: "UA", Idem: "a1"}); return err },
		func() error {
			_, err := d.Record(ctx, n, incident.Event{Kind: incident.EventAcknowledged, Actor: incident.ActorPagerDuty})
			return err
		},
		func() error { _, err := d.AddNote(ctx, n, desk.Op{Actor: "UA", Idem: "n1"}, "rolled back"); return err },
		func() error {
			_, err := d.SetImpact(ctx, n, desk.Op{Actor: "UA", Idem: "i1"}, incident.DefaultShares.Impact(incident.ImpactBlocked))
			return err
		},
		func() error {
			_, err := d.Resolve(ctx, n, desk.Op{Actor: incident.ActorPagerDuty}, "fixed in PagerDuty")
			return err
		},
	}
	for _, step := range steps {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	jobs, _ := st.Pending(ctx)
	count := map[string]int{}
	for _, j := range jobs {
		count[j.Kind]++
	}
	want := map[string]int{pagerduty.JobAcknowledge: 1, pagerduty.JobNote: 1, pagerduty.JobManagers: 1, pagerduty.JobResolve: 0}
	for k, w := range want {
		if count[k] != w {
			t.Errorf("%d %s jobs, want %d (all %v)", count[k], k, w, count)
		}
	}
}

// A drill runs like a real incident, but the PagerDuty planner plans
// nothing for it: no incident managers paged when it turns Major, no note,
// update, acknowledgement or resolution synced.
func TestPlannerIgnoresDrills(t *testing.T) {
	st := bolttest.Open(t, boltstore.Options{})
	clk := incidenttest.NewClock(incidenttest.T0)
	d := desk.New(st, incidenttest.Furniture(), desk.Options{Now: clk.Now, Planners: []desk.Planner{pagerduty.Planner{}}})
	ctx := context.Background()
	count := func(drill bool) map[string]int {
		inc, err := d.Declare(ctx, desk.DeclareRequest{Service: "bedroom", Title: "Beds", Actor: "UA", Drill: drill,
			Impact: incident.DefaultShares.Impact(incident.ImpactBlocked), Idem: fmt.Sprint("declare-", drill)})
		if err != nil {
			t.Fatal(err)
		}
		n := inc.Number
		op := func(s string) desk.Op { return desk.Op{Actor: "UA", Idem: fmt.Sprint(s, n)} }
		for _, step := range []func() error{
			func() error { _, err := d.SetCommander(ctx, n, op("c"), "UA", "volunteered"); return err },
			func() error { _, err := d.AddNote(ctx, n, op("n"), "looking"); return err },
			func() error { _, err := d.AddUpdate(ctx, n, op("u"), "still down"); return err },
			func() error { _, err := d.Acknowledge(ctx, n, op("a")); return err },
			func() error { _, err := d.Resolve(ctx, n, op("r"), "done"); return err },
		} {
			if err := step(); err != nil {
				t.Fatal(err)
			}
		}
		jobs, _ := st.Pending(ctx)
		out := map[string]int{}
		for _, j := range jobs {
			if j.Incident == n {
				out[j.Kind]++
			}
		}
		return out
	}
	for k, c := range count(true) {
		if strings.HasPrefix(k, "pagerduty.") {
			t.Errorf("a drill planned %d %s jobs", c, k)
		}
	}
	got := count(false)
	for _, k := range []string{pagerduty.JobManagers, pagerduty.JobNote, pagerduty.JobAcknowledge, pagerduty.JobResolve} {
		if got[k] == 0 {
			t.Errorf("the same steps on a real incident planned no %s job: %v", k, got)
		}
	}
}
