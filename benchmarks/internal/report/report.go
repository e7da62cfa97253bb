package report

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"time"

	"github.com/sluicehq/sluice/benchmarks/internal/latency"
	"github.com/sluicehq/sluice/benchmarks/internal/procstat"
)

// Schema identifies the JSON layout of a Report. v1 (files named
// <date>-ingest.json) had the ingest suite only; v2 the ingest, e2e, sync
// and openloop suites. v3 adds the payload, ordering and restart suites:
// Run.BodyBytes and Run.Shed, Summary.BodyBytes, MedianMBps and
// MedianShedPerS, Server.OrderBy, the Settings of the new suites, Restarts
// and RestartSummary; every v2 field keeps its name and meaning. v4 adds the
// verify suite: Server.Auth, Settings.SignedHeader and the goal S1; every v3
// field keeps its name and meaning.
const Schema = "sluice-bench/v5"

// Suite names.
const (
	SuiteIngest   = "ingest"   // async durable ingest vs the bare handler, closed loop
	SuiteE2E      = "e2e"      // async ingest → log → WASM → delivery to a sink, closed loop
	SuiteSync     = "sync"     // sync route to a sink vs the sink directly, closed loop
	SuiteOpenLoop = "openloop" // fixed request rates, coordinated-omission corrected latency
	SuitePayload  = "payload"  // async durable ingest vs the bare handler by body size, closed loop
	SuiteVerify   = "verify"   // async durable ingest with GitHub sender verification vs without, closed loop
	SuiteOrdering = "ordering" // e2e delivery with no ordering, per-key ordering and strict FIFO
	SuiteRestart  = "restart"  // time to the first /healthz 200, cold and warm compilation cache
	SuiteTracing  = "tracing"  // e2e delivery with every span exported over OTLP/HTTP vs tracing off
	SuiteFloor    = "floor"    // ingest, e2e and sync beside the floors: the least any durable design does
)

// FloorPayload is the floor suite's large JSON body (P1@64KiB's size).
const FloorPayload = 64 << 10

// AllSuites lists the suites in the order a run measures them; a default
// run (DefaultSuites) leaves the opt-in tracing suite out.
var AllSuites = []string{SuiteIngest, SuiteE2E, SuiteSync, SuiteOpenLoop, SuitePayload, SuiteVerify, SuiteOrdering,
	SuiteRestart, SuiteTracing, SuiteFloor}

// DefaultSuites are the suites of `make bench`: all but the opt-in tracing
// and floor suites, which `make bench-tracing` and `make bench-floor` run
// (the default run keeps to its 10-minute budget).
var DefaultSuites = AllSuites[:len(AllSuites)-2]

// ExtraSuites are the suites with their own, smaller budget of rounds and
// window (Settings.ExtraRounds, ...), so that the default run stays short.
var ExtraSuites = []string{SuitePayload, SuiteVerify, SuiteOrdering, SuiteRestart, SuiteTracing}

// Server names used in reports.
const (
	NameBare        = "bare"         // fasthttp answering 202: the ingest ceiling
	NameSluiceFsync = "sluice-fsync" // async route, durability fsync
	NameSluiceNone  = "sluice-none"  // async route, durability none
	NameByHand      = "by-hand"      // baseline: net/http + Badger txn per message + fresh wazero instance
	NameSink        = "sink"         // fasthttp answering 200: the destination, loaded directly
	NameSluiceE2E   = "sluice-e2e"   // async route delivering to the sink
	NameSluiceSync  = "sluice-sync"  // sync route delivering to the sink
	// The floors (package floor): the least a durable ingest, an async
	// delivering route and a sync route can do here.
	NameFloor     = "floor"      // group commit of each body to one file, then 202
	NameFloorE2E  = "floor-e2e"  // floor, then the body forwarded to the sink from memory
	NameFloorSync = "floor-sync" // floor, then the body forwarded to the sink, its answer relayed
	// The ordering suite's routes: the e2e route with order_by none (its
	// baseline), per key (a request header) and route (strict FIFO).
	NameOrderNone = "sluice-order-none"
	NameOrderKey  = "sluice-order-key"
	NameOrderFIFO = "sluice-order-fifo"
	// NameRestart is the Sluice that the restart suite starts and stops.
	NameRestart = "sluice-restart"
	// NameSluiceGitHub is NameSluiceFsync's route with auth: {verify:
	// github}: the verify suite measures it against NameSluiceFsync.
	NameSluiceGitHub = "sluice-github"
	// NameSluiceTraced is NameSluiceE2E with tracing on at sample_ratio 1,
	// exporting to NameOTLPSink: the tracing suite measures it against
	// NameSluiceE2E.
	NameSluiceTraced = "sluice-e2e-traced"
	NameOTLPSink     = "otlp-sink" // fasthttp answering 200: the OTLP/HTTP collector
)

