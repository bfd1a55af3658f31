package bot

import (
	"encoding/json"
	"math/rand"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/slack-go/slack"

	"github.com/incidentbot/incidentbot/incident"
	"github.com/incidentbot/incidentbot/review"
	"github.com/incidentbot/incidentbot/review/reviewstore"
)

var statsTo = time.Date(2026, 11, 17, 12, 0, 0, 0, time.UTC)

// The /incident stats answer, exactly, for the measures it can show.
func TestStatsText(t *testing.T) {
	usd := incident.USD
	full := review.Measures{
		From: statsTo.Add(-30 * 24 * time.Hour), To: statsTo,
		Incidents: 3, Majors: 1, Minors: 2, Open: 1,
		Restored: 2, MedianTimeToRestore: 30 * time.Minute, P90TimeToRestore: 2*time.Hour + 5*time.Second,
		LossByService:         []review.Loss{{Name: "bedroom", Loss: usd.Major(100_000), Incidents: 1}, {Name: "a<b>&c", Loss: usd.Major(500), Incidents: 2}},
		LossByTeam:            []review.Loss{{Name: "bedroom-team", Loss: usd.Major(100_000), Incidents: 1}, {Name: "appointments-team", Loss: usd.Major(500), Incidents: 2}},
		TotalLoss:             usd.Major(100_500),
		EffectivenessMeasured: 1, LossAtTolerable: usd.Major(336_000), Protected: usd.Major(236_000), Effectiveness: 7024,
		ActionsDefined: 4, ActionsDone: 2, ActionsOpen: 3, MedianActionLeadTime: 60 * time.Hour,
		ActionsPerWeek: 2.0 / (30.0 / 7), MeanTimeBetweenActions: 36 * time.Hour,
		Reviews: []review.ReviewReaders{
			{Number: 7, Title: "Checkout <!channel> & beds", Service: "bedroom", Readers: 12},
			{Number: 5, Title: "Card data", Service: "bedroom", Readers: 1},
		},
		ReviewReaders: 13, UniqueReaders: 9,
	}
	empty := review.Measures{To: statsTo, Service: "appointments"}
	negative := review.Measures{
		From: statsTo.Add(-7 * 24 * time.Hour), To: statsTo, Incidents: 1, Minors: 1, Restored: 1,
		MedianTimeToRestore: 10 * time.Hour, P90TimeToRestore: 10 * time.Hour, TotalLoss: usd.Major(60_000),
		LossByService:         []review.Loss{{Name: "appointments", Loss: usd.Major(60_000), Incidents: 1}},
		LossByTeam:            []review.Loss{{Name: "appointments-team", Loss: usd.Major(60_000), Incidents: 1}},
		EffectivenessMeasured: 1, LossAtTolerable: usd.Major(50_400), Protected: -usd.Major(9_600), Effectiveness: -1905,
		ActionsDefined: 1, ActionsDone: 1, MedianActionLeadTime: 24 * time.Hour, ActionsPerWeek: 1,
	}
	for _, tc := range []struct {
		name    string
		m       review.Measures
		period  string
		private map[int64]bool
		want    string
	}{
		{"full", full, "last 30 days", map[int64]bool{5: true}, `*Measures, last 30 days* (all services) · 18 Oct 2026 → 17 Nov 2026
• *Incidents:* 3 — 1 major, 2 minor; 1 still open
• *Time to restore:* median 0:30:00 (30 min), p90 2:00:05 (2 h 5 s) (2 restored incidents)
• *Loss:* $100,500 in total
   by service: ` + "`bedroom`" + ` $100,000 (1) · ` + "`a&lt;b&gt;&amp;c`" + ` $500 (2)
   by team: bedroom-team $100,000 (1) · appointments-team $500 (2)
• *Protection effectiveness:* 70.2% — $236,000 protected of $336,000 at tolerable unavailability (1 incident)
• *Improvement actions:* 4 defined, 2 done, 3 open; median lead time 2.5 days; 0.5 done a week, one every 1.5 days
• *Review readers:* 13 reads of 2 published reviews; 9 unique readers
   #7 Checkout &lt;!channel&gt; &amp; beds — 12 readers
   #5 🔒 security incident — 1 reader`},
		{"empty", empty, "all time", nil, "*Measures, all time* (`appointments`)\n" +
			"• *Incidents:* 0 — 0 major, 0 minor\n" +
			"• *Time to restore:* no incident restored in the period\n" +
			"• *Loss:* $0 in total\n" +
			"• *Protection effectiveness:* not measured (no restored incident with impact)\n" +
			"• *Improvement actions:* 0 defined, 0 done, 0 open\n" +
			"• *Review readers:* no review published in the period"},
		{"negative effectiveness", negative, "last 7 days", nil, `*Measures, last 7 days* (all services) · 10 Nov 2026 → 17 Nov 2026
• *Incidents:* 1 — 0 major, 1 minor
• *Time to restore:* median 10:00:00 (10 h), p90 10:00:00 (10 h) (1 restored incident)
• *Loss:* $60,000 in total
   by service: ` + "`appointments`" + ` $60,000 (1)
   by team: appointments-team $60,000 (1)
• *Protection effectiveness:* -19% — -$9,600 protected of $50,400 at tolerable unavailability (1 incident)
• *Improvement actions:* 1 defined, 1 done, 0 open; median lead time 1.0 day; 1.0 done a week
• *Review readers:* no review published in the period`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := statsText(tc.m, tc.period, usd, tc.private)
			if got != tc.want {
				t.Errorf("got:\n%s\n\nwant:\n%s", got, tc.want)
			}
		})
	}
}

