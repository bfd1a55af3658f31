package bot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/incidentbot/incidentbot/incident"
	"github.com/incidentbot/incidentbot/incident/desk"
)

const bucketPosts = "slack_posts" // job key → posted ts, and in-flight markers

func slackErr(err error) string {
	var se slack.SlackErrorResponse
	if errors.As(err, &se) {
		return se.Err
	}
	return ""
}

// ensureChannel creates the incident channel and dresses it: topic, card,
// pin, runbook bookmark, the declarer invited. Each step is recorded as it
// completes, so a retry after a crash or an outage resumes where it stopped
// and never creates a second channel.
func (b *Bot) ensureChannel(ctx context.Context, j desk.Job) error {
	v, err := b.loadCard(ctx, j.Incident)
	if err != nil {
		return err
	}
	n := v.inc.Number
	cs, _, err := b.channelOf(ctx, n)
	if err != nil {
		return err
	}
	if cs.ID == "" {
		if cs, err = b.createChannel(ctx, v, cs); err != nil {
			return err
		}
	}
	if !cs.TopicSet {
		if err := b.syncTopic(ctx, n, cs, v); err != nil {
			return err
		}
		cs.TopicSet = true
		if err := b.saveChannel(ctx, n, cs); err != nil {
			return err
		}
	}
	if cs.CardTS == "" {
		ts, err := b.postOnce(ctx, cardKey(n, cs), cs.ID, cardText(v), cardBlocks(v))
		if err != nil {
			return fmt.Errorf("post card: %w", err)
		}
		cs.CardTS = ts
		if err := b.saveChannel(ctx, n, cs); err != nil {
			return err
		}
	}
	if !cs.Pinned {
		if err := b.api.AddPinContext(ctx, cs.ID, slack.NewRefToMessage(cs.ID, cs.CardTS)); err != nil && slackErr(err) != "already_pinned" {
			return fmt.Errorf("pin card: %w", err)
		}
		cs.Pinned = true
		if err := b.saveChannel(ctx, n, cs); err != nil {
			return err
		}
	}
	if rb := v.inc.Service.Runbook; rb != "" && !cs.Bookmarked {
		if _, err := b.api.AddBookmarkContext(ctx, cs.ID, slack.AddBookmarkParameters{Title: "Runbook", Type: "link", Link: rb}); err != nil {
			if slackErr(err) == "" {
				return fmt.Errorf("bookmark runbook: %w", err)
			}
			b.log.Warn("runbook bookmark refused", "incident", n, "err", err)
		}
		cs.Bookmarked = true
		if err := b.saveChannel(ctx, n, cs); err != nil {
			return err
		}
	}
	if d := v.inc.Events[0].Actor; strings.HasPrefix(d, "U") || strings.HasPrefix(d, "W") {
		if err := b.inviteUsers(ctx, cs.ID, []string{d}); err != nil {
			return err
		}
	}
	return nil
}

// createChannel creates inc-<n>-<slug>. If the name is taken by a channel
// this bot created (a create that half-succeeded before a crash or an
// internal_error), it is adopted; if someone else's, the next suffix is
// tried.
func (b *Bot) createChannel(ctx context.Context, v view, cs channelState) (channelState, error) {
	n := v.inc.Number
	if cs.Attempt == 0 {
		cs.Attempt = 1
	}
	for tries := 0; tries < 10; tries++ {
		name := ChannelNameFor(v.inc, cs.Attempt)
		ch, err := b.api.CreateConversationContext(ctx, slack.CreateConversationParams{ChannelName: name, IsPrivate: v.st.Security})
		if err != nil {
			code := slackErr(err)
			if code != "name_taken" && code != "internal_error" && code != "fatal_error" {
				return cs, fmt.Errorf("create channel %s: %w", name, err)
			}
			found, ferr := b.findChannel(ctx, name)
			if ferr != nil {
				return cs, ferr
			}
			if found == nil {
				if code == "name_taken" {
					// Taken by a channel we cannot see: someone else's.
					cs.Attempt++
					continue
				}
				return cs, fmt.Errorf("create channel %s: %w", name, err)
			}
			if found.Creator != b.botUser() || b.botUser() == "" || found.IsPrivate != v.st.Security {
				// Someone else's, or ours but public for a security
				// incident (never adopted: it is not private).
				cs.Attempt++
				continue
			}
			ch = found
		}
		cs.ID, cs.Name, cs.Private = ch.ID, name, v.st.Security
		if err := b.saveChannel(ctx, n, cs); err != nil {
			return cs, err
		}
		return cs, b.store.Put(ctx, bucketChannelInc, ch.ID, []byte(itoa(n)))
	}
	return cs, fmt.Errorf("create channel for incident %d: every name tried is taken", n)
}

