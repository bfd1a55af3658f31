package incident

import (
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits on text typed by people or carried by alerts.
const (
	MaxTitle = 150
	MaxText  = 30_000
)

// Declaration is what opens an incident.
type Declaration struct {
	Title       string
	Description string
	Service     Service
	Unmapped    bool
	Impact      Impact // Level none is allowed: impact not known yet
	Security    bool
	Drill       bool // a practice incident (Chaos Day)
	Actor       string
	StartedAt   time.Time // zero: now
	Idem        string
}

// Declare validates a declaration and returns the new incident with its
// first events. The caller assigns the number (storage does, sequentially).
func Declare(p Policy, number int64, d Declaration, now time.Time) (*Incident, error) {
	title := strings.TrimSpace(d.Title)
	switch {
	case title == "":
		return nil, Errorf(EINVALID, "An incident needs a title.")
	case utf8.RuneCountInString(title) > MaxTitle:
		return nil, Errorf(EINVALID, "The title is %d characters; keep it within %d.", utf8.RuneCountInString(title), MaxTitle)
	case d.Service.Name == "":
		return nil, Errorf(EINVALID, "An incident needs a service.")
	case d.StartedAt.After(now):
		return nil, Errorf(EINVALID, "An incident cannot start in the future.")
	}
	if err := validText(d.Description); err != nil {
		return nil, err
	}
	started := d.StartedAt
	if started.IsZero() {
		started = now
	}
	if d.Impact.Level == "" {
		d.Impact = Impact{Level: ImpactNone}
	}
	inc := &Incident{Number: number, Title: title, Service: d.Service, Unmapped: d.Unmapped, Drill: d.Drill, StartedAt: started}
	imp := d.Impact
	inc.Append(Event{At: now, Kind: EventDeclared, Actor: d.Actor, Text: d.Description, Impact: &imp, Idem: d.Idem})
	if d.Security {
		inc.Append(Event{At: now, Kind: EventSecurity, Actor: d.Actor})
	}
	inc.settle(p, now, len(inc.Events)-1)
	return inc, nil
}

func validText(s string) error {
	if len(s) > MaxText {
		return Errorf(EINVALID, "That text is too long (%d characters; the limit is %d).", len(s), MaxText)
	}
	return nil
}

func needText(s, what string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", Errorf(EINVALID, "Please add %s.", what)
	}
	return s, validText(s)
}

// Priced reports whether an event kind changes the money or the
// classification. Only these need the timeline replayed when recorded; a
// chat message on a long timeline costs no replay.
func (k EventKind) Priced() bool {
	switch k {
	case EventDeclared, EventImpactChanged, EventCostAdded, EventClassChanged, EventSecurity, EventResolved, EventReopened,
		EventServiceAffected, EventServiceUnaffected, EventMerged, EventMergedInto:
		return true
	}
	return false
}

// settle attaches figures to the money events from index i on and appends
// the automatic upgrade to Major if the estimate has crossed the threshold.
// Time alone can also cross it: callers tick periodically for that.
func (inc *Incident) settle(p Policy, now time.Time, from int) {
	priced := false
	for i := from; i < len(inc.Events); i++ {
		if inc.Events[i].Kind.Priced() && inc.Events[i].From == 0 {
			priced = true
			st := inc.State(p, inc.Events[i].At)
			f := st.Figures
			inc.Events[i].Figures = &f
		}
	}
	if priced {
		inc.Tick(p, now)
	}
}

// Tick records an automatic upgrade to Major when the estimate has crossed
// the high threshold by now. It returns the events added (none or one).
func (inc *Incident) Tick(p Policy, now time.Time) []Event {
	st := inc.State(p, now)
	if !st.pendingUpgrade {
		return nil
	}
	f := st.Figures
	return inc.Append(Event{
		At: now, Kind: EventClassChanged, Actor: ActorSystem, Class: Major, Figures: &f,
		Text: "estimated loss " + p.Currency.Format(st.Estimated) + " reached the high threshold " + p.Currency.Format(p.Thresholds.High),
	})
}

