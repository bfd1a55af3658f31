package bot

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/incidentbot/incidentbot/incident"
	"github.com/incidentbot/incidentbot/incident/desk"
)

// movedMark prefixes the mapping of a channel an incident moved away from
// (followed by the channel it moved to): the channel no longer maps to the
// incident.
const movedMark = "moved:"

// moveState records the steps of moving a security incident from its
// public channel to a private one, each as it completes, so that a retry
// after a crash resumes where it stopped and never creates a second
// channel, invites twice or posts the pointer twice.
type moveState struct {
	From     channelState `json:"from"`         // the public channel
	To       string       `json:"to,omitempty"` // the private channel
	Unmapped bool         `json:"unmapped,omitempty"`
	Invited  bool         `json:"invited,omitempty"`
	Told     bool         `json:"told,omitempty"` // the note in the private channel
	Pointed  bool         `json:"pointed,omitempty"`
	Archived bool         `json:"archived,omitempty"`
}

func (b *Bot) moveOf(ctx context.Context, n int64) (moveState, bool, error) {
	var ms moveState
	raw, ok, err := b.store.GetKV(ctx, bucketMoves, itoa(n))
	if err != nil || !ok {
		return ms, false, err
	}
	return ms, true, json.Unmarshal(raw, &ms)
}

func (b *Bot) saveMove(ctx context.Context, n int64, ms moveState) error {
	raw, _ := json.Marshal(ms)
	return b.store.Put(ctx, bucketMoves, itoa(n), raw)
}

// makePrivate runs the desk's slack.channel.private job: an incident that
// became a security incident in a public channel moves to a new private
// channel (inc-<n>-<slug>-<k>, the next free suffix), dressed like the
// first (topic, card, pin, runbook), with its responders invited; the
// incident's commands and events follow it there. The public channel gets
// a pointer and is archived.
func (b *Bot) makePrivate(ctx context.Context, j desk.Job) error {
	n := j.Incident
	ms, ok, err := b.startMove(ctx, n)
	if err != nil || !ok {
		return err
	}
	v, err := b.load(ctx, n)
	if err != nil {
		return err
	}
	steps := []struct {
		done *bool
		do   func() error
	}{
		{&ms.Unmapped, func() error { return b.openPrivate(ctx, v, &ms) }},
		{new(bool), func() error { return b.ensureChannel(ctx, j) }},
		{&ms.Invited, func() error { return b.inviteUsers(ctx, ms.To, b.responders(v)) }},
		{&ms.Told, func() error { return b.tellMoved(ctx, v, ms) }},
		{&ms.Pointed, func() error { return b.pointToPrivate(ctx, v, ms) }},
		{&ms.Archived, func() error { return b.archivePublic(ctx, n, ms.From.ID) }},
	}
	for i, s := range steps {
		if *s.done {
			continue
		}
		if err := s.do(); err != nil {
			if i == 0 {
				return b.moveRefused(ctx, v, ms, err)
			}
			return err
		}
		*s.done = true
		if err := b.saveMove(ctx, n, ms); err != nil {
			return err
		}
	}
	return nil
}

// moveRefused handles a private channel Slack refuses to create: when
// retrying cannot help (the workspace restricts private channels, the app
// lacks a scope), the public channel is warned once and the job ends; the
// review's link still never goes there (see postReviewNews).
func (b *Bot) moveRefused(ctx context.Context, v view, ms moveState, err error) error {
	switch code := slackErr(err); code {
	case "", "internal_error", "fatal_error", "service_unavailable", "request_timeout", "ratelimited":
		return err
	default:
		b.log.Error("a security incident could not move to a private channel", "incident", v.inc.Number, "err", err)
		text := fmt.Sprintf("⚠️ #%d is a security incident, but Slack refused to create a private channel for it (`%s`): *this channel stays public*. Keep sensitive details out of it; an incident manager can open a private channel by hand.",
			v.inc.Number, esc(code))
		if _, perr := b.postOnce(ctx, fmt.Sprintf("move-refused/%d", v.inc.Number), ms.From.ID, text, nil); perr != nil {
			return perr
		}
		return desk.Permanent(err)
	}
}

// startMove returns the move in progress, or starts one once the public
// channel is ready; ok is false when there is nothing to move (the channel
// was created private).
func (b *Bot) startMove(ctx context.Context, n int64) (moveState, bool, error) {
	ms, ok, err := b.moveOf(ctx, n)
	if err != nil || ok {
		return ms, ok, err
	}
	cs, err := b.channelReady(ctx, n)
	if err != nil {
		return ms, false, err
	}
	if cs.Private {
		return ms, false, nil
	}
	ms = moveState{From: cs}
	return ms, true, b.saveMove(ctx, n, ms)
}

