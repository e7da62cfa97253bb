package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/google/uuid"
	"github.com/sluicehq/sluice/plugins/demo"
	"github.com/sluicehq/sluice/queue"
	"github.com/sluicehq/sluice/runtime/admin"
	"github.com/sluicehq/sluice/runtime/callback"
	"github.com/sluicehq/sluice/runtime/config"
	"github.com/sluicehq/sluice/runtime/dispatch"
	"github.com/sluicehq/sluice/runtime/ingress"
	"github.com/sluicehq/sluice/runtime/registry"
	"github.com/sluicehq/sluice/runtime/results"
	"github.com/sluicehq/sluice/runtime/validate"
	"github.com/sluicehq/sluice/runtime/wasm"
	"github.com/sluicehq/sluice/runtime/worker"
)

func serveCmd(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "config file (default: the embedded demo)")
	dataDir := fs.String("data", "", "data directory (overrides data_dir)")
	listen := fs.String("listen", "", "listen address (overrides listen)")
	adminListen := fs.String("admin-listen", "", `admin API address (overrides admin_listen; "off" disables it)`)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		fmt.Fprintln(stderr, "sluice:", err)
		return 1
	}
	if *dataDir != "" {
		cfg.DataDir = *dataDir
	}
	if *listen != "" {
		cfg.Listen = *listen
	}
	if *adminListen != "" {
		cfg.AdminListen = *adminListen
	}
	if err := cfg.Validate(); err != nil {
		fmt.Fprintf(stderr, "sluice: invalid config:\n%s\n", indent(err))
		return 1
	}
	log := newLogger(stderr, cfg.LogLevel)
	if path := os.Getenv("SLUICE_CPUPROFILE"); path != "" {
		stopProfile, err := startCPUProfile(path)
		if err != nil {
			log.Error("starting the CPU profile", "err", err)
			return 1
		}
		defer stopProfile()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	s, err := start(ctx, cfg, log)
	if err != nil {
		log.Error("starting", "err", err)
		return 1
	}
	<-ctx.Done()
	log.Info("shutting down")
	if err := s.close(); err != nil {
		log.Error("shutting down", "err", err)
		return 1
	}
	return 0
}

// startCPUProfile profiles the whole process until the returned function runs
// (at shutdown): SLUICE_CPUPROFILE=/tmp/sluice-%d.prof, %d becoming the pid so
// that several servers can be profiled at once (the benchmarks do that).
func startCPUProfile(pattern string) (func(), error) {
	f, err := os.Create(strings.ReplaceAll(pattern, "%d", strconv.Itoa(os.Getpid())))
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

func loadConfig(path string) (config.Config, error) {
	if path == "" {
		return config.LoadFS(demo.FS, demo.ConfigName)
	}
	return config.Load(path)
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	l.UnmarshalText([]byte(level))
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l}))
}

// server is one running Sluice: every stage wired together.
type server struct {
	log     *slog.Logger
	addr    net.Addr
	queue   *queue.Log
	host    *wasm.Host
	plugins *registry.Registry
	ingress *ingress.Server
	admin   *http.Server
	adminLn net.Listener
	serving chan error
	cancel  context.CancelFunc // stops the workers
	workers chan struct{}      // closed when the workers stopped
	// callbacks sends routes' final results to their callback URLs (nil: none).
	callbacks *callback.Sender
}

