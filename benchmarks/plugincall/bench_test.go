// Package plugincall compares the per-call cost of running one message through
// a warm WebAssembly instance three ways: bare wazero, Sluice's plugin host
// (runtime/wasm) and the Extism Go SDK. See README.md.
package plugincall

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	extism "github.com/extism/go-sdk"
	"github.com/sluicehq/sluice/runtime/wasm"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

const inputSize = 1024

// input is 1 KiB of mixed-case ASCII; want is its upper-cased form.
var input, want = func() ([]byte, []byte) {
	const text = "The quick brown fox jumps over the lazy dog; 0123456789 {Sluice} plugin-call bench.\n"
	b := bytes.Repeat([]byte(text), inputSize/len(text)+1)[:inputSize]
	return b, bytes.ToUpper(b)
}()

func readWasm(b *testing.B, path string) []byte {
	b.Helper()
	bin, err := os.ReadFile(filepath.FromSlash(path))
	if err != nil {
		b.Fatal(err)
	}
	return bin
}

// check fails the benchmark unless got is want.
func check(b *testing.B, what string, got, want []byte) {
	b.Helper()
	if !bytes.Equal(got, want) {
		b.Fatalf("%s: wrong output: got %d bytes %.40q..., want %d bytes %.40q...", what, len(got), got, len(want), want)
	}
}

// BenchmarkCall is the comparison: each variant as it is normally configured.
// Sluice always bounds a call (fuel metering compiled into the guest plus a
// wall-clock watchdog); bare and Extism (by default) do not bound it at all.
func BenchmarkCall(b *testing.B) {
	b.Run("bare", func(b *testing.B) { benchBare(b, false) })
	b.Run("sluice", benchSluice)
	b.Run("extism", func(b *testing.B) { benchExtism(b, 0) })
}

// BenchmarkCallInterruptible is supplementary: bare and Extism made
// interruptible the way wazero offers, RuntimeConfig.WithCloseOnContextDone(true)
// with a cancellable context (bare; what runtime/wasm used before it switched
// to fuel metering) or Manifest.Timeout = 1 s (Extism, which turns on the same
// wazero option). wazero then spawns a goroutine per call and exits to Go at
// every loop back-edge to check for cancellation. Compare with
// BenchmarkCall/sluice, which is bounded too.
func BenchmarkCallInterruptible(b *testing.B) {
	b.Run("bare", func(b *testing.B) { benchBare(b, true) })
	b.Run("extism", func(b *testing.B) { benchExtism(b, uint64(wasm.DefaultTimeout/time.Millisecond)) })
}

