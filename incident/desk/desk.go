// Package desk is the incident desk: the application service that every
// entry point (Slack commands, Alertmanager and PagerDuty webhooks, the HTTP
// API) goes through. It applies domain operations to the durable store and,
// in the same transaction, enqueues the side effects they cause as jobs, so
// that Slack and PagerDuty are driven from durable state: a crash or an
// outage at any step loses nothing and duplicates nothing.
package desk

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/incidentbot/incidentbot/incident"
)

// Options configure a Desk. The zero value is usable.
type Options struct {
	Logger         *slog.Logger
	Now            func() time.Time
	GroupingWindow time.Duration // alerts for a service with an incident opened or alerted within this window attach to it; default 30m
	// SeparateRelated keeps alerts of related services apart
	// (alertmanager.group_related: false). By default a firing alert for a
	// service related to a service of an open incident (one depends on the
	// other, or both on the same service) within the grouping window
	// attaches to that incident as an affected service.
	SeparateRelated  bool
	CommanderTimeout time.Duration // default 10m
	UpdateInterval   time.Duration // default 30m
	// Planners plan the adapters' effects of every change (the Slack
	// adapter's, PagerDuty's); none plans the desk's own jobs only.
	Planners []Planner
}

// Desk applies operations to incidents.
type Desk struct {
	store Store
	cat   *incident.Catalogue
	log   *slog.Logger
	now   func() time.Time
	opts  Options
	// openMu and the store's LockOpen lock serialise opening incidents,
	// in this process and across replicas, so that an alert storm attaches
	// to one incident instead of racing to create many. openMu is taken
	// first: one connection per process waits for the store's lock.
	openMu sync.Mutex
}

// New returns a Desk.
func New(store Store, cat *incident.Catalogue, opts Options) *Desk {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.GroupingWindow <= 0 {
		opts.GroupingWindow = 30 * time.Minute
	}
	if opts.CommanderTimeout <= 0 {
		opts.CommanderTimeout = 10 * time.Minute
	}
	if opts.UpdateInterval <= 0 {
		opts.UpdateInterval = 30 * time.Minute
	}
	return &Desk{store: store, cat: cat, log: opts.Logger, now: opts.Now, opts: opts}
}

// Catalogue returns the organisation's catalogue.
func (d *Desk) Catalogue() *incident.Catalogue { return d.cat }

// Policy returns the pricing policy.
func (d *Desk) Policy() incident.Policy { return d.cat.Policy }

// Now is the desk's clock.
func (d *Desk) Now() time.Time { return d.now() }

// Options returns the effective options.
func (d *Desk) Options() Options { return d.opts }

// DeclareRequest is a person's declaration.
type DeclareRequest struct {
	Service     string
	Title       string
	Description string
	Impact      incident.Impact
	Security    bool
	Drill       bool // a practice incident (Chaos Day): never paged, never measured
	Actor       string
	Idem        string // e.g. the Slack envelope id; a repeat returns the first incident
}

// Declare opens an incident for a catalogue service.
func (d *Desk) Declare(ctx context.Context, r DeclareRequest) (*incident.Incident, error) {
	svc, ok := d.cat.Service(strings.TrimSpace(r.Service))
	if !ok {
		return nil, incident.Errorf(incident.ENOTFOUND, "There is no service called %q. Try `/incident services` for the catalogue.", r.Service)
	}
	return d.create(ctx, r.Idem, func(n int64, now time.Time) (*incident.Incident, error) {
		return incident.Declare(d.cat.Policy, n, incident.Declaration{
			Title: r.Title, Description: r.Description, Service: svc, Impact: r.Impact,
			Security: r.Security, Drill: r.Drill, Actor: r.Actor, Idem: r.Idem,
		}, now)
	})
}

