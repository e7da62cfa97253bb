package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"
)

// TestCallbacks: each final result is POSTed to the route's callback, signed
// as Standard Webhooks defines (verified here from the spec, not with our
// signer), retried when the receiver fails, and sent after a restart if it
// was not delivered before.
func TestCallbacks(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	var mu sync.Mutex
	failing := 1 // the receiver refuses the first callback
	got := map[string][]map[string]any{}
	receiver := newDestination(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		id, ts, sig := r.Header.Get("webhook-id"), r.Header.Get("webhook-timestamp"), r.Header.Get("webhook-signature")
		mac := hmac.New(sha256.New, secret)
		mac.Write([]byte(id + "." + ts + "." + string(body)))
		want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
		sec, _ := strconv.ParseInt(ts, 10, 64)
		if sig != want || time.Since(time.Unix(sec, 0)) > time.Minute {
			t.Errorf("bad signature %q (want %q) or timestamp %q", sig, want, ts)
		}
		mu.Lock()
		defer mu.Unlock()
		if failing > 0 {
			failing--
			w.WriteHeader(503)
			return
		}
		var doc map[string]any
		json.Unmarshal(body, &doc)
		got[id] = append(got[id], doc)
		w.WriteHeader(204)
	})
	dest := newDestination(t, nil)
	data := t.TempDir()
	yaml := `
routes:
  - name: a
    mode: async
    destination: {url: ` + dest.URL + `}
    callback: {url: ` + receiver.URL + `, secret: whsec_` + base64.StdEncoding.EncodeToString(secret) + `}
`
	ts := startServer(t, yaml, data)
	wait := func(id string) map[string]any {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for {
			mu.Lock()
			docs := got[id]
			mu.Unlock()
			if len(docs) > 0 {
				return docs[0]
			}
			if time.Now().After(deadline) {
				t.Fatalf("no callback for %s", id)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	id := ts.post("a", `{"n":1}`).json(t)["correlation_id"].(string)
	doc := wait(id) // after one refused attempt
	if doc["correlation_id"] != id || doc["status"] != "succeeded" || doc["response"].(map[string]any)["status"].(float64) != 201 {
		t.Fatalf("callback document: %v", doc)
	}

	// Not delivered before a restart: sent after it.
	mu.Lock()
	failing = 1 << 30
	mu.Unlock()
	id2 := ts.post("a", `{"n":2}`).json(t)["correlation_id"].(string)
	ts.waitFinal(id2)
	ts.stop()
	mu.Lock()
	failing = 0
	mu.Unlock()
	ts = startServer(t, yaml, data)
	if doc := wait(id2); doc["status"] != "succeeded" {
		t.Fatalf("callback after the restart: %v", doc)
	}
}