func (inc *Incident) do(p Policy, now time.Time, e Event) []Event {
	e.At = now
	n := len(inc.Events)
	added := inc.Append(e)
	if len(added) == 0 {
		return nil
	}
	inc.settle(p, now, n)
	return inc.Events[n:]
}

func (inc *Incident) mustBeOpen(p Policy, now time.Time) (State, error) {
	st := inc.State(p, now)
	switch st.Status {
	case StatusMerged:
		return st, Errorf(ECONFLICT, "Incident %d was merged into #%d; carry on there.", inc.Number, st.MergedInto)
	case StatusResolved:
		return st, Errorf(ECONFLICT, "Incident %d is resolved; reopen it first.", inc.Number)
	}
	return st, nil
}

// SetImpact revises the impact; the loss estimate is revised with it.
func (inc *Incident) SetImpact(p Policy, now time.Time, actor string, imp Impact) ([]Event, error) {
	if _, err := inc.mustBeOpen(p, now); err != nil {
		return nil, err
	}
	if imp.Share < 0 || imp.Share > FullShare {
		return nil, Errorf(EINVALID, "Impact share must be between 0%% and 100%%.")
	}
	return inc.do(p, now, Event{Kind: EventImpactChanged, Actor: actor, Impact: &imp}), nil
}

// AddCost records a cost incurred (overtime, refunds, penalties…).
func (inc *Incident) AddCost(p Policy, now time.Time, actor string, amount Money, what string) ([]Event, error) {
	if amount <= 0 {
		return nil, Errorf(EINVALID, "A cost must be a positive amount.")
	}
	what, err := needText(what, "what the cost is for")
	if err != nil {
		return nil, err
	}
	return inc.do(p, now, Event{Kind: EventCostAdded, Actor: actor, Amount: amount, Text: what}), nil
}

// MarkSecurity makes this a security incident: always Major.
func (inc *Incident) MarkSecurity(p Policy, now time.Time, actor string) ([]Event, error) {
	st, err := inc.mustBeOpen(p, now)
	if err != nil {
		return nil, err
	}
	if st.Security {
		return nil, Errorf(ECONFLICT, "Incident %d is already a security incident.", inc.Number)
	}
	return inc.do(p, now, Event{Kind: EventSecurity, Actor: actor}), nil
}

// Reclassify is a person's decision to make the incident Major or Minor. A
// reason is always required; a security incident stays Major.
func (inc *Incident) Reclassify(p Policy, now time.Time, actor string, c Class, reason string) ([]Event, error) {
	reason, err := needText(reason, "a reason")
	if err != nil {
		return nil, err
	}
	if !isPerson(actor) {
		return nil, Errorf(EFORBIDDEN, "Only a person can reclassify an incident.")
	}
	st := inc.State(p, now)
	switch {
	case c != Major && c != Minor:
		return nil, Errorf(EINVALID, "An incident is major or minor.")
	case st.Class == c:
		return nil, Errorf(ECONFLICT, "Incident %d is already %s.", inc.Number, c)
	case c == Minor && st.Security:
		return nil, Errorf(ECONFLICT, "A security incident is always major.")
	}
	return inc.do(p, now, Event{Kind: EventClassChanged, Actor: actor, Class: c, Text: reason}), nil
}

// SetCommander hands command to user. how says how they were chosen
// ("volunteered", "team on-call", "incident manager on call", "appointed").
func (inc *Incident) SetCommander(p Policy, now time.Time, actor, user, how string) ([]Event, error) {
	if strings.TrimSpace(user) == "" {
		return nil, Errorf(EINVALID, "Name the new commander.")
	}
	if inc.State(p, now).Commander == user {
		return nil, Errorf(ECONFLICT, "They are already the commander.")
	}
	return inc.do(p, now, Event{Kind: EventCommander, Actor: actor, User: user, Text: how}), nil
}

// AddNote records a note; AddUpdate a stakeholder update.
func (inc *Incident) AddNote(p Policy, now time.Time, actor, text string) ([]Event, error) {
	text, err := needText(text, "the note's text")
	if err != nil {
		return nil, err
	}
	return inc.do(p, now, Event{Kind: EventNote, Actor: actor, Text: text}), nil
}

