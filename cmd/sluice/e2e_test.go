package main

// End-to-end tests: the real server (every stage wired by start), real Badger
// in a temp dir, real .wasm plugins, and real destination HTTP servers on
// loopback.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/runtime/config"
)

// wasmCache is shared by every test server so each plugin compiles once per
// test binary (compiling a Go guest under -race takes long); TestMain puts
// it in testDir.
var wasmCache string

type testServer struct {
	t         *testing.T
	s         *server
	base      string
	adminBase string // "" when the admin API is off
	stopped   bool
}

// startServer writes yaml to a temp dir, loads it like `sluice serve
// --config` would, and starts it on a free loopback port.
func startServer(t *testing.T, yaml string, dataDir string) *testServer {
	t.Helper()
	return startServerAt(t, t.TempDir(), yaml, dataDir)
}

// startServerIn is startServer with the config in dir (next to files it
// names, such as schemas) and the data in dir/data.
func startServerIn(t *testing.T, dir, yaml string) *testServer {
	t.Helper()
	return startServerAt(t, dir, yaml, "")
}

func startServerAt(t *testing.T, dir, yaml, dataDir string) *testServer {
	t.Helper()
	if dataDir == "" {
		dataDir = filepath.Join(dir, "data")
	}
	path := filepath.Join(dir, "sluice.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Listen, cfg.AdminListen, cfg.DataDir, cfg.WasmCache = "127.0.0.1:0", "127.0.0.1:0", dataDir, wasmCache
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	s, err := start(t.Context(), cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{t: t, s: s, base: "http://" + s.addr.String()}
	if s.adminLn != nil {
		ts.adminBase = "http://" + s.adminLn.Addr().String()
	}
	t.Cleanup(ts.stop)
	return ts
}

// stop closes the server (once; again at cleanup is a no-op).
func (ts *testServer) stop() {
	if ts.stopped {
		return
	}
	ts.stopped = true
	if err := ts.s.close(); err != nil {
		ts.t.Errorf("closing server: %v", err)
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

// repoPath turns a repo-relative path into one usable from this package's dir.
func repoPath(p string) string { return filepath.Join("..", "..", p) }

type reply struct {
	status int
	header http.Header
	body   []byte
}

func (r reply) json(t *testing.T) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("body is not JSON: %v: %s", err, r.body)
	}
	return v
}

func (ts *testServer) do(method, path, contentType string, body []byte, hdr ...string) reply {
	ts.t.Helper()
	return ts.doURL(method, ts.base+path, contentType, body, hdr...)
}

// admin calls the admin API.
func (ts *testServer) admin(method, path string, body []byte, hdr ...string) reply {
	ts.t.Helper()
	if ts.adminBase == "" {
		ts.t.Fatal("the admin API is off")
	}
	return ts.doURL(method, ts.adminBase+path, "", body, hdr...)
}

func (ts *testServer) doURL(method, url, contentType string, body []byte, hdr ...string) reply {
	ts.t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		ts.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		ts.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{resp.StatusCode, resp.Header, b}
}

func (ts *testServer) post(route, body string, hdr ...string) reply {
	ts.t.Helper()
	return ts.do("POST", "/in/"+route, "application/json", []byte(body), hdr...)
}

// waitFinal polls the result until it is final (generous deadline).
func (ts *testServer) waitFinal(id string) map[string]any {
	ts.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		r := ts.do("GET", "/v1/results/"+id, "", nil)
		if r.status != 200 {
			ts.t.Fatalf("GET result %s: %d %s", id, r.status, r.body)
		}
		v := r.json(ts.t)
		if s := v["status"]; s == "succeeded" || s == "failed" || s == "dead" {
			return v
		}
		if time.Now().After(deadline) {
			ts.t.Fatalf("result %s not final: %s", id, r.body)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (ts *testServer) healthy() {
	ts.t.Helper()
	if r := ts.do("GET", "/healthz", "", nil); r.status != 200 {
		ts.t.Fatalf("healthz: %d %s", r.status, r.body)
	}
}

// destination is a real HTTP server that records what it receives.
type destination struct {
	*httptest.Server
	mu       sync.Mutex
	received []received
	respond  func(w http.ResponseWriter, r *http.Request, body []byte)
}

type received struct {
	header http.Header
	body   []byte
}

// heldDestination answers no request until release is called (at cleanup
// at the latest; calling it again does nothing), then "done" to each.
func heldDestination(t *testing.T) (*destination, func()) {
	gate := make(chan struct{})
	var once sync.Once
	release := func() { once.Do(func() { close(gate) }) }
	t.Cleanup(release)
	dest := newDestination(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		select {
		case <-gate:
		case <-r.Context().Done():
		}
		io.WriteString(w, "done")
	})
	return dest, release
}

func newDestination(t *testing.T, respond func(w http.ResponseWriter, r *http.Request, body []byte)) *destination {
	d := &destination{respond: respond}
	d.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		d.mu.Lock()
		d.received = append(d.received, received{r.Header.Clone(), b})
		d.mu.Unlock()
		if d.respond != nil {
			d.respond(w, r, b)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(201)
		fmt.Fprintf(w, `{"confirmed":true,"bytes":%d}`, len(b))
	}))
	t.Cleanup(d.Close)
	return d
}

func (d *destination) all() []received {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]received(nil), d.received...)
}