// findChannel looks a channel up by name among those the bot can see.
func (b *Bot) findChannel(ctx context.Context, name string) (*slack.Channel, error) {
	cursor := ""
	for {
		chs, next, err := b.api.GetConversationsContext(ctx, &slack.GetConversationsParameters{
			Cursor: cursor, ExcludeArchived: true, Limit: 200, Types: []string{"public_channel", "private_channel"},
		})
		if err != nil {
			return nil, fmt.Errorf("list channels: %w", err)
		}
		for i := range chs {
			if chs[i].Name == name {
				return &chs[i], nil
			}
		}
		if next == "" {
			return nil, nil
		}
		cursor = next
	}
}

// postOnce posts a message at most once per key. The key is written into
// the first block's ID, and an in-flight marker is stored before posting:
// after a crash between posting and recording, the retry finds the message
// in the channel's history instead of posting it again.
func (b *Bot) postOnce(ctx context.Context, key, channel, text string, blocks []slack.Block) (string, error) {
	if raw, ok, err := b.store.GetKV(ctx, bucketPosts, key); err != nil {
		return "", err
	} else if ok && len(raw) > 1 {
		return string(raw), nil
	} else if ok {
		if ts, err := b.findPosted(ctx, channel, key); err != nil {
			return "", err
		} else if ts != "" {
			return ts, b.store.Put(ctx, bucketPosts, key, []byte(ts))
		}
	}
	if err := b.store.Put(ctx, bucketPosts, key, []byte("-")); err != nil {
		return "", err
	}
	if len(blocks) == 0 {
		blocks = []slack.Block{slack.NewSectionBlock(mrkdwn(text), nil, nil)}
	}
	blocks = withBlockID(blocks, "ib:"+key)
	_, ts, err := b.api.PostMessageContext(ctx, channel, slack.MsgOptionText(clip(text, 3000), false), slack.MsgOptionBlocks(blocks...))
	if err != nil {
		return "", err
	}
	return ts, b.store.Put(ctx, bucketPosts, key, []byte(ts))
}

func withBlockID(blocks []slack.Block, id string) []slack.Block {
	out := append([]slack.Block(nil), blocks...)
	switch bl := out[0].(type) {
	case *slack.SectionBlock:
		c := *bl
		c.BlockID = id
		out[0] = &c
	case *slack.HeaderBlock:
		c := *bl
		c.BlockID = id
		out[0] = &c
	default:
		out = append([]slack.Block{slack.NewContextBlock(id, mrkdwn(" "))}, out...)
	}
	return out
}

func (b *Bot) findPosted(ctx context.Context, channel, key string) (string, error) {
	h, err := b.api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{ChannelID: channel, Limit: 100})
	if err != nil {
		return "", fmt.Errorf("history: %w", err)
	}
	for _, m := range h.Messages {
		for _, bl := range m.Blocks.BlockSet {
			if blockID(bl) == "ib:"+key {
				return m.Timestamp, nil
			}
		}
	}
	return "", nil
}

