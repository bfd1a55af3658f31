package sandbox

import (
	"html"
	"html/template"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// names resolves the IDs that Slack text refers to.
type names struct {
	users    map[string]string // user ID -> display name
	channels map[string]string // channel ID -> name
	loc      *time.Location
}

func (n *names) user(id, label string) string {
	if s, ok := n.users[id]; ok {
		return s
	}
	if label != "" {
		return label
	}
	return id
}

func (n *names) channel(id, label string) string {
	if s, ok := n.channels[id]; ok {
		return s
	}
	if label != "" {
		return label
	}
	return id
}

// unescapeSlack undoes Slack's escaping of &, < and > in message text.
func unescapeSlack(s string) string {
	if !strings.Contains(s, "&") {
		return s
	}
	return strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&").Replace(s)
}

// esc HTML-escapes text that Slack has escaped already.
func esc(s string) string { return html.EscapeString(emojify(unescapeSlack(s))) }

var emojiCodes = map[string]string{
	"pushpin": "📌", "round_pushpin": "📍", "warning": "⚠️", "white_check_mark": "✅",
	"heavy_check_mark": "✔️", "x": "❌", "rotating_light": "🚨", "fire": "🔥", "tada": "🎉",
	"eyes": "👀", "red_circle": "🔴", "large_yellow_circle": "🟡", "large_green_circle": "🟢",
	"lock": "🔒", "memo": "📝", "mega": "📣", "pager": "📟", "moneybag": "💰",
	"money_with_wings": "💸", "chart_with_downwards_trend": "📉", "alarm_clock": "⏰",
	"thumbsup": "👍", "+1": "👍", "point_right": "👉", "information_source": "ℹ️",
}

var emojiRE = regexp.MustCompile(`:([a-z0-9_+\-]+):`)

// emojify replaces the common :shortcodes: with their emoji.
func emojify(s string) string {
	if !strings.Contains(s, ":") {
		return s
	}
	return emojiRE.ReplaceAllStringFunc(s, func(m string) string {
		if e, ok := emojiCodes[m[1:len(m)-1]]; ok {
			return e
		}
		return m
	})
}

// plainHTML renders plain_text: escaped, newlines kept (the page styles
// text with white-space: pre-wrap).
func plainHTML(s string) template.HTML {
	return template.HTML(html.EscapeString(emojify(s)))
}

// mrkdwn renders Slack mrkdwn minimally: *bold*, _italic_, ~strike~,
// `code`, ```preformatted```, > quotes, <@U…> and <#C…> mentions, <!here>
// and <!date…> tokens, <url|text> links (http, https and mailto only).
// Everything else is text, HTML-escaped.
func (n *names) mrkdwn(s string) template.HTML {
	var b strings.Builder
	// ```preformatted``` blocks first: nothing inside them is formatted.
	for {
		i := strings.Index(s, "```")
		if i < 0 {
			break
		}
		j := strings.Index(s[i+3:], "```")
		if j < 0 {
			break
		}
		n.lines(&b, s[:i])
		b.WriteString(`<pre class="bk-pre">`)
		b.WriteString(esc(strings.Trim(s[i+3:i+3+j], "\n")))
		b.WriteString(`</pre>`)
		s = strings.TrimPrefix(s[i+3+j+3:], "\n")
	}
	n.lines(&b, s)
	return template.HTML(b.String())
}

// lines renders text line by line, grouping "> " lines into blockquotes.
func (n *names) lines(b *strings.Builder, s string) {
	if s == "" {
		return
	}
	ls := strings.Split(s, "\n")
	inQuote := false
	for i, l := range ls {
		q, isQuote := quoteLine(l)
		switch {
		case isQuote && !inQuote:
			b.WriteString(`<blockquote class="bk-quote">`)
			inQuote = true
		case !isQuote && inQuote:
			b.WriteString(`</blockquote>`)
			inQuote = false
		}
		if isQuote {
			l = q
		}
		n.inline(b, l)
		last := i == len(ls)-1
		nextQuote := false
		if !last {
			_, nextQuote = quoteLine(ls[i+1])
		}
		// A newline inside a quote, or between ordinary lines; the block
		// boundaries of a quote stand for their own newline.
		if !last && (isQuote == nextQuote) {
			b.WriteByte('\n')
		}
	}
	if inQuote {
		b.WriteString(`</blockquote>`)
	}
}

func quoteLine(l string) (string, bool) {
	for _, p := range []string{"&gt; ", "&gt;", "> ", ">"} {
		if strings.HasPrefix(l, p) {
			return l[len(p):], true
		}
	}
	return l, false
}

var emphasisTags = map[byte][2]string{
	'*': {"<b>", "</b>"},
	'_': {"<i>", "</i>"},
	'~': {"<s>", "</s>"},
}

// inline renders one line: code spans, angle-bracket tokens and emphasis.
func (n *names) inline(b *strings.Builder, l string) {
	var text strings.Builder
	flush := func() {
		b.WriteString(esc(text.String()))
		text.Reset()
	}
	var open []byte // emphasis markers open, innermost last
	isOpen := func(c byte) bool {
		for _, o := range open {
			if o == c {
				return true
			}
		}
		return false
	}
	for i := 0; i < len(l); {
		c := l[i]
		switch {
		case c == '`':
			if j := strings.IndexByte(l[i+1:], '`'); j > 0 {
				flush()
				b.WriteString(`<code>`)
				b.WriteString(esc(l[i+1 : i+1+j]))
				b.WriteString(`</code>`)
				i += j + 2
				continue
			}
		case c == '<':
			if j := strings.IndexByte(l[i+1:], '>'); j > 0 && !strings.ContainsRune(l[i+1:i+1+j], '<') {
				flush()
				b.WriteString(n.token(l[i+1 : i+1+j]))
				i += j + 2
				continue
			}
		case c == '*' || c == '_' || c == '~':
			if isOpen(c) && canClose(l, i) {
				flush()
				// Close the inner markers, this one, and reopen the inner ones.
				k := len(open) - 1
				for open[k] != c {
					k--
				}
				for m := len(open) - 1; m >= k; m-- {
					b.WriteString(emphasisTags[open[m]][1])
				}
				inner := append([]byte(nil), open[k+1:]...)
				open = append(open[:k], inner...)
				for _, o := range inner {
					b.WriteString(emphasisTags[o][0])
				}
				i++
				continue
			}
			if !isOpen(c) && canOpen(l, i) && hasCloser(l, i, c) {
				flush()
				b.WriteString(emphasisTags[c][0])
				open = append(open, c)
				i++
				continue
			}
		}
		text.WriteByte(c)
		i++
	}
	flush()
	for m := len(open) - 1; m >= 0; m-- {
		b.WriteString(emphasisTags[open[m]][1])
	}
}

func runeBefore(l string, i int) rune {
	if i == 0 {
		return ' '
	}
	r, _ := utf8.DecodeLastRuneInString(l[:i])
	return r
}

func runeAfter(l string, i int) rune {
	if i+1 >= len(l) {
		return ' '
	}
	r, _ := utf8.DecodeRuneInString(l[i+1:])
	return r
}

// canOpen: the marker follows a word boundary and precedes text.
func canOpen(l string, i int) bool {
	before, after := runeBefore(l, i), runeAfter(l, i)
	return !isWord(before) && !unicode.IsSpace(after) && i+1 < len(l)
}

// canClose: the marker follows text and precedes a word boundary.
func canClose(l string, i int) bool {
	before, after := runeBefore(l, i), runeAfter(l, i)
	return i > 0 && !unicode.IsSpace(before) && !isWord(after)
}

func hasCloser(l string, i int, c byte) bool {
	for k := i + 2; k < len(l); k++ {
		if l[k] == c && canClose(l, k) {
			return true
		}
	}
	return false
}

func isWord(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

var dateTokenRE = regexp.MustCompile(`\{(date_num|date_slash|date_long_full|date_long_pretty|date_long|date_pretty|date_short_pretty|date_short|date|time_secs|time|ago)\}`)

// token renders the inside of <…>.
func (n *names) token(t string) string {
	target, label, _ := strings.Cut(t, "|")
	switch {
	case strings.HasPrefix(target, "@"):
		return `<span class="bk-mention">@` + esc(n.user(target[1:], label)) + `</span>`
	case strings.HasPrefix(target, "#"):
		return `<span class="bk-mention">#` + esc(n.channel(target[1:], label)) + `</span>`
	case strings.HasPrefix(target, "!date^"):
		return esc(n.date(target, label))
	case strings.HasPrefix(target, "!subteam^"):
		if label == "" {
			label = "@team"
		}
		return `<span class="bk-mention">` + esc(label) + `</span>`
	case strings.HasPrefix(target, "!"):
		name := strings.TrimPrefix(target, "!")
		if label != "" {
			name = strings.TrimPrefix(label, "@")
		}
		return `<span class="bk-mention">@` + esc(name) + `</span>`
	}
	href := unescapeSlack(target)
	if label == "" {
		label = target
	}
	u, err := url.Parse(href)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "mailto") {
		return esc(label)
	}
	return `<a href="` + html.EscapeString(u.String()) + `" target="_blank" rel="noopener noreferrer">` + esc(label) + `</a>`
}

// date renders <!date^unix^format^optional_link|fallback>.
func (n *names) date(target, fallback string) string {
	parts := strings.SplitN(target, "^", 4)
	if len(parts) < 3 {
		return fallback
	}
	sec, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil {
		return fallback
	}
	loc := n.loc
	if loc == nil {
		loc = time.UTC
	}
	t := time.Unix(sec, 0).In(loc)
	return dateTokenRE.ReplaceAllStringFunc(parts[2], func(m string) string {
		switch m[1 : len(m)-1] {
		case "date_num":
			return t.Format("2006-01-02")
		case "date_slash":
			return t.Format("02/01/2006")
		case "date_long", "date_long_pretty", "date_long_full":
			return t.Format("Monday, 2 January 2006")
		case "date", "date_pretty":
			return t.Format("2 January 2006")
		case "date_short", "date_short_pretty":
			return t.Format("2 Jan 2006")
		case "time":
			return t.Format("15:04")
		case "time_secs":
			return t.Format("15:04:05")
		}
		return fallback
	})
}
