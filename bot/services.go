package bot

import (
	"context"
	"fmt"
	"strings"

	"github.com/slack-go/slack"

	"github.com/incidentbot/incidentbot/incident"
	"github.com/incidentbot/incidentbot/incident/desk"
)

// Job kinds of incidents that span services and teams.
const (
	JobArchive = "slack.archive" // point a merged incident's channel to the other one, and archive it
	JobPageDM  = "slack.page_dm" // tell paged people why, with the loss rate
)

// servicesCommand runs affects, unaffects, merge and page.
func (b *Bot) servicesCommand(ctx context.Context, j desk.Job, cmd slack.SlashCommand, c Command, to replyTo) error {
	op := desk.Op{Actor: cmd.UserID, Idem: j.ID}
	n, d := j.Incident, b.desk
	var err error
	ok := ""
	switch c.Verb {
	case "affects":
		var imp *incident.Impact
		if c.HasImpact {
			imp = &c.Impact
		}
		_, err = d.Affect(ctx, n, op, c.Service, imp)
	case "unaffects":
		_, err = d.Unaffect(ctx, n, op, c.Service, c.Rest)
	case "merge":
		_, err = d.Merge(ctx, n, c.Number, op, c.Rest)
	case "page":
		target := c.Team
		if c.User != "" {
			target = c.User
		}
		_, err = d.Page(ctx, n, op, target, c.Rest)
		ok = fmt.Sprintf("📟 Paging %s.", pagedName(target, c.User != ""))
	}
	return b.outcome(ctx, to, err, ok)
}

func pagedName(target string, person bool) string {
	if person {
		return user(target)
	}
	return "*" + esc(target) + "*"
}

// archiveMerged posts, in a merged incident's channel, where the incident
// went, then archives the channel.
func (b *Bot) archiveMerged(ctx context.Context, j desk.Job) error {
	cs, err := b.channelReady(ctx, j.Incident)
	if err != nil {
		return err
	}
	v, p, err := b.loadJob(ctx, j)
	if err != nil {
		return err
	}
	into := v.st.MergedInto
	where := fmt.Sprintf("*#%d*", into)
	if other, ok, _ := b.channelOf(ctx, into); ok && other.ID != "" {
		where += " <#" + other.ID + ">"
	}
	text := fmt.Sprintf("➡️ This incident was merged into %s: carry on there. Its loss, services, alerts and timeline are counted there; this channel is archived.", where)
	if e, ok := eventBySeq(v.inc, p.Seq); ok && e.Text != "" {
		text += "\n>" + esc(clip(e.Text, 500))
	}
	if _, err := b.postOnce(ctx, j.ID, cs.ID, text, nil); err != nil {
		return err
	}
	if err := b.api.ArchiveConversationContext(ctx, cs.ID); err != nil && slackErr(err) != "already_archived" {
		return fmt.Errorf("archive channel: %w", err)
	}
	return nil
}

// pageDM tells each paged person who paged them into which incident, why,
// and what it is costing.
func (b *Bot) pageDM(ctx context.Context, j desk.Job) error {
	v, p, err := b.loadJob(ctx, j)
	if err != nil {
		return err
	}
	page, ok := eventBySeq(v.inc, p.Seq)
	if ok && page.Kind == incident.EventCalledOut {
		page, ok = eventBySeq(v.inc, int(page.Ref))
	}
	if !ok || page.Kind != incident.EventPaged {
		return desk.Permanent(fmt.Errorf("incident %d has no page for event %d", j.Incident, p.Seq))
	}
	ch := b.channelMention(ctx, j.Incident, "its channel")
	text := fmt.Sprintf("📟 %s pages you into *#%d %s* (%s, %s): %s. Loss rate %s/h, loss so far %s, estimated %s. Join %s.",
		user(page.Actor), v.inc.Number, esc(v.inc.Title), v.st.Class.Title(), esc(strings.Join(serviceNames(v.st), ", ")),
		reasonText(page.Text), v.money(v.st.Rate), v.money(v.st.LossSoFar), v.money(v.st.Estimated), ch)
	if v.st.Security {
		text = "🔒 " + text
	}
	return b.dmEach(ctx, p.Users, "paged user", j.ID+"/", text)
}

