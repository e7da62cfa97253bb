package report

import (
	"bufio"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// WriteMarkdown renders r for humans: a header, then per connection count a
// per-round table with ratios against the baseline, a per-server summary,
// the verdict against the goal, and a list of flagged runs.
func (r *Report) WriteMarkdown(w io.Writer) error {
	bw := bufio.NewWriter(w)
	p := func(format string, args ...any) { fmt.Fprintf(bw, format, args...) }
	st := r.Settings

	p("## Sluice ingest benchmark (%s)\n\n", r.StartedAt.UTC().Format("2006-01-02 15:04 UTC"))
	if r.SelfTest {
		p("> **SELF-TEST**: every server below is the bare fasthttp baseline; the numbers only check the harness and say nothing about Sluice.\n\n")
	}
	m := r.Machine
	p("- machine: %d × %s, %s, linux %s, load avg %.2f → %.2f\n",
		m.NumCPU, orDash(m.CPUModel), m.GoVersion, orDash(m.Kernel), r.LoadAvg[0], r.LoadAvg[1])
	p("- revision: %s\n", orDash(r.Revision))
	p("- load: %s loop, %d B POST, %d rounds × (%s warmup + %s measure), servers interleaved within each round; load generator on the same cores\n",
		st.LoadModel, st.BodyBytes, st.Rounds, seconds(st.WarmupS), seconds(st.MeasureS))
	p("- servers: ")
	for i, s := range r.Servers {
		if i > 0 {
			p(", ")
		}
		p("`%s`", s.Name)
	}
	p(" (baseline `%s`)\n", st.Baseline)

	others := slices.DeleteFunc(slices.Clone(r.Servers), func(s Server) bool { return s.Name == st.Baseline })
	for _, conns := range st.Conns {
		p("\n### %d connections\n\n", conns)

		// Per-round table: baseline rps, then each other server's rps and ratio.
		p("| round | %s rps |", st.Baseline)
		sep := "|---:|---:|"
		for _, s := range others {
			p(" %s rps | ratio |", s.Name)
			sep += "---:|---:|"
		}
		p("\n%s\n", sep)
		runs := r.runIndex(conns)
		for round := 1; round <= st.Rounds; round++ {
			base, haveBase := runs[key{round, st.Baseline}]
			if !haveBase && !r.hasRound(runs, round) {
				continue
			}
			p("| %d | %s |", round, rpsCell(base))
			for _, s := range others {
				run := runs[key{round, s.Name}]
				ratio := "–"
				if run != nil && base != nil {
					if v, ok := Ratio(run.RPS, base.RPS); ok {
						ratio = fmt.Sprintf("%.2f", v)
					}
				}
				p(" %s | %s |", rpsCell(run), ratio)
			}
			p("\n")
		}
		p("| **median** | %s |", num(r.summaryOf(conns, st.Baseline).MedianRPS))
		for _, s := range others {
			sum := r.summaryOf(conns, s.Name)
			p(" %s | **%.2f** |", num(sum.MedianRPS), sum.MedianRatio)
		}
		p("\n\n")

		// Per-server summary.
		p("| server | median rps | p50 | p99 | server CPU | server CPU/req | RSS max | harness CPU | other load | idle | errors | flags |\n")
		p("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
		for _, s := range r.Servers {
			sum, ok := r.Find(conns, s.Name)
			if !ok {
				continue
			}
			p("| %s | %s | %s | %s | %.2f cores | %.1f µs | %.0f MiB | %.2f cores | %.2f cores | %.2f cores | %d | %s |\n",
				s.Name, num(sum.MedianRPS), micros(sum.MedianP50us), micros(sum.MedianP99us),
				sum.MedianServerCores, sum.MedianUsPerReq, float64(sum.MaxRSSKiB)/1024,
				sum.MedianClientCores, sum.MedianForeignCores, sum.MedianIdleCores,
				sum.Errors, orDash(strings.Join(sum.Flags, ", ")))
		}

		if sum, ok := r.Find(conns, st.GoalServer); ok && st.GoalServer != st.Baseline {
			p("\n**%s / %s = %.2f** (median of per-round ratios) — goal ≥ %.1f: %s; project goal ≥ %.1f: %s",
				st.GoalServer, st.Baseline, sum.MedianRatio, Goal, met(sum.MedianRatio >= Goal),
				ProjectGoal, met(sum.MedianRatio >= ProjectGoal))
			if conns != GoalConns {
				p(" (the goals are stated for %d connections)", GoalConns)
			}
			if len(sum.Flags) > 0 {
				p(" — ⚠ flagged: %s", strings.Join(sum.Flags, ", "))
			}
			p("\n")
		}
	}

	// Flagged runs, with the details a reader needs to judge them.
	var flagged []string
	for _, run := range r.Runs {
		f := run.Flags()
		if len(f) == 0 {
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
		flagged = append(flagged, fmt.Sprintf("- %d conns, round %d, %s: %s", run.Conns, run.Round, run.Server,
			strings.Join(parts, "; ")))
	}
	if len(flagged) > 0 {
		p("\n### Flagged runs\n\n%s\n", strings.Join(flagged, "\n"))
	}
	return bw.Flush()
}

type key struct {
	round  int
	server string
}

func (r *Report) runIndex(conns int) map[key]*Run {
	m := map[key]*Run{}
	for i := range r.Runs {
		if run := &r.Runs[i]; run.Conns == conns {
			m[key{run.Round, run.Server}] = run
		}
	}
	return m
}

func (r *Report) hasRound(runs map[key]*Run, round int) bool {
	for k := range runs {
		if k.round == round {
			return true
		}
	}
	return false
}

func (r *Report) summaryOf(conns int, server string) Summary {
	s, _ := r.Find(conns, server)
	return s
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
	s := num(run.RPS)
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
	if us >= 1000 {
		return fmt.Sprintf("%.2f ms", us/1000)
	}
	return fmt.Sprintf("%.0f µs", us)
}

func seconds(s float64) string { return strconv.FormatFloat(s, 'f', -1, 64) + "s" }

func met(ok bool) string {
	if ok {
		return "met"
	}
	return "**not met**"
}

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}
