package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"runtime/trace"
	"slices"
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
	"github.com/sluicehq/sluice/runtime/metrics"
	"github.com/sluicehq/sluice/runtime/registry"
	"github.com/sluicehq/sluice/runtime/results"
	"github.com/sluicehq/sluice/runtime/tlsconf"
	"github.com/sluicehq/sluice/runtime/tracing"
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
	prov, err := cfg.Provision()
	if err != nil {
		fmt.Fprintf(stderr, "sluice: invalid config:\n%s\n", indent(err))
		return 1
	}
	log := newLogger(stderr, cfg.LogLevel, cfg.LogFormat)
	for _, r := range recordings {
		if path := os.Getenv(r.env); path != "" {
			stopRecording, err := startRecording(path, r.start, r.stop)
			if err != nil {
				log.Error("starting the "+r.what, "env", r.env, "err", err)
				return 1
			}
			defer stopRecording()
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	s, err := startProvisioned(ctx, prov, log)
	if err != nil {
		log.Error("starting", "err", err)
		return 1
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case <-hup:
			log.Info("SIGHUP: reloading certificates")
			s.reloadTLS()
		}
	}
	log.Info("shutting down")
	if err := s.close(); err != nil {
		log.Error("shutting down", "err", err)
		return 1
	}
	return 0
}

// recordings are the runtime's recordings a server makes when asked by an
// environment variable naming the file (%d becomes the pid, so that several
// servers can record at once; the benchmarks do that), written at shutdown.
var recordings = []struct {
	env, what string
	start     func(io.Writer) error
	stop      func()
}{
	{"SLUICE_CPUPROFILE", "CPU profile", pprof.StartCPUProfile, pprof.StopCPUProfile},
	{"SLUICE_TRACE", "execution trace (go tool trace)", trace.Start, trace.Stop},
}

// startRecording starts a recording into the file pattern names; the
// returned function stops it and closes the file.
func startRecording(pattern string, start func(io.Writer) error, stop func()) (func(), error) {
	f, err := os.Create(strings.ReplaceAll(pattern, "%d", strconv.Itoa(os.Getpid()))) // #nosec G703 G304 -- SLUICE_CPUPROFILE / SLUICE_TRACE, set by the operator
	if err != nil {
		return nil, err
	}
	if err := start(f); err != nil {
		f.Close() // #nosec G104 -- the recording did not start; that error is returned
		return nil, err
	}
	return func() { stop(); f.Close() }, nil // #nosec G104 -- a debugging recording; shutdown goes on regardless
}

func loadConfig(path string) (config.Config, error) {
	if path == "" {
		return config.LoadFS(demo.FS, demo.ConfigName)
	}
	return config.Load(path)
}

