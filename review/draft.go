package review

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/incidentbot/incidentbot/incident"
)

// DefaultMaxTimeline is how many key events the drafted timeline lists
// before it elides the middle of a very long incident.
const DefaultMaxTimeline = 300

// maxEventText is how many characters of one event's text the timeline
// quotes; the incident channel keeps the rest.
const maxEventText = 280

// DraftOptions tune Draft.
type DraftOptions struct {
	// Previous is the review drafted before, if any: sections people have
	// edited, accounts, actions and readers are kept.
	Previous *Review
	// Now is when the draft is made; zero means the incident's resolution.
	Now time.Time
	// Location is the time zone times are written in; default the
	// organisation's (the catalogue's working hours), else UTC.
	Location *time.Location
	// Name writes a Slack user ID as a name (a display name from Slack);
	// default "@" and the ID.
	Name func(user string) string
	// Renderer holds the templates the generated sections are drafted
	// from; default the embedded ones.
	Renderer *Renderer
	// MaxTimeline caps the key events listed (the first and last halves
	// are kept); 0 means DefaultMaxTimeline, negative means no cap.
	MaxTimeline int
}

// Draft pre-fills a blameless review from a resolved incident's timeline and
// its state: the summary, the impact in time and money, and the timeline of
// key events, with blank prompts for the sections people write. Pass the
// previous draft in opts.Previous to redraft: sections people have edited
// are kept as they left them.
func Draft(inc *incident.Incident, st incident.State, cat *incident.Catalogue, opts DraftOptions) (*Review, error) {
	switch {
	case inc == nil:
		return nil, incident.Errorf(incident.EINVALID, "There is no incident to review.")
	case cat == nil:
		return nil, incident.Errorf(incident.EINVALID, "The review needs the catalogue to price the incident.")
	case st.Status != incident.StatusResolved:
		return nil, incident.Errorf(incident.ECONFLICT, "Incident %d is still open; resolve it before drafting the review.", inc.Number)
	}
	prev := opts.Previous
	if prev != nil {
		switch {
		case prev.Number != inc.Number:
			return nil, incident.Errorf(incident.EINVALID, "The previous review is of incident %d, not %d.", prev.Number, inc.Number)
		case prev.Published():
			return nil, incident.Errorf(incident.ECONFLICT, "The review of incident %d is already published.", inc.Number)
		}
	}
	rd := opts.Renderer
	if rd == nil {
		var err error
		if rd, err = Default(); err != nil {
			return nil, err
		}
	}
	d := newDrafter(inc, st, cat, opts)

	r := &Review{
		Number: inc.Number, Title: inc.Title, Service: inc.Service.Name, Team: inc.Service.Team,
		Domain: inc.Service.Domain, Class: st.Class, StartedAt: inc.StartedAt,
		ResolvedAt: st.ResolvedAt, TimeToRestore: st.TimeToRestore,
		Participants: append([]string(nil), st.Participants...),
		Sections:     map[SectionID]string{}, Drafted: map[SectionID]string{},
		Status: incident.ReviewDrafted, DraftedAt: opts.Now, Private: st.Security, Drill: inc.Drill,
	}
	if r.DraftedAt.IsZero() {
		r.DraftedAt = st.ResolvedAt
	}
	gen := []struct {
		id   SectionID
		name string
		data any
	}{
		{SectionSummary, tmplSummary, d.summary()},
		{SectionImpact, tmplImpact, d.impact()},
		{SectionTimeline, tmplTimeline, d.timeline()},
	}
	for _, g := range gen {
		text, err := rd.execText(g.name, g.data)
		if err != nil {
			return nil, err
		}
		text = strings.TrimSpace(text)
		r.Sections[g.id], r.Drafted[g.id] = text, text
	}
	r.People = d.people

	if prev != nil {
		for id, text := range prev.Sections {
			info, known := Section(id)
			if !known || !info.Generated || prev.Edited(id) {
				r.Sections[id] = text // people's words are never redrafted
			}
		}
		for u, n := range prev.People {
			if _, ok := r.People[u]; !ok {
				r.People[u] = n
			}
		}
		r.Accounts = append([]Account(nil), prev.Accounts...)
		r.Actions = append([]Action(nil), prev.Actions...)
		r.Private = r.Private || prev.Private
		if len(prev.Readers) > 0 {
			r.Readers = make(map[string]time.Time, len(prev.Readers))
			for k, v := range prev.Readers {
				r.Readers[k] = v
			}
		}
	}
	return r, nil
}

