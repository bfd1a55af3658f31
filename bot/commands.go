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

// channelVerbs only make sense inside an incident channel.
var channelVerbs = map[string]bool{
	"status": true, "impact": true, "cost": true, "security": true, "commander": true,
	"note": true, "update": true, "major": true, "minor": true, "resolve": true,
	"reopen": true, "action": true, "review": true, "publish": true,
	"affects": true, "unaffects": true, "merge": true, "page": true,
}

// Usage is the help text.
const Usage = "*Usage:* `/incident` opens the declare form, or:\n" +
	"• `/incident declare <service> <title…>` · `/incident list` · `/incident services [name]` · `/incident stats [30d] [service]` · `/incident actions` · `/incident help`\n" +
	"*In an incident channel:* `/incident status` · `/incident impact blocked|degraded|partial [N%]` · `/incident cost <amount> <what…>` · " +
	"`/incident security` · `/incident commander <@user|me>` · `/incident note <text…>` · `/incident update <text…>` · " +
	"`/incident major|minor <reason…>` · `/incident resolve [summary…]` · `/incident reopen` · `/incident action <text…> [@owner]` · " +
	"`/incident review` · `/incident publish`\n" +
	"*Across services and teams:* `/incident affects <service> [blocked|degraded|partial|N%]` · `/incident impact <service> <impact>` · " +
	"`/incident unaffects <service> <reason…>` · `/incident merge <number> [reason…]` · `/incident page <team|@user> [reason…]`"

func usage(msg string) error {
	return incident.Errorf(incident.EINVALID, "%s\n\n%s", msg, Usage)
}

// ParseCommand parses the text after /incident. It changes nothing; a
// returned error is an ephemeral usage message for the user.
func ParseCommand(text, actor string, cur incident.Currency, shares incident.ImpactShares) (Command, error) {
	text = strings.TrimSpace(text)
	if text == "" {
		return Command{Verb: "modal"}, nil
	}
	verb, rest, _ := strings.Cut(text, " ")
	verb = strings.ToLower(verb)
	rest = strings.TrimSpace(rest)
	c := Command{Verb: verb, Rest: rest, Args: strings.Fields(rest)}
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
	case "declare":
		if len(c.Args) < 2 {
			return c, usage("`/incident declare <service> <title…>` needs a service and a title.")
		}
	case "impact":
		args := c.Args
		if len(args) > 1 && !isImpactWord(args[0]) {
			c.Service, args = args[0], args[1:]
		}
		if len(args) < 1 || len(args) > 2 {
			return c, usage("`/incident impact [service] blocked|degraded|partial [N%]`")
		}
		imp, err := parseImpact(args, shares)
		if err != nil {
			return c, err
		}
		c.Impact, c.HasImpact = imp, true
	case "affects":
		if len(c.Args) < 1 || len(c.Args) > 3 {
			return c, usage("`/incident affects <service> [blocked|degraded|partial|N%]`")
		}
		c.Service = c.Args[0]
		if len(c.Args) > 1 {
			imp, err := parseImpact(c.Args[1:], shares)
			if err != nil {
				return c, err
			}
			c.Impact, c.HasImpact = imp, true
		}
	case "unaffects":
		if len(c.Args) < 2 {
			return c, usage("`/incident unaffects <service> <reason…>` needs a service and why it is no longer affected.")
		}
		c.Service, c.Rest = c.Args[0], restAfter(rest, c.Args[0])
	case "merge":
		n, ok := parseNumber(firstArg(c.Args))
		if !ok {
			return c, usage("`/incident merge <number> [reason…]` needs the number of the incident to merge into this one.")
		}
		c.Number, c.Rest = n, restAfter(rest, c.Args[0])
	case "page":
		if len(c.Args) < 1 {
			return c, usage("`/incident page <team|@user> [reason…]` needs a team or a person.")
		}
		if u, ok := parseMention(c.Args[0]); ok {
			c.User = u
		} else {
			c.Team = c.Args[0]
		}
		c.Rest = restAfter(rest, c.Args[0])
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
	case "resolve":
	default:
		return c, usage("I don't know `" + esc(clip(verb, 40)) + "`.")
	}
	return c, nil
}

// InChannel reports whether the verb needs an incident channel.
func (c Command) InChannel() bool { return channelVerbs[c.Verb] }

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
