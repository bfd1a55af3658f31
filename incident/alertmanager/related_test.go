package alertmanager_test

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/incident"
	"github.com/incidentbot/incidentbot/incident/alertmanager"
	"github.com/incidentbot/incidentbot/incident/desk"
	"github.com/incidentbot/incidentbot/incident/incidenttest"
)

// sharedDependency is the furniture retailer with a database that twenty
// shops depend on, and a service that depends on nothing.
func sharedDependency(t testing.TB, shops int) *incident.Catalogue {
	t.Helper()
	c := catalogue(t)
	c.Services = append(c.Services, incident.Service{Name: "database", Team: "platform-team", HourlyExposure: incident.USD.Major(5_000)})
	for i := range shops {
		c.Services = append(c.Services, incident.Service{Name: fmt.Sprintf("shop-%02d", i), Team: "bedroom-team",
			HourlyExposure: incident.USD.Major(1_000), DependsOn: []string{"database"}})
	}
	return incidenttest.Valid(t, c)
}

func alertFor(service string, startsAt time.Time) alertmanager.Notification {
	common := labels("alertname", "Down", "service", service)
	return notification(gk(service, "Down"), "firing", common, firing("fp-"+service, startsAt, common, service+" is down"))
}

// TestRelatedAlertStorm: a shared dependency and twenty services that depend
// on it all alert, from concurrent senders: one incident, priced across the
// twenty-one services, instead of a channel storm.
func TestRelatedAlertStorm(t *testing.T) {
	t.Parallel()
	const shops = 20
	e := newEnvWith(t, alertmanager.Options{BearerToken: token}, sharedDependency(t, shops), desk.Options{})
	start := time.Now().Add(-time.Minute).UTC().Truncate(time.Second)
	services := []string{"database"}
	for i := range shops {
		services = append(services, fmt.Sprintf("shop-%02d", i))
	}
	var wg sync.WaitGroup
	codes := make([]int, len(services)*2)
	for i, svc := range services {
		for k := range 2 { // each alert twice: a re-send changes nothing
			wg.Add(1)
			go func() {
				defer wg.Done()
				codes[i*2+k] = e.post(mustJSON(t, alertFor(svc, start)), "Bearer "+token).Code
			}()
		}
	}
	wg.Wait()
	for i, c := range codes {
		if c != http.StatusOK {
			t.Fatalf("notification %d answered %d", i, c)
		}
	}
	all := e.incidents()
	if len(all) != 1 {
		t.Fatalf("%d incidents, want 1", len(all))
	}
	inc, st := e.get(all[0].Number)
	if len(st.Services) != len(services) {
		t.Fatalf("%d services on the incident, want %d: %v", len(st.Services), len(services), inc.ServiceNames())
	}
	for _, s := range st.Services[1:] {
		if s.Primary || !s.Active || s.Impact.Level != incident.ImpactNone {
			t.Errorf("attached service %+v, want affected without impact yet", s)
		}
	}
	if n := countKind(inc, incident.EventAlertFired); n != len(services) {
		t.Errorf("%d alerts fired on the timeline, want %d", n, len(services))
	}
	if n := countKind(inc, incident.EventServiceAffected); n != len(services)-1 {
		t.Errorf("%d services attached, want %d", n, len(services)-1)
	}
}

func TestRelatedAlertsJoinOnlyWithinTheWindowAndWhenConfigured(t *testing.T) {
	cat := sharedDependency(t, 2)
	start := time.Now().Add(-time.Minute).UTC().Truncate(time.Second)
	// Unrelated: appointments depends on nothing, nothing on it.
	e := newEnvWith(t, alertmanager.Options{BearerToken: token}, cat, desk.Options{})
	first := e.send(alertFor("shop-00", start))
	if r := e.send(alertFor("shop-01", start)); r.Incident != first.Incident || r.Created {
		t.Errorf("shop-01 sharing the database with shop-00 opened %+v, want to join #%d", r, first.Incident)
	}
	if r := e.send(alertFor("appointments", start)); r.Incident == first.Incident || !r.Created {
		t.Errorf("appointments (unrelated) = %+v, want an incident of its own", r)
	}
	// group_related: false keeps related services apart.
	apart := newEnvWith(t, alertmanager.Options{BearerToken: token}, cat, desk.Options{SeparateRelated: true})
	a := apart.send(alertFor("database", start))
	if r := apart.send(alertFor("shop-00", start)); r.Incident == a.Incident || !r.Created {
		t.Errorf("with related alerts kept apart shop-00 = %+v", r)
	}
	// Outside the grouping window a related alert opens its own incident.
	now := time.Now()
	late := newEnvWith(t, alertmanager.Options{BearerToken: token}, cat, desk.Options{Now: func() time.Time { return now }, GroupingWindow: 10 * time.Minute})
	b := late.send(alertFor("database", start))
	now = now.Add(11 * time.Minute)
	if r := late.send(alertFor("shop-00", start)); r.Incident == b.Incident || !r.Created {
		t.Errorf("11 minutes later shop-00 = %+v, want a new incident", r)
	}
}
