package wasm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// memInstances is how many instances BenchmarkInstanceMemory keeps alive at
// once: the default worker pool on 2 cores (8 × GOMAXPROCS workers, each
// owning one warm instance per plugin).
const memInstances = 16

// orderExample is plugins/order-to-invoice's example order (SPEC.md).
const orderExample = `{"id":"A-1001","customer":{"first_name":"Ada","last_name":"Lovelace","email":"ADA@Example.com"},` +
	`"currency":"EUR","items":[{"sku":"X1","qty":2,"unit_price_cents":1250},{"sku":"Y2","qty":1,"unit_price_cents":999}]}`

// memFixtures are the plugins measured: the order-to-invoice reference
// plugin in every SDK language, and the hand-written upper fixture.
var memFixtures = []struct{ name, path, input string }{
	{"c", "../../plugins/order-to-invoice/c/order-to-invoice.wasm", orderExample},
	{"rust", "../../plugins/order-to-invoice/rust/order-to-invoice.wasm", orderExample},
	{"assemblyscript", "../../plugins/order-to-invoice/assemblyscript/order-to-invoice.wasm", orderExample},
	{"zig", "../../plugins/order-to-invoice/zig/order-to-invoice.wasm", orderExample},
	{"go", "../../plugins/order-to-invoice/go/order-to-invoice.wasm", orderExample},
	{"upper", "testdata/upper.wasm", orderExample},
}

// instanceMemory is what one warm instance costs, in bytes, averaged over
// the instances of one measurement.
type instanceMemory struct {
	guest float64 // linear memory: pages × 64 KiB
	rss   float64 // growth of the process's resident set
	heap  float64 // growth of the live Go heap (wazero allocates linear memory there)
}

// BenchmarkInstanceMemory reports the memory of one warm instance per
// plugin: memInstances instances are created the way a worker creates them
// (Plugin.Instantiate) and each runs one Transform of the example order, so
// that it holds what a pooled instance holds after its first message. Then:
//
//   - guest-B/inst: linear memory per instance (pages × 64 KiB);
//   - rss-B/inst: growth of this process's resident set (/proc/self/statm)
//     divided by the instance count, after returning freed memory to the OS
//     before the instances were created;
//   - heap-B/inst: growth of the live Go heap (after a GC) per instance.
//
// Each iteration (ns/op) measures memInstances fresh instances, GCs
// included; the metrics are the medians over iterations. Linux only (RSS).
// Run it with a small -benchtime, e.g. `-benchtime 5x`.
func BenchmarkInstanceMemory(b *testing.B) {
	h := newHost(b)
	for _, f := range memFixtures {
		b.Run(f.name, func(b *testing.B) {
			bin, err := os.ReadFile(f.path)
			if errors.Is(err, fs.ErrNotExist) {
				b.Skipf("%s is not built", f.path)
			}
			if err != nil {
				b.Fatal(err)
			}
			p, err := h.Load(context.Background(), f.name, bin, Limits{})
			if err != nil {
				b.Fatal(err)
			}
			defer p.Close(context.Background())
			var guest, rss, heap []float64
			for b.Loop() {
				m, err := measureInstances(p, []byte(f.input), memInstances)
				if err != nil {
					b.Fatal(err)
				}
				guest, rss, heap = append(guest, m.guest), append(rss, m.rss), append(heap, m.heap)
			}
			b.ReportMetric(median(guest), "guest-B/inst")
			b.ReportMetric(median(rss), "rss-B/inst")
			b.ReportMetric(median(heap), "heap-B/inst")
		})
	}
}

// measureInstances creates n warm instances of p, each after one Transform
// of input, measures them and closes them again.
func measureInstances(p *Plugin, input []byte, n int) (instanceMemory, error) {
	debug.FreeOSMemory() // GC and give freed pages back: RSS starts from what is live
	rss0, err := residentBytes()
	if err != nil {
		return instanceMemory{}, err
	}
	heap0 := liveHeap()

	insts := make([]*Instance, 0, n)
	defer func() {
		for _, i := range insts {
			i.Close()
		}
	}()
	var pages uint64
	for range n {
		i, err := p.Instantiate(context.Background())
		if err != nil {
			return instanceMemory{}, err
		}
		insts = append(insts, i)
		c := &Call{Input: input, Route: "r", CorrelationID: "c", Headers: headers{}}
		if err := i.Transform(c); err != nil {
			return instanceMemory{}, fmt.Errorf("transforming on instance %d: %w", len(insts), err)
		}
		pages += uint64(i.mod.Memory().Size()) >> 16
	}

	heap1 := liveHeap()
	rss1, err := residentBytes()
	if err != nil {
		return instanceMemory{}, err
	}
	per := func(d float64) float64 { return d / float64(n) }
	return instanceMemory{
		guest: per(float64(pages << 16)),
		rss:   per(float64(rss1) - float64(rss0)),
		heap:  per(float64(heap1) - float64(heap0)),
	}, nil
}

// liveHeap is the Go heap still reachable after a full GC.
func liveHeap() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// residentBytes reads this process's resident set from /proc/self/statm
// (second field, in pages).
func residentBytes() (uint64, error) {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0, fmt.Errorf("reading RSS: %w", err)
	}
	return parseStatm(b, os.Getpagesize())
}

// parseStatm returns the resident set in bytes from a /proc/<pid>/statm line.
func parseStatm(b []byte, pageSize int) (uint64, error) {
	f := strings.Fields(string(bytes.TrimSpace(b)))
	if len(f) < 2 {
		return 0, fmt.Errorf("reading RSS: statm %q has no resident field", b)
	}
	pages, err := strconv.ParseUint(f[1], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("reading RSS: statm %q: %w", b, err)
	}
	return pages * uint64(pageSize), nil
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func TestParseStatm(t *testing.T) {
	tests := []struct {
		in      string
		want    uint64
		wantErr bool
	}{
		{"12345 678 90 1 0 2 0\n", 678 * 4096, false},
		{"1 2", 2 * 4096, false},
		{"1", 0, true},
		{"1 x 3", 0, true},
		{"", 0, true},
	}
	for _, tt := range tests {
		got, err := parseStatm([]byte(tt.in), 4096)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("parseStatm(%q) = %d, %v; want %d, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestMeasureInstances(t *testing.T) {
	p := load(t, newHost(t), "upper", Limits{})
	m, err := measureInstances(p, []byte("abc"), 4)
	if err != nil {
		t.Fatal(err)
	}
	// upper declares one page and grows to fit the input: one page each.
	if m.guest != 65536 {
		t.Errorf("guest memory per instance = %v, want 65536", m.guest)
	}
	if m.heap <= 0 {
		t.Errorf("heap growth per instance = %v, want > 0", m.heap)
	}
}
