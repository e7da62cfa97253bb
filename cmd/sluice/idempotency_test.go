package main

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestIdempotencyKeys: the same key and body replays the original answer
// (same correlation id, Idempotent-Replayed), another body is 422, a key whose
// first request is still being handled is 409; keys are per route and
// survive a restart.
func TestIdempotencyKeys(t *testing.T) {
	release := make(chan struct{})
	dest := newDestination(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		if string(body) == "slow" {
			<-release
		}
		w.WriteHeader(201)
		w.Write(append([]byte("confirmed "), body...))
	})
	data := t.TempDir()
	yaml := withRepo(`
sync_timeout: 60s
routes:
  - {name: s, mode: sync, destination: {url: ` + dest.URL + `}}
  - {name: a, mode: async, destination: {url: ` + dest.URL + `}}
`)
	ts := startServer(t, yaml, data)
	key := func(k string) []string { return []string{"Idempotency-Key", k} }

	first := ts.post("s", "order-1", key("k1")...)
	id := first.header.Get("Sluice-Correlation-Id")
	if first.status != 201 || string(first.body) != "confirmed order-1" || first.header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("first: %d %q %v", first.status, first.body, first.header)
	}
	again := ts.post("s", "order-1", key("k1")...)
	if again.status != 201 || string(again.body) != "confirmed order-1" ||
		again.header.Get("Sluice-Correlation-Id") != id || again.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay: %d %q %v", again.status, again.body, again.header)
	}
	if n := len(dest.all()); n != 1 {
		t.Fatalf("the destination got %d deliveries, want 1", n)
	}
	if r := ts.post("s", "order-2", key("k1")...); r.status != 422 || r.json(t)["error"].(map[string]any)["code"] != "idempotency_key_reused" {
		t.Fatalf("same key, other body: %d %s", r.status, r.body)
	}
	// Keys are per route.
	if r := ts.post("a", "order-1", key("k1")...); r.status != 202 || r.header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("same key on another route: %d %v", r.status, r.header)
	}
	asyncFirst := ts.post("a", "order-9", key("k9")...)
	asyncAgain := ts.post("a", "order-9", key("k9")...)
	if asyncAgain.status != 202 || asyncAgain.json(t)["correlation_id"] != asyncFirst.json(t)["correlation_id"] ||
		asyncAgain.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("async replay: %d %s %v", asyncAgain.status, asyncAgain.body, asyncAgain.header)
	}

	// In flight on a sync route: 409.
	slowDone := make(chan reply, 1)
	go func() {
		resp, err := http.DefaultClient.Do(mustRequest(t, ts.base+"/in/s", "slow", "k-slow"))
		if err != nil {
			slowDone <- reply{}
			return
		}
		defer resp.Body.Close()
		slowDone <- reply{status: resp.StatusCode, header: resp.Header}
	}()
	// Wait until the first request is at the destination (so it holds the key).
	deadline := time.Now().Add(30 * time.Second)
	for !slices.ContainsFunc(dest.all(), func(r received) bool { return string(r.body) == "slow" }) {
		if time.Now().After(deadline) {
			t.Fatal("the slow request never reached the destination")
		}
		time.Sleep(time.Millisecond)
	}
	if r := ts.post("s", "slow", key("k-slow")...); r.status != 409 ||
		r.json(t)["error"].(map[string]any)["code"] != "idempotency_key_in_flight" {
		t.Fatalf("in flight: %d %s", r.status, r.body)
	}
	close(release)
	if r := <-slowDone; r.status != 201 {
		t.Fatalf("the slow request: %d", r.status)
	}

	// After a restart the keys still replay.
	ts.stop()
	ts = startServer(t, yaml, data)
	if r := ts.post("s", "order-1", key("k1")...); r.status != 201 || r.header.Get("Sluice-Correlation-Id") != id ||
		r.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("after a restart: %d %v", r.status, r.header)
	}
}

func mustRequest(t *testing.T, url, body, key string) *http.Request {
	req, err := http.NewRequest("POST", url, strings.NewReader(body))
	if err != nil {
		t.Error(err)
	}
	req.Header.Set("Idempotency-Key", key)
	return req
}
