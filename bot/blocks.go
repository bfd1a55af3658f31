package bot

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/incidentbot/incidentbot/incident"
)

// Action IDs of the buttons and inputs the bot renders.
const (
	ActTakeCommand    = "take_command"
	ActImpact         = "set_impact"
	ActNote           = "add_note"
	ActResolve        = "resolve"
	ActConfirmResolve = "confirm_resolve"
	ActAcknowledge    = "acknowledge"

	ViewDeclare = "declare"
	ViewNote    = "note"
	ViewResolve = "resolve"
)

func mrkdwn(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.MarkdownType, clip(s, 3000), false, false)
}

func plain(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.PlainTextType, clip(s, 150), false, false)
}

func user(id string) string {
	if id == "" {
		return "_nobody yet_"
	}
	if !strings.HasPrefix(id, "U") && !strings.HasPrefix(id, "W") {
		return esc(id)
	}
	return "<@" + id + ">"
}

// view bundles what rendering needs.
type view struct {
	inc *incident.Incident
	st  incident.State
	cat *incident.Catalogue
	now time.Time
	// budget is the service's weekly error budget (card and status only).
	budget *incident.Budget
}

func (v view) money(m incident.Money) string { return v.cat.Currency.Format(m) }

// classLine is the class with its response method while the incident is
// open; once resolved, the method no longer applies.
func (v view) classLine() string {
	if v.st.Status == incident.StatusResolved {
		return fmt.Sprintf("✅ *%s* — resolved", v.st.Class.Title())
	}
	icon := "🟡"
	if v.st.Class == incident.Major {
		icon = "🔴"
	}
	return fmt.Sprintf("%s *%s* — %s", icon, v.st.Class.Title(), v.st.Priority.ResponseMethod())
}

// namesService reports whether the title already names the service as a
// word ("High error rate on bedroom"), so that a message does not say it
// twice.
func namesService(title, service string) bool {
	if service == "" {
		return false
	}
	const edge = `[^\pL\pN_-]`
	re := regexp.MustCompile(`(?i)(?:^|` + edge + `)` + regexp.QuoteMeta(service) + `(?:$|` + edge + `)`)
	return re.MatchString(title)
}

// headline is "*#1 Title*", followed by the service unless the title names
// it: "*#1 Beds cannot be ordered* (`bedroom`)", "*#1 High error rate on
// bedroom*".
func (v view) headline() string {
	h := fmt.Sprintf("%s*#%d %s*", drillTag(v.inc), v.inc.Number, esc(v.inc.Title))
	if namesService(v.inc.Title, v.inc.Service.Name) {
		if more := v.moreServices(); more != "" {
			return h + " (" + strings.TrimPrefix(more, " ") + ")"
		}
		return h
	}
	return h + " (`" + esc(v.inc.Service.Name) + "`" + v.moreServices() + ")"
}

func (v view) serviceLine() string {
	s := v.inc.Service
	if v.inc.Unmapped {
		return "`" + esc(s.Name) + "` ⚠️ _unmapped: not in the service catalogue, so not priced_"
	}
	line := fmt.Sprintf("`%s` · team %s · target %s", esc(s.Name), esc(s.Team), v.st.Target)
	if p, ok := s.PeakAt(v.now); ok {
		line += fmt.Sprintf(" · 📈 peak *%s* in force: %s/h", esc(p.Name), v.money(p.HourlyExposure))
	}
	return line
}

