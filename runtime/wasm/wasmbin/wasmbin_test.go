package wasmbin

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// fixtures are the host's WAT fixtures and the demo Go plugins.
func fixtures(t testing.TB) map[string][]byte {
	t.Helper()
	files, _ := filepath.Glob("../testdata/*.wasm")
	hostile, _ := filepath.Glob("../testdata/hostile/*.wasm")
	for _, f := range hostile {
		if b := filepath.Base(f); b != "notwasm.wasm" && b != "truncated.wasm" {
			files = append(files, f)
		}
	}
	demo, _ := filepath.Glob("../../../plugins/demo/*.wasm")
	out := map[string][]byte{}
	for _, f := range append(files, demo...) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(f)] = b
	}
	if len(out) < 5 {
		t.Fatalf("found only %d fixtures", len(out))
	}
	return out
}

func TestInstrumentedModulesCompile(t *testing.T) {
	ctx := context.Background()
	// The interpreter validates like the compiler, in a fraction of the time.
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
	defer rt.Close(ctx)
	for name, bin := range fixtures(t) {
		out, err := Instrument(bin, Meter{Fuel: 1000, Depth: 100})
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if _, err := rt.CompileModule(ctx, out); err != nil {
			t.Errorf("%s: the instrumented module does not compile: %v", name, err)
			continue
		}
		m, err := Parse(out)
		if err != nil {
			t.Fatalf("%s: instrumented: %v", name, err)
		}
		var names []string
		for _, e := range m.Exports {
			if e.Kind == KindGlobal {
				names = append(names, e.Name)
			}
		}
		if !slices.Contains(names, FuelExport) || !slices.Contains(names, DepthExport) {
			t.Errorf("%s: exported globals %v", name, names)
		}
		// Instrumenting is deterministic.
		again, _ := Instrument(bin, Meter{Fuel: 1000, Depth: 100})
		if !bytes.Equal(out, again) {
			t.Errorf("%s: two instrumentations differ", name)
		}
	}
}

func TestParseDescribesModule(t *testing.T) {
	m, err := Parse(fixtures(t)["echo.wasm"])
	if err != nil {
		t.Fatal(err)
	}
	var imports, exports []string
	for _, i := range m.Imports {
		imports = append(imports, i.Module+"."+i.Name+" "+i.Type.String())
	}
	for _, e := range m.Exports {
		s := e.Kind + " " + e.Name
		if e.Type != nil {
			s += " " + e.Type.String()
		}
		exports = append(exports, s)
	}
	wantImports := "sluice.set_output (i32, i32) -> (); sluice.set_content_type (i32, i32) -> (); " +
		"sluice.set_header (i32, i32, i32, i32) -> (); sluice.meta (i32, i32, i32, i32) -> (i32)"
	if got := strings.Join(imports, "; "); got != wantImports {
		t.Errorf("imports:\n got %s\nwant %s", got, wantImports)
	}
	wantExports := "memory memory; func sluice_abi_version () -> (i32); func sluice_alloc (i32) -> (i32); " +
		"func sluice_transform (i32, i32) -> (i32)"
	if got := strings.Join(exports, "; "); got != wantExports {
		t.Errorf("exports:\n got %s\nwant %s", got, wantExports)
	}
	if len(m.Memories) != 1 || m.Memories[0].MinPages != 1 || m.Memories[0].HasMax {
		t.Errorf("memories %+v", m.Memories)
	}
}

func TestParseRefusesBadInput(t *testing.T) {
	echo := fixtures(t)["echo.wasm"]
	for _, tc := range []struct {
		name string
		bin  []byte
		want string
	}{
		{"empty", nil, "no \\0asm magic"},
		{"text", []byte("(module)"), "no \\0asm magic"},
		{"component", []byte("\x00asm\x0d\x00\x01\x00"), "components are not modules"},
		{"truncated", echo[:len(echo)-7], "truncated or corrupt"},
		{"unknown section", append(bytes.Clone(echo[:8]), 0x42, 0x00), "unknown section id 66"},
	} {
		if _, err := Parse(tc.bin); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want it to contain %q", tc.name, err, tc.want)
		}
	}
}

// instantiate runs bin in a fresh runtime (closed with the test) that
// provides a no-op sluice.set_output.
func instantiate(tb testing.TB, bin []byte) api.Module {
	tb.Helper()
	ctx := context.Background()
	rt := wazero.NewRuntime(ctx)
	tb.Cleanup(func() { rt.Close(ctx) })
	host := rt.NewHostModuleBuilder("sluice")
	host.NewFunctionBuilder().WithFunc(func(uint32, uint32) {}).Export("set_output")
	if _, err := host.Instantiate(ctx); err != nil {
		tb.Fatal(err)
	}
	mod, err := rt.Instantiate(ctx, bin)
	if err != nil {
		tb.Fatal(err)
	}
	return mod
}

