package alertmanager_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/incident/alertmanager"
)

// emptyAlerts is a notification of n alerts that are just {}: about three
// bytes each, so 340,000 of them fit in the 1 MiB body limit.
func emptyAlerts(n int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"version":"4","groupKey":"flood","status":"firing","commonLabels":{"service":"bedroom","alertname":"Flood"},"alerts":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("{}")
	}
	b.WriteString("]}")
	return b.Bytes()
}

// liveHeap is the heap in use after a collection.
func liveHeap() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

func TestAlertFloodIsBounded(t *testing.T) {
	const flood = 340_000
	body := emptyAlerts(flood)
	if len(body) > 1<<20 {
		t.Fatalf("the body is %d bytes, over the limit", len(body))
	}

	// Decoding keeps MaxAlerts alerts and counts the rest, so what stays in
	// memory does not grow with the body's alerts.
	before := liveHeap()
	var n alertmanager.Notification
	if err := json.Unmarshal(body, &n); err != nil {
		t.Fatal(err)
	}
	grown := int64(liveHeap()) - int64(before)
	if grown > 8<<20 {
		t.Errorf("the decoded notification holds %d MB", grown>>20)
	}
	if len(n.Alerts) != alertmanager.MaxAlerts || n.Dropped != flood-alertmanager.MaxAlerts || n.TruncatedAlerts != n.Dropped {
		t.Fatalf("decoded %d alerts, %d dropped, %d truncated", len(n.Alerts), n.Dropped, n.TruncatedAlerts)
	}
	runtime.KeepAlive(n)

	// What is stored says so.
	e := newEnv(t, alertmanager.Options{})
	rec := e.post(body, "")
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	var r alertmanager.Response
	if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil || !r.Created || r.Truncated != flood-alertmanager.MaxAlerts {
		t.Fatalf("response %s (%v)", rec.Body, err)
	}
	_, st := e.get(r.Incident)
	if len(st.Alerts) != 1 {
		t.Fatalf("%d alerts on the incident", len(st.Alerts))
	}
	sum := st.Alerts[0].Summary
	want := fmt.Sprintf("Alertmanager: %d firing, 0 resolved (%d more not read: at most %d alerts are read per notification)",
		alertmanager.MaxAlerts, flood-alertmanager.MaxAlerts, alertmanager.MaxAlerts)
	if !strings.HasPrefix(sum, want) || len(sum) > 4000 {
		t.Errorf("summary (%d bytes) %.300q, want it to start with %q", len(sum), sum, want)
	}

	// Alertmanager's own truncation and the bot's add up.
	n2 := notification("g2", "firing", labels("service", "appointments"), firing("a", time.Now().Add(-time.Minute), labels("service", "appointments"), "x"))
	n2.TruncatedAlerts = 7
	if r := e.send(n2); r.Truncated != 7 {
		t.Errorf("truncated %d, want Alertmanager's 7", r.Truncated)
	}
	if _, st := e.get(2); !strings.Contains(st.Alerts[0].Summary, "(7 more not sent)") {
		t.Errorf("summary %q", st.Alerts[0].Summary)
	}
}

