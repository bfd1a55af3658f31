package bot

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/incidentbot/incidentbot/review/reviewstore"
)

// DefaultPreviewTTL is how long a preview link works unless
// Options.PreviewTTL says otherwise.
const DefaultPreviewTTL = 7 * 24 * time.Hour

func (b *Bot) previewTTL() time.Duration {
	if b.opts.PreviewTTL > 0 {
		return b.opts.PreviewTTL
	}
	return DefaultPreviewTTL
}

// previewURL is the link to a review's preview (or, for a published
// non-private review, its page); ok is false without a public URL. A
// preview carries a token signed for this review that expires after
// previewTTL: a link passed on, or found in an old message, stops working.
func (b *Bot) previewURL(ctx context.Context, rec *reviewstore.Record) (string, bool) {
	base := strings.TrimRight(b.opts.PublicURL, "/")
	if base == "" {
		return "", false
	}
	u := fmt.Sprintf("%s/reviews/%d", base, rec.Number)
	if rec.Published() && !rec.Private {
		return u, true
	}
	tok, err := b.reviews.PreviewToken(ctx, rec.Number, b.now().Add(b.previewTTL()))
	if err != nil {
		b.log.Warn("could not sign a preview link", "incident", rec.Number, "err", err)
		return "", false
	}
	return u + "?preview=" + tok, true
}

// reviewLink is a Slack link to the review labelled label, or its path
// when there is no public URL.
func (b *Bot) reviewLink(ctx context.Context, rec *reviewstore.Record, label string) string {
	u, ok := b.previewURL(ctx, rec)
	if !ok {
		return "*#" + itoa(rec.Number) + " " + esc(rec.Title) + "* at `/reviews/" + itoa(rec.Number) + "` (set http.public_url for links)"
	}
	l := link(u, label)
	if !rec.Published() || rec.Private {
		l += fmt.Sprintf(" (this link works for %s; `/incident review` gives a new one)", durationWords(b.previewTTL()))
	}
	return l
}

func (b *Bot) publishedLink(ctx context.Context, rec *reviewstore.Record) string {
	return b.reviewLink(ctx, rec, "#"+itoa(rec.Number)+" "+rec.Title)
}

// postReviewNews posts news of a review in its incident channel, text
// wrapping the review's link. A private review's link goes only where only
// the right people read it: into the incident channel when that channel is
// private; otherwise the channel hears the news without the link and the
// incident managers get it by DM.
func (b *Bot) postReviewNews(ctx context.Context, key string, cs channelState, rec *reviewstore.Record, label string, text func(link string) string) error {
	l := b.reviewLink(ctx, rec, label)
	if !rec.Private || cs.Private {
		_, err := b.postOnce(ctx, key, cs.ID, text(l), nil)
		return err
	}
	if _, err := b.postOnce(ctx, key, cs.ID, text("🔒 its link went to the incident managers by DM: a private review's link is never posted in a public channel"), nil); err != nil {
		return err
	}
	return b.dmManagers(ctx, key, text(l))
}

// dmManagers sends text to every incident manager by DM, once each.
func (b *Bot) dmManagers(ctx context.Context, key, text string) error {
	return b.dmEach(ctx, b.cat.IncidentManagers, "incident manager", key+"/dm/", text)
}

// durationWords says a duration the way people do: "7 days", "36 hours".
func durationWords(d time.Duration) string {
	switch {
	case d >= 48*time.Hour && d%(24*time.Hour) == 0:
		return fmt.Sprintf("%d days", d/(24*time.Hour))
	case d >= 2*time.Hour:
		return fmt.Sprintf("%d hours", d/time.Hour)
	case d == time.Hour:
		return "an hour"
	default:
		return fmt.Sprintf("%d minutes", max(1, d/time.Minute))
	}
}
