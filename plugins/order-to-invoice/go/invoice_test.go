package main

import (
	"encoding/json"
	"os"
	"testing"
)

// TestCases runs ../cases.json on the host's Go (the conformance suite runs
// the built module through the Sluice host).
func TestCases(t *testing.T) {
	b, err := os.ReadFile("../cases.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Cases []struct {
			Name       string
			Input      string
			WantOutput *string `json:"want_output"`
			WantError  *string `json:"want_error"`
		}
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	for _, c := range f.Cases {
		out, reason := convert([]byte(c.Input), nil)
		switch {
		case c.WantOutput != nil && (reason != "" || string(out) != *c.WantOutput):
			t.Errorf("%s: got %q %q, want %q", c.Name, out, reason, *c.WantOutput)
		case c.WantError != nil && reason != *c.WantError:
			t.Errorf("%s: got reason %q, want %q", c.Name, reason, *c.WantError)
		}
	}
}