// benchBare is the floor: one warm wazero instance, functions looked up once,
// CallWithStack with a reused stack, the input copied into guest memory and
// the result copied out into a reused host buffer. No ABI, no host functions.
// With interruptible, the runtime can be stopped by cancelling the call's
// context (as Sluice's is); the context itself is made once, not per call.
func benchBare(b *testing.B, interruptible bool) {
	ctx := context.Background()
	cfg := wazero.NewRuntimeConfigCompiler()
	if interruptible {
		cfg = cfg.WithCloseOnContextDone(true)
	}
	rt := wazero.NewRuntimeWithConfig(ctx, cfg)
	defer rt.Close(ctx)
	if interruptible {
		var cancel context.CancelFunc
		ctx, cancel = context.WithCancel(ctx)
		defer cancel()
	}
	mod, err := rt.Instantiate(ctx, readWasm(b, "testdata/bare.wasm"))
	if err != nil {
		b.Fatal(err)
	}
	upper, noop := mod.ExportedFunction("upper"), mod.ExportedFunction("noop")
	mem := mod.Memory()
	stack := make([]uint64, 2)
	out := make([]byte, 0, inputSize)
	const ptr = 1024

	call := func() []byte {
		if !mem.Write(ptr, input) {
			b.Fatal("write out of range")
		}
		stack[0], stack[1] = api.EncodeU32(ptr), api.EncodeU32(uint32(len(input)))
		if err := upper.CallWithStack(ctx, stack); err != nil {
			b.Fatal(err)
		}
		res, ok := mem.Read(ptr, uint32(len(input)))
		if !ok {
			b.Fatal("read out of range")
		}
		out = append(out[:0], res...)
		return out
	}

	b.Run("upper1k", func(b *testing.B) {
		check(b, "bare upper", call(), want)
		b.ReportAllocs()
		b.SetBytes(inputSize)
		for b.Loop() {
			call()
		}
	})
	b.Run("noop", func(b *testing.B) {
		if err := noop.CallWithStack(ctx, stack); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if err := noop.CallWithStack(ctx, stack); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// benchSluice goes through runtime/wasm exactly as the delivery path does:
// Host.Load, Plugin.Instantiate once, Instance.Transform per message, default
// Limits (1 s timeout, 64 MiB memory). The upper-case plugin is the host's own
// test fixture runtime/wasm/testdata/upper.wasm.
func benchSluice(b *testing.B) {
	ctx := context.Background()
	host, err := wasm.NewHost("", slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	defer host.Close()

	run := func(b *testing.B, name, path string, in, want []byte) {
		p, err := host.Load(ctx, name, readWasm(b, path), wasm.Limits{})
		if err != nil {
			b.Fatal(err)
		}
		defer p.Close(ctx)
		inst, err := p.Instantiate(ctx)
		if err != nil {
			b.Fatal(err)
		}
		defer inst.Close()
		c := &wasm.Call{Input: in, Route: "bench", ContentType: "text/plain", ReceivedAt: time.Now()}
		if err := inst.Transform(c); err != nil {
			b.Fatal(err)
		}
		check(b, "sluice "+name, c.Output, want)
		b.ReportAllocs()
		if len(in) > 0 {
			b.SetBytes(int64(len(in)))
		}
		for b.Loop() {
			if err := inst.Transform(c); err != nil {
				b.Fatal(err)
			}
		}
		check(b, "sluice "+name+" (after timing)", c.Output, want)
	}

	b.Run("upper1k", func(b *testing.B) { run(b, "upper", "../../runtime/wasm/testdata/upper.wasm", input, want) })
	b.Run("noop", func(b *testing.B) { run(b, "noop", "testdata/sluice_noop.wasm", nil, nil) })
}

// benchExtism compiles testdata/extism.wasm with the Extism Go SDK's defaults
// (no WASI, default wazero runtime config; no timeout unless timeoutMs > 0),
// makes one warm instance and calls Plugin.Call per message.
func benchExtism(b *testing.B, timeoutMs uint64) {
	ctx := context.Background()
	manifest := extism.Manifest{Wasm: []extism.Wasm{extism.WasmData{Data: readWasm(b, "testdata/extism.wasm"), Name: "main"}},
		Timeout: timeoutMs}
	cp, err := extism.NewCompiledPlugin(ctx, manifest, extism.PluginConfig{}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer cp.Close(ctx)
	p, err := cp.Instance(ctx, extism.PluginInstanceConfig{})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close(ctx)

	run := func(b *testing.B, fn string, in, want []byte) {
		rc, out, err := p.Call(fn, in)
		if err != nil || rc != 0 {
			b.Fatalf("extism %s: rc %d, err %v", fn, rc, err)
		}
		check(b, "extism "+fn, out, want)
		b.ReportAllocs()
		if len(in) > 0 {
			b.SetBytes(int64(len(in)))
		}
		for b.Loop() {
			if rc, out, err = p.Call(fn, in); err != nil || rc != 0 {
				b.Fatalf("extism %s: rc %d, err %v", fn, rc, err)
			}
		}
		check(b, "extism "+fn+" (after timing)", out, want)
	}

	b.Run("upper1k", func(b *testing.B) { run(b, "upper", input, want) })
	b.Run("noop", func(b *testing.B) { run(b, "noop", nil, nil) })
}
