package bot

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"path"
	"regexp"
	"time"

	"github.com/slack-go/slack"

	"github.com/incidentbot/incidentbot/internal/apicall"
)

// ClientOptions configure the Slack Web API client.
type ClientOptions struct {
	BotToken, AppToken string
	APIURL             string // with a trailing slash; empty is Slack's
	// Timeout bounds every Web API call, a hung connection included;
	// default 15 s. A call that times out is retried like a 5xx, through
	// the same idempotency as any failed call.
	Timeout time.Duration
	// Observe, if set, is told of every Web API call: its method (e.g.
	// "chat.postMessage"), outcome and duration (for metrics).
	Observe apicall.Observer
}

// DefaultCallTimeout is the deadline of one Slack Web API call.
const DefaultCallTimeout = 15 * time.Second

// NewClient returns the Slack client the bot and its Socket Mode
// connection use: every call has a deadline.
func NewClient(o ClientOptions) *slack.Client {
	if o.Timeout <= 0 {
		o.Timeout = DefaultCallTimeout
	}
	hc := &http.Client{Timeout: o.Timeout}
	if o.Observe != nil {
		hc.Transport = &apicall.Transport{Method: SlackMethod, Inspect: slackOutcome, Observe: o.Observe}
	}
	opts := []slack.Option{
		slack.OptionHTTPClient(hc),
		slack.OptionAppLevelToken(o.AppToken),
	}
	if o.APIURL != "" {
		opts = append(opts, slack.OptionAPIURL(o.APIURL))
	}
	return slack.New(o.BotToken, opts...)
}

// slackMethodRE is the shape of a Web API method name.
var slackMethodRE = regexp.MustCompile(`^[a-z]+(\.[a-zA-Z]+){1,3}$`)

// SlackMethod names the Web API method a request calls: the last element of
// its path ("chat.postMessage"), or "other" for anything that does not look
// like a method name, so that a label never carries an arbitrary string.
func SlackMethod(req *http.Request) string {
	if m := path.Base(req.URL.Path); slackMethodRE.MatchString(m) {
		return m
	}
	return "other"
}

// peekLimit bounds how much of an answer slackOutcome reads ahead. Slack's
// error answers are small; an answer longer than this is a success.
const peekLimit = 4 << 10

// slackOutcome tells a Slack error answer (HTTP 200 with "ok": false)
// from a success by reading up to peekLimit bytes of the body ahead; the
// body is left readable from its start.
func slackOutcome(resp *http.Response) apicall.Outcome {
	head, err := io.ReadAll(io.LimitReader(resp.Body, peekLimit+1))
	resp.Body = readCloser{io.MultiReader(bytes.NewReader(head), resp.Body), resp.Body}
	if err != nil {
		return apicall.Classify(resp.Request, nil, err)
	}
	var answer struct {
		OK *bool `json:"ok"`
	}
	if len(head) <= peekLimit && json.Unmarshal(head, &answer) == nil && answer.OK != nil && !*answer.OK {
		return apicall.APIError
	}
	return apicall.OK
}

type readCloser struct {
	io.Reader
	io.Closer
}
