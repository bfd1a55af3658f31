package review

import (
	"regexp"
	"sort"
	"strings"
)

// Finding is a blaming phrase found in review text, with a kinder way to say
// it. Offset is the byte offset of the phrase in the checked text (a section,
// or one answer of an account, or an action's text).
type Finding struct {
	Phrase     string    // as written, e.g. "Human error"
	Rule       string    // the phrase the rule looks for, e.g. "human error"
	Suggestion string    // a blameless rewording
	Section    SectionID // "" when Check is called on bare text
	Field      string    // within a derived section: "U123 saw", "action 42-1"
	Offset     int
}

// rule is one entry of the blameless language table. Pattern words are
// separated by any run of white space, line breaks included; the match is
// case-insensitive and on word boundaries.
type rule struct {
	phrase     string
	pattern    string   // regexp, without boundaries or flags
	except     []string // regexps: a match inside one of these is not blame
	suggestion string
	re         *regexp.Regexp
	exceptRe   []*regexp.Regexp
}

const ws = `\s+` // between words: spaces or a line break

var rules = []*rule{
	{phrase: "human error", pattern: `human` + ws + `errors?`,
		suggestion: `Describe the conditions that made the action reasonable at the time, e.g. "the runbook step was ambiguous and the dashboard showed the old region".`},
	{phrase: "operator error", pattern: `(?:operator|user|pilot)` + ws + `errors?`,
		suggestion: `Describe what the person saw and why their action made sense then, and what in the system allowed it to cause harm.`},
	{phrase: "root cause", pattern: `root(?:` + ws + `|-)?causes?(?:` + ws + `analysis)?`,
		except:     []string{`root-?causes?-free`},
		suggestion: `Write "contributing factors": incidents rarely have a single cause. List the human and technical factors that combined.`},
	{phrase: "should have", pattern: `should(?:` + ws + `have|'ve)`,
		suggestion: `Say what was known and expected at the time ("at the time, we did not know …"), or name the opportunity: "in hindsight, an opportunity is …".`},
	{phrase: "shouldn't have", pattern: `(?:shouldn't|shouldn’t|should` + ws + `not)` + ws + `have`,
		suggestion: `Describe what happened and what made it seem right at the time, rather than what someone ought not to have done.`},
	{phrase: "could have prevented", pattern: `could` + ws + `(?:easily` + ws + `)?have` + ws + `(?:easily` + ws + `)?(?:prevented|avoided)`,
		suggestion: `Name the improvement instead: "an alert on queue depth would show this sooner".`},
	{phrase: "failed to", pattern: `fail(?:ed|s)?` + ws + `to`,
		suggestion: `Say what happened: "did not", "was not", or for a system what it did instead ("the deploy stopped at step 3").`},
	{phrase: "neglected to", pattern: `neglect(?:ed|s)?` + ws + `to`,
		suggestion: `Say "did not", and what competing demands or missing signals were there at the time.`},
	{phrase: "careless", pattern: `careless(?:ly|ness)?`,
		suggestion: `Describe the action and its context without judging the person: time pressure, tooling, what they could see.`},
	{phrase: "fault", pattern: `(?:(?:my|his|her|their|your|our|whose)` + ws + `)?faults?|at` + ws + `fault`,
		except: []string{
			`faults?` + ws + `(?:tolerance|tolerant|injection|isolation|domains?|detection|model|trees?|codes?|lines?)`,
			`(?:page|segmentation|seg|hardware|network|disk|memory|power|ground|protection|bus)` + ws + `faults?`,
			`no-fault`,
		},
		suggestion: `Write about contributing factors, not fault: "the alert threshold and the missing runbook step combined to …".`},
	{phrase: "why didn't", pattern: `why` + ws + `(?:didn't|didn’t|did` + ws + `not|wasn't|wasn’t|was` + ws + `not|weren't|weren’t|hadn't|hadn’t|couldn't|couldn’t)`,
		suggestion: `Ask "what made it hard to …?" or "what would have helped …?": questions that look at the situation, not the person.`},
	{phrase: "forgot", pattern: `forgot(?:ten)?`,
		suggestion: `Say "did not", and what would have been a reminder: a checklist step, an alert, a prompt in the tool.`},
	{phrase: "negligent", pattern: `negligen(?:t|tly|ce)`,
		suggestion: `Describe what happened and the conditions around it; judging the person hides what the system can learn.`},
	{phrase: "blame", pattern: `blam(?:e|ed|es|ing)`,
		except:     []string{`blame-?free`, `no-?blame`, `without` + ws + `blame`, `blame-?aware`},
		suggestion: `Describe how things happened ("the change reached production because …") and what we learned.`},
	{phrase: "mistake by", pattern: `mistakes?` + ws + `(?:made` + ws + `)?by|made` + ws + `(?:a|the|an` + ws + `obvious)` + ws + `mistakes?`,
		suggestion: `Describe the action and why it made sense at the time: "an action by the on-call engineer, following the runbook, had an unexpected effect".`},
	{phrase: "sloppy", pattern: `sloppy|sloppily|sloppiness`,
		suggestion: `Describe the specific gap (a missing test, an unclear review step) rather than characterising the work.`},
	{phrase: "obviously", pattern: `obvious(?:ly)?`,
		except:     []string{`(?:not|wasn't|wasn’t|isn't|isn’t|never)` + ws + `obvious(?:ly)?`},
		suggestion: `Drop it: what is obvious in hindsight was not at the time. Say what the signal was and when it became clear.`},
	{phrase: "just had to", pattern: `(?:just|simply)` + ws + `(?:had|needed)` + ws + `to|all` + ws + `(?:they|he|she|you|we)` + ws + `had` + ws + `to` + ws + `do`,
		suggestion: `Say "needed to" and what made it harder than it sounds: the step, the tool, the time of night.`},
	{phrase: "incompetent", pattern: `incompeten(?:t|ce|cy)`,
		suggestion: `Describe the knowledge or support that was missing (training, documentation, pairing), not the person.`},
	{phrase: "didn't bother", pattern: `(?:didn't|didn’t|did` + ws + `not|never)` + ws + `bother(?:ed)?` + `(?:` + ws + `to)?`,
		suggestion: `Say "did not", and why it was reasonable at the time (competing priorities, no prompt, no signal).`},
	{phrase: "lazy", pattern: `lazy|laziness|lazily`,
		except:     []string{`lazy(?:` + ws + `|-)(?:loading|load|loaded|evaluation|initiali[sz]ation|init)`, `lazily` + ws + `(?:loaded|evaluated|initiali[sz]ed)`},
		suggestion: `Describe the competing demands and what the process asked of people; judging effort teaches nothing.`},
	{phrase: "stupid", pattern: `stupid(?:ly|ity)?|dumb` + ws + `mistakes?`,
		suggestion: `Describe the action and its context without judging the person.`},
	{phrase: "guilty", pattern: `guilty|culprits?`,
		suggestion: `Name the contributing factors; people are not culprits in a blameless review.`},
}

