package bot

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/slack-go/slack"

	"github.com/incidentbot/incidentbot/incident"
	"github.com/incidentbot/incidentbot/review"
	"github.com/incidentbot/incidentbot/review/reviewstore"
)

// maxInput is Slack's max_length for a plain_text_input (and the longest
// initial_value it accepts), in characters as Slack counts them (UTF-16).
const maxInput = 3000

func pluralWord(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func pluralCount(n int, one, many string) string { return review.Plural(n, one, many) }

// daysText writes a duration in days with one decimal: "2.5 days".
func daysText(d time.Duration) string {
	v := review.Days(d)
	s := strconv.FormatFloat(math.Round(v*10)/10, 'f', 1, 64)
	if s == "1.0" {
		return "1.0 day"
	}
	return s + " days"
}

// periodWords names a measuring period for people.
func periodWords(d time.Duration) string {
	switch {
	case d <= 0:
		return "all time"
	case d%(24*time.Hour) == 0:
		n := int(d / (24 * time.Hour))
		if n == 1 {
			return "last day"
		}
		return "last " + strconv.Itoa(n) + " days"
	default:
		n := int(d / time.Hour)
		if n == 1 {
			return "last hour"
		}
		return "last " + strconv.Itoa(n) + " hours"
	}
}

// --- the review's state (/incident review) -------------------------------------

// reviewStateBlocks shows each section's state (edited, drafted or empty,
// with its language warnings) with an Edit button, and the preview link.
func (b *Bot) reviewStateBlocks(ctx context.Context, rec *reviewstore.Record, note string) (string, []slack.Block) {
	r := &rec.Review
	findings := review.CheckReview(r)
	bySection := map[review.SectionID]int{}
	for _, f := range findings {
		bySection[f.Section]++
	}
	status := "Draft"
	if r.Published() {
		status = "Published " + r.PublishedAt.UTC().Format("2 Jan 2006")
	}
	if r.Private {
		status = "🔒 " + status + " · private: not listed on the review site"
	}
	head := fmt.Sprintf("Review of #%d %s", r.Number, r.Title)
	blocks := []slack.Block{slack.NewHeaderBlock(plain(head))}
	var ctxLines []string
	ctxLines = append(ctxLines, status)
	if u, ok := b.previewURL(ctx, rec); ok {
		label := "Preview"
		if r.Published() {
			label = "Read it"
		}
		ctxLines = append(ctxLines, link(u, label))
	}
	if note != "" {
		ctxLines = append(ctxLines, esc(note))
	}
	blocks = append(blocks, slack.NewContextBlock("", mrkdwn(strings.Join(ctxLines, " · "))))
	for _, s := range review.Sections() {
		warn := ""
		if k := bySection[s.ID]; k > 0 {
			warn = fmt.Sprintf(" · ⚠️ %s", pluralCount(k, "language warning", "language warnings"))
		}
		var line string
		var acc *slack.Accessory
		switch s.ID {
		case review.SectionAccounts:
			given := 0
			for _, a := range r.Accounts {
				if strings.TrimSpace(a.Saw+a.Did+a.Surprised+a.HarderEasier) != "" {
					given++
				}
			}
			line = fmt.Sprintf("*%s* — %d of %s gave their account%s", s.Title, given, pluralCount(len(r.Participants), "responder", "responders"), warn)
			if !r.Published() {
				acc = slack.NewAccessory(slack.NewButtonBlockElement(ActReviewAccount, itoa(r.Number), plain("Add my account")))
			}
		case review.SectionActions:
			open := 0
			for _, a := range r.Actions {
				if !a.Done() {
					open++
				}
			}
			line = fmt.Sprintf("*%s* — %s, %d open · add with %s%s", s.Title, pluralCount(len(r.Actions), "action", "actions"), open, actionUsage, warn)
		default:
			state := "drafted"
			switch {
			case strings.TrimSpace(r.Sections[s.ID]) == "":
				state = "_empty_"
			case r.Edited(s.ID):
				state = "edited"
			}
			line = fmt.Sprintf("*%s* — %s%s", s.Title, state, warn)
			if !r.Published() {
				acc = slack.NewAccessory(slack.NewButtonBlockElement(ActReviewEdit, itoa(r.Number)+":"+string(s.ID), plain("Edit")))
			}
		}
		blocks = append(blocks, slack.NewSectionBlock(mrkdwn(line), nil, acc))
	}
	var foot []string
	if len(findings) > 0 {
		foot = append(foot, fmt.Sprintf("⚠️ The blameless language check has %s; `/incident publish` lists them with kinder wordings.", pluralCount(len(findings), "finding", "findings")))
	}
	if !r.Published() {
		foot = append(foot, "Publish with `/incident publish` (the commander, incident managers or the owning team).")
	}
	if len(foot) > 0 {
		blocks = append(blocks, slack.NewContextBlock("", mrkdwn(strings.Join(foot, "\n"))))
	}
	text := fmt.Sprintf("Review of #%d %s: %s", r.Number, esc(r.Title), status)
	return text, blocks
}

// findingLines lists language findings with their kinder wordings.
func findingLines(r *review.Review, fs []review.Finding, max int) string {
	var lines []string
	for i, f := range fs {
		if i == max {
			lines = append(lines, fmt.Sprintf("…and %d more.", len(fs)-max))
			break
		}
		where := ""
		if f.Section != "" {
			info, _ := review.Section(f.Section)
			where = info.Title
			if f.Field != "" {
				field := f.Field
				if r != nil && f.Section == review.SectionAccounts {
					if u, what, ok := strings.Cut(field, " "); ok {
						field = r.Name(u) + ": " + what
					}
				}
				where += " (" + field + ")"
			}
			where = "*" + esc(where) + "*: "
		}
		lines = append(lines, fmt.Sprintf("• %s“%s” → %s", where, esc(clip(f.Phrase, 80)), esc(f.Suggestion)))
	}
	return strings.Join(lines, "\n")
}

// publishCheckBlocks lists what stands between the review and publishing:
// language findings (with kinder wordings) and the privacy of a security
// incident, with a Confirm button.
func publishCheckBlocks(rec *reviewstore.Record, fs []review.Finding) (string, []slack.Block) {
	r := &rec.Review
	var parts []string
	if len(fs) > 0 {
		parts = append(parts, fmt.Sprintf("⚠️ The blameless language check found %s in the review of #%d. Consider kinder wordings:\n%s",
			pluralCount(len(fs), "phrase", "phrases"), r.Number, findingLines(r, fs, 15)))
	}
	if r.Private {
		parts = append(parts, "🔒 This is a security incident: its review stays private (not listed on the review site, readable only through the link in this channel).")
	}
	if miss := r.Missing(); len(miss) > 0 {
		var names []string
		for _, id := range miss {
			info, _ := review.Section(id)
			names = append(names, info.Title)
		}
		parts = append(parts, "Still empty: "+esc(strings.Join(names, ", "))+".")
	}
	parts = append(parts, "Edit with `/incident review`, or publish as it is with `/incident publish confirm` or the button.")
	text := strings.Join(parts, "\n\n")
	blocks := []slack.Block{
		slack.NewSectionBlock(mrkdwn(clip(text, 3000)), nil, nil),
		slack.NewActionBlock("review_publish",
			slack.NewButtonBlockElement(ActReviewPublish, itoa(r.Number), plain("Publish anyway")).WithStyle(slack.StylePrimary)),
	}
	return clip(text, 3000), blocks
}

// --- accounts -----------------------------------------------------------------

// accountAskBlocks is the DM asking a participant for their account.
func accountAskBlocks(v view) (string, []slack.Block) {
	text := fmt.Sprintf("📝 Incident *#%d %s* is resolved and its blameless review is being drafted. Would you add your own account: what you saw, what you did, what surprised you, and what made it harder or easier? Your words go into the review as you write them.",
		v.inc.Number, esc(v.inc.Title))
	return text, []slack.Block{
		slack.NewSectionBlock(mrkdwn(text), nil, nil),
		slack.NewActionBlock("review_account",
			slack.NewButtonBlockElement(ActReviewAccount, itoa(v.inc.Number), plain("Add my account")).WithStyle(slack.StylePrimary)),
	}
}

func textInput(hint, initial string) *slack.PlainTextInputBlockElement {
	in := slack.NewPlainTextInputBlockElement(plain(hint), "text")
	in.Multiline = true
	in.MaxLength = maxInput
	in.InitialValue = clipUTF16(initial, maxInput)
	return in
}

// accountModal asks for a responder's account, prefilled with the one
// they gave before.
func accountModal(n int64, title string, prev review.Account, channelID string) slack.ModalViewRequest {
	q := []struct{ id, label, hint, val string }{
		{"saw", "What did you see?", "Alerts, dashboards, messages, customer reports…", prev.Saw},
		{"did", "What did you do?", "And why it made sense at the time", prev.Did},
		{"surprised", "What surprised you?", "Anything that behaved differently from what you expected", prev.Surprised},
		{"harder_easier", "What made it harder or easier?", "Tools, runbooks, people, timing…", prev.HarderEasier},
	}
	intro := fmt.Sprintf("Your own account of incident *#%d %s*, in your words. It goes into the blameless review as you write it; answer what you like.", n, esc(title))
	blocks := []slack.Block{slack.NewSectionBlock(mrkdwn(intro), nil, nil)}
	for _, x := range q {
		blocks = append(blocks, slack.NewInputBlock(x.id, plain(x.label), nil, textInput(x.hint, x.val)).WithOptional(true))
	}
	return slack.ModalViewRequest{
		Type: slack.VTModal, CallbackID: ViewReviewAccount,
		PrivateMetadata: viewMeta{N: n, Channel: channelID}.String(),
		Title:           plain("Your account"), Submit: plain("Save"), Close: plain("Cancel"),
		Blocks: slack.Blocks{BlockSet: blocks},
	}
}

// --- editing a section -----------------------------------------------------------

// checkText is the blameless language check of text written for rec's
// review, which knows its people's names (nil: no names).
func checkText(rec *reviewstore.Record, text string) []review.Finding {
	if rec == nil {
		return review.Check(text)
	}
	return rec.Review.Check(text)
}

func partBlock(i int) string { return "part_" + strconv.Itoa(i) }

// editModal holds a section's Markdown. Slack caps an input at 3,000
// characters, so a longer section is split across several inputs (parts
// 1…k, cut at line breaks or spaces where possible, the cuts remembered in
// the metadata) and joined again on submit; a section close to the limit
// gets one more empty part to grow into.
func editModal(rec *reviewstore.Record, id review.SectionID, prompt, channelID string) slack.ModalViewRequest {
	info, _ := review.Section(id)
	r := &rec.Review
	if r.Published() || info.Derived {
		msg := fmt.Sprintf("The review of #%d is published: it can no longer be edited.", r.Number)
		if info.Derived {
			msg = fmt.Sprintf("*%s* is built from the responders' accounts and the improvement actions; it is not edited as text.", info.Title)
		}
		return slack.ModalViewRequest{
			Type: slack.VTModal, Title: plain("Review section"), Close: plain("Close"),
			Blocks: slack.Blocks{BlockSet: []slack.Block{slack.NewSectionBlock(mrkdwn(msg), nil, nil)}},
		}
	}
	text := r.Sections[id]
	parts, seps := splitParts(text, maxInput)
	if last := parts[len(parts)-1]; utf16Len(last) > maxInput*2/3 {
		parts = append(parts, "")
	}
	intro := fmt.Sprintf("*%s* of the review of #%d %s. Markdown works: **bold**, _italics_, lists, links.", info.Title, r.Number, esc(r.Title))
	if len(parts) > 1 {
		intro += fmt.Sprintf(" The section is in %d parts (Slack holds up to 3,000 characters per box); they are joined when you save.", len(parts))
	}
	blocks := []slack.Block{slack.NewSectionBlock(mrkdwn(intro), nil, nil)}
	if prompt != "" && strings.TrimSpace(text) == "" {
		blocks = append(blocks, slack.NewContextBlock("", mrkdwn(esc(clip(prompt, 2900)))))
	}
	for i, p := range parts {
		label := info.Title
		if len(parts) > 1 {
			label = fmt.Sprintf("%s, part %d of %d", info.Title, i+1, len(parts))
			if i >= len(seps)+1 {
				label = fmt.Sprintf("%s, part %d (room to continue)", info.Title, i+1)
			}
		}
		hint := "Write here"
		if prompt != "" {
			hint = prompt
		}
		in := slack.NewPlainTextInputBlockElement(plain(hint), "text")
		in.Multiline = true
		in.MaxLength = maxInput
		in.InitialValue = p
		blocks = append(blocks, slack.NewInputBlock(partBlock(i+1), plain(label), nil, in).WithOptional(true))
	}
	if fs := checkText(rec, text); len(fs) > 0 {
		blocks = append(blocks, slack.NewContextBlock("", mrkdwn("⚠️ Blameless language check:\n"+clip(findingLines(nil, fs, 8), 2900))))
	}
	return slack.ModalViewRequest{
		Type: slack.VTModal, CallbackID: ViewReviewEdit,
		PrivateMetadata: viewMeta{N: r.Number, Section: id, Seps: seps, Channel: channelID}.String(),
		Title:           plain("Edit the review"), Submit: plain("Save"), Close: plain("Cancel"),
		Blocks: slack.Blocks{BlockSet: blocks},
	}
}

// viewParts reads the parts of an edit modal's submission, in order.
func viewParts(st *slack.ViewState) []string {
	if st == nil {
		return nil
	}
	var out []string
	for i := 1; ; i++ {
		blk, ok := st.Values[partBlock(i)]
		if !ok {
			return out
		}
		out = append(out, blk["text"].Value)
	}
}

func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}