func (d *Desk) create(ctx context.Context, idem string, build func(n int64, now time.Time) (*incident.Incident, error)) (*incident.Incident, error) {
	if idem != "" {
		if n, ok, err := d.store.ByIdem(ctx, idem); err != nil {
			return nil, err
		} else if ok {
			return d.store.Get(ctx, n)
		}
	}
	return d.store.Create(ctx, func(n int64) (*incident.Incident, []Job, error) {
		now := d.now()
		inc, err := build(n, now)
		if err != nil {
			return nil, nil, err
		}
		return inc, d.plan(inc, nil, inc.Events, now), nil
	})
}

// Alert is a normalised alert from Alertmanager or PagerDuty.
type Alert struct {
	Source    string // incident.ActorAlertmanager or incident.ActorPagerDuty
	Key       string // stable per alert group: Alertmanager groupKey, PagerDuty incident id
	Service   string // catalogue service name (or the raw label when unmapped)
	Title     string
	Summary   string
	Labels    map[string]string
	StartsAt  time.Time
	Firing    bool
	Idem      string // dedupe key for this notification
	Severity  string
	Security  bool
	ExtraKeys []string // other keys to index for this incident (e.g. a PagerDuty incident id)
	// Alerts are the group's individual alerts as this notification
	// reports them (Alertmanager); the timeline merges every
	// notification's reports by fingerprint.
	Alerts []incident.Alert
}

// AlertResult says what an alert did.
type AlertResult struct {
	Number   int64
	Created  bool
	Attached bool
	Related  bool // attached to the incident of a related service, as an affected service
	Ignored  bool // a resolved notification for nothing we know
}

// Alert opens an incident for a firing alert, or attaches it to the open
// incident with the same key or for the same service within the grouping
// window; resolved notifications go on the timeline of their incident.
func (d *Desk) Alert(ctx context.Context, a Alert) (AlertResult, error) {
	if a.Key == "" {
		return AlertResult{}, incident.Errorf(incident.EINVALID, "alert has no key")
	}
	d.openMu.Lock()
	defer d.openMu.Unlock()
	var res AlertResult
	err := d.store.WithLock(ctx, LockOpen, func(ctx context.Context) error {
		var err error
		res, err = d.alert(ctx, a)
		return err
	})
	return res, err
}

// LockOpen is the name of the store lock under which alerts find or open
// their incident.
const LockOpen = "desk.open"

// alert is Alert under the lock.
func (d *Desk) alert(ctx context.Context, a Alert) (AlertResult, error) {
	now := d.now()
	target, related, err := d.findTarget(ctx, a, now)
	if err != nil {
		return AlertResult{}, err
	}
	kind := incident.EventAlertFired
	if !a.Firing {
		kind = incident.EventAlertResolved
	}
	ev := incident.Event{At: now, Kind: kind, Actor: a.Source, Source: a.Source, Key: a.Key, Text: a.Summary, Labels: a.Labels, Alerts: a.Alerts, Idem: a.Idem}
	if target != 0 {
		_, err := d.apply(ctx, target, func(inc *incident.Incident, now time.Time) ([]incident.Event, error) {
			if inc.HasIdem(a.Idem) {
				return nil, nil
			}
			var evs []incident.Event
			if related {
				svc, _ := d.cat.Service(a.Service)
				attached, err := inc.Affect(d.cat.Policy, now, a.Source, svc, nil)
				if err != nil && incident.ErrorCode(err) != incident.ECONFLICT {
					return nil, err
				}
				evs = attached
			}
			recorded, err := inc.Record(d.cat.Policy, now, ev)
			evs = append(evs, recorded...)
			if err != nil || !a.Firing {
				return evs, err
			}
			for _, k := range a.ExtraKeys {
				more, _ := inc.Record(d.cat.Policy, now, incident.Event{Kind: incident.EventAlertFired, Actor: a.Source, Source: a.Source, Key: k, Text: a.Summary})
				evs = append(evs, more...)
			}
			return evs, nil
		})
		return AlertResult{Number: target, Attached: true, Related: related}, err
	}
	if !a.Firing {
		return AlertResult{Ignored: true}, nil
	}
	svc, ok := d.cat.Service(a.Service)
	unmapped := !ok
	if unmapped {
		name := a.Service
		if name == "" {
			name = "unknown"
		}
		svc = incident.Service{Name: name}
	}
	title := a.Title
	if strings.TrimSpace(title) == "" {
		title = "Alert for " + svc.Name
	}
	if r := []rune(title); len(r) > incident.MaxTitle {
		title = string(r[:incident.MaxTitle-1]) + "…"
	}
	started := a.StartsAt
	if started.IsZero() || started.After(now) {
		started = now
	}
	inc, err := d.create(ctx, a.Idem, func(n int64, now time.Time) (*incident.Incident, error) {
		inc, err := incident.Declare(d.cat.Policy, n, incident.Declaration{
			Title: title, Description: a.Summary, Service: svc, Unmapped: unmapped,
			Impact: incident.Impact{Level: incident.ImpactNone}, Security: a.Security,
			Actor: a.Source, StartedAt: started, Idem: a.Idem,
		}, now)
		if err != nil {
			return nil, err
		}
		ev.Idem = ""
		if _, err := inc.Record(d.cat.Policy, now, ev); err != nil {
			return nil, err
		}
		for _, k := range a.ExtraKeys {
			if _, err := inc.Record(d.cat.Policy, now, incident.Event{Kind: incident.EventAlertFired, Actor: a.Source, Source: a.Source, Key: k, Text: a.Summary}); err != nil {
				return nil, err
			}
		}
		return inc, nil
	})
	if err != nil {
		return AlertResult{}, err
	}
	return AlertResult{Number: inc.Number, Created: true}, nil
}

