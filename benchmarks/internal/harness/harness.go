package harness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/sluicehq/sluice/benchmarks/internal/load"
	"github.com/sluicehq/sluice/benchmarks/internal/procstat"
	"github.com/sluicehq/sluice/benchmarks/internal/report"
	"github.com/sluicehq/sluice/benchmarks/internal/server"
)

var (
	errBadConfig = errors.New("harness: invalid config")
	errNoRepo    = errors.New("harness: repo dir has no cmd/sluice")
)

// BareServerCommand is the hidden subcommand of the harness binary that runs
// the bare baseline server; Config.Self must understand it as
// "<Self> bare-server --listen ADDR".
const BareServerCommand = "bare-server"

// Server names used in reports.
const (
	NameBare        = "bare"
	NameSluiceFsync = "sluice-fsync"
	NameSluiceNone  = "sluice-none"
)

// Config is everything one benchmark invocation needs.
type Config struct {
	RepoDir   string        // module root; Sluice is built from RepoDir/cmd/sluice
	Self      string        // harness executable, re-executed for the bare server
	Conns     []int         // connection counts, each measured for all rounds
	Rounds    int           // rounds per connection count
	Warmup    time.Duration // per run, not measured
	Measure   time.Duration // per run, measured
	BodyBytes int           // POST body size
	Timeout   time.Duration // per-request timeout of the load generator

	DurabilityNone bool   // also measure Sluice with durability none
	SluiceBin      string // use this Sluice binary instead of building one
	// SelfTest replaces every Sluice server with another bare server, to
	// check the harness itself before Sluice exists. Ratios should be ≈ 1.
	SelfTest bool

	ReadyTimeout  time.Duration // how long a server may take to answer /healthz
	SettleTimeout time.Duration // how long to wait for idle servers before a run
	StopGrace     time.Duration // SIGTERM → SIGKILL delay when stopping servers
	KeepTmp       bool          // keep the temp dir (configs, data, logs)

	Log io.Writer // progress lines; nil discards them
}

// Default returns the configuration: 64 connections, 5 rounds of 2 s
// warmup + 5 s measurement, 1 KiB bodies. RepoDir and Self must be set.
func Default() Config {
	return Config{
		Conns:         []int{64},
		Rounds:        5,
		Warmup:        2 * time.Second,
		Measure:       5 * time.Second,
		BodyBytes:     1024,
		Timeout:       10 * time.Second,
		ReadyTimeout:  30 * time.Second,
		SettleTimeout: 10 * time.Second,
		StopGrace:     10 * time.Second,
	}
}

// Validate names the first invalid field.
func (c Config) Validate() error {
	bad := func(field string, v any) error { return fmt.Errorf("%w: %s = %v", errBadConfig, field, v) }
	switch {
	case c.RepoDir == "" && c.SluiceBin == "" && !c.SelfTest:
		return bad("repo_dir", `""`)
	case c.Self == "":
		return bad("self", `""`)
	case len(c.Conns) == 0:
		return bad("conns", "[]")
	case c.Rounds < 1:
		return bad("rounds", c.Rounds)
	case c.Warmup < 0:
		return bad("warmup", c.Warmup)
	case c.Measure <= 0:
		return bad("measure", c.Measure)
	case c.BodyBytes < 0:
		return bad("body_bytes", c.BodyBytes)
	case c.Timeout <= 0:
		return bad("timeout", c.Timeout)
	case c.ReadyTimeout <= 0:
		return bad("ready_timeout", c.ReadyTimeout)
	case c.SettleTimeout < 0:
		return bad("settle_timeout", c.SettleTimeout)
	case c.StopGrace <= 0:
		return bad("stop_grace", c.StopGrace)
	}
	for _, n := range c.Conns {
		if n < 1 {
			return bad("conns", c.Conns)
		}
	}
	return nil
}

// Duration estimates how long the measurements take, without build and
// startup.
func (c Config) Duration() time.Duration {
	servers := 2
	if c.DurabilityNone {
		servers++
	}
	return time.Duration(len(c.Conns)*c.Rounds*servers) * (c.Warmup + c.Measure)
}

// instance is one server under test while the harness runs.
type instance struct {
	meta    report.Server
	spec    server.Spec
	dataDir string // "" for the bare server
	proc    *server.Process
}

