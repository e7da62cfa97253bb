package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// flaky is a destination that answers from a script per message body: the
// first len(script[body]) deliveries of a body get those statuses, later
// ones 200.
type flaky struct {
	mu      sync.Mutex
	script  map[string][]int
	headers map[int]http.Header // extra headers per status
	seen    map[string]int
	order   []string // bodies in the order they succeeded
}

func (f *flaky) respond(w http.ResponseWriter, _ *http.Request, body []byte) {
	f.mu.Lock()
	b := string(body)
	n := f.seen[b]
	f.seen[b]++
	status := 200
	if s := f.script[b]; n < len(s) {
		status = s[n]
	}
	if status == 200 {
		f.order = append(f.order, b)
	}
	f.mu.Unlock()
	for k, vs := range f.headers[status] {
		w.Header()[k] = vs
	}
	w.WriteHeader(status)
	w.Write([]byte("answer " + b))
}

func attemptLog(t *testing.T, res map[string]any) []map[string]any {
	t.Helper()
	var out []map[string]any
	b, _ := json.Marshal(res["attempt_log"])
	json.Unmarshal(b, &out)
	return out
}

// TestRetries: failed deliveries run again with backoff, honour Retry-After,
// record every attempt, stop at the policy's limits, and hold back only their
// own ordering key; a message waiting to retry survives a restart.
func TestRetries(t *testing.T) {
	f := &flaky{
		script: map[string][]int{
			"twice":  {500, 502},
			"later":  {503},
			"always": {500, 500, 500, 500, 500},
			"bad":    {400},
		},
		headers: map[int]http.Header{503: {"Retry-After": {"1"}}},
		seen:    map[string]int{},
	}
	dest := newDestination(t, f.respond)
	data := t.TempDir()
	yaml := withRepo(`
routes:
  - name: r
    mode: async
    order_by: "json:/k"
    destination: {url: ` + dest.URL + `}
    retry: {max_attempts: 3, initial_backoff: 20ms, max_backoff: 100ms}
`)
	ts := startServer(t, yaml, data)
	post := func(body string) string {
		r := ts.post("r", body)
		if r.status != 202 {
			t.Fatalf("POST %s: %d %s", body, r.status, r.body)
		}
		return r.json(t)["correlation_id"].(string)
	}

	twice := post("twice")
	res := ts.waitFinal(twice)
	log := attemptLog(t, res)
	if res["status"] != "succeeded" || res["attempts"].(float64) != 3 || len(log) != 3 ||
		log[0]["status"].(float64) != 500 || log[1]["status"].(float64) != 502 || log[2]["status"].(float64) != 200 ||
		log[0]["error"].(map[string]any)["code"] != "destination_failed" || log[2]["error"] != nil {
		t.Fatalf("failed twice, then succeeded: %v", res)
	}

	always := post("always")
	res = ts.waitFinal(always)
	if res["status"] != "failed" || res["attempts"].(float64) != 3 || len(attemptLog(t, res)) != 3 {
		t.Fatalf("always failing, 3 attempts: %v", res)
	}
	bad := post("bad")
	res = ts.waitFinal(bad)
	if res["status"] != "failed" || res["attempts"].(float64) != 1 {
		t.Fatalf("400 is not retried: %v", res)
	}

	// 503 with Retry-After: 1 waits at least a second, visibly "retrying".
	later := post("later")
	deadline := time.Now().Add(30 * time.Second)
	for {
		r := ts.do("GET", "/v1/results/"+later, "", nil)
		res = r.json(t)
		if res["status"] == "retrying" {
			break
		}
		if res["status"] == "succeeded" || time.Now().After(deadline) {
			t.Fatalf("never seen retrying: %v", res)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if l := attemptLog(t, res); len(l) != 1 || l[0]["status"].(float64) != 503 || res["attempts"].(float64) != 1 {
		t.Fatalf("while retrying: %v", res)
	}
	// Restart while it waits: the retry state is in the log.
	ts.stop()
	ts = startServer(t, yaml, data)
	res = ts.waitFinal(later)
	log = attemptLog(t, res)
	if res["status"] != "succeeded" || len(log) != 2 {
		t.Fatalf("after the restart: %v", res)
	}
	first, _ := time.Parse(time.RFC3339Nano, log[0]["at"].(string))
	second, _ := time.Parse(time.RFC3339Nano, log[1]["at"].(string))
	if gap := second.Sub(first); gap < 900*time.Millisecond {
		t.Fatalf("Retry-After: 1 not honoured: the attempts were %v apart", gap)
	}

	// Order under failure: A1 fails twice; A2 waits behind it, B1 does not.
	ids := []string{}
	for _, b := range []string{`{"k":"A","n":1}`, `{"k":"A","n":2}`, `{"k":"B","n":1}`} {
		f.mu.Lock()
		if strings.Contains(b, `"A","n":1`) {
			f.script[b] = []int{500, 500}
		}
		f.mu.Unlock()
		r := ts.post("r", b)
		ids = append(ids, r.json(t)["correlation_id"].(string))
	}
	for _, id := range ids {
		if res := ts.waitFinal(id); res["status"] != "succeeded" {
			t.Fatalf("keyed: %v", res)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	pos := map[string]int{}
	for i, b := range f.order {
		pos[b] = i
	}
	if pos[`{"k":"A","n":1}`] > pos[`{"k":"A","n":2}`] {
		t.Fatalf("key A delivered out of order: %v", f.order)
	}
	if pos[`{"k":"B","n":1}`] > pos[`{"k":"A","n":1}`] {
		t.Fatalf("key B waited for key A's retries: %v", f.order)
	}
}