func blockID(bl slack.Block) string {
	switch x := bl.(type) {
	case *slack.SectionBlock:
		return x.BlockID
	case *slack.HeaderBlock:
		return x.BlockID
	case *slack.ContextBlock:
		return x.BlockID
	}
	return ""
}

// channelReady returns the incident's channel, or a retry-soon error.
func (b *Bot) channelReady(ctx context.Context, n int64) (channelState, error) {
	cs, ok, err := b.channelOf(ctx, n)
	if err != nil {
		return cs, err
	}
	if !ok || cs.ID == "" || cs.CardTS == "" {
		return cs, notReady(n)
	}
	return cs, nil
}

// updateCard brings the pinned card (and the topic, if what it says
// changed) up to date with the incident's current state.
func (b *Bot) updateCard(ctx context.Context, j desk.Job) error {
	cs, err := b.channelReady(ctx, j.Incident)
	if err != nil {
		return err
	}
	v, err := b.loadCard(ctx, j.Incident)
	if err != nil {
		return err
	}
	if _, _, _, err := b.api.UpdateMessageContext(ctx, cs.ID, cs.CardTS, slack.MsgOptionText(cardText(v), false), slack.MsgOptionBlocks(withBlockID(cardBlocks(v), "ib:"+cardKey(j.Incident, cs))...)); err != nil {
		return fmt.Errorf("update card: %w", err)
	}
	return b.syncTopic(ctx, j.Incident, cs, v)
}

// syncTopic sets the channel topic when what it says changed, never to the
// text it already has: each conversations.setTopic posts "set the channel
// topic" into the channel.
func (b *Bot) syncTopic(ctx context.Context, n int64, cs channelState, v view) error {
	key, channel := topicKey(n, cs), cs.ID
	t := topic(v)
	raw, _, err := b.store.GetKV(ctx, bucketPosts, key)
	if err != nil || string(raw) == t {
		return err
	}
	if _, err := b.api.SetTopicOfConversationContext(ctx, channel, t); err != nil {
		return fmt.Errorf("set topic: %w", err)
	}
	return b.store.Put(ctx, bucketPosts, key, []byte(t))
}

// eventOfJob is the timeline event a job was planned for.
func (b *Bot) eventOfJob(inc *incident.Incident, j desk.Job) (incident.Event, error) {
	p, err := desk.DecodePayload(j)
	if err != nil {
		return incident.Event{}, err
	}
	e, ok := eventBySeq(inc, p.Seq)
	if !ok {
		return e, desk.Permanent(fmt.Errorf("job %s: incident %d has no event %d", j.ID, inc.Number, p.Seq))
	}
	return e, nil
}

func eventBySeq(inc *incident.Incident, seq int) (incident.Event, bool) {
	if seq >= 1 && seq <= len(inc.Events) && inc.Events[seq-1].Seq == seq {
		return inc.Events[seq-1], true
	}
	for _, e := range inc.Events {
		if e.Seq == seq {
			return e, true
		}
	}
	return incident.Event{}, false
}

// postEvent posts a timeline event in the incident channel.
func (b *Bot) postEvent(ctx context.Context, j desk.Job) error {
	cs, err := b.channelReady(ctx, j.Incident)
	if err != nil {
		return err
	}
	v, err := b.load(ctx, j.Incident)
	if err != nil {
		return err
	}
	e, err := b.eventOfJob(v.inc, j)
	if err != nil {
		return err
	}
	_, err = b.postOnce(ctx, j.ID, cs.ID, eventLine(v, e), nil)
	return err
}

