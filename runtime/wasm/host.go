package wasm

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/sluicehq/sluice/runtime/wasm/wasmbin"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// ABIVersion is the plugin ABI this host speaks.
const ABIVersion = 1

// Names of the ABI's guest exports and host module.
const (
	exportVersion   = "sluice_abi_version"
	exportAlloc     = "sluice_alloc"
	exportTransform = "sluice_transform"
	hostModule      = "sluice"
)

// Limits bound what one plugin may use. Zero fields take the defaults.
type Limits struct {
	MemoryPages uint32        // linear memory cap in 64 KiB pages
	Timeout     time.Duration // wall clock per call: the second line behind Fuel
	MaxOutput   int           // bytes a call may output
	// Fuel is the budget of one call: one unit per function call and per
	// loop iteration in the guest. Spent, the call fails with fuel_exhausted.
	Fuel int64
	// InitFuel bounds instantiation (the guest's _initialize).
	InitFuel int64
	// MaxDepth bounds the guest's call depth (call_depth_exceeded).
	MaxDepth int32
	// MaxModuleSize refuses larger modules before compiling them.
	MaxModuleSize int

	// Structural limits, checked before compiling (from the section headers
	// and one pass over the code): they bound what compiling a module costs,
	// since wazero's compiler cannot be interrupted.
	//
	// MaxFunctions bounds the functions a module defines (a fixed cost each).
	MaxFunctions int
	// MaxFunctionSize bounds one function body, in bytes: the compiler holds
	// one function's whole intermediate form at a time.
	MaxFunctionSize int
	// MaxCodeSize bounds the code section, in bytes: compile time and
	// memory grow with it.
	MaxCodeSize int
	// MaxDeclarations bounds the entries of every other section together:
	// types, imports, tables, memories, globals, exports, element and data
	// segments, tags (each costs memory and time to decode and instantiate).
	MaxDeclarations int
	// MaxCompileWork bounds the module's wasmbin.CodeStats.Work: the part
	// of compiling that grows faster than the code (functions with many
	// basic blocks, or many blocks and many locals; calls × mutable
	// globals; functions × types, imports, globals and exports). A unit is
	// about 10 ns of compiling at worst on the reference machine.
	MaxCompileWork int64
}

// Defaults for zero Limits fields.
const (
	DefaultMemoryPages   = 1024 // 64 MiB
	DefaultTimeout       = time.Second
	DefaultMaxOutput     = 16 << 20
	DefaultFuel          = 100_000_000
	DefaultInitFuel      = 100_000_000
	DefaultMaxDepth      = 10_000
	DefaultMaxModuleSize = 64 << 20
	// The structural defaults allow about four times the largest plugin in
	// the repository, a Go guest (plugins/demo/mapper.wasm: 2,201 functions,
	// largest body 29 KiB, 2.1 MiB of code, 37,942 declarations, compile
	// work 1.4e8), and bound compiling the worst module within all of them
	// at about 10 s of one core and under 0.5 GB (RATIONALE.md, "WASM host").
	DefaultMaxFunctions    = 50_000
	DefaultMaxFunctionSize = 128 << 10
	DefaultMaxCodeSize     = 8 << 20
	DefaultMaxDeclarations = 500_000
	DefaultMaxCompileWork  = 500_000_000
)

func (l Limits) withDefaults() Limits {
	if l.MemoryPages == 0 {
		l.MemoryPages = DefaultMemoryPages
	}
	if l.Timeout <= 0 {
		l.Timeout = DefaultTimeout
	}
	if l.MaxOutput <= 0 {
		l.MaxOutput = DefaultMaxOutput
	}
	if l.Fuel <= 0 {
		l.Fuel = DefaultFuel
	}
	if l.InitFuel <= 0 {
		l.InitFuel = DefaultInitFuel
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultMaxDepth
	}
	if l.MaxModuleSize <= 0 {
		l.MaxModuleSize = DefaultMaxModuleSize
	}
	if l.MaxFunctions <= 0 {
		l.MaxFunctions = DefaultMaxFunctions
	}
	if l.MaxFunctionSize <= 0 {
		l.MaxFunctionSize = DefaultMaxFunctionSize
	}
	if l.MaxCodeSize <= 0 {
		l.MaxCodeSize = DefaultMaxCodeSize
	}
	if l.MaxDeclarations <= 0 {
		l.MaxDeclarations = DefaultMaxDeclarations
	}
	if l.MaxCompileWork <= 0 {
		l.MaxCompileWork = DefaultMaxCompileWork
	}
	return l
}

