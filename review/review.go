// Package review is the pure core of blameless post-incident reviews: the
// review model, the draft produced from an incident's timeline, rendering to
// Markdown and safe HTML from overridable templates, the blameless language
// check, and the learning-culture and reliability measures. It does no I/O of
// its own beyond reading an optional template directory: the Slack and
// storage adapters call it.
package review

import (
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/incidentbot/incidentbot/incident"
)

// SectionID names a section of a review.
type SectionID string

// The sections of a review, in the order they appear.
const (
	SectionSummary             SectionID = "summary"
	SectionImpact              SectionID = "impact"
	SectionTimeline            SectionID = "timeline"
	SectionAccounts            SectionID = "accounts" // derived from Accounts, not edited
	SectionContributingFactors SectionID = "contributing_factors"
	SectionWentWell            SectionID = "went_well"
	SectionLearnings           SectionID = "learnings"
	SectionActions             SectionID = "actions" // derived from Actions, not edited
	SectionNarrative           SectionID = "narrative"
)

// SectionInfo describes a section.
type SectionInfo struct {
	ID    SectionID
	Title string
	// Generated sections are pre-filled by Draft from the timeline; people
	// may edit them and a redraft keeps their edits.
	Generated bool
	// Derived sections are built from Accounts or Actions and are not edited
	// as text.
	Derived bool
}

var sections = []SectionInfo{
	{ID: SectionSummary, Title: "Summary", Generated: true},
	{ID: SectionImpact, Title: "Impact", Generated: true},
	{ID: SectionTimeline, Title: "Timeline of key events", Generated: true},
	{ID: SectionAccounts, Title: "Responders' accounts", Derived: true},
	{ID: SectionContributingFactors, Title: "Contributing factors"},
	{ID: SectionWentWell, Title: "What went well"},
	{ID: SectionLearnings, Title: "Learnings"},
	{ID: SectionActions, Title: "Improvement actions", Derived: true},
	{ID: SectionNarrative, Title: "Narrative"},
}

// Sections returns every section in order.
func Sections() []SectionInfo { return append([]SectionInfo(nil), sections...) }

// Section describes one section; ok is false for an unknown ID.
func Section(id SectionID) (SectionInfo, bool) {
	for _, s := range sections {
		if s.ID == id {
			return s, true
		}
	}
	return SectionInfo{}, false
}

// ParseSectionID reads a section ID or title as typed by a person:
// "contributing_factors", "contributing-factors", "Contributing factors".
func ParseSectionID(s string) (SectionID, bool) {
	k := strings.NewReplacer("-", "_", " ", "_").Replace(strings.ToLower(strings.TrimSpace(s)))
	for _, sec := range sections {
		if string(sec.ID) == k || strings.ReplaceAll(strings.ToLower(sec.Title), " ", "_") == k {
			return sec.ID, true
		}
	}
	return "", false
}

// Account is one responder's own account of the incident, in their words.
type Account struct {
	User         string    `json:"user"`
	Saw          string    `json:"saw,omitempty"`
	Did          string    `json:"did,omitempty"`
	Surprised    string    `json:"surprised,omitempty"`
	HarderEasier string    `json:"harder_easier,omitempty"`
	At           time.Time `json:"at"`
}

func (a Account) empty() bool {
	return strings.TrimSpace(a.Saw+a.Did+a.Surprised+a.HarderEasier) == ""
}

// Action is an improvement action, tracked from definition to done.
type Action struct {
	ID       string `json:"id"` // "<incident>-<n>", e.g. "42-1"
	Incident int64  `json:"incident"`
	// Service is the incident's service, so that measures can be filtered
	// by service without loading the incident.
	Service   string    `json:"service,omitempty"`
	Text      string    `json:"text"`
	Owner     string    `json:"owner,omitempty"` // Slack user ID
	CreatedAt time.Time `json:"created_at"`
	DoneAt    time.Time `json:"done_at,omitzero"`
}

// Done reports whether the action is done.
func (a Action) Done() bool { return !a.DoneAt.IsZero() }

// LeadTime is the time from definition to done; ok is false while the action
// is open.
func (a Action) LeadTime() (d time.Duration, ok bool) {
	if !a.Done() {
		return 0, false
	}
	return a.DoneAt.Sub(a.CreatedAt), true
}