func reasonText(s string) string {
	if strings.TrimSpace(s) == "" {
		return "no reason given"
	}
	return esc(clip(s, 500))
}

func serviceNames(st incident.State) []string {
	var out []string
	for _, s := range st.Services {
		if s.Active {
			out = append(out, s.Service.Name)
		}
	}
	return out
}

// moreServices is " +2 services" when the incident hurts more than its
// primary service.
func (v view) moreServices() string {
	if n := len(serviceNames(v.st)) - 1; n == 1 {
		return " +1 service"
	} else if n > 1 {
		return fmt.Sprintf(" +%d services", n)
	}
	return ""
}

// servicesText lists an incident's services on the card, each with its
// impact and loss rate, when there is more than the primary.
func (v view) servicesText() string {
	if len(v.st.Services) < 2 {
		return ""
	}
	lines := []string{"*Services*"}
	for i, s := range v.st.Services {
		if i == 20 {
			lines = append(lines, fmt.Sprintf("…and %d more (`/incident status`)", len(v.st.Services)-i))
			break
		}
		line := fmt.Sprintf("• `%s` (%s) — %s, %s/h", esc(s.Service.Name), esc(s.Service.Team), esc(s.Impact.String()), v.money(s.Rate))
		switch {
		case s.Primary:
			line += " · primary"
		case !s.Active:
			line = fmt.Sprintf("• ~`%s`~ (%s) — no longer affected: %s", esc(s.Service.Name), esc(s.Service.Team), esc(clip(s.Reason, 200)))
		}
		if s.From != 0 {
			line += fmt.Sprintf(" · from #%d", s.From)
		}
		if e := s.Effectiveness; e != nil && v.st.Status == incident.StatusResolved {
			line += fmt.Sprintf(" · loss %s, effectiveness %s", v.money(s.LossSoFar()), e.PercentText())
		}
		lines = append(lines, line)
	}
	return strings.Join(lines, "\n")
}

// serviceEventLine renders the events of incidents on several services.
func serviceEventLine(v view, e incident.Event, who, fig string) string {
	switch e.Kind {
	case incident.EventServiceAffected:
		s := fmt.Sprintf("🧩 %s added `%s` as an affected service", who, esc(e.Service))
		if e.Impact != nil && e.Impact.Level != incident.ImpactNone {
			s += fmt.Sprintf(", impact *%s*", esc(e.Impact.String()))
		} else {
			s += fmt.Sprintf(" (impact not known yet: `/incident impact %s blocked|degraded|partial`)", esc(e.Service))
		}
		return s + "." + fig
	case incident.EventServiceUnaffected:
		return fmt.Sprintf("🧩 %s: `%s` is no longer affected: %s.%s", who, esc(e.Service), esc(e.Text), fig)
	case incident.EventMerged:
		title := ""
		if e.Merged != nil {
			title = fmt.Sprintf(" (%s, `%s`)", esc(e.Merged.Title), esc(e.Merged.Service.Name))
		}
		s := fmt.Sprintf("🔀 %s merged incident *#%d*%s into this one: its alerts, services, costs, people and timeline are here now, and no minute of loss counts twice.%s", who, e.Ref, title, fig)
		if e.Text != "" {
			s += "\n>" + esc(e.Text)
		}
		return s
	case incident.EventPaged:
		target := esc(strings.TrimPrefix(e.Key, "team:"))
		if e.User != "" {
			target = user(e.User)
		} else if e.Labels["escalation_policy"] != "" {
			target += "'s on-call (PagerDuty)"
		} else {
			target += "'s on-call"
		}
		return fmt.Sprintf("📟 %s paged %s: %s", who, target, reasonText(e.Text))
	}
	return ""
}