// Host compiles plugins. Safe for concurrent use.
type Host struct {
	cache   wazero.CompilationCache
	disk    *diskCache // nil: the cache is in memory only
	log     *slog.Logger
	compile chan struct{} // bounds concurrent compilations
	// compilations counts the modules handed to wazero's compiler (tests
	// check that the structural limits refuse a module before it).
	compilations atomic.Int64
}

// HostOptions configure a Host.
type HostOptions struct {
	// CacheDir keeps compiled plugins between runs; empty: in memory only.
	// Processes may share it.
	CacheDir string
	// CacheMaxSize caps the bytes kept in CacheDir: past it, the least
	// recently used compiled modules are deleted (when the host starts and
	// after each compilation). 0: DefaultCacheMaxSize; negative: no cap.
	CacheMaxSize int64
	Log          *slog.Logger // nil: slog.Default()
}

// NewHost returns a host that caches compiled code in cacheDir (none if
// empty), up to DefaultCacheMaxSize.
func NewHost(cacheDir string, log *slog.Logger) (*Host, error) {
	return NewHostWithOptions(HostOptions{CacheDir: cacheDir, Log: log})
}

// NewHostWithOptions returns a host configured by o. It prunes the cache
// directory to its cap before returning.
func NewHostWithOptions(o HostOptions) (*Host, error) {
	log := o.Log
	if log == nil {
		log = slog.Default()
	}
	h := &Host{log: log, compile: make(chan struct{}, max(1, runtime.GOMAXPROCS(0)/2))}
	if o.CacheDir == "" {
		h.cache = wazero.NewCompilationCache()
		return h, nil
	}
	c, err := wazero.NewCompilationCacheWithDir(o.CacheDir)
	if err != nil {
		return nil, fmt.Errorf("wasm: opening compilation cache %s: %w", o.CacheDir, err)
	}
	h.cache = c
	dir, err := filepath.Abs(o.CacheDir) // as wazero resolves it
	if err != nil {
		return nil, fmt.Errorf("wasm: opening compilation cache %s: %w", o.CacheDir, err)
	}
	h.disk = &diskCache{dir: dir, max: o.CacheMaxSize, log: log}
	if h.disk.max == 0 {
		h.disk.max = DefaultCacheMaxSize
	}
	h.disk.prune()
	return h, nil
}

// Close releases the compilation cache. Close every Plugin first.
func (h *Host) Close() error { return h.cache.Close(context.Background()) }

// Plugin is one compiled plugin version. Safe for concurrent use.
type Plugin struct {
	Name   string
	SHA256 string // of the module bytes as given (before instrumentation)
	// Version names this plugin version in results: name@<first 12 hex digits of SHA256>.
	Version string
	Size    int
	Module  *wasmbin.Module // what the module imports, exports and declares
	ABI     string          // ABINative or ABIWASI
	limits  Limits
	log     *slog.Logger

	rt       wazero.Runtime
	compiled wazero.CompiledModule
	modCfg   wazero.ModuleConfig

	warm atomic.Int64 // open warm instances (Instances)
}

// Instances reports how many warm instances of this version are open: made
// by Instantiate and not yet closed, whoever holds them. A WASI command's
// module lives for one message and is not counted.
func (p *Plugin) Instances() int64 { return p.warm.Load() }

// Limits returns the plugin's effective limits.
func (p *Plugin) Limits() Limits { return p.limits }

// Plugin ABIs.
const (
	ABINative = "native" // Sluice ABI v1 (sdk/ABI.md): a reactor with warm instances
	ABIWASI   = "wasi"   // a WASI command: stdin in, stdout out, one instance per message
)