// AddUpdate records a stakeholder update.
func (inc *Incident) AddUpdate(p Policy, now time.Time, actor, text string) ([]Event, error) {
	text, err := needText(text, "the update's text")
	if err != nil {
		return nil, err
	}
	return inc.do(p, now, Event{Kind: EventUpdate, Actor: actor, Text: text}), nil
}

// Resolve records that availability is restored.
func (inc *Incident) Resolve(p Policy, now time.Time, actor, summary string) ([]Event, error) {
	if _, err := inc.mustBeOpen(p, now); err != nil {
		return nil, err
	}
	if err := validText(summary); err != nil {
		return nil, err
	}
	return inc.do(p, now, Event{Kind: EventResolved, Actor: actor, Text: strings.TrimSpace(summary)}), nil
}

// Reopen puts a resolved incident back in progress; the impact before the
// resolution applies again.
func (inc *Incident) Reopen(p Policy, now time.Time, actor string) ([]Event, error) {
	if st := inc.State(p, now); st.Status == StatusMerged {
		return nil, Errorf(ECONFLICT, "Incident %d was merged into #%d and stays closed.", inc.Number, st.MergedInto)
	} else if st.Status != StatusResolved {
		return nil, Errorf(ECONFLICT, "Incident %d is not resolved.", inc.Number)
	}
	return inc.do(p, now, Event{Kind: EventReopened, Actor: actor}), nil
}

// Record appends an observed fact (an alert, a message and its edits, a
// pin, a participant joining, an acknowledgement, a callout, a review step).
// Events with an idempotency key already on the timeline are dropped.
func (inc *Incident) Record(p Policy, now time.Time, e Event) ([]Event, error) {
	switch e.Kind {
	case EventAlertFired, EventAlertResolved, EventMessage, EventMessageEdited, EventMessageDeleted,
		EventKeyEvent, EventParticipantJoined, EventAcknowledged, EventCalledOut, EventCalloutDeferred,
		EventReviewDrafted, EventReviewPublished, EventActionAdded, EventActionDone:
	default:
		return nil, Errorf(EINVALID, "%s is not a recordable event", e.Kind)
	}
	if err := validText(e.Text); err != nil {
		return nil, err
	}
	if e.At.IsZero() || e.At.After(now) {
		e.At = now
	}
	// One pass over the timeline, however long: a chat message on a busy
	// incident costs no more than that.
	ts := ""
	if e.Kind == EventMessage || e.Kind == EventMessageEdited || e.Kind == EventMessageDeleted {
		ts = e.Key
	}
	dup, deleted := inc.lookup(e.Idem, ts)
	if dup {
		return nil, nil
	}
	e, ok := inc.observe(e, deleted)
	if !ok {
		return nil, nil
	}
	n := len(inc.Events)
	inc.appendOne(e)
	inc.settle(p, now, n)
	return inc.Events[n:], nil
}

// observe prepares an observed event for the timeline and reports whether
// it says anything new. A deletion erases the text of its message and of the
// message's edits (and names them in Erases); a message or an edit of a
// deleted message is not recorded at all, nor is a second deletion. An alert
// event keeps only the alerts whose report is news; one that carried alerts
// but no news is not recorded.
// deleted says whether the timeline records the deletion of a message
// with the event's key.
func (inc *Incident) observe(e Event, deleted bool) (Event, bool) {
	switch e.Kind {
	case EventMessage, EventMessageEdited:
		return e, !deleted
	case EventMessageDeleted:
		if deleted {
			return e, false
		}
		e.Text = ""
		e.Erases = inc.eraseMessage(e.Key)
	case EventAlertFired, EventAlertResolved:
		e.Alerts = slices.DeleteFunc(slices.Clone(e.Alerts), func(a Alert) bool { return a.Fingerprint == "" })
		if len(e.Alerts) > 0 {
			e.Alerts = inc.alertNews(e.Key, e.Alerts, e.At)
			return e, len(e.Alerts) > 0
		}
		e.Alerts = nil
	}
	return e, true
}
