package bot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/incidentbot/incidentbot/incident"
	"github.com/incidentbot/incidentbot/incident/desk"
	"github.com/incidentbot/incidentbot/review"
	"github.com/incidentbot/incidentbot/review/reviewstore"
)

// This file is the seam between the Slack adapter and post-incident
// reviews: every review entry point of the bot goes through these methods.
// Reviews, their actions and readers are kept by reviewstore in the bot's
// Store; the review site (package review/site) reads the same store.

// Action IDs and callback IDs of the review buttons and modals.
const (
	ActReviewAccount = "review_account"     // DM button: give my account (value: incident number)
	ActReviewEdit    = "review_edit"        // edit a section (value: "<number>:<section>")
	ActReviewPublish = "review_publish"     // publish over warnings (value: incident number)
	ActReviewDone    = "review_action_done" // an improvement action is done (value: action ID)

	ViewReviewAccount = "review_account"
	ViewReviewEdit    = "review_edit"
)

// Idempotency keys of the review's timeline events.
const (
	idemReviewDrafted   = "review/drafted"
	idemReviewPublished = "review/published"
)

// Reviews returns the bot's review store, for the review site and the
// measures API: share it so that there is one writer per database.
func (b *Bot) Reviews() *reviewstore.Store { return b.reviews }

// reviewCommand handles /incident stats|actions|action|review|publish.
func (b *Bot) reviewCommand(ctx context.Context, j desk.Job, cmd slack.SlashCommand, c Command, to replyTo) error {
	switch c.Verb {
	case "stats":
		return b.replyStats(ctx, to, c.Args)
	case "actions":
		return b.replyActions(ctx, to)
	case "action":
		return b.addAction(ctx, j, cmd.UserID, c.Rest, to)
	case "review":
		return b.showReview(ctx, j.Incident, cmd.UserID, to)
	case "publish":
		return b.publish(ctx, j.Incident, cmd.UserID, len(c.Args) == 1, to)
	}
	return b.reply(ctx, to, Usage)
}

// reviewIntake gets first look at block actions that must open a modal
// within the trigger's 3 s; it reports whether it handled the action.
func (b *Bot) reviewIntake(ctx context.Context, cb slack.InteractionCallback, a *slack.BlockAction) bool {
	switch a.ActionID {
	case ActReviewAccount:
		n, err := strconv.ParseInt(a.Value, 10, 64)
		if err != nil || n <= 0 {
			return true
		}
		go b.openAccountModal(ctx, cb.TriggerID, n, cb.User.ID, cb.Channel.ID)
		return true
	case ActReviewEdit:
		ns, sec, _ := strings.Cut(a.Value, ":")
		n, err := strconv.ParseInt(ns, 10, 64)
		id, ok := review.ParseSectionID(sec)
		if err != nil || n <= 0 || !ok {
			return true
		}
		go b.openEditModal(ctx, cb.TriggerID, n, id, cb.Channel.ID)
		return true
	}
	return false
}

// reviewInteraction handles stored block actions and view submissions that
// belong to reviews; it reports whether it handled them.
func (b *Bot) reviewInteraction(ctx context.Context, j desk.Job, cb slack.InteractionCallback, to replyTo) (bool, error) {
	switch cb.Type {
	case slack.InteractionTypeBlockActions:
		if len(cb.ActionCallback.BlockActions) == 0 {
			return false, nil
		}
		a := cb.ActionCallback.BlockActions[0]
		switch a.ActionID {
		case ActReviewPublish:
			n, err := strconv.ParseInt(a.Value, 10, 64)
			if err != nil || n <= 0 {
				return true, nil
			}
			return true, b.publish(ctx, n, cb.User.ID, true, to)
		case ActReviewDone:
			return true, b.completeAction(ctx, j, cb, a.Value, to)
		case ActReviewAccount, ActReviewEdit:
			return true, nil // opened at intake
		}
	case slack.InteractionTypeViewSubmission:
		switch cb.View.CallbackID {
		case ViewReviewEdit:
			return true, b.saveSection(ctx, j, cb)
		case ViewReviewAccount:
			return true, b.saveAccount(ctx, j, cb)
		}
	}
	return false, nil
}

// reviewViewIncident is the incident a review modal's submission belongs
// to, so that it is processed in turn with the incident's other jobs.
func reviewViewIncident(cb slack.InteractionCallback) int64 {
	var m viewMeta
	if json.Unmarshal([]byte(cb.View.PrivateMetadata), &m) != nil {
		return 0
	}
	return m.N
}

