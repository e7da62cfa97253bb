package main

import (
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"
)

// getResult is a GET /v1/results/{id}?wait=... that may run off the test
// goroutine.
func getResult(base, id, wait string) (int, map[string]any, error) {
	resp, err := http.Get(base + "/v1/results/" + id + "?wait=" + wait)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var v map[string]any
	err = json.Unmarshal(b, &v)
	return resp.StatusCode, v, err
}

// TestLongPollAndPrefer: a long-poll returns the moment the result is final
// (or the current state when its wait ends), and a sync caller can prefer the
// async answer at once (respond-async) or after waiting (wait=N).
func TestLongPollAndPrefer(t *testing.T) {
	release := make(chan struct{})
	dest := newDestination(t, func(w http.ResponseWriter, _ *http.Request, body []byte) {
		<-release // the destination answers when the test says so
		w.WriteHeader(200)
		w.Write(append([]byte("done:"), body...))
	})
	ts := startServer(t, withRepo(`
plugins:
  - {name: upper, path: {{REPO}}/runtime/wasm/testdata/upper.wasm}
routes:
  - {name: a, mode: async, order_by: none, destination: {url: `+dest.URL+`, timeout: 60s}}
  - {name: s, mode: sync, destination: {url: `+dest.URL+`, timeout: 60s}}
  - {name: quick, mode: sync, transforms: [upper]}
`), "")
	released := false
	defer func() {
		if !released {
			close(release)
		}
	}()

	id := ts.post("a", "x").json(t)["correlation_id"].(string)
	// A long-poll whose wait ends first answers with the current state.
	start := time.Now()
	status, v, err := getResult(ts.base, id, "300ms")
	if err != nil || status != 200 || v["status"] == "succeeded" || time.Since(start) < 300*time.Millisecond {
		t.Fatalf("short wait: %d %v %v after %v", status, v, err, time.Since(start))
	}
	// One that waits long enough wakes up when the result is final.
	type polled struct {
		status int
		v      map[string]any
		err    error
		at     time.Time
	}
	longPoll := make(chan polled, 1)
	go func() {
		s, v, err := getResult(ts.base, id, "60s")
		longPoll <- polled{s, v, err, time.Now()}
	}()

	// Prefer on a sync route whose destination does not answer yet.
	start = time.Now()
	r := ts.post("s", "waited", "Prefer", "wait=1")
	if r.status != 202 || r.header.Get("Preference-Applied") != "wait=1" ||
		r.json(t)["correlation_id"] != r.header.Get("Sluice-Correlation-Id") || time.Since(start) < time.Second {
		t.Fatalf("Prefer wait=1: %d %v %s after %v", r.status, r.header, r.body, time.Since(start))
	}
	waited := r.json(t)["correlation_id"].(string)
	r = ts.post("s", "async", "Prefer", "respond-async")
	if r.status != 202 || r.header.Get("Preference-Applied") != "respond-async" || r.header.Get("Location") == "" {
		t.Fatalf("Prefer respond-async: %d %v %s", r.status, r.header, r.body)
	}
	asyncID := r.json(t)["correlation_id"].(string)

	close(release)
	released = true
	p := <-longPoll
	if p.err != nil || p.status != 200 || p.v["status"] != "succeeded" {
		t.Fatalf("long-poll: %d %v %v", p.status, p.v, p.err)
	}
	updated, _ := time.Parse(time.RFC3339Nano, p.v["updated_at"].(string))
	t.Logf("long-poll woke %v after the result was recorded", p.at.Sub(updated).Round(time.Microsecond))
	if body := p.v["response"].(map[string]any)["body"]; body != "done:x" {
		t.Fatalf("long-poll body %v", body)
	}
	// The messages answered with 202 were processed all the same.
	for id, want := range map[string]string{waited: "done:waited", asyncID: "done:async"} {
		_, v, err := getResult(ts.base, id, "60s")
		if err != nil || v["status"] != "succeeded" || v["response"].(map[string]any)["body"] != want {
			t.Fatalf("%s: %v %v", want, v, err)
		}
	}
	// A preference the route can meet in time changes nothing.
	if r := ts.post("quick", "abc", "Prefer", "wait=30"); r.status != 200 || string(r.body) != "ABC" ||
		r.header.Get("Preference-Applied") != "" {
		t.Fatalf("Prefer wait=30 on a quick route: %d %v %q", r.status, r.header, r.body)
	}
	if r := ts.do("GET", "/v1/results/"+id+"?wait=soon", "", nil); r.status != 400 {
		t.Fatalf("bad wait: %d %s", r.status, r.body)
	}
	start = time.Now()
	if r := ts.do("GET", "/v1/results/01936f5e-0000-7000-8000-000000000000?wait=30s", "", nil); r.status != 404 ||
		time.Since(start) > 10*time.Second {
		t.Fatalf("unknown id with wait: %d after %v", r.status, time.Since(start))
	}
}
