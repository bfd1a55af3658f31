package cdptest_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/incidentbot/incidentbot/internal/cdptest"
)

func TestBrowser(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, `<!doctype html><input id="in"><button id="b" onclick="setTimeout(() => document.body.dataset.clicked = document.getElementById('in').value, 100)">go</button>`)
	}))
	defer srv.Close()
	b := cdptest.New(t)
	b.Navigate(srv.URL)
	b.SetValue("#in", `a "quoted" value`)
	b.Click("#b")
	b.WaitTrue("the click", `document.body.dataset.clicked === 'a "quoted" value'`)
	if got := b.String(`document.title + "|" + document.querySelectorAll("button").length`); got != "|1" {
		t.Errorf("String = %q", got)
	}
	if _, err := b.Eval(`(() => { throw new Error("boom") })()`); err == nil {
		t.Errorf("an exception was not reported")
	}
	if v, err := b.Eval(`Promise.resolve(42)`); err != nil || string(v) != "42" {
		t.Errorf("awaited promise = %s, %v", v, err)
	}
	if png, err := b.Screenshot(); err != nil || len(png) < 100 {
		t.Errorf("screenshot: %d bytes, %v", len(png), err)
	}
}
