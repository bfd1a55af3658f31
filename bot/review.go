package bot

import (
	"context"

	"github.com/slack-go/slack"

	"github.com/incidentbot/incidentbot/incident/boltstore"
)

// This file is the seam between the Slack adapter and post-incident
// reviews: every review entry point of the bot goes through these methods.

// reviewVerbs are the /incident verbs handled by reviewCommand.
var reviewVerbs = map[string]bool{"stats": true, "actions": true, "action": true, "review": true, "publish": true}

// reviewCommand handles /incident stats|actions|action|review|publish.
func (b *Bot) reviewCommand(ctx context.Context, j boltstore.Job, cmd slack.SlashCommand, c Command, to replyTo) error {
	return b.reply(ctx, to, "Post-incident reviews, improvement actions and measures are not enabled in this version of incidentbot yet.")
}

// reviewIntake gets first look at block actions that must open a modal
// within the trigger's 3 s; it reports whether it handled the action.
func (b *Bot) reviewIntake(ctx context.Context, cb slack.InteractionCallback, a *slack.BlockAction) bool {
	return false
}

// reviewInteraction handles stored block actions and view submissions that
// belong to reviews; it reports whether it handled them.
func (b *Bot) reviewInteraction(ctx context.Context, j boltstore.Job, cb slack.InteractionCallback, to replyTo) (bool, error) {
	return false, nil
}

// draftReview runs the desk's review.draft job after a resolution.
func (b *Bot) draftReview(ctx context.Context, j boltstore.Job) error { return nil }

// reviewHome returns the App Home blocks for a user's open actions and the
// 30-day measures.
func (b *Bot) reviewHome(ctx context.Context, userID string) []slack.Block {
	return []slack.Block{
		slack.NewHeaderBlock(plain("Your improvement actions")),
		slack.NewContextBlock("", mrkdwn("Improvement actions are tracked here once post-incident reviews are enabled.")),
		slack.NewHeaderBlock(plain("Last 30 days")),
		slack.NewContextBlock("", mrkdwn("Measures (majors, minors, time to restore, loss, effectiveness) appear here once post-incident reviews are enabled.")),
	}
}