// start opens the log, compiles the plugins, starts the workers and the
// ingress. Every accepted message without a final result is processed again.
func start(ctx context.Context, cfg config.Config, log *slog.Logger) (_ *server, err error) {
	uuid.EnableRandPool()
	s := &server{log: log}
	defer func() {
		if err != nil {
			s.closeResources()
		}
	}()
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("creating data dir: %w", err)
	}
	cacheDir := cfg.WasmCache
	if cacheDir == "" {
		cacheDir = filepath.Join(cfg.DataDir, "wasm-cache")
	}
	s.host, err = wasm.NewHost(cacheDir, log)
	if err != nil {
		return nil, err
	}
	versions, err := loadPlugins(ctx, s.host, &cfg, log)
	s.plugins = registry.New(versions...)
	if err != nil {
		return nil, err
	}
	durability := queue.DurabilityFsync
	if cfg.Durability == "none" {
		durability = queue.DurabilityNone
	}
	minFree := int64(queue.AutoMinFree)
	if cfg.MinFreeDisk != nil {
		minFree = int64(*cfg.MinFreeDisk)
	}
	s.queue, err = queue.Open(queue.Options{
		Dir:          filepath.Join(cfg.DataDir, "log"),
		Durability:   durability,
		Limits:       backlogLimits(&cfg),
		Retention:    cfg.RetentionPeriod(),
		MinFreeBytes: minFree,
		Logger:       log,
	})
	if err != nil {
		return nil, err
	}

	waiters := results.NewWaiters()
	workerRoutes := make(map[string]*worker.Route, len(cfg.Routes))
	var ingressRoutes []ingress.Route
	for _, r := range cfg.Routes {
		wr := &worker.Route{Name: r.Name, Transforms: r.Transforms, Callback: r.Callback != nil,
			ReplyTransforms: r.ReplyTransforms}
		if r.Retry != nil {
			p := r.Retry.WithDefaults()
			wr.Retry = &worker.RetryPolicy{MaxAttempts: p.MaxAttempts, InitialBackoff: p.InitialBackoff.D(),
				MaxBackoff: p.MaxBackoff.D(), MaxAge: p.MaxAge.D(), Retryable: p.Retries, Park: p.OnDead == "park"}
		}
		if d := r.Destination; d != nil {
			wd := &worker.Destination{URL: d.URL, Timeout: d.Timeout.D()}
			if wd.Timeout == 0 {
				wd.Timeout = config.DefaultDestinationTimeout
			}
			for k, v := range d.Headers {
				wd.Headers = append(wd.Headers, dispatch.Header{Name: k, Value: v})
			}
			wr.Destination = wd
		}
		workerRoutes[r.Name] = wr
		mode, arg, _ := config.ParseOrderBy(r.OrderBy)
		ir := ingress.Route{Name: r.Name, Sync: r.Mode == config.ModeSync, OrderMode: mode, OrderArg: arg, Accept: r.Accept}
		if v := r.Validate; v != nil {
			ir.Validators = v.Plugins
			if v.Schema != "" {
				if ir.Schema, err = validate.Compile(v.Schema); err != nil {
					return nil, fmt.Errorf("route %s: %w", r.Name, err)
				}
			}
		}
		ingressRoutes = append(ingressRoutes, ir)
	}

	dispatcher := dispatch.New(dispatch.Options{MaxConnsPerHost: cfg.Dispatch.MaxConnsPerHost,
		MaxResponseSize: int(cfg.Dispatch.MaxResponseSize), UserAgent: "sluice/" + versionString()})
	pool := &worker.Pool{
		Queue:      s.queue,
		Routes:     workerRoutes,
		Plugins:    s.plugins,
		Dispatcher: dispatcher,
		Waiters:    waiters,
		Workers:    cfg.WorkerCount(),
		Log:        log,
	}
	wctx, cancel := context.WithCancel(context.Background())
	s.cancel, s.workers = cancel, make(chan struct{})
	if targets, err := callbackTargets(&cfg); err != nil {
		cancel()
		return nil, err
	} else if len(targets) > 0 {
		s.callbacks = &callback.Sender{Queue: s.queue, Dispatcher: pool.Dispatcher, Targets: targets, Log: log}
		s.callbacks.Start(wctx)
		pool.Callbacks = s.callbacks
	}
	go func() {
		defer close(s.workers)
		pool.Run(wctx)
	}()

	if cfg.AdminListen != "" && cfg.AdminListen != "off" {
		if err := s.startAdmin(&cfg); err != nil {
			return nil, err
		}
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", cfg.Listen, err)
	}
	s.addr = ln.Addr()
	s.ingress = ingress.New(ingress.Options{
		Routes: ingressRoutes, Queue: s.queue, Waiters: waiters,
		MaxBodySize: int(cfg.MaxBodySize), SyncTimeout: cfg.SyncTimeout.D(), Log: log,
		IdempotencyTTL: cfg.IdempotencyTTL.D(),
		Validator:      &worker.Inline{Plugins: s.plugins},
		Stats:          func() any { return map[string]any{"log": s.queue.Stats()} },
		Ready:          s.queue.Ready,
	})
	s.serving = make(chan error, 1)
	go func() { s.serving <- s.ingress.Serve(ln) }()
	log.Info("sluice listening", "addr", s.addr.String(), "data_dir", cfg.DataDir,
		"routes", len(cfg.Routes), "plugins", len(cfg.Plugins), "workers", pool.Workers, "durability", cfg.Durability)
	if s.adminLn != nil {
		log.Info("admin API listening", "addr", s.adminLn.Addr().String())
	}
	return s, nil
}

