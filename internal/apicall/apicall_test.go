package apicall_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/internal/apicall"
)

type seen struct {
	mu  sync.Mutex
	obs []string // method outcome
}

func (s *seen) observe(method string, o apicall.Outcome, took time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if took < 0 {
		o = "negative duration"
	}
	s.obs = append(s.obs, method+" "+string(o))
}

// Each round trip is observed once, under the method the adapter names,
// with the outcome its status, its error or its inspected body says.
func TestTransportObservesEachCall(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/hang":
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return
		case "/fails":
			io.WriteString(w, `{"ok":false}`)
			return
		}
		code, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/"))
		w.WriteHeader(code)
	}))
	defer srv.Close()
	defer close(release)
	s := &seen{}
	tr := &apicall.Transport{
		Method:  func(r *http.Request) string { return "m" + r.URL.Path },
		Observe: s.observe,
		Inspect: func(resp *http.Response) apicall.Outcome {
			b, _ := io.ReadAll(resp.Body)
			if string(b) == `{"ok":false}` {
				return apicall.APIError
			}
			return apicall.OK
		},
	}
	c := &http.Client{Transport: tr, Timeout: 100 * time.Millisecond}
	for _, p := range []string{"/200", "/302", "/404", "/429", "/503", "/fails", "/hang"} {
		if resp, err := c.Get(srv.URL + p); err == nil {
			resp.Body.Close()
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/200", nil)
	if _, err := c.Do(req); err == nil {
		t.Error("a canceled call succeeded")
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	if _, err := c.Get("http://" + addr + "/refused"); err == nil {
		t.Error("a call to a closed port succeeded")
	}
	want := []string{"m/200 ok", "m/302 ok", "m/404 4xx", "m/429 429", "m/503 5xx", "m/fails api_error", "m/hang timeout", "m/200 canceled", "m/refused network_error"}
	s.mu.Lock()
	defer s.mu.Unlock()
	if strings.Join(s.obs, ", ") != strings.Join(want, ", ") {
		t.Errorf("observed\n%v\nwant\n%v", s.obs, want)
	}
}

// Without an observer the transport only passes calls on.
func TestTransportWithoutObserver(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hi") }))
	defer srv.Close()
	c := &http.Client{Transport: &apicall.Transport{}}
	resp, err := c.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if b, _ := io.ReadAll(resp.Body); string(b) != "hi" {
		t.Errorf("body %q", b)
	}
}
