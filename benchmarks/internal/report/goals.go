package report

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Goal is one line of the goals table: a quantity computed per round from
// paired runs of the same round, its median, and the verdict.
type Goal struct {
	ID     string    `json:"id"`   // "G1", ..., "S1"; "B1", "P1@4KiB", "O1", "R1", ... for the informational lines
	What   string    `json:"what"` // what is divided by (or subtracted from) what
	Unit   string    `json:"unit"` // "×" (a ratio) or "µs"
	Rounds []float64 `json:"rounds"`
	Median float64   `json:"median"`
	// Op and Limit state the target: Median Op Limit passes. Op is "" when
	// there is no target (informational lines).
	Op     string   `json:"op,omitempty"` // ">=" or "<="
	Limit  float64  `json:"limit,omitempty"`
	Target string   `json:"target"`         // the target for humans, e.g. "≥ 0.50"
	Pass   *bool    `json:"pass,omitempty"` // nil: no target or no data
	Note   string   `json:"note,omitempty"`
	Flags  []string `json:"flags,omitempty"` // union of the flags of the runs it uses
	// Worst: Median holds the largest of Rounds instead (a bound that must
	// hold in every round, such as M1's memory).
	Worst bool `json:"worst,omitempty"`
}

// goals derives every goal the runs allow; goals whose runs are missing
// (a suite not run) are left out.
func (r *Report) goals() []Goal {
	var out []Goal
	add := func(g Goal) {
		if len(g.Rounds) == 0 {
			return
		}
		g.Median = Median(g.Rounds)
		if g.Worst {
			g.Median = slices.Max(g.Rounds)
		}
		if g.Op != "" {
			pass := g.Op == ">=" && g.Median >= g.Limit || g.Op == "<=" && g.Median <= g.Limit
			g.Pass = &pass
		}
		out = append(out, g)
	}
	tput := func(run *Run) float64 { return run.Throughput }
	p99 := func(run *Run) float64 { return run.P99us }
	p50 := func(run *Run) float64 { return run.P50us }

	for _, conns := range r.Settings.Conns {
		ingest := func(server string) Key { return Key{SuiteIngest, conns, 0, server, 0} }
		id := ""
		if conns != GoalConns {
			id = fmt.Sprintf("@%d", conns)
		}
		g := r.ratio("G1"+id, ingest(NameSluiceFsync), ingest(NameBare), tput,
			fmt.Sprintf("async durable ingest rps ÷ bare fasthttp 202, %d conns", conns))
		switch conns {
		case GoalConns:
			g.Op, g.Limit = ">=", GoalIngest
			g.Target = fmt.Sprintf("≥ %.2f", GoalIngest)
			g.Note = "the core issue's goal " + atLeast(g.Rounds, CoreGoalIngest)
		case 256:
			g.Op, g.Limit = ">=", GoalIngest256
			g.Target = fmt.Sprintf("≥ %.2f", GoalIngest256)
		default:
			g.Target = fmt.Sprintf("– (stated for %d and 256)", GoalConns)
		}
		add(g)
		if conns == GoalConns {
			g := r.ratio("G2", ingest(NameSluiceFsync), ingest(NameSluiceNone), tput,
				fmt.Sprintf("durable (fsync) rps ÷ same Sluice with durability none, %d conns", conns))
			g.Op, g.Limit, g.Target = ">=", GoalDurable, fmt.Sprintf("≥ %.2f", GoalDurable)
			add(g)
			g = r.ratio("G11", ingest(NameSluiceFsync), ingest(NameBare), p99,
				fmt.Sprintf("async 202 p99 ÷ bare p99, %d conns", conns))
			g.Op, g.Limit, g.Target = "<=", GoalAsyncP99, fmt.Sprintf("≤ %.2f", GoalAsyncP99)
			add(g)
		}
		add(r.ratio("B1"+id, ingest(NameByHand), ingest(NameBare), tput,
			fmt.Sprintf("by-hand baseline rps ÷ bare, %d conns", conns)))
		add(r.ratio("B2"+id, ingest(NameSluiceFsync), ingest(NameByHand), tput,
			fmt.Sprintf("Sluice async rps ÷ by-hand baseline, %d conns", conns)))
	}

	g := r.ratio("G4", Key{SuiteE2E, GoalConns, 0, NameSluiceE2E, 0}, Key{SuiteE2E, GoalConns, 0, NameSink, 0}, tput,
		fmt.Sprintf("end-to-end async delivered/s ÷ sink's own rps, %d conns", GoalConns))
	g.Op, g.Limit, g.Target = ">=", GoalE2E, fmt.Sprintf("≥ %.2f", GoalE2E)
	if s, ok := r.Find(Key{SuiteE2E, GoalConns, 0, NameSluiceE2E, 0}); ok && s.MedianBacklogEnd != nil {
		g.Note = fmt.Sprintf("Sluice backlog at the window's end: %d messages (median)", *s.MedianBacklogEnd)
	}
	add(g)

	sync1 := func(server string) Key { return Key{SuiteSync, SyncLatencyConns, 0, server, 0} }
	g = r.diff("G9", sync1(NameSluiceSync), sync1(NameSink), p50,
		fmt.Sprintf("sync p50 − destination-direct p50, %d conn", SyncLatencyConns))
	if len(r.Fsync) > 0 {
		fsync := r.fsyncP50()
		g.Op, g.Limit = "<=", fsync+GoalSyncOverUs
		g.Target = fmt.Sprintf("≤ %.0f µs (fsync p50 %.0f µs + %d µs)", g.Limit, fsync, GoalSyncOverUs)
	}
	add(g)

	sync64 := func(server string) Key { return Key{SuiteSync, GoalConns, 0, server, 0} }
	g = r.ratio("G10", sync64(NameSluiceSync), sync64(NameSink), p99,
		fmt.Sprintf("sync p99 ÷ destination-direct p99, %d conns", GoalConns))
	g.Op, g.Limit, g.Target = "<=", GoalSyncP99, fmt.Sprintf("≤ %.2f", GoalSyncP99)
	add(g)

	// The goals without a target: reported, never judged.
	for _, body := range r.Settings.Payloads {
		k := Key{Suite: SuitePayload, Conns: GoalConns, Body: body}
		g := r.ratio("P1@"+strings.ReplaceAll(Bytes(body), " ", ""), k.with(NameSluiceFsync), k.with(NameBare), tput,
			fmt.Sprintf("async durable ingest rps ÷ bare, %s JSON body, %d conns", Bytes(body), GoalConns))
		if s, ok := r.Find(k.with(NameSluiceFsync)); ok {
			g.Note = fmt.Sprintf("Sluice %.1f MB/s of bodies (median)", s.MedianMBps)
		}
		add(g)
	}
	verify := Key{Suite: SuiteVerify, Conns: GoalConns}
	g = r.ratio("S1", verify.with(NameSluiceGitHub), verify.with(NameSluiceFsync), tput,
		fmt.Sprintf("async durable ingest rps with GitHub sender verification ÷ without, %d conns", GoalConns))
	g.Op, g.Limit, g.Target = ">=", GoalVerify, fmt.Sprintf("≥ %.2f", GoalVerify)
	plain, okP := r.Find(verify.with(NameSluiceFsync))
	signed, okS := r.Find(verify.with(NameSluiceGitHub))
	if okP && okS {
		g.Note = fmt.Sprintf("server CPU per request %.1f µs verified, %.1f µs plain (medians)",
			signed.MedianUsPerReq, plain.MedianUsPerReq)
	}
	add(g)

	traced := Key{Suite: SuiteTracing, Conns: GoalConns}
	g = r.ratio("T1", traced.with(NameSluiceTraced), traced.with(NameSluiceE2E), tput,
		fmt.Sprintf("e2e delivered/s with every span exported (sample_ratio 1) ÷ tracing off, %d conns", GoalConns))
	if on, ok := r.Find(traced.with(NameSluiceTraced)); ok {
		if off, ok := r.Find(traced.with(NameSluiceE2E)); ok && on.MedianThroughput > 0 && off.MedianThroughput > 0 {
			g.Note = fmt.Sprintf("server CPU per delivery %.1f µs traced, %.1f µs off (medians)",
				on.MedianServerCores*1e6/on.MedianThroughput, off.MedianServerCores*1e6/off.MedianThroughput)
		}
	}
	add(g)

	order := Key{Suite: SuiteOrdering, Conns: r.Settings.OrderConns}
	g = r.ratio("O1", order.with(NameOrderKey), order.with(NameOrderNone), tput,
		fmt.Sprintf("per-key ordering (%d keys) delivered/s ÷ no ordering, %d conns", r.Settings.OrderKeys, order.Conns))
	add(g)
	g = r.ratio("O2", order.with(NameOrderFIFO), order.with(NameOrderNone), tput,
		fmt.Sprintf("strict FIFO (order_by: route) delivered/s ÷ no ordering, %d conns", order.Conns))
	add(g)

	r.layoutGoals(add)
	r.floorGoals(add)

	if rs := r.RestartSummary; rs != nil {
		g := Goal{ID: "R1", What: "start to first /healthz 200 with a warm compilation cache ÷ cold", Unit: "×",
			Target: "–", Rounds: rs.Ratios,
			Note: fmt.Sprintf("cold %.0f ms, warm %.0f ms (medians)", rs.MedianColdMs, rs.MedianWarmMs)}
		add(g)
	}
	return out
}