// cardBlocks is the pinned incident card.
func cardBlocks(v view) []slack.Block {
	st := v.st
	title := fmt.Sprintf("#%d %s", v.inc.Number, v.inc.Title)
	if st.Security {
		title = "🔒 " + title
	}
	if v.inc.Drill {
		title = "🧪 DRILL · " + title
	}
	impactLabel := "*Impact*\n"
	if len(st.Services) > 1 {
		impactLabel = "*Impact (primary)*\n"
	}
	fields := []*slack.TextBlockObject{
		mrkdwn(impactLabel + esc(st.Impact.String())),
		mrkdwn("*Loss rate*\n" + v.money(st.Rate) + "/h"),
		mrkdwn("*Loss so far*\n" + v.money(st.LossSoFar)),
		mrkdwn("*Estimated loss*\n" + v.money(st.Estimated)),
		mrkdwn("*Commander*\n" + user(st.Commander)),
		mrkdwn("*Status*\n" + string(st.Status)),
	}
	blocks := []slack.Block{
		slack.NewHeaderBlock(plain(title)),
		slack.NewSectionBlock(mrkdwn(v.classLine()), nil, nil),
		slack.NewSectionBlock(mrkdwn(v.serviceLine()), nil, nil),
		slack.NewSectionBlock(nil, fields, nil),
	}
	if v.inc.Drill {
		blocks = append(blocks, slack.NewSectionBlock(mrkdwn(drillNotice), nil, nil))
	}
	if svc := v.servicesText(); svc != "" {
		blocks = append(blocks, slack.NewSectionBlock(mrkdwn(svc), nil, nil))
	}
	if sum := alertSummary(v); sum != "" {
		blocks = append(blocks, slack.NewSectionBlock(mrkdwn(sum), nil, nil))
	}
	if line := v.cardBudgetLine(); line != "" {
		blocks = append(blocks, slack.NewSectionBlock(mrkdwn(line), nil, nil))
	}
	var notes []string
	for _, e := range v.inc.Events {
		if e.Kind == incident.EventCalloutDeferred && st.Status == incident.StatusOpen && v.now.Before(e.Until) {
			notes = append(notes, fmt.Sprintf("⏰ Out of hours: the callout of %s is deferred to <!date^%d^{date_short_pretty} {time}|%s>.", esc(e.Text), e.Until.Unix(), e.Until.UTC().Format(time.RFC1123)))
		}
	}
	if st.Status == incident.StatusMerged {
		notes = append(notes, fmt.Sprintf("➡️ Merged into #%d: its loss and timeline are counted there.", st.MergedInto))
	}
	if st.Status == incident.StatusResolved {
		notes = append(notes, "Restored in "+incident.FormatShort(st.TimeToRestore)+".")
		if e := st.Effectiveness; e != nil && len(st.Services) > 1 {
			notes = append(notes, fmt.Sprintf("Protection effectiveness %s: %s protected against %s at each service's tolerable unavailability.", e.PercentText(), v.money(e.Protected), v.money(e.LossAtTolerable)))
		} else if e != nil {
			notes = append(notes, fmt.Sprintf("Protection effectiveness %s: %s protected against %s at tolerable unavailability (%s).", e.PercentText(), v.money(e.Protected), v.money(e.LossAtTolerable), incident.FormatHMS(e.TolerableUnavailability)))
		}
	}
	notes = append(notes, fmt.Sprintf("Estimate = loss so far + %s at the current rate + costs · updated <!date^%d^{time}|%s>", incident.FormatShort(v.cat.Horizon), v.now.Unix(), v.now.UTC().Format("15:04 UTC")))
	blocks = append(blocks, slack.NewContextBlock("", mrkdwn(strings.Join(notes, "\n"))))
	if st.Status == incident.StatusOpen {
		impact := slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, plain("Change impact"), ActImpact,
			slack.NewOptionBlockObject("blocked", plain("Blocked — journey impossible"), nil),
			slack.NewOptionBlockObject("degraded", plain("Degraded — journey degraded"), nil),
			slack.NewOptionBlockObject("partial", plain("Partial — some users affected"), nil),
		)
		elems := []slack.BlockElement{
			slack.NewButtonBlockElement(ActTakeCommand, "take", plain("Take command")),
			impact,
			slack.NewButtonBlockElement(ActNote, "note", plain("Add note")),
		}
		if pagedUnacknowledged(st) {
			elems = append(elems, slack.NewButtonBlockElement(ActAcknowledge, "ack", plain("Acknowledge")))
		}
		elems = append(elems, slack.NewButtonBlockElement(ActResolve, "resolve", plain("Resolve")).WithStyle(slack.StyleDanger))
		blocks = append(blocks, slack.NewActionBlock("card_actions", elems...))
	}
	return blocks
}