func TestLabelSetsAreBounded(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"groupKey":"g","status":"firing","alerts":[{"labels":{"service":"bedroom","huge":"`)
	b.WriteString(strings.Repeat("v", 100_000))
	b.WriteString(`"`)
	for i := range 10_000 {
		fmt.Fprintf(&b, `,"l%d":"x"`, i)
	}
	b.WriteString(`},"annotations":{"summary":"` + strings.Repeat("s", 50_000) + `"}}]}`)
	var n alertmanager.Notification
	if err := json.Unmarshal([]byte(b.String()), &n); err != nil {
		t.Fatal(err)
	}
	a := n.Alerts[0]
	if len(a.Labels) != alertmanager.MaxLabels || a.Labels["service"] != "bedroom" {
		t.Errorf("%d labels kept (service %q), want the first %d", len(a.Labels), a.Labels["service"], alertmanager.MaxLabels)
	}
	if v := a.Labels["huge"]; len(v) > alertmanager.MaxLabelBytes || !strings.HasSuffix(v, "…") {
		t.Errorf("a label value of %d bytes", len(v))
	}
	if v := a.Annotations["summary"]; len(v) > alertmanager.MaxLabelBytes {
		t.Errorf("an annotation of %d bytes", len(v))
	}
	for _, bad := range []string{`{"groupKey":"g","alerts":[1]}`, `{"alerts":[{"labels":{"a":1}}]}`, `{"alerts":[{"labels":[]}]}`, `{"commonLabels":"x"}`} {
		if err := json.Unmarshal([]byte(bad), &n); err == nil {
			t.Errorf("%s decoded", bad)
		}
	}
}

// startedReader tells when the handler starts reading a body, and blocks
// until the test writes it.
type startedReader struct {
	io.Reader
	once    sync.Once
	started chan struct{}
}

func (r *startedReader) Read(p []byte) (int, error) {
	r.once.Do(func() { close(r.started) })
	return r.Reader.Read(p)
}

func TestDecodingTurnsAreBounded(t *testing.T) {
	e := newEnv(t, alertmanager.Options{MaxDecoding: 1, DecodeWait: 10 * time.Millisecond})
	good := func(key string) []byte {
		return mustJSON(t, notification(key, "firing", labels("service", "bedroom"), firing("f", time.Now().Add(-time.Minute), labels("service", "bedroom"), "x")))
	}
	// A slow sender holds the only turn while its body trickles in.
	pr, pw := io.Pipe()
	slow := &startedReader{Reader: pr, started: make(chan struct{})}
	first := make(chan *httptest.ResponseRecorder)
	go func() {
		req := httptest.NewRequest(http.MethodPost, alertmanager.Path, slow)
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		e.h.ServeHTTP(rec, req)
		first <- rec
	}()
	<-slow.started

	rec := e.post(good("g2"), "")
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" || !strings.Contains(rec.Body.String(), `"error"`) {
		t.Fatalf("while the turn is held: %d %q %s", rec.Code, rec.Header().Get("Retry-After"), rec.Body)
	}
	e.assertNothingStored()

	if _, err := pw.Write(good("g1")); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	if rec := <-first; rec.Code != http.StatusOK {
		t.Fatalf("the slow request: %d %s", rec.Code, rec.Body)
	}
	// The turn is free again.
	if r := e.send(mustNotification(t, good("g2"))); r.Incident != 1 {
		t.Errorf("after the turn: %+v", r)
	}
}

func mustNotification(t *testing.T, b []byte) alertmanager.Notification {
	t.Helper()
	var n alertmanager.Notification
	if err := json.Unmarshal(b, &n); err != nil {
		t.Fatal(err)
	}
	return n
}

// The fuzz target's seeds: the bodies of the tests above and below.
func payloadSeeds() [][]byte {
	n := notification(gk("bedroom", "HighLatency"), alertmanager.StatusFiring, labels("alertname", "HighLatency", "service", "bedroom"),
		firing("fp1", time.Date(2026, 11, 17, 12, 0, 0, 0, time.UTC), labels("alertname", "HighLatency", "service", "bedroom", "instance", "a:9100"), "p99 is 2s"))
	good, _ := json.Marshal(n)
	n.Status, n.Alerts[0].Status, n.Alerts[0].EndsAt = alertmanager.StatusResolved, alertmanager.StatusResolved, time.Date(2026, 11, 17, 13, 0, 0, 0, time.UTC)
	res, _ := json.Marshal(n)
	return [][]byte{
		good, res, emptyAlerts(3), emptyAlerts(alertmanager.MaxAlerts + 2),
		[]byte(`{"groupKey":"g","status":"firing","truncatedAlerts":-5,"alerts":[{"labels":{"service":"x","service":"y"}}]}`),
		[]byte(`{"groupKey":"g","status":"firing","truncatedAlerts":9223372036854775807,"alerts":[{}]}`),
		[]byte(`{"groupKey":"g","status":"firing","alerts":[{"labels":{"a":"b"},"annotations":null,"startsAt":"2020-01-01T00:00:00Z"}]}`),
		[]byte(`{"groupKey":"","status":"on fire","alerts":null}`), []byte(`[]`), []byte(`null`), []byte(`{"alerts":[1]}`),
	}
}

func FuzzDecodeNotification(f *testing.F) {
	for _, s := range payloadSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var n alertmanager.Notification
		if err := json.Unmarshal(body, &n); err != nil {
			return
		}
		if len(n.Alerts) > alertmanager.MaxAlerts || n.Dropped < 0 || n.TruncatedAlerts < n.Dropped {
			t.Fatalf("%d alerts, %d dropped, %d truncated", len(n.Alerts), n.Dropped, n.TruncatedAlerts)
		}
		sets := []alertmanager.LabelSet{n.GroupLabels, n.CommonLabels, n.CommonAnnotations}
		for _, a := range n.Alerts {
			sets = append(sets, a.Labels, a.Annotations)
		}
		for _, s := range sets {
			if len(s) > alertmanager.MaxLabels {
				t.Fatalf("%d labels", len(s))
			}
			for k, v := range s {
				if len(k) > alertmanager.MaxLabelBytes || len(v) > alertmanager.MaxLabelBytes {
					t.Fatalf("label of %d/%d bytes", len(k), len(v))
				}
			}
		}
		if n.Validate() != nil {
			return
		}
		a := n.DeskAlert("service")
		if len(a.Summary) > 4000 || len(a.Labels) > 40 || len(a.Service) > alertmanager.MaxService || a.Key == "" || a.Idem == "" {
			t.Fatalf("desk alert: summary %d bytes, %d labels, service %d bytes, key %q, idem %q", len(a.Summary), len(a.Labels), len(a.Service), a.Key, a.Idem)
		}
		if n.Idem() != a.Idem {
			t.Fatalf("the idempotency key is not stable")
		}
	})
}

