package insights_test

import (
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/incidentbot/incidentbot/internal/cdptest"
	"github.com/incidentbot/incidentbot/review/insights"
)

// cspWatch records Content-Security-Policy violations and script
// executions from before the page's own content is parsed.
const cspWatch = `window.__violations = [];
document.addEventListener("securitypolicyviolation", e => window.__violations.push(e.violatedDirective + " " + e.blockedURI));`

func evalJSON(t *testing.T, b *cdptest.Browser, expr string, v any) {
	t.Helper()
	if err := json.Unmarshal(b.MustEval(expr), v); err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
}

// TestInsightsInChromium loads the insights of a seeded history in a real
// headless Chromium at 1280 px and at 375 px: every chart is there and
// draws bars, no script is on the page or runs, the strict CSP lets the
// style block through and refuses nothing else, nothing overflows
// sideways, and every text table holds exactly the figures computed for it.
func TestInsightsInChromium(t *testing.T) {
	c := catalogue()
	incs, revs := insights.SampleHistory(c, now, 9001)
	w := world{cat: c, incs: incs, reviews: revs}
	srv, _ := serve(t, w, true)
	want := insights.Compute(insights.Input{Catalogue: c, Incidents: incs, Reviews: revs, Period: insights.DefaultPeriod, Now: now}).Charts("/reviews/")

	b := cdptest.New(t) // skipped without Chromium unless $CI is set
	if err := b.Call("Page.addScriptToEvaluateOnNewDocument", map[string]any{"source": cspWatch}, nil); err != nil {
		t.Fatal(err)
	}
	for _, vp := range []struct {
		width  int
		mobile bool
	}{{1280, false}, {375, true}} {
		if err := b.Call("Emulation.setDeviceMetricsOverride", map[string]any{"width": vp.width, "height": 900, "deviceScaleFactor": 1, "mobile": vp.mobile}, nil); err != nil {
			t.Fatal(err)
		}
		b.Navigate(srv.URL + "/insights")
		b.WaitTrue("insights page", `document.querySelectorAll("figure.insight").length > 0 && window.innerWidth === `+itoa(vp.width))

		var ids []string
		evalJSON(t, b, `Array.from(document.querySelectorAll("figure.insight")).map(f => f.id)`, &ids)
		var wantIDs []string
		for _, ch := range want {
			wantIDs = append(wantIDs, ch.ID)
		}
		if !reflect.DeepEqual(ids, wantIDs) {
			t.Fatalf("%d px: charts %v, want %v", vp.width, ids, wantIDs)
		}
		for _, ch := range want {
			var got struct {
				Bars, Empty int
				Width       float64
				Head        []string
				Rows        [][]string
			}
			evalJSON(t, b, `(() => { const f = document.getElementById("`+ch.ID+`");
				const svg = f.querySelector("svg.chart");
				return {Bars: f.querySelectorAll("svg.chart rect.bar").length, Empty: f.querySelectorAll("p.empty").length,
					Width: svg ? svg.getBoundingClientRect().width : 0,
					Head: Array.from(f.querySelectorAll("table thead th")).map(e => e.textContent),
					Rows: Array.from(f.querySelectorAll("table tbody tr")).map(r => Array.from(r.cells).map(c => c.textContent))}; })()`, &got)
			if got.Bars == 0 || got.Empty != 0 || got.Width < 200 {
				t.Errorf("%d px: chart %s draws %d bars %.0f px wide (%d empty notes)", vp.width, ch.ID, got.Bars, got.Width, got.Empty)
			}
			if !reflect.DeepEqual(got.Head, ch.Table.Head) || !reflect.DeepEqual(got.Rows, ch.Table.Rows) {
				t.Errorf("%d px: table of %s\n got %v %v\nwant %v %v", vp.width, ch.ID, got.Head, got.Rows, ch.Table.Head, ch.Table.Rows)
			}
		}
		// The bars are the table's figures: the incidents chart's bars add
		// up to the table's total column.
		var barSum, tableSum int
		evalJSON(t, b, `Array.from(document.querySelectorAll("#incidents rect.bar title")).map(e => +e.textContent.split(" ").pop()).reduce((a, b) => a + b, 0)`, &barSum)
		evalJSON(t, b, `Array.from(document.querySelectorAll("#incidents tbody tr")).map(r => +r.cells[3].textContent).reduce((a, b) => a + b, 0)`, &tableSum)
		if barSum == 0 || barSum != tableSum {
			t.Errorf("%d px: incidents bars add up to %d, the table to %d", vp.width, barSum, tableSum)
		}

		if n := evalInt(t, b, `document.querySelectorAll("script, [onload], [onclick], [onerror]").length`); n != 0 {
			t.Errorf("%d px: %d scripts or handlers on the page", vp.width, n)
		}
		var violations []string
		evalJSON(t, b, `window.__violations`, &violations)
		if len(violations) != 0 {
			t.Errorf("%d px: CSP violations %v", vp.width, violations)
		}
		// The style block got through the CSP by its hash: bars are coloured.
		if fill := b.String(`getComputedStyle(document.querySelector("rect.major")).fill`); fill != "rgb(198, 40, 40)" {
			t.Errorf("%d px: majors are drawn in %q: the stylesheet did not apply", vp.width, fill)
		}
		if sw := evalInt(t, b, `document.documentElement.scrollWidth`); sw > vp.width {
			wide := b.String(`Array.from(document.querySelectorAll("body *")).filter(e => e.getBoundingClientRect().right > window.innerWidth + 1).slice(0, 5).map(e => e.tagName + "." + e.className.baseVal ?? e.className).join(", ")`)
			t.Errorf("%d px: the page is %d px wide (%s)", vp.width, sw, wide)
		}
		if dir := os.Getenv("INSIGHTS_SCREENSHOTS"); dir != "" {
			png, err := b.Screenshot()
			if err == nil {
				_ = os.WriteFile(dir+"/insights-"+itoa(vp.width)+".png", png, 0o644)
			}
		}
	}
	if strings.Contains(b.String(`document.body.innerText`), "Leaked") {
		t.Error("a private review is listed")
	}
}

// TestInsightsWithoutDataInChromium: a period with nothing in it says so
// for every chart instead of drawing empty frames.
func TestInsightsWithoutDataInChromium(t *testing.T) {
	srv, _ := serve(t, world{cat: catalogue()}, false)
	b := cdptest.New(t)
	b.Navigate(srv.URL + "/insights?service=appointments")
	b.WaitTrue("insights page", `document.querySelectorAll("figure.insight").length > 0`)
	if n := evalInt(t, b, `document.querySelectorAll("svg.chart").length`); n != 1 {
		t.Errorf("%d charts drawn without data; want only the error budget", n) // a budget of 0% used still has a bar
	}
	if n := evalInt(t, b, `document.querySelectorAll("figure.insight p.empty").length`); n != 10 {
		t.Errorf("%d charts say they have no data, want 10", n)
	}
}

func evalInt(t *testing.T, b *cdptest.Browser, expr string) int {
	t.Helper()
	var v int
	evalJSON(t, b, expr, &v)
	return v
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}
