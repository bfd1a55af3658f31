package incident

import (
	"sort"
	"strings"
	"time"
)

// Status is where an incident is in its lifecycle.
type Status string

const (
	StatusOpen     Status = "open"
	StatusResolved Status = "resolved"
	// StatusMerged is an incident merged into another: closed, not
	// resolved, and left out of every measure.
	StatusMerged Status = "merged"
)

// ReviewStatus is where the post-incident review is.
type ReviewStatus string

const (
	ReviewNone      ReviewStatus = ""
	ReviewDrafted   ReviewStatus = "drafted"
	ReviewPublished ReviewStatus = "published"
)

// EventKind names a timeline event.
type EventKind string

// Timeline event kinds. The timeline is append-only: corrections are new
// events (an edit or deletion of a message is recorded, never applied in
// place), so every figure can be recomputed at any point in time. The one
// exception is erasure: recording a message's deletion erases the text of
// the message and of its edits from their events (the events stay, without
// text), and the deletion lists them in Erases, so that storage rewrites
// them in the same transaction. People delete what they should not have
// pasted.
const (
	EventDeclared          EventKind = "declared"           // Text: description; Impact: initial impact
	EventAlertFired        EventKind = "alert_fired"        // Key: alert key; Source; Labels; Text: summary; Alerts: what changed
	EventAlertResolved     EventKind = "alert_resolved"     // Key: alert key; Source; Alerts: what changed
	EventImpactChanged     EventKind = "impact_changed"     // Impact; Service: whose ("" is the primary); Figures
	EventServiceAffected   EventKind = "service_affected"   // Service; Entry: catalogue snapshot; Impact (none until set)
	EventServiceUnaffected EventKind = "service_unaffected" // Service; Text: reason
	EventMerged            EventKind = "merged"             // Ref: the incident merged in; Merged: its header; Text: reason; followed by its events (From)
	EventMergedInto        EventKind = "merged_into"        // Ref: the incident this one was merged into; Text: reason
	EventPaged             EventKind = "paged"              // Key: "team:<name>" or "user:<id>"; User: the person paged; Text: reason; Labels: escalation_policy
	EventCostAdded         EventKind = "cost_added"         // Amount; Text: what; Figures
	EventSecurity          EventKind = "security"           // marks a security incident
	EventClassChanged      EventKind = "class_changed"      // Class; Text: reason; Actor "system" when automatic
	EventCommander         EventKind = "commander"          // User: new commander; Text: how chosen
	EventParticipantJoined EventKind = "participant_joined" // User
	EventCalloutDeferred   EventKind = "callout_deferred"   // At deferral; Until: when it will happen
	EventCalledOut         EventKind = "called_out"         // Users; Text: which schedule
	EventNote              EventKind = "note"               // Text
	EventUpdate            EventKind = "update"             // Text: stakeholder update
	EventMessage           EventKind = "message"            // Key: Slack ts; Text
	EventMessageEdited     EventKind = "message_edited"     // Key: Slack ts; Text: new text
	EventMessageDeleted    EventKind = "message_deleted"    // Key: Slack ts; Erases: seqs whose text it erased
	EventKeyEvent          EventKind = "key_event"          // Key: Slack ts of a pinned or 📌 message
	EventAcknowledged      EventKind = "acknowledged"       // Source
	EventResolved          EventKind = "resolved"           // Text: summary
	EventReopened          EventKind = "reopened"
	EventReviewDrafted     EventKind = "review_drafted"
	EventReviewPublished   EventKind = "review_published" // Text: URL
	EventActionAdded       EventKind = "action_added"     // Key: action ID; User: owner; Text: the action
	EventActionDone        EventKind = "action_done"      // Key: action ID
)

// Actors that are not people.
const (
	ActorSystem       = "system"
	ActorAlertmanager = "alertmanager"
	ActorPagerDuty    = "pagerduty"
)

