package bot

import (
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/incidentbot/incidentbot/incident"
)

// esc escapes text from people and alerts for Slack mrkdwn: &, < and > are
// the only control characters, so "<!channel>" or "<@U123>" typed by a user
// or carried by an alert is shown, never executed.
func esc(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// clip shortens s to at most n runes, marking the cut.
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

var slugBad = regexp.MustCompile(`[^a-z0-9]+`)

// ChannelName is inc-<number>-<slug> within Slack's rules: lowercase
// a-z0-9, - and _, at most 80 characters. attempt > 1 adds a suffix for
// collision safety.
func ChannelName(number int64, title string, attempt int) string {
	return channelName("inc-", number, title, attempt)
}

// ChannelNameFor is the incident's channel name: drill-<n>-<slug> for a
// drill, inc-<n>-<slug> otherwise.
func ChannelNameFor(inc *incident.Incident, attempt int) string {
	if inc.Drill {
		return channelName("drill-", inc.Number, inc.Title, attempt)
	}
	return ChannelName(inc.Number, inc.Title, attempt)
}

func channelName(kind string, number int64, title string, attempt int) string {
	prefix := kind + itoa(number)
	suffix := ""
	if attempt > 1 {
		suffix = "-" + itoa(int64(attempt))
	}
	slug := strings.Trim(slugBad.ReplaceAllString(strings.ToLower(title), "-"), "-")
	room := 80 - len(prefix) - len(suffix) - 1
	if len(slug) > room {
		slug = strings.TrimRight(slug[:room], "-")
	}
	if slug == "" {
		return prefix + suffix
	}
	return prefix + "-" + slug + suffix
}

func itoa(n int64) string {
	if n == 0 {
		return "0"
	}
	neg := n < 0
	if neg {
		n = -n
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}

// mentionRE matches a Slack user mention as Slack sends it: <@U123> or
// <@U123|name>.
var mentionRE = regexp.MustCompile(`^<@([UW][A-Z0-9]+)(\|[^>]*)?>$`)

// parseMention returns the user ID of "<@U123|name>".
func parseMention(s string) (string, bool) {
	m := mentionRE.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return "", false
	}
	return m[1], true
}