// Run executes the benchmark described by cfg. It returns the report of
// every completed run; on error the report is nil.
func Run(ctx context.Context, cfg Config) (_ *report.Report, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	logf := func(format string, args ...any) {
		if cfg.Log != nil {
			fmt.Fprintf(cfg.Log, format+"\n", args...)
		}
	}

	tmp, err := os.MkdirTemp("", "sluice-bench-")
	if err != nil {
		return nil, fmt.Errorf("creating temp dir: %w", err)
	}
	if cfg.KeepTmp {
		logf("temp dir kept: %s", tmp)
	} else {
		defer os.RemoveAll(tmp)
	}

	rep := &report.Report{
		Schema:    report.Schema,
		StartedAt: time.Now().UTC(),
		SelfTest:  cfg.SelfTest,
		Machine:   procstat.ReadMachine(),
		Revision:  revision(ctx, cfg.RepoDir),
		Settings: report.Settings{
			Rounds:     cfg.Rounds,
			WarmupS:    cfg.Warmup.Seconds(),
			MeasureS:   cfg.Measure.Seconds(),
			BodyBytes:  cfg.BodyBytes,
			Conns:      cfg.Conns,
			Baseline:   NameBare,
			GoalServer: NameSluiceFsync,
			LoadModel:  "closed",
		},
	}
	rep.LoadAvg[0] = procstat.LoadAvg()

	sluiceBin := cfg.SluiceBin
	if sluiceBin == "" && !cfg.SelfTest {
		sluiceBin = filepath.Join(tmp, "sluice")
		logf("building %s from %s/cmd/sluice", sluiceBin, cfg.RepoDir)
		if err := buildSluice(ctx, cfg.RepoDir, sluiceBin); err != nil {
			return nil, err
		}
	}

	insts, err := plan(cfg, tmp, sluiceBin)
	if err != nil {
		return nil, err
	}
	defer func() {
		for i := len(insts) - 1; i >= 0; i-- {
			if p := insts[i].proc; p != nil {
				if stopErr := p.Stop(cfg.StopGrace); stopErr != nil && err == nil {
					logf("warning: %v", stopErr)
				}
			}
		}
	}()
	for _, in := range insts {
		p, err := server.Start(in.spec)
		if err != nil {
			return nil, err
		}
		in.proc = p
	}
	for _, in := range insts {
		if err := in.proc.WaitReady(ctx, cfg.ReadyTimeout); err != nil {
			return nil, failure(in, fmt.Errorf("waiting for readiness: %w", err))
		}
		logf("%s ready at %s (pid %d)", in.meta.Name, in.spec.Addr, in.proc.Pid)
		rep.Servers = append(rep.Servers, in.meta)
	}
	logf("measuring about %v", cfg.Duration().Round(time.Second))

	for _, conns := range cfg.Conns {
		for round := 1; round <= cfg.Rounds; round++ {
			for _, in := range insts {
				run, err := measure(ctx, cfg, conns, round, in, insts)
				if err != nil {
					return nil, err
				}
				rep.Runs = append(rep.Runs, *run)
				logf("[%d conns, round %d/%d] %-13s %9.0f rps  p50 %6.0f µs  p99 %6.0f µs  server %.2f cores  errors %d%s",
					conns, round, cfg.Rounds, in.meta.Name, run.RPS, run.P50us, run.P99us,
					run.ServerCPUs/run.ElapsedS, run.Errors, flagNote(run))
			}
		}
	}

	for i, in := range insts {
		if in.dataDir != "" {
			rep.Servers[i].DataBytes = dirSize(in.dataDir)
		}
	}
	rep.LoadAvg[1] = procstat.LoadAvg()
	rep.FinishedAt = time.Now().UTC()
	rep.Summarize()
	return rep, nil
}