// Restart suite: cache states of a start.
const (
	CacheCold = "cold" // fresh data dir: every plugin is compiled
	CacheWarm = "warm" // the cold start's data dir again: compiled code comes from the cache
)

// Targets of the goals.
const (
	GoalIngest     = 0.7  // G1 at GoalConns (the benchmarks issue)
	GoalIngest256  = 0.8  // G1 at 256 connections (the benchmarks issue)
	CoreGoalIngest = 0.5  // G1 as the core issue first stated it, at GoalConns
	GoalDurable    = 0.8  // G2: fsync ÷ durability none
	GoalE2E        = 0.4  // G4
	GoalSyncOverUs = 100  // G9: sync p50 − direct p50 ≤ fsync p50 + this
	GoalSyncP99    = 2.0  // G10
	GoalAsyncP99   = 2.0  // G11
	GoalVerify     = 0.95 // S1: GitHub verification ÷ none (the verify suite's own target)
	GoalConns      = 64   // connection count the goals are stated for

	// Issue 15 (the log's layout): bytes the Sluice process writes toward
	// the disk ÷ body bytes it acknowledged, and its anonymous memory.
	GoalWriteAmp1KiB  = 3.0 // W1: async durable ingest, 1 KiB bodies
	GoalWriteAmp64KiB = 1.5 // W2: the payload suite's 64 KiB bodies
	GoalRSSAnonMiB    = 400 // M1: largest RssAnon of any Sluice server in a round
	SyncLatencyConns  = 1   // G9's connection count
)

// NoisyCores is how much CPU (in cores) the rest of the machine may use
// during a run before the run is flagged "noisy": the servers and the load
// generator then competed with someone else for the cores.
const NoisyCores = 0.25

// Report is one harness invocation: what ran, where, and what it measured.
type Report struct {
	Schema     string           `json:"schema"`
	StartedAt  time.Time        `json:"started_at"`
	FinishedAt time.Time        `json:"finished_at"`
	SelfTest   bool             `json:"self_test"` // every server is the bare baseline
	Machine    procstat.Machine `json:"machine"`
	LoadAvg    [2]float64       `json:"loadavg_1m"` // at start and at end
	Revision   string           `json:"revision"`   // git describe of the repo, "unknown" if none
	Settings   Settings         `json:"settings"`
	Servers    []Server         `json:"servers"`
	Runs       []Run            `json:"runs"`
	Fsync      []FsyncProbe     `json:"fsync,omitempty"` // sync suite: one per round
	Restarts   []Restart        `json:"restarts,omitempty"`
	Summary    []Summary        `json:"summary"`
	// RestartSummary is set when the restart suite ran.
	RestartSummary *RestartSummary `json:"restart_summary,omitempty"`
	Goals          []Goal          `json:"goals"`
}

