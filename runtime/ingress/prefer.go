package ingress

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// preference is what a sync caller asked for in its Prefer header (RFC 7240).
type preference struct {
	respondAsync bool
	wait         time.Duration // 0: not given
}

// parsePrefer reads the preferences Sluice honours (respond-async, wait=N)
// and ignores the others, as RFC 7240 asks. Several Prefer headers arrive
// joined by commas.
func parsePrefer(h []byte) preference {
	var p preference
	for _, item := range strings.Split(string(h), ",") {
		token, _, _ := strings.Cut(item, ";") // parameters are not used
		name, value, _ := strings.Cut(strings.TrimSpace(token), "=")
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "respond-async":
			p.respondAsync = true
		case "wait":
			n, err := strconv.ParseUint(strings.Trim(strings.TrimSpace(value), `"`), 10, 32)
			if err == nil && n > 0 {
				p.wait = time.Duration(n) * time.Second
			}
		}
	}
	return p
}

// applied is the Preference-Applied value for an answer that went async.
func (p preference) applied() string {
	var parts []string
	if p.respondAsync {
		parts = append(parts, "respond-async")
	}
	if p.wait > 0 {
		parts = append(parts, fmt.Sprintf("wait=%d", int(p.wait/time.Second)))
	}
	return strings.Join(parts, ", ")
}

// parseWait reads ?wait= of GET /v1/results/{id}: seconds ("30") or a Go
// duration ("30s", "500ms"), capped at max. Empty means no wait.
func parseWait(v []byte, max time.Duration) (time.Duration, error) {
	if len(v) == 0 {
		return 0, nil
	}
	var d time.Duration
	if n, err := strconv.ParseUint(string(v), 10, 32); err == nil {
		d = time.Duration(n) * time.Second
	} else if d, err = time.ParseDuration(string(v)); err != nil || d < 0 {
		return 0, fmt.Errorf("wait=%s: want seconds (wait=30) or a duration (wait=30s), at most %s", v, max)
	}
	return min(d, max), nil
}