// reviewValidate checks a review modal's submission before it is
// acknowledged, so that problems are shown in the modal; nil means fine.
func (b *Bot) reviewValidate(ctx context.Context, cb slack.InteractionCallback) map[string]string {
	var m viewMeta
	if json.Unmarshal([]byte(cb.View.PrivateMetadata), &m) != nil || m.N <= 0 {
		return nil
	}
	if cb.View.CallbackID == ViewReviewAccount {
		if rec, ok, err := b.reviews.Record(ctx, m.N); err == nil && ok && rec.Published() {
			return map[string]string{"saw": "The review is already published: it no longer takes accounts. Please share yours in the incident channel."}
		}
		return nil
	}
	if cb.View.CallbackID != ViewReviewEdit {
		return nil
	}
	text := joinParts(viewParts(cb.View.State), m.Seps)
	if len(text) > incident.MaxText {
		return map[string]string{partBlock(1): fmt.Sprintf("The section is too long (%d characters; the limit is %d).", len(text), incident.MaxText)}
	}
	if rec, ok, err := b.reviews.Record(ctx, m.N); err == nil && ok && rec.Published() {
		return map[string]string{partBlock(1): "The review is published: it can no longer be edited."}
	}
	return nil
}

// --- drafting -------------------------------------------------------------

// draftReview runs the desk's review.draft job after a resolution: it
// drafts (or redrafts, keeping people's edits) the review and records that
// on the timeline, in one transaction; the planner then asks each
// participant for their account and tells the incident channel.
func (b *Bot) draftReview(ctx context.Context, j desk.Job) error {
	v, err := b.load(ctx, j.Incident)
	if err != nil {
		if incident.ErrorCode(err) == incident.ENOTFOUND {
			return desk.Permanent(err)
		}
		return err
	}
	if v.st.Status != incident.StatusResolved {
		return nil // reopened since: the next resolution drafts again
	}
	if _, err := b.draft(ctx, v); err != nil {
		if c := incident.ErrorCode(err); c == incident.EINVALID || c == incident.ECONFLICT {
			b.log.Warn("review not drafted", "incident", j.Incident, "err", err)
			return nil
		}
		return err
	}
	if p, err := desk.DecodePayload(j); err == nil && p.Kind == desk.ReviewErased {
		return b.scrub(ctx) // redrafted without the deleted message
	}
	return nil
}

// reviewDrafted is the Slack side of a drafted review: each participant is
// asked for their account by DM, and the channel is told, each once.
func (b *Bot) reviewDrafted(ctx context.Context, j desk.Job) error {
	v, rec, ok, err := b.loadReview(ctx, j.Incident)
	if err != nil || !ok || rec.Published() {
		return err
	}
	if err := b.askAccounts(ctx, v, rec); err != nil {
		return err
	}
	cs, ok, err := b.channelOf(ctx, j.Incident)
	if err != nil || !ok || cs.ID == "" {
		return err
	}
	text := fmt.Sprintf("📝 The blameless review of *#%d %s* is drafted from the timeline. Edit it with `/incident review`, add improvement actions with %s, and publish it with `/incident publish`. Each responder was asked for their own account by DM.",
		v.inc.Number, esc(v.inc.Title), actionUsage)
	return b.postReviewNews(ctx, fmt.Sprintf("review-drafted/%d", j.Incident), cs, rec, "Preview the draft", func(l string) string {
		return text + " " + l
	})
}

// scrub zeroes the storage's free pages, where the previous draft of a
// review that quoted a deleted message is left, when the storage can.
func (b *Bot) scrub(ctx context.Context) error {
	if s, ok := b.store.(interface{ Scrub(context.Context) error }); ok {
		return s.Scrub(ctx)
	}
	return nil
}

// loadReview returns an incident with its state and its review record.
func (b *Bot) loadReview(ctx context.Context, n int64) (view, *reviewstore.Record, bool, error) {
	v, err := b.load(ctx, n)
	if err != nil {
		return v, nil, false, err
	}
	rec, ok, err := b.reviews.Record(ctx, n)
	return v, rec, ok, err
}

// draft drafts or redrafts the review of a resolved incident and records
// the draft on the timeline (once per resolution), in one transaction. A
// published review is returned as it is.
func (b *Bot) draft(ctx context.Context, v view) (*reviewstore.Record, error) {
	if v.st.Status != incident.StatusResolved {
		return nil, incident.Errorf(incident.ECONFLICT, "Incident %d is still open: its review is drafted when it is resolved.", v.inc.Number)
	}
	v = b.withoutSelf(v)
	names := b.prefetchNames(ctx, v.inc, v.st)
	var rec *reviewstore.Record
	_, err := b.desk.Review(ctx, v.inc.Number, desk.Op{Actor: incident.ActorSystem}, func(inc *incident.Incident, st incident.State, recs desk.Records, now time.Time) ([]incident.Event, error) {
		var err error
		mine := b.withoutSelf(view{inc: inc, st: st, cat: b.cat, now: now}) // drafted from what people did
		if rec, err = reviewstore.Edit(recs, inc.Number, b.redraft(mine.inc, mine.st, now, names)); err != nil || rec.Published() {
			return nil, err
		}
		return inc.Record(b.cat.Policy, now, incident.Event{Kind: incident.EventReviewDrafted, Actor: incident.ActorSystem, Idem: draftedIdem(inc)})
	})
	return rec, err
}