// Settings are the harness parameters of the invocation.
type Settings struct {
	Suites       []string          `json:"suites"`
	Rounds       int               `json:"rounds"`
	WarmupS      float64           `json:"warmup_s"`
	MeasureS     float64           `json:"measure_s"`
	BodyBytes    int               `json:"body_bytes"`
	Conns        []int             `json:"conns"`          // ingest suite
	Rates        []float64         `json:"rates"`          // open-loop suite, requests/s
	OpenConns    int               `json:"openloop_conns"` // open-loop suite
	Transform    string            `json:"transform"`      // WASM module of the e2e and sync routes; "" none
	FsyncSamples int               `json:"fsync_samples"`  // per round of the sync suite
	Baselines    map[string]string `json:"baselines"`      // suite → server every ratio divides by

	// The payload, ordering and restart suites' own budget (ExtraSuites):
	// rounds, warmup and measured window of each of their runs.
	ExtraRounds   int     `json:"extra_rounds,omitempty"`
	ExtraWarmupS  float64 `json:"extra_warmup_s,omitempty"`
	ExtraMeasureS float64 `json:"extra_measure_s,omitempty"`
	Payloads      []int   `json:"payloads,omitempty"`      // payload suite: body sizes in bytes (JSON documents)
	OrderConns    int     `json:"order_conns,omitempty"`   // ordering suite: connections
	OrderKeys     int     `json:"order_keys,omitempty"`    // ordering suite: distinct keys of the per-key route
	OrderHeader   string  `json:"order_header,omitempty"`  // ordering suite: the header carrying the key
	OrderBacklog  int     `json:"order_backlog,omitempty"` // ordering suite: the route's backlog cap (429 past it)
	// OrderRejectBackoffMs is how long a connection of the ordering suite
	// pauses after a 429.
	OrderRejectBackoffMs float64 `json:"order_reject_backoff_ms,omitempty"`
	// RestartPlugins are the modules the restart suite's config loads.
	RestartPlugins []string `json:"restart_plugins,omitempty"`
	// SignedHeader is the header carrying the body's signature that every
	// request of the verify suite sends, to both servers.
	SignedHeader string `json:"signed_header,omitempty"`
}

// Server describes one configuration under test in one suite.
type Server struct {
	Suite      string   `json:"suite"`
	Name       string   `json:"name"`
	Kind       string   `json:"kind"`                 // "bare", "sink", "sluice" or "by-hand"
	Durability string   `json:"durability,omitempty"` // sluice only
	OrderBy    string   `json:"order_by,omitempty"`   // ordering suite: the route's order_by
	Auth       string   `json:"auth,omitempty"`       // verify suite: the route's auth.verify ("" none)
	Command    []string `json:"command"`
	DataBytes  int64    `json:"data_dir_bytes,omitempty"` // size of its data dir at the end
}