// loadPlugins compiles every configured plugin, or the version uploaded
// through the admin API if there is one; it returns what it loaded so far
// together with the first error.
func loadPlugins(ctx context.Context, h *wasm.Host, cfg *config.Config, log *slog.Logger) ([]*registry.Version, error) {
	out := make([]*registry.Version, 0, len(cfg.Plugins))
	for _, p := range cfg.Plugins {
		start := time.Now()
		source := registry.SourceConfig
		uploaded := admin.UploadPath(uploadDir(cfg), p.Name)
		if bin, err := os.ReadFile(uploaded); err == nil {
			if p.SHA256 != "" {
				log.Warn("ignoring an uploaded version: the config pins this plugin", "plugin", p.Name, "upload", uploaded)
			} else {
				p.Source, p.Path, source = bin, uploaded, registry.SourceUpload
			}
		}
		lp, err := loadPlugin(ctx, h, p, cfg.PluginDefaults)
		if err != nil {
			return out, err
		}
		out = append(out, &registry.Version{Plugin: lp, Source: source, LoadedAt: time.Now()})
		log.Info("plugin loaded", "plugin", p.Name, "version", lp.Version, "abi", lp.ABI, "source", source,
			"bytes", lp.Size, "took", time.Since(start).Round(time.Millisecond))
	}
	return out, nil
}

// uploadDir is where versions uploaded through the admin API are kept.
func uploadDir(cfg *config.Config) string { return filepath.Join(cfg.DataDir, "plugins") }

// loadPlugin reads (unless embedded), checks the pinned sha256 of, and
// compiles one plugin.
func loadPlugin(ctx context.Context, h *wasm.Host, p config.Plugin, defaults config.PluginLimits) (*wasm.Plugin, error) {
	bin := p.Source
	if bin == nil {
		var err error
		if bin, err = os.ReadFile(p.Path); err != nil {
			return nil, fmt.Errorf("plugin %q: %w", p.Name, err)
		}
	}
	if p.SHA256 != "" {
		if sum := sha256.Sum256(bin); hex.EncodeToString(sum[:]) != p.SHA256 {
			return nil, &admin.PinnedError{Name: p.Name, Pinned: p.SHA256, Got: hex.EncodeToString(sum[:])}
		}
	}
	return h.LoadABI(ctx, p.Name, bin, p.ABI, wasmLimits(p.PluginLimits.Or(defaults)))
}