// plan lays out the servers: addresses, temp dirs, config files, commands.
func plan(cfg Config, tmp, sluiceBin string) ([]*instance, error) {
	type want struct{ name, durability string }
	wants := []want{{NameBare, ""}, {NameSluiceFsync, server.DurabilityFsync}}
	if cfg.DurabilityNone {
		wants = append(wants, want{NameSluiceNone, server.DurabilityNone})
	}
	var insts []*instance
	for _, w := range wants {
		addr, err := server.FreeAddr()
		if err != nil {
			return nil, err
		}
		dir := filepath.Join(tmp, w.name)
		if err := os.Mkdir(dir, 0o755); err != nil {
			return nil, fmt.Errorf("creating dir of %s: %w", w.name, err)
		}
		in := &instance{spec: server.Spec{Name: w.name, Addr: addr, LogPath: filepath.Join(dir, "server.log")}}
		if w.durability == "" || cfg.SelfTest {
			in.spec.Path = cfg.Self
			in.spec.Args = []string{BareServerCommand, "--listen", addr}
			in.meta = report.Server{Name: w.name, Kind: "bare"}
		} else {
			in.dataDir = filepath.Join(dir, "data")
			yml, err := server.BenchConfig(addr, in.dataDir, w.durability).Render()
			if err != nil {
				return nil, err
			}
			cfgPath := filepath.Join(dir, "sluice.yaml")
			if err := os.WriteFile(cfgPath, yml, 0o644); err != nil {
				return nil, fmt.Errorf("writing config of %s: %w", w.name, err)
			}
			in.spec.Path = sluiceBin
			in.spec.Args = []string{"serve", "--config", cfgPath}
			in.meta = report.Server{Name: w.name, Kind: "sluice", Durability: w.durability}
		}
		in.meta.Command = append([]string{filepath.Base(in.spec.Path)}, in.spec.Args...)
		insts = append(insts, in)
	}
	return insts, nil
}

// measure waits for idle servers, runs the load against target and returns
// the run with the target's CPU and memory and the others' CPU.
func measure(ctx context.Context, cfg Config, conns, round int, target *instance, all []*instance) (*report.Run, error) {
	runtime.GC() // start each run without the previous run's garbage
	settled, err := settle(ctx, all, cfg.SettleTimeout)
	if err != nil {
		return nil, err
	}

	lc := load.Config{
		Addr:      target.spec.Addr,
		Path:      "/in/" + server.BenchRoute,
		Conns:     conns,
		BodyBytes: cfg.BodyBytes,
		Warmup:    cfg.Warmup,
		Measure:   cfg.Measure,
		Timeout:   cfg.Timeout,
	}
	var (
		cpu0, cpu1       time.Duration // target
		others0, others1 time.Duration // all other servers
		sys0, sys1       procstat.SystemCPU
		mem              procstat.Memory
		sampleErr        error
	)
	mark := func(ph load.Phase) {
		t, o, err := cpuOf(target, all)
		if err != nil && sampleErr == nil {
			sampleErr = err
		}
		sys, err := procstat.ReadSystemCPU()
		if err != nil && sampleErr == nil {
			sampleErr = err
		}
		switch ph {
		case load.MeasureStart:
			cpu0, others0, sys0 = t, o, sys
		case load.MeasureEnd:
			cpu1, others1, sys1 = t, o, sys
			if m, err := procstat.ReadMemory(target.proc.Pid); err == nil {
				mem = m
			} else if sampleErr == nil {
				sampleErr = err
			}
		}
	}
	res, err := load.Run(ctx, lc, mark)
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w", target.meta.Name, err)
	}
	for _, in := range all {
		if exitErr := in.proc.Exited(); exitErr != nil {
			return nil, failure(in, exitErr)
		}
	}
	if sampleErr != nil {
		return nil, fmt.Errorf("sampling %s: %w", target.meta.Name, sampleErr)
	}

	run := &report.Run{
		Conns:           conns,
		Round:           round,
		Server:          target.meta.Name,
		RPS:             res.RPS(),
		Accepted:        res.Accepted,
		Errors:          res.Errors(),
		Rejected:        res.Rejected,
		TransportErrors: res.TransportErrors,
		FirstError:      res.FirstError,
		ElapsedS:        res.Elapsed.Seconds(),
		P50us:           micros(res.Latency.Quantile(0.50)),
		P99us:           micros(res.Latency.Quantile(0.99)),
		MaxUs:           micros(res.Latency.Max()),
		Dials:           res.Dials,
		MinConnAccepted: res.MinConnAccepted,
		MaxConnAccepted: res.MaxConnAccepted,
		ServerCPUs:      (cpu1 - cpu0).Seconds(),
		ServerRSSKiB:    mem.RSSKiB,
		ServerPeakKiB:   mem.PeakKiB,
		ClientCPUs:      res.ClientCPU.Seconds(),
		ClientAllocsReq: res.AllocsPerRequest(),
		OthersCPUs:      (others1 - others0).Seconds(),
		IdleCPUs:        (sys1.Idle - sys0.Idle).Seconds(),
		Settled:         settled,
	}
	// Whatever the machine was busy with besides the harness and the servers:
	// other tenants, hypervisor steal, kernel threads. Tick resolution makes
	// small values noisy; clamp the rounding below zero.
	foreign := (sys1.Busy - sys0.Busy) - (cpu1 - cpu0) - (others1 - others0) - res.ClientCPU
	run.ForeignCPUs = max(foreign, 0).Seconds()
	if res.Accepted > 0 {
		run.ServerUsPerReq = float64((cpu1 - cpu0).Microseconds()) / float64(res.Accepted)
	}
	if len(run.Rejected) == 0 {
		run.Rejected = nil
	}
	return run, nil
}

