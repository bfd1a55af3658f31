package bot

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"

	"github.com/incidentbot/incidentbot/incident"
	"github.com/incidentbot/incidentbot/incident/desk"
)

// handleInbox processes one stored envelope. Every operation carries the
// envelope (or event) id as its idempotency key, so running it again after
// a crash changes nothing twice.
func (b *Bot) handleInbox(ctx context.Context, j desk.Job) error {
	var it inboxItem
	if err := json.Unmarshal(j.Payload, &it); err != nil {
		return desk.Permanent(fmt.Errorf("inbox %s: %w", j.ID, err))
	}
	switch it.Type {
	case "slash":
		var cmd slack.SlashCommand
		if err := json.Unmarshal(it.Payload, &cmd); err != nil {
			return desk.Permanent(err)
		}
		return b.runCommand(ctx, j, cmd, it.Command)
	case "interaction":
		var cb slack.InteractionCallback
		if err := json.Unmarshal(it.Payload, &cb); err != nil {
			return desk.Permanent(err)
		}
		return b.runInteraction(ctx, j, cb)
	case "event":
		ev, err := slackevents.ParseEvent(it.Payload, slackevents.OptionNoVerifyToken())
		if err != nil {
			return desk.Permanent(err)
		}
		var outer struct {
			EventID string `json:"event_id"`
		}
		_ = json.Unmarshal(it.Payload, &outer)
		return b.runEvent(ctx, j, ev, outer.EventID)
	}
	return desk.Permanent(fmt.Errorf("inbox %s: unknown type %q", j.ID, it.Type))
}

// replyTo says where an ephemeral answer goes. key is the inbox job's ID:
// it makes the reply's job ID, so a rerun of the inbox job plans no second
// reply.
type replyTo struct {
	responseURL, channel, user string
	key                        string
}

// replyPayload is a planned ephemeral answer.
type replyPayload struct {
	ResponseURL string          `json:"response_url,omitempty"`
	Channel     string          `json:"channel,omitempty"`
	User        string          `json:"user,omitempty"`
	Text        string          `json:"text"`
	Blocks      json.RawMessage `json:"blocks,omitempty"`
}

// reply plans a private answer to the user as a job: what people said is
// recorded without waiting for Slack to take the answer.
func (b *Bot) reply(ctx context.Context, to replyTo, text string, blocks ...slack.Block) error {
	if to.responseURL == "" && (to.channel == "" || to.user == "") {
		return nil
	}
	p := replyPayload{ResponseURL: to.responseURL, Channel: to.channel, User: to.user, Text: text}
	if len(blocks) > 0 {
		p.Blocks, _ = json.Marshal(blocks)
	}
	raw, _ := json.Marshal(p)
	sum := sha256.Sum256(raw)
	id := JobReply + "/" + to.key + "/" + hex.EncodeToString(sum[:6])
	return b.store.Enqueue(ctx, desk.Job{ID: id, Kind: JobReply, Payload: raw, DueAt: b.now()})
}

// sendReply delivers a planned answer, to the command's response_url when
// there is one (it works in any channel), else as an ephemeral message.
func (b *Bot) sendReply(ctx context.Context, j desk.Job) error {
	var p replyPayload
	if err := json.Unmarshal(j.Payload, &p); err != nil {
		return desk.Permanent(fmt.Errorf("reply %s: %w", j.ID, err))
	}
	if p.ResponseURL != "" {
		return b.postResponseURL(ctx, p)
	}
	opts := []slack.MsgOption{slack.MsgOptionText(p.Text, false)}
	if len(p.Blocks) > 0 {
		var bl slack.Blocks
		if err := json.Unmarshal(p.Blocks, &bl); err != nil {
			return desk.Permanent(fmt.Errorf("reply %s: blocks: %w", j.ID, err))
		}
		opts = append(opts, slack.MsgOptionBlocks(bl.BlockSet...))
	}
	_, err := b.api.PostEphemeralContext(ctx, p.Channel, p.User, opts...)
	return err
}

func (b *Bot) postResponseURL(ctx context.Context, p replyPayload) error {
	body := map[string]any{"response_type": "ephemeral", "text": p.Text}
	if len(p.Blocks) > 0 {
		body["blocks"] = p.Blocks
	}
	raw, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.ResponseURL, bytes.NewReader(raw))
	if err != nil {
		return desk.Permanent(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := b.http.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return fmt.Errorf("response_url answered %s", resp.Status)
	case resp.StatusCode >= 400:
		b.log.Warn("response_url refused the reply", "status", resp.Status)
	}
	return nil
}