// redraft returns the Edit that drafts the review again from the timeline.
func (b *Bot) redraft(inc *incident.Incident, st incident.State, now time.Time, names map[string]string) func(*reviewstore.Record, bool) error {
	return func(rec *reviewstore.Record, exists bool) error {
		if rec.Published() {
			return reviewstore.ErrNoChange
		}
		var prev *review.Review
		if exists {
			p := rec.Review
			prev = &p
		}
		r, err := review.Draft(inc, st, b.cat, review.DraftOptions{
			Previous: prev, Now: now, Renderer: b.rd,
			Name: func(u string) string {
				if n := names[u]; n != "" {
					return n
				}
				if prev != nil && prev.People[u] != "" {
					return prev.People[u]
				}
				return ""
			},
		})
		if err != nil {
			return err
		}
		setNames(r, names) // action owners, and people Slack could not name before
		rec.Review = *r
		return nil
	}
}

// draftedIdem is the idempotency key of the drafted event of the
// incident's latest resolution.
func draftedIdem(inc *incident.Incident) string {
	for i := len(inc.Events) - 1; i >= 0; i-- {
		if inc.Events[i].Kind == incident.EventResolved {
			return fmt.Sprintf("%s/%d", idemReviewDrafted, inc.Events[i].Seq)
		}
	}
	return idemReviewDrafted
}

// prefetchNames looks up the names of the people on the timeline and of
// the review's action owners (outside the review lock).
func (b *Bot) prefetchNames(ctx context.Context, inc *incident.Incident, st incident.State) map[string]string {
	people := append([]string(nil), st.Participants...)
	for _, e := range inc.Events {
		people = append(people, e.Actor, e.User)
		people = append(people, e.Users...)
	}
	if rec, ok, err := b.reviews.Record(ctx, inc.Number); err == nil && ok {
		for _, a := range rec.Actions {
			people = append(people, a.Owner)
		}
	}
	return b.names(ctx, people)
}

// isUser reports whether id looks like a Slack user ID.
func isUser(id string) bool {
	return len(id) > 1 && (id[0] == 'U' || id[0] == 'W') && strings.ToUpper(id) == id
}

// askAccounts asks every participant who has not given an account for one,
// by DM, once per person and incident.
func (b *Bot) askAccounts(ctx context.Context, v view, rec *reviewstore.Record) error {
	given := map[string]bool{}
	for _, a := range rec.Accounts {
		given[a.User] = true
	}
	for _, p := range rec.Participants {
		if !isUser(p) || p == b.botUser() || given[p] {
			continue
		}
		dm, _, _, err := b.api.OpenConversationContext(ctx, &slack.OpenConversationParameters{Users: []string{p}})
		if err != nil {
			switch slackErr(err) {
			case "user_not_found", "user_disabled", "cannot_dm_bot", "user_is_bot":
				b.log.Warn("could not ask for an account", "user", p, "err", err)
				continue
			}
			return fmt.Errorf("open DM: %w", err)
		}
		text, blocks := accountAskBlocks(v)
		if _, err := b.postOnce(ctx, fmt.Sprintf("review-ask/%d/%s", v.inc.Number, p), dm.ID, text, blocks); err != nil {
			return err
		}
	}
	return nil
}

// --- /incident review -------------------------------------------------------

// showReview (re)drafts the review of a resolved incident, keeping people's
// edits, and shows its state with an Edit button per section.
func (b *Bot) showReview(ctx context.Context, n int64, userID string, to replyTo) error {
	v, err := b.load(ctx, n)
	if err != nil {
		return err
	}
	rec, ok, err := b.reviews.Record(ctx, n)
	if err != nil {
		return err
	}
	note := ""
	if v.st.Status == incident.StatusResolved {
		if rec, err = b.draft(ctx, v); err != nil {
			return b.outcome(ctx, to, err, "")
		}
	} else {
		if !ok || rec.Status == incident.ReviewNone {
			actions := 0
			if ok {
				actions = len(rec.Actions)
			}
			return b.reply(ctx, to, fmt.Sprintf("Incident #%d is still open: its blameless review is drafted from the timeline when it is resolved. Improvement actions defined so far: %d (%s).", n, actions, actionUsage))
		}
		note = "The incident is open again: the draft is refreshed from the timeline when it is resolved."
	}
	text, blocks := b.reviewStateBlocks(ctx, rec, note)
	return b.reply(ctx, to, text, blocks...)
}