// Run is one measured window of one server.
type Run struct {
	Suite  string  `json:"suite"`
	Conns  int     `json:"conns"`
	Rate   float64 `json:"rate,omitempty"` // open loop: requests/s intended; 0: closed loop
	Round  int     `json:"round"`          // 1-based
	Server string  `json:"server"`
	Status int     `json:"status"` // the answer that counts as success
	// BodyBytes is the body size of a payload-suite run (a JSON document);
	// 0 for the other suites, which send Settings.BodyBytes.
	BodyBytes int `json:"body_bytes,omitempty"`

	// Throughput is the suite's headline rate: DeliveredPerS for a Sluice
	// route that delivers (e2e), else RPS.
	Throughput      float64        `json:"throughput"`
	RPS             float64        `json:"rps"` // successful answers per second
	Accepted        uint64         `json:"accepted"`
	Errors          uint64         `json:"errors"`             // everything that was not a success, but Shed
	Rejected        map[int]uint64 `json:"rejected,omitempty"` // other answers by status
	TransportErrors uint64         `json:"transport_errors"`
	FirstError      string         `json:"first_error,omitempty"`
	ElapsedS        float64        `json:"elapsed_s"`
	// Shed counts the 429s of a full route backlog in a suite that expects
	// them (ordering: the backlog is capped so that a slow ordering mode
	// does not pile up work past the window); not in Errors nor Rejected.
	Shed uint64 `json:"shed,omitempty"`

	P50us  float64 `json:"p50_us"` // open loop: from the intended send time
	P99us  float64 `json:"p99_us"`
	P999us float64 `json:"p999_us"`
	MaxUs  float64 `json:"max_us"`
	// Open loop only: from the actual send, and the requests due but not
	// answered when the window closed.
	ServiceP50us float64 `json:"service_p50_us,omitempty"`
	ServiceP99us float64 `json:"service_p99_us,omitempty"`
	Unfinished   uint64  `json:"unfinished,omitempty"`

	// e2e only: POSTs the sink answered in the window, and Sluice's backlog
	// (GET /v1/stats) at the window's edges; nil when unknown.
	Delivered     uint64  `json:"delivered,omitempty"`
	DeliveredPerS float64 `json:"delivered_per_s,omitempty"`
	BacklogStart  *int    `json:"backlog_start,omitempty"`
	BacklogEnd    *int    `json:"backlog_end,omitempty"`

	Dials           uint64 `json:"dials"` // connections opened; == conns when all stayed up
	MinConnAccepted uint64 `json:"min_conn_accepted"`
	MaxConnAccepted uint64 `json:"max_conn_accepted"`

	ServerCPUs     float64 `json:"server_cpu_s"` // CPU time of the server in the window
	ServerUsPerReq float64 `json:"server_cpu_us_per_req"`
	ServerRSSKiB   uint64  `json:"server_rss_kib"`  // at the end of the window
	ServerPeakKiB  uint64  `json:"server_peak_kib"` // VmHWM since start
	// The largest RssAnon and RssFile of the server sampled during the
	// window (every 50 ms and at its edges): anonymous memory (heap,
	// stacks) and file-backed mappings (Badger's mmap'd files).
	RSSAnonPeakKiB uint64 `json:"rss_anon_peak_kib"`
	RSSFilePeakKiB uint64 `json:"rss_file_peak_kib"`
	// DiskWriteBytes is the growth of the server's write_bytes
	// (/proc/<pid>/io) over the window: bytes it sent toward the disk.
	// BodyBytesAcked is the body bytes of the requests it answered with
	// success in the window, and WriteAmp the first ÷ the second (0 when
	// nothing was acknowledged).
	DiskWriteBytes uint64 `json:"disk_write_bytes"`
	// DiskCancelledBytes is the growth of cancelled_write_bytes: the part
	// of DiskWriteBytes (or of earlier writes) that never reached the disk
	// because its file was deleted or truncated first (e.g. a WAL dropped
	// after its memtable was flushed). Not subtracted from WriteAmp.
	DiskCancelledBytes uint64  `json:"disk_cancelled_write_bytes"`
	BodyBytesAcked     uint64  `json:"body_bytes_acked"`
	WriteAmp           float64 `json:"write_amp"`
	ClientCPUs         float64 `json:"client_cpu_s"` // CPU time of the harness in the window
	ClientAllocsReq    float64 `json:"client_allocs_per_req"`
	OthersCPUs         float64 `json:"others_cpu_s"`  // CPU of the suite's other servers in the window
	ForeignCPUs        float64 `json:"foreign_cpu_s"` // CPU of everything else on the machine (incl. steal)
	IdleCPUs           float64 `json:"idle_cpu_s"`    // machine idle time in the window, all CPUs
	Settled            bool    `json:"settled"`       // all servers were idle before the run

	// Latency is the run's histogram, merged into the summary's CDF; it is
	// not written to the JSON (the quantiles above are).
	Latency *latency.Histogram `json:"-"`
}

// Flags lists what makes a run's numbers suspect; empty means clean.
func (r *Run) Flags() []string {
	var f []string
	if r.Errors > 0 {
		f = append(f, "errors")
	}
	if r.Dials != uint64(r.Conns) {
		f = append(f, "reconnects")
	}
	if !r.Settled {
		f = append(f, "unsettled")
	}
	if r.ElapsedS > 0 && r.ForeignCPUs/r.ElapsedS > NoisyCores {
		f = append(f, "noisy")
	}
	if r.BacklogGrew() {
		f = append(f, "backlog-growing")
	}
	if r.Overloaded() {
		f = append(f, "overloaded")
	}
	return f
}

