package bot_test

import (
	"strings"
	"testing"

	"github.com/incidentbot/incidentbot/bot"
	"github.com/incidentbot/incidentbot/incident"
)

var shares = incident.ImpactShares{Blocked: incident.FullShare, Degraded: 5000, Partial: 1000}

// commandCases are /incident texts with what they parse to ("" when they
// are refused with a usage message); they also seed FuzzParseCommand.
var commandCases = []struct {
	text, verb string
	share      incident.Share
	amount     incident.Money
}{
	{"", "modal", 0, 0},
	{"impact blocked", "impact", 10000, 0},
	{"impact partial 25%", "impact", 2500, 0},
	{"impact partial 2.5", "impact", 250, 0},
	{"cost 1,500.50 refunds", "cost", 0, 150_050},
	{"cost $2.5k courier", "cost", 0, 250_000},
	{"note rolled back", "note", 0, 0},
	{"commander me", "commander", 0, 0},
	{"publish confirm", "publish", 0, 0},
	{"impact partial 184467440737095517%", "", 0, 0},
	{"impact partial 100000000000000000", "", 0, 0},
	{"impact partial 0x1p-1", "", 0, 0},
	{"impact partial 101%", "", 0, 0},
	{"impact partial -5%", "", 0, 0},
	{"cost 0x10 pizza", "", 0, 0},
	{"cost 1p4 pizza", "", 0, 0},
	{"cost 0b101 pizza", "", 0, 0},
	{"cost 1,5 pizza", "", 0, 0},
	{"cost 1e5 pizza", "", 0, 0},
	{"cost 184467440737095517 pizza", "", 0, 0},
	{"cost -5 pizza", "", 0, 0},
	{"commander <@U1|x> <@U2>", "", 0, 0},
	{"frobnicate <!channel>", "", 0, 0},
}

func TestParseCommandRefusesWhatIsNotANumber(t *testing.T) {
	for _, c := range commandCases {
		got, err := bot.ParseCommand(c.text, "UALICE001", incident.USD, shares)
		if c.verb == "" {
			if incident.ErrorCode(err) != incident.EINVALID {
				t.Errorf("ParseCommand(%q) = %+v, %v; want a usage message", c.text, got, err)
			}
			continue
		}
		if err != nil || got.Verb != c.verb || got.Impact.Share != c.share || got.Amount != c.amount {
			t.Errorf("ParseCommand(%q) = %+v, %v; want %s share %d amount %d", c.text, got, err, c.verb, c.share, c.amount)
		}
	}
	_, err := bot.ParseCommand("impact partial 184467440737095517%", "UALICE001", incident.USD, shares)
	if msg := incident.ErrorMessage(err); !strings.Contains(msg, "more than 100%") {
		t.Errorf("an overflowing share says %q", msg)
	}
}

func FuzzParseCommand(f *testing.F) {
	for _, c := range commandCases {
		f.Add(c.text)
	}
	f.Fuzz(func(t *testing.T, text string) {
		c, err := bot.ParseCommand(text, "UALICE001", incident.USD, shares)
		if err != nil {
			if incident.ErrorCode(err) != incident.EINVALID {
				t.Fatalf("ParseCommand(%q): %v is not a usage message", text, err)
			}
			return
		}
		switch c.Verb {
		case "impact":
			if c.Impact.Share < 0 || c.Impact.Share > incident.FullShare {
				t.Fatalf("ParseCommand(%q): share %d outside 0–100%%", text, c.Impact.Share)
			}
		case "cost":
			if c.Amount <= 0 || c.Amount > 1<<53 {
				t.Fatalf("ParseCommand(%q): amount %d", text, c.Amount)
			}
		case "commander":
			if c.User == "" {
				t.Fatalf("ParseCommand(%q): no commander", text)
			}
		}
	})
}