// DetectABI names the ABI a module speaks by its exports: a module exporting
// _start and not sluice_transform is a WASI command, anything else native.
func DetectABI(m *wasmbin.Module) string {
	var start, transform bool
	for _, e := range m.Exports {
		start = start || (e.Kind == wasmbin.KindFunc && e.Name == "_start")
		transform = transform || (e.Kind == wasmbin.KindFunc && e.Name == exportTransform)
	}
	if start && !transform {
		return ABIWASI
	}
	return ABINative
}

// invalid is a load-time error: the module cannot be used.
func invalid(name, format string, args ...any) *Error {
	return &Error{Code: CodeInvalidModule, Plugin: name, Message: fmt.Sprintf(format, args...)}
}

// Load checks a module (size, format, the structural limits, imports,
// memory, ABI exports), meters it (wasmbin.Instrument), compiles it and
// instantiates it once to run the version handshake. Everything but the ABI
// exports is checked before compiling. Errors are *Error with code
// invalid_module and say what was found.
func (h *Host) Load(ctx context.Context, name string, bin []byte, limits Limits) (*Plugin, error) {
	return h.LoadABI(ctx, name, bin, "", limits)
}

// LoadABI is Load with the ABI given: ABINative, ABIWASI, or "" to detect it
// (DetectABI).
func (h *Host) LoadABI(ctx context.Context, name string, bin []byte, abi string, limits Limits) (*Plugin, error) {
	limits = limits.withDefaults()
	sum := sha256.Sum256(bin)
	p := &Plugin{Name: name, SHA256: hex.EncodeToString(sum[:]), Size: len(bin), limits: limits,
		Version: name + "@" + hex.EncodeToString(sum[:6])}
	p.log = h.log.With("plugin", name, "plugin_version", p.Version)
	if len(bin) > limits.MaxModuleSize {
		return nil, invalid(name, "module is %d bytes, over the %d-byte limit%s", len(bin), limits.MaxModuleSize, raise("max_module_size"))
	}
	counts, err := wasmbin.Count(bin)
	if err != nil {
		return nil, invalid(name, "%v", err)
	}
	if err := checkCounts(counts, limits); err != nil {
		return nil, invalid(name, "%v", err)
	}
	mod, err := wasmbin.Parse(bin)
	if err != nil {
		return nil, invalid(name, "%v", err)
	}
	p.Module = mod
	stats, err := mod.CodeStats(bin)
	if err != nil {
		return nil, invalid(name, "%v", err)
	}
	if err := checkCode(stats, limits); err != nil {
		return nil, invalid(name, "%v", err)
	}
	if err := checkImports(mod); err != nil {
		return nil, invalid(name, "%v", err)
	}
	for _, m := range mod.Memories {
		if m.MinPages > uint64(limits.MemoryPages) {
			return nil, invalid(name, "module declares a minimum memory of %d pages (%s), over its limit of %d pages (%s)",
				m.MinPages, pagesSize(m.MinPages), limits.MemoryPages, pagesSize(uint64(limits.MemoryPages)))
		}
	}
	switch abi {
	case "":
		abi = DetectABI(mod)
	case ABINative, ABIWASI:
	default:
		return nil, invalid(name, "unknown ABI %q (native or wasi)", abi)
	}
	p.ABI = abi
	meter := wasmbin.Meter{Fuel: limits.InitFuel, Depth: limits.MaxDepth}
	if abi == ABIWASI {
		meter.Fuel = limits.Fuel // _start handles the message
	}
	metered, err := wasmbin.Instrument(bin, meter)
	if err != nil {
		return nil, invalid(name, "metering: %v", err)
	}
	rc := wazero.NewRuntimeConfigCompiler().
		WithCompilationCache(h.cache).
		WithMemoryLimitPages(limits.MemoryPages)
	p.rt = wazero.NewRuntimeWithConfig(ctx, rc)
	ok := false
	defer func() {
		if !ok {
			p.rt.Close(ctx)
		}
	}()
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, p.rt); err != nil {
		return nil, fmt.Errorf("wasm: instantiating WASI: %w", err)
	}
	if err := instantiateHostModule(ctx, p.rt); err != nil {
		return nil, err
	}
	select {
	case h.compile <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	h.compilations.Add(1)
	compiled, err := p.rt.CompileModule(ctx, metered)
	<-h.compile
	if err != nil {
		return nil, invalid(name, "compiling: %v", err)
	}
	if h.disk != nil {
		h.disk.touch(metered)
		h.disk.prune()
	}
	p.compiled = compiled
	if abi == ABIWASI {
		if err := p.prepareCommand(ctx); err != nil {
			return nil, err
		}
		ok = true
		return p, nil
	}
	if err := checkExports(compiled); err != nil {
		return nil, invalid(name, "%v", err)
	}
	logw := &logWriter{log: p.log}
	p.modCfg = wazero.NewModuleConfig().
		WithName("").
		WithStartFunctions("_initialize").
		WithStdout(logw).WithStderr(logw).
		WithSysWalltime().WithSysNanotime().WithSysNanosleep().
		WithRandSource(rand.Reader)

	inst, err := p.Instantiate(ctx)
	if err != nil {
		var we *Error
		if errors.As(err, &we) {
			we.Code = CodeInvalidModule
		}
		return nil, err
	}
	defer inst.Close()
	version := inst.mod.ExportedFunction(exportVersion)
	inst.resetMeters()
	res, err := version.Call(ctx)
	if err != nil {
		return nil, invalid(name, "calling %s: %v", exportVersion, err)
	}
	if v := int32(res[0]); v != ABIVersion {
		return nil, invalid(name, "speaks ABI version %d, this host speaks %d", v, ABIVersion)
	}
	ok = true
	return p, nil
}