// openPrivate creates (or, after a crash, finds) the private channel, makes
// it the incident's channel and unmaps the public one.
func (b *Bot) openPrivate(ctx context.Context, v view, ms *moveState) error {
	n := v.inc.Number
	if ms.To == "" {
		cs, _, err := b.channelOf(ctx, n)
		if err != nil {
			return err
		}
		if cs.ID == "" || cs.ID == ms.From.ID {
			// The next suffix after the public channel's: a channel of
			// this incident with that name is ours to adopt.
			attempt := max(ms.From.Attempt, 1) + 1
			if cs, err = b.createChannel(ctx, v, channelState{Attempt: attempt, MovedFrom: ms.From.ID}); err != nil {
				return err
			}
		}
		ms.To = cs.ID
		if err := b.saveMove(ctx, n, *ms); err != nil {
			return err
		}
	}
	return b.store.Put(ctx, bucketChannelInc, ms.From.ID, []byte(movedMark+ms.To))
}

// responders are the people who took part in the incident (acted on its
// timeline, commanded it, were called out) and the incident managers:
// those invited to its private channel. People who only joined the public
// channel are not; a member can add them.
func (b *Bot) responders(v view) []string {
	seen := map[string]bool{}
	add := func(u string) {
		if isUser(u) && u != b.botUser() {
			seen[u] = true
		}
	}
	add(v.st.Commander)
	for _, e := range v.inc.Events {
		add(e.Actor)
		switch e.Kind {
		case incident.EventCommander:
			add(e.User)
		case incident.EventCalledOut:
			for _, u := range e.Users {
				add(u)
			}
		}
	}
	for _, im := range b.cat.IncidentManagers {
		add(im)
	}
	out := make([]string, 0, len(seen))
	for u := range seen {
		out = append(out, u)
	}
	sort.Strings(out)
	return out
}

// tellMoved explains the private channel in it.
func (b *Bot) tellMoved(ctx context.Context, v view, ms moveState) error {
	text := fmt.Sprintf("🔒 *#%d %s* is a security incident: it continues here, in private. Its earlier messages stay in <#%s> (archived). Add anyone else who should be here with `/invite`.",
		v.inc.Number, esc(v.inc.Title), ms.From.ID)
	_, err := b.postOnce(ctx, fmt.Sprintf("moved-here/%d", v.inc.Number), ms.To, text, nil)
	return err
}

// pointToPrivate tells the public channel where the incident went, without
// naming the private channel.
func (b *Bot) pointToPrivate(ctx context.Context, v view, ms moveState) error {
	text := fmt.Sprintf("🔒 Incident #%d is now a security incident: it continues in a private channel, where its responders were invited, and this channel is archived. If you should be there too, ask the commander (%s) or an incident manager.",
		v.inc.Number, user(v.st.Commander))
	_, err := b.postOnce(ctx, fmt.Sprintf("moved/%d", v.inc.Number), ms.From.ID, text, nil)
	switch slackErr(err) {
	case "is_archived", "channel_not_found", "not_in_channel":
		b.log.Warn("could not leave a pointer in the public channel of a security incident", "incident", v.inc.Number, "err", err)
		return nil
	}
	return err
}

// archivePublic archives the public channel. Refusals that retrying cannot
// fix are logged for the operator to archive it by hand.
func (b *Bot) archivePublic(ctx context.Context, n int64, channel string) error {
	err := b.api.ArchiveConversationContext(ctx, channel)
	switch code := slackErr(err); code {
	case "":
		if err != nil {
			return fmt.Errorf("archive the public channel: %w", err)
		}
	case "already_archived", "channel_not_found":
	case "internal_error", "fatal_error", "service_unavailable", "request_timeout", "ratelimited":
		return fmt.Errorf("archive the public channel: %w", err)
	default:
		b.log.Warn("could not archive the public channel of a security incident: archive it by hand", "incident", n, "channel", channel, "err", err)
	}
	return nil
}

// cardKey is the postOnce key of an incident's card, and topicKey the key
// of the topic it last set: one per channel, so that the private channel an
// incident moved to gets a card and a topic of its own.
func cardKey(n int64, cs channelState) string {
	if cs.MovedFrom != "" {
		return fmt.Sprintf("card/%d/%s", n, cs.ID)
	}
	return fmt.Sprintf("card/%d", n)
}

func topicKey(n int64, cs channelState) string {
	if cs.MovedFrom != "" {
		return fmt.Sprintf("topic/%d/%s", n, cs.ID)
	}
	return fmt.Sprintf("topic/%d", n)
}
