package registry

import (
	"context"
	"os"
	"sync"
	"testing"

	"github.com/sluicehq/sluice/runtime/wasm"
)

func version(t *testing.T, h *wasm.Host, name, fixture string) *Version {
	t.Helper()
	bin, err := os.ReadFile("../wasm/testdata/" + fixture + ".wasm")
	if err != nil {
		t.Fatal(err)
	}
	p, err := h.Load(context.Background(), name, bin, wasm.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	return &Version{Plugin: p, Source: SourceConfig}
}

// transform runs input through a fresh instance of v.
func transform(v *Version, input string) (string, error) {
	i, err := v.Plugin.Instantiate(context.Background())
	if err != nil {
		return "", err
	}
	defer i.Close()
	c := &wasm.Call{Input: []byte(input)}
	if err := i.Transform(c); err != nil {
		return "", err
	}
	return string(c.Output), nil
}

func TestSwapKeepsLeasedVersionOpen(t *testing.T) {
	h, err := wasm.NewHost("", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	old := version(t, h, "p", "upper")
	r := New(old)
	defer r.Close()

	leased, err := r.Acquire([]string{"p"}, nil)
	if err != nil || len(leased) != 1 || leased[0] != old || old.Leases() != 1 {
		t.Fatalf("Acquire: %v %v leases %d", leased, err, old.Leases())
	}
	gen := r.Gen()
	replaced, err := r.Swap(version(t, h, "p", "suffix"))
	if err != nil || replaced != old || !old.Retired() || r.Gen() == gen {
		t.Fatalf("Swap: %v %v retired %v", replaced, err, old.Retired())
	}
	// Still leased: the old version works.
	if out, err := transform(old, "ab"); err != nil || out != "AB" {
		t.Fatalf("old version while leased: %q %v", out, err)
	}
	// New leases get the new version.
	now, _ := r.Acquire([]string{"p"}, nil)
	if out, err := transform(now[0], "ab"); err != nil || out != "ab-s" {
		t.Fatalf("new version: %q %v", out, err)
	}
	r.Release(now)
	// The last lease ends: the old version closes.
	r.Release(leased)
	if _, err := transform(old, "ab"); err == nil {
		t.Fatal("the old version still runs after its last lease ended")
	}
	if _, err := r.Acquire([]string{"p", "nope"}, nil); err == nil || r.Get("p").Leases() != 0 {
		t.Fatalf("unknown name: %v, leases left %d", err, r.Get("p").Leases())
	}
	if _, err := r.Swap(version(t, h, "nope", "upper")); err == nil {
		t.Fatal("Swap of an unknown plugin succeeded")
	}
}

func TestConcurrentLeasesAndSwaps(t *testing.T) {
	h, err := wasm.NewHost("", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	r := New(version(t, h, "p", "upper"))
	defer r.Close()
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var vs []*Version
			for range 200 {
				vs, _ = r.Acquire([]string{"p"}, vs[:0])
				if _, err := transform(vs[0], "x"); err != nil {
					t.Errorf("a leased version failed: %v", err)
				}
				r.Release(vs)
			}
		}()
	}
	for i := range 10 {
		fixture := "upper"
		if i%2 == 0 {
			fixture = "suffix"
		}
		if _, err := r.Swap(version(t, h, "p", fixture)); err != nil {
			t.Error(err)
		}
	}
	wg.Wait()
}
