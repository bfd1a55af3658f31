package bot_test

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"

	"github.com/incidentbot/incidentbot/bot"
	"github.com/incidentbot/incidentbot/incident/boltstore"
	"github.com/incidentbot/incidentbot/incident/boltstore/bolttest"
	"github.com/incidentbot/incidentbot/incident/desk"
	"github.com/incidentbot/incidentbot/incident/incidenttest"
)

// hungStore is a store whose writes never finish until their context
// ends, as an unreachable database would.
type hungStore struct{ *boltstore.Store }

func (s hungStore) Enqueue(ctx context.Context, _ ...desk.Job) error {
	<-ctx.Done()
	return ctx.Err()
}

func (s hungStore) EnqueueAdded(ctx context.Context, _ ...desk.Job) (int, error) {
	<-ctx.Done()
	return 0, ctx.Err()
}

type countingAcker struct{ n atomic.Int32 }

func (a *countingAcker) Ack(socketmode.Request, ...any) error { a.n.Add(1); return nil }

// Storing an envelope has a deadline: when the store does not answer, the
// intake gives up and leaves the envelope unacknowledged, so that Slack
// delivers it again, instead of holding a goroutine (and in the end the
// Socket Mode reader) forever.
func TestIntakeGivesUpOnAHungStore(t *testing.T) {
	st := bolttest.Open(t, boltstore.Options{})
	clk := incidenttest.NewClock(incidenttest.T0)
	d := desk.New(st, incidenttest.Furniture(), desk.Options{Now: clk.Now})
	b := bot.New(bot.NewClient(bot.ClientOptions{BotToken: "xoxb-test", APIURL: "http://127.0.0.1:9/"}), d, hungStore{st},
		bot.Options{Now: clk.Now, StoreTimeout: 50 * time.Millisecond})
	cmd := slack.SlashCommand{Command: "/incident", Text: "declare bedroom Beds down", UserID: "U1", ChannelID: "C1"}
	raw, _ := json.Marshal(cmd)
	ack := &countingAcker{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		b.Intake(context.Background(), ack, socketmode.Event{Type: socketmode.EventTypeSlashCommand, Data: cmd,
			Request: &socketmode.Request{Type: "slash_commands", EnvelopeID: "env-1", Payload: raw}})
	}()
	select {
	case <-done:
	case <-time.After(incidenttest.WaitTimeout):
		t.Fatal("the intake waited on the store with no deadline")
	}
	if ack.n.Load() != 0 {
		t.Error("an envelope that was not stored was acknowledged")
	}
}