// run instruments a WAT-built fixture, calls sluice_transform on input with
// the given budgets and returns the trap (if any) and the globals after it.
func run(t *testing.T, bin []byte, fuel int64, depth int32, input []byte) (error, int64, int32) {
	t.Helper()
	out, err := Instrument(bin, Meter{Fuel: fuel, Depth: depth})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	mod := instantiate(t, out)
	stack := []uint64{uint64(len(input)), 0}
	if err := mod.ExportedFunction("sluice_alloc").CallWithStack(ctx, stack); err != nil {
		t.Fatal(err)
	}
	mod.Memory().Write(uint32(stack[0]), input)
	stack[1] = uint64(len(input))
	err = mod.ExportedFunction("sluice_transform").CallWithStack(ctx, stack)
	return err, int64(mod.ExportedGlobal(FuelExport).Get()), api.DecodeI32(mod.ExportedGlobal(DepthExport).Get())
}

func TestFuelStopsCallTrees(t *testing.T) {
	// 64 functions, each calling the next twice, and no loop: 2^64 calls.
	err, fuel, depth := run(t, fixtures(t)["calltree.wasm"], 100_000, 500, []byte("x"))
	if err == nil || !strings.Contains(err.Error(), "unreachable") || fuel > 0 || depth < 0 {
		t.Fatalf("err %v, fuel %d, depth %d: want the fuel trap", err, fuel, depth)
	}
}

func TestFuelStopsLoops(t *testing.T) {
	err, fuel, _ := run(t, fixtures(t)["loop.wasm"], 10_000, 100, []byte("x"))
	if err == nil || !strings.Contains(err.Error(), "unreachable") || fuel > 0 {
		t.Fatalf("err %v, fuel %d: want a trap with the fuel spent", err, fuel)
	}
}

func TestFuelCountsLoopIterations(t *testing.T) {
	// upper loops once per input byte: 1 KiB needs more than 1,000 units.
	bin := fixtures(t)["upper.wasm"]
	input := bytes.Repeat([]byte("a"), 1024)
	if err, fuel, depth := run(t, bin, 1_000_000, 100, input); err != nil || fuel >= 1_000_000-1024 || depth != 100 {
		t.Fatalf("ample budget: err %v, fuel left %d, depth %d (want depth back at 100)", err, fuel, depth)
	}
	if err, fuel, _ := run(t, bin, 1000, 100, input); err == nil || fuel > 0 {
		t.Fatalf("1,000 units for 1,024 iterations: err %v, fuel %d; want the fuel trap", err, fuel)
	}
}

func TestDepthStopsRecursion(t *testing.T) {
	err, fuel, depth := run(t, fixtures(t)["recursion.wasm"], 1_000_000, 500, []byte("x"))
	if err == nil || !strings.Contains(err.Error(), "unreachable") || depth >= 0 || fuel <= 0 {
		t.Fatalf("err %v, fuel %d, depth %d: want the depth trap with fuel left", err, fuel, depth)
	}
	if fuel < 1_000_000-600 {
		t.Fatalf("fuel left %d: the trap came late", fuel)
	}
}

func TestInstrumentRefusesReservedNames(t *testing.T) {
	out, err := Instrument(fixtures(t)["recursion.wasm"], Meter{Fuel: 1, Depth: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Instrument(out, Meter{Fuel: 1, Depth: 1}); err == nil || !strings.Contains(err.Error(), "reserved") {
		t.Fatalf("instrumenting twice: %v, want the reserved-name error", err)
	}
}

func FuzzInstrument(f *testing.F) {
	for _, b := range fixtures(f) {
		if len(b) < 4096 {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, bin []byte) {
		out, err := Instrument(bin, Meter{Fuel: 100, Depth: 10})
		if err != nil {
			return
		}
		if _, err := Parse(out); err != nil {
			t.Fatalf("instrumented output does not parse: %v", err)
		}
	})
}

// BenchmarkMetering compares a 1 KiB transform (upper: one loop iteration
// per byte) in the module as built and in its metered rewrite, both called
// warm with CallWithStack: the cost of fuel and depth metering.
func BenchmarkMetering(b *testing.B) {
	bin := fixtures(b)["upper.wasm"]
	metered, err := Instrument(bin, Meter{Fuel: 1 << 40, Depth: 1000})
	if err != nil {
		b.Fatal(err)
	}
	input := bytes.Repeat([]byte("abcdefgh"), 128)
	for _, v := range []struct {
		name string
		bin  []byte
	}{{"unguarded", bin}, {"metered", metered}} {
		b.Run(v.name, func(b *testing.B) {
			ctx := context.Background()
			mod := instantiate(b, v.bin)
			alloc, transform := mod.ExportedFunction("sluice_alloc"), mod.ExportedFunction("sluice_transform")
			stack := make([]uint64, 2)
			b.SetBytes(int64(len(input)))
			b.ReportAllocs()
			for b.Loop() {
				stack[0] = uint64(len(input))
				if err := alloc.CallWithStack(ctx, stack); err != nil {
					b.Fatal(err)
				}
				ptr := uint32(stack[0])
				mod.Memory().Write(ptr, input)
				stack[0], stack[1] = uint64(ptr), uint64(len(input))
				if err := transform.CallWithStack(ctx, stack); err != nil || stack[0] != 0 {
					b.Fatal(err, stack[0])
				}
			}
		})
	}
}