// pageURL is the public address of a review's page (no token).
func (b *Bot) pageURL(n int64) string {
	return fmt.Sprintf("%s/reviews/%d", strings.TrimRight(b.opts.PublicURL, "/"), n)
}

// link writes a Slack link; the URLs the bot builds need no escaping
// beyond &, < and >.
func link(u, label string) string {
	return "<" + esc(u) + "|" + strings.ReplaceAll(esc(label), "|", "¦") + ">"
}

// --- /incident publish --------------------------------------------------------

// publish publishes the review after the blameless language check: with
// findings (or for a private incident) it lists them and asks for
// confirmation; confirm publishes over them. The publication and its
// timeline event are one transaction; the announcements are planned jobs.
func (b *Bot) publish(ctx context.Context, n int64, userID string, confirm bool, to replyTo) error {
	v, rec, ok, err := b.loadReview(ctx, n)
	if err != nil {
		return err
	}
	if !b.desk.CanManage(v.inc, v.st, userID) {
		return b.reply(ctx, to, "⚠️ Only the commander, incident managers and the owning team can publish the review.")
	}
	if ok && rec.Published() {
		return b.reply(ctx, to, "The review of #"+itoa(n)+" is already published: "+b.publishedLink(ctx, rec))
	}
	if !ok || rec.Status == incident.ReviewNone {
		if rec, err = b.draft(ctx, v); err != nil {
			return b.outcome(ctx, to, err, "")
		}
	}
	findings := review.CheckReview(&rec.Review)
	if !confirm && (len(findings) > 0 || rec.Private) {
		text, blocks := publishCheckBlocks(rec, findings)
		return b.reply(ctx, to, text, blocks...)
	}
	if rec, err = b.publishNow(ctx, n, desk.Op{Actor: userID}); err != nil {
		return b.outcome(ctx, to, err, "")
	}
	msg := "📘 Published the review: " + b.publishedLink(ctx, rec)
	if len(findings) > 0 {
		msg += fmt.Sprintf(" (over %d language %s).", len(findings), pluralWord(len(findings), "warning", "warnings"))
	}
	return b.reply(ctx, to, msg)
}

// publishNow publishes the review and records it on the timeline.
func (b *Bot) publishNow(ctx context.Context, n int64, op desk.Op) (*reviewstore.Record, error) {
	var rec *reviewstore.Record
	_, err := b.desk.Review(ctx, n, op, func(inc *incident.Incident, _ incident.State, recs desk.Records, now time.Time) ([]incident.Event, error) {
		var err error
		rec, err = reviewstore.Edit(recs, n, func(rec *reviewstore.Record, _ bool) error {
			if rec.Published() {
				return reviewstore.ErrNoChange
			}
			if err := rec.Publish(now); err != nil {
				return err
			}
			// Render now, so that a template problem stops the
			// publication instead of breaking the page.
			if _, err := b.rd.Markdown(&rec.Review); err != nil {
				return err
			}
			return b.rd.RenderPage(io.Discard, &rec.Review, 0)
		})
		if err != nil {
			return nil, err
		}
		return inc.Record(b.cat.Policy, now, incident.Event{Kind: incident.EventReviewPublished, Actor: op.Actor, Text: b.pageURL(n), Idem: idemReviewPublished})
	})
	if err == nil && rec == nil {
		rec, _, err = b.reviews.Record(ctx, n) // a repeat of the operation
	}
	return rec, err
}

// reviewPublished announces a published review in its channel and in the
// announce channel, each once.
func (b *Bot) reviewPublished(ctx context.Context, j desk.Job) error {
	_, rec, ok, err := b.loadReview(ctx, j.Incident)
	if err != nil || !ok || !rec.Published() {
		return err
	}
	n := rec.Number
	if cs, ok, err := b.channelOf(ctx, n); err != nil {
		return err
	} else if ok && cs.ID != "" {
		text := func(l string) string {
			return fmt.Sprintf("📘 The blameless review of this incident is published: %s. Thank you for writing it.", l)
		}
		if err := b.postReviewNews(ctx, fmt.Sprintf("review-published/%d", n), cs, rec, "#"+itoa(n)+" "+rec.Title, text); err != nil {
			return err
		}
	}
	ch, err := b.announceChannel(ctx)
	if err != nil {
		var pe *desk.PermanentError
		if errors.As(err, &pe) {
			// A misconfigured announce channel must not undo the
			// publication; the operator sees the warning.
			b.log.Warn("review published but not announced", "incident", n, "err", err)
			return nil
		}
		return err
	}
	if ch == "" {
		return nil
	}
	_, err = b.postOnce(ctx, fmt.Sprintf("review-announce/%d", n), ch, publishedAnnouncement(rec, b.publishedLink(ctx, rec)), nil)
	return err
}

