//go:build !race

// The race detector's instrumentation allocates on its own, so these exact
// counts hold only without it: this file is not built under -race.

package wasm

import (
	"bytes"
	"testing"
)

// TestTransformAllocs locks the allocations of a warm Transform of 1 KiB.
// upper (set_output only) allocates nothing: the input is copied straight
// into guest memory, the output into the instance's reused buffer, and the
// call stack and watchdog timer are the instance's own. echo also calls
// meta, set_header and set_content_type: the header name and the content
// type become strings, one allocation each (the one-byte route value is a
// string the runtime does not allocate).
func TestTransformAllocs(t *testing.T) {
	h := newHost(t)
	in := bytes.Repeat([]byte("sluice "), 1024/7+1)[:1024]
	for _, tc := range []struct {
		fixture string
		want    float64
	}{
		{"upper", 0},
		{"echo", 2},
	} {
		t.Run(tc.fixture, func(t *testing.T) {
			i := instance(t, load(t, h, tc.fixture, Limits{}))
			c := &Call{Input: in, Route: "r", Headers: headers{}}
			// Warm up: sizes the output buffer and OutHeaders, grows guest memory.
			if err := i.Transform(c); err != nil {
				t.Fatal(err)
			}
			if tc.fixture == "upper" && !bytes.Equal(c.Output, asciiUpper(in)) {
				t.Fatalf("output %q", c.Output)
			}
			allocs := testing.AllocsPerRun(1000, func() {
				if err := i.Transform(c); err != nil {
					t.Fatal(err)
				}
			})
			if allocs != tc.want {
				t.Fatalf("Transform of 1 KiB on a warm %s instance: %v allocs per call, want %v", tc.fixture, allocs, tc.want)
			}
		})
	}
}