// Event is one entry on an incident's timeline.
type Event struct {
	Seq    int               `json:"seq"`
	At     time.Time         `json:"at"`
	Kind   EventKind         `json:"kind"`
	Actor  string            `json:"actor,omitempty"`
	Text   string            `json:"text,omitempty"`
	Impact *Impact           `json:"impact,omitempty"`
	Amount Money             `json:"amount,omitempty"`
	Class  Class             `json:"class,omitempty"`
	User   string            `json:"user,omitempty"`
	Users  []string          `json:"users,omitempty"`
	Key    string            `json:"key,omitempty"`
	Source string            `json:"source,omitempty"`
	Labels map[string]string `json:"labels,omitempty"`
	Until  time.Time         `json:"until,omitzero"`
	// Alerts are, on an alert event, the alerts of the group whose report
	// changed what the timeline knew (a new alert, a resolution, a new
	// firing): what the notification said and earlier ones had not.
	Alerts []Alert `json:"alerts,omitempty"`
	// Erases are, on a message deletion, the seqs of the earlier events
	// (the message and its edits) whose text the deletion erased.
	Erases []int `json:"erases,omitempty"`
	// Figures are the loss figures right after this event, recorded for the
	// reader of the timeline. They are derived and can be recomputed.
	Figures *Figures `json:"figures,omitempty"`
	// Idem is an idempotency key (a Slack event_id, a webhook id): an event
	// whose key is already on the timeline is not appended again.
	Idem string `json:"idem,omitempty"`
	// Service names the service an impact event is about; "" is the
	// primary service (events stored before incidents had several
	// services have none).
	Service string `json:"service,omitempty"`
	// Entry is the catalogue entry of a service attached to the incident,
	// as it was then.
	Entry *Service `json:"entry,omitempty"`
	// Ref is the other incident of a merge; on a callout that answers a
	// page, the seq of the paged event.
	Ref int64 `json:"ref,omitempty"`
	// Merged is the header of the incident merged in by a merged event.
	Merged *MergedHeader `json:"merged,omitempty"`
	// From is set on events that came with a merged incident: its number.
	// They keep their own time, so they may be earlier than the event
	// before them; they are priced through their merged event.
	From int64 `json:"from,omitempty"`
}

// MergedHeader is the header of an incident merged into another, and how
// many of its events follow the merged event.
type MergedHeader struct {
	Number    int64     `json:"number"`
	Title     string    `json:"title"`
	Service   Service   `json:"service"`
	Unmapped  bool      `json:"unmapped,omitempty"`
	StartedAt time.Time `json:"started_at"`
	Events    int       `json:"events"`
}

// Figures are an incident's money at a point in time.
type Figures struct {
	Exposure  Money    `json:"exposure"`    // hourly exposure in force
	Rate      Money    `json:"rate"`        // loss per hour now
	LossSoFar Money    `json:"loss_so_far"` // integrated impact loss plus costs
	Costs     Money    `json:"costs"`       // costs incurred, included in LossSoFar
	Estimated Money    `json:"estimated"`   // LossSoFar + Rate × horizon
	Class     Class    `json:"class"`
	Priority  Priority `json:"priority"`
}

// Incident is the durable record: a header that does not change after
// declaration, and the timeline. Everything else is derived from them.
type Incident struct {
	Number   int64   `json:"number"`
	Title    string  `json:"title"`
	Service  Service `json:"service"` // snapshot of the catalogue entry at declaration
	Unmapped bool    `json:"unmapped,omitempty"`
	// Drill marks a practice incident (a Chaos Day): priced and run like a
	// real one, but never paged to PagerDuty and left out of every
	// reliability and loss measure and of the error budget.
	Drill     bool      `json:"drill,omitempty"`
	StartedAt time.Time `json:"started_at"` // when impact began (an alert's startsAt, or the declaration)
	Events    []Event   `json:"events"`
}

// AlertState is the known state of one linked alert group (an Alertmanager
// group, a PagerDuty incident). A group with individual alerts fires while
// any of them fires; one without (PagerDuty) as its last event says.
type AlertState struct {
	Key      string            `json:"key"`
	Source   string            `json:"source"`
	Firing   bool              `json:"firing"`
	Labels   map[string]string `json:"labels,omitempty"`
	Summary  string            `json:"summary,omitempty"`
	FiredAt  time.Time         `json:"fired_at"`
	ClosedAt time.Time         `json:"resolved_at,omitzero"`
	// Alerts are the group's individual alerts, merged from every
	// notification, in the order the timeline first heard of them.
	Alerts []Alert `json:"alerts,omitempty"`

	firedByEvent bool // the last event without individual alerts fired
}

