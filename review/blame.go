package review

import (
	"regexp"
	"sort"
	"strings"
)

// Blaming a person: a rule of its own, because it needs the people's names.
const (
	personRule       = "blaming a person"
	personSuggestion = `Write what happened and what made it make sense at the time, not who is to blame: "the change reached production without a canary because the pipeline allowed it". Name roles and conditions, not culprits.`
)

// The parts of the rule. A person is a Slack mention (<@U123>), an @handle
// or one of the names given; they are blamed when they "broke", "caused",
// "missed", "forgot"… something, when something happened "because (of)",
// "due to", "thanks to" them, or for "Alice's mistake". Without a name to go
// by, a capitalised word (not a common sentence opener) is taken for a
// person only with words said of people, not of systems: "Alice messed
// up", "Alice's mistake", "because Alice deployed …" (and not "Redis broke",
// "because Redis evicted keys").
const (
	mentionPat = `<@[UW][A-Z0-9]+(?:\|[^>]*)?>|\B@[\pL\pN][\pL\pN._-]*`
	// personalVerbs are said of people only.
	personalVerbs = `messed` + ws + `up|screwed` + ws + `up|botched|forgot|neglected|dropped` + ws + `the` + ws + `ball|(?:was|is)` + ws + `to` + ws + `blame`
	// blameVerbs blame a known person or a mention.
	blameVerbs = personalVerbs + `|broke|caused|missed|ignored|overlooked|was` + ws + `responsible` + ws + `for|made` + ws + `(?:a|the|an)` + ws + `(?:mistake|error)`
	// becausePat introduces who something happened because of.
	becausePat = `(?:because(?:` + ws + `of)?|due` + ws + `to|thanks` + ws + `to|caused` + ws + `by|blame` + ws + `(?:on|lies` + ws + `with))`
	// actedPat follows a capitalised word after "because": what a person
	// does.
	actedPat = `did(?:n't|n’t|` + ws + `not)|forgot|ignored|deployed|pushed|merged|typed|skipped|approved|misconfigured|made` + ws + `(?:a|the|an)`
	// possessivePat: "Alice's mistake".
	possessivePat = `['’]s` + ws + `(?:mistakes?|errors?|fault|typos?|screw-?ups?|blunders?)`
	capitalised   = `\p{Lu}\p{Ll}+`
)

// notNames are capitalised words that open sentences rather than name people.
var notNames = map[string]bool{}

func init() {
	for _, w := range strings.Fields(`It This That These Those The A An We They He She You I Our Their His Her Its
		There Here Nothing Nobody Everyone Everything Someone Something Anyone Anything Which What Who When Then
		And But Also Once After Before Finally Later Eventually Monitoring Nobody Somebody Everybody No One
		Monday Tuesday Wednesday Thursday Friday Saturday Sunday Today Yesterday Production Staging`) {
		notNames[w] = true
	}
}

var (
	mentionRe = regexp.MustCompile(`(?i)(?:` + mentionPat + `)(?:` + possessivePat + `|` + ws + `(?:` + blameVerbs + `)\b)|\b` + becausePat + ws + `(?:` + mentionPat + `)`)
	// capitalRe finds a capitalised word with a personal verb after it, or
	// after "because" with a person's action after it. Group 1 or 2 is the
	// word. Case-sensitive: names are capitalised.
	capitalRe = regexp.MustCompile(`\b(` + capitalised + `)(?:` + possessivePat + `|` + ws + `(?:` + personalVerbs + `)\b)|(?i:\b` + becausePat + `)` + ws + `(` + capitalised + `)` + ws + `(?:` + actedPat + `)\b`)
)

// blamedPeople returns the [start, end) of every phrase blaming a person.
func blamedPeople(text string, names *regexp.Regexp) [][]int {
	out := mentionRe.FindAllStringIndex(text, -1)
	if names != nil {
		out = append(out, names.FindAllStringIndex(text, -1)...)
	}
	for _, m := range capitalRe.FindAllStringSubmatchIndex(text, -1) {
		name := ""
		switch {
		case m[2] >= 0:
			name = text[m[2]:m[3]]
		case m[4] >= 0:
			name = text[m[4]:m[5]]
		}
		if !notNames[name] {
			out = append(out, m[:2])
		}
	}
	return out
}

// namesRe matches the known names blamed; nil without names.
func namesRe(names []string) *regexp.Regexp {
	var alts []string
	for _, n := range names {
		if n = strings.TrimSpace(n); len(n) > 1 {
			alts = append(alts, strings.ReplaceAll(regexp.QuoteMeta(n), ` `, ws))
		}
	}
	if len(alts) == 0 {
		return nil
	}
	// Longer names first, so that "Riley Responder" wins over "Riley".
	sort.SliceStable(alts, func(i, j int) bool { return len(alts[i]) > len(alts[j]) })
	who := `(?:` + strings.Join(alts, "|") + `)`
	return regexp.MustCompile(`(?i)\b` + who + `(?:` + possessivePat + `|` + ws + `(?:` + blameVerbs + `)\b)|\b` + becausePat + ws + who + `\b`)
}