// settleWindow and settleTicks define "idle": all servers together used at
// most settleTicks clock ticks of CPU in settleWindow (≤ ~3% of one core).
const (
	settleWindow = 300 * time.Millisecond
	settleTicks  = 1
)

// settle waits until all servers are idle, so a server still draining the
// previous run's backlog does not steal CPU from the next run. It reports
// whether they settled before timeout.
func settle(ctx context.Context, all []*instance, timeout time.Duration) (bool, error) {
	deadline := time.Now().Add(timeout)
	for {
		c0, err := totalCPU(all)
		if err != nil {
			return false, err
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-time.After(settleWindow):
		}
		c1, err := totalCPU(all)
		if err != nil {
			return false, err
		}
		if c1-c0 <= settleTicks*procstat.ClockTick {
			return true, nil
		}
		if time.Now().After(deadline) {
			return false, nil
		}
	}
}

func totalCPU(all []*instance) (time.Duration, error) {
	var sum time.Duration
	for _, in := range all {
		c, err := procstat.CPUTime(in.proc.Pid)
		if err != nil {
			return 0, failure(in, err)
		}
		sum += c
	}
	return sum, nil
}

// cpuOf returns the CPU time of target and the summed CPU time of the others.
func cpuOf(target *instance, all []*instance) (t, others time.Duration, err error) {
	for _, in := range all {
		c, e := procstat.CPUTime(in.proc.Pid)
		if e != nil && err == nil {
			err = e
		}
		if in == target {
			t = c
		} else {
			others += c
		}
	}
	return t, others, err
}

// failure adds the tail of a server's log to err.
func failure(in *instance, err error) error {
	if in.proc == nil {
		return err
	}
	return fmt.Errorf("%s: %w\n--- last lines of %s output ---\n%s", in.meta.Name, err, in.meta.Name, in.proc.LogTail(20))
}

func buildSluice(ctx context.Context, repoDir, out string) error {
	if _, err := os.Stat(filepath.Join(repoDir, "cmd", "sluice")); err != nil {
		return fmt.Errorf("%w: %s", errNoRepo, repoDir)
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "./cmd/sluice")
	cmd.Dir = repoDir
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building sluice: %w\n%s", err, b)
	}
	return nil
}

// revision describes the repo's checked-out state, or "unknown".
func revision(ctx context.Context, repoDir string) string {
	if repoDir == "" {
		return "unknown"
	}
	cmd := exec.CommandContext(ctx, "git", "describe", "--always", "--dirty")
	cmd.Dir = repoDir
	b, err := cmd.Output()
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(b))
}

// dirSize returns the disk space used under dir (allocated blocks, so
// sparse preallocated files count for what they really occupy).
func dirSize(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		if st, ok := info.Sys().(*syscall.Stat_t); ok {
			n += st.Blocks * 512
		} else {
			n += info.Size()
		}
		return nil
	})
	return n
}

func micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

func flagNote(run *report.Run) string {
	if f := run.Flags(); len(f) > 0 {
		return "  ⚠ " + strings.Join(f, ", ")
	}
	return ""
}