// outcome turns a desk error into a reply: user errors are told to the
// user and the job is done; other errors are retried.
func (b *Bot) outcome(ctx context.Context, to replyTo, err error, ok string) error {
	if err == nil {
		if ok == "" {
			return nil
		}
		return b.reply(ctx, to, ok)
	}
	switch incident.ErrorCode(err) {
	case incident.EINVALID, incident.ENOTFOUND, incident.ECONFLICT, incident.EFORBIDDEN:
		return b.reply(ctx, to, "⚠️ "+esc(incident.ErrorMessage(err))) // it may quote what was typed
	}
	return err
}

func (b *Bot) runCommand(ctx context.Context, j desk.Job, cmd slack.SlashCommand, parsed *Command) error {
	to := replyTo{responseURL: cmd.ResponseURL, channel: cmd.ChannelID, user: cmd.UserID, key: j.ID}
	var c Command
	if parsed != nil {
		c = *parsed
	} else if p, err := ParseCommand(cmd.Text, cmd.UserID, b.cat.Currency, b.cat.Shares); err != nil {
		return b.reply(ctx, to, incident.ErrorMessage(err))
	} else {
		c = p
	}
	var err error
	op := desk.Op{Actor: cmd.UserID, Idem: j.ID}
	n := j.Incident
	d := b.desk
	switch c.Verb {
	case "help":
		return b.reply(ctx, to, Usage)
	case "declare", "drill":
		title := strings.TrimSpace(strings.TrimPrefix(c.Rest, c.Args[0]))
		inc, err := d.Declare(ctx, desk.DeclareRequest{Service: c.Args[0], Title: title, Actor: cmd.UserID, Idem: j.ID, Impact: incident.Impact{Level: incident.ImpactNone}, Drill: c.Verb == "drill"})
		if err != nil {
			return b.outcome(ctx, to, err, "")
		}
		what := "Incident"
		if inc.Drill {
			what = "🧪 Drill (a practice incident: priced like a real one, never paged to PagerDuty, left out of the measures)"
		}
		return b.reply(ctx, to, fmt.Sprintf("%s *#%d %s* declared. Its channel `%s` is opening; set the impact there with `/incident impact blocked|degraded|partial`.", what, inc.Number, esc(inc.Title), ChannelNameFor(inc, 1)))
	case "list":
		return b.replyList(ctx, to)
	case "services":
		text, err := b.servicesText(ctx, c.Args)
		if err != nil {
			return err
		}
		return b.reply(ctx, to, text)
	case "stats", "actions", "action", "review", "publish":
		return b.reviewCommand(ctx, j, cmd, c, to)
	case "status":
		v, err := b.loadCard(ctx, n)
		if err != nil {
			return err
		}
		return b.reply(ctx, to, cardText(v), cardBlocks(v)...)
	case "impact":
		_, err = d.SetServiceImpact(ctx, n, op, c.Service, c.Impact)
	case "affects", "unaffects", "merge", "page":
		return b.servicesCommand(ctx, j, cmd, c, to)
	case "cost":
		_, err = d.AddCost(ctx, n, op, c.Amount, c.Rest)
	case "security":
		_, err = d.MarkSecurity(ctx, n, op)
	case "commander":
		how := "appointed by " + "<@" + cmd.UserID + ">"
		if c.User == cmd.UserID {
			how = "volunteered"
		}
		_, err = d.SetCommander(ctx, n, op, c.User, how)
	case "note":
		_, err = d.AddNote(ctx, n, op, c.Rest)
	case "update":
		_, err = d.AddUpdate(ctx, n, op, c.Rest)
	case "major", "minor":
		_, err = d.Reclassify(ctx, n, op, c.Class, c.Rest)
	case "resolve":
		_, err = d.Resolve(ctx, n, op, c.Rest)
	case "reopen":
		_, err = d.Reopen(ctx, n, op)
	default:
		return b.reply(ctx, to, Usage)
	}
	return b.outcome(ctx, to, err, "")
}

