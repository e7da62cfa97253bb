package tracectx

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	const tid, sid = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	for _, tc := range []struct {
		in      string
		ok      bool
		sampled bool
	}{
		{"00-" + tid + "-" + sid + "-01", true, true},
		{"00-" + tid + "-" + sid + "-00", true, false},
		{"02-" + tid + "-" + sid + "-03-what-ever", true, true}, // a later version: known flags only
		{"02-" + tid + "-" + sid + "-01x", false, false},
		{"00-" + tid + "-" + sid + "-01-", false, false}, // version 00 is exactly 55 characters
		{"ff-" + tid + "-" + sid + "-01", false, false},
		{"00-" + strings.ToUpper(tid) + "-" + sid + "-01", false, false},
		{"00-" + strings.Repeat("0", 32) + "-" + sid + "-01", false, false},
		{"00-" + tid + "-" + strings.Repeat("0", 16) + "-01", false, false},
		{"00_" + tid + "-" + sid + "-01", false, false},
		{"00-" + tid + "-" + sid + "-0g", false, false},
		{"", false, false},
	} {
		c, ok := Parse(tc.in)
		if ok != tc.ok || (ok && (c.TraceIDString() != tid || c.SpanIDString() != sid || c.Sampled() != tc.sampled)) {
			t.Errorf("Parse(%q) = %+v, %v; want ok %v sampled %v", tc.in, c, ok, tc.ok, tc.sampled)
		}
	}
}

func TestNewAndChild(t *testing.T) {
	c := New()
	back, ok := Parse(c.String())
	if !ok || back != c || c.Sampled() {
		t.Fatalf("New() = %q: does not round-trip (%+v, %v)", c.String(), back, ok)
	}
	k := c.Child()
	if k.TraceID != c.TraceID || k.SpanID == c.SpanID || k.Flags != c.Flags {
		t.Fatalf("Child of %s = %s: want the same trace, a new span", c, k)
	}
	if New().TraceID == c.TraceID {
		t.Fatal("two new traces share a trace id")
	}
}

func BenchmarkParse(b *testing.B) {
	const h = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := Parse(h); !ok {
			b.Fatal("invalid")
		}
	}
}
