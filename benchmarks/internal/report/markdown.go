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
	extra := func(s string) bool { return slices.Contains(ExtraSuites, s) }
	if !slices.ContainsFunc(st.Suites, func(s string) bool { return !extra(s) }) {
		p("- run: suites %s; servers interleaved within each round; load generator on the same cores", strings.Join(st.Suites, ", "))
	} else {
		p("- run: suites %s; %d rounds × (%s warmup + %s measure) per server and load, servers interleaved within each round; %d B POST; load generator on the same cores",
			strings.Join(st.Suites, ", "), st.Rounds, seconds(st.WarmupS), seconds(st.MeasureS), st.BodyBytes)
	}
	if slices.ContainsFunc(st.Suites, extra) {
		p("; %s: %d rounds × (%s warmup + %s measure)", strings.Join(ExtraSuites, ", "),
			st.ExtraRounds, seconds(st.ExtraWarmupS), seconds(st.ExtraMeasureS))
	}
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
		case SuitePayload:
			r.writePayload(p)
		case SuiteVerify:
			r.writeVerify(p)
		case SuiteOrdering:
			r.writeOrdering(p)
		case SuiteRestart:
			r.writeRestart(p)
		case SuiteTracing:
			r.writeTracing(p)
		}
	}
	r.writeLayout(p)
	r.writeFlagged(p)
	return bw.Flush()
}

type printer func(format string, args ...any)