// drafter holds what the generated sections are written with.
type drafter struct {
	inc    *incident.Incident
	st     incident.State
	cat    *incident.Catalogue
	cur    incident.Currency
	loc    *time.Location
	name   func(string) string
	max    int
	people map[string]string
}

func newDrafter(inc *incident.Incident, st incident.State, cat *incident.Catalogue, opts DraftOptions) *drafter {
	d := &drafter{inc: inc, st: st, cat: cat, cur: cat.Currency, loc: opts.Location, max: opts.MaxTimeline, people: map[string]string{}}
	if d.cur.Code == "" {
		d.cur = incident.USD
	}
	if d.loc == nil {
		d.loc = cat.WorkingHours.Location
	}
	if d.loc == nil {
		d.loc = time.UTC
	}
	if d.max == 0 {
		d.max = DefaultMaxTimeline
	}
	name := opts.Name
	if name == nil {
		name = func(u string) string { return "@" + u }
	}
	d.name = func(u string) string {
		switch u {
		case "":
			return ""
		case incident.ActorSystem:
			return "incidentbot"
		case incident.ActorAlertmanager:
			return "Alertmanager"
		case incident.ActorPagerDuty:
			return "PagerDuty"
		}
		if n, ok := d.people[u]; ok {
			return n
		}
		n := strings.TrimSpace(name(u))
		if n == "" {
			n = "@" + u
		}
		d.people[u] = n
		return n
	}
	return d
}

func (d *drafter) money(m incident.Money) string { return d.cur.Format(m) }

// when writes an instant in full.
func (d *drafter) when(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(d.loc).Format("2006-01-02 15:04:05 MST")
}

// hms writes a measured duration: "0:30:00 (30 min)", rounded to the
// second.
func hms(dur time.Duration) string {
	return incident.FormatHMS(dur) + " (" + incident.FormatShort(dur) + ")"
}

// tolerableText writes a target's tolerable unavailability as the playbook
// does, exactly: "0:10:05 (10 min 4.8 s)".
func tolerableText(dur time.Duration) string {
	return incident.FormatHMS(dur) + " (" + incident.FormatExact(dur) + ")"
}

// --- summary ---------------------------------------------------------------

type summaryView struct {
	Number        int64
	Title         string
	Service       string
	Team          string
	Domain        string
	Unmapped      bool
	Security      bool
	Class         string
	Response      string
	Started       string
	Declared      string
	Restored      string
	TimeToRestore string
	Reopened      int
	Commander     string
	Commanders    []string // everyone who held command, in order
	Responders    []string
	Description   string // Markdown
	Resolution    string // Markdown
}

func (d *drafter) summary() summaryView {
	inc, st := d.inc, d.st
	v := summaryView{
		Number: inc.Number, Title: inc.Title, Service: inc.Service.Name, Team: inc.Service.Team,
		Domain: inc.Service.Domain, Unmapped: inc.Unmapped, Security: st.Security,
		Class: st.Class.Title(), Response: st.Priority.ResponseMethod(),
		Started: d.when(inc.StartedAt), Declared: d.when(inc.DeclaredAt()),
		Restored: d.when(st.ResolvedAt), TimeToRestore: hms(st.TimeToRestore),
		Commander: d.name(st.Commander),
	}
	seen := map[string]bool{}
	for _, e := range inc.Events {
		switch e.Kind {
		case incident.EventDeclared:
			if v.Description == "" {
				v.Description = d.slack(e.Text, incident.MaxText)
			}
		case incident.EventCommander:
			if e.User != "" && !seen[e.User] {
				seen[e.User] = true
				v.Commanders = append(v.Commanders, d.name(e.User))
			}
		case incident.EventResolved:
			v.Resolution = d.slack(e.Text, incident.MaxText) // the last resolution wins
		case incident.EventReopened:
			v.Reopened++
		}
	}
	for _, p := range st.Participants {
		v.Responders = append(v.Responders, d.name(p))
	}
	return v
}