// maxCardAlerts is how many linked alerts the card lists by name.
const maxCardAlerts = 5

// alertSummary lists the linked alerts on the card: how many fire and how
// many are resolved, then the first few, firing first, each with its
// status, labels, times and fingerprint. A group without individual alerts
// (PagerDuty) counts as one alert.
func alertSummary(v view) string {
	firing, resolved := alertLines(v.st.Alerts)
	all := append(firing, resolved...)
	if len(all) == 0 {
		return ""
	}
	var counts []string
	if len(firing) > 0 {
		counts = append(counts, fmt.Sprintf("%d firing", len(firing)))
	}
	if len(resolved) > 0 {
		counts = append(counts, fmt.Sprintf("%d resolved", len(resolved)))
	}
	out := "🚨 *Alerts*: " + strings.Join(counts, ", ")
	for i, line := range all {
		if i == maxCardAlerts {
			return out + fmt.Sprintf("\n… and %d more", len(all)-i)
		}
		out += "\n" + line
	}
	return out
}

// alertLines renders each linked alert as a card line, firing and resolved
// apart.
func alertLines(groups []incident.AlertState) (firing, resolved []string) {
	add := func(on bool, line string) {
		if on {
			firing = append(firing, line)
		} else {
			resolved = append(resolved, line)
		}
	}
	for _, g := range groups {
		if len(g.Alerts) == 0 {
			add(g.Firing, alertLine(g.Firing, esc(clip(firstNonEmpty(g.Summary, g.Key), 100)), g.FiredAt, g.ClosedAt, ""))
		}
		for _, a := range g.Alerts {
			on := a.Status == incident.AlertFiring
			add(on, alertLine(on, alertLabels(a.Labels), a.StartsAt, a.EndsAt, a.Fingerprint))
		}
	}
	return firing, resolved
}

func alertLine(firing bool, what string, start, end time.Time, fp string) string {
	line := "• 🔴 firing "
	if !firing {
		line = "• 🟢 resolved "
	}
	line += what
	if !start.IsZero() {
		line += " · since " + slackTime(start)
	}
	if !firing && !end.IsZero() {
		line += " · ended " + slackTime(end)
	}
	if fp != "" {
		line += " · fp " + esc(clip(fp, 40))
	}
	return line
}

