package sandbox_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/incidentbot/incidentbot/internal/cdptest"
)

// tour is the state shared by the steps of the browser tour.
type tour struct {
	t  *testing.T
	b  *cdptest.Browser
	s  *stack
	ch string // the incident channel's name, once it appeared
}

// js quotes a Go string for JavaScript.
func js(s string) string { b, _ := json.Marshal(s); return string(b) }

// pinnedText is a JavaScript expression: the text of the pinned card.
const pinnedText = `(document.querySelector("#messages .msg.pinned") || {innerText: ""}).innerText`

// tourStep is one step of the tour; it fails the test when its result is
// missing from the page.
type tourStep struct {
	name string
	run  func(tr *tour)
}

// tourSteps are the steps of the sandbox tour, in order. A later step (open
// the published review) is appended here once reviews are published.
func tourSteps() []tourStep {
	return []tourStep{
		{"open the sandbox as the on-call responder", func(tr *tour) {
			tr.b.Navigate(tr.s.URL + "/sandbox?user=" + riley)
			tr.b.WaitTrue("the responder is picked", `document.querySelector("#user-picker").value === `+js(riley))
			tr.b.WaitTrue("the announce channel is shown", `document.querySelector("#main h1").innerText.includes("incidents")`)
		}},
		{"fire a sample alert for bedroom", func(tr *tour) {
			tr.b.Click(`button[data-alert-service="bedroom"]`)
			tr.b.WaitTrue("the alert's result", `document.querySelector("#flash").innerText.includes("incident #1 opened")`)
		}},
		{"the incident channel appears with the priced card", func(tr *tour) {
			// The page follows the new incident into its channel.
			tr.b.WaitTrue("the incident channel is opened", `document.querySelector("#main h1").innerText.includes("inc-1-")`)
			tr.ch = strings.TrimSpace(strings.TrimPrefix(tr.b.String(`document.querySelector("#main h1").innerText`), "#"))
			tr.b.WaitTrue("the pinned card", pinnedText+`.includes("📌 Pinned")`)
			for _, want := range []string{"#1 ", "Minor", "target 99.0%", "Loss rate", "$0/h", "Estimated loss", "Take command", "Resolve"} {
				tr.b.WaitTrue("the card shows "+want, pinnedText+`.includes(`+js(want)+`)`)
			}
			tr.b.WaitTrue("the channel is listed", `[...document.querySelectorAll("#sidebar a.chan")].some(a => a.innerText.includes(`+js(tr.ch)+`))`)
		}},
		{"click Take command", func(tr *tour) {
			tr.b.Click(`#messages .msg.pinned button[data-action-id="take_command"]`)
			tr.b.WaitTrue("the responder commands", `[...document.querySelectorAll("#messages .msg.pinned .bk-field")].some(f => f.innerText.includes("Commander") && f.innerText.includes("@riley"))`)
		}},
		{"type /incident impact blocked", func(tr *tour) {
			tr.b.SetValue("#composer-text", "/incident impact blocked")
			tr.b.MustEval(`document.getElementById("composer").requestSubmit()`)
			tr.b.WaitTrue("the card shows Major", pinnedText+`.includes("Major")`)
			tr.b.WaitTrue("the card shows the loss rate", pinnedText+`.includes("$200,000/h")`)
			tr.b.WaitTrue("the impact message", `document.querySelector("#messages").innerText.includes("set impact to blocked (100%)")`)
			tr.b.WaitTrue("the composer is cleared", `document.querySelector("#composer-text").value === ""`)
		}},
		{"click Resolve and submit the modal", func(tr *tour) {
			tr.b.Click(`#messages .msg.pinned button[data-action-id="resolve"]`)
			tr.b.WaitTrue("the resolve modal", `document.querySelector("#modal form.modal textarea") !== null && document.querySelector("#modal").innerText.includes("Resolve incident")`)
			tr.b.SetValue("#modal form.modal textarea", "fixed")
			tr.b.Click(`#modal button[data-modal-submit]`)
			tr.b.WaitTrue("the modal closes", `document.querySelector("#modal form.modal") === null`)
			tr.b.WaitTrue("the card shows resolved", pinnedText+`.includes("✅") && `+pinnedText+`.includes("resolved")`)
			tr.b.WaitTrue("the card's buttons are gone", `document.querySelector('#messages .msg.pinned button[data-action-id="take_command"]') === null`)
			tr.b.WaitTrue("the resolution message", `document.querySelector("#messages").innerText.includes("resolved the incident after")`)
		}},
		{"view the App Home", func(tr *tour) {
			tr.b.Click(`#sidebar a[data-home]`)
			tr.b.WaitTrue("the Home", `document.querySelector("#main h1") && document.querySelector("#main h1").innerText.includes("Home")`)
			tr.b.WaitTrue("the published Home", `document.querySelector("#main .home").innerText.includes("Open incidents")`)
		}},
	}
}

// TestSandboxTourInChromium drives a real headless Chromium through the
// sandbox page: fire an alert, take command from the card, type a slash
// command, resolve through the modal, look at the App Home.
func TestSandboxTourInChromium(t *testing.T) {
	b := cdptest.New(t)
	s := startStack(t)
	tr := &tour{t: t, b: b, s: s}
	for i, st := range tourSteps() {
		t.Logf("step %d: %s", i+1, st.name)
		st.run(tr)
	}
	if logs := b.Logs(); len(logs) > 0 {
		for _, l := range logs {
			if strings.Contains(l, "exceptionThrown") {
				t.Errorf("browser exception: %s", l)
			}
		}
	}
	if late := s.fs.LateAcks(); len(late) > 0 {
		t.Errorf("late acks: %s", fmt.Sprint(late))
	}
}