// layoutGoals adds issue 15's goals: W1 and W2, the bytes the durable
// Sluice wrote toward the disk per body byte it acknowledged (1 KiB bodies
// of the ingest suite, 64 KiB of the payload suite), and M1, the largest
// RssAnon of any Sluice server of a round.
func (r *Report) layoutGoals(add func(Goal)) {
	wamp := func(run *Run) (float64, bool) { return run.WriteAmp, run.BodyBytesAcked > 0 }
	if r.Settings.BodyBytes == 1<<10 {
		k := Key{Suite: SuiteIngest, Conns: GoalConns, Server: NameSluiceFsync}
		g := r.single("W1", k, wamp, fmt.Sprintf("bytes written to disk (write_bytes) ÷ body bytes acknowledged, async durable ingest, 1 KiB, %d conns", GoalConns))
		g.Op, g.Limit, g.Target = "<=", GoalWriteAmp1KiB, fmt.Sprintf("≤ %.1f (issue 15)", GoalWriteAmp1KiB)
		add(g)
	}
	if slices.Contains(r.Settings.Payloads, 64<<10) {
		k := Key{Suite: SuitePayload, Conns: GoalConns, Server: NameSluiceFsync, Body: 64 << 10}
		g := r.single("W2", k, wamp, fmt.Sprintf("bytes written to disk (write_bytes) ÷ body bytes acknowledged, async durable ingest, 64 KiB JSON, %d conns", GoalConns))
		g.Op, g.Limit, g.Target = "<=", GoalWriteAmp64KiB, fmt.Sprintf("≤ %.1f (issue 15)", GoalWriteAmp64KiB)
		add(g)
	}
	peak := map[int]uint64{}
	where := map[int]string{}
	for i := range r.Runs {
		run := &r.Runs[i]
		// 0: not measured (a report before schema v5, or a kernel without
		// RssAnon): no round rather than a false pass.
		if r.IsSluice(run.Suite, run.Server) && run.RSSAnonPeakKiB > 0 && run.RSSAnonPeakKiB >= peak[run.Round] {
			peak[run.Round] = run.RSSAnonPeakKiB
			where[run.Round] = run.Suite + " " + run.Server
		}
	}
	g := Goal{ID: "M1", What: "largest RssAnon (anonymous memory) of any Sluice server in the round, sampled every 50 ms; the value is the largest round's, not the median", Unit: "MiB",
		Worst: true, Op: "<=", Limit: GoalRSSAnonMiB, Target: fmt.Sprintf("≤ %d MiB (issue 15)", GoalRSSAnonMiB)}
	var fileMax uint64
	for _, round := range slices.Sorted(maps.Keys(peak)) {
		g.Rounds = append(g.Rounds, float64(peak[round])/1024)
	}
	for i := range r.Runs {
		if run := &r.Runs[i]; r.IsSluice(run.Suite, run.Server) {
			fileMax = max(fileMax, run.RSSFilePeakKiB)
		}
	}
	if len(g.Rounds) > 0 {
		top := slices.MaxFunc(slices.Collect(maps.Keys(peak)), func(a, b int) int { return cmp.Compare(peak[a], peak[b]) })
		g.Note = fmt.Sprintf("largest in %s (round %d); file-backed (RssFile) up to %.0f MiB beside it", where[top], top, float64(fileMax)/1024)
	}
	add(g)
}

