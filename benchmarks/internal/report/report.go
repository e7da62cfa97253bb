package report

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/sluicehq/sluice/benchmarks/internal/procstat"
)

// Schema identifies the JSON layout of a Report.
const Schema = "sluice-bench-ingest/v1"

// Goals from the issue: the async durable ingest should reach at least this
// fraction of the bare server's rate at 64 connections.
const (
	Goal        = 0.5
	ProjectGoal = 0.7
	GoalConns   = 64
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
	Summary    []Summary        `json:"summary"`
}

// Settings are the harness parameters of the invocation.
type Settings struct {
	Rounds     int     `json:"rounds"`
	WarmupS    float64 `json:"warmup_s"`
	MeasureS   float64 `json:"measure_s"`
	BodyBytes  int     `json:"body_bytes"`
	Conns      []int   `json:"conns"`
	Baseline   string  `json:"baseline"`    // server every ratio divides by
	GoalServer string  `json:"goal_server"` // server the goal applies to
	LoadModel  string  `json:"load_model"`  // "closed"
}

// Server describes one configuration under test.
type Server struct {
	Name       string   `json:"name"`
	Kind       string   `json:"kind"`                 // "bare" or "sluice"
	Durability string   `json:"durability,omitempty"` // sluice only
	Command    []string `json:"command"`
	DataBytes  int64    `json:"data_dir_bytes,omitempty"` // size of its data dir at the end
}

// Run is one measured window of one server at one connection count.
type Run struct {
	Conns  int    `json:"conns"`
	Round  int    `json:"round"` // 1-based
	Server string `json:"server"`

	RPS             float64        `json:"rps"` // 202 answers per second
	Accepted        uint64         `json:"accepted"`
	Errors          uint64         `json:"errors"`             // everything that was not a 202
	Rejected        map[int]uint64 `json:"rejected,omitempty"` // non-202 answers by status
	TransportErrors uint64         `json:"transport_errors"`
	FirstError      string         `json:"first_error,omitempty"`
	ElapsedS        float64        `json:"elapsed_s"`

	P50us float64 `json:"p50_us"`
	P99us float64 `json:"p99_us"`
	MaxUs float64 `json:"max_us"`

	Dials           uint64 `json:"dials"` // connections opened; == conns when all stayed up
	MinConnAccepted uint64 `json:"min_conn_accepted"`
	MaxConnAccepted uint64 `json:"max_conn_accepted"`

	ServerCPUs      float64 `json:"server_cpu_s"` // CPU time of the server in the window
	ServerUsPerReq  float64 `json:"server_cpu_us_per_req"`
	ServerRSSKiB    uint64  `json:"server_rss_kib"`  // at the end of the window
	ServerPeakKiB   uint64  `json:"server_peak_kib"` // VmHWM since start
	ClientCPUs      float64 `json:"client_cpu_s"`    // CPU time of the harness in the window
	ClientAllocsReq float64 `json:"client_allocs_per_req"`
	OthersCPUs      float64 `json:"others_cpu_s"`  // CPU of the idle servers in the window
	ForeignCPUs     float64 `json:"foreign_cpu_s"` // CPU of everything else on the machine (incl. steal)
	IdleCPUs        float64 `json:"idle_cpu_s"`    // machine idle time in the window, all CPUs
	Settled         bool    `json:"settled"`       // all servers were idle before the run
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
	return f
}

// Summary aggregates one server's rounds at one connection count.
type Summary struct {
	Conns  int    `json:"conns"`
	Server string `json:"server"`

	MedianRPS          float64 `json:"median_rps"`
	MedianP50us        float64 `json:"median_p50_us"`
	MedianP99us        float64 `json:"median_p99_us"`
	MedianServerCores  float64 `json:"median_server_cores"`
	MedianUsPerReq     float64 `json:"median_server_cpu_us_per_req"`
	MedianClientCores  float64 `json:"median_client_cores"`
	MedianForeignCores float64 `json:"median_foreign_cores"`
	MedianIdleCores    float64 `json:"median_idle_cores"`
	MaxRSSKiB          uint64  `json:"max_rss_kib"`
	Errors             uint64  `json:"errors"`

	// Ratios are this server's rps divided by the baseline's rps of the same
	// round, in round order; MedianRatio is their median. Both are absent
	// for the baseline itself.
	Ratios      []float64 `json:"ratios,omitempty"`
	MedianRatio float64   `json:"median_ratio,omitempty"`

	Flags []string `json:"flags,omitempty"` // union of the runs' flags
}

// Summarize fills r.Summary from r.Runs: one entry per connection count and
// server, in the order of Settings.Conns and Servers.
func (r *Report) Summarize() {
	r.Summary = r.Summary[:0]
	for _, conns := range r.Settings.Conns {
		base := r.rpsByRound(conns, r.Settings.Baseline)
		for _, srv := range r.Servers {
			s := Summary{Conns: conns, Server: srv.Name}
			var rps, p50, p99, cores, usReq, clientCores, foreign, idle []float64
			for i := range r.Runs {
				run := &r.Runs[i]
				if run.Conns != conns || run.Server != srv.Name {
					continue
				}
				rps = append(rps, run.RPS)
				p50 = append(p50, run.P50us)
				p99 = append(p99, run.P99us)
				cores = append(cores, perSecond(run.ServerCPUs, run.ElapsedS))
				usReq = append(usReq, run.ServerUsPerReq)
				clientCores = append(clientCores, perSecond(run.ClientCPUs, run.ElapsedS))
				foreign = append(foreign, perSecond(run.ForeignCPUs, run.ElapsedS))
				idle = append(idle, perSecond(run.IdleCPUs, run.ElapsedS))
				s.MaxRSSKiB = max(s.MaxRSSKiB, run.ServerRSSKiB)
				s.Errors += run.Errors
				for _, f := range run.Flags() {
					if !slices.Contains(s.Flags, f) {
						s.Flags = append(s.Flags, f)
					}
				}
				if srv.Name != r.Settings.Baseline {
					if b, ok := base[run.Round]; ok {
						if ratio, ok := Ratio(run.RPS, b); ok {
							s.Ratios = append(s.Ratios, ratio)
						}
					}
				}
			}
			if len(rps) == 0 {
				continue
			}
			s.MedianRPS = Median(rps)
			s.MedianP50us = Median(p50)
			s.MedianP99us = Median(p99)
			s.MedianServerCores = Median(cores)
			s.MedianUsPerReq = Median(usReq)
			s.MedianClientCores = Median(clientCores)
			s.MedianForeignCores = Median(foreign)
			s.MedianIdleCores = Median(idle)
			s.MedianRatio = Median(s.Ratios)
			r.Summary = append(r.Summary, s)
		}
	}
}

// Find returns the summary of server at conns, if any.
func (r *Report) Find(conns int, server string) (Summary, bool) {
	for _, s := range r.Summary {
		if s.Conns == conns && s.Server == server {
			return s, true
		}
	}
	return Summary{}, false
}

func (r *Report) rpsByRound(conns int, server string) map[int]float64 {
	m := map[int]float64{}
	for _, run := range r.Runs {
		if run.Conns == conns && run.Server == server {
			m[run.Round] = run.RPS
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

// WriteJSON writes r as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("encoding report: %w", err)
	}
	return nil
}
