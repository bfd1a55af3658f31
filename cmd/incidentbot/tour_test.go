package main

import (
	"bytes"
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/incident/incidenttest"
	"github.com/incidentbot/incidentbot/internal/cdptest"
	"github.com/incidentbot/incidentbot/internal/sandbox"
)

// TestReadmeTourInChromium runs `incidentbot serve --sandbox` exactly as the
// README's first command does (no config, no tokens) and walks the README's
// tour in a real headless Chromium: fire an alert, see the priced channel,
// take command, set impact, resolve, publish the review and open it on the
// review site. Any missing step fails the test.
func TestReadmeTourInChromium(t *testing.T) {
	br := cdptest.New(t) // skips without Chromium outside CI, fails in CI
	defer br.Close()
	t.Chdir(t.TempDir())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addrc := make(chan net.Addr, 1)
	a := &app{env: envMap(map[string]string{"INCIDENTBOT_HTTP_LISTEN": "127.0.0.1:0"}), ctx: ctx, onListen: func(ad net.Addr) { addrc <- ad }}
	stderr := &lockedWriter{w: &bytes.Buffer{}}
	a.stdout, a.stderr, a.now = &lockedWriter{w: &bytes.Buffer{}}, stderr, time.Now
	done := make(chan int, 1)
	go func() { done <- a.run([]string{"serve", "--sandbox"}) }()
	defer func() {
		cancel()
		<-done
		if t.Failed() {
			logs := stderr.String()
			if len(logs) > 6000 {
				logs = logs[len(logs)-6000:]
			}
			t.Logf("serve logs (tail):\n%s", logs)
		}
	}()
	var base string
	select {
	case ad := <-addrc:
		base = "http://" + ad.String()
	case <-time.After(15 * time.Second):
		t.Fatal("serve --sandbox did not listen")
	}
	// The starter's bedroom has a Black Friday peak: on the real clock the
	// tour must expect the exposure in force today.
	rate, target := "$200,000/h", "target 99.0%"
	if now := time.Now(); !now.Before(incidenttest.BlackFriday.Start) && now.Before(incidenttest.BlackFriday.End) {
		rate, target = "$900,000/h", "target 99.9%"
	}
	pinned := `[...document.querySelectorAll("#messages .msg.pinned")].map(m => m.innerText).join("\n")`
	messages := `document.querySelector("#messages").innerText`
	send := func(text string) {
		br.SetValue("#composer-text", text)
		br.MustEval(`document.getElementById("composer").requestSubmit()`)
		br.WaitTrue("the composer is cleared after "+text, `document.querySelector("#composer-text").value === ""`)
	}

	// 1. Open the sandbox as Riley, the responder.
	br.Navigate(base + "/sandbox?user=" + sandbox.ResponderID)
	br.WaitTrue("the page", `document.querySelector("#user-picker") !== null`)
	// 2. Fire a sample alert for bedroom: the priced channel opens.
	br.Click(`button[data-alert-service="bedroom"]`)
	br.WaitTrue("the incident channel", `document.querySelector("#main h1").innerText.includes("inc-1-")`)
	for _, want := range []string{"Minor", target, "$0/h", "Take command"} {
		br.WaitTrue("the card shows "+want, pinned+`.includes(`+strconv.Quote(want)+`)`)
	}
	// 3. Set the impact: Major at $200,000/h.
	send("/incident impact blocked")
	br.WaitTrue("the card shows Major at "+rate, pinned+`.includes("Major") && `+pinned+`.includes(`+strconv.Quote(rate)+`)`)
	// 4. Take command; a note and a stakeholder update.
	br.Click(`#messages .msg.pinned button[data-action-id="take_command"]`)
	br.WaitTrue("Riley commands", `[...document.querySelectorAll("#messages .msg.pinned .bk-field")].some(f => f.innerText.includes("Commander") && f.innerText.includes("@"))`)
	send("/incident note rolled back the search index")
	br.WaitTrue("the note", messages+`.includes("rolled back the search index")`)
	send("/incident update rollback in progress")
	// 5. Resolve through the card's modal.
	br.Click(`#messages .msg.pinned button[data-action-id="resolve"]`)
	br.WaitTrue("the resolve modal", `document.querySelector("#modal form.modal textarea") !== null`)
	br.SetValue("#modal form.modal textarea", "rolled back the index")
	br.Click(`#modal button[data-modal-submit]`)
	br.WaitTrue("the card shows the resolution", pinned+`.includes("Restored in") && `+pinned+`.includes("Protection effectiveness")`)
	// 6. Write and publish the review, then open it on the review site.
	send("/incident review")
	br.WaitTrue("the review's state", `document.body.innerText.includes("Contributing factors") || document.body.innerText.includes("contributing factors")`)
	send("/incident publish confirm")
	link := `([...document.querySelectorAll("#messages a")].map(a => a.href).find(h => h.includes("/reviews/1")) || "")`
	br.WaitTrue("the review link in the channel", link+` !== ""`)
	url := br.String(link)
	if !strings.HasPrefix(url, base+"/reviews/1") {
		t.Fatalf("review link %q does not point at this bot (%s)", url, base)
	}
	br.Navigate(url)
	br.WaitTrue("the published review", `document.body.innerText.includes("bedroom")`)
	for _, want := range []string{"Summary", "Timeline", "rolled back the index"} {
		br.WaitTrue("the review shows "+want, `document.body.innerText.includes(`+strconv.Quote(want)+`)`)
	}
	br.Navigate(base + "/reviews/")
	br.WaitTrue("the index lists it", `[...document.querySelectorAll("a")].some(a => a.href.includes("/reviews/1"))`)
	// 7. The insights: the tour's incident beside a seeded, marked sample
	// history, every chart drawn.
	br.Navigate(base + "/insights")
	br.WaitTrue("the insights page", `document.querySelector("h1") && document.querySelector("h1").innerText === "Incident insights"`)
	br.WaitTrue("marked as sample data", `document.querySelector("#sample-data") !== null`)
	br.WaitTrue("the tour's incident is restored in the charts", `[...document.querySelectorAll("#restore tbody tr")].some(r => r.cells[0].innerText.startsWith("#1 "))`)
	br.WaitTrue("its review's readers are counted", `[...document.querySelectorAll("#readers tbody tr")].some(r => r.cells[0].innerText.startsWith("#1 "))`)
	br.WaitTrue("every chart is drawn", `document.querySelectorAll("figure.insight").length === 11 && document.querySelectorAll("figure.insight p.empty").length === 0`)
}