// Review is a post-incident review. Its JSON form is what storage keeps.
type Review struct {
	Number    int64          `json:"number"`
	Title     string         `json:"title"`
	Service   string         `json:"service"`
	Team      string         `json:"team"`
	Domain    string         `json:"domain,omitempty"`
	Class     incident.Class `json:"class"`
	StartedAt time.Time      `json:"started_at"`
	// ResolvedAt and TimeToRestore are as at the last draft.
	ResolvedAt    time.Time     `json:"resolved_at,omitzero"`
	TimeToRestore time.Duration `json:"time_to_restore,omitempty"`
	// Participants are the people on the timeline: each is asked for an
	// account. People maps Slack user IDs to the names written in the review.
	Participants []string          `json:"participants,omitempty"`
	People       map[string]string `json:"people,omitempty"`

	// Sections hold the Markdown of every edited or generated section. The
	// derived sections (accounts, actions) are not kept here.
	Sections map[SectionID]string `json:"sections"`
	// Drafted is the text Draft last generated for each generated section: a
	// section whose text differs from it has been edited by a person, and a
	// redraft leaves it alone.
	Drafted map[SectionID]string `json:"drafted,omitempty"`

	Accounts []Account `json:"accounts,omitempty"`
	Actions  []Action  `json:"actions,omitempty"`

	Status      incident.ReviewStatus `json:"status"`
	DraftedAt   time.Time             `json:"drafted_at"`
	PublishedAt time.Time             `json:"published_at,omitzero"`
	// Private reviews (security incidents) are not listed on the review
	// site; the server decides who may read them.
	Private bool `json:"private,omitempty"`
	// Drill marks the review of a practice incident: a Chaos Day review.
	Drill bool `json:"drill,omitempty"`
	// Readers are the unique readers of the published review, keyed by an
	// opaque reader ID the server chooses (a Slack user, or a hash), with the
	// time of their first read.
	Readers map[string]time.Time `json:"readers,omitempty"`
	// ReaderTotal is the number of unique readers when a store hands out
	// the count it keeps instead of every reader (Readers is then nil).
	ReaderTotal int `json:"-"`
}

// Published reports whether the review is published.
func (r *Review) Published() bool { return r.Status == incident.ReviewPublished }

// Edited reports whether a person changed a section from what Draft wrote.
// Sections people write from blank are edited as soon as they hold text.
func (r *Review) Edited(id SectionID) bool {
	return r.Sections[id] != r.Drafted[id]
}

// Name is how a person is written in the review: the name Draft was given,
// else "@" and the Slack user ID.
func (r *Review) Name(user string) string {
	if n := r.People[user]; n != "" {
		return n
	}
	if user == "" {
		return "nobody"
	}
	return "@" + user
}

// SetSection replaces a section's Markdown, as a person edits it.
func (r *Review) SetSection(id SectionID, text string) error {
	info, ok := Section(id)
	switch {
	case !ok:
		return incident.Errorf(incident.EINVALID, "There is no section %q; sections are %s.", id, sectionList())
	case info.Derived:
		return incident.Errorf(incident.EINVALID, "The %s section is built from %s; it is not edited as text.", strings.ToLower(info.Title), derivedFrom(id))
	case len(text) > incident.MaxText:
		return incident.Errorf(incident.EINVALID, "That section is too long (%d characters; the limit is %d).", len(text), incident.MaxText)
	case !utf8.ValidString(text):
		return incident.Errorf(incident.EINVALID, "That section is not valid UTF-8 text.")
	}
	if r.Sections == nil {
		r.Sections = map[SectionID]string{}
	}
	r.Sections[id] = strings.TrimSpace(text)
	return nil
}

func derivedFrom(id SectionID) string {
	if id == SectionAccounts {
		return "each responder's own account"
	}
	return "the improvement actions (/incident action)"
}

func sectionList() string {
	var ids []string
	for _, s := range sections {
		if !s.Derived {
			ids = append(ids, string(s.ID))
		}
	}
	return strings.Join(ids, ", ")
}

