package incident

import (
	"slices"
	"time"
)

// messageFold applies edits, pins, 📌 reactions and deletions to the human
// messages of a timeline, in timeline order. A pin or a deletion recorded
// before its message (a catch-up after an outage records the message late)
// still applies to it; an edit only applies after the message, whose text,
// if recorded late, is already the edited one.
type messageFold struct {
	msgs    []Message
	index   map[string]int // ts → position in msgs
	keyed   map[string]bool
	deleted map[string]bool
}

func newMessageFold() *messageFold {
	return &messageFold{index: map[string]int{}, keyed: map[string]bool{}, deleted: map[string]bool{}}
}

// apply folds one event in; it reports whether the event is about a human
// message (a message, an edit, a deletion or a key event).
func (f *messageFold) apply(e Event) bool {
	switch e.Kind {
	case EventMessage:
		if _, dup := f.index[e.Key]; !dup {
			f.index[e.Key] = len(f.msgs)
			f.msgs = append(f.msgs, Message{TS: e.Key, At: e.At, User: e.Actor, Text: e.Text,
				Key: f.keyed[e.Key], Deleted: f.deleted[e.Key]})
			f.erase(e.Key)
		}
	case EventMessageEdited:
		if i, ok := f.index[e.Key]; ok && !f.msgs[i].Deleted {
			f.msgs[i].Text, f.msgs[i].Edited = e.Text, true
		}
	case EventMessageDeleted:
		f.deleted[e.Key] = true
		f.erase(e.Key)
	case EventKeyEvent:
		f.keyed[e.Key] = true
		if i, ok := f.index[e.Key]; ok {
			f.msgs[i].Key = true
		}
	default:
		return false
	}
	return true
}

func (f *messageFold) erase(ts string) {
	if i, ok := f.index[ts]; ok && f.deleted[ts] {
		f.msgs[i].Deleted, f.msgs[i].Text = true, ""
	}
}

// add takes in a message already folded elsewhere (one that came with a
// merged incident), unless the fold holds it.
func (f *messageFold) add(m Message) {
	if _, dup := f.index[m.TS]; !dup {
		f.index[m.TS] = len(f.msgs)
		f.msgs = append(f.msgs, m)
	}
}

// message returns the folded message with the ts.
func (f *messageFold) message(ts string) (Message, bool) {
	i, ok := f.index[ts]
	if !ok {
		return Message{}, false
	}
	return f.msgs[i], true
}

// live returns the messages that were not deleted.
func (f *messageFold) live() []Message {
	var out []Message
	for _, m := range f.msgs {
		if !m.Deleted {
			out = append(out, m)
		}
	}
	return out
}

// Entry is one line of a timeline as it reads now. For a human message,
// Message says how it reads (edits applied, pinned, deleted) and Event is
// the message's first event; other events are as recorded.
type Entry struct {
	Event
	Message *Message
}

// Timeline is what happened up to t: every event in order, except that the
// edits, pins, 📌 reactions and deletions of a human message are folded into
// the message instead of listed. A key event for a message the timeline
// does not hold (a pinned bot post) stays listed; an edit or deletion of
// one says nothing and is left out.
func Timeline(evs []Event, t time.Time) []Entry {
	f := newMessageFold()
	n := 0
	for _, e := range evs {
		if e.At.After(t) {
			break
		}
		f.apply(e)
		n++
	}
	out := make([]Entry, 0, n)
	listed := map[string]bool{}
	for _, e := range evs[:n] {
		switch e.Kind {
		case EventMessage:
			if listed[e.Key] {
				continue
			}
			listed[e.Key] = true
			m, _ := f.message(e.Key)
			e.Text = m.Text
			out = append(out, Entry{Event: e, Message: &m})
		case EventMessageEdited, EventMessageDeleted:
		case EventKeyEvent:
			if _, ok := f.message(e.Key); !ok {
				out = append(out, Entry{Event: e})
			}
		default:
			out = append(out, Entry{Event: e})
		}
	}
	return out
}

// lookup reports, in one pass from the newest event, whether an event with
// the idempotency key is on the timeline (dup) and whether the deletion of a
// message with the ts is ("" to not look).
func (inc *Incident) lookup(idem, ts string) (dup, deleted bool) {
	for i := len(inc.Events) - 1; i >= 0; i-- {
		e := &inc.Events[i]
		if idem != "" && e.Idem == idem {
			return true, deleted
		}
		if ts != "" && e.Kind == EventMessageDeleted && e.Key == ts {
			deleted = true
		}
	}
	return false, deleted
}

// eraseMessage erases the text of the message with the ts and of its edits
// and returns the seqs of the events it changed. It erases in a copy of the
// timeline: the slice it had may be shared (storage lends its cached
// timeline to the writer for appending only).
func (inc *Incident) eraseMessage(ts string) []int {
	var idx, seqs []int
	for i := range inc.Events {
		if e := &inc.Events[i]; (e.Kind == EventMessage || e.Kind == EventMessageEdited) && e.Key == ts && e.Text != "" {
			idx, seqs = append(idx, i), append(seqs, e.Seq)
		}
	}
	if len(idx) == 0 {
		return nil
	}
	inc.Events = slices.Clone(inc.Events)
	for _, i := range idx {
		inc.Events[i].Text = ""
	}
	return seqs
}
