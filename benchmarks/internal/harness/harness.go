package harness

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/sluicehq/sluice/benchmarks/internal/bare"
	"github.com/sluicehq/sluice/benchmarks/internal/latency"
	"github.com/sluicehq/sluice/benchmarks/internal/load"
	"github.com/sluicehq/sluice/benchmarks/internal/procstat"
	"github.com/sluicehq/sluice/benchmarks/internal/report"
	"github.com/sluicehq/sluice/benchmarks/internal/server"
	"github.com/valyala/fasthttp"
)

var (
	errBadConfig = errors.New("harness: invalid config")
	errNoRepo    = errors.New("harness: repo dir has no cmd/sluice")
	errNoPort    = errors.New("harness: no free port distinct from the suite's others")
)

// Hidden subcommands of the harness binary; Config.Self must understand
// "<Self> bare-server --listen ADDR --status CODE" and
// "<Self> by-hand-server --listen ADDR --data DIR --wasm FILE".
const (
	BareServerCommand   = "bare-server"
	ByHandServerCommand = "by-hand-server"
	FloorServerCommand  = "floor-server"
)

// TransformModule is the transform of the e2e, sync and ordering routes and
// of the by-hand baseline, relative to the repo root.
const TransformModule = "runtime/wasm/testdata/upper.wasm"

// RestartModules are the plugins the restart suite's Sluice loads, relative
// to the repo root: a Go guest (~2.6 MB; compiling it takes about a second)
// and a small hand-written one.
var RestartModules = []string{"plugins/order-to-invoice/go/order-to-invoice.wasm", TransformModule}

// OrderHeader carries the ordering key of the ordering suite's per-key route.
const OrderHeader = "X-Order-Key"

// The verify suite's route checks SignatureHeader, "sha256=" and the hex
// HMAC-SHA256 of the raw body keyed with VerifySecret (GitHub's scheme).
const (
	SignatureHeader = "X-Hub-Signature-256"
	VerifySecret    = "sluice-bench-github-secret" // #nosec G101 -- a throwaway secret of loopback test servers
)