// announceChannel resolves the configured announce channel to an ID once.
func (b *Bot) announceChannel(ctx context.Context) (string, error) {
	name := strings.TrimPrefix(b.opts.AnnounceChannel, "#")
	if name == "" {
		return "", nil
	}
	if raw, ok, err := b.store.GetKV(ctx, bucketPosts, "announce_channel/"+name); err != nil {
		return "", err
	} else if ok {
		return string(raw), nil
	}
	id := name
	if !(len(name) > 8 && (name[0] == 'C' || name[0] == 'G') && strings.ToUpper(name) == name) {
		ch, err := b.findChannel(ctx, name)
		if err != nil {
			return "", err
		}
		if ch == nil {
			return "", desk.Permanent(fmt.Errorf("announce channel %q not found (slack.announce_channel)", name))
		}
		id = ch.ID
		if !ch.IsMember && !ch.IsPrivate {
			if _, _, _, err := b.api.JoinConversationContext(ctx, id); err != nil {
				return "", fmt.Errorf("join announce channel: %w", err)
			}
		}
	}
	return id, b.store.Put(ctx, bucketPosts, "announce_channel/"+name, []byte(id))
}

// announceWaits is how many times (a second apart) the declaration's
// announcement waits for the incident channel before going out without
// its link: people must hear of an incident even when Slack refuses to
// create its channel.
const announceWaits = 60

// announce posts to the org-wide announce channel. The declaration waits
// for the incident channel, so that its "Join" links the channel: one
// message, complete when people read it, rather than a message edited
// afterwards (an edit notifies nobody who already read it).
func (b *Bot) announce(ctx context.Context, j desk.Job) error {
	ch, err := b.announceChannel(ctx)
	if err != nil || ch == "" {
		return err
	}
	v, p, err := b.loadJob(ctx, j)
	if err != nil {
		return err
	}
	e, _ := eventBySeq(v.inc, p.Seq)
	cs, _, err := b.channelOf(ctx, j.Incident)
	if err != nil {
		return err
	}
	if p.Kind == "declared" && !v.st.Security && cs.ID == "" && j.Attempts < announceWaits {
		// Announced once the channel exists, so that "Join #inc-…" links it.
		return &desk.RetryAfterError{Delay: time.Second, Err: fmt.Errorf("incident %d: waiting for its channel to link it from the announcement", j.Incident)}
	}
	text := announceText(v, p.Kind, e, cs.ID)
	if text == "" {
		return nil
	}
	_, err = b.postOnce(ctx, j.ID, ch, text, nil)
	return err
}

// managerText is the DM to incident managers about a major incident; ch
// says where to join.
func managerText(v view, ch string) string {
	on := " on `" + esc(v.inc.Service.Name) + "`"
	if namesService(v.inc.Title, v.inc.Service.Name) {
		on = ""
	}
	text := fmt.Sprintf("🔴 *Major incident #%d %s*%s: %s. Loss rate %s/h, estimated %s. Commander %s. Join %s.",
		v.inc.Number, esc(v.inc.Title), on, v.st.Priority.ResponseMethod(), v.money(v.st.Rate), v.money(v.st.Estimated), user(v.st.Commander), ch)
	if v.st.Security {
		text = "🔒 " + text
	}
	if v.inc.Drill {
		text = "🧪 *Drill* (practice, not a real outage) · " + text
	}
	return text
}

// notifyManagers tells every incident manager about a major incident by
// DM, with the details (also of security incidents), and invites them.
func (b *Bot) notifyManagers(ctx context.Context, j desk.Job) error {
	v, err := b.load(ctx, j.Incident)
	if err != nil {
		return err
	}
	text := managerText(v, b.channelMention(ctx, j.Incident, "its channel (opening)"))
	return b.dmEach(ctx, b.cat.IncidentManagers, "incident manager", j.ID+"/", text)
}

// channelMention links incident n's channel, or says fallback while it has
// none yet.
func (b *Bot) channelMention(ctx context.Context, n int64, fallback string) string {
	if cs, _, _ := b.channelOf(ctx, n); cs.ID != "" {
		return "<#" + cs.ID + ">"
	}
	return fallback
}