// raise names the configuration key that raises a limit.
func raise(key string) string {
	return fmt.Sprintf(" (raise plugin_defaults.%s or the plugin's %s)", key, key)
}

// checkCounts applies the limits read from the section headers: they hold
// before Parse builds anything per entry.
func checkCounts(c wasmbin.Counts, l Limits) error {
	if n := max(c.Functions, c.Bodies); n > l.MaxFunctions {
		return fmt.Errorf("module defines %d functions, over the limit of %d%s", n, l.MaxFunctions, raise("max_functions"))
	}
	if c.CodeSize > l.MaxCodeSize {
		return fmt.Errorf("module has %d bytes of code, over the limit of %d%s", c.CodeSize, l.MaxCodeSize, raise("max_code_size"))
	}
	if n := c.Declarations(); n > l.MaxDeclarations {
		kind, most := c.Largest()
		return fmt.Errorf("module declares %d types, imports, tables, memories, globals, exports, segments and tags "+
			"(%d %s), over the limit of %d%s", n, most, kind, l.MaxDeclarations, raise("max_declarations"))
	}
	return nil
}

// checkCode applies the limits on the code's shape.
func checkCode(s wasmbin.CodeStats, l Limits) error {
	if s.MaxBody > l.MaxFunctionSize {
		return fmt.Errorf("function %d is %d bytes, over the limit of %d%s", s.MaxBodyFunc, s.MaxBody, l.MaxFunctionSize, raise("max_function_size"))
	}
	if s.Work > l.MaxCompileWork {
		return fmt.Errorf("module would take too long to compile: its compile work is %d, over the limit of %d%s; "+
			"the costliest function, %d, has ~%d basic blocks, %d locals and %d calls (work grows with blocks², "+
			"blocks × locals², calls × mutable globals, and functions × types, imports, globals and exports)",
			s.Work, l.MaxCompileWork, raise("max_compile_work"), s.MaxWorkFunc, s.MaxWorkBlocks, s.MaxWorkLocals, s.MaxWorkCalls)
	}
	return nil
}

func pagesSize(pages uint64) string {
	if pages >= 16384 {
		return fmt.Sprintf("%d GiB", pages>>14)
	}
	return fmt.Sprintf("%d MiB", pages>>4)
}