// alertLabels shows an alert's name and its other labels (but the service,
// which the card shows already), in name order, escaped and clipped.
func alertLabels(lb map[string]string) string {
	keys := make([]string, 0, len(lb))
	for k := range lb {
		if k != "alertname" && k != "service" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	parts := []string{"*" + esc(clip(firstNonEmpty(lb["alertname"], "alert"), 60)) + "*"}
	for i, k := range keys {
		if i == 3 {
			parts = append(parts, "…")
			break
		}
		parts = append(parts, esc(clip(k, 30))+"="+esc(clip(lb[k], 60)))
	}
	return strings.Join(parts, " ")
}

func slackTime(t time.Time) string {
	return fmt.Sprintf("<!date^%d^{date_short_pretty} {time}|%s>", t.Unix(), t.UTC().Format("2006-01-02 15:04 UTC"))
}

// pagedUnacknowledged reports whether a PagerDuty alert is firing and
// nobody has acknowledged the incident yet.
func pagedUnacknowledged(st incident.State) bool {
	if st.Acknowledged {
		return false
	}
	for _, a := range st.Alerts {
		if a.Firing && a.Source == incident.ActorPagerDuty {
			return true
		}
	}
	return false
}

// cardText is the notification fallback of the card.
func cardText(v view) string {
	return drillTag(v.inc) + fmt.Sprintf("#%d %s — %s, %s/h, estimated %s", v.inc.Number, esc(v.inc.Title), v.st.Class.Title(), v.money(v.st.Rate), v.money(v.st.Estimated))
}

// topic is the channel topic (Slack allows 250 characters). Every change
// posts "set the channel topic" into the channel, so it says only what
// people care about at a glance and what changes with their decisions:
// class, status, service, impact, commander. The running figures, which
// change every minute, are on the card.
func topic(v view) string {
	st := v.st
	head := "🟡 " + st.Class.Title() + " · open"
	if st.Class == incident.Major {
		head = "🔴 " + st.Class.Title() + " · open"
	}
	if st.Status == incident.StatusResolved {
		head = "✅ Resolved · " + st.Class.Title()
	}
	t := fmt.Sprintf("%s%s · %s · impact %s · commander %s", drillTopic(v.inc), head, esc(v.inc.Service.Name)+v.moreServices(), esc(st.Impact.String()), commanderName(st.Commander))
	return clip(t, 250)
}

func commanderName(u string) string {
	if u == "" {
		return "none"
	}
	return user(u)
}

// eventLine renders a timeline event as a channel message.
func eventLine(v view, e incident.Event) string {
	who := user(e.Actor)
	switch e.Actor {
	case incident.ActorSystem:
		who = "incidentbot"
	case incident.ActorAlertmanager:
		who = "Alertmanager"
	case incident.ActorPagerDuty:
		who = "PagerDuty"
	}
	fig := ""
	if f := e.Figures; f != nil {
		fig = fmt.Sprintf(" Loss rate %s/h, so far %s, estimated %s → *%s*.", v.money(f.Rate), v.money(f.LossSoFar), v.money(f.Estimated), f.Class.Title())
	}
	switch e.Kind {
	case incident.EventImpactChanged:
		if e.Service != "" && !strings.EqualFold(e.Service, v.inc.Service.Name) {
			return fmt.Sprintf("📉 %s set the impact of `%s` to *%s*.%s", who, esc(e.Service), esc(e.Impact.String()), fig)
		}
		return fmt.Sprintf("📉 %s set impact to *%s*.%s", who, esc(e.Impact.String()), fig)
	case incident.EventServiceAffected, incident.EventServiceUnaffected, incident.EventMerged, incident.EventPaged:
		return serviceEventLine(v, e, who, fig)
	case incident.EventCostAdded:
		return fmt.Sprintf("💸 %s added a cost of %s: %s.%s", who, v.money(e.Amount), esc(e.Text), fig)
	case incident.EventSecurity:
		return fmt.Sprintf("🔒 %s marked this a *security incident*: it is Major.", who)
	case incident.EventClassChanged:
		return fmt.Sprintf("🏷️ %s made this *%s*: %s", who, e.Class.Title(), esc(e.Text))
	case incident.EventCommander:
		return fmt.Sprintf("🎖️ %s is now the incident commander (%s).", user(e.User), esc(e.Text))
	case incident.EventNote:
		return fmt.Sprintf("📝 Note from %s: %s", who, esc(e.Text))
	case incident.EventUpdate:
		return fmt.Sprintf("📣 Stakeholder update from %s: %s", who, esc(e.Text))
	case incident.EventResolved:
		s := fmt.Sprintf("✅ %s resolved the incident after %s. Final loss %s.", who, incident.FormatShort(v.st.TimeToRestore), v.money(v.st.LossSoFar))
		if eff := v.st.Effectiveness; eff != nil {
			s += fmt.Sprintf(" Protection effectiveness %s (%s protected).", eff.PercentText(), v.money(eff.Protected))
		}
		if e.Text != "" {
			s += "\n>" + esc(e.Text)
		}
		return s
	case incident.EventReopened:
		return fmt.Sprintf("↩️ %s reopened the incident; the loss clock runs again.", who)
	case incident.EventCalledOut:
		var us []string
		for _, u := range e.Users {
			us = append(us, user(u))
		}
		return fmt.Sprintf("📟 Called out %s: %s.", esc(e.Text), strings.Join(us, ", "))
	case incident.EventAcknowledged:
		return fmt.Sprintf("👀 %s acknowledged.", who)
	case incident.EventAlertFired:
		return fmt.Sprintf("🚨 %s alert firing: %s", who, esc(clip(e.Text, 500)))
	case incident.EventAlertResolved:
		return fmt.Sprintf("🟢 %s alert resolved: %s", who, esc(clip(e.Key, 200)))
	}
	return fmt.Sprintf("%s: %s", e.Kind, esc(e.Text))
}

// announceText is the announce-channel post.
func announceText(v view, kind string, e incident.Event, channelID string) string {
	ch := "<#" + channelID + ">"
	if channelID == "" {
		ch = "its channel (`/incident list` finds it)"
	}
	if v.st.Security {
		switch kind {
		case "declared":
			return fmt.Sprintf("🔒 Security incident #%d declared. Details are with the incident managers.", v.inc.Number)
		case "resolved":
			return fmt.Sprintf("🔒 Security incident #%d resolved.", v.inc.Number)
		}
		return ""
	}
	head := v.headline()
	switch kind {
	case "declared":
		return fmt.Sprintf("🚨 %s declared — %s. Loss rate %s/h, estimated %s. Join %s.", head, v.classLine(), v.money(v.st.Rate), v.money(v.st.Estimated), ch)
	case "class":
		return fmt.Sprintf("🏷️ %s is now *%s*: %s %s", head, e.Class.Title(), classReason(v, e), ch)
	case "update":
		return fmt.Sprintf("📣 Update on %s from %s: %s", head, user(e.Actor), esc(e.Text))
	case "resolved":
		return fmt.Sprintf("✅ %s resolved after %s. Loss %s.", head, incident.FormatShort(v.st.TimeToRestore), v.money(v.st.LossSoFar))
	case "reopened":
		return fmt.Sprintf("↩️ %s was reopened. %s", head, ch)
	case "merged":
		return fmt.Sprintf("🔀 Incident #%d was merged into %s. Loss rate now %s/h across %d services, estimated %s. %s", e.Ref, head, v.money(v.st.Rate), len(serviceNames(v.st)), v.money(v.st.Estimated), ch)
	}
	return head
}

// classReason is why the class changed, with the estimate at that moment,
// stated once: an automatic upgrade's reason already gives it ("estimated
// loss $200,000 reached the high threshold $100,000").
func classReason(v view, e incident.Event) string {
	est := v.st.Estimated
	if e.Figures != nil {
		est = e.Figures.Estimated
	}
	reason := strings.TrimSuffix(strings.TrimSpace(esc(e.Text)), ".")
	if e.Actor == incident.ActorSystem && strings.Contains(e.Text, v.money(est)) {
		return reason + "."
	}
	if reason == "" {
		return fmt.Sprintf("estimated loss %s.", v.money(est))
	}
	return fmt.Sprintf("%s. Estimated loss %s.", reason, v.money(est))
}

// declareModal is the form behind a bare /incident.
func declareModal(cat *incident.Catalogue, channelID string) slack.ModalViewRequest {
	var opts []*slack.OptionBlockObject
	for _, s := range cat.Services {
		opts = append(opts, slack.NewOptionBlockObject(s.Name, plain(s.Name+" ("+cat.Currency.Format(s.HourlyExposure)+"/h)"), nil))
		if len(opts) == 100 {
			break // Slack's limit for a static select
		}
	}
	impact := slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, plain("Impact"), "impact",
		slack.NewOptionBlockObject("none", plain("Not known yet"), nil),
		slack.NewOptionBlockObject("blocked", plain("Blocked — users cannot complete a journey"), nil),
		slack.NewOptionBlockObject("degraded", plain("Degraded — journey degraded"), nil),
		slack.NewOptionBlockObject("partial", plain("Partial — some users affected"), nil),
	)
	title := slack.NewPlainTextInputBlockElement(plain("What is happening?"), "title")
	title.MaxLength = incident.MaxTitle
	desc := slack.NewPlainTextInputBlockElement(plain("What do you know so far?"), "description")
	desc.Multiline = true
	desc.MaxLength = 3000
	sec := slack.NewCheckboxGroupsBlockElement("security", slack.NewOptionBlockObject("security", plain("This is a security incident (private channel)"), nil))
	return slack.ModalViewRequest{
		Type:            slack.VTModal,
		CallbackID:      ViewDeclare,
		PrivateMetadata: channelID,
		Title:           plain("Declare an incident"),
		Submit:          plain("Declare"),
		Close:           plain("Cancel"),
		Blocks: slack.Blocks{BlockSet: []slack.Block{
			slack.NewInputBlock("service", plain("Service"), nil, slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, plain("Pick a service"), "service", opts...)),
			slack.NewInputBlock("title", plain("Title"), nil, title),
			slack.NewInputBlock("impact", plain("Impact"), nil, impact).WithOptional(true),
			slack.NewInputBlock("security", plain("Security"), nil, sec).WithOptional(true),
			slack.NewInputBlock("description", plain("Description"), nil, desc).WithOptional(true),
		}},
	}
}