// clipUTF16 cuts s to at most max UTF-16 units, on a rune boundary.
func clipUTF16(s string, max int) string {
	n := 0
	for i, r := range s {
		n += utf16.RuneLen(r)
		if n > max {
			return s[:i]
		}
	}
	return s
}

// splitParts cuts text into parts of at most max characters (UTF-16 units,
// as Slack counts), preferring to cut at a run of line breaks, else at a
// space, else anywhere. seps[i] is what was cut out between parts i and
// i+1, so joinParts(parts, seps) == text.
func splitParts(text string, max int) (parts, seps []string) {
	for utf16Len(text) > max {
		// window is the longest prefix within max.
		window := clipUTF16(text, max)
		cut, end := -1, -1
		if i := strings.LastIndexByte(window, '\n'); i >= len(window)/2 {
			// Cut before the whole run of line breaks around i.
			start := i
			for start > 0 && (text[start-1] == '\n' || text[start-1] == '\r') {
				start--
			}
			stop := i + 1
			for stop < len(text) && (text[stop] == '\n' || text[stop] == '\r') {
				stop++
			}
			if start > 0 {
				cut, end = start, stop
			}
		}
		if cut < 0 {
			if i := strings.LastIndexByte(window, ' '); i >= len(window)/2 && i > 0 {
				cut, end = i, i+1
			}
		}
		if cut < 0 {
			cut, end = len(window), len(window)
		}
		parts = append(parts, text[:cut])
		seps = append(seps, text[cut:end])
		text = text[end:]
	}
	return append(parts, text), seps
}

