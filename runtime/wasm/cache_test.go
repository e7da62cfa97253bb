package wasm

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/runtime/wasm/wasmbin"
)

func newCacheHost(t *testing.T, dir string, max int64) *Host {
	t.Helper()
	h, err := NewHostWithOptions(HostOptions{CacheDir: dir, CacheMaxSize: max})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// cacheFiles lists the cache's entries (not its temporary files) by name.
func cacheFiles(t *testing.T, dir string) map[string]entry {
	t.Helper()
	files, err := (&diskCache{dir: dir}).entries()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]entry{}
	for _, f := range files {
		if !f.temp {
			out[filepath.Base(f.path)] = f
		}
	}
	return out
}

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	bin, err := os.ReadFile("testdata/" + name + ".wasm")
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// TestCacheKeyMatchesWazero locks in what touch relies on: the entry wazero
// writes for a module is named by one of cacheKeys(metered module). A wazero
// upgrade that changes its key scheme fails here (recency would silently
// fall back to write time otherwise).
func TestCacheKeyMatchesWazero(t *testing.T) {
	dir := t.TempDir()
	load(t, newCacheHost(t, dir, -1), "echo", Limits{})
	metered, err := wasmbin.Instrument(readFixture(t, "echo"), wasmbin.Meter{Fuel: DefaultInitFuel, Depth: DefaultMaxDepth})
	if err != nil {
		t.Fatal(err)
	}
	files := cacheFiles(t, dir)
	if len(files) != 1 {
		t.Fatalf("cache holds %d entries, want 1", len(files))
	}
	for name, f := range files {
		if !slices.Contains(cacheKeys(metered), name) {
			t.Fatalf("wazero wrote %s, not one of cacheKeys: %v", f.path, cacheKeys(metered))
		}
	}
}

// writeEntry writes a fake cache file of size bytes, last used at used.
func writeEntry(t *testing.T, dir, sub, name string, size int, used time.Time) string {
	t.Helper()
	p := filepath.Join(dir, sub, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, make([]byte, size), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, used, used); err != nil {
		t.Fatal(err)
	}
	return p
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

// TestCachePrunesLeastRecentlyUsed: at host creation the cache shrinks to
// its cap, oldest use first; files that are not wazero's, and temporary
// files another process may be writing, stay.
func TestCachePrunesLeastRecentlyUsed(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	key := func(c byte) string { return strings.Repeat(string(c), 64) }
	cur, old := "wazero-v1.12.0-amd64-linux", "wazero-v1.11.0-amd64-linux"
	oldest := writeEntry(t, dir, old, key('a'), 400, now.Add(-72*time.Hour)) // another wazero version: never used again
	older := writeEntry(t, dir, cur, key('b'), 400, now.Add(-48*time.Hour))
	recent := writeEntry(t, dir, cur, key('c'), 400, now.Add(-time.Hour))
	newest := writeEntry(t, dir, cur, key('d'), 400, now)
	writing := writeEntry(t, dir, cur, key('e')+".123.tmp", 400, now.Add(-time.Minute))  // a load in progress
	abandoned := writeEntry(t, dir, cur, key('f')+".456.tmp", 10, now.Add(-2*staleTemp)) // a crashed writer's
	foreign := writeEntry(t, dir, cur, "notes.txt", 10_000, now.Add(-1000*time.Hour))    // not ours
	outside := writeEntry(t, dir, ".", key('0'), 10_000, now.Add(-1000*time.Hour))       // not in a wazero dir
	newCacheHost(t, dir, 1300)
	for p, want := range map[string]bool{oldest: false, older: false, recent: true, newest: true,
		writing: true, abandoned: false, foreign: true, outside: true} {
		if exists(p) != want {
			t.Errorf("%s exists = %v, want %v", p, !want, want)
		}
	}

	// A negative cap never deletes.
	writeEntry(t, dir, cur, key('b'), 1<<20, now.Add(-48*time.Hour))
	newCacheHost(t, dir, -1)
	if !exists(filepath.Join(dir, cur, key('b'))) {
		t.Error("a negative cap pruned")
	}
}

// TestCacheTouchesEntriesOnLoad: loading a module from the cache makes its
// entry the most recently used.
func TestCacheTouchesEntriesOnLoad(t *testing.T) {
	dir := t.TempDir()
	h := newCacheHost(t, dir, -1)
	load(t, h, "echo", Limits{})
	files := cacheFiles(t, dir)
	if len(files) != 1 {
		t.Fatalf("%d entries", len(files))
	}
	var p string
	for _, f := range files {
		p = f.path
	}
	past := time.Now().Add(-100 * time.Hour)
	if err := os.Chtimes(p, past, past); err != nil {
		t.Fatal(err)
	}
	load(t, newCacheHost(t, dir, -1), "echo", Limits{}) // another process: a cache hit
	info, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if time.Since(info.ModTime()) > time.Hour {
		t.Fatalf("entry last used %v, want now", info.ModTime())
	}
}

// TestCachePruningNeverBreaksPlugins: with a cap smaller than any entry,
// every compilation's entry is deleted right after: plugins already loaded
// keep running (their code is in memory), and two hosts sharing the
// directory (as `sluice plugin run` and the tests share ~/.cache/sluice/wasm)
// load concurrently without an error.
func TestCachePruningNeverBreaksPlugins(t *testing.T) {
	dir := t.TempDir()
	a, b := newCacheHost(t, dir, 1), newCacheHost(t, dir, 1)
	p := load(t, a, "upper", Limits{})
	if n := len(cacheFiles(t, dir)); n != 0 {
		t.Fatalf("%d entries left over a 1-byte cap", n)
	}
	check := func(p *Plugin) {
		t.Helper()
		i, err := p.Instantiate(context.Background())
		if err != nil {
			t.Error(err)
			return
		}
		defer i.Close()
		c := &Call{Input: []byte("abc"), Headers: headers{}}
		if err := i.Transform(c); err != nil || string(c.Output) != "ABC" {
			t.Errorf("transform: %v %q", err, c.Output)
		}
	}
	check(p)

	var wg sync.WaitGroup
	for _, h := range []*Host{a, b} {
		for _, name := range []string{"upper", "echo", "suffix"} {
			wg.Go(func() {
				for range 5 {
					bin, err := os.ReadFile("testdata/" + name + ".wasm")
					if err != nil {
						t.Error(err)
						return
					}
					q, err := h.Load(context.Background(), name, bin, Limits{})
					if err != nil {
						t.Errorf("load %s: %v", name, err)
						return
					}
					if name == "upper" {
						check(q)
					}
					q.Close(context.Background())
				}
			})
		}
	}
	wg.Wait()
	check(p)
}