func init() {
	for _, r := range rules {
		r.re = regexp.MustCompile(`(?i)\b(?:` + r.pattern + `)\b`)
		for _, e := range r.except {
			r.exceptRe = append(r.exceptRe, regexp.MustCompile(`(?i)\b(?:`+e+`)\b`))
		}
	}
}

// Check finds blaming phrases in text: case-insensitive, on word boundaries
// and across line breaks, sorted by offset. Technical uses ("fault
// tolerance", "default", "lazy loading", "blameless") are not flagged.
// Blaming a person is flagged too (see CheckNames); without their names
// the check recognises Slack mentions, @handles and capitalised names.
func Check(text string) []Finding { return CheckNames(text, nil) }

// CheckNames is Check knowing the names of the people involved (a review's
// participants): "because Riley …", "riley broke …" are blame even where a
// name could not be told from a product's.
func CheckNames(text string, names []string) []Finding { return check(text, namesRe(names)) }

// check is CheckNames with the names' pattern compiled (nil: none).
func check(text string, names *regexp.Regexp) []Finding {
	out := findRules(text)
	for _, l := range blamedPeople(text, names) {
		out = append(out, Finding{Phrase: text[l[0]:l[1]], Rule: personRule, Suggestion: personSuggestion, Offset: l[0]})
	}
	return keepFirst(out)
}

