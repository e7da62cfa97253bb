package charts

import (
	"bytes"
	"encoding/xml"
	"slices"
	"testing"

	"github.com/sluicehq/sluice/benchmarks/internal/report"
)

func sample() *report.Report {
	r := &report.Report{Settings: report.Settings{
		Suites: []string{report.SuiteIngest, report.SuiteOpenLoop, report.SuiteSync},
		Rounds: 1,
		Baselines: map[string]string{report.SuiteIngest: report.NameBare, report.SuiteOpenLoop: report.NameBare,
			report.SuiteSync: report.NameSink},
	}}
	curve := []report.Percentile{{Q: 0, Us: 0}, {Q: 0.5, Us: 100}, {Q: 0.99, Us: 900}, {Q: 1, Us: 5000}}
	r.Summary = []report.Summary{
		{Suite: report.SuiteIngest, Conns: 64, Server: report.NameBare, MedianThroughput: 60000, Percentiles: curve},
		{Suite: report.SuiteIngest, Conns: 64, Server: report.NameSluiceFsync, MedianThroughput: 15000, MedianRatio: 0.25, Percentiles: curve},
		{Suite: report.SuiteIngest, Conns: 64, Server: report.NameByHand, MedianThroughput: 5000, MedianRatio: 0.08, Percentiles: curve},
		{Suite: report.SuiteOpenLoop, Conns: 64, Rate: 5000, Server: report.NameBare, MedianThroughput: 5000, Percentiles: curve},
	}
	r.Summary[1].MedianWriteAmp, r.Summary[1].MaxRSSAnonKiB, r.Summary[1].MaxRSSFileKiB = 2.5, 300<<10, 900<<10
	r.Servers = []report.Server{
		{Suite: report.SuiteIngest, Name: report.NameBare, Kind: "bare"},
		{Suite: report.SuiteIngest, Name: report.NameSluiceFsync, Kind: "sluice"},
		{Suite: report.SuiteIngest, Name: report.NameByHand, Kind: "by-hand"},
	}
	return r
}

func TestRender(t *testing.T) {
	charts, err := Render(sample())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range charts {
		names = append(names, c.Name)
		if !bytes.Contains(c.SVG, []byte("<svg")) {
			t.Errorf("%s is not an SVG: %.80q", c.Name, c.SVG)
		}
		// Well-formed XML, so browsers and GitHub render it.
		d := xml.NewDecoder(bytes.NewReader(c.SVG))
		for {
			if _, err := d.Token(); err != nil {
				if err.Error() != "EOF" {
					t.Errorf("%s: %v", c.Name, err)
				}
				break
			}
		}
	}
	// No sync summaries: no sync chart.
	if want := []string{"throughput", "disk-writes", "memory", "ingest-latency", "openloop-latency"}; !slices.Equal(names, want) {
		t.Errorf("charts %v, want %v", names, want)
	}
	// Only Sluice servers have disk-write and memory bars, with their values.
	for _, c := range charts {
		switch c.Name {
		case "disk-writes":
			if !bytes.Contains(c.SVG, []byte("2.50")) || bytes.Contains(c.SVG, []byte(report.NameByHand)) {
				t.Errorf("disk-writes chart lacks sluice-fsync's 2.50 or shows the by-hand server")
			}
		case "memory":
			if !bytes.Contains(c.SVG, []byte("RssAnon")) || !bytes.Contains(c.SVG, []byte("RssFile")) {
				t.Errorf("memory chart lacks its legend")
			}
		}
	}
}

func TestNoSluiceNoLayoutCharts(t *testing.T) {
	r := sample()
	r.Servers = nil
	charts, err := Render(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range charts {
		if c.Name == "disk-writes" || c.Name == "memory" {
			t.Errorf("chart %s drawn without a Sluice server", c.Name)
		}
	}
}

func TestPercentileX(t *testing.T) {
	for q, want := range map[float64]float64{0: 0, 0.9: 1, 0.99: 2, 1: maxX} {
		if got := percentileX(q); got < want-1e-9 || got > want+1e-9 {
			t.Errorf("percentileX(%v) = %v, want %v", q, got, want)
		}
	}
}

func TestCurveLabel(t *testing.T) {
	tests := []struct {
		s    report.Summary
		want string
	}{
		{report.Summary{Server: "bare", Conns: 64}, "bare @ 64 conns"},
		{report.Summary{Server: "sink", Conns: 1}, "sink @ 1 conn"},
		{report.Summary{Server: "bare", Conns: 64, Rate: 5000}, "bare @ 5000/s"},
		{report.Summary{Server: "sluice-fsync", Conns: 64, BodyBytes: 65536}, "sluice-fsync @ 64 conns, 64 KiB"},
	}
	for _, tt := range tests {
		if got := curveLabel(tt.s); got != tt.want {
			t.Errorf("curveLabel(%+v) = %q, want %q", tt.s, got, tt.want)
		}
	}
}