// --- impact ----------------------------------------------------------------

type impactView struct {
	Service         string
	Target          string
	Tolerable       string
	TimeToRestore   string
	Comparison      string // how TTR compares with the tolerable unavailability
	WithinTolerable bool
	Impact          string // the highest impact recorded
	ImpactWords     string
	Exposure        string
	Peak            string
	Loss            string
	Costs           string
	HasCosts        bool
	HighestEstimate string
	AverageRate     string
	LossAtTolerable string
	Protected       string
	Excess          string // loss beyond the loss at tolerable unavailability
	Effectiveness   string
	Measured        bool
	Negative        bool
	Revisions       []revisionRow
	Omitted         int
	OmittedAfter    int // revisions are elided after this row
	// Services is the per-service loss table of an incident on several
	// services; Dependencies names the dependencies they share.
	Services     []serviceRow
	Dependencies string
}

type revisionRow struct {
	Time, Revision, By, Rate, LossSoFar, Estimated, Class string
}

func (d *drafter) impact() impactView {
	inc, st := d.inc, d.st
	tol := st.Target.TolerableUnavailability()
	v := impactView{
		Service: inc.Service.Name, Target: st.Target.String(), Tolerable: tolerableText(tol),
		TimeToRestore: hms(st.TimeToRestore), Exposure: d.money(inc.Service.ExposureAt(inc.StartedAt)),
		Loss: d.money(st.LossSoFar), Costs: d.money(st.Costs), HasCosts: st.Costs != 0,
	}
	if p, ok := inc.Service.PeakAt(inc.StartedAt); ok {
		v.Peak = p.Name
	}
	diff := tol - st.TimeToRestore
	v.WithinTolerable = diff >= 0
	if diff < 0 {
		diff = -diff
	}
	v.Comparison = hms(diff)

	var worst incident.Impact
	var highest incident.Money
	var rows []int
	for i, e := range inc.Events {
		if e.From != 0 {
			continue // priced through its merged event
		}
		if e.Figures != nil && e.Figures.Estimated > highest {
			highest = e.Figures.Estimated
		}
		switch e.Kind {
		case incident.EventDeclared, incident.EventImpactChanged:
			if e.Impact != nil && e.Impact.Share > worst.Share {
				worst = *e.Impact
			}
		}
		switch e.Kind {
		case incident.EventDeclared, incident.EventImpactChanged, incident.EventCostAdded, incident.EventResolved, incident.EventReopened,
			incident.EventServiceAffected, incident.EventServiceUnaffected, incident.EventMerged:
			if e.Figures != nil {
				rows = append(rows, i)
			}
		}
	}
	if st.Estimated > highest {
		highest = st.Estimated
	}
	v.HighestEstimate = d.money(highest)
	v.Impact, v.ImpactWords = worst.String(), worst.Level.Describe()
	keep, omitted, after := elide(len(rows), d.max)
	v.Omitted, v.OmittedAfter = omitted, after
	for _, k := range keep {
		e := inc.Events[rows[k]]
		f := e.Figures
		row := revisionRow{
			Time: d.when(e.At), By: d.name(e.Actor), Rate: d.money(f.Rate) + "/h",
			LossSoFar: d.money(f.LossSoFar), Estimated: d.money(f.Estimated), Class: f.Class.Title(),
		}
		switch e.Kind {
		case incident.EventDeclared:
			row.Revision = "Declared, impact " + impactOf(e)
		case incident.EventImpactChanged:
			row.Revision = "Impact " + impactOf(e)
			if e.Service != "" && !strings.EqualFold(e.Service, inc.Service.Name) {
				row.Revision = "Impact of " + d.plain(e.Service) + " " + impactOf(e)
			}
		case incident.EventServiceAffected, incident.EventServiceUnaffected, incident.EventMerged:
			row.Revision = d.serviceEvent(e)
		case incident.EventCostAdded:
			row.Revision = "Cost " + d.money(e.Amount) + ": " + d.slack(e.Text, maxEventText)
		case incident.EventResolved:
			row.Revision = "Restored"
		case incident.EventReopened:
			row.Revision = "Reopened"
		}
		v.Revisions = append(v.Revisions, row)
	}
	if e := st.Effectiveness; e != nil {
		v.Measured = true
		v.AverageRate = d.money(e.AverageRate) + "/h"
		v.LossAtTolerable = d.money(e.LossAtTolerable)
		v.Protected = d.money(e.Protected)
		v.Effectiveness = e.PercentText()
		v.Negative = e.Protected < 0
		if v.Negative {
			v.Excess = d.money(-e.Protected)
		}
	}
	if len(st.Services) > 1 {
		v.Services, v.Dependencies = d.serviceRows(), d.sharedDependencies()
	}
	return v
}