// joinParts joins the parts of an edit modal: between two parts goes what
// was cut out there, or a line break after the parts the modal added.
// Empty parts are dropped.
func joinParts(parts, seps []string) string {
	var b strings.Builder
	pending := ""
	for i, p := range parts {
		if p == "" {
			// An emptied part: keep the stronger of the cuts around it,
			// so that paragraphs stay apart.
			if i < len(seps) && strings.Contains(seps[i], "\n") && !strings.Contains(pending, "\n") {
				pending = seps[i]
			}
			continue
		}
		if b.Len() > 0 {
			b.WriteString(pending)
		}
		b.WriteString(p)
		pending = "\n"
		if i < len(seps) {
			pending = seps[i]
		}
	}
	return b.String()
}

// --- improvement actions -----------------------------------------------------------

func actionLine(a review.Action, title string) string {
	owner := "nobody yet"
	if a.Owner != "" {
		owner = user(a.Owner)
	}
	return fmt.Sprintf("🛠️ Improvement action *%s* (#%d %s): %s\nOwner %s.", a.ID, a.Incident, esc(title), esc(a.Text), owner)
}

// actionBlocks is an action's message in the incident channel, with its
// Done button.
func actionBlocks(a review.Action, title string) (string, []slack.Block) {
	text := actionLine(a, title)
	return text, []slack.Block{
		slack.NewSectionBlock(mrkdwn(text), nil, nil),
		slack.NewActionBlock("review_action",
			slack.NewButtonBlockElement(ActReviewDone, a.ID, plain("Done")).WithStyle(slack.StylePrimary)),
	}
}