// BacklogGrew reports whether Sluice's backlog grew during the window by
// more than 100 messages and 5% of what it delivered: then delivered/s is
// not a steady state.
func (r *Run) BacklogGrew() bool {
	if r.BacklogStart == nil || r.BacklogEnd == nil {
		return false
	}
	grew := *r.BacklogEnd - *r.BacklogStart
	return grew > 100 && float64(grew) > 0.05*float64(r.Delivered)
}

// Overloaded reports whether an open-loop run ended with more unanswered
// requests than connections plus 1% of those due: the server did not keep
// up with the rate, so its latencies grow with the window's length.
func (r *Run) Overloaded() bool {
	return r.Rate > 0 && float64(r.Unfinished) > float64(r.Conns)+0.01*r.Rate*r.ElapsedS
}

// Restart is one start of the restart suite: from the exec of `sluice
// serve` to its first 200 on GET /healthz.
type Restart struct {
	Round   int     `json:"round"`
	Cache   string  `json:"cache"` // CacheCold or CacheWarm
	ReadyMs float64 `json:"ready_ms"`
	// CacheBytes is the size of the compilation cache dir when Sluice was
	// ready (cold: what it just wrote; warm: what it found).
	CacheBytes int64   `json:"cache_bytes"`
	StopMs     float64 `json:"stop_ms"` // SIGTERM to exit
}

// RestartSummary aggregates the restart suite: medians of the cold and warm
// start times, and warm ÷ cold per round with its median.
type RestartSummary struct {
	MedianColdMs float64   `json:"median_cold_ms"`
	MedianWarmMs float64   `json:"median_warm_ms"`
	Ratios       []float64 `json:"ratios"` // warm ÷ cold of the same round, in round order
	MedianRatio  float64   `json:"median_ratio"`
}

// FsyncProbe is one round's sample of the disk: write 1 KiB + fdatasync on a
// temp file next to the Sluice data dir.
type FsyncProbe struct {
	Round   int     `json:"round"`
	Samples int     `json:"samples"`
	P50us   float64 `json:"p50_us"`
	P99us   float64 `json:"p99_us"`
}

// Summary aggregates one server's rounds at one load (suite, conns, rate).
type Summary struct {
	Suite  string  `json:"suite"`
	Conns  int     `json:"conns"`
	Rate   float64 `json:"rate,omitempty"`
	Server string  `json:"server"`
	// BodyBytes is the body size of a payload-suite summary; 0 otherwise.
	BodyBytes int `json:"body_bytes,omitempty"`

	MedianThroughput   float64 `json:"median_throughput"`
	MedianMBps         float64 `json:"median_mb_per_s,omitempty"`   // payload suite: MedianRPS × BodyBytes / 10⁶
	MedianShedPerS     float64 `json:"median_shed_per_s,omitempty"` // ordering suite: 429s of the capped backlog
	MedianRPS          float64 `json:"median_rps"`
	MedianP50us        float64 `json:"median_p50_us"`
	MedianP99us        float64 `json:"median_p99_us"`
	MedianP999us       float64 `json:"median_p999_us"`
	MedianServiceP99us float64 `json:"median_service_p99_us,omitempty"`
	Unfinished         uint64  `json:"unfinished,omitempty"` // all rounds
	MedianBacklogEnd   *int    `json:"median_backlog_end,omitempty"`
	MedianServerCores  float64 `json:"median_server_cores"`
	MedianUsPerReq     float64 `json:"median_server_cpu_us_per_req"`
	MedianClientCores  float64 `json:"median_client_cores"`
	MedianForeignCores float64 `json:"median_foreign_cores"`
	MedianIdleCores    float64 `json:"median_idle_cores"`
	MaxRSSKiB          uint64  `json:"max_rss_kib"`
	MaxRSSAnonKiB      uint64  `json:"max_rss_anon_kib"` // largest RSSAnonPeakKiB of the rounds
	MaxRSSFileKiB      uint64  `json:"max_rss_file_kib"` // largest RSSFilePeakKiB of the rounds
	MedianWriteAmp     float64 `json:"median_write_amp"` // of the rounds' WriteAmp
	Errors             uint64  `json:"errors"`

	// Ratios are this server's throughput divided by the suite baseline's
	// throughput of the same round, in round order; MedianRatio is their
	// median. Both are absent for the baseline itself.
	Ratios      []float64 `json:"ratios,omitempty"`
	MedianRatio float64   `json:"median_ratio,omitempty"`

	Flags []string `json:"flags,omitempty"` // union of the runs' flags

	// Percentiles describe the latency distribution of all rounds together
	// (the CDF charts), at CurveQuantiles.
	Percentiles []Percentile `json:"percentiles,omitempty"`
}

