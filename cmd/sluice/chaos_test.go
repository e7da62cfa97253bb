package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestChaosRetriesOrderAndCrashes is the async pattern under failure: 1,000
// keys × 20 messages through the real binary, a destination failing 20% of
// deliveries at random, three kill -9 restarts mid-load. Every acknowledged
// message reaches the destination, each key's messages arrive in order, and
// duplicates appear only where a crash interrupted a delivery.
func TestChaosRetriesOrderAndCrashes(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and crashes the binary")
	}
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	const keys, perKey = 1000, 20

	var mu sync.Mutex
	delivered := make([][]int, keys) // per key: n of each successful delivery, in arrival order
	failed := 0
	dest := newDestination(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		if rand.IntN(5) == 0 { // 20% injected failures
			mu.Lock()
			failed++
			mu.Unlock()
			w.WriteHeader(503)
			return
		}
		var m struct{ K, N int }
		if err := json.Unmarshal(body, &m); err != nil {
			t.Errorf("destination got %q", body)
			return
		}
		mu.Lock()
		delivered[m.K] = append(delivered[m.K], m.N)
		mu.Unlock()
		w.WriteHeader(204)
	})
	dir := t.TempDir()
	cfg := filepath.Join(dir, "sluice.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`
data_dir: %s
routes:
  - name: orders
    mode: async
    order_by: "json:/k"
    destination: {url: %s}
    retry: {max_attempts: 100, initial_backoff: 5ms, max_backoff: 20ms}
`, filepath.Join(dir, "data"), dest.URL)), 0o644)
	addr := freeAddr(t)
	proc := spawn(t, bin, cfg, addr)

	// 8 senders, each owning keys g, g+8, ...: a key's messages are accepted
	// in order. A request that fails (server down) is sent again with the same
	// Idempotency-Key until it is acknowledged.
	var acked atomic.Int64
	client := &http.Client{Timeout: 30 * time.Second}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range perKey {
				for k := g; k < keys; k += 8 {
					body := fmt.Sprintf(`{"k":%d,"n":%d}`, k, n)
					for {
						req, _ := http.NewRequest("POST", "http://"+addr+"/in/orders", bytes.NewReader([]byte(body)))
						req.Header.Set("Idempotency-Key", fmt.Sprintf("%d-%d", k, n))
						resp, err := client.Do(req)
						if err != nil {
							time.Sleep(5 * time.Millisecond)
							continue
						}
						resp.Body.Close()
						if resp.StatusCode == 202 {
							acked.Add(1)
							break
						}
						time.Sleep(5 * time.Millisecond) // 503 while starting or shutting down, 409
					}
				}
			}
		}()
	}
	for k := 1; k <= 3; k++ {
		deadline := time.Now().Add(300 * time.Second)
		for acked.Load() < int64(k*keys*perKey/4) {
			if time.Now().After(deadline) {
				t.Fatalf("only %d acknowledged before kill #%d", acked.Load(), k)
			}
			time.Sleep(5 * time.Millisecond)
		}
		proc.kill9()
		t.Logf("kill -9 #%d after %d acknowledged", k, acked.Load())
		proc = spawn(t, bin, cfg, addr)
	}
	wg.Wait()
	defer proc.kill9()

	deadline := time.Now().Add(300 * time.Second)
	for {
		mu.Lock()
		missing := 0
		for k := range keys {
			seen := map[int]bool{}
			for _, n := range delivered[k] {
				seen[n] = true
			}
			missing += perKey - len(seen)
		}
		mu.Unlock()
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d acknowledged messages never reached the destination\n%s", missing, proc.logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	inversions, dups, total := 0, 0, 0
	for k := range keys {
		last := -1
		for _, n := range delivered[k] {
			total++
			switch {
			case n == last:
				dups++ // a crash interrupted its delivery: sent again
			case n != last+1:
				inversions++
				t.Errorf("key %d: %v", k, delivered[k])
			}
			last = max(last, n)
		}
	}
	t.Logf("%d messages acknowledged, lost 0; %d deliveries succeeded, %d injected failures retried, "+
		"%d duplicates (redelivered after a crash), %d per-key order inversions", acked.Load(), total, failed, dups, inversions)
}