// Missing lists the sections people write that are still blank, and the
// accounts section while nobody has given an account.
func (r *Review) Missing() []SectionID {
	var out []SectionID
	for _, s := range sections {
		switch {
		case s.ID == SectionAccounts:
			if len(r.accounts()) == 0 {
				out = append(out, s.ID)
			}
		case s.Derived:
		case strings.TrimSpace(r.Sections[s.ID]) == "":
			out = append(out, s.ID)
		}
	}
	return out
}

// SetAccount adds a responder's account or replaces their earlier one.
func (r *Review) SetAccount(a Account) error {
	if strings.TrimSpace(a.User) == "" {
		return incident.Errorf(incident.EINVALID, "An account needs the responder who gave it.")
	}
	for _, s := range []string{a.Saw, a.Did, a.Surprised, a.HarderEasier} {
		if len(s) > incident.MaxText {
			return incident.Errorf(incident.EINVALID, "That answer is too long (%d characters; the limit is %d).", len(s), incident.MaxText)
		}
	}
	for i := range r.Accounts {
		if r.Accounts[i].User == a.User {
			r.Accounts[i] = a
			return nil
		}
	}
	r.Accounts = append(r.Accounts, a)
	return nil
}

func (r *Review) accounts() []Account {
	var out []Account
	for _, a := range r.Accounts {
		if !a.empty() {
			out = append(out, a)
		}
	}
	return out
}

// AddAction defines an improvement action for the review's incident. Its ID
// is "<incident>-<n>", n one more than the highest so far.
func (r *Review) AddAction(text, owner string, at time.Time) (Action, error) {
	text = strings.TrimSpace(text)
	switch {
	case text == "":
		return Action{}, incident.Errorf(incident.EINVALID, "Please describe the improvement action.")
	case len(text) > incident.MaxText:
		return Action{}, incident.Errorf(incident.EINVALID, "That action is too long (%d characters; the limit is %d).", len(text), incident.MaxText)
	}
	n := 0
	prefix := strconv.FormatInt(r.Number, 10) + "-"
	for _, a := range r.Actions {
		if k, err := strconv.Atoi(strings.TrimPrefix(a.ID, prefix)); err == nil && strings.HasPrefix(a.ID, prefix) && k > n {
			n = k
		}
	}
	a := Action{
		ID: prefix + strconv.Itoa(n+1), Incident: r.Number, Service: r.Service,
		Text: text, Owner: strings.TrimSpace(owner), CreatedAt: at,
	}
	r.Actions = append(r.Actions, a)
	return a, nil
}

// CompleteAction marks an action done at the given time.
func (r *Review) CompleteAction(id string, at time.Time) error {
	for i := range r.Actions {
		if r.Actions[i].ID != id {
			continue
		}
		if r.Actions[i].Done() {
			return incident.Errorf(incident.ECONFLICT, "Action %s is already done.", id)
		}
		if at.Before(r.Actions[i].CreatedAt) {
			at = r.Actions[i].CreatedAt
		}
		r.Actions[i].DoneAt = at
		return nil
	}
	return incident.Errorf(incident.ENOTFOUND, "There is no action %s on incident %d's review.", id, r.Number)
}

// Publish marks the review published. The language check and Missing are
// advice for the person publishing; Publish does not enforce them.
func (r *Review) Publish(at time.Time) error {
	if r.Published() {
		return incident.Errorf(incident.ECONFLICT, "The review of incident %d is already published.", r.Number)
	}
	r.Status, r.PublishedAt = incident.ReviewPublished, at
	return nil
}

// Read records a reader of the published review; it reports whether they
// are a new unique reader.
func (r *Review) Read(reader string, at time.Time) bool {
	if reader == "" {
		return false
	}
	if _, ok := r.Readers[reader]; ok {
		return false
	}
	if r.Readers == nil {
		r.Readers = map[string]time.Time{}
	}
	r.Readers[reader] = at
	return true
}

// ReaderCount is the number of unique readers: those in Readers when they
// are loaded, else ReaderTotal.
func (r *Review) ReaderCount() int {
	if r.Readers == nil {
		return r.ReaderTotal
	}
	return len(r.Readers)
}

// sortedKeys returns the keys of a set, sorted.
func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
