package httpapi_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/incident/httpapi"
)

func TestBearer(t *testing.T) {
	b := httpapi.NewBearer("s3cret")
	for _, c := range []struct {
		header string
		want   bool
	}{
		{"Bearer s3cret", true}, {"bearer  s3cret ", true}, {"Bearer s3cre", false}, {"Bearer s3cret2", false},
		{"s3cret", false}, {"Basic s3cret", false}, {"Bearer ", false}, {"", false},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Authorization", c.header)
		if got := b.Allows(r); got != c.want {
			t.Errorf("Allows(%q) = %v, want %v", c.header, got, c.want)
		}
	}
	none := httpapi.NewBearer("")
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Authorization", "Bearer ")
	if none.Set() || none.Allows(r) || !b.Set() {
		t.Error("an unset token allows a request, or a set one says it is unset")
	}
}

// Every request through WithDeadline carries a deadline, so a handler
// waiting on storage gives up.
func TestWithDeadline(t *testing.T) {
	var deadline time.Time
	var ok bool
	h := httpapi.WithDeadline(time.Second, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		deadline, ok = r.Context().Deadline()
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/", nil))
	if !ok || time.Until(deadline) > time.Second {
		t.Fatalf("deadline %v (%v), want one within a second", deadline, ok)
	}
}