// actionDoneBlocks is the same message once the action is done.
func actionDoneBlocks(a review.Action, title, by string) (string, []slack.Block) {
	lt, _ := a.LeadTime()
	done := fmt.Sprintf("✅ Done %s by %s, %s after it was defined.", a.DoneAt.UTC().Format("2 Jan 2006"), user(by), daysText(lt))
	text := actionLine(a, title) + "\n" + done
	return text, []slack.Block{slack.NewSectionBlock(mrkdwn(text), nil, nil)}
}

// ageDays is how many whole days old an action is.
func ageDays(a review.Action, now time.Time) int {
	d := now.Sub(a.CreatedAt)
	if d < 0 {
		return 0
	}
	return int(d / (24 * time.Hour))
}

// actionsText lists every open action, oldest first, with its age; the
// actions of security incidents are shown without their text unless the
// reader is an incident manager.
func actionsText(recs []*reviewstore.Record, now time.Time, manager bool, m review.Measures) string {
	type item struct {
		a       review.Action
		title   string
		private bool
	}
	var open []item
	for _, r := range recs {
		for _, a := range r.Actions {
			if !a.Done() {
				open = append(open, item{a, r.Title, r.Private})
			}
		}
	}
	sort.SliceStable(open, func(i, j int) bool {
		if !open[i].a.CreatedAt.Equal(open[j].a.CreatedAt) {
			return open[i].a.CreatedAt.Before(open[j].a.CreatedAt)
		}
		return open[i].a.ID < open[j].a.ID
	})
	var b strings.Builder
	fmt.Fprintf(&b, "*Open improvement actions* (%d)\n", len(open))
	if len(open) == 0 {
		b.WriteString("None open. 🎉\n")
	}
	for i, it := range open {
		if i == 40 {
			fmt.Fprintf(&b, "…and %d more.\n", len(open)-i)
			break
		}
		a := it.a
		owner := "no owner"
		if a.Owner != "" {
			owner = "owner " + user(a.Owner)
		}
		age := pluralCount(ageDays(a, now), "day", "days") + " old"
		if it.private && !manager {
			fmt.Fprintf(&b, "• *%s* (#%d 🔒 security incident) — %s, %s\n", a.ID, a.Incident, owner, age)
			continue
		}
		svc := ""
		if a.Service != "" {
			svc = " `" + esc(a.Service) + "`"
		}
		fmt.Fprintf(&b, "• *%s* (#%d%s) %s — %s, %s\n", a.ID, a.Incident, svc, esc(clip(oneLine(a.Text), 200)), owner, age)
	}
	fmt.Fprintf(&b, "_Last 30 days: %s, %s done", pluralCount(m.ActionsDefined, "action defined", "actions defined"), strconv.Itoa(m.ActionsDone))
	if m.ActionsDone > 0 {
		fmt.Fprintf(&b, "; median lead time %s; %s done a week", daysText(m.MedianActionLeadTime), strconv.FormatFloat(m.ActionsPerWeek, 'f', 1, 64))
	}
	b.WriteString("._")
	return b.String()
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// homeActionBlocks lists a user's open actions with Done buttons.
func homeActionBlocks(mine []homeAction, now time.Time) []slack.Block {
	if len(mine) == 0 {
		return []slack.Block{slack.NewSectionBlock(mrkdwn("No open improvement actions. 🎉"), nil, nil)}
	}
	var out []slack.Block
	for i, a := range mine {
		if i == 15 {
			out = append(out, slack.NewContextBlock("", mrkdwn(fmt.Sprintf("…and %d more: `/incident actions`", len(mine)-i))))
			break
		}
		text := fmt.Sprintf("*%s* %s\n#%d %s · %s old", a.ID, esc(clip(oneLine(a.Text), 500)), a.Incident, esc(a.title), pluralCount(ageDays(a.Action, now), "day", "days"))
		out = append(out, slack.NewSectionBlock(mrkdwn(text), nil,
			slack.NewAccessory(slack.NewButtonBlockElement(ActReviewDone, a.ID, plain("Done")).WithStyle(slack.StylePrimary))))
	}
	return out
}

// --- measures -------------------------------------------------------------------

func ttrText(d time.Duration) string {
	return incident.FormatHMS(d) + " (" + incident.FormatShort(d) + ")"
}

func lossList(ls []incident.Money, names []string, counts []int, cur incident.Currency, code bool) string {
	var parts []string
	for i := range ls {
		n := esc(names[i])
		if code {
			n = "`" + n + "`"
		}
		parts = append(parts, fmt.Sprintf("%s %s (%d)", n, cur.Format(ls[i]), counts[i]))
	}
	return strings.Join(parts, " · ")
}

func losses(l []review.Loss, cur incident.Currency, code bool, max int) string {
	var ms []incident.Money
	var ns []string
	var cs []int
	for i, x := range l {
		if i == max {
			break
		}
		ms, ns, cs = append(ms, x.Loss), append(ns, x.Name), append(cs, x.Incidents)
	}
	s := lossList(ms, ns, cs, cur, code)
	if len(l) > max {
		s += fmt.Sprintf(" · …%d more", len(l)-max)
	}
	return s
}

// statsText is the /incident stats answer. Titles of private reviews are
// left out.
func statsText(m review.Measures, period string, cur incident.Currency, private map[int64]bool) string {
	var b strings.Builder
	scope := "all services"
	if m.Service != "" {
		scope = "`" + esc(m.Service) + "`"
	}
	fmt.Fprintf(&b, "*Measures, %s* (%s)", period, scope)
	if !m.From.IsZero() {
		fmt.Fprintf(&b, " · %s → %s", m.From.UTC().Format("2 Jan 2006"), m.To.UTC().Format("2 Jan 2006"))
	}
	b.WriteString("\n")
	fmt.Fprintf(&b, "• *Incidents:* %d — %d major, %d minor", m.Incidents, m.Majors, m.Minors)
	if m.Open > 0 {
		fmt.Fprintf(&b, "; %d still open", m.Open)
	}
	b.WriteString("\n")
	if m.Restored > 0 {
		fmt.Fprintf(&b, "• *Time to restore:* median %s, p90 %s (%s)\n", ttrText(m.MedianTimeToRestore), ttrText(m.P90TimeToRestore), pluralCount(m.Restored, "restored incident", "restored incidents"))
	} else {
		b.WriteString("• *Time to restore:* no incident restored in the period\n")
	}
	fmt.Fprintf(&b, "• *Loss:* %s in total\n", cur.Format(m.TotalLoss))
	if len(m.LossByService) > 0 {
		fmt.Fprintf(&b, "   by service: %s\n", losses(m.LossByService, cur, true, 10))
		fmt.Fprintf(&b, "   by team: %s\n", losses(m.LossByTeam, cur, false, 10))
	}
	if m.EffectivenessMeasured > 0 {
		fmt.Fprintf(&b, "• *Protection effectiveness:* %s — %s protected of %s at tolerable unavailability (%s)\n",
			m.EffectivenessText(), cur.Format(m.Protected), cur.Format(m.LossAtTolerable), pluralCount(m.EffectivenessMeasured, "incident", "incidents"))
	} else {
		b.WriteString("• *Protection effectiveness:* not measured (no restored incident with impact)\n")
	}
	fmt.Fprintf(&b, "• *Improvement actions:* %d defined, %d done, %d open", m.ActionsDefined, m.ActionsDone, m.ActionsOpen)
	if m.ActionsDone > 0 {
		fmt.Fprintf(&b, "; median lead time %s; %s done a week", daysText(m.MedianActionLeadTime), strconv.FormatFloat(m.ActionsPerWeek, 'f', 1, 64))
		if m.MeanTimeBetweenActions > 0 {
			fmt.Fprintf(&b, ", one every %s", daysText(m.MeanTimeBetweenActions))
		}
	}
	b.WriteString("\n")
	if len(m.Reviews) == 0 {
		b.WriteString("• *Review readers:* no review published in the period")
		return b.String()
	}
	fmt.Fprintf(&b, "• *Review readers:* %s of %s; %s\n", pluralCount(m.ReviewReaders, "read", "reads"), pluralCount(len(m.Reviews), "published review", "published reviews"), pluralCount(m.UniqueReaders, "unique reader", "unique readers"))
	for i, r := range m.Reviews {
		if i == 10 {
			fmt.Fprintf(&b, "   …and %d more\n", len(m.Reviews)-i)
			break
		}
		title := esc(r.Title)
		if private[r.Number] {
			title = "🔒 security incident"
		}
		fmt.Fprintf(&b, "   #%d %s — %s\n", r.Number, title, pluralCount(r.Readers, "reader", "readers"))
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// homeMeasuresText is the short form of the measures for App Home.
func homeMeasuresText(m review.Measures, cur incident.Currency) string {
	lines := []string{
		fmt.Sprintf("*%d* %s: *%d* major, *%d* minor · loss %s", m.Incidents, pluralWord(m.Incidents, "incident", "incidents"), m.Majors, m.Minors, cur.Format(m.TotalLoss)),
	}
	if m.Restored > 0 {
		lines = append(lines, fmt.Sprintf("Time to restore: median %s, p90 %s", incident.FormatShort(m.MedianTimeToRestore), incident.FormatShort(m.P90TimeToRestore)))
	}
	if m.EffectivenessMeasured > 0 {
		lines = append(lines, fmt.Sprintf("Protection effectiveness %s (%s protected)", m.EffectivenessText(), cur.Format(m.Protected)))
	}
	act := fmt.Sprintf("Improvement actions: %d defined, %d done, %d open", m.ActionsDefined, m.ActionsDone, m.ActionsOpen)
	if m.ActionsDone > 0 {
		act += ", median lead time " + daysText(m.MedianActionLeadTime)
	}
	lines = append(lines, act)
	lines = append(lines, fmt.Sprintf("Reviews published: %d, read by %s", len(m.Reviews), pluralCount(m.UniqueReaders, "person", "people")))
	return strings.Join(lines, "\n")
}