// findTarget returns the open incident an alert belongs to, or 0: the
// incident its key fired on, else an open incident of its service declared
// or alerted within the grouping window, else (related is true) one of a
// related service within the window, which the alert's service joins.
func (d *Desk) findTarget(ctx context.Context, a Alert, now time.Time) (number int64, related bool, err error) {
	for _, k := range append([]string{a.Key}, a.ExtraKeys...) {
		n, ok, err := d.store.ByAlertKey(ctx, k)
		if err != nil {
			return 0, false, err
		}
		if ok {
			n, inc, st, err := d.follow(ctx, n, now)
			if err != nil {
				return 0, false, err
			}
			// A firing notification that makes nothing fire again (an
			// older one of the group, arriving late) belongs to the
			// resolved incident too, and changes nothing there.
			if st.Status == incident.StatusOpen || !a.Firing || !inc.AlertNewsFiring(k, a.Alerts, now) {
				return n, false, nil
			}
		}
	}
	if !a.Firing || strings.TrimSpace(a.Service) == "" {
		// Without a service there is nothing to group by but the key.
		return 0, false, nil
	}
	open, err := d.store.OpenByService(ctx, a.Service)
	if err != nil {
		return 0, false, err
	}
	for _, inc := range open {
		if inc.Drill {
			continue // a real alert never joins a practice incident
		}
		if d.recent(inc, now) {
			return inc.Number, false, nil
		}
	}
	if _, mapped := d.cat.Service(a.Service); d.opts.SeparateRelated || !mapped {
		return 0, false, nil
	}
	return d.findRelated(ctx, a.Service, now)
}

// follow returns the incident number is, or the one it was merged into
// (however many merges away), with its state.
func (d *Desk) follow(ctx context.Context, number int64, now time.Time) (int64, *incident.Incident, incident.State, error) {
	for hops := 0; ; hops++ {
		inc, err := d.store.Get(ctx, number)
		if err != nil {
			return 0, nil, incident.State{}, err
		}
		st := inc.State(d.cat.Policy, now)
		if st.Status != incident.StatusMerged || st.MergedInto == 0 || hops == 10 {
			return number, inc, st, nil
		}
		number = st.MergedInto
	}
}

// recent reports whether an incident was declared or alerted within the
// grouping window.
func (d *Desk) recent(inc *incident.Incident, now time.Time) bool {
	last := inc.DeclaredAt()
	for _, e := range inc.Events {
		if e.Kind == incident.EventAlertFired && e.At.After(last) {
			last = e.At
		}
	}
	return now.Sub(last) <= d.opts.GroupingWindow
}