// noteModal asks for a note.
func noteModal(number int64) slack.ModalViewRequest {
	return textModal(ViewNote, "Add a note", "Note", "Add note", number, false)
}

// resolveModal asks for an optional resolution summary; Slack marks the
// input "(optional)" itself.
func resolveModal(number int64) slack.ModalViewRequest {
	return textModal(ViewResolve, "Resolve incident", "Summary", "Resolve", number, true)
}

// textModal asks for one text (a note, a resolution summary).
func textModal(callbackID, title, label, submit string, number int64, optional bool) slack.ModalViewRequest {
	in := slack.NewPlainTextInputBlockElement(plain(label), "text")
	in.Multiline = true
	in.MaxLength = 3000
	return slack.ModalViewRequest{
		Type:            slack.VTModal,
		CallbackID:      callbackID,
		PrivateMetadata: itoa(number),
		Title:           plain(title),
		Submit:          plain(submit),
		Close:           plain("Cancel"),
		Blocks: slack.Blocks{BlockSet: []slack.Block{
			slack.NewInputBlock("text", plain(label), nil, in).WithOptional(optional),
		}},
	}
}

// sortOpen puts majors first, then the largest estimate first.
func sortOpen(open []view) {
	sort.SliceStable(open, func(i, j int) bool {
		a, b := open[i].st, open[j].st
		if (a.Class == incident.Major) != (b.Class == incident.Major) {
			return a.Class == incident.Major
		}
		return a.Estimated > b.Estimated
	})
}

