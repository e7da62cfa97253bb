package config

import (
	"errors"
	"strings"
	"testing"
)

// memory: parsed with the size units, defaulted, refused under the minimum
// with a message naming it; the backlog's byte limit follows it unless set.
func TestMemoryBudget(t *testing.T) {
	for _, tc := range []struct {
		yaml            string
		memory, backlog int64
		route           int64 // route r's byte limit
		err             string
	}{
		{yaml: "", memory: DefaultMemory, backlog: DefaultMemory / 2},
		{yaml: "memory: 1GiB", memory: 1 << 30, backlog: 512 << 20},
		{yaml: "memory: 64MB", memory: 64 << 20, backlog: 32 << 20},
		{yaml: "memory: 16777216", memory: MinMemoryBudget, backlog: MinMemoryBudget / 2},
		{yaml: "memory: 1GiB\nbacklog: {max_bytes: 100MiB}", memory: 1 << 30, backlog: 100 << 20},
		{yaml: "backlog: {max_bytes: 0}", memory: DefaultMemory, backlog: 0}, // 0: unlimited, as before
		{yaml: "routes: [{name: r, mode: async, destination: {url: 'http://example.com/'}, backlog: {max_messages: 5}}]",
			memory: DefaultMemory, backlog: DefaultMemory / 2},
		{yaml: "routes: [{name: r, mode: async, destination: {url: 'http://example.com/'}, backlog: {max_bytes: 1MiB}}]",
			memory: DefaultMemory, backlog: DefaultMemory / 2, route: 1 << 20},
		{yaml: "memory: 16MiB\nbacklog: {max_bytes: -1}", err: "line 2: backlog.max_bytes: \"-1\" is not a size"},
		{yaml: "memory: 15MiB", err: "line 1: memory: must be at least 16MiB"},
		{yaml: "memory: 0", err: "line 1: memory: must be at least 16MiB"},
		{yaml: "\nmemory: lots", err: "line 2: memory"},
	} {
		c, err := Parse([]byte(tc.yaml))
		if err == nil {
			c.DataDir = "d"
			err = c.Validate()
		}
		if tc.err != "" {
			var ps Problems
			if err == nil || !errors.As(err, &ps) || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: %v; want a problem %q", tc.yaml, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.yaml, err)
			continue
		}
		if int64(c.Memory) != tc.memory || c.BacklogBytes() != tc.backlog {
			t.Errorf("%q: memory %d, backlog bytes %d; want %d, %d", tc.yaml, c.Memory, c.BacklogBytes(), tc.memory, tc.backlog)
		}
		for _, r := range c.Routes {
			if got := r.Backlog.Bytes(0); got != tc.route {
				t.Errorf("%q: route backlog bytes %d, want %d", tc.yaml, got, tc.route)
			}
		}
	}
}
