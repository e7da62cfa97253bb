package harness

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/benchmarks/internal/report"
	"github.com/sluicehq/sluice/benchmarks/internal/server"
	"github.com/valyala/fasthttp"
)

// runRestart measures the restart suite. Every round starts Sluice twice
// with the same config (one route per RestartModules plugin): cold, on a
// fresh data dir, so that every plugin is compiled; then warm, on the same
// data dir, so that wazero finds the compiled code in its cache
// (<data_dir>/wasm-cache, Sluice's default). Each start is timed from the
// exec to the first 200 on GET /healthz (Sluice listens only once every
// plugin is loaded) and stopped with SIGTERM before the next.
func runRestart(ctx context.Context, cfg Config, suite, tmp, sluiceBin string, rep *report.Report,
	logf func(string, ...any)) error {
	var plugins []server.Plugin
	for _, m := range RestartModules {
		plugins = append(plugins, server.Plugin{Name: pluginName(m), Path: filepath.Join(cfg.RepoDir, m)})
	}
	meta := report.Server{Suite: suite, Name: report.NameRestart, Kind: "sluice", Durability: server.DurabilityFsync}
	rounds := cfg.rounds(suite)
	for round := 1; round <= rounds; round++ {
		dir := filepath.Join(tmp, suite, "round-"+strconv.Itoa(round))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("creating dir of %s: %w", meta.Name, err)
		}
		dataDir := filepath.Join(dir, "data")
		for _, cache := range []string{report.CacheCold, report.CacheWarm} {
			spec, err := restartSpec(cfg, dir, dataDir, sluiceBin, cache, plugins)
			if err != nil {
				return err
			}
			if cfg.SelfTest {
				meta.Kind = "bare"
			}
			meta.Command = append([]string{filepath.Base(spec.Path)}, spec.Args...)
			res, err := startOnce(ctx, cfg, spec, filepath.Join(dataDir, "wasm-cache"))
			if err != nil {
				return err
			}
			res.Round, res.Cache = round, cache
			rep.Restarts = append(rep.Restarts, res)
			logf("[%s, round %d/%d] %-4s start: ready in %4.0f ms (compilation cache %.1f MiB), stopped in %.0f ms",
				suite, round, rounds, cache, res.ReadyMs, float64(res.CacheBytes)/(1<<20), res.StopMs)
		}
	}
	meta.DataBytes = dirSize(filepath.Join(tmp, suite))
	rep.Servers = append(rep.Servers, meta)
	return nil
}

// restartSpec writes the config of one start (on a fresh port) and returns
// how to start it. In a self-test the server is a bare one.
func restartSpec(cfg Config, dir, dataDir, sluiceBin, cache string, plugins []server.Plugin) (server.Spec, error) {
	addr, err := server.FreeAddr()
	if err != nil {
		return server.Spec{}, err
	}
	spec := server.Spec{Name: report.NameRestart + "-" + cache, Addr: addr,
		LogPath: filepath.Join(dir, cache+".log")}
	if cfg.SelfTest {
		spec.Path = cfg.Self
		spec.Args = []string{BareServerCommand, "--listen", addr, "--status", strconv.Itoa(fasthttp.StatusAccepted)}
		return spec, nil
	}
	yml, err := server.RestartConfig(addr, dataDir, plugins).Render()
	if err != nil {
		return server.Spec{}, err
	}
	cfgPath := filepath.Join(dir, cache+".yaml")
	if err := os.WriteFile(cfgPath, yml, 0o644); err != nil {
		return server.Spec{}, fmt.Errorf("writing config of %s: %w", spec.Name, err)
	}
	spec.Path = sluiceBin
	spec.Args = []string{"serve", "--config", cfgPath}
	return spec, nil
}

// startOnce starts spec, times it until its first 200 on GET /healthz,
// measures the compilation cache at cacheDir and stops it again.
func startOnce(ctx context.Context, cfg Config, spec server.Spec, cacheDir string) (report.Restart, error) {
	p, err := server.Start(spec)
	if err != nil {
		return report.Restart{}, err
	}
	defer p.Stop(cfg.StopGrace) // error paths; a no-op after the Stop below
	ready, err := p.WaitReadyEvery(ctx, cfg.ReadyTimeout, restartPoll)
	if err != nil {
		return report.Restart{}, fmt.Errorf("%s: waiting for readiness: %w\n--- last lines of its output ---\n%s",
			spec.Name, err, p.LogTail(20))
	}
	res := report.Restart{ReadyMs: millis(ready.Sub(p.Started)), CacheBytes: dirSize(cacheDir)}
	t := time.Now()
	if err := p.Stop(cfg.StopGrace); err != nil {
		return report.Restart{}, err
	}
	res.StopMs = millis(time.Since(t))
	return res, nil
}

// pluginName names a plugin after its file: "a/b/order-to-invoice.wasm" →
// "order-to-invoice".
func pluginName(path string) string {
	return strings.TrimSuffix(filepath.Base(path), ".wasm")
}

func millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