// GitHubSignature is the SignatureHeader value GitHub sends with body when
// the webhook's secret is secret.
func GitHubSignature(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

const (
	// orderRejectBackoff is how long a connection of the ordering suite
	// pauses after a 429 of the capped backlog.
	orderRejectBackoff = 10 * time.Millisecond
	// restartPoll is how often the restart suite asks GET /healthz: the
	// resolution of its start times.
	restartPoll = 2 * time.Millisecond
	// restartRoundEstimate is what one round of the restart suite takes
	// (a cold and a warm start and their stops) for Config.Duration.
	restartRoundEstimate = 2500 * time.Millisecond
)

// Config is everything one benchmark invocation needs.
type Config struct {
	RepoDir   string        // module root; Sluice is built from RepoDir/cmd/sluice
	Self      string        // harness executable, re-executed for the bare and by-hand servers
	Suites    []string      // report.Suite* names, measured in this order
	Rounds    int           // rounds per load
	Warmup    time.Duration // per run, not measured
	Measure   time.Duration // per run, measured
	BodyBytes int           // POST body size
	Timeout   time.Duration // per-request timeout of the load generator

	// The payload, verify, ordering and restart suites (report.ExtraSuites)
	// have a budget of their own so that the default run stays under 10
	// minutes: ExtraRounds rounds of ExtraWarmup + ExtraMeasure, each capped
	// by Rounds, Warmup and Measure (a short run stays short).
	ExtraRounds  int
	ExtraWarmup  time.Duration
	ExtraMeasure time.Duration

	Conns     []int     // ingest suite: connection counts, each measured for all rounds
	Rates     []float64 // open-loop suite: request rates, each measured for all rounds
	OpenConns int       // open-loop suite: connections of the generator
	// Transform runs TransformModule on the e2e and sync routes.
	Transform    bool
	FsyncSamples int // sync suite: write+fdatasync samples per round

	Payloads     []int // payload suite: JSON body sizes in bytes, each measured for all its rounds
	OrderKeys    int   // ordering suite: distinct OrderHeader values of the per-key route
	OrderBacklog int   // ordering suite: every route's backlog cap in messages (429 past it)

	SluiceBin string // use this Sluice binary instead of building one
	// SelfTest replaces every Sluice and by-hand server with another bare
	// server, to check the harness itself. Ratios should be ≈ 1.
	SelfTest bool

	ReadyTimeout  time.Duration // how long a server may take to answer /healthz
	SettleTimeout time.Duration // how long to wait for idle servers before a run
	StopGrace     time.Duration // SIGTERM → SIGKILL delay when stopping servers
	KeepTmp       bool          // keep the temp dir (configs, data, logs)

	Log io.Writer // progress lines; nil discards them

	otlpURL string // the tracing suite's OTLP sink (set by plan)
}

// Default returns the configuration of `make bench`: every suite, 5 rounds
// of 1 s warmup + 3 s measurement, 1 KiB bodies, ingest at 64 and 256
// connections, the other closed-loop suites at 64 (sync also at 1), open
// loop at 5k and 10k requests/s over 64 connections; then the payload
// (256 B, 4 KiB, 64 KiB), verify, ordering (256 keys, backlog capped at
// 1,000) and restart suites with 3 rounds of 0.5 s warmup + 1.5 s
// measurement. It takes about 9½ minutes on 2 cores, build included
// (Duration: 7 min 54 s).
// RepoDir and Self must be set.
func Default() Config {
	return Config{
		Suites:        report.DefaultSuites,
		Rounds:        5,
		Warmup:        time.Second,
		Measure:       3 * time.Second,
		ExtraRounds:   3,
		ExtraWarmup:   500 * time.Millisecond,
		ExtraMeasure:  1500 * time.Millisecond,
		Payloads:      []int{256, 4096, 65536},
		OrderKeys:     256,
		OrderBacklog:  1000,
		BodyBytes:     1024,
		Timeout:       10 * time.Second,
		Conns:         []int{report.GoalConns, 256},
		Rates:         []float64{5000, 10000},
		OpenConns:     report.GoalConns,
		Transform:     true,
		FsyncSamples:  200,
		ReadyTimeout:  30 * time.Second,
		SettleTimeout: 10 * time.Second,
		StopGrace:     10 * time.Second,
	}
}

// Validate names the first invalid field.
func (c Config) Validate() error {
	bad := func(field string, v any) error { return fmt.Errorf("%w: %s = %v", errBadConfig, field, v) }
	switch {
	case c.RepoDir == "" && !c.SelfTest:
		return bad("repo_dir", `""`)
	case c.Self == "":
		return bad("self", `""`)
	case len(c.Suites) == 0:
		return bad("suites", "[]")
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
	case c.FsyncSamples < 1 && slices.Contains(c.Suites, report.SuiteSync):
		return bad("fsync_samples", c.FsyncSamples)
	case c.OpenConns < 1 && slices.Contains(c.Suites, report.SuiteOpenLoop):
		return bad("openloop_conns", c.OpenConns)
	case c.ExtraRounds < 1 && c.hasExtra():
		return bad("extra_rounds", c.ExtraRounds)
	case c.ExtraWarmup < 0 && c.hasExtra():
		return bad("extra_warmup", c.ExtraWarmup)
	case c.ExtraMeasure <= 0 && c.hasExtra():
		return bad("extra_measure", c.ExtraMeasure)
	case c.OrderKeys < 1 && slices.Contains(c.Suites, report.SuiteOrdering):
		return bad("order_keys", c.OrderKeys)
	case c.OrderBacklog < 1 && slices.Contains(c.Suites, report.SuiteOrdering):
		return bad("order_backlog", c.OrderBacklog)
	}
	for i, s := range c.Suites {
		if !slices.Contains(report.AllSuites, s) || slices.Contains(c.Suites[:i], s) {
			return bad("suites", c.Suites)
		}
	}
	if slices.Contains(c.Suites, report.SuiteIngest) {
		if len(c.Conns) == 0 || slices.ContainsFunc(c.Conns, func(n int) bool { return n < 1 }) {
			return bad("conns", c.Conns)
		}
	}
	if slices.Contains(c.Suites, report.SuiteOpenLoop) {
		if len(c.Rates) == 0 || slices.ContainsFunc(c.Rates, func(r float64) bool { return r <= 0 || r > 1e6 }) {
			return bad("rates", c.Rates)
		}
	}
	if slices.Contains(c.Suites, report.SuitePayload) {
		// A JSON body needs 1 byte; Sluice refuses bodies over its default
		// max_body_size (16 MiB).
		if len(c.Payloads) == 0 || slices.ContainsFunc(c.Payloads, func(n int) bool { return n < 1 || n > 16<<20 }) {
			return bad("payloads", c.Payloads)
		}
	}
	return nil
}

// hasExtra reports whether c runs any of report.ExtraSuites.
func (c Config) hasExtra() bool {
	return slices.ContainsFunc(c.Suites, func(s string) bool { return slices.Contains(report.ExtraSuites, s) })
}

// rounds is the number of rounds of a suite.
func (c Config) rounds(suite string) int {
	if slices.Contains(report.ExtraSuites, suite) {
		return min(c.ExtraRounds, c.Rounds)
	}
	return c.Rounds
}

// window is the warmup and the measured window of a suite's runs.
func (c Config) window(suite string) (warmup, measure time.Duration) {
	if slices.Contains(report.ExtraSuites, suite) {
		return min(c.ExtraWarmup, c.Warmup), min(c.ExtraMeasure, c.Measure)
	}
	return c.Warmup, c.Measure
}

// Duration estimates how long the measurements take, without build,
// startup, settling and the fsync probe.
func (c Config) Duration() time.Duration {
	var d time.Duration
	for _, s := range c.Suites {
		runs := 0
		for _, g := range groups(c, s) {
			runs += len(g.steps)
		}
		warmup, measure := c.window(s)
		d += time.Duration(runs*c.rounds(s)) * (warmup + measure)
		if s == report.SuiteRestart {
			d += time.Duration(c.rounds(s)) * restartRoundEstimate
		}
	}
	return d
}

// role is one server a suite starts.
type role struct {
	name   string // report.Name*
	kind   string // "bare", "sink", "sluice", "by-hand"
	config func(c Config, listen, dataDir, sinkURL, wasm string) server.SluiceConfig
}

// step is one measurement of a round: the load generator against one
// server.
type step struct {
	server string  // the role loaded
	conns  int     //
	rate   float64 // 0: closed loop
	body   int     // payload suite: JSON body of this size; 0: Config.BodyBytes of letters
	keys   int     // > 0: send OrderHeader with this many keys
	// shed: 429s are the capped backlog at work, not errors (Run.Shed); the
	// connection pauses orderRejectBackoff after each.
	shed bool
	// deliveries names the server whose POST count is the throughput (the
	// sink of an e2e route); "" means the answers are.
	deliveries string
	// signed sends SignatureHeader with the body's signature (VerifySecret),
	// computed once per run.
	signed bool
}

// group is a load that every round measures: its steps run back to back, in
// order, in each round.
type group struct {
	conns int
	rate  float64
	steps []step
	fsync bool // probe the disk once per round before the steps
}

var (
	roleBare        = role{name: report.NameBare, kind: "bare"}
	roleSink        = role{name: report.NameSink, kind: "sink"}
	roleByHand      = role{name: report.NameByHand, kind: "by-hand"}
	roleFloor       = role{name: report.NameFloor, kind: "floor"}
	roleFloorE2E    = role{name: report.NameFloorE2E, kind: "floor"}
	roleFloorSync   = role{name: report.NameFloorSync, kind: "floor"}
	roleSluiceFsync = role{name: report.NameSluiceFsync, kind: "sluice",
		config: func(_ Config, l, d, _, _ string) server.SluiceConfig {
			return server.BenchConfig(l, d, server.DurabilityFsync)
		}}
	roleSluiceNone = role{name: report.NameSluiceNone, kind: "sluice",
		config: func(_ Config, l, d, _, _ string) server.SluiceConfig {
			return server.BenchConfig(l, d, server.DurabilityNone)
		}}
	roleSluiceE2E = role{name: report.NameSluiceE2E, kind: "sluice",
		config: func(_ Config, l, d, sink, wasm string) server.SluiceConfig {
			return server.E2EConfig(l, d, sink, wasm, 0)
		}}
	roleSluiceSync = role{name: report.NameSluiceSync, kind: "sluice",
		config: func(_ Config, l, d, sink, wasm string) server.SluiceConfig {
			return server.SyncConfig(l, d, sink, wasm)
		}}
	roleSluiceGitHub = role{name: report.NameSluiceGitHub, kind: "sluice",
		config: func(_ Config, l, d, _, _ string) server.SluiceConfig {
			return server.VerifyConfig(l, d, VerifySecret)
		}}
	roleOTLPSink     = role{name: report.NameOTLPSink, kind: "sink"}
	roleSluiceTraced = role{name: report.NameSluiceTraced, kind: "sluice",
		config: func(c Config, l, d, sink, wasm string) server.SluiceConfig {
			return server.TracedConfig(l, d, sink, wasm, c.otlpURL)
		}}
	roleOrderNone = orderRole(report.NameOrderNone, server.OrderNone)
	roleOrderKey  = orderRole(report.NameOrderKey, server.OrderByHeader(OrderHeader))
	roleOrderFIFO = orderRole(report.NameOrderFIFO, server.OrderRoute)
)

// orderRole is the ordering suite's e2e route with the given order_by.
func orderRole(name, orderBy string) role {
	return role{name: name, kind: "sluice", config: func(c Config, l, d, sink, wasm string) server.SluiceConfig {
		return server.OrderingConfig(l, d, sink, wasm, orderBy, c.OrderBacklog)
	}}
}

// baseline names the server every ratio of a suite divides by.
func baseline(suite string) string {
	switch suite {
	case report.SuiteOrdering:
		return report.NameOrderNone
	case report.SuiteRestart:
		return "" // no throughput: cold and warm starts of one server
	case report.SuiteTracing:
		return report.NameSluiceE2E
	case report.SuiteFloor:
		return "" // each load has its own: the goals' lines pair them
	}
	return roles(suite)[0].name
}

// roles lists the servers a suite starts, in start order: a sink first,
// since the routes that deliver to it need its address. The restart suite
// starts its servers itself (runRestart).
func roles(suite string) []role {
	switch suite {
	case report.SuiteIngest:
		return []role{roleBare, roleSluiceFsync, roleSluiceNone, roleByHand}
	case report.SuiteE2E:
		return []role{roleSink, roleSluiceE2E}
	case report.SuiteSync:
		return []role{roleSink, roleSluiceSync}
	case report.SuiteOpenLoop:
		return []role{roleBare, roleSluiceFsync, roleByHand}
	case report.SuitePayload:
		return []role{roleBare, roleSluiceFsync}
	case report.SuiteVerify:
		return []role{roleSluiceFsync, roleSluiceGitHub}
	case report.SuiteOrdering:
		return []role{roleSink, roleOrderNone, roleOrderKey, roleOrderFIFO}
	case report.SuiteTracing:
		return []role{roleSink, roleOTLPSink, roleSluiceE2E, roleSluiceTraced}
	case report.SuiteFloor:
		return []role{roleSink, roleBare, roleSluiceFsync, roleFloor, roleSluiceE2E, roleFloorE2E, roleSluiceSync, roleFloorSync}
	}
	return nil
}

// groups lays out what a suite measures in every round.
func groups(c Config, suite string) []group {
	var out []group
	each := func(conns int, rate float64, names ...string) []step {
		var s []step
		for _, n := range names {
			s = append(s, step{server: n, conns: conns, rate: rate})
		}
		return s
	}
	switch suite {
	case report.SuiteIngest:
		for _, n := range c.Conns {
			out = append(out, group{conns: n, steps: each(n, 0, report.NameBare, report.NameSluiceFsync,
				report.NameSluiceNone, report.NameByHand)})
		}
	case report.SuiteE2E:
		steps := each(report.GoalConns, 0, report.NameSink, report.NameSluiceE2E)
		steps[1].deliveries = report.NameSink
		out = append(out, group{conns: report.GoalConns, steps: steps})
	case report.SuiteSync:
		for i, n := range []int{report.SyncLatencyConns, report.GoalConns} {
			out = append(out, group{conns: n, fsync: i == 0, steps: each(n, 0, report.NameSink, report.NameSluiceSync)})
		}
	case report.SuiteOpenLoop:
		for _, r := range c.Rates {
			out = append(out, group{conns: c.OpenConns, rate: r, steps: each(c.OpenConns, r,
				report.NameBare, report.NameSluiceFsync, report.NameByHand)})
		}
	case report.SuitePayload:
		for _, n := range c.Payloads {
			steps := each(report.GoalConns, 0, report.NameBare, report.NameSluiceFsync)
			for i := range steps {
				steps[i].body = n
			}
			out = append(out, group{conns: report.GoalConns, steps: steps})
		}
	case report.SuiteVerify:
		// Both servers get the same signed requests: the generator's work
		// and the bytes Sluice parses are equal, only the check differs.
		steps := each(report.GoalConns, 0, report.NameSluiceFsync, report.NameSluiceGitHub)
		for i := range steps {
			steps[i].signed = true
		}
		out = append(out, group{conns: report.GoalConns, steps: steps})
	case report.SuiteOrdering:
		steps := each(report.GoalConns, 0, report.NameOrderNone, report.NameOrderKey, report.NameOrderFIFO)
		for i := range steps {
			steps[i].deliveries, steps[i].shed = report.NameSink, true
		}
		steps[1].keys = c.OrderKeys
		out = append(out, group{conns: report.GoalConns, steps: steps})
	case report.SuiteTracing:
		steps := each(report.GoalConns, 0, report.NameSluiceE2E, report.NameSluiceTraced)
		for i := range steps {
			steps[i].deliveries = report.NameSink
		}
		out = append(out, group{conns: report.GoalConns, steps: steps})
	case report.SuiteFloor:
		// Each Sluice load of a goal beside the least any design does
		// under it: ingest (1 KiB and 64 KiB JSON), e2e, sync at 1 conn.
		out = append(out, group{conns: report.GoalConns, steps: each(report.GoalConns, 0,
			report.NameBare, report.NameSluiceFsync, report.NameFloor)})
		large := each(report.GoalConns, 0, report.NameBare, report.NameSluiceFsync, report.NameFloor)
		for i := range large {
			large[i].body = report.FloorPayload
		}
		out = append(out, group{conns: report.GoalConns, steps: large})
		e2e := each(report.GoalConns, 0, report.NameSink, report.NameSluiceE2E, report.NameFloorE2E)
		e2e[1].deliveries, e2e[2].deliveries = report.NameSink, report.NameSink
		out = append(out, group{conns: report.GoalConns, steps: e2e})
		out = append(out, group{conns: report.SyncLatencyConns, fsync: true, steps: each(report.SyncLatencyConns, 0,
			report.NameSink, report.NameSluiceSync, report.NameFloorSync)})
	}
	return out
}

// instance is one server under test while its suite runs.
type instance struct {
	meta    report.Server
	spec    server.Spec
	status  int    // what its POSTs answer when all is well
	path    string // where the load generator POSTs
	dir     string // its temp dir
	dataDir string // "" for the bare servers
	// admin is Sluice's admin listener (GET /v1/stats, the backlog); "" when
	// the server has none (not Sluice, or admin_listen off).
	admin string
	proc  *server.Process
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

	baselines := map[string]string{}
	for _, s := range cfg.Suites {
		if b := baseline(s); b != "" {
			baselines[s] = b
		}
	}
	rep := &report.Report{
		Schema:    report.Schema,
		StartedAt: time.Now().UTC(),
		SelfTest:  cfg.SelfTest,
		Machine:   procstat.ReadMachine(),
		Revision:  revision(ctx, cfg.RepoDir),
		Settings: report.Settings{
			Suites:    cfg.Suites,
			Rounds:    cfg.Rounds,
			WarmupS:   cfg.Warmup.Seconds(),
			MeasureS:  cfg.Measure.Seconds(),
			BodyBytes: cfg.BodyBytes,
			Baselines: baselines,
		},
	}
	if slices.Contains(cfg.Suites, report.SuiteIngest) {
		rep.Settings.Conns = cfg.Conns
	}
	if slices.Contains(cfg.Suites, report.SuiteOpenLoop) {
		rep.Settings.Rates, rep.Settings.OpenConns = cfg.Rates, cfg.OpenConns
	}
	if slices.Contains(cfg.Suites, report.SuiteSync) {
		rep.Settings.FsyncSamples = cfg.FsyncSamples
	}
	if cfg.Transform && slices.ContainsFunc(cfg.Suites, func(s string) bool {
		return s == report.SuiteE2E || s == report.SuiteSync || s == report.SuiteOrdering || s == report.SuiteTracing ||
			s == report.SuiteFloor
	}) {
		rep.Settings.Transform = TransformModule
	}
	if cfg.hasExtra() {
		st := &rep.Settings
		st.ExtraRounds = cfg.rounds(report.SuitePayload)
		warmup, measure := cfg.window(report.SuitePayload)
		st.ExtraWarmupS, st.ExtraMeasureS = warmup.Seconds(), measure.Seconds()
	}
	if slices.Contains(cfg.Suites, report.SuitePayload) {
		rep.Settings.Payloads = cfg.Payloads
	}
	if slices.Contains(cfg.Suites, report.SuiteOrdering) {
		st := &rep.Settings
		st.OrderConns, st.OrderKeys, st.OrderHeader = report.GoalConns, cfg.OrderKeys, OrderHeader
		st.OrderBacklog, st.OrderRejectBackoffMs = cfg.OrderBacklog, float64(orderRejectBackoff)/float64(time.Millisecond)
	}
	if slices.Contains(cfg.Suites, report.SuiteRestart) {
		rep.Settings.RestartPlugins = RestartModules
	}
	if slices.Contains(cfg.Suites, report.SuiteVerify) {
		rep.Settings.SignedHeader = SignatureHeader
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
	logf("measuring about %v (plus settling between runs)", cfg.Duration().Round(time.Second))

	for _, suite := range cfg.Suites {
		run := runSuite
		if suite == report.SuiteRestart {
			run = runRestart
		}
		if err := run(ctx, cfg, suite, tmp, sluiceBin, rep, logf); err != nil {
			return nil, err
		}
	}
	rep.LoadAvg[1] = procstat.LoadAvg()
	rep.FinishedAt = time.Now().UTC()
	rep.Summarize()
	return rep, nil
}

// runSuite starts a suite's servers, measures all its groups and rounds,
// and stops the servers again.
func runSuite(ctx context.Context, cfg Config, suite, tmp, sluiceBin string, rep *report.Report,
	logf func(string, ...any)) (err error) {
	insts, err := plan(cfg, suite, tmp, sluiceBin)
	if err != nil {
		return err
	}
	defer func() {
		for i := len(insts) - 1; i >= 0; i-- {
			if p := insts[i].proc; p != nil {
				if stopErr := p.Stop(cfg.StopGrace); stopErr != nil {
					logf("warning: %v", stopErr)
				}
			}
		}
	}()
	for _, in := range insts {
		p, err := server.Start(in.spec)
		if err != nil {
			return err
		}
		in.proc = p
		// The sink must answer before a Sluice route that delivers to it
		// starts, so start and wait one by one.
		if err := in.proc.WaitReady(ctx, cfg.ReadyTimeout); err != nil {
			return failure(in, fmt.Errorf("waiting for readiness: %w", err))
		}
		admin := ""
		if in.admin != "" {
			admin = ", admin API at " + in.admin
		}
		logf("[%s] %s ready at %s (pid %d%s)", suite, in.meta.Name, in.spec.Addr, in.proc.Pid, admin)
	}
	byName := map[string]*instance{}
	for _, in := range insts {
		byName[in.meta.Name] = in
	}

	rounds := cfg.rounds(suite)
	for _, g := range groups(cfg, suite) {
		for round := 1; round <= rounds; round++ {
			if g.fsync {
				probe, err := probeFsync(ctx, byName[report.NameSluiceSync].dir, cfg.FsyncSamples, cfg.BodyBytes)
				if err != nil {
					return err
				}
				probe.Round = round
				rep.Fsync = append(rep.Fsync, probe)
				logf("[%s, round %d/%d] fsync probe: p50 %.0f µs, p99 %.0f µs", suite, round, rounds, probe.P50us, probe.P99us)
			}
			for _, st := range g.steps {
				run, err := measure(ctx, cfg, suite, round, st, byName, insts)
				if err != nil {
					return err
				}
				rep.Runs = append(rep.Runs, *run)
				logf("[%s, %s, round %d/%d] %-12s %9.0f %s  p50 %s  p99 %s  server %.2f cores  errors %d%s%s",
					suite, loadText(run), round, rounds, run.Server, run.Throughput, unitText(st),
					dur(run.P50us), dur(run.P99us), run.ServerCPUs/run.ElapsedS, run.Errors, shedNote(run), flagNote(run))
			}
		}
	}
	for _, in := range insts {
		if in.dataDir != "" {
			in.meta.DataBytes = dirSize(in.dataDir)
		}
		rep.Servers = append(rep.Servers, in.meta)
	}
	return nil
}

// plan lays out a suite's servers: addresses, temp dirs, config files,
// commands. The suite's sink (if any) comes first.
func plan(cfg Config, suite, tmp, sluiceBin string) ([]*instance, error) {
	wasm := ""
	if cfg.RepoDir != "" {
		wasm = filepath.Join(cfg.RepoDir, TransformModule)
	}
	sinkURL := ""
	var insts []*instance
	ports := freePorts{}
	for _, r := range roles(suite) {
		addr, err := ports.next()
		if err != nil {
			return nil, err
		}
		dir := filepath.Join(tmp, suite, r.name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("creating dir of %s: %w", r.name, err)
		}
		in := &instance{
			spec:   server.Spec{Name: r.name, Addr: addr, LogPath: filepath.Join(dir, "server.log")},
			meta:   report.Server{Suite: suite, Name: r.name, Kind: r.kind},
			status: fasthttp.StatusAccepted,
			path:   "/in/" + server.BenchRoute,
			dir:    dir,
		}
		bareAs := func(status int) {
			in.spec.Path = cfg.Self
			in.spec.Args = []string{BareServerCommand, "--listen", addr, "--status", strconv.Itoa(status)}
			in.status = status
		}
		switch {
		case r.name == report.NameOTLPSink:
			bareAs(fasthttp.StatusOK) // answers the exports; its POST count is the batches
			in.path = "/otlp"
			cfg.otlpURL = "http://" + addr + in.path
		case r.kind == "sink":
			bareAs(fasthttp.StatusOK)
			in.path = "/sink"
			sinkURL = "http://" + addr + in.path
		case r.kind == "bare" || cfg.SelfTest:
			status := fasthttp.StatusAccepted
			if r.name == report.NameSluiceSync || r.name == report.NameFloorSync {
				status = fasthttp.StatusOK // a sync route relays the sink's 200
			}
			bareAs(status)
			in.meta.Kind = "bare"
		case r.kind == "by-hand":
			in.dataDir = filepath.Join(dir, "data")
			in.spec.Path = cfg.Self
			in.spec.Args = []string{ByHandServerCommand, "--listen", addr, "--data", in.dataDir, "--wasm", wasm}
		case r.kind == "floor":
			in.spec.Path = cfg.Self
			in.spec.Args = []string{FloorServerCommand, "--listen", addr, "--file", filepath.Join(dir, "floor.log")}
			switch r.name {
			case report.NameFloorE2E:
				in.spec.Args = append(in.spec.Args, "--forward", sinkURL)
			case report.NameFloorSync:
				in.spec.Args = append(in.spec.Args, "--forward", sinkURL, "--reply")
				in.status = fasthttp.StatusOK
			}
		default: // sluice
			in.dataDir = filepath.Join(dir, "data")
			routeWasm := ""
			if cfg.Transform {
				routeWasm = wasm
			}
			sc := r.config(cfg, addr, in.dataDir, sinkURL, routeWasm)
			if sc.AdminListen, err = ports.next(); err != nil {
				return nil, err
			}
			in.admin = sc.AdminListen
			yml, err := sc.Render()
			if err != nil {
				return nil, err
			}
			cfgPath := filepath.Join(dir, "sluice.yaml")
			if err := os.WriteFile(cfgPath, yml, 0o644); err != nil {
				return nil, fmt.Errorf("writing config of %s: %w", r.name, err)
			}
			in.spec.Path = sluiceBin
			in.spec.Args = []string{"serve", "--config", cfgPath}
			in.meta.Durability = sc.Durability
			if suite == report.SuiteOrdering {
				in.meta.OrderBy = sc.Routes[0].OrderBy
			}
			if a := sc.Routes[0].Auth; a != nil {
				in.meta.Auth = a.Verify
			}
			in.path = "/in/" + sc.Routes[0].Name
			if sc.Routes[0].Mode == "sync" {
				in.status = fasthttp.StatusOK
			}
		}
		in.meta.Command = append([]string{filepath.Base(in.spec.Path)}, in.spec.Args...)
		insts = append(insts, in)
	}
	return insts, nil
}

// freePorts hands out free loopback addresses, never the same one twice: a
// suite's servers run side by side, and a port FreeAddr found free is closed
// again, so the kernel may offer it once more before its server binds it.
type freePorts map[string]bool

func (f freePorts) next() (string, error) {
	for range 100 {
		addr, err := server.FreeAddr()
		if err != nil {
			return "", err
		}
		if !f[addr] {
			f[addr] = true
			return addr, nil
		}
	}
	return "", errNoPort
}

// measure waits for idle servers, runs one step's load and returns the run
// with the target's CPU and memory, the others' CPU and, for a delivering
// route, the deliveries and backlog.
func measure(ctx context.Context, cfg Config, suite string, round int, st step,
	byName map[string]*instance, all []*instance) (*report.Run, error) {
	target := byName[st.server]
	runtime.GC() // start each run without the previous run's garbage
	settled, err := settle(ctx, all, cfg.SettleTimeout)
	if err != nil {
		return nil, err
	}
	// In a self-test the stand-in for a delivering route delivers nowhere:
	// count its own POSTs instead.
	counter := byName[st.deliveries]
	if counter != nil && cfg.SelfTest {
		counter = target
	}

	warmup, window := cfg.window(suite)
	lc := load.Config{
		Addr:      target.spec.Addr,
		Path:      target.path,
		Conns:     st.conns,
		BodyBytes: cfg.BodyBytes,
		Warmup:    warmup,
		Measure:   window,
		Timeout:   cfg.Timeout,
		Status:    target.status,
		Rate:      st.rate,
	}
	if st.body > 0 {
		lc.BodyBytes, lc.JSONBody = st.body, true
	}
	if st.keys > 0 {
		lc.KeyHeader, lc.Keys = OrderHeader, st.keys
	}
	if st.shed {
		lc.RejectBackoff = orderRejectBackoff
	}
	if st.signed {
		lc.Headers = []load.Header{{Name: SignatureHeader, Value: GitHubSignature(VerifySecret, load.Body(lc))}}
	}
	var (
		cpu0, cpu1       time.Duration // target
		others0, others1 time.Duration // all other servers
		sys0, sys1       procstat.SystemCPU
		mem              procstat.Memory
		io0, io1         procstat.IO
		peaks            *memorySampler
		count0, count1   uint64
		backlog          [2]*int
		sampleErr        error
	)
	keep := func(err error) {
		if err != nil && sampleErr == nil {
			sampleErr = err
		}
	}
	mark := func(ph load.Phase) {
		t, o, err := cpuOf(target, all)
		keep(err)
		sys, err := procstat.ReadSystemCPU()
		keep(err)
		var n uint64
		if counter != nil {
			n, err = postCount(counter.spec.Addr)
			keep(err)
		}
		var b *int
		if st.deliveries != "" {
			b = sluiceBacklog(target.admin)
		}
		io, err := procstat.ReadIO(target.proc.Pid)
		keep(err)
		switch ph {
		case load.MeasureStart:
			cpu0, others0, sys0, count0, backlog[0], io0 = t, o, sys, n, b, io
			peaks = startMemorySampler(target.proc.Pid, memorySampleEvery)
		case load.MeasureEnd:
			cpu1, others1, sys1, count1, backlog[1], io1 = t, o, sys, n, b, io
			m, err := peaks.stop()
			keep(err)
			mem = m
		}
	}
	res, err := load.Run(ctx, lc, mark)
	if peaks != nil {
		_, _ = peaks.stop() // a failed run: the sampler must not outlive it
	}
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

	hist := res.Latency
	run := &report.Run{
		Suite:              suite,
		Conns:              st.conns,
		Rate:               st.rate,
		Round:              round,
		Server:             target.meta.Name,
		Status:             target.status,
		BodyBytes:          st.body,
		RPS:                res.RPS(),
		Accepted:           res.Accepted,
		Errors:             res.Errors(),
		Rejected:           res.Rejected,
		TransportErrors:    res.TransportErrors,
		FirstError:         res.FirstError,
		ElapsedS:           res.Elapsed.Seconds(),
		P50us:              micros(hist.Quantile(0.50)),
		P99us:              micros(hist.Quantile(0.99)),
		P999us:             micros(hist.Quantile(0.999)),
		MaxUs:              micros(hist.Max()),
		Unfinished:         res.Unfinished,
		BacklogStart:       backlog[0],
		BacklogEnd:         backlog[1],
		Dials:              res.Dials,
		MinConnAccepted:    res.MinConnAccepted,
		MaxConnAccepted:    res.MaxConnAccepted,
		ServerCPUs:         (cpu1 - cpu0).Seconds(),
		ServerRSSKiB:       mem.RSSKiB,
		ServerPeakKiB:      mem.PeakKiB,
		RSSAnonPeakKiB:     mem.AnonKiB,
		RSSFilePeakKiB:     mem.FileKiB,
		DiskWriteBytes:     io1.WriteBytes - io0.WriteBytes,
		DiskCancelledBytes: io1.CancelledWriteBytes - io0.CancelledWriteBytes,
		BodyBytesAcked:     res.Accepted * uint64(len(load.Body(lc))),
		ClientCPUs:         res.ClientCPU.Seconds(),
		ClientAllocsReq:    res.AllocsPerRequest(),
		OthersCPUs:         (others1 - others0).Seconds(),
		IdleCPUs:           (sys1.Idle - sys0.Idle).Seconds(),
		Settled:            settled,
		Latency:            &hist,
	}
	run.Throughput = run.RPS
	if run.BodyBytesAcked > 0 {
		run.WriteAmp = float64(run.DiskWriteBytes) / float64(run.BodyBytesAcked)
	}
	if counter != nil {
		run.Delivered = count1 - count0
		if run.ElapsedS > 0 {
			run.DeliveredPerS = float64(run.Delivered) / run.ElapsedS
		}
		run.Throughput = run.DeliveredPerS
	}
	if st.rate > 0 {
		run.ServiceP50us = micros(res.Service.Quantile(0.50))
		run.ServiceP99us = micros(res.Service.Quantile(0.99))
	}
	// Whatever the machine was busy with besides the harness and the servers:
	// other tenants, hypervisor steal, kernel threads. Tick resolution makes
	// small values noisy; clamp the rounding below zero.
	foreign := (sys1.Busy - sys0.Busy) - (cpu1 - cpu0) - (others1 - others0) - res.ClientCPU
	run.ForeignCPUs = max(foreign, 0).Seconds()
	if res.Accepted > 0 {
		run.ServerUsPerReq = float64((cpu1 - cpu0).Microseconds()) / float64(res.Accepted)
	}
	if n := run.Rejected[fasthttp.StatusTooManyRequests]; st.shed && n > 0 {
		run.Shed = n
		run.Errors -= n
		delete(run.Rejected, fasthttp.StatusTooManyRequests)
	}
	if len(run.Rejected) == 0 {
		run.Rejected = nil
	}
	return run, nil
}

// postCount asks a bare server how many POSTs it answered.
func postCount(addr string) (uint64, error) {
	code, body, err := fasthttp.GetTimeout(nil, "http://"+addr+bare.CountPath, 2*time.Second)
	if err == nil && code != fasthttp.StatusOK {
		err = fmt.Errorf("status %d", code)
	}
	if err != nil {
		return 0, fmt.Errorf("reading the POST count of %s: %w", addr, err)
	}
	n, err := strconv.ParseUint(strings.TrimSpace(string(body)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("reading the POST count of %s: %w", addr, err)
	}
	return n, nil
}

// sluiceBacklog reads the log's backlog from GET /v1/stats of the Sluice
// admin API at admin, or nil if it cannot (also when admin is "": no admin
// listener). No admin_token is configured, so no Authorization is sent.
func sluiceBacklog(admin string) *int {
	if admin == "" {
		return nil
	}
	code, body, err := fasthttp.GetTimeout(nil, "http://"+admin+"/v1/stats", 2*time.Second)
	if err != nil || code != fasthttp.StatusOK {
		return nil
	}
	return parseBacklog(body)
}

// parseBacklog extracts log.backlog from a /v1/stats document.
func parseBacklog(body []byte) *int {
	var st struct {
		Log struct {
			Backlog *int `json:"backlog"`
		} `json:"log"`
	}
	if json.Unmarshal(body, &st) != nil {
		return nil
	}
	return st.Log.Backlog
}

// probeFsync measures the disk under the data dirs as a log sees it: append
// size bytes to a temp file in dir and fdatasync, samples times.
func probeFsync(ctx context.Context, dir string, samples, size int) (report.FsyncProbe, error) {
	f, err := os.CreateTemp(dir, "fsync-probe-*")
	if err != nil {
		return report.FsyncProbe{}, fmt.Errorf("probing fsync: %w", err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	buf := make([]byte, max(size, 1))
	var h latency.Histogram
	for i := 0; i < samples && ctx.Err() == nil; i++ {
		t := time.Now()
		if _, err := f.Write(buf); err != nil {
			return report.FsyncProbe{}, fmt.Errorf("probing fsync: %w", err)
		}
		if err := syscall.Fdatasync(int(f.Fd())); err != nil {
			return report.FsyncProbe{}, fmt.Errorf("probing fsync: %w", err)
		}
		h.Record(time.Since(t))
	}
	if err := ctx.Err(); err != nil {
		return report.FsyncProbe{}, err
	}
	return report.FsyncProbe{Samples: samples, P50us: micros(h.Quantile(0.5)), P99us: micros(h.Quantile(0.99))}, nil
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

// memorySampleEvery is how often a run's target memory is read during the
// measured window for its RssAnon and RssFile peaks.
const memorySampleEvery = 50 * time.Millisecond

// memorySampler reads a process's memory every period from its start to
// its stop and keeps the largest RssAnon and RssFile seen (each its own
// peak: they need not peak together), so that a short burst between the
// window's edges is not missed. It costs one read of /proc/<pid>/status
// per period (a few µs).
type memorySampler struct {
	pid     int
	done    chan struct{}
	stopped chan struct{}
	once    sync.Once
	peak    procstat.Memory // the last sample, with AnonKiB and FileKiB the peaks
	err     error           // the first failed read
	samples atomic.Int64    // reads so far (for tests)
}

func startMemorySampler(pid int, period time.Duration) *memorySampler {
	s := &memorySampler{pid: pid, done: make(chan struct{}), stopped: make(chan struct{})}
	s.sample()
	go func() {
		defer close(s.stopped)
		t := time.NewTicker(period)
		defer t.Stop()
		for {
			select {
			case <-s.done:
				return
			case <-t.C:
				s.sample()
			}
		}
	}()
	return s
}

func (s *memorySampler) sample() {
	defer s.samples.Add(1)
	m, err := procstat.ReadMemory(s.pid)
	if err != nil {
		if s.err == nil {
			s.err = err
		}
		return
	}
	anon, file := max(s.peak.AnonKiB, m.AnonKiB), max(s.peak.FileKiB, m.FileKiB)
	s.peak = m
	s.peak.AnonKiB, s.peak.FileKiB = anon, file
}

// stop ends the sampling with a last sample and returns the memory at that
// moment (RSSKiB, PeakKiB) with the peaks of RssAnon and RssFile. Calling
// it again returns the same.
func (s *memorySampler) stop() (procstat.Memory, error) {
	s.once.Do(func() {
		close(s.done)
		<-s.stopped
		s.sample()
	})
	return s.peak, s.err
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

func dur(us float64) string {
	if us >= 1000 {
		return fmt.Sprintf("%6.2f ms", us/1000)
	}
	return fmt.Sprintf("%6.0f µs", us)
}

func loadText(run *report.Run) string {
	if run.Rate > 0 {
		return fmt.Sprintf("%.0f/s", run.Rate)
	}
	if run.BodyBytes > 0 {
		return fmt.Sprintf("%d conns, %s", run.Conns, report.Bytes(run.BodyBytes))
	}
	return fmt.Sprintf("%d conns", run.Conns)
}

func unitText(st step) string {
	if st.deliveries != "" {
		return "delivered/s"
	}
	return "rps"
}

func shedNote(run *report.Run) string {
	if run.Shed == 0 {
		return ""
	}
	return fmt.Sprintf("  shed %.0f/s", float64(run.Shed)/run.ElapsedS)
}

func flagNote(run *report.Run) string {
	if f := run.Flags(); len(f) > 0 {
		return "  ⚠ " + strings.Join(f, ", ")
	}
	return ""
}