// publishedAnnouncement is the announce channel's post about a review.
func publishedAnnouncement(rec *reviewstore.Record, link string) string {
	if rec.Private {
		return fmt.Sprintf("🔒 The review of security incident #%d is published. It is shared with incident managers.", rec.Number)
	}
	open := 0
	for _, a := range rec.Actions {
		if !a.Done() {
			open++
		}
	}
	owner := esc(rec.Team)
	if !namesService(rec.Title, rec.Service) {
		owner = "`" + esc(rec.Service) + "`, " + owner
	}
	actions := "No improvement actions yet."
	if len(rec.Actions) > 0 {
		actions = fmt.Sprintf("%s, %d open.", pluralCount(len(rec.Actions), "improvement action", "improvement actions"), open)
	}
	kind := "Post-incident review"
	if rec.Drill {
		kind = "🧪 Chaos Day review"
	}
	// link is the title linked to the page: the title is said once.
	return fmt.Sprintf("📘 %s published: %s (%s). %s", kind, link, owner, actions)
}

// --- modals -------------------------------------------------------------------

// viewMeta is the private_metadata of the review modals.
type viewMeta struct {
	N       int64            `json:"n"`
	Section review.SectionID `json:"s,omitempty"`
	Seps    []string         `json:"seps,omitempty"`
	Channel string           `json:"ch,omitempty"` // where to confirm
}

func (m viewMeta) String() string {
	raw, _ := json.Marshal(m)
	return string(raw)
}

func (b *Bot) openAccountModal(ctx context.Context, triggerID string, n int64, userID, channelID string) {
	var prev review.Account
	title := ""
	if rec, ok, err := b.reviews.Record(ctx, n); err == nil && ok {
		title = rec.Title
		for _, a := range rec.Accounts {
			if a.User == userID {
				prev = a
			}
		}
	}
	b.openModal(ctx, triggerID, accountModal(n, title, prev, channelID))
}

func (b *Bot) openEditModal(ctx context.Context, triggerID string, n int64, id review.SectionID, channelID string) {
	rec, ok, err := b.reviews.Record(ctx, n)
	if err != nil || !ok {
		b.log.Warn("no review to edit", "incident", n, "err", err)
		return
	}
	b.openModal(ctx, triggerID, editModal(rec, id, b.rd.Prompt(id), channelID))
}

// saveSection stores an edited section and confirms in the channel with
// the language check of the new text.
func (b *Bot) saveSection(ctx context.Context, j desk.Job, cb slack.InteractionCallback) error {
	var m viewMeta
	if err := json.Unmarshal([]byte(cb.View.PrivateMetadata), &m); err != nil || m.N <= 0 {
		return desk.Permanent(fmt.Errorf("review edit without metadata"))
	}
	to := replyTo{channel: m.Channel, user: cb.User.ID, key: j.ID}
	text := joinParts(viewParts(cb.View.State), m.Seps)
	saved, err := b.editReview(ctx, m.N, func(rec *reviewstore.Record, exists bool) error {
		if rec.HasApplied(j.ID) {
			return reviewstore.ErrNoChange
		}
		if rec.Published() {
			return incident.Errorf(incident.ECONFLICT, "The review of #%d is published: it can no longer be edited.", m.N)
		}
		if err := rec.SetSection(m.Section, text); err != nil {
			return err
		}
		rec.MarkApplied(j.ID)
		return nil
	})
	if err != nil {
		return b.outcome(ctx, to, err, "")
	}
	info, _ := review.Section(m.Section)
	msg := fmt.Sprintf("✅ Saved *%s* of the review of #%d (%d characters).", info.Title, m.N, len([]rune(strings.TrimSpace(text))))
	if fs := checkText(saved, text); len(fs) > 0 {
		msg += "\n" + findingLines(nil, fs, 10)
	}
	return b.reply(ctx, to, msg)
}

