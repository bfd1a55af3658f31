// Package apicall observes the bot's outbound API calls (the Slack Web API,
// the PagerDuty REST API) where they leave the process: one observation per
// HTTP round trip, with the API method it called, its outcome and how long
// it took. It knows no metrics library: the wiring turns observations into
// Prometheus histograms. Method names come from the adapters, which map a
// request to a fixed name (never a raw ID), so that metric labels stay few.
package apicall

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"
)

// Outcome is how a call ended. The set is fixed, so that it can label
// metrics.
type Outcome string

// Outcomes.
const (
	OK          Outcome = "ok"  // a 1xx-3xx answer that does not say the call failed
	RateLimited Outcome = "429" // HTTP 429 Too Many Requests
	ClientError Outcome = "4xx" // another 4xx
	ServerError Outcome = "5xx"
	// APIError is a 2xx answer whose body says the call failed (Slack's
	// {"ok":false,"error":…}).
	APIError Outcome = "api_error"
	Timeout  Outcome = "timeout"  // no (complete) answer within the call's deadline
	Canceled Outcome = "canceled" // the caller gave up (shutting down)
	// NetworkError: no answer for another reason (refused, reset, DNS).
	NetworkError Outcome = "network_error"
)

// Outcomes lists every Outcome.
var Outcomes = []Outcome{OK, RateLimited, ClientError, ServerError, APIError, Timeout, Canceled, NetworkError}

// Observer receives one observation per call. It must be quick.
type Observer func(method string, outcome Outcome, took time.Duration)

// Classify is the outcome of a round trip of req that answered resp or err.
func Classify(req *http.Request, resp *http.Response, err error) Outcome {
	if err != nil {
		ctx := context.Background()
		if req != nil {
			ctx = req.Context()
		}
		return classifyErr(ctx, err)
	}
	switch c := resp.StatusCode; {
	case c == http.StatusTooManyRequests:
		return RateLimited
	case c >= 500:
		return ServerError
	case c >= 400:
		return ClientError
	}
	return OK
}

func classifyErr(ctx context.Context, err error) Outcome {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded) || pastDeadline(ctx):
		return Timeout
	case errors.As(err, &ne) && ne.Timeout():
		return Timeout
	case errors.Is(err, context.Canceled) || ctx.Err() != nil:
		return Canceled
	}
	return NetworkError
}

// pastDeadline reports whether ctx's deadline has passed, before its timer
// may have told ctx.Err (an http.Client Timeout cancels the request at the
// same instant).
func pastDeadline(ctx context.Context) bool {
	dl, ok := ctx.Deadline()
	return ok && !time.Now().Before(dl)
}

// Transport is an http.RoundTripper that observes each round trip of Next.
type Transport struct {
	Next http.RoundTripper // nil: http.DefaultTransport
	// Method names the API method req calls; required.
	Method func(req *http.Request) string
	// Inspect, if set, refines the outcome of an answer that Classify
	// finds OK (e.g. reads the first bytes of its body); it may replace
	// resp.Body, and must leave it readable from the start.
	Inspect func(resp *http.Response) Outcome
	Observe Observer // nil observes nothing
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	next := t.Next
	if next == nil {
		next = http.DefaultTransport
	}
	if t.Observe == nil {
		return next.RoundTrip(req)
	}
	start := time.Now() // a duration, measured on the monotonic clock
	resp, err := next.RoundTrip(req)
	o := Classify(req, resp, err)
	if o == OK && t.Inspect != nil {
		o = t.Inspect(resp)
	}
	t.Observe(t.Method(req), o, time.Since(start))
	return resp, err
}