const demoPlugins = `
plugins:
  - name: validator
    path: ` + "{{REPO}}" + `/plugins/demo/validator.wasm
  - name: mapper
    path: ` + "{{REPO}}" + `/plugins/demo/mapper.wasm
  - name: upper
    path: ` + "{{REPO}}" + `/runtime/wasm/testdata/upper.wasm
  - name: suffix
    path: ` + "{{REPO}}" + `/runtime/wasm/testdata/suffix.wasm
  - name: trap
    path: ` + "{{REPO}}" + `/runtime/wasm/testdata/trap.wasm
  - name: loop
    path: ` + "{{REPO}}" + `/runtime/wasm/testdata/loop.wasm
    fuel: 10000000 # spent in milliseconds; the timeout stays out of reach on a loaded machine
    timeout: 30s
  - name: badptr
    path: ` + "{{REPO}}" + `/runtime/wasm/testdata/badptr.wasm
`

func withRepo(yaml string) string {
	abs, _ := filepath.Abs(repoPath(""))
	return strings.ReplaceAll(yaml, "{{REPO}}", abs)
}

func TestSyncAndAsyncThroughDemoPlugins(t *testing.T) {
	dest := newDestination(t, nil)
	ts := startServer(t, withRepo(demoPlugins+`
routes:
  - name: inline
    mode: sync
    transforms: [validator, mapper]
  - name: to-erp
    mode: sync
    transforms: [validator, mapper]
    destination: {url: `+dest.URL+`/orders, timeout: 10s}
  - name: later
    mode: async
    transforms: [validator, mapper]
    destination: {url: `+dest.URL+`/orders}
`), "")

	t.Run("sync without destination replies with the transformed message", func(t *testing.T) {
		r := ts.post("inline", `{"name":"ada","email":"ADA@EXAMPLE.COM","plan":"pro"}`)
		if r.status != 200 {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
		v := r.json(t)
		id := r.header.Get("Sluice-Correlation-Id")
		if v["email"] != "ada@example.com" || v["full_name"] != "ada" || len(id) != 36 || id[14] != '7' {
			t.Fatalf("reply %s, correlation id %q", r.body, id)
		}
		if src := v["source"].(map[string]any); src["correlation_id"] != id || src["route"] != "inline" {
			t.Fatalf("plugin saw metadata %v, want id %s", src, id)
		}
	})

	t.Run("sync with destination relays the destination's answer", func(t *testing.T) {
		r := ts.post("to-erp", `{"name":"bob","email":"Bob@X.io"}`)
		if r.status != 201 || !strings.Contains(string(r.body), `"confirmed":true`) {
			t.Fatalf("reply %d %s", r.status, r.body)
		}
		got := dest.all()
		last := got[len(got)-1]
		if last.header.Get("Sluice-Correlation-Id") != r.header.Get("Sluice-Correlation-Id") ||
			last.header.Get("Sluice-Route") != "to-erp" || last.header.Get("Content-Type") != "application/json" ||
			last.header.Get("X-Sluice-Plugin") != "demo-mapper" {
			t.Fatalf("destination got headers %v", last.header)
		}
		if !bytes.Contains(last.body, []byte(`"email":"bob@x.io"`)) {
			t.Fatalf("destination got body %s", last.body)
		}
	})

	t.Run("async answers 202 and the result holds the destination's answer", func(t *testing.T) {
		r := ts.post("later", `{"name":"cy"}`)
		if r.status != 202 {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
		v := r.json(t)
		id := v["correlation_id"].(string)
		if r.header.Get("Location") != "/v1/results/"+id || v["status_url"] != "/v1/results/"+id || r.header.Get("Sluice-Correlation-Id") != id {
			t.Fatalf("202 reply %v %s", r.header, r.body)
		}
		res := ts.waitFinal(id)
		if res["status"] != "succeeded" || res["route"] != "later" || res["attempts"] != float64(1) {
			t.Fatalf("result %v", res)
		}
		resp := res["response"].(map[string]any)
		if resp["status"] != float64(201) || !strings.Contains(resp["body"].(string), `"confirmed":true`) {
			t.Fatalf("result response %v", resp)
		}
		for _, k := range []string{"created_at", "updated_at"} {
			if _, err := time.Parse(time.RFC3339Nano, res[k].(string)); err != nil {
				t.Fatalf("%s: %v", k, err)
			}
		}
	})

	t.Run("plugin rejection fails only its message", func(t *testing.T) {
		r := ts.post("inline", `{"email":"nobody"}`)
		if r.status != 422 || r.json(t)["error"].(map[string]any)["code"] != "plugin_rejected" ||
			!strings.Contains(string(r.body), `\"name\" is required`) {
			t.Fatalf("reply %d %s", r.status, r.body)
		}
		a := ts.post("later", `[1,2]`)
		res := ts.waitFinal(a.json(t)["correlation_id"].(string))
		if e := res["error"].(map[string]any); res["status"] != "failed" || e["code"] != "plugin_rejected" || e["plugin"] != "validator" {
			t.Fatalf("async rejection result %v", res)
		}
		if r := ts.post("inline", `{"name":"ok"}`); r.status != 200 {
			t.Fatalf("next message after rejection: %d %s", r.status, r.body)
		}
		ts.healthy()
	})
}

func TestChainOrderAndBinaryBodies(t *testing.T) {
	ts := startServer(t, withRepo(demoPlugins+`
routes:
  - {name: us, mode: sync, transforms: [upper, suffix]}
  - {name: su, mode: sync, transforms: [suffix, upper]}
  - {name: none, mode: async, transforms: []}
`), "")
	if r := ts.post("us", "abc"); string(r.body) != "ABC-s" {
		t.Fatalf("[upper, suffix] gave %q", r.body)
	}
	if r := ts.post("su", "abc"); string(r.body) != "ABC-S" {
		t.Fatalf("[suffix, upper] gave %q", r.body)
	}
	bin := []byte{0xff, 0x00, 0xfe}
	r := ts.do("POST", "/in/none", "application/octet-stream", bin)
	res := ts.waitFinal(r.json(t)["correlation_id"].(string))
	resp := res["response"].(map[string]any)
	if resp["body_base64"] != "/wD+" || resp["body"] != nil || resp["headers"].(map[string]any)["Content-Type"] != "application/octet-stream" {
		t.Fatalf("binary result %v", resp)
	}
}

func TestBadInputGetsPreciseErrors(t *testing.T) {
	down := newDestination(t, nil)
	down.Close() // nothing listens there any more
	slow := newDestination(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	})
	failing := newDestination(t, func(w http.ResponseWriter, _ *http.Request, _ []byte) {
		w.WriteHeader(500)
		io.WriteString(w, "erp exploded")
	})
	ts := startServer(t, withRepo(demoPlugins+`
max_body_size: 1KiB
routes:
  - {name: ok, mode: sync}
  - {name: trap, mode: sync, transforms: [trap]}
  - {name: loop, mode: sync, transforms: [loop]}
  - {name: badptr, mode: sync, transforms: [badptr]}
  - {name: down, mode: sync, destination: {url: `+down.URL+`}}
  - {name: slow, mode: sync, destination: {url: `+slow.URL+`, timeout: 200ms}}
  - {name: failing, mode: sync, destination: {url: `+failing.URL+`}}
  - {name: failing-async, mode: async, destination: {url: `+failing.URL+`}}
`), "")
	for _, tc := range []struct {
		name   string
		do     func() reply
		status int
		code   string
	}{
		{"unknown route", func() reply { return ts.post("nope", "{}") }, 404, "route_not_found"},
		{"wrong method", func() reply { return ts.do("GET", "/in/ok", "", nil) }, 405, "method_not_allowed"},
		{"oversize body", func() reply { return ts.post("ok", strings.Repeat("x", 2048)) }, 413, "body_too_large"},
		{"plugin trap", func() reply { return ts.post("trap", "{}") }, 500, "trap"},
		{"plugin infinite loop", func() reply { return ts.post("loop", "{}") }, 500, "fuel_exhausted"},
		{"plugin output out of bounds", func() reply { return ts.post("badptr", "{}") }, 500, "invalid_output"},
		{"destination down", func() reply { return ts.post("down", "{}") }, 502, "destination_unreachable"},
		{"destination timeout", func() reply { return ts.post("slow", "{}") }, 504, "destination_timeout"},
		{"malformed result id", func() reply { return ts.do("GET", "/v1/results/not-a-uuid", "", nil) }, 400, "invalid_correlation_id"},
		{"unknown result id", func() reply { return ts.do("GET", "/v1/results/01936f5e-0000-7000-8000-000000000000", "", nil) }, 404, "result_not_found"},
		{"unknown path", func() reply { return ts.do("GET", "/nope", "", nil) }, 404, "not_found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.do()
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			e, _ := r.json(t)["error"].(map[string]any)
			if e == nil || e["code"] != tc.code || e["message"] == "" {
				t.Fatalf("error body %s, want code %s", r.body, tc.code)
			}
			if r.header.Get("Sluice-Correlation-Id") == "" && strings.HasPrefix(tc.name, "unknown route") {
				t.Fatalf("no correlation id on %s", tc.name)
			}
			ts.healthy()
			if r := ts.post("ok", "still fine"); r.status != 200 || string(r.body) != "still fine" {
				t.Fatalf("server unhealthy after %s: %d %s", tc.name, r.status, r.body)
			}
		})
	}

	t.Run("destination 5xx is relayed and recorded as failed", func(t *testing.T) {
		r := ts.post("failing", "{}")
		if r.status != 500 || string(r.body) != "erp exploded" || r.header.Get("Sluice-Status") != "failed" {
			t.Fatalf("reply %d %v %s", r.status, r.header, r.body)
		}
		a := ts.post("failing-async", "{}")
		res := ts.waitFinal(a.json(t)["correlation_id"].(string))
		if res["status"] != "failed" || res["error"].(map[string]any)["code"] != "destination_failed" ||
			res["response"].(map[string]any)["status"] != float64(500) {
			t.Fatalf("result %v", res)
		}
	})
}