// IsSluice reports whether the suite's server of that name is a Sluice
// (Server.Kind "sluice").
func (r *Report) IsSluice(suite, name string) bool {
	return slices.ContainsFunc(r.Servers, func(sv Server) bool {
		return sv.Suite == suite && sv.Name == name && sv.Kind == "sluice"
	})
}

// single takes metric of the runs of k, round by round; ok false leaves a
// round out.
func (r *Report) single(id string, k Key, metric func(*Run) (float64, bool), what string) Goal {
	return r.pair(id, k, k, what, "×", func(a, _ *Run) (float64, bool) { return metric(a) })
}

// Bytes formats a body size: 256 → "256 B", 4096 → "4 KiB", 65536 →
// "64 KiB", 1536 → "1536 B".
func Bytes(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d B", n)
}

// ratio pairs the runs of num and den by round and divides metric.
func (r *Report) ratio(id string, num, den Key, metric func(*Run) float64, what string) Goal {
	return r.pair(id, num, den, what, "×", func(a, b *Run) (float64, bool) { return Ratio(metric(a), metric(b)) })
}

// diff pairs the runs of a and b by round and subtracts metric.
func (r *Report) diff(id string, a, b Key, metric func(*Run) float64, what string) Goal {
	return r.pair(id, a, b, what, "µs", func(x, y *Run) (float64, bool) { return metric(x) - metric(y), true })
}