func (r *Report) writeGoals(p printer) {
	if len(r.Goals) == 0 {
		return
	}
	p("\n### Goals\n\n")
	p("Median of the per-round values; each round pairs runs measured back to back. B-lines (the by-hand baseline), P-lines (body sizes), O-lines (ordering modes) and R-lines (restart) have no target. S1 (sender verification) has the target the verify suite states: the security issue asks only that the cost be measured.\n\n")
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
	switch unit {
	case "µs":
		return fmt.Sprintf("%.0f µs", v)
	case "MiB":
		return fmt.Sprintf("%.0f MiB", v)
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
		k := Key{Suite: SuiteIngest, Conns: conns}
		r.roundTable(p, k, "rps")
		r.serverTable(p, k, "rps")
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
	k := Key{Suite: SuiteE2E, Conns: GoalConns}
	r.roundTable(p, k, "/s")
	runs := r.byRound(k.with(NameSluiceE2E))
	if len(runs) > 0 {
		p("| round | %s accepted/s | delivered/s | backlog start → end |\n|---:|---:|---:|---|\n", NameSluiceE2E)
		for _, round := range slices.Sorted(maps.Keys(runs)) {
			run := runs[round]
			p("| %d | %s | %s | %s → %s |\n", round, num(run.RPS), num(run.DeliveredPerS),
				intPtr(run.BacklogStart), intPtr(run.BacklogEnd))
		}
		p("\n")
	}
	r.serverTable(p, k, "/s")
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
		a, b := r.byRound(Key{SuiteSync, conns, 0, NameSink, 0}), r.byRound(Key{SuiteSync, conns, 0, NameSluiceSync, 0})
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
		r.serverTable(p, Key{Suite: SuiteSync, Conns: conns}, "rps")
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

// hasSummaries reports whether any server of suite has a summary.
func (r *Report) hasSummaries(suite string) bool {
	return slices.ContainsFunc(r.Summary, func(s Summary) bool { return s.Suite == suite })
}

func (r *Report) writePayload(p printer) {
	st := r.Settings
	if !r.hasSummaries(SuitePayload) {
		return
	}
	p("\n### payload: async durable ingest by body size, closed loop, %d connections\n\n", GoalConns)
	p("Bodies are JSON documents of exactly the size (`{\"data\":\"abc…\"}`, `application/json`); `%s` is the ingest suite's route. Ratios to `%s` of the same round; MB/s counts the bodies only (10⁶ bytes).\n\n",
		NameSluiceFsync, NameBare)
	p("| body | %[1]s rps | %[1]s MB/s | %[2]s rps | %[2]s MB/s | ratio | per round | %[2]s p99 | %[2]s CPU/req | flags |\n", NameBare, NameSluiceFsync)
	p("|---:|---:|---:|---:|---:|---:|---|---:|---:|---|\n")
	for _, body := range st.Payloads {
		k := Key{Suite: SuitePayload, Conns: GoalConns, Body: body}
		b, okB := r.Find(k.with(NameBare))
		s, okS := r.Find(k.with(NameSluiceFsync))
		if !okB && !okS {
			continue
		}
		flags := slices.Compact(slices.Sorted(slices.Values(append(slices.Clone(b.Flags), s.Flags...))))
		p("| %s | %s | %.1f | %s | %.1f | **%.2f** | %s | %s | %.1f µs | %s |\n", Bytes(body),
			num(b.MedianRPS), b.MedianMBps, num(s.MedianRPS), s.MedianMBps, s.MedianRatio,
			ratioList(s.Ratios), micros(s.MedianP99us), s.MedianUsPerReq, orDash(strings.Join(flags, ", ")))
	}
	for _, body := range st.Payloads {
		p("\n#### %s\n\n", Bytes(body))
		r.serverTable(p, Key{Suite: SuitePayload, Conns: GoalConns, Body: body}, "rps")
	}
}

func (r *Report) writeVerify(p printer) {
	if !r.hasSummaries(SuiteVerify) {
		return
	}
	k := Key{Suite: SuiteVerify, Conns: GoalConns}
	p("\n### verify: async durable ingest with and without sender verification, closed loop, %d connections\n\n", GoalConns)
	p("`%s` is the ingest suite's route; `%s` is the same route with `auth: {verify: github, secret: …}`, which checks the signature before anything is stored. Every request to both carries the same valid `%s` (HMAC-SHA256 of the fixed %d B body, computed once), so both servers read the same bytes and only the check differs; no `X-GitHub-Delivery`, so no message is a sender's retry. Ratios to `%s` of the same round.\n\n",
		NameSluiceFsync, NameSluiceGitHub, orDash(r.Settings.SignedHeader), r.Settings.BodyBytes, NameSluiceFsync)
	r.roundTable(p, k, "rps")
	r.serverTable(p, k, "rps")
}

func (r *Report) writeTracing(p printer) {
	if !r.hasSummaries(SuiteTracing) {
		return
	}
	k := Key{Suite: SuiteTracing, Conns: GoalConns}
	p("\n### tracing: e2e delivery with every span exported vs tracing off, closed loop, %d connections\n\n", GoalConns)
	p("`%s` is the e2e route (async", NameSluiceE2E)
	if r.Settings.Transform != "" {
		p(", `%s`", r.Settings.Transform)
	}
	p(", destination the sink); `%s` is the same route with `tracing: {otlp_endpoint: …, sample_ratio: 1}`: every message records its ingest, queue-wait, plugin and destination spans and exports them in batches over OTLP/HTTP to `%s` (a fasthttp server answering 200). Throughput is what the sink counted in the window (delivered/s). Ratios to `%s` of the same round.\n\n",
		NameSluiceTraced, NameOTLPSink, NameSluiceE2E)
	r.roundTable(p, k, "/s")
	r.serverTable(p, k, "/s")
}

func (r *Report) writeOrdering(p printer) {
	st := r.Settings
	if !r.hasSummaries(SuiteOrdering) {
		return
	}
	k := Key{Suite: SuiteOrdering, Conns: st.OrderConns}
	p("\n### ordering: e2e delivery by ordering mode, closed loop, %d connections\n\n", st.OrderConns)
	p("The e2e route (async")
	if st.Transform != "" {
		p(", `%s`", st.Transform)
	}
	p(", destination the sink) three times: `order_by: none` (`%s`, the baseline), per key `order_by: header:%s` (`%s`; every connection cycles through %d keys from its own offset, so the keys interleave) and strict FIFO `order_by: route` (`%s`). Throughput is what the sink counted in the window (delivered/s). Each route's backlog is capped at %d messages: past it Sluice answers 429, which the generator counts as shed (not as errors) and answers by pausing that connection for %g ms, so every mode is measured with a full backlog and leaves at most the cap to drain.\n\n",
		NameOrderNone, st.OrderHeader, NameOrderKey, st.OrderKeys, NameOrderFIFO, st.OrderBacklog, st.OrderRejectBackoffMs)
	r.roundTable(p, k, "/s")
	p("| server | order_by | median delivered/s | ratio | accepted/s | shed (429)/s | backlog at end | server CPU | server CPU/delivered | errors | flags |\n")
	p("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
	for _, srv := range r.Servers {
		s, ok := r.Find(k.with(srv.Name))
		if srv.Suite != SuiteOrdering || !ok {
			continue
		}
		ratio := "–"
		if len(s.Ratios) > 0 {
			ratio = fmt.Sprintf("**%.2f**", s.MedianRatio)
		}
		perDelivery := 0.0
		if s.MedianThroughput > 0 {
			perDelivery = s.MedianServerCores * 1e6 / s.MedianThroughput
		}
		p("| %s | %s | %s | %s | %s | %s | %s | %.2f cores | %.1f µs | %d | %s |\n", s.Server, orDash(code(srv.OrderBy)),
			num(s.MedianThroughput), ratio, num(s.MedianRPS), num(s.MedianShedPerS), intPtr(s.MedianBacklogEnd),
			s.MedianServerCores, perDelivery, s.Errors, orDash(strings.Join(s.Flags, ", ")))
	}
}

func (r *Report) writeRestart(p printer) {
	rs := r.RestartSummary
	if rs == nil {
		return
	}
	p("\n### restart: exec of `sluice serve` to its first 200 on GET /healthz\n\n")
	p("One async route per plugin (%s). cold: a fresh data dir, every plugin compiled; warm: the same data dir again, compiled code from wazero's cache in `<data_dir>/wasm-cache`. /healthz polled every 2 ms; each start stopped with SIGTERM before the next.\n\n",
		"`"+strings.Join(r.Settings.RestartPlugins, "`, `")+"`")
	p("| round | cold | warm | warm ÷ cold | cache size | cold stop | warm stop |\n|---:|---:|---:|---:|---:|---:|---:|\n")
	byRound := map[int]map[string]Restart{}
	for _, s := range r.Restarts {
		if byRound[s.Round] == nil {
			byRound[s.Round] = map[string]Restart{}
		}
		byRound[s.Round][s.Cache] = s
	}
	for _, round := range slices.Sorted(maps.Keys(byRound)) {
		c, okC := byRound[round][CacheCold]
		w, okW := byRound[round][CacheWarm]
		ratio := "–"
		if v, ok := Ratio(w.ReadyMs, c.ReadyMs); ok && okC && okW {
			ratio = fmt.Sprintf("%.2f", v)
		}
		p("| %d | %s | %s | %s | %s | %s | %s |\n", round, msCell(c.ReadyMs, okC), msCell(w.ReadyMs, okW), ratio,
			mib(c.CacheBytes), msCell(c.StopMs, okC), msCell(w.StopMs, okW))
	}
	p("| **median** | %.0f ms | %.0f ms | **%.2f** | | | |\n", rs.MedianColdMs, rs.MedianWarmMs, rs.MedianRatio)
}

func msCell(ms float64, ok bool) string {
	if !ok {
		return "–"
	}
	return fmt.Sprintf("%.0f ms", ms)
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

func ratioList(vs []float64) string {
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = fmt.Sprintf("%.2f", v)
	}
	return orDash(strings.Join(s, ", "))
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
// server's throughput and ratio to it, at the load k (its Server is
// ignored). Servers without runs at k (a destination sink) are left out.
func (r *Report) roundTable(p printer, k Key, unit string) {
	suite := k.Suite
	base := r.Settings.Baselines[suite]
	others := slices.DeleteFunc(r.servers(suite), func(s string) bool {
		_, measured := r.Find(k.with(s))
		return s == base || !measured
	})
	p("| round | %s %s |", base, unit)
	sep := "|---:|---:|"
	for _, s := range others {
		p(" %s %s | ratio |", s, unit)
		sep += "---:|---:|"
	}
	p("\n%s\n", sep)
	baseRuns := r.byRound(k.with(base))
	otherRuns := make([]map[int]*Run, len(others))
	for i, s := range others {
		otherRuns[i] = r.byRound(k.with(s))
	}
	for _, round := range roundsOf(append([]map[int]*Run{baseRuns}, otherRuns...)...) {
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
	bs, _ := r.Find(k.with(base))
	p("| **median** | %s |", num(bs.MedianThroughput))
	for _, s := range others {
		sum, _ := r.Find(k.with(s))
		p(" %s | **%.2f** |", num(sum.MedianThroughput), sum.MedianRatio)
	}
	p("\n\n")
}

// serverTable prints the medians over rounds of every server at the load k
// (its Server is ignored).
func (r *Report) serverTable(p printer, k Key, unit string) {
	suite := k.Suite
	p("| server | median %s | p50 | p99 | p99.9 | server CPU | server CPU/req | RSS max | harness CPU | other load | idle | errors | flags |\n", unit)
	p("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
	for _, name := range r.servers(suite) {
		s, ok := r.Find(k.with(name))
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

// writeLayout prints, for every Sluice server at every load, what issue 15
// measures: bytes written toward the disk per body byte acknowledged and the
// memory split into anonymous and file-backed.
func (r *Report) writeLayout(p printer) {
	var rows []string
	for _, s := range r.Summary {
		if !r.IsSluice(s.Suite, s.Server) || s.MaxRSSAnonKiB == 0 && s.MedianWriteAmp == 0 {
			continue // not a Sluice server, or not measured (a report before schema v5)
		}
		load := fmt.Sprintf("%d conns", s.Conns)
		if s.Rate > 0 {
			load = fmt.Sprintf("%s/s, %s", num(s.Rate), load)
		}
		if s.BodyBytes > 0 {
			load += ", " + Bytes(s.BodyBytes)
		}
		rows = append(rows, fmt.Sprintf("| %s | %s | %s | %.2f | %.0f MiB | %.0f MiB | %.0f MiB |\n",
			s.Suite, load, s.Server, s.MedianWriteAmp,
			float64(s.MaxRSSAnonKiB)/1024, float64(s.MaxRSSFileKiB)/1024, float64(s.MaxRSSKiB)/1024))
	}
	if len(rows) == 0 {
		return
	}
	p("\n### Disk writes and memory of Sluice (issue 15)\n\n")
	p("Written ÷ body: the growth of the server's `write_bytes` (/proc/PID/io: bytes sent toward the disk, page-cache writes and mmap'd pages included, counted when dirtied) over the window ÷ the body bytes it acknowledged in it, median of the rounds. RssAnon and RssFile: the largest of the rounds, sampled every 50 ms in the window; RSS: at the window's end.\n\n")
	p("| suite | load | server | written ÷ body | RssAnon max | RssFile max | RSS max |\n|---|---|---|---:|---:|---:|---:|\n")
	for _, row := range rows {
		p("%s", row)
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
		if run.BodyBytes > 0 {
			load += ", " + Bytes(run.BodyBytes)
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

// code formats s as inline code, "" stays "".
func code(s string) string {
	if s == "" {
		return ""
	}
	return "`" + s + "`"
}