type serviceRow struct {
	Name, Team, Impact, Target, Tolerable, Loss, LossAtTolerable, Protected, Effectiveness string
	Primary                                                                                bool
}

// serviceRows is the per-service loss table of an incident on several
// services: each one's highest impact, own loss and own effectiveness.
func (d *drafter) serviceRows() []serviceRow {
	worst := d.highestImpacts()
	var out []serviceRow
	for _, s := range d.st.Services {
		r := serviceRow{
			Name: s.Service.Name, Team: s.Service.Team, Primary: s.Primary, Impact: worst[strings.ToLower(s.Service.Name)].String(),
			Target: s.Target.String(), Tolerable: tolerableText(s.Target.TolerableUnavailability()), Loss: d.money(s.LossSoFar()),
			LossAtTolerable: "–", Protected: "–", Effectiveness: "–",
		}
		if e := s.Effectiveness; e != nil {
			r.LossAtTolerable, r.Protected, r.Effectiveness = d.money(e.LossAtTolerable), d.money(e.Protected), e.PercentText()
		}
		out = append(out, r)
	}
	return out
}

// highestImpacts is the highest impact recorded for each service, by
// lower-cased name, also in the incidents merged in.
func (d *drafter) highestImpacts() map[string]incident.Impact {
	primary := map[int64]string{0: d.inc.Service.Name} // incident → its primary service
	worst := map[string]incident.Impact{}
	for _, e := range d.inc.Events {
		if e.Kind == incident.EventMerged && e.Merged != nil {
			primary[e.Merged.Number] = e.Merged.Service.Name
		}
		if e.Impact == nil {
			continue
		}
		name := e.Service
		switch e.Kind {
		case incident.EventDeclared, incident.EventImpactChanged, incident.EventServiceAffected:
			if name == "" {
				name = primary[e.From]
			}
		default:
			continue
		}
		if k := strings.ToLower(name); e.Impact.Share > worst[k].Share || worst[k].Level == "" {
			worst[k] = *e.Impact
		}
	}
	return worst
}

// sharedDependencies names the catalogue services that two or more of the
// incident's services depend on directly, or that one of them depends on
// and is itself among them: likely contributing factors.
func (d *drafter) sharedDependencies() string {
	in := map[string]bool{}
	for _, s := range d.st.Services {
		in[strings.ToLower(s.Service.Name)] = true
	}
	count := map[string]int{}
	var names []string
	for _, s := range d.st.Services {
		cur, ok := d.cat.Service(s.Service.Name)
		if !ok {
			continue
		}
		for _, dep := range cur.DependsOn {
			k := strings.ToLower(dep)
			if count[k] == 0 {
				names = append(names, dep)
			}
			count[k]++
		}
	}
	var shared []string
	for _, n := range names {
		if k := strings.ToLower(n); count[k] > 1 || in[k] {
			shared = append(shared, n)
		}
	}
	return strings.Join(shared, ", ")
}

