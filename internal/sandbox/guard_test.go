package sandbox

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// The guard serves only the sandbox's own host names, and refuses
// state-changing requests a browser marks as foreign, Origin "null"
// included; programs (no Origin, no Sec-Fetch-Site) pass.
func TestGuard(t *testing.T) {
	served := 0
	g := Guard(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { served++ }), "sandbox.lan:9000", "192.0.2.7")
	for _, tc := range []struct {
		method, host, origin, site string
		ok                         bool
	}{
		{"GET", "127.0.0.1:8080", "", "", true},
		{"GET", "localhost:8080", "", "", true},
		{"GET", "LOCALHOST", "", "", true},
		{"GET", "[::1]:8080", "", "", true},
		{"GET", "sandbox.lan:8080", "", "", true}, // any port: Docker maps them
		{"GET", "192.0.2.7:8080", "", "", true},
		{"GET", "evil.example:8080", "", "", false}, // DNS rebinding
		{"GET", "127.0.0.1.evil.example", "", "", false},
		{"GET", "", "", "", false},
		{"POST", "evil.example", "", "", false},
		{"POST", "127.0.0.1:8080", "", "", true}, // the bot's Slack client
		{"POST", "127.0.0.1:8080", "http://127.0.0.1:8080", "same-origin", true},
		{"POST", "127.0.0.1:8080", "null", "", false},
		{"POST", "127.0.0.1:8080", "null", "cross-site", false},
		{"POST", "127.0.0.1:8080", "https://evil.example", "", false},
		{"POST", "127.0.0.1:8080", "", "cross-site", false},
		{"POST", "127.0.0.1:8080", "", "same-site", false},
		{"PUT", "127.0.0.1:8080", "http://localhost:8080", "", false}, // another origin, even if local
		{"DELETE", "localhost:8080", "http://localhost:8080", "same-origin", true},
		{"GET", "127.0.0.1:8080", "null", "cross-site", true}, // reads are the host check's
	} {
		r := httptest.NewRequest(tc.method, "/sandbox/send", nil)
		r.Host = tc.host
		if tc.origin != "" {
			r.Header.Set("Origin", tc.origin)
		}
		if tc.site != "" {
			r.Header.Set("Sec-Fetch-Site", tc.site)
		}
		before := served
		w := httptest.NewRecorder()
		g.ServeHTTP(w, r)
		if got := served > before; got != tc.ok {
			t.Errorf("%+v: served %v (status %d)", tc, got, w.Code)
		}
		if !tc.ok && w.Code != http.StatusForbidden {
			t.Errorf("%+v: status %d, want 403", tc, w.Code)
		}
	}
}

func TestLoopbackAndPublicHosts(t *testing.T) {
	for listen, want := range map[string]bool{
		"127.0.0.1:8080": true, "localhost:0": true, "[::1]:8080": true, "127.0.0.2:80": true,
		":8080": false, "0.0.0.0:8080": false, "[::]:8080": false, "192.0.2.7:8080": false, "example.com:80": false,
	} {
		if got := Loopback(listen); got != want {
			t.Errorf("Loopback(%q) = %v", listen, got)
		}
	}
	got := PublicHosts("0.0.0.0:8080", "http://sandbox.lan:9000")
	if len(got) != 1 || got[0] != "sandbox.lan:9000" {
		t.Errorf("PublicHosts = %q", got)
	}
	got = PublicHosts("192.0.2.7:8080", "")
	if len(got) != 1 || got[0] != "192.0.2.7" {
		t.Errorf("PublicHosts = %q", got)
	}
}
