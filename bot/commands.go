package bot

import (
	"strconv"
	"strings"

	"github.com/incidentbot/incidentbot/incident"
)

// Command is a parsed /incident command.
type Command struct {
	Verb   string
	Args   []string // words after the verb
	Rest   string   // text after the verb, as typed
	Impact incident.Impact
	Amount incident.Money
	User   string // commander: a user ID, or the actor for "me"; page: the person
	Class  incident.Class
	// Service names the service of affects, unaffects and impact (""
	// for impact: the primary); HasImpact says whether affects named one.
	Service   string
	HasImpact bool
	Number    int64  // merge: the incident merged in
	Team      string // page: the team
}

// verbSpec is one /incident command: its syntax for the help text and whether
// it works only inside an incident channel. The table is the one list of
// verbs: the help text, the channel check and the unknown-verb answer come
// from it.
type verbSpec struct {
	name, syntax string
	inChannel    bool
}

var verbs = []verbSpec{
	{"declare", "declare <service> <title…>", false},
	{"drill", "drill <service> <title…> (a practice incident)", false},
	{"list", "list", false},
	{"services", "services [name]", false},
	{"stats", "stats [30d] [service]", false},
	{"actions", "actions", false},
	{"help", "help", false},
	{"status", "status", true},
	{"impact", "impact [service] blocked|degraded|partial [N%]", true},
	{"affects", "affects <service> [blocked|degraded|partial|N%]", true},
	{"unaffects", "unaffects <service> <reason…>", true},
	{"cost", "cost <amount> <what…>", true},
	{"security", "security", true},
	{"commander", "commander <@user|me>", true},
	{"note", "note <text…>", true},
	{"update", "update <text…>", true},
	{"major", "major|minor <reason…>", true},
	{"minor", "", true},
	{"resolve", "resolve [summary…]", true},
	{"reopen", "reopen", true},
	{"action", "action <text…> [@owner]", true},
	{"review", "review", true},
	{"publish", "publish", true},
	{"merge", "merge <number> [reason…]", true},
	{"page", "page <team|@user> [reason…]", true},
}

func lookupVerb(name string) (verbSpec, bool) {
	for _, v := range verbs {
		if v.name == name {
			return v, true
		}
	}
	return verbSpec{}, false
}

// Usage is the help text, escaped for Slack: "<text…>" unescaped would be
// read as a control sequence.
var Usage = esc(usageText())

// actionUsage is how to define an improvement action, escaped for Slack.
var actionUsage = esc("`/incident action <text…> [@owner]`")

func usageText() string {
	var anywhere, inChannel []string
	for _, v := range verbs {
		if v.syntax == "" {
			continue
		}
		u := "`/incident " + v.syntax + "`"
		if v.inChannel {
			inChannel = append(inChannel, u)
		} else {
			anywhere = append(anywhere, u)
		}
	}
	return "*Usage:* `/incident` opens the declare form, or:\n• " + strings.Join(anywhere, " · ") +
		"\n*In an incident channel:* " + strings.Join(inChannel, " · ")
}

// usage is a usage error: msg (not escaped yet) and the help text.
func usage(msg string) error {
	return incident.Errorf(incident.EINVALID, "%s\n\n%s", esc(msg), Usage)
}

// ParseCommand parses the text after /incident. It changes nothing; a
// returned error is an ephemeral usage message for the user.
func ParseCommand(text, actor string, cur incident.Currency, shares incident.ImpactShares) (Command, error) {
	text = strings.TrimSpace(text)
	if text == "" {
		return Command{Verb: "modal"}, nil
	}
	name, rest, _ := strings.Cut(text, " ")
	verb := strings.ToLower(name)
	rest = strings.TrimSpace(rest)
	c := Command{Verb: verb, Rest: rest, Args: strings.Fields(rest)}
	if _, ok := lookupVerb(verb); !ok {
		return c, usage("I don't know `" + clip(verb, 40) + "`.")
	}
	switch verb {
	case "help", "list", "actions", "status", "security", "reopen", "review", "publish":
		if len(c.Args) > 0 && verb != "publish" {
			return c, usage("`/incident " + verb + "` takes no arguments.")
		}
		if verb == "publish" && len(c.Args) > 0 && !(len(c.Args) == 1 && strings.EqualFold(c.Args[0], "confirm")) {
			return c, usage("`/incident publish` takes no arguments (or `confirm`).")
		}
	case "services":
		if len(c.Args) > 1 {
			return c, usage("`/incident services [name]` takes at most one service name.")
		}
	case "stats":
		if len(c.Args) > 2 {
			return c, usage("`/incident stats [30d] [service]`")
		}
	case "declare", "drill":
		if len(c.Args) < 2 {
			return c, usage("`/incident " + verb + " <service> <title…>` needs a service and a title.")
		}
	case "impact", "affects", "unaffects", "merge", "page":
		return parseServiceCommand(c, shares)
	case "cost":
		if len(c.Args) < 2 {
			return c, usage("`/incident cost <amount> <what…>` needs an amount and what it is for.")
		}
		m, err := cur.Parse(c.Args[0])
		if err != nil {
			return c, usage(incident.ErrorMessage(err))
		}
		if m <= 0 {
			return c, usage("A cost must be a positive amount.")
		}
		c.Amount = m
		c.Rest = strings.TrimSpace(strings.TrimPrefix(rest, c.Args[0]))
	case "commander":
		if len(c.Args) != 1 {
			return c, usage("`/incident commander <@user|me>`")
		}
		if strings.EqualFold(c.Args[0], "me") {
			c.User = actor
		} else if u, ok := parseMention(c.Args[0]); ok {
			c.User = u
		} else {
			return c, usage("Name the commander as a mention (`@someone`) or `me`.")
		}
	case "note", "update", "action":
		if rest == "" {
			return c, usage("`/incident " + verb + " <text…>` needs some text.")
		}
	case "major", "minor":
		if rest == "" {
			return c, usage("`/incident " + verb + " <reason…>` needs a reason: it is recorded on the timeline.")
		}
		c.Class = incident.Class(verb)
	}
	return c, nil
}

