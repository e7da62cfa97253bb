package report

import (
	"bytes"
	"encoding/json"
	"flag"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/sluicehq/sluice/benchmarks/internal/procstat"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestMedian(t *testing.T) {
	tests := []struct {
		name string
		in   []float64
		want float64
	}{
		{"empty", nil, 0},
		{"one", []float64{3}, 3},
		{"odd unsorted", []float64{5, 1, 3}, 3},
		{"even takes mean of middle two", []float64{4, 1, 3, 2}, 2.5},
		{"duplicates", []float64{2, 2, 9, 2}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := slices.Clone(tt.in)
			if got := Median(in); got != tt.want {
				t.Errorf("Median(%v) = %v, want %v", tt.in, got, tt.want)
			}
			if !slices.Equal(in, tt.in) {
				t.Errorf("Median modified its input: %v", in)
			}
		})
	}
}

func TestRatio(t *testing.T) {
	if v, ok := Ratio(30, 60); !ok || v != 0.5 {
		t.Errorf("Ratio(30, 60) = %v, %v", v, ok)
	}
	if _, ok := Ratio(30, 0); ok {
		t.Error("Ratio with zero baseline must not be ok")
	}
}

// sample builds a report whose median of per-round ratios (0.5) differs from
// the ratio of its median rates (40/60 ≈ 0.67).
func sample() *Report {
	r := &Report{
		Schema:    Schema,
		StartedAt: time.Date(2025, 11, 25, 22, 30, 0, 0, time.UTC),
		Machine:   procstat.Machine{NumCPU: 2, CPUModel: "Test CPU", GoVersion: "go1.26.8", Kernel: "6.8.0"},
		LoadAvg:   [2]float64{0.5, 1.75},
		Revision:  "abc1234",
		Settings: Settings{Rounds: 3, WarmupS: 2, MeasureS: 5, BodyBytes: 1024, Conns: []int{64},
			Baseline: "bare", GoalServer: "sluice-fsync", LoadModel: "closed"},
		Servers: []Server{
			{Name: "bare", Kind: "bare", Command: []string{"ingest", "bare-server"}},
			{Name: "sluice-fsync", Kind: "sluice", Durability: "fsync", Command: []string{"sluice", "serve"}},
		},
	}
	add := func(round int, server string, rps float64) {
		r.Runs = append(r.Runs, Run{Conns: 64, Round: round, Server: server, RPS: rps,
			Accepted: uint64(rps * 5), ElapsedS: 5, P50us: 800, P99us: 2500, Dials: 64,
			ServerCPUs: 5, ServerUsPerReq: 1e6 / rps, ServerRSSKiB: 20480, ClientCPUs: 4, Settled: true})
	}
	// bare:   100, 60, 50   → median 60
	// sluice:  50, 30, 40   → median 40; ratios 0.5, 0.5, 0.8 → median 0.5
	add(1, "bare", 100)
	add(1, "sluice-fsync", 50)
	add(2, "bare", 60)
	add(2, "sluice-fsync", 30)
	add(3, "bare", 50)
	add(3, "sluice-fsync", 40)
	return r
}

func TestSummarizeUsesMedianOfPerRoundRatios(t *testing.T) {
	r := sample()
	r.Summarize()
	s, ok := r.Find(64, "sluice-fsync")
	if !ok {
		t.Fatal("no summary for sluice-fsync")
	}
	if want := []float64{0.5, 0.5, 0.8}; !slices.Equal(s.Ratios, want) {
		t.Errorf("Ratios = %v, want %v", s.Ratios, want)
	}
	if s.MedianRatio != 0.5 {
		t.Errorf("MedianRatio = %v, want 0.5 (ratio of medians would be %.3f)", s.MedianRatio, 40.0/60)
	}
	if s.MedianRPS != 40 {
		t.Errorf("MedianRPS = %v, want 40", s.MedianRPS)
	}
	if math.Abs(s.MedianServerCores-1) > 1e-9 {
		t.Errorf("MedianServerCores = %v, want 1", s.MedianServerCores)
	}
	b, _ := r.Find(64, "bare")
	if b.Ratios != nil || b.MedianRatio != 0 {
		t.Errorf("baseline has ratios: %+v", b)
	}
}

func TestSummarizeSkipsRoundsWithoutBaseline(t *testing.T) {
	r := sample()
	r.Runs[4].RPS = 0 // round 3 baseline served nothing
	r.Summarize()
	s, _ := r.Find(64, "sluice-fsync")
	if want := []float64{0.5, 0.5}; !slices.Equal(s.Ratios, want) {
		t.Errorf("Ratios = %v, want %v", s.Ratios, want)
	}
}

func TestRunFlags(t *testing.T) {
	run := Run{Conns: 64, Dials: 64, Settled: true}
	if f := run.Flags(); len(f) != 0 {
		t.Errorf("clean run flagged %v", f)
	}
	run = Run{Conns: 64, Dials: 70, Errors: 3, ElapsedS: 5, ForeignCPUs: 2.5}
	if f := run.Flags(); !slices.Equal(f, []string{"errors", "reconnects", "unsettled", "noisy"}) {
		t.Errorf("flags = %v", f)
	}
}

func TestMarkdownGolden(t *testing.T) {
	r := sample()
	// One flagged run to exercise the error listing.
	r.Runs[3].Errors = 12
	r.Runs[3].Rejected = map[int]uint64{503: 10}
	r.Runs[3].TransportErrors = 2
	r.Runs[3].FirstError = "timeout"
	r.Summarize()
	var buf bytes.Buffer
	if err := r.WriteMarkdown(&buf); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "ingest.md.golden")
	if *update {
		if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create)", err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("markdown differs from %s (run with -update if intended):\n%s", golden, buf.String())
	}
}

func TestJSONRoundTrip(t *testing.T) {
	r := sample()
	r.Summarize()
	var buf bytes.Buffer
	if err := r.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if back.Schema != Schema || len(back.Runs) != len(r.Runs) || len(back.Summary) != 2 {
		t.Errorf("round trip lost data: schema %q, %d runs, %d summaries", back.Schema, len(back.Runs), len(back.Summary))
	}
}

func TestNum(t *testing.T) {
	for in, want := range map[float64]string{0: "0", 999: "999", 1000: "1,000", 61234.6: "61,235", 1234567: "1,234,567"} {
		if got := num(in); got != want {
			t.Errorf("num(%v) = %q, want %q", in, got, want)
		}
	}
}
