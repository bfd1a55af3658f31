package bot_test

import (
	"strings"
	"testing"

	"github.com/incidentbot/incidentbot/incident"
)

// TestListPutsMajorsFirst: `/incident list` orders open incidents as App
// Home does, majors first, although the major is the older one.
func TestListPutsMajorsFirst(t *testing.T) {
	e := newEnv(t, tuesdayNoon)
	e.slash(alice, announc, "declare bedroom Beds cannot be ordered")
	ch := e.channelOf(1)
	e.slash(alice, ch.ID, "impact blocked")
	e.waitFor("#1 major", func() bool { _, st := e.incident(1); return st.Class == incident.Major })
	e.slash(alice, announc, "declare appointments Slow booking page")
	e.channelOf(2)
	e.slash(alice, announc, "list")
	var text string
	e.waitFor("the list", func() bool {
		text = e.ephemeralText(alice)
		return strings.Contains(text, "*Open incidents*")
	})
	text = text[strings.Index(text, "*Open incidents*"):]
	major, minor := strings.Index(text, "#1 Beds"), strings.Index(text, "#2 Slow")
	if major < 0 || minor < 0 || major > minor {
		t.Errorf("the major is not listed first:\n%s", text)
	}
}
