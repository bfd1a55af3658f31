package bot_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"testing"

	"github.com/incidentbot/incidentbot/incident"
	"github.com/incidentbot/incidentbot/incident/desk"
)

// A message pasted, edited and deleted in real Slack's way (message_changed
// and message_deleted carry the previous text) leaves no trace in the
// database file once the bot has processed the deletion: not in the
// timeline, not in the inbox envelopes, not in free pages.
func TestDeletedMessageLeavesNoTraceInTheDatabase(t *testing.T) {
	e := newEnv(t, tuesdayNoon)
	e.slash(alice, announc, "declare bedroom Leaky")
	ch := e.channelOf(1)
	ctx := e.ctx()
	e.waitMember(alice, ch.ID)
	const secret, edited = "db password is hunter2", "db password is hunter2, sorry: hunter3"
	ts, err := e.fs.PostUserMessage(ctx, alice, ch.ID, secret)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.fs.PostUserMessage(ctx, alice, ch.ID, "rolling back"); err != nil {
		t.Fatal(err)
	}
	if err := e.fs.EditUserMessage(ctx, alice, ch.ID, ts, edited); err != nil {
		t.Fatal(err)
	}
	if err := e.fs.PinMessage(ctx, alice, ch.ID, ts); err != nil {
		t.Fatal(err)
	}
	e.waitFor("the edit and the pin", func() bool {
		_, st := e.incident(1)
		return len(st.Messages) == 2 && st.Messages[0].Text == edited && st.Messages[0].Key
	})
	if raw, err := os.ReadFile(e.path); err != nil || !bytes.Contains(raw, []byte("hunter2")) {
		t.Fatalf("the database does not hold the text before the deletion (%v): this test would prove nothing", err)
	}
	if err := e.fs.DeleteUserMessage(ctx, alice, ch.ID, ts); err != nil {
		t.Fatal(err)
	}
	e.waitFor("the deletion, its inbox envelope done", func() bool {
		inc, st := e.incident(1)
		deleted := false
		for _, ev := range inc.Events {
			deleted = deleted || ev.Kind == incident.EventMessageDeleted
		}
		return deleted && len(st.Messages) == 1 && inputQueueEmpty(t, e)
	})
	raw, err := os.ReadFile(e.path)
	if err != nil {
		t.Fatal(err)
	}
	if i := bytes.Index(raw, []byte("hunter")); i >= 0 {
		t.Errorf("the database file still holds the deleted text: …%q…", raw[max(0, i-200):min(len(raw), i+100)])
	}
}

func inputQueueEmpty(t *testing.T, e *env) bool {
	jobs, err := e.inst.Store.Pending(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range jobs {
		if j.Queue == desk.QueueInput {
			return false
		}
	}
	return true
}

// A pinned message quoted by a drafted review, deleted after the
// resolution: the review is redrafted without it, and neither the review
// nor the database file keeps its text.
func TestDeletedMessageLeavesTheDraftedReview(t *testing.T) {
	re := newReviewEnv(t, tuesdayNoon)
	const secret = "the admin password is hunter2"
	var ts string
	ch := re.resolvedMajor("Leaky review", func(ch string) {
		var err error
		if ts, err = re.fs.PostUserMessage(re.ctx(), alice, ch, secret); err != nil {
			t.Fatal(err)
		}
		if err := re.fs.PinMessage(re.ctx(), alice, ch, ts); err != nil {
			t.Fatal(err)
		}
		re.waitFor("the pin", func() bool { _, st := re.incident(1); return len(st.Messages) == 1 && st.Messages[0].Key })
	})
	quotes := func() bool {
		rec, ok := re.record(1)
		raw, _ := json.Marshal(rec)
		return ok && bytes.Contains(raw, []byte("hunter2"))
	}
	re.waitFor("the draft quoting the pinned message", func() bool {
		rec, ok := re.record(1)
		return ok && rec.Status == incident.ReviewDrafted && quotes()
	})
	if err := re.fs.DeleteUserMessage(re.ctx(), alice, ch, ts); err != nil {
		t.Fatal(err)
	}
	re.waitFor("the redraft", func() bool { return !quotes() })
	re.waitFor("the redraft's job done", func() bool {
		jobs, err := re.inst.Store.Pending(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, j := range jobs {
			if j.Kind == desk.JobReview || j.Queue == desk.QueueInput {
				return false
			}
		}
		return true
	})
	raw, err := os.ReadFile(re.path)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte("hunter2")) {
		t.Error("the database file still holds the deleted text")
	}
}
