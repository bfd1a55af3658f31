package desk

import (
	"context"
	"strings"
	"time"

	"github.com/incidentbot/incidentbot/incident"
)

// BudgetLookback is how long before the budget window an incident may have
// started and still be read for it: an incident restored within the window
// after running up to this long counts. An open incident always counts.
const BudgetLookback = 30 * 24 * time.Hour

// WeeklyBudgets returns the weekly error budget of every catalogue service
// at now, in catalogue order.
func (d *Desk) WeeklyBudgets(ctx context.Context) ([]incident.Budget, error) {
	incs, err := d.budgetIncidents(ctx, "")
	if err != nil {
		return nil, err
	}
	now := d.now()
	out := make([]incident.Budget, 0, len(d.cat.Services))
	for _, s := range d.cat.Services {
		out = append(out, d.cat.WeeklyBudget(s, incs, now))
	}
	return out, nil
}

// WeeklyBudget returns the weekly error budget of one catalogue service at
// now; ok is false for a service not in the catalogue.
func (d *Desk) WeeklyBudget(ctx context.Context, service string) (b incident.Budget, ok bool, err error) {
	s, ok := d.cat.Service(service)
	if !ok {
		return b, false, nil
	}
	incs, err := d.budgetIncidents(ctx, s.Name)
	if err != nil {
		return b, false, err
	}
	return d.cat.WeeklyBudget(s, incs, d.now()), true, nil
}

// budgetIncidents lists the incidents that may overlap the budget window:
// those started since the lookback, and every open one.
func (d *Desk) budgetIncidents(ctx context.Context, service string) ([]*incident.Incident, error) {
	since := d.now().Add(-incident.BudgetWindow - BudgetLookback)
	recent, err := d.store.List(ctx, Filter{Service: service, Since: since})
	if err != nil {
		return nil, err
	}
	open, err := d.store.List(ctx, Filter{Service: service, OpenOnly: true})
	if err != nil {
		return nil, err
	}
	seen := map[int64]bool{}
	for _, inc := range recent {
		seen[inc.Number] = true
	}
	for _, inc := range open {
		if !seen[inc.Number] && (service == "" || strings.EqualFold(inc.Service.Name, service)) {
			recent = append(recent, inc)
		}
	}
	return recent, nil
}
