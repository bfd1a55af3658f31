package bot

import (
	"net/http"
	"time"

	"github.com/slack-go/slack"
)

// ClientOptions configure the Slack Web API client.
type ClientOptions struct {
	BotToken, AppToken string
	APIURL             string // with a trailing slash; empty is Slack's
	// Timeout bounds every Web API call, a hung connection included;
	// default 15 s. A call that times out is retried like a 5xx, through
	// the same idempotency as any failed call.
	Timeout time.Duration
}

// DefaultCallTimeout is the deadline of one Slack Web API call.
const DefaultCallTimeout = 15 * time.Second

// NewClient returns the Slack client the bot and its Socket Mode
// connection use: every call has a deadline.
func NewClient(o ClientOptions) *slack.Client {
	if o.Timeout <= 0 {
		o.Timeout = DefaultCallTimeout
	}
	opts := []slack.Option{
		slack.OptionHTTPClient(&http.Client{Timeout: o.Timeout}),
		slack.OptionAppLevelToken(o.AppToken),
	}
	if o.APIURL != "" {
		opts = append(opts, slack.OptionAPIURL(o.APIURL))
	}
	return slack.New(o.BotToken, opts...)
}