// 1,000 messages over 10 keys: each key's messages reach the destination in
// the order they were accepted, while keys run in parallel.
func TestPerKeyOrder(t *testing.T) {
	var mu sync.Mutex
	seen := map[string][]int{}
	dest := newDestination(t, func(w http.ResponseWriter, _ *http.Request, body []byte) {
		var m struct {
			Key string `json:"key"`
			N   int    `json:"n"`
		}
		json.Unmarshal(body, &m)
		// Vary how long deliveries take and record them when they finish, so
		// that messages of a key dispatched in parallel would overtake each other.
		time.Sleep(time.Duration(2-m.N%3) * time.Millisecond)
		mu.Lock()
		seen[m.Key] = append(seen[m.Key], m.N)
		mu.Unlock()
		w.WriteHeader(200)
	})
	ts := startServer(t, `
routes:
  - name: orders
    mode: async
    order_by: "json:/key"
    destination: {url: `+dest.URL+`}
`, "")
	const keys, per = 10, 100
	var wg sync.WaitGroup
	ids := make(chan string, keys*per)
	for k := range keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range per {
				r := ts.post("orders", fmt.Sprintf(`{"key":"k%d","n":%d}`, k, n))
				if r.status != 202 {
					t.Errorf("status %d: %s", r.status, r.body)
					return
				}
				ids <- r.json(t)["correlation_id"].(string)
			}
		}()
	}
	wg.Wait()
	close(ids)
	for id := range ids {
		if res := ts.waitFinal(id); res["status"] != "succeeded" {
			t.Fatalf("result %v", res)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != keys {
		t.Fatalf("saw %d keys", len(seen))
	}
	for k, ns := range seen {
		if len(ns) != per {
			t.Fatalf("key %s: %d deliveries, want %d", k, len(ns), per)
		}
		for i, n := range ns {
			if n != i {
				t.Fatalf("key %s: delivery %d carried n=%d (order broken: %v)", k, i, n, ns)
			}
		}
	}
}

// A full backlog answers 503 with Retry-After and stores nothing; a sync
// caller that waits too long gets 504 with its correlation id, and the
// outcome still lands in the results.
func TestBacklogFullAndSyncTimeout(t *testing.T) {
	dest, release := heldDestination(t)
	ts := startServer(t, `
sync_timeout: 300ms
backlog: {max_messages: 2}
routes:
  - {name: held, mode: async, destination: {url: `+dest.URL+`, timeout: 60s}}
  - {name: waits, mode: sync, destination: {url: `+dest.URL+`, timeout: 60s}}
`, "")
	a := ts.post("held", "1")
	b := ts.post("waits", "2") // the backlog now holds 2 messages, both stuck at the destination
	if a.status != 202 || b.status != 504 {
		t.Fatalf("first two: %d %s / %d %s", a.status, a.body, b.status, b.body)
	}
	e := b.json(t)["error"].(map[string]any)
	syncID := b.header.Get("Sluice-Correlation-Id")
	if e["code"] != "sync_timeout" || e["correlation_id"] != syncID || b.header.Get("Location") != "/v1/results/"+syncID {
		t.Fatalf("sync timeout reply: %v %s", b.header, b.body)
	}
	full := ts.post("held", "3")
	if full.status != 503 || full.header.Get("Retry-After") == "" || full.json(t)["error"].(map[string]any)["code"] != "backlog_full" {
		t.Fatalf("over the backlog: %d %v %s", full.status, full.header, full.body)
	}
	if r := ts.do("GET", "/v1/results/"+full.header.Get("Sluice-Correlation-Id"), "", nil); r.status != 404 {
		t.Fatalf("a refused message was stored: %d %s", r.status, r.body)
	}
	ts.healthy()
	release()
	if res := ts.waitFinal(syncID); res["status"] != "succeeded" || res["response"].(map[string]any)["body"] != "done" {
		t.Fatalf("sync message after its caller gave up: %v", res)
	}
	ts.waitFinal(a.json(t)["correlation_id"].(string))
	if r := ts.post("held", "4"); r.status != 202 {
		t.Fatalf("after the backlog drained: %d %s", r.status, r.body)
	}
}

// TestWASICommandPluginRoute chains a WASI command (plain Go, no SDK: stdin to
// stdout) after a native plugin, on a sync and an async route.
func TestWASICommandPluginRoute(t *testing.T) {
	ts := startServer(t, withRepo(`
plugins:
  - {name: suffix, path: {{REPO}}/runtime/wasm/testdata/suffix.wasm}
  - {name: upper-cmd, path: {{REPO}}/runtime/wasm/testdata/wasi/upper-go.wasm, abi: wasi}
routes:
  - {name: s, mode: sync, transforms: [suffix, upper-cmd]}
  - {name: a, mode: async, transforms: [upper-cmd]}
`), "")
	if r := ts.post("s", "abc"); r.status != 200 || string(r.body) != "ABC-S" {
		t.Fatalf("sync: %d %q", r.status, r.body)
	}
	r := ts.post("s", "fail-") // suffix makes it "fail--s": not the failing input
	if r.status != 200 || string(r.body) != "FAIL--S" {
		t.Fatalf("sync: %d %q", r.status, r.body)
	}
	a := ts.post("a", "fail")
	res := ts.waitFinal(a.json(t)["correlation_id"].(string))
	e, _ := res["error"].(map[string]any)
	if res["status"] != "failed" || e == nil || e["code"] != "plugin_failed" ||
		!strings.Contains(e["message"].(string), "exited with status 3") {
		t.Fatalf("failing command: %v", res)
	}
	a = ts.post("a", "ok")
	res = ts.waitFinal(a.json(t)["correlation_id"].(string))
	if res["status"] != "succeeded" || res["response"].(map[string]any)["body"] != "OK" {
		t.Fatalf("command: %v", res)
	}
}

// TestDiskFullRefusesMessages: under min_free_disk of free space (here more
// than any disk has) every new message gets 507 disk_full with Retry-After
// and nothing is stored, on sync and async routes; /healthz says the server
// is not ready, and /v1/stats says why.
func TestDiskFullRefusesMessages(t *testing.T) {
	dest := newDestination(t, nil)
	ts := startServer(t, `
min_free_disk: 1000000GiB
routes:
  - {name: a, mode: async, destination: {url: `+dest.URL+`}}
  - {name: s, mode: sync, destination: {url: `+dest.URL+`}}
`, "")
	for _, route := range []string{"a", "s"} {
		r := ts.post(route, `{"n":1}`)
		e := r.json(t)["error"].(map[string]any)
		if r.status != 507 || e["code"] != "disk_full" || r.header.Get("Retry-After") == "" {
			t.Fatalf("route %s on a full disk: %d %v %s", route, r.status, r.header, r.body)
		}
		id := r.header.Get("Sluice-Correlation-Id")
		if got := ts.do("GET", "/v1/results/"+id, "", nil); got.status != 404 {
			t.Fatalf("route %s: a refused message was stored: %d %s", route, got.status, got.body)
		}
	}
	if h := ts.do("GET", "/healthz", "", nil); h.status != 503 || h.json(t)["error"].(map[string]any)["code"] != "disk_full" {
		t.Fatalf("healthz on a full disk: %d %s", h.status, h.body)
	}
	st := ts.admin("GET", "/v1/stats", nil).json(t)["log"].(map[string]any)
	if st["disk_low"] != true || st["appends"].(float64) != 0 || st["disk_free"].(float64) <= 0 {
		t.Fatalf("stats on a full disk: %v", st)
	}
	if n := len(dest.all()); n != 0 {
		t.Fatalf("the destination got %d messages", n)
	}
}

// TestDestinationAnswerTooLarge: a destination's answer over
// dispatch.max_response_size fails only its own message, with
// destination_response_too_large (502 on a sync route), is not retried (it
// would be as large again) and leaves the server healthy.
func TestDestinationAnswerTooLarge(t *testing.T) {
	big := strings.Repeat("x", 4096)
	dest := newDestination(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		if string(body) == `"small"` {
			io.WriteString(w, "ok")
			return
		}
		io.WriteString(w, big)
	})
	ts := startServer(t, `
dispatch: {max_response_size: 1KiB}
routes:
  - {name: s, mode: sync, destination: {url: `+dest.URL+`}}
  - {name: a, mode: async, destination: {url: `+dest.URL+`}, retry: {max_attempts: 3, initial_backoff: 10ms}}
`, "")
	r := ts.post("s", `"big"`)
	if e := r.json(t)["error"].(map[string]any); r.status != 502 || e["code"] != "destination_response_too_large" ||
		!strings.Contains(e["message"].(string), "1024-byte limit") {
		t.Fatalf("sync route, 4 KiB answer over a 1 KiB limit: %d %s", r.status, r.body)
	}
	a := ts.post("a", `"big"`)
	res := ts.waitFinal(a.json(t)["correlation_id"].(string))
	if e, _ := res["error"].(map[string]any); e == nil || e["code"] != "destination_response_too_large" || res["attempts"].(float64) != 1 {
		t.Fatalf("async route: %v", res)
	}
	if r := ts.post("s", `"small"`); r.status != 200 || string(r.body) != "ok" {
		t.Fatalf("a small answer after the large ones: %d %s", r.status, r.body)
	}
	ts.healthy()
}
