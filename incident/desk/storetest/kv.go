package storetest

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/incident"
	"github.com/incidentbot/incidentbot/incident/desk"
)

func testSeen(t *testing.T, e *env) {
	ctx := e.ctx
	seen := func(s desk.Storage, ns, key string, at time.Time) bool {
		t.Helper()
		first, err := s.Seen(ctx, ns, key, at)
		if err != nil {
			t.Fatal(err)
		}
		return first
	}
	s := e.s
	if !seen(s, "slack.event", "Ev1", T0) {
		t.Fatal("first sighting not first")
	}
	if seen(s, "slack.event", "Ev1", T0.Add(time.Second)) {
		t.Fatal("redelivery reported as first")
	}
	if seen(e.Replica(t), "slack.event", "Ev1", T0.Add(time.Second)) {
		t.Fatal("redelivery to another replica reported as first")
	}
	if !seen(s, "pagerduty.webhook", "Ev1", T0) {
		t.Fatal("namespaces are not separate")
	}
	if !seen(s, "slack.event", "Ev2", at(60)) {
		t.Fatal("Ev2 not first")
	}
	for _, bad := range [][2]string{{"", "x"}, {"ns", ""}, {"n\x00s", "x"}} {
		if _, err := s.Seen(ctx, bad[0], bad[1], T0); incident.ErrorCode(err) != incident.EINVALID {
			t.Fatalf("Seen(%q, %q) = %v, want %s", bad[0], bad[1], err, incident.EINVALID)
		}
	}
	s = e.Reopen(t)
	if seen(s, "slack.event", "Ev1", at(1)) {
		t.Fatal("Seen forgot Ev1 across a reopen")
	}
	n, err := s.PruneSeen(ctx, at(1))
	if err != nil || n != 2 {
		t.Fatalf("PruneSeen = %d, %v; want 2 (both Ev1)", n, err)
	}
	if seen(s, "slack.event", "Ev2", at(120)) {
		t.Fatal("PruneSeen removed Ev2, which is newer")
	}
	if !seen(s, "slack.event", "Ev1", at(120)) {
		t.Fatal("pruned Ev1 still seen")
	}
}

func testWasSeen(t *testing.T, e *env) {
	s, ctx := e.s, e.ctx
	for range 2 {
		if seen, err := s.WasSeen(ctx, "pagerduty.webhook", "W1"); err != nil || seen {
			t.Fatalf("WasSeen before Seen = %v, %v", seen, err)
		}
	}
	if first, err := s.Seen(ctx, "pagerduty.webhook", "W1", T0); err != nil || !first {
		t.Fatalf("Seen = %v, %v; WasSeen must not have recorded the key", first, err)
	}
	if seen, err := s.WasSeen(ctx, "pagerduty.webhook", "W1"); err != nil || !seen {
		t.Fatalf("WasSeen after Seen = %v, %v", seen, err)
	}
	if seen, _ := s.WasSeen(ctx, "other", "W1"); seen {
		t.Fatal("namespaces are separate")
	}
	if _, err := s.WasSeen(ctx, "", "W1"); err == nil {
		t.Fatal("WasSeen without a namespace must fail")
	}
}

