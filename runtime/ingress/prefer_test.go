package ingress

import (
	"testing"
	"time"
)

func TestParsePrefer(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    preference
		applied string
	}{
		{"", preference{}, ""},
		{"respond-async", preference{respondAsync: true}, "respond-async"},
		{"wait=10", preference{wait: 10 * time.Second}, "wait=10"},
		{"respond-async, wait=5", preference{true, 5 * time.Second}, "respond-async, wait=5"},
		{` Respond-Async ; foo=bar ,WAIT="3", return=minimal`, preference{true, 3 * time.Second}, "respond-async, wait=3"},
		{"wait=0", preference{}, ""},
		{"wait=-1, wait=x", preference{}, ""},
		{"handling=lenient", preference{}, ""},
	} {
		got := parsePrefer([]byte(tc.in))
		if got != tc.want || got.applied() != tc.applied {
			t.Errorf("%q: got %+v %q, want %+v %q", tc.in, got, got.applied(), tc.want, tc.applied)
		}
	}
}

func TestParseWait(t *testing.T) {
	max := time.Minute
	for _, tc := range []struct {
		in   string
		want time.Duration
		err  bool
	}{
		{"", 0, false},
		{"30", 30 * time.Second, false},
		{"30s", 30 * time.Second, false},
		{"250ms", 250 * time.Millisecond, false},
		{"3600", max, false},
		{"-1s", 0, true},
		{"soon", 0, true},
	} {
		got, err := parseWait([]byte(tc.in), max)
		if got != tc.want || (err != nil) != tc.err {
			t.Errorf("%q: got %v %v, want %v err=%v", tc.in, got, err, tc.want, tc.err)
		}
	}
}
