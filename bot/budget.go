package bot

import (
	"context"
	"fmt"
	"strings"

	"github.com/slack-go/slack"

	"github.com/incidentbot/incidentbot/incident"
)

// drillNotice is shown on a drill's card.
const drillNotice = "🧪 *This is a drill* — a Chaos Day practice incident. It is priced and run like a real one, " +
	"but PagerDuty is not paged and it is left out of the reliability and loss measures and of the error budget."

// drillTag prefixes a drill's name wherever it is listed.
func drillTag(inc *incident.Incident) string {
	if inc.Drill {
		return "🧪 *DRILL* "
	}
	return ""
}

func drillTopic(inc *incident.Incident) string {
	if inc.Drill {
		return "DRILL · "
	}
	return ""
}

// budgetLine says how much of a service's weekly error budget is used:
// "Weekly error budget 39.7% used: 0:40:00 of 1:40:48, 1:00:48 left".
func budgetLine(b incident.Budget) string {
	if b.Over() {
		return fmt.Sprintf("🔥 *Over its weekly error budget*: %s used, %s of %s (over by %s, last 7 days)",
			b.UsedPercent(), incident.FormatHMS(b.Used), incident.FormatHMS(b.Budget), incident.FormatHMS(-b.Left()))
	}
	return fmt.Sprintf("Weekly error budget %s used: %s of %s, %s left (last 7 days)",
		b.UsedPercent(), incident.FormatHMS(b.Used), incident.FormatHMS(b.Budget), incident.FormatHMS(b.Left()))
}

// cardBudgetLine is the card's budget line: the service's weekly budget used
// including this incident so far; a drill says it does not count.
func (v view) cardBudgetLine() string {
	if v.budget == nil {
		return ""
	}
	name := "`" + esc(v.inc.Service.Name) + "`"
	if v.inc.Drill {
		return fmt.Sprintf("📊 This drill does not count against %s's weekly error budget. Real incidents: %s.", name, budgetLine(*v.budget))
	}
	return fmt.Sprintf("📊 %s, including this incident so far, for %s.", budgetLine(*v.budget), name)
}

// budgets returns every catalogue service's weekly error budget by name.
func (b *Bot) budgets(ctx context.Context) (map[string]incident.Budget, error) {
	list, err := b.desk.WeeklyBudgets(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]incident.Budget, len(list))
	for _, x := range list {
		out[x.Service] = x
	}
	return out, nil
}

// budgetHome is App Home's weekly error budget per service, services over
// budget first.
func (b *Bot) budgetHome(ctx context.Context) []slack.Block {
	blocks := []slack.Block{slack.NewHeaderBlock(plain("Weekly error budgets"))}
	list, err := b.desk.WeeklyBudgets(ctx)
	if err != nil {
		b.log.Warn("home: could not compute error budgets", "err", err)
		return append(blocks, slack.NewContextBlock("", mrkdwn("The error budgets could not be computed just now.")))
	}
	var over, rest []string
	for i, x := range list {
		if i == 20 {
			rest = append(rest, fmt.Sprintf("…and %d more: `/incident services`", len(list)-i))
			break
		}
		line := "• `" + esc(x.Service) + "` (" + x.Target.String() + "): " + budgetLine(x)
		if x.Over() {
			over = append(over, line)
		} else {
			rest = append(rest, line)
		}
	}
	if len(list) == 0 {
		rest = append(rest, "No services in the catalogue.")
	}
	text := strings.Join(append(over, rest...), "\n")
	return append(blocks, slack.NewSectionBlock(mrkdwn(text), nil, nil))
}