// lockedBuf is a log sink for the handler's logger.
type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// A groupKey or a service label over bbolt's 32 KiB key limit used to
// answer 500 forever (Alertmanager retrying); they are stored, grouped and
// deduplicated like short ones, and logged once, cut short.
func TestKeysOverTheStoreLimit(t *testing.T) {
	var logs lockedBuf
	e := newEnv(t, alertmanager.Options{Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	longKey := "{}:{alertname=\"" + strings.Repeat("k", 40<<10) + "\"}"
	start := time.Now().Add(-time.Minute)
	n := notification(longKey, "firing", labels("service", "bedroom"), firing("f1", start, labels("service", "bedroom"), "x"))
	if r := e.send(n); !r.Created {
		t.Fatalf("first: %+v", r)
	}
	if r := e.send(n); r.Incident != 1 || r.Created {
		t.Fatalf("re-send: %+v", r)
	}
	n.Alerts = append(n.Alerts, firing("f2", start, labels("service", "bedroom", "instance", "2"), "y"))
	if r := e.send(n); r.Incident != 1 || r.Created {
		t.Fatalf("the group grows: %+v", r)
	}

	longSvc := strings.Repeat("s", 40<<10)
	a := e.send(notification("g-a", "firing", labels("service", longSvc), firing("a", start, labels("service", longSvc), "x")))
	b := e.send(notification("g-b", "firing", labels("service", longSvc), firing("b", start, labels("service", longSvc), "x")))
	if !a.Created || b.Incident != a.Incident || b.Created {
		t.Fatalf("two groups of one long service: %+v %+v", a, b)
	}
	inc, _ := e.get(a.Incident)
	if !inc.Unmapped || len(inc.Service.Name) > alertmanager.MaxService || !strings.HasPrefix(inc.Service.Name, "sss") {
		t.Errorf("service %q (%d bytes), unmapped %v", inc.Service.Name[:min(len(inc.Service.Name), 20)], len(inc.Service.Name), inc.Unmapped)
	}

	// A failure is logged once per request, with the key cut short.
	e.store.fail.Store(true)
	n.Alerts = append(n.Alerts, firing("f3", start, labels("service", "bedroom", "instance", "3"), "z"))
	if rec := e.post(mustJSON(t, n), ""); rec.Code != http.StatusInternalServerError {
		t.Fatalf("status %d", rec.Code)
	}
	out := logs.String()
	if c := strings.Count(out, "{}:{alertname="); c != 1 || len(out) > 4000 {
		t.Errorf("the log holds the key %d times in %d bytes", c, len(out))
	}
}