// findRelated returns the newest open incident, declared or alerted within
// the grouping window, with a service related to service.
func (d *Desk) findRelated(ctx context.Context, service string, now time.Time) (int64, bool, error) {
	open, err := d.store.List(ctx, Filter{OpenOnly: true})
	if err != nil {
		return 0, false, err
	}
	for _, inc := range open {
		if inc.Drill || !d.recent(inc, now) {
			continue
		}
		for _, name := range inc.ServiceNames() {
			if d.cat.Related(name, service) {
				return inc.Number, !strings.EqualFold(name, service), nil
			}
		}
	}
	return 0, false, nil
}

// apply runs a domain operation on an incident in one transaction and plans
// its effects.
func (d *Desk) apply(ctx context.Context, number int64, op func(inc *incident.Incident, now time.Time) ([]incident.Event, error)) (*incident.Incident, error) {
	return d.applyRecords(ctx, number, func(inc *incident.Incident, _ Records, now time.Time) ([]incident.Event, error) {
		return op(inc, now)
	})
}

// applyRecords is apply for operations that also change the incident's
// records (its review and actions), in the same transaction.
func (d *Desk) applyRecords(ctx context.Context, number int64, op func(inc *incident.Incident, recs Records, now time.Time) ([]incident.Event, error)) (*incident.Incident, error) {
	return d.store.UpdateRecords(ctx, number, func(inc *incident.Incident, recs Records) ([]Job, error) {
		now := d.now()
		n := len(inc.Events)
		added, err := op(inc, recs, now)
		if err != nil {
			return nil, err
		}
		return d.plan(inc, d.before(inc, n, added, now), added, now), nil
	})
}

// applyJobs is apply for an operation that also has jobs of its own.
func (d *Desk) applyJobs(ctx context.Context, number int64, op func(inc *incident.Incident, now time.Time) ([]incident.Event, []Job, error)) (*incident.Incident, error) {
	return d.store.Update(ctx, number, func(inc *incident.Incident) ([]Job, error) {
		now := d.now()
		n := len(inc.Events)
		added, own, err := op(inc, now)
		if err != nil {
			return nil, err
		}
		return append(own, d.plan(inc, d.before(inc, n, added, now), added, now)...), nil
	})
}

// before is the state before an operation, only needed to see a change of
// class: replaying a long timeline for every chat message would make busy
// channels slow, so it is computed only when a priced event was added.
func (d *Desk) before(inc *incident.Incident, n int, added []incident.Event, now time.Time) *incident.State {
	var before incident.State
	before.Class = incident.Major
	for _, e := range added {
		if e.Kind.Priced() {
			before = (&incident.Incident{Number: inc.Number, Service: inc.Service, StartedAt: inc.StartedAt, Events: inc.Events[:n]}).State(d.cat.Policy, now)
			break
		}
	}
	return &before
}

// Review runs an operation on an incident's review: fn changes the review
// records and returns the events that record what it did (drafted,
// published, an action added or done); one transaction stores the records,
// the events and the jobs the planners plan from them. A repeat of an
// operation with the same Idem changes nothing.
func (d *Desk) Review(ctx context.Context, number int64, op Op, fn func(inc *incident.Incident, st incident.State, recs Records, now time.Time) ([]incident.Event, error)) (*incident.Incident, error) {
	return d.applyRecords(ctx, number, func(inc *incident.Incident, recs Records, now time.Time) ([]incident.Event, error) {
		if inc.HasIdem(op.Idem) {
			return nil, nil
		}
		return fn(inc, inc.State(d.cat.Policy, now), recs, now)
	})
}

// Get returns an incident.
func (d *Desk) Get(ctx context.Context, number int64) (*incident.Incident, error) {
	return d.store.Get(ctx, number)
}

// List lists incidents.
func (d *Desk) List(ctx context.Context, f Filter) ([]*incident.Incident, error) {
	return d.store.List(ctx, f)
}

// State is the incident's state now.
func (d *Desk) State(inc *incident.Incident) incident.State {
	return inc.State(d.cat.Policy, d.now())
}