// findRules applies the table.
func findRules(text string) []Finding {
	var out []Finding
	for _, r := range rules {
		locs := r.re.FindAllStringIndex(text, -1)
		if len(locs) == 0 {
			continue
		}
		var spans [][]int
		for _, e := range r.exceptRe {
			spans = append(spans, e.FindAllStringIndex(text, -1)...)
		}
	next:
		for _, l := range locs {
			for _, s := range spans {
				if s[0] <= l[0] && l[1] <= s[1] {
					continue next
				}
			}
			out = append(out, Finding{Phrase: text[l[0]:l[1]], Rule: r.phrase, Suggestion: r.suggestion, Offset: l[0]})
		}
	}
	return out
}

// keepFirst sorts findings by offset and drops those overlapping an
// earlier one.
func keepFirst(out []Finding) []Finding {
	sort.SliceStable(out, func(i, j int) bool { return out[i].Offset < out[j].Offset })
	// A longer phrase and a shorter one at the same place ("shouldn't
	// have" and "should have" cannot both match, but "mistake by" and
	// "made a mistake" might overlap): keep the first of overlapping finds.
	kept := out[:0]
	end := -1
	for _, f := range out {
		if f.Offset < end {
			continue
		}
		kept = append(kept, f)
		end = f.Offset + len(f.Phrase)
	}
	return kept
}

// Phrases lists the phrases the check looks for, with their suggestions, for
// help text.
func Phrases() [][2]string {
	out := make([][2]string, 0, len(rules)+1)
	for _, r := range rules {
		out = append(out, [2]string{r.phrase, r.suggestion})
	}
	return append(out, [2]string{personRule, personSuggestion})
}

// Check checks text written for the review, knowing its people's names.
func (r *Review) Check(text string) []Finding { return CheckNames(text, r.PersonNames()) }

// PersonNames are the names of the review's people as the review writes
// them, and their first names: "Riley Responder", "Riley".
func (r *Review) PersonNames() []string {
	if r == nil {
		return nil
	}
	var out []string
	for _, n := range r.People {
		if n = strings.TrimSpace(strings.TrimPrefix(n, "@")); n == "" {
			continue
		}
		out = append(out, n)
		if first, _, ok := strings.Cut(n, " "); ok {
			out = append(out, first)
		}
	}
	sort.Strings(out)
	return out
}

// CheckReview checks every section of a review, each account answer and each
// action's text.
func CheckReview(r *Review) []Finding {
	if r == nil {
		return nil
	}
	names := namesRe(r.PersonNames())
	var out []Finding
	for _, s := range sections {
		switch s.ID {
		case SectionAccounts:
			for _, a := range r.Accounts {
				for _, f := range []struct{ name, text string }{
					{"saw", a.Saw}, {"did", a.Did}, {"surprised", a.Surprised}, {"harder or easier", a.HarderEasier},
				} {
					for _, x := range check(f.text, names) {
						x.Section, x.Field = s.ID, strings.TrimSpace(a.User+" "+f.name)
						out = append(out, x)
					}
				}
			}
		case SectionActions:
			for _, a := range r.Actions {
				for _, x := range check(a.Text, names) {
					x.Section, x.Field = s.ID, "action "+a.ID
					out = append(out, x)
				}
			}
		default:
			for _, x := range check(r.Sections[s.ID], names) {
				x.Section = s.ID
				out = append(out, x)
			}
		}
	}
	return out
}