func (b *Bot) replyList(ctx context.Context, to replyTo) error {
	incs, err := b.desk.List(ctx, desk.Filter{OpenOnly: true})
	if err != nil {
		return err
	}
	if len(incs) == 0 {
		return b.reply(ctx, to, "No open incidents. 🎉")
	}
	now := b.now()
	views := make([]view, len(incs))
	for i, inc := range incs {
		views[i] = view{inc: inc, st: inc.State(b.cat.Policy, now), cat: b.cat, now: now}
	}
	sortOpen(views) // as on App Home
	var lines []string
	for _, v := range views {
		inc := v.inc
		if v.st.Security && !b.cat.IsIncidentManager(to.user) {
			lines = append(lines, fmt.Sprintf("• #%d 🔒 security incident", inc.Number))
			continue
		}
		ch := ""
		if cs, ok, _ := b.channelOf(ctx, inc.Number); ok && cs.ID != "" {
			ch = " <#" + cs.ID + ">"
		}
		lines = append(lines, fmt.Sprintf("• %s — %s, %s so far, %s/h, commander %s%s",
			v.headline(), v.st.Class.Title(), v.money(v.st.LossSoFar), v.money(v.st.Rate), user(v.st.Commander), ch))
		if len(lines) == 50 {
			lines = append(lines, fmt.Sprintf("…and %d more.", len(incs)-50))
			break
		}
	}
	return b.reply(ctx, to, "*Open incidents*\n"+strings.Join(lines, "\n"))
}

func (b *Bot) servicesText(ctx context.Context, args []string) (string, error) {
	budgets, err := b.budgets(ctx)
	if err != nil {
		return "", err
	}
	now := b.now()
	var lines []string
	for _, s := range b.cat.Services {
		if len(args) == 1 && !strings.EqualFold(args[0], s.Name) {
			continue
		}
		a := b.cat.TargetAt(s, now)
		in, out := incident.OnCallLevels(a)
		line := fmt.Sprintf("• `%s` (team %s): %s/h → target %s, tolerable unavailability %s a week; on-call %s in hours, %s out of hours",
			esc(s.Name), esc(s.Team), b.cat.Currency.Format(s.ExposureAt(now)), a, incident.FormatHMS(a.TolerableUnavailability()), in, out)
		if p, ok := s.PeakAt(now); ok {
			line += fmt.Sprintf(" · peak *%s* in force", esc(p.Name))
		}
		if s.Runbook != "" {
			line += " · <" + s.Runbook + "|runbook>"
		}
		if bud, ok := budgets[s.Name]; ok {
			line += "\n    " + budgetLine(bud)
		}
		lines = append(lines, line)
	}
	if len(lines) == 0 {
		return fmt.Sprintf("There is no service called %q.", esc(args[0])), nil
	}
	return "*Service catalogue*\n" + strings.Join(lines, "\n"), nil
}

func (b *Bot) runInteraction(ctx context.Context, j desk.Job, cb slack.InteractionCallback) error {
	to := replyTo{responseURL: cb.ResponseURL, channel: cb.Channel.ID, user: cb.User.ID, key: j.ID}
	op := desk.Op{Actor: cb.User.ID, Idem: j.ID}
	n := j.Incident
	switch cb.Type {
	case slack.InteractionTypeBlockActions:
		if handled, err := b.reviewInteraction(ctx, j, cb, to); handled {
			return err
		}
		if len(cb.ActionCallback.BlockActions) == 0 || n == 0 {
			return nil
		}
		a := cb.ActionCallback.BlockActions[0]
		var err error
		switch a.ActionID {
		case ActTakeCommand:
			_, err = b.desk.SetCommander(ctx, n, op, cb.User.ID, "volunteered")
		case ActAcknowledge:
			_, err = b.desk.Acknowledge(ctx, n, op)
		case ActImpact:
			lvl, ok := incident.ParseImpactLevel(a.SelectedOption.Value)
			if !ok {
				return nil
			}
			_, err = b.desk.SetImpact(ctx, n, op, b.cat.Shares.Impact(lvl))
		default:
			return nil
		}
		return b.outcome(ctx, to, err, "")
	case slack.InteractionTypeViewSubmission:
		to = replyTo{user: cb.User.ID, key: j.ID}
		if handled, err := b.reviewInteraction(ctx, j, cb, to); handled {
			return err
		}
		st := cb.View.State
		text := stateValue(st, "text", "text").Value
		var err error
		switch cb.View.CallbackID {
		case ViewDeclare:
			lvl, _ := incident.ParseImpactLevel(stateValue(st, "impact", "impact").SelectedOption.Value)
			sec := len(stateValue(st, "security", "security").SelectedOptions) > 0
			_, err = b.desk.Declare(ctx, desk.DeclareRequest{
				Service:     stateValue(st, "service", "service").SelectedOption.Value,
				Title:       stateValue(st, "title", "title").Value,
				Description: stateValue(st, "description", "description").Value,
				Impact:      b.cat.Shares.Impact(lvl),
				Security:    sec, Actor: cb.User.ID, Idem: j.ID,
			})
			if err != nil && cb.View.PrivateMetadata != "" {
				to.channel = cb.View.PrivateMetadata
			}
		case ViewNote:
			_, err = b.desk.AddNote(ctx, n, op, text)
		case ViewResolve:
			_, err = b.desk.Resolve(ctx, n, op, text)
		}
		if err != nil {
			if cs, ok, _ := b.channelOf(ctx, n); ok {
				to.channel = cs.ID
			}
		}
		return b.outcome(ctx, to, err, "")
	}
	return nil
}