// Percentile says that a fraction Q of the latencies were at most Us µs.
type Percentile struct {
	Q  float64 `json:"q"`
	Us float64 `json:"us"`
}

// CurveQuantiles are the quantiles a Summary keeps: evenly spaced in
// -log10(1-q) from 0 to 4 (0, 0.21, 0.37, …, 0.5, …, 0.9, …, 0.99, …,
// 0.9999), then 1 (the maximum).
func CurveQuantiles() []float64 {
	var qs []float64
	for i := 0; i <= 40; i++ {
		qs = append(qs, 1-math.Pow(10, -float64(i)/10))
	}
	return append(qs, 1)
}

// Key identifies the load a run or summary belongs to.
type Key struct {
	Suite  string
	Conns  int
	Rate   float64
	Server string
	Body   int // payload suite: body size; 0 otherwise
}

func (r *Run) key() Key     { return Key{r.Suite, r.Conns, r.Rate, r.Server, r.BodyBytes} }
func (s *Summary) key() Key { return Key{s.Suite, s.Conns, s.Rate, s.Server, s.BodyBytes} }

// with returns k for another server.
func (k Key) with(server string) Key {
	k.Server = server
	return k
}

// Summarize fills r.Summary from r.Runs, one entry per Key in the order the
// keys first appear among the runs, and then r.Goals.
func (r *Report) Summarize() {
	r.Summary = r.Summary[:0]
	var keys []Key
	for i := range r.Runs {
		if k := r.Runs[i].key(); !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	for _, k := range keys {
		base := r.byRound(k.with(r.Settings.Baselines[k.Suite]))
		s := Summary{Suite: k.Suite, Conns: k.Conns, Rate: k.Rate, Server: k.Server, BodyBytes: k.Body}
		var thr, rps, p50, p99, p999, svc99, backlog, cores, usReq, clientCores, foreign, idle, shed, wamp []float64
		var hist latency.Histogram
		for i := range r.Runs {
			run := &r.Runs[i]
			if run.key() != k {
				continue
			}
			thr = append(thr, run.Throughput)
			rps = append(rps, run.RPS)
			p50 = append(p50, run.P50us)
			p99 = append(p99, run.P99us)
			p999 = append(p999, run.P999us)
			svc99 = append(svc99, run.ServiceP99us)
			if run.BacklogEnd != nil {
				backlog = append(backlog, float64(*run.BacklogEnd))
			}
			cores = append(cores, perSecond(run.ServerCPUs, run.ElapsedS))
			usReq = append(usReq, run.ServerUsPerReq)
			clientCores = append(clientCores, perSecond(run.ClientCPUs, run.ElapsedS))
			foreign = append(foreign, perSecond(run.ForeignCPUs, run.ElapsedS))
			idle = append(idle, perSecond(run.IdleCPUs, run.ElapsedS))
			shed = append(shed, perSecond(float64(run.Shed), run.ElapsedS))
			s.MaxRSSKiB = max(s.MaxRSSKiB, run.ServerRSSKiB)
			s.MaxRSSAnonKiB = max(s.MaxRSSAnonKiB, run.RSSAnonPeakKiB)
			s.MaxRSSFileKiB = max(s.MaxRSSFileKiB, run.RSSFilePeakKiB)
			wamp = append(wamp, run.WriteAmp)
			s.Errors += run.Errors
			s.Unfinished += run.Unfinished
			for _, f := range run.Flags() {
				if !slices.Contains(s.Flags, f) {
					s.Flags = append(s.Flags, f)
				}
			}
			if b, ok := base[run.Round]; ok && k.Server != r.Settings.Baselines[k.Suite] {
				if ratio, ok := Ratio(run.Throughput, b.Throughput); ok {
					s.Ratios = append(s.Ratios, ratio)
				}
			}
			if run.Latency != nil {
				hist.Merge(run.Latency)
			}
		}
		s.MedianThroughput = Median(thr)
		s.MedianRPS = Median(rps)
		s.MedianP50us = Median(p50)
		s.MedianP99us = Median(p99)
		s.MedianP999us = Median(p999)
		s.MedianServiceP99us = Median(svc99)
		if len(backlog) > 0 {
			b := int(Median(backlog))
			s.MedianBacklogEnd = &b
		}
		s.MedianServerCores = Median(cores)
		s.MedianUsPerReq = Median(usReq)
		s.MedianClientCores = Median(clientCores)
		s.MedianForeignCores = Median(foreign)
		s.MedianIdleCores = Median(idle)
		s.MedianRatio = Median(s.Ratios)
		s.MedianShedPerS = Median(shed)
		s.MedianWriteAmp = Median(wamp)
		s.MedianMBps = s.MedianRPS * float64(s.BodyBytes) / 1e6
		if hist.Count() > 0 {
			for _, q := range CurveQuantiles() {
				s.Percentiles = append(s.Percentiles, Percentile{Q: q, Us: toMicros(hist.Quantile(q))})
			}
		}
		r.Summary = append(r.Summary, s)
	}
	r.RestartSummary = r.summarizeRestarts()
	r.Goals = r.goals()
}

// summarizeRestarts pairs the cold and warm start of every round; nil if
// the restart suite did not run.
func (r *Report) summarizeRestarts() *RestartSummary {
	if len(r.Restarts) == 0 {
		return nil
	}
	cold, warm := map[int]float64{}, map[int]float64{}
	var colds, warms []float64
	for _, s := range r.Restarts {
		switch s.Cache {
		case CacheCold:
			cold[s.Round] = s.ReadyMs
			colds = append(colds, s.ReadyMs)
		case CacheWarm:
			warm[s.Round] = s.ReadyMs
			warms = append(warms, s.ReadyMs)
		}
	}
	rs := &RestartSummary{MedianColdMs: Median(colds), MedianWarmMs: Median(warms), Ratios: []float64{}}
	for _, round := range slices.Sorted(maps.Keys(cold)) {
		if w, ok := warm[round]; ok {
			if v, ok := Ratio(w, cold[round]); ok {
				rs.Ratios = append(rs.Ratios, v)
			}
		}
	}
	rs.MedianRatio = Median(rs.Ratios)
	return rs
}

// Find returns the summary of the key, if any.
func (r *Report) Find(k Key) (Summary, bool) {
	for _, s := range r.Summary {
		if s.key() == k {
			return s, true
		}
	}
	return Summary{}, false
}

// byRound indexes the runs of one key by round.
func (r *Report) byRound(k Key) map[int]*Run {
	m := map[int]*Run{}
	for i := range r.Runs {
		if run := &r.Runs[i]; run.key() == k {
			m[run.Round] = run
		}
	}
	return m
}

// Ratio returns num/den, and false when den is not positive (a baseline run
// that served nothing cannot anchor a ratio).
func Ratio(num, den float64) (float64, bool) {
	if den <= 0 {
		return 0, false
	}
	return num / den, true
}

// Median returns the median of xs (the mean of the two middle values for an
// even count), or 0 for none. xs is not modified.
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	mid := len(s) / 2
	if len(s)%2 == 1 {
		return s[mid]
	}
	return (s[mid-1] + s[mid]) / 2
}

func perSecond(v, seconds float64) float64 {
	if seconds <= 0 {
		return 0
	}
	return v / seconds
}

func toMicros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// WriteJSON writes r as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("encoding report: %w", err)
	}
	return nil
}
