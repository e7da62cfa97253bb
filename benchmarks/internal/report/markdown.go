package report

import (
	"bufio"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// WriteMarkdown renders r for humans: a header, the goals table, then per
// suite its per-round tables (ratios of the same round), a per-server
// summary (medians over rounds), and finally the flagged runs.
func (r *Report) WriteMarkdown(w io.Writer) error {
	bw := bufio.NewWriter(w)
	p := func(format string, args ...any) { fmt.Fprintf(bw, format, args...) }
	st := r.Settings

	p("## Sluice benchmarks (%s)\n\n", r.StartedAt.UTC().Format("2006-01-02 15:04 UTC"))
	if r.SelfTest {
		p("> **SELF-TEST**: every server below is the bare fasthttp server; the numbers only check the harness and say nothing about Sluice.\n\n")
	}
	m := r.Machine
	p("- machine: %d × %s, %s, linux %s, load avg %.2f → %.2f\n",
		m.NumCPU, orDash(m.CPUModel), m.GoVersion, orDash(m.Kernel), r.LoadAvg[0], r.LoadAvg[1])
	p("- revision: %s\n", orDash(r.Revision))
	p("- run: suites %s; %d rounds × (%s warmup + %s measure) per server and load, servers interleaved within each round; %d B POST; load generator on the same cores",
		strings.Join(st.Suites, ", "), st.Rounds, seconds(st.WarmupS), seconds(st.MeasureS), st.BodyBytes)
	if !r.FinishedAt.IsZero() {
		p("; took %s", r.FinishedAt.Sub(r.StartedAt).Round(time.Second))
	}
	p("\n")

	r.writeGoals(p)
	for _, suite := range st.Suites {
		switch suite {
		case SuiteIngest:
			r.writeIngest(p)
		case SuiteE2E:
			r.writeE2E(p)
		case SuiteSync:
			r.writeSync(p)
		case SuiteOpenLoop:
			r.writeOpenLoop(p)
		}
	}
	r.writeFlagged(p)
	return bw.Flush()
}

type printer func(format string, args ...any)

func (r *Report) writeGoals(p printer) {
	if len(r.Goals) == 0 {
		return
	}
	p("\n### Goals\n\n")
	p("Median of the per-round values; each round pairs runs measured back to back. B-lines compare with the by-hand baseline and have no target.\n\n")
	p("| goal | measures | median | per round | target | result |\n|---|---|---:|---|---|---|\n")
	var notes []string
	for _, g := range r.Goals {
		rounds := make([]string, len(g.Rounds))
		for i, v := range g.Rounds {
			rounds[i] = goalValue(v, g.Unit)
		}
		result := "–"
		if g.Pass != nil {
			result = map[bool]string{true: "pass", false: "**FAIL**"}[*g.Pass]
		}
		if len(g.Flags) > 0 {
			result += " ⚠"
		}
		p("| %s | %s | **%s** | %s | %s | %s |\n", g.ID, g.What, goalValue(g.Median, g.Unit),
			strings.Join(rounds, ", "), g.Target, result)
		var n []string
		if g.Note != "" {
			n = append(n, g.Note)
		}
		if len(g.Flags) > 0 {
			n = append(n, "⚠ flagged runs: "+strings.Join(g.Flags, ", "))
		}
		if len(n) > 0 {
			notes = append(notes, fmt.Sprintf("- %s: %s", g.ID, strings.Join(n, "; ")))
		}
	}
	if len(notes) > 0 {
		p("\n%s\n", strings.Join(notes, "\n"))
	}
}

func goalValue(v float64, unit string) string {
	if unit == "µs" {
		return fmt.Sprintf("%.0f µs", v)
	}
	return fmt.Sprintf("%.2f", v)
}

// servers lists the servers of a suite in the order they were registered.
func (r *Report) servers(suite string) []string {
	var out []string
	for _, s := range r.Servers {
		if s.Suite == suite {
			out = append(out, s.Name)
		}
	}
	return out
}

func (r *Report) serverList(suite string) string {
	var names []string
	for _, n := range r.servers(suite) {
		names = append(names, "`"+n+"`")
	}
	return strings.Join(names, ", ")
}

func (r *Report) writeIngest(p printer) {
	st := r.Settings
	base := st.Baselines[SuiteIngest]
	p("\n### ingest: async durable ingest, closed loop\n\n")
	p("Servers %s; ratios to `%s`. `%s` is the baseline \"what you would write by hand\": net/http, a fresh wazero instance of the transform per message, one Badger transaction per message with SyncWrites.\n",
		r.serverList(SuiteIngest), base, NameByHand)
	for _, conns := range st.Conns {
		p("\n#### %d connections\n\n", conns)
		r.roundTable(p, SuiteIngest, conns, 0, "rps")
		r.serverTable(p, SuiteIngest, conns, 0, "rps")
	}
}

func (r *Report) writeE2E(p printer) {
	p("\n### e2e: async ingest → log → transform → POST to the sink, closed loop, %d connections\n\n", GoalConns)
	p("`%s` is loaded directly (its own rps, the ceiling); for `%s` the throughput is what the sink counted in the window (delivered/s).",
		NameSink, NameSluiceE2E)
	if r.Settings.Transform != "" {
		p(" The route runs `%s`.", r.Settings.Transform)
	}
	p("\n\n")
	r.roundTable(p, SuiteE2E, GoalConns, 0, "/s")
	runs := r.byRound(Key{SuiteE2E, GoalConns, 0, NameSluiceE2E})
	if len(runs) > 0 {
		p("| round | %s accepted/s | delivered/s | backlog start → end |\n|---:|---:|---:|---|\n", NameSluiceE2E)
		for _, round := range slices.Sorted(maps.Keys(runs)) {
			run := runs[round]
			p("| %d | %s | %s | %s → %s |\n", round, num(run.RPS), num(run.DeliveredPerS),
				intPtr(run.BacklogStart), intPtr(run.BacklogEnd))
		}
		p("\n")
	}
	r.serverTable(p, SuiteE2E, GoalConns, 0, "/s")
}

func (r *Report) writeSync(p printer) {
	p("\n### sync: sync route to the sink vs the sink directly, closed loop\n\n")
	if len(r.Fsync) > 0 {
		var parts []string
		var p50 []float64
		for _, f := range r.Fsync {
			parts = append(parts, fmt.Sprintf("%.0f", f.P50us))
			p50 = append(p50, f.P50us)
		}
		p("fsync probe (write 1 KiB + fdatasync next to the data dir, %d samples per round): p50 %s µs, median **%.0f µs**.\n",
			r.Fsync[0].Samples, strings.Join(parts, ", "), Median(p50))
	}
	for _, conns := range r.suiteConns(SuiteSync) {
		p("\n#### %d connection%s\n\n", conns, plural(conns))
		a, b := r.byRound(Key{SuiteSync, conns, 0, NameSink}), r.byRound(Key{SuiteSync, conns, 0, NameSluiceSync})
		p("| round | %[1]s p50 | %[2]s p50 | difference | %[1]s p99 | %[2]s p99 | ratio | %[1]s rps | %[2]s rps |\n", NameSink, NameSluiceSync)
		p("|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
		for round := 1; round <= r.Settings.Rounds; round++ {
			x, y := a[round], b[round]
			if x == nil || y == nil {
				continue
			}
			ratio := "–"
			if v, ok := Ratio(y.P99us, x.P99us); ok {
				ratio = fmt.Sprintf("%.2f", v)
			}
			p("| %d | %s | %s | %s | %s | %s | %s | %s | %s |\n", round, micros(x.P50us), micros(y.P50us),
				micros(y.P50us-x.P50us), micros(x.P99us), micros(y.P99us), ratio, rpsCell(x), rpsCell(y))
		}
		p("\n")
		r.serverTable(p, SuiteSync, conns, 0, "rps")
	}
}

func (r *Report) writeOpenLoop(p printer) {
	p("\n### openloop: fixed request rates, %d connections, latency from the intended send time\n\n", r.Settings.OpenConns)
	p("Coordinated-omission corrected: a request waits for a free connection and the latency runs from when it was due. `service p99` is measured from the actual send. `unfinished`: requests due but unanswered when the window closed (all rounds); they enter the percentiles with the time waited so far.\n\n")
	p("| rate | server | achieved rps | p50 | p99 | p99.9 | service p99 | unfinished | server CPU | RSS max | errors | flags |\n")
	p("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
	for _, s := range r.Summary {
		if s.Suite != SuiteOpenLoop {
			continue
		}
		p("| %s/s | %s | %s | %s | %s | %s | %s | %d | %.2f cores | %.0f MiB | %d | %s |\n",
			num(s.Rate), s.Server, num(s.MedianRPS), micros(s.MedianP50us), micros(s.MedianP99us),
			micros(s.MedianP999us), micros(s.MedianServiceP99us), s.Unfinished, s.MedianServerCores,
			float64(s.MaxRSSKiB)/1024, s.Errors, orDash(strings.Join(s.Flags, ", ")))
	}
}

// suiteConns lists the connection counts of a suite's runs, in order.
func (r *Report) suiteConns(suite string) []int {
	var out []int
	for _, run := range r.Runs {
		if run.Suite == suite && !slices.Contains(out, run.Conns) {
			out = append(out, run.Conns)
		}
	}
	return out
}

// roundTable prints, per round, the baseline's throughput and every other
// server's throughput and ratio to it.
func (r *Report) roundTable(p printer, suite string, conns int, rate float64, unit string) {
	base := r.Settings.Baselines[suite]
	others := slices.DeleteFunc(r.servers(suite), func(s string) bool { return s == base })
	p("| round | %s %s |", base, unit)
	sep := "|---:|---:|"
	for _, s := range others {
		p(" %s %s | ratio |", s, unit)
		sep += "---:|---:|"
	}
	p("\n%s\n", sep)
	baseRuns := r.byRound(Key{suite, conns, rate, base})
	otherRuns := make([]map[int]*Run, len(others))
	for i, s := range others {
		otherRuns[i] = r.byRound(Key{suite, conns, rate, s})
	}
	for round := 1; round <= r.Settings.Rounds; round++ {
		b := baseRuns[round]
		cells := fmt.Sprintf("| %d | %s |", round, rpsCell(b))
		seen := b != nil
		for i := range others {
			run := otherRuns[i][round]
			seen = seen || run != nil
			ratio := "–"
			if run != nil && b != nil {
				if v, ok := Ratio(run.Throughput, b.Throughput); ok {
					ratio = fmt.Sprintf("%.2f", v)
				}
			}
			cells += fmt.Sprintf(" %s | %s |", rpsCell(run), ratio)
		}
		if seen {
			p("%s\n", cells)
		}
	}
	bs, _ := r.Find(Key{suite, conns, rate, base})
	p("| **median** | %s |", num(bs.MedianThroughput))
	for _, s := range others {
		sum, _ := r.Find(Key{suite, conns, rate, s})
		p(" %s | **%.2f** |", num(sum.MedianThroughput), sum.MedianRatio)
	}
	p("\n\n")
}

// serverTable prints the medians over rounds of every server at one load.
func (r *Report) serverTable(p printer, suite string, conns int, rate float64, unit string) {
	p("| server | median %s | p50 | p99 | p99.9 | server CPU | server CPU/req | RSS max | harness CPU | other load | idle | errors | flags |\n", unit)
	p("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
	for _, name := range r.servers(suite) {
		s, ok := r.Find(Key{suite, conns, rate, name})
		if !ok {
			continue
		}
		p("| %s | %s | %s | %s | %s | %.2f cores | %.1f µs | %.0f MiB | %.2f cores | %.2f cores | %.2f cores | %d | %s |\n",
			name, num(s.MedianThroughput), micros(s.MedianP50us), micros(s.MedianP99us), micros(s.MedianP999us),
			s.MedianServerCores, s.MedianUsPerReq, float64(s.MaxRSSKiB)/1024,
			s.MedianClientCores, s.MedianForeignCores, s.MedianIdleCores,
			s.Errors, orDash(strings.Join(s.Flags, ", ")))
	}
}

// writeFlagged lists flagged runs with the details a reader needs to judge them.
func (r *Report) writeFlagged(p printer) {
	var flagged []string
	for _, run := range r.Runs {
		if len(run.Flags()) == 0 {
			continue
		}
		var parts []string
		if run.Errors > 0 {
			parts = append(parts, fmt.Sprintf("%d errors (%s)", run.Errors, errorBreakdown(&run)))
		}
		if run.Dials != uint64(run.Conns) {
			parts = append(parts, fmt.Sprintf("%d connections dialed for %d", run.Dials, run.Conns))
		}
		if !run.Settled {
			parts = append(parts, "servers were still busy before the run")
		}
		if run.ElapsedS > 0 && run.ForeignCPUs/run.ElapsedS > NoisyCores {
			parts = append(parts, fmt.Sprintf("other processes used %.2f cores", run.ForeignCPUs/run.ElapsedS))
		}
		if run.BacklogGrew() {
			parts = append(parts, fmt.Sprintf("backlog grew %d → %d", *run.BacklogStart, *run.BacklogEnd))
		}
		if run.Overloaded() {
			parts = append(parts, fmt.Sprintf("%d requests unanswered at the end", run.Unfinished))
		}
		load := fmt.Sprintf("%d conns", run.Conns)
		if run.Rate > 0 {
			load = num(run.Rate) + "/s"
		}
		flagged = append(flagged, fmt.Sprintf("- %s, %s, round %d, %s: %s", run.Suite, load, run.Round, run.Server,
			strings.Join(parts, "; ")))
	}
	if len(flagged) > 0 {
		p("\n### Flagged runs\n\n%s\n", strings.Join(flagged, "\n"))
	}
}

func errorBreakdown(run *Run) string {
	var parts []string
	for _, code := range slices.Sorted(maps.Keys(run.Rejected)) {
		parts = append(parts, fmt.Sprintf("%d×%d", code, run.Rejected[code]))
	}
	if run.TransportErrors > 0 {
		parts = append(parts, fmt.Sprintf("transport×%d", run.TransportErrors))
	}
	s := strings.Join(parts, ", ")
	if run.FirstError != "" {
		s += "; first: " + run.FirstError
	}
	return s
}

func rpsCell(run *Run) string {
	if run == nil {
		return "–"
	}
	s := num(run.Throughput)
	if len(run.Flags()) > 0 {
		s += " ⚠"
	}
	return s
}

// num formats a rate with thousands separators: 61234.5 → "61,235".
func num(v float64) string {
	s := strconv.FormatInt(int64(v+0.5), 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func micros(us float64) string {
	switch {
	case us >= 1e6 || us <= -1e6:
		return fmt.Sprintf("%.2f s", us/1e6)
	case us >= 1000 || us <= -1000:
		return fmt.Sprintf("%.2f ms", us/1000)
	}
	return fmt.Sprintf("%.0f µs", us)
}

func intPtr(v *int) string {
	if v == nil {
		return "?"
	}
	return strconv.Itoa(*v)
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func seconds(s float64) string { return strconv.FormatFloat(s, 'f', -1, 64) + "s" }

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}
