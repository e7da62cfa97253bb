package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// buildBinary compiles the real sluice binary once per test binary, into
// testDir (removed by TestMain).
var buildBinary = sync.OnceValues(func() (string, error) {
	bin := filepath.Join(testDir, "sluice")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// process is the sluice binary running as a child.
type process struct {
	t    *testing.T
	cmd  *exec.Cmd
	addr string
	logs *bytes.Buffer
}

func spawn(t *testing.T, bin, cfg, addr string) *process {
	t.Helper()
	return spawnWith(t, bin, cfg, addr, "http", http.DefaultClient)
}

// spawnWith starts the binary and waits until scheme://addr/healthz answers
// 200 to client.
func spawnWith(t *testing.T, bin, cfg, addr, scheme string, client *http.Client) *process {
	t.Helper()
	p := &process{t: t, addr: addr, logs: &bytes.Buffer{}}
	p.cmd = exec.Command(bin, "serve", "--config", cfg, "--listen", addr, "--admin-listen", "off")
	p.cmd.Stderr = &lockedWriter{w: p.logs}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitHealthy(t, client, scheme+"://"+addr+"/healthz", p.cmd, p.logs)
	return p
}

// waitHealthy waits (up to two minutes) until url answers 200 to client;
// otherwise it kills proc and fails the test with logs (what proc wrote).
func waitHealthy(t *testing.T, client *http.Client, url string, proc *exec.Cmd, logs fmt.Stringer) {
	t.Helper()
	deadline := time.Now().Add(120 * time.Second)
	for {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			proc.Process.Kill()
			proc.Wait()
			t.Fatalf("sluice did not become healthy: %v\n%s", err, logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (p *process) kill9() {
	p.cmd.Process.Signal(os.Kill)
	p.cmd.Wait()
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// String returns what was written (the writer must be a *bytes.Buffer).
func (l *lockedWriter) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.(*bytes.Buffer).String()
}

// TestCrashLosesNoAcknowledgedMessage loads the real binary with async
// messages, kill -9s it mid-load three times, restarts it on the same data
// dir, and checks that every message that got a 202 reached the destination.
func TestCrashLosesNoAcknowledgedMessage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and crashes the binary")
	}
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	deliveries := map[string]int{}
	dest := newDestination(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		mu.Lock()
		deliveries[r.Header.Get("Sluice-Correlation-Id")]++
		mu.Unlock()
		w.WriteHeader(204)
	})
	dir := t.TempDir()
	cfg := filepath.Join(dir, "sluice.yaml")
	echo, _ := filepath.Abs(repoPath("runtime/wasm/testdata/echo.wasm"))
	os.WriteFile(cfg, []byte(fmt.Sprintf(`
data_dir: %s
wasm_cache_dir: %s
plugins:
  - {name: echo, path: %s}
routes:
  - name: orders
    mode: async
    transforms: [echo]
    order_by: "json:/key"
    destination: {url: %s}
  - name: stored
    mode: async
    transforms: [echo]
`, filepath.Join(dir, "data"), wasmCache, echo, dest.URL)), 0o644)
	addr := freeAddr(t)
	proc := spawn(t, bin, cfg, addr)

	// Every third sender posts to a route without destination: its results
	// keep the message's body by reference into the log's segments
	// (queue/retained.go), and must come back whole after every crash.
	var (
		ackMu  sync.Mutex
		acked  = map[string]bool{}
		stored = map[string]string{} // id -> body sent to the stored route
		nAcked atomic.Int64
		sent   atomic.Int64
	)
	ctx, stop := context.WithCancel(context.Background())
	client := &http.Client{Timeout: 30 * time.Second}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ctx.Err() == nil; n++ {
				body := fmt.Sprintf(`{"key":"k%d","n":%d,"pad":"%0200d"}`, (g*1000+n)%20, n, 0)
				route := "orders"
				if g%3 == 2 {
					route, body = "stored", fmt.Sprintf(`{"g":%d,"n":%d,"pad":"%0*d"}`, g, n, 300+n%2000, n)
				}
				sent.Add(1)
				resp, err := client.Post("http://"+addr+"/in/"+route, "application/json", bytes.NewReader([]byte(body)))
				if err != nil {
					time.Sleep(5 * time.Millisecond) // server is down: try again
					continue
				}
				var v struct {
					ID string `json:"correlation_id"`
				}
				json.NewDecoder(resp.Body).Decode(&v)
				resp.Body.Close()
				if resp.StatusCode == 202 && v.ID != "" {
					ackMu.Lock()
					if route == "stored" {
						stored[v.ID] = body
					} else {
						acked[v.ID] = true
					}
					ackMu.Unlock()
					nAcked.Add(1)
				}
			}
		}()
	}
	waitAcks := func(n int64) {
		deadline := time.Now().Add(120 * time.Second)
		for nAcked.Load() < n {
			if time.Now().After(deadline) {
				t.Fatalf("only %d acknowledged messages, waiting for %d", nAcked.Load(), n)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	const kills = 3
	for k := 1; k <= kills; k++ {
		waitAcks(int64(k) * 700)
		proc.kill9()
		t.Logf("kill -9 #%d after %d acknowledged", k, nAcked.Load())
		proc = spawn(t, bin, cfg, addr)
	}
	waitAcks(int64(kills+1) * 700)
	stop()
	wg.Wait()
	defer proc.kill9()

	ackMu.Lock()
	want := len(acked)
	ackMu.Unlock()
	deadline := time.Now().Add(180 * time.Second)
	for {
		mu.Lock()
		missing := 0
		for id := range acked {
			if deliveries[id] == 0 {
				missing++
			}
		}
		mu.Unlock()
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("lost %d of %d acknowledged messages\n%s", missing, want, proc.logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
	mu.Lock()
	dups, total := 0, 0
	for _, n := range deliveries {
		total += n
		if n > 1 {
			dups += n - 1
		}
	}
	mu.Unlock()
	t.Logf("sent %d requests, %d acknowledged to the delivering route, lost 0, %d deliveries, %d duplicates (redelivered after a crash)",
		sent.Load(), want, total, dups)
	// Every acknowledged message's result reaches succeeded after the last
	// restart; a stored one's holds the body sent.
	for id := range acked {
		proc.waitSucceeded(id, deadline)
	}
	if len(stored) == 0 {
		t.Fatal("no message to the stored route was acknowledged")
	}
	for id, body := range stored {
		if got := proc.waitSucceeded(id, deadline); got != body {
			t.Fatalf("stored result %s: %d bytes, want the %d sent", id, len(got), len(body))
		}
	}
	t.Logf("%d stored results read back whole", len(stored))
}

// waitSucceeded polls a result until it succeeded; failed or the deadline fail the test.
func (p *process) waitSucceeded(id string, deadline time.Time) (body string) {
	p.t.Helper()
	for {
		resp, err := http.Get("http://" + p.addr + "/v1/results/" + id)
		if err != nil {
			p.t.Fatal(err)
		}
		var v struct {
			Status   string
			Response struct{ Body string }
		}
		json.NewDecoder(resp.Body).Decode(&v)
		resp.Body.Close()
		if v.Status == "succeeded" {
			return v.Response.Body
		}
		if v.Status == "failed" || time.Now().After(deadline) {
			p.t.Fatalf("result of %s: %q\n%s", id, v.Status, p.logs)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A sync message whose caller vanished in a crash completes after restart
// like an async one, and its result is retrievable by its correlation id.
func TestSyncMessageCompletesAfterCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and crashes the binary")
	}
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	first := make(chan string, 1)
	var release atomic.Bool
	dest := newDestination(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		if !release.Load() {
			select {
			case first <- r.Header.Get("Sluice-Correlation-Id"):
			default:
			}
			<-r.Context().Done() // hold the delivery until sluice dies
			return
		}
		w.WriteHeader(200)
		io.WriteString(w, "confirmed after restart")
	})
	dir := t.TempDir()
	cfg := filepath.Join(dir, "sluice.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`
data_dir: %s
routes:
  - {name: sync, mode: sync, destination: {url: %s, timeout: 60s}}
`, filepath.Join(dir, "data"), dest.URL)), 0o644)
	addr := freeAddr(t)
	proc := spawn(t, bin, cfg, addr)
	go func() {
		resp, err := http.Post("http://"+addr+"/in/sync", "text/plain", bytes.NewReader([]byte("hello")))
		if err == nil {
			resp.Body.Close()
		}
	}()
	var id string
	select {
	case id = <-first:
	case <-time.After(60 * time.Second):
		t.Fatal("the destination never saw the sync message")
	}
	proc.kill9()
	release.Store(true)
	proc = spawn(t, bin, cfg, addr)
	defer proc.kill9()
	if body := proc.waitSucceeded(id, time.Now().Add(60*time.Second)); body != "confirmed after restart" {
		t.Fatalf("result body %q", body)
	}
}

// SIGTERM stops accepting, lets held messages finish, closes the log and exits
// 0; what was accepted but not run yet runs after the next start.
func TestGracefulShutdown(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	var delivered atomic.Int64
	dest := newDestination(t, func(w http.ResponseWriter, _ *http.Request, _ []byte) {
		delivered.Add(1)
		w.WriteHeader(204)
	})
	dir := t.TempDir()
	cfg := filepath.Join(dir, "sluice.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`
data_dir: %s
routes:
  - {name: orders, mode: async, destination: {url: %s}}
`, filepath.Join(dir, "data"), dest.URL)), 0o644)
	addr := freeAddr(t)
	proc := spawn(t, bin, cfg, addr)
	var ids []string
	for i := range 200 {
		resp, err := http.Post("http://"+addr+"/in/orders", "application/json", bytes.NewReader([]byte(fmt.Sprintf(`{"n":%d}`, i))))
		if err != nil {
			t.Fatal(err)
		}
		var v struct {
			ID string `json:"correlation_id"`
		}
		json.NewDecoder(resp.Body).Decode(&v)
		resp.Body.Close()
		ids = append(ids, v.ID)
	}
	proc.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- proc.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, proc.logs)
		}
	case <-time.After(60 * time.Second):
		proc.cmd.Process.Kill()
		t.Fatalf("sluice did not exit after SIGTERM\n%s", proc.logs)
	}
	if !strings.Contains(proc.logs.String(), "shutting down") {
		t.Fatalf("no shutdown log:\n%s", proc.logs)
	}
	proc = spawn(t, bin, cfg, addr)
	defer proc.kill9()
	deadline := time.Now().Add(60 * time.Second)
	for _, id := range ids {
		proc.waitSucceeded(id, deadline)
	}
	if n := delivered.Load(); n < int64(len(ids)) {
		t.Fatalf("%d deliveries for %d messages", n, len(ids))
	}
}