func (b *Bot) runEvent(ctx context.Context, j desk.Job, ev slackevents.EventsAPIEvent, eventID string) error {
	n := j.Incident
	idem := "ev/" + eventID
	record := func(e incident.Event) error {
		e.Idem = idem
		_, err := b.desk.Record(ctx, n, e)
		if incident.ErrorCode(err) == incident.EINVALID {
			b.log.Warn("event not recorded", "event", eventID, "err", err)
			return nil
		}
		return err
	}
	switch e := ev.InnerEvent.Data.(type) {
	case *slackevents.AppHomeOpenedEvent:
		if err := b.store.Put(ctx, bucketHome, e.User, []byte(b.now().UTC().Format("2006-01-02T15:04:05Z"))); err != nil {
			return err
		}
		return b.store.Enqueue(ctx, homeJob(e.User))
	case *slackevents.MessageEvent:
		switch e.SubType {
		case "", "thread_broadcast":
			// Keyed by the message ts, like the catch-up after an outage,
			// so a message is recorded once whichever path sees it first.
			_, err := b.desk.Record(ctx, n, incident.Event{Kind: incident.EventMessage, Actor: e.User, Key: e.TimeStamp, Text: chatText(e.Text), Idem: "msg/" + e.TimeStamp})
			return err
		case "message_changed":
			if e.Message == nil {
				return nil
			}
			return record(incident.Event{Kind: incident.EventMessageEdited, Actor: e.Message.User, Key: e.Message.Timestamp, Text: chatText(e.Message.Text)})
		case "message_deleted":
			return record(incident.Event{Kind: incident.EventMessageDeleted, Key: e.DeletedTimeStamp})
		}
	case *slackevents.ReactionAddedEvent:
		return record(incident.Event{Kind: incident.EventKeyEvent, Actor: e.User, Key: e.Item.Timestamp})
	case *slackevents.PinAddedEvent:
		ts := e.Item.Timestamp
		if e.Item.Message != nil {
			ts = e.Item.Message.Timestamp
		}
		return record(incident.Event{Kind: incident.EventKeyEvent, Actor: e.User, Key: ts})
	case *slackevents.MemberJoinedChannelEvent:
		if e.User == b.botUser() {
			return nil
		}
		return record(incident.Event{Kind: incident.EventParticipantJoined, User: e.User})
	}
	return nil
}

func homeJob(userID string) desk.Job {
	raw, _ := json.Marshal(map[string]string{"user": userID})
	return desk.Job{ID: JobHome + "/" + userID, Kind: JobHome, Payload: raw, Coalesce: true}
}

// chatText is a channel message as the timeline keeps it: Slack takes
// messages of up to 40,000 characters, the timeline texts of up to
// incident.MaxText bytes, so a longer message is kept cut, saying so,
// rather than refused (an input job that can never succeed).
func chatText(s string) string {
	if len(s) <= incident.MaxText {
		return s
	}
	mark := fmt.Sprintf(" … [cut: %d of %d characters kept]", 0, utf8.RuneCountInString(s))
	cut := incident.MaxText - len(mark) - 8 // room for the kept count's digits
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	kept := s[:cut]
	return kept + fmt.Sprintf(" … [cut: %d of %d characters kept]", utf8.RuneCountInString(kept), utf8.RuneCountInString(s))
}