// checkImports refuses imports the host does not provide, before wazero
// reports them one at a time at instantiation.
func checkImports(m *wasmbin.Module) error {
	var problems []string
	for _, imp := range m.Imports {
		switch {
		case imp.Module == hostModule && imp.Kind == wasmbin.KindFunc:
			if _, ok := hostFuncs[imp.Name]; !ok {
				problems = append(problems, fmt.Sprintf("%s.%s (no such host function; the sluice module has: %s)",
					imp.Module, imp.Name, strings.Join(slices.Sorted(maps.Keys(hostFuncs)), ", ")))
			}
		case imp.Module == wasi_snapshot_preview1.ModuleName && imp.Kind == wasmbin.KindFunc:
		default:
			problems = append(problems, fmt.Sprintf("%s %s.%s (the host provides only functions of the sluice and %s modules)",
				imp.Kind, imp.Module, imp.Name, wasi_snapshot_preview1.ModuleName))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("unknown imports: %s", strings.Join(problems, "; "))
	}
	return nil
}

// checkExports verifies the ABI v1 exports and their signatures.
func checkExports(c wazero.CompiledModule) error {
	fns := c.ExportedFunctions()
	want := []struct {
		name            string
		params, results []api.ValueType
	}{
		{exportVersion, nil, []api.ValueType{api.ValueTypeI32}},
		{exportAlloc, []api.ValueType{api.ValueTypeI32}, []api.ValueType{api.ValueTypeI32}},
		{exportTransform, []api.ValueType{api.ValueTypeI32, api.ValueTypeI32}, []api.ValueType{api.ValueTypeI32}},
	}
	var problems []string
	for _, w := range want {
		f, ok := fns[w.name]
		if !ok {
			problems = append(problems, fmt.Sprintf("missing export %s", w.name))
			continue
		}
		if !slices.Equal(f.ParamTypes(), w.params) || !slices.Equal(f.ResultTypes(), w.results) {
			problems = append(problems, fmt.Sprintf("export %s has signature %s, want %s",
				w.name, signature(f.ParamTypes(), f.ResultTypes()), signature(w.params, w.results)))
		}
	}
	if _, start := fns["_start"]; start {
		if _, init := fns["_initialize"]; !init {
			problems = append(problems, "exports _start (a WASI command) but not _initialize: "+
				"build a reactor (Go: -buildmode=c-shared; clang: -mexec-model=reactor)")
		}
	}
	if _, ok := c.ExportedMemories()["memory"]; !ok {
		problems = append(problems, "missing exported memory \"memory\"")
	}
	if len(problems) == 0 {
		return nil
	}
	found := make([]string, 0, len(fns))
	for n := range fns {
		found = append(found, n)
	}
	slices.Sort(found)
	return fmt.Errorf("does not speak Sluice ABI v%d (%s); exported functions found: [%s]; see sdk/ABI.md",
		ABIVersion, strings.Join(problems, "; "), strings.Join(found, " "))
}

func signature(params, results []api.ValueType) string {
	name := func(ts []api.ValueType) string {
		s := make([]string, len(ts))
		for i, t := range ts {
			s[i] = api.ValueTypeName(t)
		}
		return strings.Join(s, ", ")
	}
	return fmt.Sprintf("(%s) -> (%s)", name(params), name(results))
}

// Close releases the plugin's runtime; instances must be closed first.
func (p *Plugin) Close(ctx context.Context) error { return p.rt.Close(ctx) }

// logWriter sends a guest's stdout and stderr to the log, one record per write.
// Each non-empty line of a write is one record. Stateless, so one writer can
// serve every instance of a plugin (a line split across writes becomes two
// records; WASI commands get a lineWriter that joins them).
type logWriter struct{ log *slog.Logger }

func (w *logWriter) Write(b []byte) (int, error) {
	for line := range strings.SplitSeq(string(b), "\n") {
		if line = strings.TrimRight(line, "\r"); line != "" {
			w.log.Info("plugin output", "text", line)
		}
	}
	return len(b), nil
}

var errNoInstance = errors.New("wasm: instance closed")