func impactOf(e incident.Event) string {
	if e.Impact == nil {
		return "none"
	}
	s := e.Impact.String()
	if e.Impact.Explicit {
		s += ", stated"
	}
	return s
}

// elide picks which of n rows to keep under a cap: all of them, or the first
// and last halves. It returns the kept indices, how many were left out and
// after how many kept rows the gap falls.
func elide(n, max int) (keep []int, omitted, after int) {
	if max < 0 || n <= max {
		keep = make([]int, n)
		for i := range keep {
			keep[i] = i
		}
		return keep, 0, 0
	}
	head := (max + 1) / 2
	tail := max - head
	for i := 0; i < head; i++ {
		keep = append(keep, i)
	}
	for i := n - tail; i < n; i++ {
		keep = append(keep, i)
	}
	return keep, n - max, head
}

// --- timeline ----------------------------------------------------------------

type timelineView struct {
	Rows         []timelineRow
	Omitted      int
	OmittedAfter int
	Total        int
}

type timelineRow struct {
	Time, Event, By string
}

// timeline lists the key events: declaration, alerts firing and resolving
// (repeats of a firing alert collapsed), impact and cost revisions with
// their figures, classification changes with reason and actor, commander
// handovers, callouts, notes, updates, pinned messages as they read now,
// the first acknowledgement, resolution and reopening. Ordinary chat
// messages and people joining are left to the channel.
func (d *drafter) timeline() timelineView {
	inc := d.inc
	keyMsgs := map[string]incident.Message{}
	for _, m := range d.st.Messages {
		if m.Key {
			keyMsgs[m.TS] = m
		}
	}
	firing := map[string]bool{}
	pickedMsg := map[string]bool{}
	acked := false
	var picked []int
	for i, e := range inc.Events {
		switch e.Kind {
		case incident.EventAlertFired:
			if firing[e.Key] {
				continue
			}
			firing[e.Key] = true
		case incident.EventAlertResolved:
			if !firing[e.Key] {
				continue
			}
			firing[e.Key] = false
		case incident.EventMessage:
			if _, ok := keyMsgs[e.Key]; !ok || pickedMsg[e.Key] {
				continue
			}
			pickedMsg[e.Key] = true
		case incident.EventAcknowledged:
			if acked {
				continue
			}
			acked = true
		case incident.EventDeclared, incident.EventImpactChanged, incident.EventCostAdded, incident.EventSecurity,
			incident.EventClassChanged, incident.EventCommander, incident.EventCalloutDeferred, incident.EventCalledOut,
			incident.EventNote, incident.EventUpdate, incident.EventResolved, incident.EventReopened,
			incident.EventServiceAffected, incident.EventServiceUnaffected, incident.EventMerged:
		default:
			continue
		}
		picked = append(picked, i)
	}
	// Events that came with a merged incident keep their own time: the
	// key events read in the order they happened.
	sort.SliceStable(picked, func(a, b int) bool { return inc.Events[picked[a]].At.Before(inc.Events[picked[b]].At) })
	keep, omitted, after := elide(len(picked), d.max)
	v := timelineView{Omitted: omitted, OmittedAfter: after, Total: len(picked)}

	// Describing an event may need what came before it (the previous
	// commander, an alert's summary), so walk the timeline once more, only
	// formatting the kept rows.
	want := make(map[int]bool, len(keep))
	for _, k := range keep {
		want[picked[k]] = true
	}
	summaries := map[string]string{}
	commander := map[int64]string{} // by incident: 0 this one, else the merged one
	rows := map[int]timelineRow{}
	for i, e := range inc.Events {
		prevCommander := commander[e.From]
		switch e.Kind {
		case incident.EventAlertFired:
			if e.Text != "" {
				summaries[e.Key] = e.Text
			}
		case incident.EventCommander:
			commander[e.From] = e.User
		}
		if !want[i] {
			continue
		}
		row := timelineRow{By: d.name(e.Actor)}
		switch e.Kind {
		case incident.EventDeclared:
			row.Event = "Incident declared: " + d.plain(inc.Title) + ". Impact " + impactOf(e) + d.figures(e, false)
			if e.Text != "" {
				row.Event += ". " + d.slack(e.Text, maxEventText)
			}
		case incident.EventSecurity:
			row.Event = "Marked as a security incident (always Major)"
		case incident.EventAlertFired:
			row.Event = "Alert fired" + source(e.Source) + ": " + d.slack(firstNonEmpty(e.Text, e.Key), maxEventText)
		case incident.EventAlertResolved:
			row.Event = "Alert resolved" + source(e.Source) + ": " + d.slack(firstNonEmpty(summaries[e.Key], e.Key), maxEventText)
		case incident.EventImpactChanged:
			row.Event = "Impact revised to " + impactOf(e) + d.figures(e, true)
		case incident.EventCostAdded:
			row.Event = "Cost added: " + d.money(e.Amount) + " for " + d.slack(e.Text, maxEventText) + d.figures(e, true)
		case incident.EventClassChanged:
			if e.Actor == incident.ActorSystem {
				row.Event = "Upgraded to " + e.Class.Title() + " automatically"
			} else {
				row.Event = "Reclassified as " + e.Class.Title()
			}
			if e.Text != "" {
				row.Event += ": " + d.slack(e.Text, maxEventText)
			}
		case incident.EventCommander:
			if prevCommander == "" {
				row.Event = d.name(e.User) + " became incident commander"
			} else {
				row.Event = "Command handed over from " + d.name(prevCommander) + " to " + d.name(e.User)
			}
			if e.Text != "" {
				row.Event += " (" + d.slack(e.Text, maxEventText) + ")"
			}
		case incident.EventCalloutDeferred:
			row.Event = "Callout deferred to the next working day, " + d.when(e.Until)
		case incident.EventCalledOut:
			var names []string
			for _, u := range e.Users {
				names = append(names, d.name(u))
			}
			row.Event = "Called out " + strings.Join(names, ", ")
			if e.Text != "" {
				row.Event += " (" + d.slack(e.Text, maxEventText) + ")"
			}
		case incident.EventNote:
			row.Event = "Note: " + d.slack(e.Text, maxEventText)
		case incident.EventUpdate:
			row.Event = "Stakeholder update: " + d.slack(e.Text, maxEventText)
		case incident.EventMessage:
			m := keyMsgs[e.Key]
			row.By = d.name(m.User)
			row.Event = "📌 " + d.slack(m.Text, maxEventText)
			if m.Edited {
				row.Event += " _(edited)_"
			}
		case incident.EventAcknowledged:
			row.Event = "Acknowledged" + source(e.Source)
		case incident.EventResolved:
			row.Event = "Availability restored"
			if e.Figures != nil {
				row.Event += ": loss " + d.money(e.Figures.LossSoFar)
			}
			if e.Text != "" {
				row.Event += ". " + d.slack(e.Text, maxEventText)
			}
		case incident.EventReopened:
			row.Event = "Reopened: the impact before the resolution applies again"
		default:
			row.Event = d.serviceEvent(e) + d.figures(e, true)
		}
		if e.From != 0 {
			row.Event = fmt.Sprintf("(from #%d) %s", e.From, row.Event)
		}
		rows[i] = row
	}
	lastDay := ""
	for _, k := range keep {
		i := picked[k]
		row := rows[i]
		t := inc.Events[i].At.In(d.loc)
		if day := t.Format("2006-01-02"); day != lastDay {
			lastDay = day
			row.Time = t.Format("2006-01-02 15:04:05 MST")
		} else {
			row.Time = t.Format("15:04:05")
		}
		v.Rows = append(v.Rows, row)
	}
	return v
}