// saveAccount stores a responder's account and thanks them.
func (b *Bot) saveAccount(ctx context.Context, j desk.Job, cb slack.InteractionCallback) error {
	var m viewMeta
	if err := json.Unmarshal([]byte(cb.View.PrivateMetadata), &m); err != nil || m.N <= 0 {
		return desk.Permanent(fmt.Errorf("review account without metadata"))
	}
	st := cb.View.State
	a := review.Account{
		User:         cb.User.ID,
		Saw:          strings.TrimSpace(stateValue(st, "saw", "text").Value),
		Did:          strings.TrimSpace(stateValue(st, "did", "text").Value),
		Surprised:    strings.TrimSpace(stateValue(st, "surprised", "text").Value),
		HarderEasier: strings.TrimSpace(stateValue(st, "harder_easier", "text").Value),
		At:           b.now(),
	}
	v, err := b.load(ctx, m.N)
	if err != nil {
		return err
	}
	saved, err := b.editReview(ctx, m.N, func(rec *reviewstore.Record, exists bool) error {
		if rec.HasApplied(j.ID) {
			return reviewstore.ErrNoChange
		}
		if rec.Published() {
			return incident.Errorf(incident.ECONFLICT, "The review of #%d is already published: it no longer takes accounts.", m.N)
		}
		if !exists || rec.Status == incident.ReviewNone {
			stub(rec, v)
		}
		if err := rec.SetAccount(a); err != nil {
			return err
		}
		rec.MarkApplied(j.ID)
		return nil
	})
	to := replyTo{channel: m.Channel, user: cb.User.ID, key: j.ID}
	if err != nil {
		return b.outcome(ctx, to, err, "")
	}
	if m.Channel == "" {
		return nil
	}
	text := fmt.Sprintf("🙏 Thank you: your account is in the review of *#%d %s*. You can change it with the same button until the review is published.", m.N, esc(v.inc.Title))
	if fs := checkText(saved, a.Saw+"\n"+a.Did+"\n"+a.Surprised+"\n"+a.HarderEasier); len(fs) > 0 {
		text += "\n" + findingLines(nil, fs, 5)
	}
	if _, inIncident, err := b.incidentOfChannel(ctx, m.Channel); err != nil {
		return err
	} else if inIncident {
		return b.reply(ctx, to, text) // given from /incident review: privately
	}
	_, err = b.postOnce(ctx, "review-account/"+j.ID, m.Channel, text, nil)
	return err
}

// stub fills a record that holds no draft yet (actions or accounts given
// before the incident was resolved) with the incident's header.
func stub(rec *reviewstore.Record, v view) {
	rec.Number, rec.Title, rec.Service, rec.Team = v.inc.Number, v.inc.Title, v.inc.Service.Name, v.inc.Service.Team
	rec.Domain, rec.Class, rec.StartedAt = v.inc.Service.Domain, v.st.Class, v.inc.StartedAt
	rec.Private = rec.Private || v.st.Security
}

// editReview changes an incident's review records, through the desk, in
// one transaction.
func (b *Bot) editReview(ctx context.Context, n int64, fn func(*reviewstore.Record, bool) error) (*reviewstore.Record, error) {
	var rec *reviewstore.Record
	_, err := b.desk.Review(ctx, n, desk.Op{}, func(inc *incident.Incident, _ incident.State, recs desk.Records, _ time.Time) ([]incident.Event, error) {
		var err error
		rec, err = reviewstore.Edit(recs, n, fn)
		return nil, err
	})
	return rec, err
}

// --- improvement actions --------------------------------------------------------

// addAction defines an improvement action from `/incident action <text…>
// [@owner]`: the owner is the trailing mention, else the person typing. The
// action and its timeline event are one transaction; its message in the
// channel is a planned job.
func (b *Bot) addAction(ctx context.Context, j desk.Job, actor, rest string, to replyTo) error {
	n := j.Incident
	text, owner := splitOwner(rest, actor)
	if text == "" {
		return b.reply(ctx, to, incident.ErrorMessage(usage("`/incident action <text…> [@owner]` needs a description of the action.")))
	}
	var added review.Action
	var edited *reviewstore.Record
	owners := b.names(ctx, []string{owner})
	_, err := b.desk.Review(ctx, n, desk.Op{Actor: actor, Idem: j.ID}, func(inc *incident.Incident, st incident.State, recs desk.Records, now time.Time) ([]incident.Event, error) {
		var err error
		edited, err = reviewstore.Edit(recs, n, func(rec *reviewstore.Record, exists bool) error {
			if !exists || rec.Status == incident.ReviewNone {
				stub(rec, view{inc: inc, st: st, cat: b.cat, now: now})
			}
			a, err := rec.AddAction(text, owner, now)
			added = a
			setNames(&rec.Review, owners)
			return err
		})
		if err != nil {
			return nil, err
		}
		return inc.Record(b.cat.Policy, now, incident.Event{Kind: incident.EventActionAdded, Actor: actor, User: owner, Key: added.ID, Text: added.Text, Idem: j.ID})
	})
	if err != nil || added.ID == "" {
		return b.outcome(ctx, to, err, "")
	}
	if fs := checkText(edited, added.Text); len(fs) > 0 {
		return b.reply(ctx, to, "Improvement action *"+added.ID+"* is defined.\n"+findingLines(nil, fs, 5))
	}
	return nil
}

