package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/queue"
	"github.com/sluicehq/sluice/runtime/config"
)

// The config's bound on memory is the log's.
func TestMemoryMinimumIsTheLogs(t *testing.T) {
	if config.MinMemoryBudget != queue.MinMemory || config.DefaultMemory != queue.DefaultMemory {
		t.Fatalf("config: min %d, default %d; queue: min %d, default %d",
			config.MinMemoryBudget, config.DefaultMemory, queue.MinMemory, queue.DefaultMemory)
	}
}

// With memory set and backlog.max_bytes not, an ingest the destination
// cannot keep up with fills half of memory with bodies and is then answered
// 503 backlog_full with Retry-After: the backlog does not grow past it.
func TestMemoryBoundsTheBacklog(t *testing.T) {
	dest, release := heldDestination(t)
	ts := startServer(t, `
memory: 16MiB
routes:
  - {name: held, mode: async, destination: {url: `+dest.URL+`, timeout: 60s}}
`, "")
	const size = 64 << 10
	body := `"` + strings.Repeat("x", size-2) + `"`
	accepted := 0
	var full reply
	for accepted <= 1000 {
		full = ts.post("held", body)
		if full.status != 202 {
			break
		}
		accepted++
	}
	// Half of 16MiB is 8MiB of backlog: 128 bodies of 64KiB, fewer with
	// each message's route, headers and overhead counted.
	if full.status != 503 || full.header.Get("Retry-After") == "" || full.json(t)["error"].(map[string]any)["code"] != "backlog_full" {
		t.Fatalf("after %d accepted: %d %v %s", accepted, full.status, full.header, full.body)
	}
	if accepted > 128 || accepted < 120 {
		t.Fatalf("%d bodies of 64KiB accepted before backlog_full; want 120–128 (8MiB)", accepted)
	}
	release()
	deadline := time.Now().Add(60 * time.Second)
	for r := ts.post("held", body); r.status != 202; r = ts.post("held", body) {
		if r.status != 503 || time.Now().After(deadline) {
			t.Fatalf("after the destination answered: %d %s", r.status, r.body)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// The split is one startup line of the real binary, and a budget under the
// minimum is a config error naming the minimum, in serve and config check.
func TestMemoryBudgetStartup(t *testing.T) {
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "sluice.yaml")
	if err := os.WriteFile(cfg, []byte("data_dir: "+filepath.Join(dir, "data")+"\nmemory: 64MiB\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p := spawn(t, bin, cfg, freeAddr(t))
	p.kill9()
	var line string
	for _, l := range strings.Split(p.logs.String(), "\n") {
		if strings.Contains(l, `msg="memory budget"`) {
			line = l
		}
	}
	for _, want := range []string{`memory="64.0 MiB"`, `backlog_max_bytes="32.0 MiB"`, `memtable="4.0 MiB"`, "num_memtables=4",
		`memtables_max="31.2 MiB"`, `block_cache="0 B"`, `index_cache="0 B"`} {
		if !strings.Contains(line, want) {
			t.Fatalf("startup line %q lacks %s\n%s", line, want, p.logs)
		}
	}

	bad := filepath.Join(dir, "small.yaml")
	if err := os.WriteFile(bad, []byte("memory: 8MiB\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errs := runCLI("config", "check", bad)
	if code != 1 || !strings.Contains(errs, "line 1: memory: must be at least 16MiB") {
		t.Fatalf("config check of memory: 8MiB: exit %d, %s", code, errs)
	}
}