// serviceEvent describes the events of an incident on several services.
func (d *drafter) serviceEvent(e incident.Event) string {
	switch e.Kind {
	case incident.EventServiceAffected:
		return d.plain(e.Service) + " affected too, impact " + impactOf(e)
	case incident.EventServiceUnaffected:
		return d.plain(e.Service) + " no longer affected: " + d.slack(e.Text, maxEventText)
	case incident.EventMerged:
		s := fmt.Sprintf("Incident #%d merged in", e.Ref)
		if e.Merged != nil {
			s += " (" + d.plain(e.Merged.Title) + ", " + d.plain(e.Merged.Service.Name) + ")"
		}
		if e.Text != "" {
			s += ": " + d.slack(e.Text, maxEventText)
		}
		return s
	}
	return ""
}

func (d *drafter) figures(e incident.Event, withRate bool) string {
	f := e.Figures
	if f == nil {
		return ""
	}
	s := ""
	if withRate {
		s = "; loss rate " + d.money(f.Rate) + "/h, loss so far " + d.money(f.LossSoFar) + ", estimated loss " + d.money(f.Estimated)
	} else {
		s = "; loss rate " + d.money(f.Rate) + "/h, estimated loss " + d.money(f.Estimated)
	}
	return s + " (" + f.Class.Title() + ")"
}