// newLogger is the server's one logger: every component's lines (fasthttp's
// and Badger's included) go through it, as key=value text or, with
// log_format: json, one JSON object per line.
func newLogger(w io.Writer, level, format string) *slog.Logger {
	var l slog.Level
	l.UnmarshalText([]byte(level)) // #nosec G104 -- log_level is debug, info, warn or error (config.Validate); else info
	opts := &slog.HandlerOptions{Level: l}
	if format == config.LogFormatJSON {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
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
	// tls and adminTLS hold the listeners' certificates (nil: plain HTTP).
	tls, adminTLS *tlsconf.Reloader
	metrics       *metrics.Metrics // served at the admin API's GET /metrics
	tracer        *tracing.Tracer  // exports spans (nil: tracing off)
}

// start provisions cfg (config.Provision) and starts a server with it.
func start(ctx context.Context, cfg config.Config, log *slog.Logger) (*server, error) {
	prov, err := cfg.Provision()
	if err != nil {
		return nil, fmt.Errorf("invalid config:\n%s", indent(err))
	}
	return startProvisioned(ctx, prov, log)
}

// startProvisioned opens the log, compiles the plugins, starts the workers
// and the ingress. Every accepted message without a final result is
// processed again.
func startProvisioned(ctx context.Context, prov *config.Provisioned, log *slog.Logger) (_ *server, err error) {
	cfg := *prov.Config
	uuid.EnableRandPool()
	s := &server{log: log}
	defer func() {
		if err != nil {
			s.closeResources() // #nosec G104 -- start failed: its error is the one returned
		}
	}()
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return nil, fmt.Errorf("creating data dir: %w", err)
	}
	cacheDir := cfg.WasmCache
	if cacheDir == "" {
		cacheDir = filepath.Join(cfg.DataDir, "wasm-cache")
	}
	s.host, err = wasm.NewHostWithOptions(wasm.HostOptions{CacheDir: cacheDir, CacheMaxSize: cfg.WasmCacheSize(), Log: log})
	if err != nil {
		return nil, err
	}
	versions, err := loadPlugins(ctx, s.host, &cfg, log)
	s.plugins = registry.New(versions...)
	if err != nil {
		return nil, err
	}
	durability := queue.DurabilityFsync
	if cfg.Durability == config.DurabilityNone {
		durability = queue.DurabilityNone
	}
	minFree := int64(queue.AutoMinFree)
	if cfg.MinFreeDisk != nil {
		minFree = int64(*cfg.MinFreeDisk)
	}
	routeNames := make([]string, 0, len(cfg.Routes))
	for _, r := range cfg.Routes {
		routeNames = append(routeNames, r.Name)
	}
	pluginNames := make([]string, 0, len(cfg.Plugins))
	for _, p := range cfg.Plugins {
		pluginNames = append(pluginNames, p.Name)
	}
	s.metrics = metrics.New(versionString(), routeNames, pluginNames)
	logCommit := s.metrics.LogCommit()
	s.queue, err = queue.Open(queue.Options{
		Dir:          filepath.Join(cfg.DataDir, "log"),
		Durability:   durability,
		Limits:       backlogLimits(&cfg),
		Memory:       int64(cfg.Memory),
		Retention:    cfg.RetentionPeriod(),
		MinFreeBytes: minFree,
		Logger:       log,
		OnCommit:     func(c queue.Commit) { logCommit(c.Appended, c.Write, c.Sync) },
	})
	if err != nil {
		return nil, err
	}

	s.metrics.WatchLog(s.queue.RouteBacklog, func(route string) int {
		n, err := s.queue.DeadCount(route)
		if err != nil {
			log.Warn("metrics: counting dead letters", "route", route, "err", err)
		}
		return n
	}, func() metrics.LogFiles {
		st := s.queue.Stats()
		return metrics.LogFiles{DiskFree: st.DiskFree, SegmentBytes: st.SegmentBytes, KeptSegments: st.KeptSegments}
	})
	s.metrics.WatchOldest(s.queue.RouteOldest)
	s.metrics.WatchPlugins(func(name string) int64 {
		if v := s.plugins.Get(name); v != nil {
			return v.Plugin.Instances()
		}
		return 0
	})
	waiters := results.NewWaiters()
	workerRoutes := make(map[string]*worker.Route, len(cfg.Routes))
	var ingressRoutes []ingress.Route
	for _, pr := range prov.Routes {
		r := pr.Route
		wr := &worker.Route{Name: r.Name, Transforms: r.Transforms, Callback: r.Callback != nil,
			ReplyTransforms: r.ReplyTransforms, Metrics: s.metrics.Route(r.Name)}
		if r.Retry != nil {
			p := r.Retry.WithDefaults()
			wr.Retry = &worker.RetryPolicy{MaxAttempts: p.MaxAttempts, InitialBackoff: p.InitialBackoff.D(),
				MaxBackoff: p.MaxBackoff.D(), MaxAge: p.MaxAge.D(), Retryable: p.Retries, Park: p.OnDead == config.OnDeadPark}
		}
		if d := r.Destination; d != nil {
			wd := &worker.Destination{URL: d.URL, Timeout: d.TimeoutOrDefault(), Forward: d.ForwardHeaders}
			for k, v := range d.Headers {
				wd.Headers = append(wd.Headers, dispatch.Header{Name: k, Value: v})
			}
			wr.Destination = wd
		}
		workerRoutes[r.Name] = wr
		ir := ingress.Route{Name: r.Name, Sync: r.Mode == config.ModeSync, OrderMode: pr.OrderMode, OrderArg: pr.OrderArg,
			Accept: r.Accept, Verifier: pr.Verifier, Schema: pr.Schema, Metrics: s.metrics.Route(r.Name)}
		if a := r.Auth; a != nil && a.Verify == config.AuthAPIKey {
			ir.APIKey = true
			for _, h := range []string{"Authorization", "X-Api-Key"} { // credentials are not stored
				if d := r.Destination; d == nil || !slices.ContainsFunc(d.ForwardHeaders, func(f string) bool { return strings.EqualFold(f, h) }) {
					ir.DropHeaders = append(ir.DropHeaders, h)
				}
			}
		}
		if rl := r.RateLimit; rl != nil {
			ir.RPS, ir.Burst = rl.RPS, rl.Burst
		}
		if v := r.Validate; v != nil {
			ir.Validators = v.Plugins
		}
		ingressRoutes = append(ingressRoutes, ir)
	}

	deny := prov.DenyNetworks
	if len(deny) > 0 {
		log.Info("outbound connections refused into", "dispatch.deny_networks", cfg.Dispatch.DenyNetworks)
	}
	dispatcher := dispatch.New(dispatch.Options{MaxConnsPerHost: cfg.Dispatch.ConnsPerHost(),
		MaxResponseSize: cfg.Dispatch.ResponseSizeLimit(), UserAgent: "sluice/" + versionString(), DenyNetworks: deny})
	if t := cfg.Tracing; t.Enabled() {
		s.tracer = tracing.New(tracing.Options{URL: t.TracesURL(), Headers: t.Headers, SampleRatio: t.Ratio(),
			Service: t.Service(), Version: versionString(), Log: log.With("component", "tracing"),
			Dropped: s.metrics.SpansDropped()})
		log.Info("exporting spans over OTLP/HTTP", "endpoint", t.TracesURL(), "sample_ratio", t.Ratio())
	}
	pool := &worker.Pool{
		Tracer:     s.tracer,
		Queue:      s.queue,
		Routes:     workerRoutes,
		Plugins:    s.plugins,
		Dispatcher: dispatcher,
		Waiters:    waiters,
		Workers:    cfg.WorkerCount(),
		Log:        log,
		Metrics:    s.metrics,
	}
	wctx, cancel := context.WithCancel(context.Background())
	s.cancel, s.workers = cancel, make(chan struct{})
	if targets := callbackTargets(prov, s.metrics); len(targets) > 0 {
		s.callbacks = &callback.Sender{Queue: s.queue, Dispatcher: pool.Dispatcher, Targets: targets, Log: log, Tracer: s.tracer}
		s.callbacks.Start(wctx)
		pool.Callbacks = s.callbacks
	}
	go func() {
		defer close(s.workers)
		pool.Run(wctx)
	}()

	token := prov.Token
	if s.tls, err = loadTLS(cfg.TLS, log); err != nil {
		return nil, fmt.Errorf("tls: %w", err)
	}
	if s.adminTLS, err = loadTLS(cfg.AdminTLS, log); err != nil {
		return nil, fmt.Errorf("admin_tls: %w", err)
	}
	for _, t := range []*tlsconf.Reloader{s.tls, s.adminTLS} {
		if t != nil {
			go t.Watch(wctx, tlsWatchInterval)
		}
	}
	if cfg.AdminListen != "" && cfg.AdminListen != config.AdminListenOff {
		if err := s.startAdmin(&cfg, token); err != nil {
			return nil, err
		}
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", cfg.Listen, err)
	}
	s.addr = ln.Addr()
	h := cfg.HTTP
	opts := ingress.Options{
		Routes: ingressRoutes, Queue: s.queue, Waiters: waiters,
		MaxBodySize: int(cfg.MaxBodySize), SyncTimeout: cfg.SyncTimeout.D(), Log: log,
		IdempotencyTTL: cfg.IdempotencyPeriod(),
		Validator:      &worker.Inline{Plugins: s.plugins, Metrics: s.metrics, Tracer: s.tracer},
		Ready:          s.queue.Ready,
		OperatorToken:  token,
		Metrics:        s.metrics,
		Tracer:         s.tracer,
		Limits: ingress.Limits{
			ReadHeaderTimeout: h.ReadHeaderTimeout.D(), MinBodyRate: int64(h.MinBodyRate),
			WriteTimeout: h.WriteTimeout.D(), IdleTimeout: h.IdleTimeout.D(), ShutdownTimeout: h.ShutdownTimeout.D(),
			MaxHeaderSize: int(h.MaxHeaderSize), MaxHeaders: h.MaxHeaders,
			MaxConnections: h.MaxConnections, MaxConnsPerIP: h.MaxConnectionsPerIP,
			MaxInflightBytes: int64(h.MaxInflightBytes), MaxHops: h.MaxHops,
		},
	}
	if s.tls != nil {
		opts.TLS = s.tls.Config()
	}
	s.ingress = ingress.New(opts)
	s.serving = make(chan error, 1)
	go func() { s.serving <- s.ingress.Serve(ln) }()
	log.Info("sluice listening", "addr", s.addr.String(), "tls", s.tls != nil, "data_dir", cfg.DataDir,
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
		if bin, err := os.ReadFile(uploaded); err == nil { // #nosec G304 -- <data_dir>/uploads/<plugin name>.wasm; names match config's validName
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
	return h.LoadABI(ctx, p.Name, bin, wasmABI(p.ABI), wasmLimits(p.PluginLimits.Or(defaults)))
}

// wasmABI is the host's name of a configured ABI ("": detect it).
func wasmABI(abi string) string {
	switch abi {
	case config.ABINative:
		return wasm.ABINative
	case config.ABIWASI:
		return wasm.ABIWASI
	}
	return ""
}

// startAdmin serves the admin API on cfg.AdminListen.
func (s *server) startAdmin(cfg *config.Config, token string) error {
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
		Token:     token,
		Metrics:   s.metrics.Handler(),
		Stats: func() any {
			st := map[string]any{"log": s.queue.Stats()}
			if s.ingress != nil {
				st["ingress"] = s.ingress.Stats()
			}
			return st
		},
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
	// An upload is at most max_module_size; a minute to send it, two to
	// compile and answer, are generous and still cut a stalled client.
	s.admin = &http.Server{Handler: a.Handler(), ReadHeaderTimeout: cfg.HTTP.ReadHeaderTimeout.D(),
		ReadTimeout: adminReadTimeout, WriteTimeout: adminWriteTimeout, IdleTimeout: cfg.HTTP.IdleTimeout.D(),
		MaxHeaderBytes: int(cfg.HTTP.MaxHeaderSize), ErrorLog: log.New(httpErrorLog{s.log}, "", 0)}
	if s.adminTLS != nil {
		s.admin.TLSConfig = s.adminTLS.Config()
		go s.admin.ServeTLS(ln, "", "")
		return nil
	}
	go s.admin.Serve(ln)
	return nil
}

// httpErrorLog takes net/http's server messages: a client's failed TLS
// handshake is logged at debug level (scanners would flood the log), the
// rest as warnings.
type httpErrorLog struct{ l *slog.Logger }

func (h httpErrorLog) Write(b []byte) (int, error) {
	msg := strings.TrimSpace(string(b))
	level := slog.LevelWarn
	if strings.Contains(msg, "TLS handshake error") {
		level = slog.LevelDebug
	}
	h.l.Log(context.Background(), level, msg, "component", "admin")
	return len(b), nil
}

// Admin listener timeouts (the ingress's are configurable under http:).
const (
	adminReadTimeout  = time.Minute
	adminWriteTimeout = 2 * time.Minute
	tlsWatchInterval  = 10 * time.Second
)

// loadTLS loads a certificate pair that is then watched for changes (and
// reloaded on SIGHUP); nil without one.
func loadTLS(t *config.TLS, log *slog.Logger) (*tlsconf.Reloader, error) {
	if t == nil {
		return nil, nil
	}
	return tlsconf.New(t.CertFile, t.KeyFile, log)
}

// reloadTLS reloads the certificates from their files (SIGHUP). A pair
// that does not load is logged by Reload and the current one kept.
func (s *server) reloadTLS() {
	for _, t := range []*tlsconf.Reloader{s.tls, s.adminTLS} {
		if t != nil {
			t.Reload() // #nosec G104 -- Reload logs a pair that does not load and keeps the current one
		}
	}
}

// callbackTargets collects the routes' callbacks.
func callbackTargets(prov *config.Provisioned, m *metrics.Metrics) map[string]*callback.Target {
	targets := map[string]*callback.Target{}
	for _, r := range prov.Routes {
		if cb := r.Callback; cb != nil {
			targets[r.Name] = &callback.Target{URL: cb.URL, Timeout: cb.TimeoutOrDefault(), Secret: r.CallbackSecret,
				Metrics: m.Route(r.Name)}
		}
	}
	return targets
}

// backlogLimits converts the global and per-route backlog limits.
func backlogLimits(cfg *config.Config) queue.Limits {
	l := queue.Limits{Messages: cfg.Backlog.MaxMessages, Bytes: cfg.BacklogBytes()}
	for _, r := range cfg.Routes {
		if b := r.Backlog; b != nil {
			if l.Routes == nil {
				l.Routes = make(map[string]queue.Limits)
			}
			l.Routes[r.Name] = queue.Limits{Messages: b.MaxMessages, Bytes: b.Bytes(0)}
		}
	}
	return l
}

// wasmLimits converts configured limits; zero fields keep the host's defaults.
func wasmLimits(l config.PluginLimits) wasm.Limits {
	return wasm.Limits{
		MemoryPages:     uint32((l.MemoryLimit + 65535) / 65536), // #nosec G115 -- memory_limit is at most 4GiB (config.Validate): at most 65536 pages
		Timeout:         l.Timeout.D(),
		Fuel:            l.Fuel,
		MaxDepth:        int32(l.MaxDepth), // #nosec G115 -- max_depth is at most 1000000 (config.Validate)
		MaxOutput:       int(l.MaxOutput),
		MaxModuleSize:   int(l.MaxModuleSize),
		MaxFunctions:    l.MaxFunctions,
		MaxFunctionSize: int(l.MaxFunctionSize),
		MaxCodeSize:     int(l.MaxCodeSize),
		MaxDeclarations: l.MaxDeclarations,
		MaxCompileWork:  l.MaxCompileWork,
	}
}

// tracerFlushTimeout bounds sending the spans still queued at shutdown.
const tracerFlushTimeout = 5 * time.Second

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
		s.admin.Close() // #nosec G104 -- start failed; its error is the one returned
	}
	if s.cancel != nil {
		s.cancel()
		<-s.workers
		if s.callbacks != nil {
			s.callbacks.Wait()
		}
	}
	if s.tracer != nil { // every span is recorded: send them
		ctx, cancel := context.WithTimeout(context.Background(), tracerFlushTimeout)
		if err := s.tracer.Shutdown(ctx); err != nil {
			s.log.Warn("sending the last spans; the rest are dropped", "component", "tracing", "err", err)
		}
		cancel()
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
