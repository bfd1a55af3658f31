package bot

import "testing"

// The name cache keeps the most recently used names and never more than
// its size.
func TestNameCacheIsBounded(t *testing.T) {
	c := newNameCache(2)
	c.put("U1", "ann")
	c.put("U2", "bo")
	if _, ok := c.get("U1"); !ok { // U1 is now the most recent
		t.Fatal("U1 forgotten too early")
	}
	c.put("U3", "cy")
	if _, ok := c.get("U2"); ok {
		t.Error("the least recently used name was kept beyond the bound")
	}
	if n, _ := c.get("U1"); n != "ann" {
		t.Errorf("U1 = %q", n)
	}
	c.put("U3", "cyd")
	if n, _ := c.get("U3"); n != "cyd" || c.len() != 2 {
		t.Errorf("U3 = %q, %d names kept", n, c.len())
	}
}