func (r *Report) pair(id string, a, b Key, what, unit string, f func(a, b *Run) (float64, bool)) Goal {
	g := Goal{ID: id, What: what, Unit: unit, Target: "–"}
	as, bs := r.byRound(a), r.byRound(b)
	for _, round := range roundsOf(as, bs) {
		x, y := as[round], bs[round]
		if x == nil || y == nil {
			continue
		}
		if v, ok := f(x, y); ok {
			g.Rounds = append(g.Rounds, v)
		}
		for _, run := range []*Run{x, y} {
			for _, fl := range run.Flags() {
				if !slices.Contains(g.Flags, fl) {
					g.Flags = append(g.Flags, fl)
				}
			}
		}
	}
	return g
}

// roundsOf lists the rounds present in any of the maps, in order.
func roundsOf(ms ...map[int]*Run) []int {
	var out []int
	for _, m := range ms {
		for round := range m {
			if !slices.Contains(out, round) {
				out = append(out, round)
			}
		}
	}
	slices.Sort(out)
	return out
}

// atLeast says whether the median of rounds reaches limit.
func atLeast(rounds []float64, limit float64) string {
	if Median(rounds) >= limit {
		return fmt.Sprintf("≥ %.2f met", limit)
	}
	return fmt.Sprintf("≥ %.2f not met", limit)
}

// floorGoals adds the floor suite's lines: each floor against the ceiling
// its goal divides by, and Sluice against the floor, round by round (no
// targets: they say how much of a goal's gap any design must leave here).
func (r *Report) floorGoals(add func(Goal)) {
	tput := func(run *Run) float64 { return run.Throughput }
	p50 := func(run *Run) float64 { return run.P50us }
	k := Key{Suite: SuiteFloor, Conns: GoalConns}
	large := Key{Suite: SuiteFloor, Conns: GoalConns, Body: FloorPayload}
	size := strings.ReplaceAll(Bytes(FloorPayload), " ", "")
	lines := []Goal{
		r.ratio("F1", k.with(NameFloor), k.with(NameBare), tput,
			fmt.Sprintf("floor (group commit to one file, then 202) rps ÷ bare, 1 KiB, %d conns: the most any durable ingest reaches here (G1's floor)", GoalConns)),
		r.ratio("F1s", k.with(NameSluiceFsync), k.with(NameFloor), tput,
			fmt.Sprintf("Sluice async durable ingest rps ÷ floor, same rounds, %d conns", GoalConns)),
		r.ratio("FP1@"+size, large.with(NameFloor), large.with(NameBare), tput,
			fmt.Sprintf("floor rps ÷ bare, %s JSON body, %d conns (P1@%s's floor)", Bytes(FloorPayload), GoalConns, size)),
		r.ratio("FP1s@"+size, large.with(NameSluiceFsync), large.with(NameFloor), tput,
			fmt.Sprintf("Sluice rps ÷ floor, %s JSON body, %d conns", Bytes(FloorPayload), GoalConns)),
		r.ratio("F4", k.with(NameFloorE2E), k.with(NameSink), tput,
			fmt.Sprintf("floor-e2e (floor, then POSTed to the sink from memory) delivered/s ÷ sink's own rps, %d conns (G4's floor)", GoalConns)),
		r.ratio("F4s", k.with(NameSluiceE2E), k.with(NameFloorE2E), tput,
			fmt.Sprintf("Sluice e2e delivered/s ÷ floor-e2e, %d conns", GoalConns)),
	}
	sync1 := Key{Suite: SuiteFloor, Conns: SyncLatencyConns}
	f9 := r.diff("F9", sync1.with(NameFloorSync), sync1.with(NameSink), p50,
		fmt.Sprintf("floor-sync (floor, then POSTed to the sink, its answer relayed) p50 − destination-direct p50, %d conn (G9's floor)", SyncLatencyConns))
	if s := r.diff("", sync1.with(NameSluiceSync), sync1.with(NameSink), p50, ""); len(s.Rounds) > 0 {
		f9.Note = fmt.Sprintf("Sluice in the same rounds: %.0f µs (median)", Median(s.Rounds))
	}
	if len(r.Fsync) > 0 {
		f9.Note += fmt.Sprintf("; fsync p50 %.0f µs (median of the probes)", r.fsyncP50())
	}
	lines = append(lines, f9)
	for _, g := range lines {
		add(g)
	}
}

// fsyncP50 is the median of the fsync probes' p50s.
func (r *Report) fsyncP50() float64 {
	var fs []float64
	for _, f := range r.Fsync {
		fs = append(fs, f.P50us)
	}
	return Median(fs)
}