func source(s string) string {
	switch s {
	case "":
		return ""
	case incident.ActorAlertmanager:
		return " (Alertmanager)"
	case incident.ActorPagerDuty:
		return " (PagerDuty)"
	}
	return " (" + escapeText(s) + ")"
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if strings.TrimSpace(s) != "" {
			return s
		}
	}
	return ""
}

// plain makes plain text literal Markdown.
func (d *drafter) plain(s string) string { return escapeText(s) }

// slackRef matches Slack's <…> references: <@U1>, <#C1|name>, <!here>,
// <https://x|label>.
var slackRef = regexp.MustCompile(`<([^<>\s][^<>]*)>`)

var slackEntities = strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&")

// slack turns Slack message text into Markdown for the review: mentions
// become names, links Markdown links (http, https and mailto only), and
// everything else stays as typed, with < and > made literal so that nothing
// becomes raw HTML. Text over max characters is cut with an ellipsis.
func (d *drafter) slack(s string, max int) string {
	s = strings.TrimSpace(s)
	if utf8.RuneCountInString(s) > max {
		s = string([]rune(s)[:max]) + "…"
	}
	var b strings.Builder
	last := 0
	for _, m := range slackRef.FindAllStringSubmatchIndex(s, -1) {
		b.WriteString(literalAngles(s[last:m[0]]))
		b.WriteString(d.slackReference(s[m[2]:m[3]]))
		last = m[1]
	}
	b.WriteString(literalAngles(s[last:]))
	return b.String()
}

func literalAngles(s string) string {
	s = slackEntities.Replace(s)
	if !strings.ContainsAny(s, "<>") {
		return s
	}
	return strings.NewReplacer("<", `\<`, ">", `\>`).Replace(s)
}

func (d *drafter) slackReference(ref string) string {
	target, label, _ := strings.Cut(ref, "|")
	label = slackEntities.Replace(label)
	switch {
	case strings.HasPrefix(target, "@"):
		return escapeText(d.name(strings.TrimPrefix(target, "@")))
	case strings.HasPrefix(target, "#"):
		if label != "" {
			return escapeText("#" + label)
		}
		return escapeText(target)
	case strings.HasPrefix(target, "!"):
		if label != "" {
			return escapeText(label)
		}
		cmd, _, _ := strings.Cut(strings.TrimPrefix(target, "!"), "^")
		return escapeText("@" + cmd)
	}
	url := slackEntities.Replace(target)
	lower := strings.ToLower(url)
	if strings.ContainsAny(url, "<> \t\r\n") {
		return escapeText(firstNonEmpty(label, url))
	}
	if strings.HasPrefix(lower, "https://") || strings.HasPrefix(lower, "http://") || strings.HasPrefix(lower, "mailto:") {
		if label == "" {
			label = strings.TrimPrefix(url, "mailto:")
		}
		return "[" + escapeText(label) + "](<" + url + ">)"
	}
	return escapeText(firstNonEmpty(label, url))
}
