package incident_test

import (
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/incident"
)

// TestFormatShortRoundsToTheSecond: durations for people carry no
// milliseconds ("2 min 46 s", not "2 min 46.113 s").
func TestFormatShortRoundsToTheSecond(t *testing.T) {
	for d, want := range map[time.Duration]string{
		2*time.Minute + 46113*time.Millisecond:       "2 min 46 s",
		time.Minute + 32060*time.Millisecond:         "1 min 32 s",
		59600 * time.Millisecond:                     "1 min",
		30 * time.Minute:                             "30 min",
		26*time.Hour + 5*time.Minute + 7*time.Second: "1 d 2 h 5 min",
		400 * time.Millisecond:                       "under 1 s",
		0:                                            "0 s",
		-(90*time.Second + 400*time.Millisecond):     "-1 min 30 s",
	} {
		if got := incident.FormatShort(d); got != want {
			t.Errorf("FormatShort(%v) = %q, want %q", d, got, want)
		}
	}
}

// TestEffectivenessPercentIsNeverRoundedUp: one decimal, truncated toward
// zero, so that 99.55% does not read 100%.
func TestEffectivenessPercentIsNeverRoundedUp(t *testing.T) {
	for bp, want := range map[incident.Share]string{
		9955:   "99.5%",
		9996:   "99.9%",
		10000:  "100%",
		7000:   "70%",
		9812:   "98.1%",
		5:      "0%",
		-4963:  "-49.6%",
		-5:     "0%",
		-50:    "-0.5%",
		-49530: "-495.3%",
	} {
		e := incident.Effectiveness{Ratio: bp}
		if got := e.PercentText(); got != want {
			t.Errorf("%d bp: PercentText = %q, want %q", bp, got, want)
		}
	}
	if got := (incident.Effectiveness{Ratio: 9955}).Percent(); got != 99.5 {
		t.Errorf("9955 bp: Percent = %v, want 99.5", got)
	}
}