// startAdmin serves the admin API on cfg.AdminListen.
func (s *server) startAdmin(cfg *config.Config) error {
	byName := make(map[string]config.Plugin, len(cfg.Plugins))
	for _, p := range cfg.Plugins {
		byName[p.Name] = p
	}
	maxModule := int64(cfg.PluginDefaults.MaxModuleSize)
	if maxModule <= 0 {
		maxModule = wasm.DefaultMaxModuleSize
	}
	routes := make(map[string]bool, len(cfg.Routes))
	for _, r := range cfg.Routes {
		routes[r.Name] = true
	}
	a := &admin.Server{
		Registry:  s.plugins,
		Queue:     s.queue,
		Routes:    routes,
		UploadDir: uploadDir(cfg),
		MaxModule: maxModule,
		Log:       s.log,
		Load: func(ctx context.Context, name string, bin []byte) (*wasm.Plugin, error) {
			p := byName[name]
			p.Source = bin
			return loadPlugin(ctx, s.host, p, cfg.PluginDefaults)
		},
	}
	ln, err := net.Listen("tcp", cfg.AdminListen)
	if err != nil {
		return fmt.Errorf("admin API: %w", err)
	}
	s.adminLn = ln
	s.admin = &http.Server{Handler: a.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go s.admin.Serve(ln)
	return nil
}

// callbackTargets collects the routes' callbacks.
func callbackTargets(cfg *config.Config) (map[string]*callback.Target, error) {
	targets := map[string]*callback.Target{}
	for _, r := range cfg.Routes {
		cb := r.Callback
		if cb == nil {
			continue
		}
		t := &callback.Target{URL: cb.URL, Timeout: cb.Timeout.D()}
		if t.Timeout == 0 {
			t.Timeout = config.DefaultDestinationTimeout
		}
		if cb.Secret != "" {
			secret, err := callback.ParseSecret(cb.Secret)
			if err != nil {
				return nil, fmt.Errorf("route %s: callback %w", r.Name, err)
			}
			t.Secret = secret
		}
		targets[r.Name] = t
	}
	return targets, nil
}

// backlogLimits converts the global and per-route backlog limits.
func backlogLimits(cfg *config.Config) queue.Limits {
	l := queue.Limits{Messages: cfg.Backlog.MaxMessages, Bytes: int64(cfg.Backlog.MaxBytes)}
	for _, r := range cfg.Routes {
		if b := r.Backlog; b != nil {
			if l.Routes == nil {
				l.Routes = make(map[string]queue.Limits)
			}
			l.Routes[r.Name] = queue.Limits{Messages: b.MaxMessages, Bytes: int64(b.MaxBytes)}
		}
	}
	return l
}

// wasmLimits converts configured limits; zero fields keep the host's defaults.
func wasmLimits(l config.PluginLimits) wasm.Limits {
	return wasm.Limits{
		MemoryPages:   uint32((l.MemoryLimit + 65535) / 65536),
		Timeout:       l.Timeout.D(),
		Fuel:          l.Fuel,
		MaxDepth:      int32(l.MaxDepth),
		MaxOutput:     int(l.MaxOutput),
		MaxModuleSize: int(l.MaxModuleSize),
	}
}

// close stops accepting, lets in-flight messages finish, and closes the log.
func (s *server) close() error {
	var errs []error
	if s.ingress != nil {
		errs = append(errs, s.ingress.Shutdown())
	}
	if s.admin != nil {
		errs = append(errs, s.admin.Close())
	}
	errs = append(errs, s.closeResources())
	return errors.Join(errs...)
}

func (s *server) closeResources() error {
	var errs []error
	if s.admin != nil && s.ingress == nil { // start failed after the admin API started
		s.admin.Close()
	}
	if s.cancel != nil {
		s.cancel()
		<-s.workers
		if s.callbacks != nil {
			s.callbacks.Wait()
		}
	}
	if s.queue != nil {
		errs = append(errs, s.queue.Close())
	}
	if s.plugins != nil {
		s.plugins.Close()
	}
	if s.host != nil {
		errs = append(errs, s.host.Close())
	}
	return errors.Join(errs...)
}

func indent(err error) string {
	var b []byte
	for _, line := range splitLines(err.Error()) {
		b = append(b, "  - "...)
		b = append(b, line...)
		b = append(b, '\n')
	}
	return string(b[:max(len(b)-1, 0)])
}

func splitLines(s string) []string {
	var out []string
	for len(s) > 0 {
		i := 0
		for i < len(s) && s[i] != '\n' {
			i++
		}
		out = append(out, s[:i])
		if i < len(s) {
			i++
		}
		s = s[i:]
	}
	return out
}