// Tick records automatic upgrades that time alone caused.
func (d *Desk) Tick(ctx context.Context, number int64) (*incident.Incident, error) {
	return d.apply(ctx, number, func(inc *incident.Incident, now time.Time) ([]incident.Event, error) {
		return inc.Tick(d.cat.Policy, now), nil
	})
}

// Record appends an observed fact (a message, an edit, a pin, an alert, a
// callout) to an incident's timeline.
func (d *Desk) Record(ctx context.Context, number int64, e incident.Event) (*incident.Incident, error) {
	return d.apply(ctx, number, func(inc *incident.Incident, now time.Time) ([]incident.Event, error) {
		return inc.Record(d.cat.Policy, now, e)
	})
}

// CanManage reports whether a user may resolve, downgrade or publish: the
// commander, incident managers and the owning teams (of the primary service
// and of the affected ones).
func (d *Desk) CanManage(inc *incident.Incident, st incident.State, user string) bool {
	if user == "" {
		return false
	}
	if st.Commander == user || d.cat.IsIncidentManager(user) || d.cat.IsTeamMember(inc.Service.Team, user) {
		return true
	}
	for _, s := range st.Services {
		if d.cat.IsTeamMember(s.Service.Team, user) {
			return true
		}
	}
	return false
}

func forbidden(what string) error {
	return incident.Errorf(incident.EFORBIDDEN, "Only the commander, incident managers and the owning team can %s.", what)
}

// Op is a person's operation on an incident.
type Op struct {
	Actor string
	Idem  string // the Slack envelope or event id: a repeat changes nothing
}

func (d *Desk) personal(ctx context.Context, number int64, op Op, fn func(inc *incident.Incident, st incident.State, now time.Time) ([]incident.Event, error)) (*incident.Incident, error) {
	return d.apply(ctx, number, func(inc *incident.Incident, now time.Time) ([]incident.Event, error) {
		if inc.HasIdem(op.Idem) {
			return nil, nil
		}
		st := inc.State(d.cat.Policy, now)
		evs, err := fn(inc, st, now)
		if err == nil && len(evs) > 0 && op.Idem != "" {
			// Mark the first event so that a redelivery is recognised.
			i := len(inc.Events) - len(evs)
			inc.Events[i].Idem = op.Idem
			evs[0].Idem = op.Idem
		}
		return evs, err
	})
}

// SetImpact revises the impact.
func (d *Desk) SetImpact(ctx context.Context, number int64, op Op, imp incident.Impact) (*incident.Incident, error) {
	return d.personal(ctx, number, op, func(inc *incident.Incident, _ incident.State, now time.Time) ([]incident.Event, error) {
		return inc.SetImpact(d.cat.Policy, now, op.Actor, imp)
	})
}

// AddCost records a cost incurred.
func (d *Desk) AddCost(ctx context.Context, number int64, op Op, amount incident.Money, what string) (*incident.Incident, error) {
	return d.personal(ctx, number, op, func(inc *incident.Incident, _ incident.State, now time.Time) ([]incident.Event, error) {
		return inc.AddCost(d.cat.Policy, now, op.Actor, amount, what)
	})
}

// MarkSecurity makes it a security incident.
func (d *Desk) MarkSecurity(ctx context.Context, number int64, op Op) (*incident.Incident, error) {
	return d.personal(ctx, number, op, func(inc *incident.Incident, _ incident.State, now time.Time) ([]incident.Event, error) {
		return inc.MarkSecurity(d.cat.Policy, now, op.Actor)
	})
}

// Reclassify makes it major or minor; a downgrade needs the right person.
func (d *Desk) Reclassify(ctx context.Context, number int64, op Op, c incident.Class, reason string) (*incident.Incident, error) {
	return d.personal(ctx, number, op, func(inc *incident.Incident, st incident.State, now time.Time) ([]incident.Event, error) {
		if c == incident.Minor && st.Class == incident.Major && !d.CanManage(inc, st, op.Actor) {
			return nil, forbidden("downgrade a major incident")
		}
		return inc.Reclassify(d.cat.Policy, now, op.Actor, c, reason)
	})
}

