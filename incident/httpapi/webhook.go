package httpapi

import "net/http"

// WebhookOutcome is what became of one webhook delivery, for metrics. The
// set is fixed, so that it can label metrics.
type WebhookOutcome string

// Webhook outcomes.
const (
	WebhookAccepted WebhookOutcome = "accepted" // stored (2xx)
	// WebhookDuplicate: a redelivery of one already stored (2xx); it
	// changed nothing.
	WebhookDuplicate WebhookOutcome = "duplicate"
	// WebhookRefused: a 4xx, for a delivery that can never succeed (bad
	// signature or token, malformed payload).
	WebhookRefused WebhookOutcome = "refused"
	// WebhookFailed: a 5xx, not stored (storage failed or was too slow);
	// the sender delivers it again.
	WebhookFailed WebhookOutcome = "failed"
)

// WebhookOutcomes lists every WebhookOutcome.
var WebhookOutcomes = []WebhookOutcome{WebhookAccepted, WebhookDuplicate, WebhookRefused, WebhookFailed}

// ObserveWebhook serves r with serve and, when obs is set, tells it the
// outcome: from the status code serve answered with, and whether serve
// found the delivery to be a duplicate.
func ObserveWebhook(obs func(WebhookOutcome), w http.ResponseWriter, r *http.Request, serve func(http.ResponseWriter, *http.Request) (duplicate bool)) {
	if obs == nil {
		serve(w, r)
		return
	}
	sw := &statusWriter{ResponseWriter: w}
	dup := serve(sw, r)
	switch code := sw.code(); {
	case code >= 500:
		obs(WebhookFailed)
	case code >= 400:
		obs(WebhookRefused)
	case dup:
		obs(WebhookDuplicate)
	default:
		obs(WebhookAccepted)
	}
}