// homeBlocks is a user's App Home.
func homeBlocks(cat *incident.Catalogue, open []view, now time.Time, extra []slack.Block) []slack.Block {
	sortOpen(open)
	var running incident.Money
	for _, v := range open {
		if v.st.Class == incident.Major {
			running += v.st.LossSoFar
		}
	}
	blocks := []slack.Block{
		slack.NewHeaderBlock(plain("Open incidents")),
		slack.NewContextBlock("", mrkdwn(fmt.Sprintf("%d open · running loss of open majors %s · <!date^%d^{date_short_pretty} {time}|now>", len(open), cat.Currency.Format(running), now.Unix()))),
	}
	if len(open) == 0 {
		blocks = append(blocks, slack.NewSectionBlock(mrkdwn("No open incidents. 🎉"), nil, nil))
	}
	for i, v := range open {
		if i == 40 { // stay inside Slack's 100-block limit for Home
			blocks = append(blocks, slack.NewContextBlock("", mrkdwn(fmt.Sprintf("…and %d more: `/incident list`", len(open)-i))))
			break
		}
		label := v.headline()
		if v.st.Security {
			label = fmt.Sprintf("*#%d* 🔒 security incident", v.inc.Number)
		}
		blocks = append(blocks, slack.NewSectionBlock(mrkdwn(fmt.Sprintf("%s\n%s · loss so far %s · %s/h · commander %s",
			label, v.classLine(), v.money(v.st.LossSoFar), v.money(v.st.Rate), user(v.st.Commander))), nil, nil))
	}
	blocks = append(blocks, slack.NewDividerBlock())
	return append(blocks, extra...)
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if strings.TrimSpace(s) != "" {
			return s
		}
	}
	return ""
}
