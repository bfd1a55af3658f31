// Package cdptest drives a real headless Chromium from Go tests over the
// Chrome DevTools Protocol, with no dependency beyond gorilla/websocket:
// launch the browser, open a page, navigate, evaluate JavaScript, and wait
// for a JavaScript condition.
//
//	b := cdptest.New(t) // skips (or, with $CI set, fails) without Chromium
//	b.Navigate(url)
//	b.WaitTrue("page ready", `document.querySelector("#app") !== null`)
//	b.Click(`button[data-action-id="take_command"]`)
//
// Chromium is looked up as $CHROMIUM, then chromium, chromium-browser,
// google-chrome and google-chrome-stable on PATH.
package cdptest

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// Find returns the path of a Chromium binary, or "" if there is none.
func Find() string {
	if p := os.Getenv("CHROMIUM"); p != "" {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	return ""
}

// Browser is a running headless Chromium with one page open.
type Browser struct {
	t       testing.TB
	cmd     *exec.Cmd
	conn    *websocket.Conn
	session string
	// Timeout bounds each wait and each command (default 20 s).
	Timeout time.Duration

	writeMu sync.Mutex
	mu      sync.Mutex
	nextID  int64
	pending map[int64]chan reply
	closed  chan struct{}
	readErr error
	logs    []string
	waited  chan struct{}
}

type reply struct {
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

var devtoolsRE = regexp.MustCompile(`DevTools listening on (ws://\S+)`)

// New launches Chromium and opens a blank page; the browser is closed when
// the test ends. Without Chromium the test is skipped, or fails when the CI
// environment variable is set.
func New(t testing.TB) *Browser {
	t.Helper()
	path := Find()
	if path == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("cdptest: chromium is required in CI (apt-get install chromium)")
		}
		t.Skip("cdptest: chromium not installed (apt-get install chromium)")
	}
	b, err := Launch(t, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return b
}

// Launch starts the Chromium at path and opens a blank page. Close it.
func Launch(t testing.TB, path string) (*Browser, error) {
	dir, err := os.MkdirTemp("", "cdptest-")
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(path,
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
		"--disable-quic", "--no-first-run", "--no-default-browser-check",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-extensions", "--disable-default-apps", "--mute-audio",
		"--window-size=1280,900", "--user-data-dir="+dir, "--remote-debugging-port=0",
		"about:blank")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("cdptest: starting %s: %w", path, err)
	}
	b := &Browser{t: t, cmd: cmd, Timeout: 20 * time.Second, pending: map[int64]chan reply{}, closed: make(chan struct{}), waited: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		os.RemoveAll(dir)
		close(b.waited)
	}()
	wsURL := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sent := false
		for sc.Scan() {
			if m := devtoolsRE.FindStringSubmatch(sc.Text()); m != nil && !sent {
				wsURL <- m[1]
				sent = true
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
		if !sent {
			close(wsURL)
		}
	}()
	var u string
	select {
	case u = <-wsURL:
	case <-time.After(30 * time.Second):
	}
	if u == "" {
		b.kill()
		return nil, errors.New("cdptest: chromium did not print its DevTools URL")
	}
	conn, _, err := websocket.DefaultDialer.Dial(u, nil)
	if err != nil {
		b.kill()
		return nil, fmt.Errorf("cdptest: connecting to DevTools: %w", err)
	}
	conn.SetReadLimit(64 << 20)
	b.conn = conn
	go b.readLoop()

	var target struct {
		TargetID string `json:"targetId"`
	}
	if err := b.call("", "Target.createTarget", map[string]any{"url": "about:blank"}, &target); err != nil {
		b.Close()
		return nil, err
	}
	var att struct {
		SessionID string `json:"sessionId"`
	}
	if err := b.call("", "Target.attachToTarget", map[string]any{"targetId": target.TargetID, "flatten": true}, &att); err != nil {
		b.Close()
		return nil, err
	}
	b.session = att.SessionID
	for _, m := range []string{"Page.enable", "Runtime.enable"} {
		if err := b.call(b.session, m, nil, nil); err != nil {
			b.Close()
			return nil, err
		}
	}
	return b, nil
}

func (b *Browser) readLoop() {
	for {
		_, data, err := b.conn.ReadMessage()
		if err != nil {
			b.mu.Lock()
			b.readErr = err
			for id, ch := range b.pending {
				close(ch)
				delete(b.pending, id)
			}
			b.mu.Unlock()
			close(b.closed)
			return
		}
		var msg struct {
			ID     int64           `json:"id"`
			Method string          `json:"method"`
			Params json.RawMessage `json:"params"`
			reply
		}
		if json.Unmarshal(data, &msg) != nil {
			continue
		}
		if msg.ID != 0 {
			b.mu.Lock()
			ch := b.pending[msg.ID]
			delete(b.pending, msg.ID)
			b.mu.Unlock()
			if ch != nil {
				ch <- msg.reply
			}
			continue
		}
		switch msg.Method {
		case "Runtime.consoleAPICalled", "Runtime.exceptionThrown", "Log.entryAdded":
			b.mu.Lock()
			b.logs = append(b.logs, msg.Method+": "+clip(string(msg.Params), 400))
			b.mu.Unlock()
		}
	}
}

// call sends a DevTools command and decodes its result into out (if not nil).
func (b *Browser) call(session, method string, params any, out any) error {
	if params == nil {
		params = map[string]any{}
	}
	b.mu.Lock()
	if b.readErr != nil {
		b.mu.Unlock()
		return fmt.Errorf("cdptest: %s: connection lost: %w", method, b.readErr)
	}
	b.nextID++
	id := b.nextID
	ch := make(chan reply, 1)
	b.pending[id] = ch
	b.mu.Unlock()
	msg := map[string]any{"id": id, "method": method, "params": params}
	if session != "" {
		msg["sessionId"] = session
	}
	b.writeMu.Lock()
	err := b.conn.WriteJSON(msg)
	b.writeMu.Unlock()
	if err != nil {
		return fmt.Errorf("cdptest: %s: %w", method, err)
	}
	timeout := b.Timeout
	if timeout <= 0 {
		timeout = 20 * time.Second
	}
	select {
	case r, ok := <-ch:
		if !ok {
			return fmt.Errorf("cdptest: %s: connection lost", method)
		}
		if r.Error != nil {
			return fmt.Errorf("cdptest: %s: %s (%d)", method, r.Error.Message, r.Error.Code)
		}
		if out != nil {
			return json.Unmarshal(r.Result, out)
		}
		return nil
	case <-time.After(timeout):
		b.mu.Lock()
		delete(b.pending, id)
		b.mu.Unlock()
		return fmt.Errorf("cdptest: %s: no answer in %v", method, timeout)
	}
}

// Call sends a DevTools command to the page's session.
func (b *Browser) Call(method string, params any, out any) error {
	return b.call(b.session, method, params, out)
}

// Eval evaluates a JavaScript expression in the page (awaiting a promise)
// and returns its value as JSON.
func (b *Browser) Eval(expr string) (json.RawMessage, error) {
	var res struct {
		Result struct {
			Type  string          `json:"type"`
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text      string `json:"text"`
			Exception *struct {
				Description string `json:"description"`
			} `json:"exception"`
		} `json:"exceptionDetails"`
	}
	err := b.Call("Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true, "awaitPromise": true}, &res)
	if err != nil {
		return nil, err
	}
	if e := res.ExceptionDetails; e != nil {
		msg := e.Text
		if e.Exception != nil {
			msg = e.Exception.Description
		}
		return nil, fmt.Errorf("cdptest: %s: %s", clip(expr, 120), msg)
	}
	if res.Result.Type == "undefined" {
		return json.RawMessage("null"), nil
	}
	return res.Result.Value, nil
}

// MustEval is Eval failing the test on error.
func (b *Browser) MustEval(expr string) json.RawMessage {
	b.t.Helper()
	v, err := b.Eval(expr)
	if err != nil {
		b.t.Fatalf("%v%s", err, b.logTail())
	}
	return v
}

// String evaluates expr and returns it as a string (JSON for non-strings).
func (b *Browser) String(expr string) string {
	b.t.Helper()
	v := b.MustEval(expr)
	var s string
	if json.Unmarshal(v, &s) == nil {
		return s
	}
	return string(v)
}

// Navigate loads url and waits until the document is complete.
func (b *Browser) Navigate(url string) {
	b.t.Helper()
	var res struct {
		ErrorText string `json:"errorText"`
	}
	if err := b.Call("Page.navigate", map[string]any{"url": url}, &res); err != nil {
		b.t.Fatal(err)
	}
	if res.ErrorText != "" {
		b.t.Fatalf("cdptest: navigating to %s: %s", url, res.ErrorText)
	}
	b.WaitTrue("page "+url+" loaded", `document.readyState === "complete" && location.href !== "about:blank"`)
}

// WaitTrue polls a JavaScript condition until it is true, failing the test
// with what and the page's text when it stays false for Timeout. Errors
// while evaluating (e.g. during a navigation) count as false.
func (b *Browser) WaitTrue(what, cond string) {
	b.t.Helper()
	timeout := b.Timeout
	if timeout <= 0 {
		timeout = 20 * time.Second
	}
	deadline := time.Now().Add(timeout)
	var lastErr error
	for {
		v, err := b.Eval("!!(" + cond + ")")
		if err == nil && string(v) == "true" {
			return
		}
		lastErr = err
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	text, _ := b.Eval(`document.body ? document.body.innerText : ""`)
	var s string
	_ = json.Unmarshal(text, &s)
	b.t.Fatalf("cdptest: timed out waiting for %s (condition %s; last error %v)\npage text:\n%s%s", what, cond, lastErr, clip(s, 4000), b.logTail())
}

// Click clicks the first element matching a CSS selector, failing the test
// if there is none.
func (b *Browser) Click(selector string) {
	b.t.Helper()
	sel, _ := json.Marshal(selector)
	b.WaitTrue("element "+selector, fmt.Sprintf(`document.querySelector(%s) !== null`, sel))
	b.MustEval(fmt.Sprintf(`document.querySelector(%s).click()`, sel))
}

// SetValue sets the value of the first element matching a CSS selector and
// fires input and change events.
func (b *Browser) SetValue(selector, value string) {
	b.t.Helper()
	sel, _ := json.Marshal(selector)
	val, _ := json.Marshal(value)
	b.WaitTrue("element "+selector, fmt.Sprintf(`document.querySelector(%s) !== null`, sel))
	b.MustEval(fmt.Sprintf(`(() => { const e = document.querySelector(%s); e.value = %s;
		e.dispatchEvent(new Event("input", {bubbles: true})); e.dispatchEvent(new Event("change", {bubbles: true})); })()`, sel, val))
}

// Screenshot captures the page as PNG.
func (b *Browser) Screenshot() ([]byte, error) {
	var res struct {
		Data []byte `json:"data"`
	}
	err := b.Call("Page.captureScreenshot", map[string]any{"format": "png", "captureBeyondViewport": true}, &res)
	return res.Data, err
}

// Logs returns the console messages and exceptions seen so far.
func (b *Browser) Logs() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.logs...)
}

func (b *Browser) logTail() string {
	logs := b.Logs()
	if len(logs) == 0 {
		return ""
	}
	if len(logs) > 20 {
		logs = logs[len(logs)-20:]
	}
	return "\nbrowser console:\n" + strings.Join(logs, "\n")
}

// Close closes the browser and waits for it to exit.
func (b *Browser) Close() {
	if b.conn != nil {
		_ = b.call("", "Browser.close", nil, nil)
		_ = b.conn.Close()
	}
	select {
	case <-b.waited:
		// Renderer and helper processes may outlive the browser process
		// for a moment: end the rest of its process group.
		_ = syscall.Kill(-b.cmd.Process.Pid, syscall.SIGKILL)
	case <-time.After(5 * time.Second):
		b.kill()
	}
}

// kill ends the browser's process group (it was started in its own) and
// waits for it.
func (b *Browser) kill() {
	if b.cmd.Process != nil {
		_ = syscall.Kill(-b.cmd.Process.Pid, syscall.SIGKILL)
	}
	select {
	case <-b.waited:
	case <-time.After(5 * time.Second):
	}
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
