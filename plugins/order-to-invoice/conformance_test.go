// Package ordertoinvoice_test is the SDK conformance suite: every language's
// build of the order-to-invoice plugin (SPEC.md) runs every case of
// cases.json through the real host.
package ordertoinvoice_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/runtime/wasm"
)

// languages are the SDKs that must ship an order-to-invoice.wasm.
var languages = []string{"go", "c", "rust", "assemblyscript", "zig"}

type testCase struct {
	Name       string  `json:"name"`
	Input      string  `json:"input"`
	WantOutput *string `json:"want_output"`
	WantError  *string `json:"want_error"`
}

func loadCases(t testing.TB) []testCase {
	t.Helper()
	b, err := os.ReadFile("cases.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct{ Cases []testCase }
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Cases) < 50 {
		t.Fatalf("only %d cases", len(f.Cases))
	}
	return f.Cases
}

// builds returns language → path of every present build.
func builds(t testing.TB) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, l := range languages {
		p := filepath.Join(l, "order-to-invoice.wasm")
		if _, err := os.Stat(p); err == nil {
			out[l] = p
		}
	}
	return out
}

// cacheDir is the compilation cache the tests share; TestMain removes it.
var cacheDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sluice-conformance-")
	if err != nil {
		panic(err)
	}
	cacheDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func load(t testing.TB, lang, path string) *wasm.Plugin {
	t.Helper()
	h, err := wasm.NewHost(cacheDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	bin, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	p, err := h.Load(context.Background(), "order-to-invoice-"+lang, bin, wasm.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close(context.Background()) })
	return p
}

type noHeaders struct{}

func (noHeaders) Header(string) (string, bool) { return "", false }

func TestEveryLanguageIsBuilt(t *testing.T) {
	b := builds(t)
	for _, l := range languages {
		if b[l] == "" {
			t.Errorf("%s/order-to-invoice.wasm is missing: build it with %s/build.sh", l, l)
		}
	}
}

func TestConformance(t *testing.T) {
	cases := loadCases(t)
	for lang, path := range builds(t) {
		t.Run(lang, func(t *testing.T) {
			p := load(t, lang, path)
			inst, err := p.Instantiate(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			defer func() { inst.Close() }()
			for _, tc := range cases {
				if inst.Closed() { // a failure discarded it: the next case gets a fresh one
					if inst, err = p.Instantiate(context.Background()); err != nil {
						t.Fatal(err)
					}
				}
				c := &wasm.Call{Input: []byte(tc.Input), Route: "orders", CorrelationID: "c", Headers: noHeaders{}}
				err := inst.Transform(c)
				switch {
				case tc.WantOutput != nil:
					if err != nil {
						t.Errorf("%s: %v; want output %s", tc.Name, err, *tc.WantOutput)
					} else if string(c.Output) != *tc.WantOutput {
						t.Errorf("%s:\n got %q\nwant %q", tc.Name, c.Output, *tc.WantOutput)
					} else if c.OutContentType != "application/json" {
						t.Errorf("%s: content type %q, want application/json", tc.Name, c.OutContentType)
					}
				default:
					var e *wasm.Error
					if !errors.As(err, &e) || e.Code != wasm.CodeRejected || e.Message != *tc.WantError {
						t.Errorf("%s: got %v (output %q); want rejection %q", tc.Name, err, truncate(c.Output), *tc.WantError)
					}
				}
			}
		})
	}
}

func truncate(b []byte) string {
	if len(b) > 80 {
		return string(b[:80]) + "..."
	}
	return string(b)
}

// example is SPEC.md's example order.
const example = `{"id":"A-1001","customer":{"first_name":"Ada","last_name":"Lovelace","email":"ADA@Example.com"},` +
	`"currency":"EUR","items":[{"sku":"X1","qty":2,"unit_price_cents":1250},{"sku":"Y2","qty":1,"unit_price_cents":999}]}`

// BenchmarkOrderToInvoice measures, per language, a warm call on the example
// order (ns/op, allocs in the host) and reports the module size and the time
// to create a fresh instance (µs/instantiate).
func BenchmarkOrderToInvoice(b *testing.B) {
	for _, lang := range languages {
		path := builds(b)[lang]
		if path == "" {
			continue
		}
		b.Run(lang, func(b *testing.B) {
			p := load(b, lang, path)
			start := time.Now()
			const n = 5
			for range n {
				i, err := p.Instantiate(context.Background())
				if err != nil {
					b.Fatal(err)
				}
				i.Close()
			}
			perInst := time.Since(start) / n
			inst, err := p.Instantiate(context.Background())
			if err != nil {
				b.Fatal(err)
			}
			defer inst.Close()
			c := &wasm.Call{Input: []byte(example), Route: "orders", CorrelationID: "c", Headers: noHeaders{}}
			b.ReportAllocs()
			for b.Loop() {
				if err := inst.Transform(c); err != nil {
					b.Fatal(err)
				}
			}
			if !strings.HasPrefix(string(c.Output), `{"external_id":"A-1001"`) {
				b.Fatalf("output %q", c.Output)
			}
			b.ReportMetric(float64(perInst.Microseconds()), "µs/instantiate")
			b.ReportMetric(float64(p.Size), "wasm-bytes")
		})
	}
}