// State is everything derived from an incident's timeline at one instant.
type State struct {
	Figures
	Status Status       `json:"status"`
	Review ReviewStatus `json:"review"`
	Impact Impact       `json:"impact"` // the primary service's
	Target Availability `json:"-"`      // the primary service's
	// Services are the primary service, then the affected ones in the order
	// they joined, each with its own impact and money.
	Services []ServiceState `json:"services"`
	// StartedAt is when impact began: the incident's start, or an earlier
	// start of an incident merged into it.
	StartedAt time.Time `json:"started_at"`
	// MergedInto is the incident this one was merged into (StatusMerged);
	// Merged lists the incidents merged into this one.
	MergedInto    int64         `json:"merged_into,omitempty"`
	Merged        []int64       `json:"merged,omitempty"`
	Security      bool          `json:"security"`
	Commander     string        `json:"commander,omitempty"`
	Participants  []string      `json:"participants"`
	Alerts        []AlertState  `json:"alerts,omitempty"`
	Acknowledged  bool          `json:"acknowledged"`
	ResolvedAt    time.Time     `json:"resolved_at,omitzero"`
	TimeToRestore time.Duration `json:"time_to_restore,omitempty"`
	// UpgradedAt is when the estimate crossed the high threshold and the
	// incident became Major automatically; zero if that did not happen.
	UpgradedAt time.Time `json:"upgraded_at,omitzero"`
	// Downgraded is set while a person's downgrade to Minor holds; it stops
	// automatic upgrades until the next impact or cost revision.
	Downgraded bool `json:"downgraded,omitempty"`
	// Effectiveness is set once the incident is resolved with some impact.
	Effectiveness *Effectiveness `json:"effectiveness,omitempty"`
	// Messages are the human messages in the channel with edits and
	// deletions applied, in order (deleted ones left out); Key marks the
	// pinned or 📌-reacted ones.
	Messages []Message `json:"-"`

	pendingUpgrade bool
}

// ServiceState is one service of an incident at an instant.
type ServiceState struct {
	Service  Service      `json:"service"` // the catalogue entry as it was when it joined
	Primary  bool         `json:"primary"`
	From     int64        `json:"from,omitempty"` // joined with incident #From merged in
	Impact   Impact       `json:"impact"`
	Active   bool         `json:"active"` // false once its impact ended
	Target   Availability `json:"-"`      // in force when it joined
	Exposure Money        `json:"exposure"`
	Rate     Money        `json:"rate"`      // exposure × share while the incident runs
	Loss     Money        `json:"loss"`      // its integrated impact loss
	Costs    Money        `json:"costs"`     // costs counted against it (the primary's own)
	JoinedAt time.Time    `json:"joined_at"` // impact began (the primary: the incident's start)
	EndedAt  time.Time    `json:"ended_at,omitzero"`
	Reason   string       `json:"reason,omitempty"` // why its impact ended
	// Effectiveness is its own, set once the incident is resolved and the
	// service had some impact.
	Effectiveness *Effectiveness `json:"effectiveness,omitempty"`
}

// LossSoFar is the service's impact loss plus the costs counted against it.
func (s ServiceState) LossSoFar() Money { return s.Loss + s.Costs }

// Service returns the named service of the state (case-insensitive; "" is
// the primary).
func (st State) Service(name string) (ServiceState, bool) {
	for _, s := range st.Services {
		if (name == "" && s.Primary) || (name != "" && strings.EqualFold(s.Service.Name, name)) {
			return s, true
		}
	}
	return ServiceState{}, false
}

// Message is a human message in the incident channel.
type Message struct {
	TS     string    `json:"ts"`
	At     time.Time `json:"at"`
	User   string    `json:"user"`
	Text   string    `json:"text"`
	Edited bool      `json:"edited,omitempty"`
	Key    bool      `json:"key,omitempty"`
	// Deleted: the message was deleted in Slack; Text is empty.
	Deleted bool `json:"deleted,omitempty"`
}