func testKV(t *testing.T, e *env) {
	s, ctx := e.s, e.ctx
	if _, ok, err := s.GetKV(ctx, "slack.channel", "1"); ok || err != nil {
		t.Fatalf("GetKV on a missing bucket = %v, %v", ok, err)
	}
	for k, v := range map[string]string{"1": "C01", "2": "C02", "12": "C12", "3": "", "1/a": "x\x00\xff"} {
		if err := s.Put(ctx, "slack.channel", k, []byte(v)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Put(ctx, "slack.card", "1", []byte("1700000000.000100")); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, "slack.card", "nil", nil); err != nil {
		t.Fatal(err)
	}
	v, ok, err := s.GetKV(ctx, "slack.channel", "1")
	if err != nil || !ok || string(v) != "C01" {
		t.Fatalf("GetKV = %q %v %v", v, ok, err)
	}
	v[0] = 'X' // the copy is ours
	if v, _, _ := s.GetKV(ctx, "slack.channel", "1"); string(v) != "C01" {
		t.Fatalf("modifying a returned value changed the store: %q", v)
	}
	if v, ok, _ := s.GetKV(ctx, "slack.channel", "3"); !ok || len(v) != 0 {
		t.Fatalf("empty value: %q %v", v, ok)
	}
	if v, ok, _ := s.GetKV(ctx, "slack.card", "nil"); !ok || len(v) != 0 {
		t.Fatalf("nil value: %q %v", v, ok)
	}
	if v, _, _ := e.Replica(t).GetKV(ctx, "slack.channel", "1/a"); string(v) != "x\x00\xff" {
		t.Fatalf("binary value = %q", v)
	}
	if err := s.Put(ctx, "slack.channel", "2", []byte("C02b")); err != nil {
		t.Fatal(err)
	}

	var keys []string
	err = s.Scan(ctx, "slack.channel", "1", func(k string, v []byte) error {
		keys = append(keys, k+"="+string(v))
		return s.Put(ctx, "scanned", k, v) // fn may write: the scan holds nothing
	})
	if err != nil || !slices.Equal(keys, []string{"1=C01", "1/a=x\x00\xff", "12=C12"}) {
		t.Fatalf("Scan(prefix 1) = %q, %v", keys, err)
	}
	keys = nil
	stop := errors.New("stop")
	err = s.Scan(ctx, "slack.channel", "", func(k string, v []byte) error {
		keys = append(keys, k+"="+string(v))
		if len(keys) == 4 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || !slices.Equal(keys, []string{"1=C01", "1/a=x\x00\xff", "12=C12", "2=C02b"}) {
		t.Fatalf("Scan(all) = %q, %v", keys, err)
	}
	// Prefixes are literal, not patterns.
	for _, p := range []string{"%", "_", "1%"} {
		if err := s.Scan(ctx, "slack.channel", p, func(k string, _ []byte) error { t.Errorf("Scan(%q) found %q", p, k); return nil }); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Scan(ctx, "missing", "", func(string, []byte) error { t.Error("called"); return nil }); err != nil {
		t.Fatal(err)
	}
	for range 2 { // deleting a missing key is fine
		if err := s.Delete(ctx, "slack.channel", "1"); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok, _ := s.GetKV(ctx, "slack.channel", "1"); ok {
		t.Fatal("deleted key still there")
	}
	if err := s.Delete(ctx, "missing", "1"); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, "", "k", nil); incident.ErrorCode(err) != incident.EINVALID {
		t.Fatalf("Put without bucket = %v", err)
	}
	if err := s.Put(ctx, "b", "", nil); incident.ErrorCode(err) != incident.EINVALID {
		t.Fatalf("Put without key = %v", err)
	}
	// Adapter buckets do not collide with the store's own.
	if err := s.Put(ctx, "incidents", "x", []byte("y")); err != nil {
		t.Fatal(err)
	}
	if all := e.listNumbers(t, desk.Filter{}); len(all) != 0 {
		t.Fatalf("kv write showed up as incidents: %v", all)
	}
}

func testCountOpenAndPing(t *testing.T, e *env) {
	if err := e.s.Ping(e.ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	if n, err := e.s.CountOpen(e.ctx); n != 0 || err != nil {
		t.Fatalf("CountOpen = %d, %v", n, err)
	}
	e.create(t, "bedroom", T0)
	e.create(t, "bedroom", T0, incident.Event{At: T0, Kind: incident.EventResolved})
	e.create(t, "appointments", T0)
	e.assertOpen(t, 3, 1)
}

// testOutsideKeys: keys that come from outside (a 40 KiB groupKey, a
// service name from an alert label, a webhook id, with NUL or invalid
// UTF-8) are stored, found, deduplicated and grouped like short ones; what
// can never be stored is invalid input, not a failure to retry.
func testOutsideKeys(t *testing.T, e *env) {
	s, ctx := e.s, e.ctx
	long := func(c string) string { return strings.Repeat(c, 40<<10) }
	for _, k := range []struct{ alert, idem, svc, hook string }{
		{"am:" + long("g"), "pd:" + long("i"), long("s"), long("w")},
		{"am:a\x00b", "pd:\xff\xfe", "bed\x00room", "hook\x00\xff"},
		{"\x01sha256:" + long("h"), "\x00sha256:x", "svc", "\x00sha256:y"},
	} {
		inc := e.create(t, k.svc, T0, incident.Event{At: T0, Kind: incident.EventAlertFired, Key: k.alert, Idem: k.idem, Text: "fired"})
		if n, ok, err := s.ByAlertKey(ctx, k.alert); err != nil || !ok || n != inc.Number {
			t.Errorf("ByAlertKey(%.20q) = %d %v %v", k.alert, n, ok, err)
		}
		if n, ok, err := s.ByIdem(ctx, k.idem); err != nil || !ok || n != inc.Number {
			t.Errorf("ByIdem(%.20q) = %d %v %v", k.idem, n, ok, err)
		}
		if open, err := s.OpenByService(ctx, strings.ToUpper(k.svc)); err != nil || len(open) == 0 || open[0].Number != inc.Number {
			t.Errorf("OpenByService(%.20q) = %d incidents, %v", k.svc, len(open), err)
		}
		if open, _ := s.OpenByService(ctx, k.svc[:len(k.svc)-1]); len(open) != 0 {
			t.Errorf("a shorter name than %.20q found %d incidents", k.svc, len(open))
		}
		for i, want := range []bool{true, false} {
			if first, err := s.Seen(ctx, "pagerduty.webhook", k.hook, T0); err != nil || first != want {
				t.Errorf("Seen(%.20q) #%d = %v %v", k.hook, i+1, first, err)
			}
		}
		if seen, err := s.WasSeen(ctx, "pagerduty.webhook", k.hook); err != nil || !seen {
			t.Errorf("WasSeen(%.20q) = %v %v", k.hook, seen, err)
		}
		if got, err := s.Get(ctx, inc.Number); err != nil || got.Events[1].Key != k.alert || got.Service.Name != k.svc {
			t.Errorf("incident %d does not keep its keys as given: %v", inc.Number, err)
		}
	}
	if err := s.Put(ctx, "bucket", long("k"), []byte("v")); incident.ErrorCode(err) != incident.EINVALID {
		t.Errorf("Put of a 40 KiB key: %v (code %s)", err, incident.ErrorCode(err))
	}
	_, err := s.Create(ctx, func(n int64) (*incident.Incident, []desk.Job, error) {
		return declared(n, "bedroom", T0), []desk.Job{{ID: long("j"), Kind: "x"}}, nil
	})
	if incident.ErrorCode(err) != incident.EINVALID {
		t.Errorf("a job with a 40 KiB id: %v (code %s)", err, incident.ErrorCode(err))
	}
	if err := s.Enqueue(ctx, desk.Job{ID: "r", Kind: "x"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Retry(ctx, "r", T0, "slack said \x00\xff"); err != nil {
		t.Errorf("Retry with an odd error text: %v", err)
	}
}
