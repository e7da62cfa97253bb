package load

import (
	"strings"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	ok := Default()
	ok.Addr = "127.0.0.1:1"
	tests := []struct {
		name    string
		mutate  func(*Config)
		wantErr string
	}{
		{"default", func(*Config) {}, ""},
		{"no addr", func(c *Config) { c.Addr = "" }, "addr"},
		{"no conns", func(c *Config) { c.Conns = 0 }, "conns"},
		{"negative body", func(c *Config) { c.BodyBytes = -1 }, "body_bytes"},
		{"no measure", func(c *Config) { c.Measure = 0 }, "measure"},
		{"no timeout", func(c *Config) { c.Timeout = 0 }, "timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok
			tt.mutate(&c)
			err := c.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v does not mention %q", err, tt.wantErr)
			}
		})
	}
}

func TestResultMath(t *testing.T) {
	r := Result{
		Elapsed:         2 * time.Second,
		Accepted:        1000,
		Rejected:        map[int]uint64{503: 30, 400: 5},
		TransportErrors: 15,
		ClientAllocs:    105,
	}
	if got := r.RPS(); got != 500 {
		t.Errorf("RPS = %v, want 500", got)
	}
	if got := r.Errors(); got != 50 {
		t.Errorf("Errors = %v, want 50", got)
	}
	if got := r.AllocsPerRequest(); got != 0.1 {
		t.Errorf("AllocsPerRequest = %v, want 0.1", got)
	}
	var empty Result
	if empty.RPS() != 0 || empty.AllocsPerRequest() != 0 {
		t.Error("empty result must report zeros")
	}
}