// dmEach sends text to each of users by DM, once each (the post's key is
// keyPrefix and the user); a user Slack does not know (who says what they
// are, for the log) is skipped.
func (b *Bot) dmEach(ctx context.Context, users []string, who, keyPrefix, text string) error {
	for _, u := range users {
		dm, _, _, err := b.api.OpenConversationContext(ctx, &slack.OpenConversationParameters{Users: []string{u}})
		if err != nil {
			if slackErr(err) == "user_not_found" {
				b.log.Warn(who+" not found in Slack", "user", u)
				continue
			}
			return fmt.Errorf("open DM: %w", err)
		}
		if _, err := b.postOnce(ctx, keyPrefix+u, dm.ID, text, nil); err != nil {
			return err
		}
	}
	return nil
}

// loadJob loads a job's incident and decodes its payload.
func (b *Bot) loadJob(ctx context.Context, j desk.Job) (view, desk.Payload, error) {
	v, err := b.load(ctx, j.Incident)
	if err != nil {
		return view{}, desk.Payload{}, err
	}
	p, err := desk.DecodePayload(j)
	return v, p, err
}

// invite brings called-out people and new commanders into the channel.
func (b *Bot) invite(ctx context.Context, j desk.Job) error {
	cs, err := b.channelReady(ctx, j.Incident)
	if err != nil {
		return err
	}
	p, err := desk.DecodePayload(j)
	if err != nil {
		return err
	}
	return b.inviteUsers(ctx, cs.ID, p.Users)
}

// inviteUsers invites one at a time: Slack fails a whole batch for one bad
// user, and "already in channel" is success.
func (b *Bot) inviteUsers(ctx context.Context, channel string, users []string) error {
	for _, u := range users {
		if u == "" || u == b.botUser() {
			continue
		}
		_, err := b.api.InviteUsersToConversationContext(ctx, channel, u)
		switch slackErr(err) {
		case "":
			if err != nil {
				return fmt.Errorf("invite %s: %w", u, err)
			}
		case "already_in_channel", "cant_invite_self":
		case "user_not_found", "user_is_restricted", "cant_invite", "user_disabled":
			b.log.Warn("could not invite user", "user", u, "err", err)
		default:
			return fmt.Errorf("invite %s: %w", u, err)
		}
	}
	return nil
}

// remind asks the commander of an open major for a stakeholder update,
// every update_interval, until the incident is resolved or minor.
func (b *Bot) remind(ctx context.Context, j desk.Job) error {
	v, err := b.load(ctx, j.Incident)
	if err != nil {
		return err
	}
	if v.st.Status != incident.StatusOpen || v.st.Class != incident.Major {
		return nil
	}
	cs, err := b.channelReady(ctx, j.Incident)
	if err != nil {
		return err
	}
	p, err := desk.DecodePayload(j)
	if err != nil {
		return err
	}
	text := fmt.Sprintf("⏰ %s, time for a stakeholder update: %s. It goes to the announce channel.", user(v.st.Commander), esc("`/incident update <what is happening, what is next>`"))
	if _, err := b.postOnce(ctx, j.ID, cs.ID, text, nil); err != nil {
		return err
	}
	every := b.desk.Options().UpdateInterval
	return b.store.Enqueue(ctx, desk.JobFor(JobRemind, j.Incident, itoa(int64(p.Cycle+1)), b.now().Add(every), desk.Payload{Cycle: p.Cycle + 1}))
}

// confirmResolve asks the channel to resolve once every alert resolved.
func (b *Bot) confirmResolve(ctx context.Context, j desk.Job) error {
	cs, err := b.channelReady(ctx, j.Incident)
	if err != nil {
		return err
	}
	v, err := b.load(ctx, j.Incident)
	if err != nil {
		return err
	}
	if v.st.Status != incident.StatusOpen {
		return nil
	}
	blocks := []slack.Block{
		slack.NewSectionBlock(mrkdwn("🟢 Every linked alert has resolved. Is availability restored?"), nil, nil),
		slack.NewActionBlock("confirm", slack.NewButtonBlockElement(ActConfirmResolve, "resolve", plain("Resolve the incident")).WithStyle(slack.StylePrimary)),
	}
	_, err = b.postOnce(ctx, j.ID, cs.ID, "Every linked alert has resolved. Resolve the incident?", blocks)
	return err
}

