package httpapi_test

import (
	"net/http/httptest"
	"testing"

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
