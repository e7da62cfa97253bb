package wasm

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

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

// Limits bound what one plugin may use.
type Limits struct {
	MemoryPages uint32        // linear memory cap in 64 KiB pages
	Timeout     time.Duration // wall clock per call
	MaxOutput   int           // bytes a call may output
}

// Defaults for zero Limits fields.
const (
	DefaultMemoryPages = 1024 // 64 MiB
	DefaultTimeout     = time.Second
	DefaultMaxOutput   = 16 << 20
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
	return l
}

// Host compiles plugins. Safe for concurrent use.
type Host struct {
	cache wazero.CompilationCache
	log   *slog.Logger
}

// NewHost returns a host that caches compiled code in cacheDir (none if empty).
func NewHost(cacheDir string, log *slog.Logger) (*Host, error) {
	if log == nil {
		log = slog.Default()
	}
	h := &Host{log: log}
	if cacheDir != "" {
		c, err := wazero.NewCompilationCacheWithDir(cacheDir)
		if err != nil {
			return nil, fmt.Errorf("wasm: opening compilation cache %s: %w", cacheDir, err)
		}
		h.cache = c
	} else {
		h.cache = wazero.NewCompilationCache()
	}
	return h, nil
}

// Close releases the compilation cache. Close every Plugin first.
func (h *Host) Close() error { return h.cache.Close(context.Background()) }

// Plugin is one compiled plugin version. Safe for concurrent use.
type Plugin struct {
	Name   string
	SHA256 string // of the module bytes
	// Version names this plugin version in results: name@<first 12 hex digits of SHA256>.
	Version string
	Size    int
	limits  Limits
	log     *slog.Logger

	rt       wazero.Runtime
	compiled wazero.CompiledModule
	modCfg   wazero.ModuleConfig
}

// Load compiles a plugin, checks that it speaks ABI v1 and instantiates it
// once to run the version handshake. Errors explain what was found.
func (h *Host) Load(ctx context.Context, name string, bin []byte, limits Limits) (*Plugin, error) {
	limits = limits.withDefaults()
	sum := sha256.Sum256(bin)
	p := &Plugin{Name: name, SHA256: hex.EncodeToString(sum[:]), Size: len(bin), limits: limits,
		log: h.log.With("plugin", name)}
	p.Version = name + "@" + p.SHA256[:12]
	if len(bin) < 8 || string(bin[:4]) != "\x00asm" {
		return nil, fmt.Errorf("wasm: plugin %q: not a WebAssembly module (no \\0asm magic)", name)
	}
	rc := wazero.NewRuntimeConfigCompiler().
		WithCompilationCache(h.cache).
		WithMemoryLimitPages(limits.MemoryPages).
		WithCloseOnContextDone(true)
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
	compiled, err := p.rt.CompileModule(ctx, bin)
	if err != nil {
		return nil, fmt.Errorf("wasm: plugin %q: compiling: %w", name, err)
	}
	p.compiled = compiled
	if err := checkExports(compiled); err != nil {
		return nil, fmt.Errorf("wasm: plugin %q: %w", name, err)
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
		return nil, err
	}
	defer inst.Close()
	version := inst.mod.ExportedFunction(exportVersion)
	res, err := version.Call(ctx)
	if err != nil {
		return nil, fmt.Errorf("wasm: plugin %q: calling %s: %w", name, exportVersion, err)
	}
	if v := int32(res[0]); v != ABIVersion {
		return nil, fmt.Errorf("wasm: plugin %q: speaks ABI version %d, this host speaks %d", name, v, ABIVersion)
	}
	ok = true
	return p, nil
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
type logWriter struct{ log *slog.Logger }

func (w *logWriter) Write(b []byte) (int, error) {
	w.log.Info("plugin output", "text", strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

var errNoInstance = errors.New("wasm: instance closed")