// SetCommander hands command to user. Anyone may volunteer while nobody
// commands; handing over from a sitting commander needs the commander, an
// incident manager or the owning team.
func (d *Desk) SetCommander(ctx context.Context, number int64, op Op, user, how string) (*incident.Incident, error) {
	return d.personal(ctx, number, op, func(inc *incident.Incident, st incident.State, now time.Time) ([]incident.Event, error) {
		if st.Commander != "" && incident.IsPerson(op.Actor) && !d.CanManage(inc, st, op.Actor) {
			return nil, forbidden("hand over command")
		}
		return inc.SetCommander(d.cat.Policy, now, op.Actor, user, how)
	})
}

// AddNote records a note.
func (d *Desk) AddNote(ctx context.Context, number int64, op Op, text string) (*incident.Incident, error) {
	return d.personal(ctx, number, op, func(inc *incident.Incident, _ incident.State, now time.Time) ([]incident.Event, error) {
		return inc.AddNote(d.cat.Policy, now, op.Actor, text)
	})
}

// AddUpdate records a stakeholder update; it is announced.
func (d *Desk) AddUpdate(ctx context.Context, number int64, op Op, text string) (*incident.Incident, error) {
	return d.personal(ctx, number, op, func(inc *incident.Incident, _ incident.State, now time.Time) ([]incident.Event, error) {
		return inc.AddUpdate(d.cat.Policy, now, op.Actor, text)
	})
}

// Resolve resolves the incident.
func (d *Desk) Resolve(ctx context.Context, number int64, op Op, summary string) (*incident.Incident, error) {
	return d.personal(ctx, number, op, func(inc *incident.Incident, st incident.State, now time.Time) ([]incident.Event, error) {
		if incident.IsPerson(op.Actor) && !d.CanManage(inc, st, op.Actor) {
			return nil, forbidden("resolve an incident")
		}
		return inc.Resolve(d.cat.Policy, now, op.Actor, summary)
	})
}

// ResolveIfAlertsResolved resolves an open incident whose linked alerts
// have all resolved, checking and resolving in one transaction so that an
// alert firing meanwhile keeps it open. It reports whether it resolved.
func (d *Desk) ResolveIfAlertsResolved(ctx context.Context, number int64, op Op, summary string) (bool, error) {
	resolved := false
	_, err := d.personal(ctx, number, op, func(inc *incident.Incident, st incident.State, now time.Time) ([]incident.Event, error) {
		if st.Status != incident.StatusOpen || len(st.Alerts) == 0 {
			return nil, nil
		}
		for _, a := range st.Alerts {
			if a.Firing {
				return nil, nil
			}
		}
		evs, err := inc.Resolve(d.cat.Policy, now, op.Actor, summary)
		resolved = err == nil && len(evs) > 0
		return evs, err
	})
	return resolved, err
}

// Acknowledge records that a person acknowledged the incident; with
// PagerDuty configured, its linked PagerDuty incidents are acknowledged too.
func (d *Desk) Acknowledge(ctx context.Context, number int64, op Op) (*incident.Incident, error) {
	return d.personal(ctx, number, op, func(inc *incident.Incident, st incident.State, now time.Time) ([]incident.Event, error) {
		if st.Status != incident.StatusOpen {
			return nil, incident.Errorf(incident.ECONFLICT, "Incident %d is resolved.", inc.Number)
		}
		return inc.Record(d.cat.Policy, now, incident.Event{Kind: incident.EventAcknowledged, Actor: op.Actor, Source: "slack"})
	})
}

// Reopen reopens the incident.
func (d *Desk) Reopen(ctx context.Context, number int64, op Op) (*incident.Incident, error) {
	return d.personal(ctx, number, op, func(inc *incident.Incident, _ incident.State, now time.Time) ([]incident.Event, error) {
		return inc.Reopen(d.cat.Policy, now, op.Actor)
	})
}