// publishHomes refreshes App Home for people who opened it in the last week.
func (b *Bot) publishHomes(ctx context.Context, _ desk.Job) error {
	cutoff := b.now().Add(-7 * 24 * time.Hour)
	var jobs []desk.Job
	err := b.store.Scan(ctx, bucketHome, "", func(k string, v []byte) error {
		if t, err := time.Parse("2006-01-02T15:04:05Z", string(v)); err == nil && t.After(cutoff) {
			jobs = append(jobs, homeJob(k))
		}
		return nil
	})
	if err != nil || len(jobs) == 0 {
		return err
	}
	return b.store.Enqueue(ctx, jobs...)
}

// publishHome publishes one user's App Home.
func (b *Bot) publishHome(ctx context.Context, j desk.Job) error {
	var p struct {
		User string `json:"user"`
	}
	if err := json.Unmarshal(j.Payload, &p); err != nil || p.User == "" {
		return desk.Permanent(fmt.Errorf("home job without user"))
	}
	incs, err := b.desk.List(ctx, desk.Filter{OpenOnly: true})
	if err != nil {
		return err
	}
	now := b.now()
	var open []view
	for _, inc := range incs {
		open = append(open, view{inc: inc, st: inc.State(b.cat.Policy, now), cat: b.cat, now: now})
	}
	extra := append(b.budgetHome(ctx), b.reviewHome(ctx, p.User)...)
	_, err = b.api.PublishViewContext(ctx, slack.PublishViewContextRequest{
		UserID: p.User,
		View:   slack.HomeTabViewRequest{Type: slack.VTHomeTab, Blocks: slack.Blocks{BlockSet: homeBlocks(b.cat, open, now, extra)}},
	})
	return err
}

// catchUp records the human messages of open incident channels that the
// timeline lacks (sent while the bot was disconnected, never replayed).
func (b *Bot) catchUp(ctx context.Context, _ desk.Job) error {
	incs, err := b.desk.List(ctx, desk.Filter{OpenOnly: true})
	if err != nil {
		return err
	}
	for _, inc := range incs {
		cs, ok, err := b.channelOf(ctx, inc.Number)
		if err != nil || !ok || cs.ID == "" {
			continue
		}
		known := map[string]bool{}
		oldest := ""
		for _, e := range inc.Events {
			if e.Kind == incident.EventMessage {
				known[e.Key] = true
				if e.Key > oldest {
					oldest = e.Key
				}
			}
		}
		cursor := ""
		for {
			h, err := b.api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{ChannelID: cs.ID, Oldest: oldest, Cursor: cursor, Limit: 200})
			if err != nil {
				return fmt.Errorf("catch up incident %d: %w", inc.Number, err)
			}
			// History is newest first; record oldest first.
			for i := len(h.Messages) - 1; i >= 0; i-- {
				m := h.Messages[i]
				if m.SubType != "" || m.BotID != "" || m.User == "" || m.User == b.botUser() || known[m.Timestamp] {
					continue
				}
				if _, err := b.desk.Record(ctx, inc.Number, incident.Event{Kind: incident.EventMessage, Actor: m.User, Key: m.Timestamp, Text: chatText(m.Text), Idem: "msg/" + m.Timestamp}); err != nil && incident.ErrorCode(err) != incident.EINVALID {
					return err
				}
			}
			if !h.HasMore || h.ResponseMetaData.NextCursor == "" {
				break
			}
			cursor = h.ResponseMetaData.NextCursor
		}
	}
	return nil
}