func TestPeriodWords(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "all time", 24 * time.Hour: "last day", 7 * 24 * time.Hour: "last 7 days",
		90 * 24 * time.Hour: "last 90 days", 12 * time.Hour: "last 12 hours", time.Hour: "last hour",
	} {
		if got := periodWords(d); got != want {
			t.Errorf("periodWords(%v) = %q, want %q", d, got, want)
		}
	}
}

// Any text survives splitting into Slack-sized parts and joining again,
// and no part is longer than Slack allows (in UTF-16 units).
func TestSplitJoinParts(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	alphabet := []string{"a", "b", " ", "\n", "\n\n", "é", "✅", "😀", "\r\n", "word ", "x"}
	cases := []string{"", "short", strings.Repeat("x", 7000), strings.Repeat("😀", 4000), strings.Repeat("line\n", 2000), strings.Repeat("\n", 5000) + "end"}
	for i := 0; i < 300; i++ {
		var b strings.Builder
		n := rng.Intn(9000)
		for b.Len() < n {
			b.WriteString(alphabet[rng.Intn(len(alphabet))])
		}
		cases = append(cases, b.String())
	}
	for i, text := range cases {
		parts, seps := splitParts(text, maxInput)
		if len(seps) != len(parts)-1 {
			t.Fatalf("case %d: %d parts, %d separators", i, len(parts), len(seps))
		}
		for _, p := range parts {
			if len(utf16.Encode([]rune(p))) > maxInput {
				t.Fatalf("case %d: a part of %d UTF-16 units", i, len(utf16.Encode([]rune(p))))
			}
		}
		nonEmpty := true
		for _, p := range parts[:len(parts)-1] {
			nonEmpty = nonEmpty && p != ""
		}
		if got := joinParts(parts, seps); got != text && nonEmpty {
			t.Fatalf("case %d: round trip changed %d characters into %d", i, len(text), len(got))
		}
	}
	// 7,000 characters of prose split at line breaks into three parts.
	var b strings.Builder
	for b.Len() < 7000 {
		b.WriteString("The queue grew while the index rebuilt, and the alert stayed quiet.\n")
	}
	parts, seps := splitParts(b.String(), maxInput)
	if len(parts) != 3 || seps[0] != "\n" || strings.HasSuffix(parts[0], "\n") {
		t.Errorf("prose: %d parts, seps %q", len(parts), seps)
	}
	// Parts the modal added are joined with a line break; emptied parts
	// are dropped.
	if got := joinParts([]string{"a", "", "c", "more"}, []string{" ", "\n\n"}); got != "a\n\nc\nmore" {
		t.Errorf("join = %q", got)
	}
}

// The edit modal of a 7,000-character section: three inputs within
// Slack's limits, and valid metadata.
func TestEditModalLongSection(t *testing.T) {
	var b strings.Builder
	for b.Len() < 7000 {
		b.WriteString("Paragraph about what people saw and did.\n\n")
	}
	text := b.String()[:7000]
	rec := &reviewstore.Record{Review: review.Review{Number: 4, Title: "T", Sections: map[review.SectionID]string{review.SectionNarrative: text}, Status: incident.ReviewDrafted}}
	v := editModal(rec, review.SectionNarrative, "prompt", "C1")
	var inputs []*slack.InputBlock
	for _, bl := range v.Blocks.BlockSet {
		if in, ok := bl.(*slack.InputBlock); ok {
			inputs = append(inputs, in)
		}
	}
	if len(inputs) != 3 {
		t.Fatalf("inputs = %d", len(inputs))
	}
	var vals []string
	for _, in := range inputs {
		el := in.Element.(*slack.PlainTextInputBlockElement)
		if el.MaxLength != 3000 || len(utf16.Encode([]rune(el.InitialValue))) > 3000 {
			t.Errorf("input %s: max %d, initial %d", in.BlockID, el.MaxLength, len(el.InitialValue))
		}
		vals = append(vals, el.InitialValue)
	}
	var m viewMeta
	if err := json.Unmarshal([]byte(v.PrivateMetadata), &m); err != nil || m.N != 4 || m.Section != review.SectionNarrative {
		t.Fatalf("metadata %q: %v", v.PrivateMetadata, err)
	}
	if got := joinParts(vals, m.Seps); got != text {
		t.Errorf("round trip lost text: %d → %d", len(text), len(got))
	}
}

func TestSplitOwner(t *testing.T) {
	for _, tc := range []struct{ in, text, owner string }{
		{"Add an alert <@UBOB00002>", "Add an alert", "UBOB00002"},
		{"Add an alert <@UBOB00002|bob>", "Add an alert", "UBOB00002"},
		{"Ask <@UBOB00002> about alerts", "Ask <@UBOB00002> about alerts", "UME"},
		{"Write the runbook", "Write the runbook", "UME"},
	} {
		text, owner := splitOwner(tc.in, "UME")
		if text != tc.text || owner != tc.owner {
			t.Errorf("splitOwner(%q) = %q, %q", tc.in, text, owner)
		}
	}
}

// A drill's published review is announced as a Chaos Day review.
func TestPublishedAnnouncementOfADrill(t *testing.T) {
	rec := &reviewstore.Record{Review: review.Review{Number: 4, Title: "Failover", Service: "bedroom", Team: "bedroom-team", Drill: true}}
	// The link is the review's title linked to its page (publishedLink).
	const l = "<http://x/reviews/4|#4 Failover>"
	if got := publishedAnnouncement(rec, l); !strings.Contains(got, "🧪 Chaos Day review published: "+l) {
		t.Errorf("drill review announced as %q", got)
	}
	rec.Drill = false
	if got := publishedAnnouncement(rec, l); !strings.HasPrefix(got, "📘 Post-incident review published") {
		t.Errorf("review announced as %q", got)
	}
}