// actionPosted posts a new improvement action in its incident's channel,
// once, with its Done button.
func (b *Bot) actionPosted(ctx context.Context, j desk.Job) error {
	e, rec, a, ok, err := b.actionOfJob(ctx, j)
	if err != nil || !ok {
		return err
	}
	cs, ok, err := b.channelOf(ctx, j.Incident)
	if err != nil || !ok || cs.ID == "" {
		return err
	}
	msg, blocks := actionBlocks(a, rec.Title)
	_, err = b.postOnce(ctx, "review-action/"+e.Key, cs.ID, msg, blocks)
	return err
}

// actionOfJob finds the action event a job was planned for, and the
// action as it is now.
func (b *Bot) actionOfJob(ctx context.Context, j desk.Job) (incident.Event, *reviewstore.Record, review.Action, bool, error) {
	inc, err := b.desk.Get(ctx, j.Incident)
	if err != nil {
		return incident.Event{}, nil, review.Action{}, false, err
	}
	e, err := b.eventOfJob(inc, j)
	if err != nil {
		return e, nil, review.Action{}, false, err
	}
	rec, ok, err := b.reviews.Record(ctx, j.Incident)
	if err != nil || !ok {
		return e, nil, review.Action{}, false, err
	}
	for _, a := range rec.Actions {
		if a.ID == e.Key {
			return e, rec, a, true, nil
		}
	}
	return e, rec, review.Action{}, false, nil
}

// splitOwner takes a trailing mention off an action's text.
func splitOwner(rest, actor string) (text, owner string) {
	rest = strings.TrimSpace(rest)
	f := strings.Fields(rest)
	if len(f) == 0 {
		return "", actor
	}
	if u, ok := parseMention(f[len(f)-1]); ok {
		return strings.TrimSpace(strings.TrimSuffix(rest, f[len(f)-1])), u
	}
	return rest, actor
}

// actionNumber is the incident an action ID ("42-1") belongs to.
func actionNumber(id string) (int64, bool) {
	ns, _, ok := strings.Cut(id, "-")
	n, err := strconv.ParseInt(ns, 10, 64)
	return n, ok && err == nil && n > 0
}

// completeAction marks an action done from its Done button: only its
// owner, the commander, incident managers and the owning team may. The
// change and its timeline event are one transaction; the channel message
// and App Homes are refreshed by planned jobs.
func (b *Bot) completeAction(ctx context.Context, j desk.Job, cb slack.InteractionCallback, id string, to replyTo) error {
	n, ok := actionNumber(id)
	if !ok {
		return nil
	}
	user := cb.User.ID
	var act review.Action
	already := false
	_, err := b.desk.Review(ctx, n, desk.Op{Actor: user, Idem: j.ID}, func(inc *incident.Incident, st incident.State, recs desk.Records, now time.Time) ([]incident.Event, error) {
		_, err := reviewstore.Edit(recs, n, func(rec *reviewstore.Record, _ bool) error {
			for _, a := range rec.Actions {
				if a.ID == id {
					act = a
				}
			}
			switch {
			case act.ID == "":
				return incident.Errorf(incident.ENOTFOUND, "There is no improvement action %s.", esc(id))
			case user != act.Owner && !b.desk.CanManage(inc, st, user):
				return incident.Errorf(incident.EFORBIDDEN, "Only the action's owner, the commander, incident managers and the owning team can mark it done.")
			case act.Done():
				already = true
				return reviewstore.ErrNoChange
			}
			if err := rec.CompleteAction(id, now); err != nil {
				return err
			}
			for _, a := range rec.Actions {
				if a.ID == id {
					act = a
				}
			}
			return nil
		})
		if err != nil || already {
			return nil, err
		}
		return inc.Record(b.cat.Policy, now, incident.Event{Kind: incident.EventActionDone, Actor: user, User: act.Owner, Key: id, Idem: j.ID})
	})
	if err != nil || act.ID == "" {
		return b.outcome(ctx, to, err, "")
	}
	if already {
		return b.reply(ctx, to, "Improvement action *"+esc(id)+"* was already done.")
	}
	lt, _ := act.LeadTime()
	return b.reply(ctx, to, fmt.Sprintf("✅ Improvement action *%s* is done, %s after it was defined.", esc(id), daysText(lt)))
}

// actionDone shows an action's message in the incident channel as done.
func (b *Bot) actionDone(ctx context.Context, j desk.Job) error {
	e, rec, a, ok, err := b.actionOfJob(ctx, j)
	if err != nil || !ok {
		return err
	}
	return b.refreshActionMessage(ctx, j.Incident, a, rec.Title, e.Actor)
}

