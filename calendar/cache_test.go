package calendar

import (
	"testing"
	"time"
)

// A source is kept and handed out again for the same spec until it lapses;
// another spec (another credential, or another origin) gets its own.
func TestSourceCache(t *testing.T) {
	t.Parallel()
	c := &SourceCache{TTL: time.Hour}
	getenv := func(string) string { return "" }
	spec := SourceSpec{Type: "ics", URL: "https://calendar.example.org/a.ics"}
	a, err := c.Get(spec, getenv, SourceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.Get(spec, getenv, SourceOptions{})
	if err != nil || a != b {
		t.Fatalf("the same spec built again: %p %p %v", a, b, err)
	}
	other := spec
	other.URL = "https://calendar.example.org/b.ics"
	if o, err := c.Get(other, getenv, SourceOptions{}); err != nil || o == a {
		t.Fatalf("another spec shares a source: %v", err)
	}
	c.TTL = time.Nanosecond
	if again, err := c.Get(spec, getenv, SourceOptions{}); err != nil || again == a {
		t.Fatalf("a lapsed source was handed out: %v", err)
	}
	if _, err := c.Get(SourceSpec{Type: "ics", URL: "::"}, getenv, SourceOptions{}); err == nil {
		t.Error("a bad URL built a source")
	}
}
