package main

import (
	"bufio"
	"bytes"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// hostile are the fixtures of runtime/wasm/testdata/hostile that load and
// then attack when a message arrives, with the error code each must produce.
var hostile = []struct{ name, code, limits string }{
	{"loop", "fuel_exhausted", ", fuel: 10000000"},
	{"calltree", "fuel_exhausted", ", fuel: 10000000"},
	{"membomb", "memory_limit", ", memory_limit: 16MiB"},
	{"recursion", "call_depth_exceeded", ""},
	{"unreachable", "trap", ""},
	{"oob", "trap", ""},
	{"badoutput", "invalid_output", ""},
	{"hugeoutput", "invalid_output", ""},
	{"gopanic", "plugin_failed", ""},
}

// TestHostilePluginsFailOnlyTheirMessage attacks the real server with every
// hostile plugin, on sync and async routes, while /healthz is polled: each
// message fails with its precise code, the server stays healthy, and the next
// 1,000 normal messages (through a Go plugin) succeed.
func TestHostilePluginsFailOnlyTheirMessage(t *testing.T) {
	var yaml strings.Builder
	yaml.WriteString("plugins:\n  - {name: validator, path: {{REPO}}/plugins/demo/validator.wasm}\n")
	for _, h := range hostile {
		// A long timeout: fuel, depth and memory limits must stop them, whatever the machine's speed.
		fmt.Fprintf(&yaml, "  - {name: %s, path: {{REPO}}/runtime/wasm/testdata/hostile/%s.wasm, timeout: 1m%s}\n", h.name, h.name, h.limits)
	}
	yaml.WriteString("routes:\n  - {name: ok, mode: sync, transforms: [validator]}\n")
	for _, h := range hostile {
		fmt.Fprintf(&yaml, "  - {name: %s, mode: sync, transforms: [%s]}\n", h.name, h.name)
		fmt.Fprintf(&yaml, "  - {name: %s-async, mode: async, order_by: none, transforms: [%s]}\n", h.name, h.name)
	}
	ts := startServer(t, withRepo(yaml.String()), "")
	rssBefore := rssBytes(t)

	// Poll /healthz for the whole attack.
	stop := make(chan struct{})
	var (
		mu       sync.Mutex
		health   []time.Duration
		unhealth []string
	)
	polled := make(chan struct{})
	go func() {
		defer close(polled)
		c := &http.Client{Timeout: 30 * time.Second}
		for {
			select {
			case <-stop:
				return
			default:
			}
			start := time.Now()
			resp, err := c.Get(ts.base + "/healthz")
			took := time.Since(start)
			mu.Lock()
			health = append(health, took)
			if err != nil {
				unhealth = append(unhealth, err.Error())
			} else {
				if resp.StatusCode != 200 {
					unhealth = append(unhealth, resp.Status)
				}
				resp.Body.Close()
			}
			mu.Unlock()
			time.Sleep(5 * time.Millisecond)
		}
	}()

	var ids []string
	for _, h := range hostile {
		start := time.Now()
		r := ts.post(h.name, `{"name":"ada"}`)
		e, _ := r.json(t)["error"].(map[string]any)
		if r.status != 500 || e == nil || e["code"] != h.code || e["plugin"] != h.name || e["message"] == "" {
			t.Errorf("%s: %d %s; want 500 with code %s", h.name, r.status, r.body, h.code)
		}
		t.Logf("%-12s %d %s in %v", h.name, r.status, e["message"], time.Since(start).Round(time.Millisecond))
		a := ts.post(h.name+"-async", `{"name":"ada"}`)
		if a.status != 202 {
			t.Fatalf("%s-async: %d %s", h.name, a.status, a.body)
		}
		ids = append(ids, a.json(t)["correlation_id"].(string))
	}
	for i, id := range ids {
		res := ts.waitFinal(id)
		e, _ := res["error"].(map[string]any)
		if res["status"] != "failed" || e == nil || e["code"] != hostile[i].code {
			t.Errorf("%s-async result: %v", hostile[i].name, res)
		}
	}
	close(stop)
	<-polled

	// The server is healthy and normal messages flow.
	for i := range 1000 {
		body := fmt.Sprintf(`{"name":"user%d","email":"U%d@EXAMPLE.COM"}`, i, i)
		if r := ts.post("ok", body); r.status != 200 {
			t.Fatalf("normal message %d after the attack: %d %s", i, r.status, r.body)
		}
	}
	ts.healthy()

	mu.Lock()
	defer mu.Unlock()
	if len(unhealth) > 0 {
		t.Errorf("/healthz failed during the attack: %v", unhealth)
	}
	slices.Sort(health)
	if len(health) == 0 {
		t.Fatal("/healthz never polled")
	}
	p50, worst := health[len(health)/2], health[len(health)-1]
	t.Logf("/healthz during the attack: %d polls, p50 %v, p99 %v, max %v", len(health), p50,
		health[len(health)*99/100], worst)
	// Not a timing assertion (the machine is shared): a frozen process would
	// take seconds, a healthy one milliseconds.
	if worst > 10*time.Second {
		t.Errorf("/healthz stalled for %v during the attack", worst)
	}
	rssAfter := rssBytes(t)
	t.Logf("RSS before the attack %d MiB, after %d MiB", rssBefore>>20, rssAfter>>20)
	if rssAfter > rssBefore+1<<30 {
		t.Errorf("RSS grew from %d MiB to %d MiB", rssBefore>>20, rssAfter>>20)
	}
}

// TestBadModulesAreRefusedAtStartup: a module that must never load fails
// `sluice config check` and startup with a clear error.
func TestBadModulesAreRefusedAtStartup(t *testing.T) {
	for _, tc := range []struct{ fixture, want string }{
		{"unknownimport", "unknown imports: sluice.launch_missiles"},
		{"notwasm", "not a WebAssembly module"},
		{"truncated", "truncated or corrupt"},
		{"hugemem", "minimum memory of 65536 pages (4 GiB)"},
	} {
		t.Run(tc.fixture, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "sluice.yaml")
			yaml := withRepo(fmt.Sprintf("data_dir: %s\nlisten: 127.0.0.1:0\nplugins:\n  - {name: bad, path: {{REPO}}/runtime/wasm/testdata/hostile/%s.wasm}\n"+
				"routes:\n  - {name: r, mode: sync, transforms: [bad]}\n", filepath.Join(dir, "data"), tc.fixture))
			if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
				t.Fatal(err)
			}
			var out, errb bytes.Buffer
			if code := run([]string{"config", "check", path}, &out, &errb); code != 1 || !strings.Contains(errb.String(), tc.want) ||
				!strings.Contains(errb.String(), "invalid_module") {
				t.Errorf("config check: exit %d, stderr %q; want 1 and %q", code, errb.String(), tc.want)
			}
			errb.Reset()
			if code := run([]string{"serve", "--config", path}, &out, &errb); code == 0 || !strings.Contains(errb.String(), tc.want) {
				t.Errorf("serve: exit %d, stderr %q; want failure with %q", code, errb.String(), tc.want)
			}
		})
	}
}

// rssBytes is this process's resident set size.
func rssBytes(t *testing.T) int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Skip("no /proc:", err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(s.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	t.Skip("no VmRSS")
	return 0
}