// refreshActionMessage shows an action's message in the incident channel
// as done (its ts was kept by postOnce).
func (b *Bot) refreshActionMessage(ctx context.Context, n int64, a review.Action, title, by string) error {
	raw, ok, err := b.store.GetKV(ctx, bucketPosts, "review-action/"+a.ID)
	if err != nil || !ok || len(raw) <= 1 {
		return err
	}
	cs, ok, err := b.channelOf(ctx, n)
	if err != nil || !ok || cs.ID == "" {
		return err
	}
	text, blocks := actionDoneBlocks(a, title, by)
	_, _, _, err = b.api.UpdateMessageContext(ctx, cs.ID, string(raw), slack.MsgOptionText(text, false), slack.MsgOptionBlocks(withBlockID(blocks, "ib:review-action/"+a.ID)...))
	switch slackErr(err) {
	case "":
		return err
	case "message_not_found", "cant_update_message", "edit_window_closed", "channel_not_found", "is_archived":
		b.log.Warn("could not show the action as done", "action", a.ID, "err", err)
		return nil
	}
	return err
}

// replyActions lists every open improvement action in the organisation,
// oldest first, with its age, and the lead time and frequency of the last
// 30 days.
func (b *Bot) replyActions(ctx context.Context, to replyTo) error {
	recs, err := b.reviews.Records(ctx)
	if err != nil {
		return err
	}
	now := b.now()
	m, err := b.reviews.Measures(ctx, b.desk, b.cat.Policy, 30*24*time.Hour, "", now)
	if err != nil {
		return err
	}
	return b.reply(ctx, to, actionsText(recs, now, b.cat.IsIncidentManager(to.user), m))
}

// --- measures -------------------------------------------------------------------

// replyStats answers /incident stats [period] [service].
func (b *Bot) replyStats(ctx context.Context, to replyTo, args []string) error {
	period := 30 * 24 * time.Hour
	service := ""
	for _, a := range args {
		if d, err := reviewstore.ParsePeriod(a); err == nil {
			period = d
			continue
		}
		s, ok := b.cat.Service(a)
		if !ok {
			if len(a) > 0 && a[0] >= '0' && a[0] <= '9' {
				return b.reply(ctx, to, "⚠️ A period is a number of days, weeks or hours, like `30d`, `2w` or `12h`, or `all`.\n\n"+Usage)
			}
			return b.reply(ctx, to, fmt.Sprintf("⚠️ There is no service called %q. Try `/incident services`.", esc(clip(a, 60))))
		}
		service = s.Name
	}
	now := b.now()
	m, err := b.reviews.Measures(ctx, b.desk, b.cat.Policy, period, service, now)
	if err != nil {
		return err
	}
	private, err := b.privateReviews(ctx)
	if err != nil {
		return err
	}
	return b.reply(ctx, to, statsText(m, periodWords(period), b.cat.Currency, private))
}

func (b *Bot) privateReviews(ctx context.Context) (map[int64]bool, error) {
	recs, err := b.reviews.Records(ctx)
	if err != nil {
		return nil, err
	}
	out := map[int64]bool{}
	for _, r := range recs {
		if r.Private {
			out[r.Number] = true
		}
	}
	return out, nil
}

// reviewHome returns the App Home blocks for a user's open actions and the
// 30-day measures.
func (b *Bot) reviewHome(ctx context.Context, userID string) []slack.Block {
	blocks := []slack.Block{slack.NewHeaderBlock(plain("Your improvement actions"))}
	recs, err := b.reviews.Records(ctx)
	if err != nil {
		b.log.Warn("home: could not read improvement actions", "err", err)
		return append(blocks, slack.NewContextBlock("", mrkdwn("Your improvement actions could not be loaded just now.")))
	}
	now := b.now()
	var mine []homeAction
	for _, r := range recs {
		for _, a := range r.Actions {
			if a.Owner == userID && !a.Done() {
				mine = append(mine, homeAction{a, r.Title})
			}
		}
	}
	sort.SliceStable(mine, func(i, j int) bool { return mine[i].CreatedAt.Before(mine[j].CreatedAt) })
	blocks = append(blocks, homeActionBlocks(mine, now)...)
	blocks = append(blocks, slack.NewHeaderBlock(plain("Last 30 days")))
	m, err := b.reviews.Measures(ctx, b.desk, b.cat.Policy, 30*24*time.Hour, "", now)
	if err != nil {
		b.log.Warn("home: could not compute measures", "err", err)
		return append(blocks, slack.NewContextBlock("", mrkdwn("The measures could not be computed just now.")))
	}
	return append(blocks, slack.NewSectionBlock(mrkdwn(homeMeasuresText(m, b.cat.Currency)), nil, nil),
		slack.NewContextBlock("", mrkdwn("More with `/incident stats [30d] [service]` and `/incident actions`.")))
}

type homeAction struct {
	review.Action
	title string
}