// InChannel reports whether the verb needs an incident channel.
func (c Command) InChannel() bool { v, _ := lookupVerb(c.Verb); return v.inChannel }

// Verbs returns the names of the /incident verbs, in help order.
func Verbs() []string {
	out := make([]string, len(verbs))
	for i, v := range verbs {
		out[i] = v.name
	}
	return out
}

// parseServiceCommand parses the verbs of incidents that span services and
// teams: impact [service], affects, unaffects, merge and page.
func parseServiceCommand(c Command, shares incident.ImpactShares) (Command, error) {
	var err error
	switch c.Verb {
	case "impact":
		args := c.Args
		if len(args) > 1 && !isImpactWord(args[0]) {
			c.Service, args = args[0], args[1:]
		}
		if len(args) < 1 || len(args) > 2 {
			return c, usage("`/incident impact [service] blocked|degraded|partial [N%]`")
		}
		c.Impact, err = parseImpact(args, shares)
		c.HasImpact = err == nil
	case "affects":
		if len(c.Args) < 1 || len(c.Args) > 3 {
			return c, usage("`/incident affects <service> [blocked|degraded|partial|N%]`")
		}
		c.Service = c.Args[0]
		if len(c.Args) > 1 {
			c.Impact, err = parseImpact(c.Args[1:], shares)
			c.HasImpact = err == nil
		}
	case "unaffects":
		if len(c.Args) < 2 {
			return c, usage("`/incident unaffects <service> <reason…>` needs a service and why it is no longer affected.")
		}
		c.Service, c.Rest = c.Args[0], restAfter(c.Rest, c.Args[0])
	case "merge":
		n, ok := parseNumber(firstArg(c.Args))
		if !ok {
			return c, usage("`/incident merge <number> [reason…]` needs the number of the incident to merge into this one.")
		}
		c.Number, c.Rest = n, restAfter(c.Rest, c.Args[0])
	case "page":
		if len(c.Args) < 1 {
			return c, usage("`/incident page <team|@user> [reason…]` needs a team or a person.")
		}
		if u, ok := parseMention(c.Args[0]); ok {
			c.User = u
		} else {
			c.Team = c.Args[0]
		}
		c.Rest = restAfter(c.Rest, c.Args[0])
	}
	return c, err
}

// parseImpact reads blocked|degraded|partial [N%], or a bare N% (partial,
// stated).
func parseImpact(args []string, shares incident.ImpactShares) (incident.Impact, error) {
	if len(args) == 1 && strings.HasSuffix(args[0], "%") {
		sh, err := incident.ParseShare(args[0])
		if err != nil {
			return incident.Impact{}, usage(incident.ErrorMessage(err))
		}
		return incident.Impact{Level: incident.ImpactPartial, Share: sh, Explicit: true}, nil
	}
	lvl, ok := incident.ParseImpactLevel(args[0])
	if !ok || len(args) > 2 {
		return incident.Impact{}, usage("Impact is `blocked` (users cannot complete a journey), `degraded` or `partial`, optionally with a percentage.")
	}
	imp := shares.Impact(lvl)
	if len(args) == 2 {
		sh, err := incident.ParseShare(args[1])
		if err != nil {
			return imp, usage(incident.ErrorMessage(err))
		}
		imp.Share, imp.Explicit = sh, true
	}
	return imp, nil
}

// isImpactWord reports whether an argument is an impact, not a service.
func isImpactWord(s string) bool {
	_, ok := incident.ParseImpactLevel(s)
	return ok || strings.HasSuffix(s, "%")
}

// parseNumber reads an incident number: 12 or #12.
func parseNumber(s string) (int64, bool) {
	n, err := strconv.ParseInt(strings.TrimPrefix(s, "#"), 10, 64)
	return n, err == nil && n > 0
}

func firstArg(args []string) string {
	if len(args) == 0 {
		return ""
	}
	return args[0]
}

// restAfter is the text after the first word.
func restAfter(rest, first string) string {
	return strings.TrimSpace(strings.TrimPrefix(rest, first))
}