// Effectiveness is the financial loss protection effectiveness of the
// restoration, measured at resolution.
type Effectiveness struct {
	TolerableUnavailability time.Duration `json:"tolerable_unavailability"`
	AverageRate             Money         `json:"average_rate"` // per hour
	LossAtTolerable         Money         `json:"loss_at_tolerable"`
	ActualLoss              Money         `json:"actual_loss"`
	Protected               Money         `json:"protected"` // may be negative
	Ratio                   Share         `json:"ratio_bp"`  // basis points; may be negative
}

// Percent is the ratio as a percentage with one decimal, truncated toward
// zero, so that a figure is never shown better than it is: 99.55% is 99.5
// (not 100), 99.96% is 99.9, -49.63% is -49.6.
func (e Effectiveness) Percent() float64 { return e.Ratio.Tenths() }

// PercentText writes Percent for people: "99.5%", "70%", "-49.6%".
func (e Effectiveness) PercentText() string { return e.Ratio.TenthsText() }

// LastEvent returns the newest event on the timeline.
func (inc *Incident) LastEvent() (Event, bool) {
	if len(inc.Events) == 0 {
		return Event{}, false
	}
	return inc.Events[len(inc.Events)-1], true
}

// HasIdem reports whether an event with the idempotency key is on the
// timeline.
func (inc *Incident) HasIdem(key string) bool {
	if key == "" {
		return false
	}
	for i := len(inc.Events) - 1; i >= 0; i-- {
		if inc.Events[i].Idem == key {
			return true
		}
	}
	return false
}

// Append adds events to the timeline in memory, numbering them and keeping
// time monotonic (an event is never before the previous one). Events whose
// idempotency key is already present are dropped. It returns what was added.
func (inc *Incident) Append(evs ...Event) []Event {
	var added []Event
	for _, e := range evs {
		if !inc.HasIdem(e.Idem) {
			added = append(added, inc.appendOne(e))
		}
	}
	return added
}

// appendOne numbers an event, keeps time monotonic and appends it, without
// looking at its idempotency key.
func (inc *Incident) appendOne(e Event) Event {
	if last, ok := inc.LastEvent(); ok {
		e.Seq = last.Seq + 1
		if e.From == 0 {
			// Events that came with a merged incident keep their time.
			if at, ok := inc.lastOwnAt(); ok && e.At.Before(at) {
				e.At = at
			}
		}
	} else {
		e.Seq = 1
	}
	inc.Events = append(inc.Events, e)
	return e
}

// lastOwnAt is the time of the newest event that did not come with a merged
// incident.
func (inc *Incident) lastOwnAt() (time.Time, bool) {
	for i := len(inc.Events) - 1; i >= 0; i-- {
		if inc.Events[i].From == 0 {
			return inc.Events[i].At, true
		}
	}
	return time.Time{}, false
}

// Open reports whether a timeline leaves its incident open: it does unless
// its last resolution, reopening or merge is a resolution or a merge into
// another incident. Storage adapters index open incidents with it.
func Open(evs []Event) bool {
	for i := len(evs) - 1; i >= 0; i-- {
		if evs[i].From != 0 {
			continue
		}
		switch evs[i].Kind {
		case EventResolved, EventMergedInto:
			return false
		case EventReopened:
			return true
		}
	}
	return true
}

// ServiceNames lists the services an incident involves, the primary first,
// without replaying its money: those attached and those that came with a
// merged incident, also once their impact ended.
func (inc *Incident) ServiceNames() []string {
	names := []string{inc.Service.Name}
	seen := map[string]bool{strings.ToLower(inc.Service.Name): true}
	add := func(n string) {
		if n != "" && !seen[strings.ToLower(n)] {
			seen[strings.ToLower(n)] = true
			names = append(names, n)
		}
	}
	for _, e := range inc.Events {
		switch {
		case e.Kind == EventServiceAffected && e.Entry != nil:
			add(e.Entry.Name)
		case e.Kind == EventMerged && e.Merged != nil:
			add(e.Merged.Service.Name)
		}
	}
	return names
}

// DeclaredAt is the time of the declaration event.
func (inc *Incident) DeclaredAt() time.Time {
	if len(inc.Events) > 0 {
		return inc.Events[0].At
	}
	return inc.StartedAt
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// IsPerson reports whether an actor is a person (a chat user), not the bot,
// an alert source or nobody.
func IsPerson(actor string) bool { return isPerson(actor) }
