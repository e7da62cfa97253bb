package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

const statsUsage = `usage: sluice stats [--watch 2s [--count N]] [--admin URL] [--token T]

Reads the admin API's GET /metrics and prints the server's totals and one line
per route, like nats top:

  RECEIVED, COMPLETED  requests to POST /in/{route}; messages with a final outcome
  IN/S, OUT/S          their rates between two refreshes (--watch; "-" in the first frame)
  BACKLOG, OLDEST      messages without a final outcome, and the age of the oldest
  INFLIGHT             messages a worker is processing now
  P50, P99             end-to-end latency (acceptance to final outcome) of the messages
                       completed since the last refresh; in the first frame (and a
                       one-shot run), of every message since the server started
  DEAD                 dead letters waiting for replay or discard
  ERRORS               refusals by error code, and failed delivery attempts by outcome
                       (totals since the server started)

`

// statsCmd shows the server's metrics; with --watch it refreshes them
// (clearing the screen when stdout is a terminal), with rates and the
// latency of the last interval.
func statsCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("stats", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, statsUsage)
		fs.PrintDefaults()
	}
	c := opsFlags(fs)
	watch := fs.Duration("watch", 0, "refresh every this long (Ctrl-C stops)")
	frames := fs.Int("count", 0, "with --watch: stop after this many refreshes (0: never)")
	if pos, err := parseInterleaved(fs, args); err != nil || len(pos) != 0 {
		if err == nil {
			fmt.Fprint(stderr, statsUsage)
		}
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	clear := *watch > 0 && isTerminal(stdout)
	var prev *metricsView
	for n := 1; ; n++ {
		cur, err := c.scrapeMetrics()
		if err != nil {
			return fail(stderr, err)
		}
		var b strings.Builder
		if clear {
			b.WriteString("\x1b[H\x1b[2J")
		}
		writeStats(&b, c.admin, cur, prev)
		io.WriteString(stdout, b.String()) // #nosec G104 -- a closed stdout ends the command below
		if *watch <= 0 || (*frames > 0 && n >= *frames) {
			return 0
		}
		prev = cur
		select {
		case <-ctx.Done():
			return 0
		case <-time.After(*watch):
		}
	}
}

// metricsView is what sluice stats reads from one scrape.
type metricsView struct {
	at             time.Time
	routes         map[string]*routeView
	diskFree       float64
	batches, syncs float64
	backlogBytes   float64
	build          string
}

// routeView is one route's series (cumulative, as scraped).
type routeView struct {
	received, completed float64
	backlog, oldest     float64
	inflight, dead      float64
	errors              map[string]float64 // rejection code or failed delivery outcome -> count
	endToEnd            histogram
}

// histogram is a scraped histogram: cumulative counts by upper bound.
type histogram struct {
	upper, cum []float64
}

// scrapeMetrics reads and parses GET /metrics of the admin API.
func (c *opsClient) scrapeMetrics() (*metricsView, error) {
	hdr := http.Header{"Accept": {"text/plain;version=0.0.4"}}
	_, body, err := c.do("GET", c.admin, "/metrics", nil, hdr)
	if err != nil {
		return nil, err
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("GET %s/metrics: not the Prometheus text format: %w", strings.TrimRight(c.admin, "/"), err)
	}
	if fams["sluice_messages_received_total"] == nil {
		return nil, fmt.Errorf("GET %s/metrics: no sluice_messages_received_total: not a Sluice server", strings.TrimRight(c.admin, "/"))
	}
	return newMetricsView(fams, time.Now()), nil
}

func newMetricsView(fams map[string]*dto.MetricFamily, at time.Time) *metricsView {
	v := &metricsView{at: at, routes: map[string]*routeView{}}
	route := func(m *dto.Metric) *routeView {
		name := label(m, "route")
		r := v.routes[name]
		if r == nil {
			r = &routeView{errors: map[string]float64{}}
			v.routes[name] = r
		}
		return r
	}
	each := func(name string, f func(m *dto.Metric)) {
		if fam := fams[name]; fam != nil {
			for _, m := range fam.GetMetric() {
				f(m)
			}
		}
	}
	each("sluice_messages_received_total", func(m *dto.Metric) { route(m).received += m.GetCounter().GetValue() })
	each("sluice_messages_completed_total", func(m *dto.Metric) { route(m).completed += m.GetCounter().GetValue() })
	each("sluice_messages_rejected_total", func(m *dto.Metric) {
		if n := m.GetCounter().GetValue(); n > 0 {
			route(m).errors[label(m, "code")] += n
		}
	})
	each("sluice_delivery_attempts_total", func(m *dto.Metric) {
		if o, n := label(m, "outcome"), m.GetCounter().GetValue(); o != "succeeded" && n > 0 {
			route(m).errors[o] += n
		}
	})
	each("sluice_backlog_messages", func(m *dto.Metric) { route(m).backlog = m.GetGauge().GetValue() })
	each("sluice_backlog_bytes", func(m *dto.Metric) { v.backlogBytes += m.GetGauge().GetValue() })
	each("sluice_backlog_oldest_age_seconds", func(m *dto.Metric) { route(m).oldest = m.GetGauge().GetValue() })
	each("sluice_inflight_messages", func(m *dto.Metric) { route(m).inflight = m.GetGauge().GetValue() })
	each("sluice_dead_letters", func(m *dto.Metric) { route(m).dead = m.GetGauge().GetValue() })
	each("sluice_end_to_end_duration_seconds", func(m *dto.Metric) {
		var h histogram
		for _, b := range m.GetHistogram().GetBucket() {
			h.upper = append(h.upper, b.GetUpperBound())
			h.cum = append(h.cum, float64(b.GetCumulativeCount()))
		}
		h.upper = append(h.upper, math.Inf(1))
		h.cum = append(h.cum, float64(m.GetHistogram().GetSampleCount()))
		route(m).endToEnd = h
	})
	each("sluice_disk_free_bytes", func(m *dto.Metric) { v.diskFree = m.GetGauge().GetValue() })
	each("sluice_log_batch_messages", func(m *dto.Metric) { v.batches = float64(m.GetHistogram().GetSampleCount()) })
	each("sluice_log_sync_duration_seconds", func(m *dto.Metric) { v.syncs = float64(m.GetHistogram().GetSampleCount()) })
	each("sluice_build_info", func(m *dto.Metric) { v.build = label(m, "version") })
	return v
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// since is h minus an earlier scrape of the same histogram (nil: h).
func (h histogram) since(old *histogram) histogram {
	if old == nil || len(old.cum) != len(h.cum) {
		return h
	}
	d := histogram{upper: h.upper, cum: make([]float64, len(h.cum))}
	for i := range h.cum {
		d.cum[i] = max(h.cum[i]-old.cum[i], 0)
	}
	return d
}

// quantile estimates the q-quantile as Prometheus's histogram_quantile
// does: linear within the bucket the rank falls in; the highest finite
// bound when it falls in +Inf. ok is false without observations.
func (h histogram) quantile(q float64) (float64, bool) {
	n := len(h.cum)
	if n == 0 || h.cum[n-1] == 0 {
		return 0, false
	}
	rank := q * h.cum[n-1]
	i := sort.SearchFloat64s(h.cum, rank)
	if i >= n {
		i = n - 1
	}
	if math.IsInf(h.upper[i], 1) {
		if n >= 2 {
			return h.upper[n-2], true
		}
		return 0, false
	}
	lower, below := 0.0, 0.0
	if i > 0 {
		lower, below = h.upper[i-1], h.cum[i-1]
	}
	inBucket := h.cum[i] - below
	if inBucket == 0 {
		return h.upper[i], true
	}
	return lower + (h.upper[i]-lower)*(rank-below)/inBucket, true
}

func writeStats(w io.Writer, admin string, cur, prev *metricsView) {
	dt := 0.0
	if prev != nil {
		dt = cur.at.Sub(prev.at).Seconds()
	}
	rate := func(now, before float64) string {
		if dt <= 0 {
			return "-"
		}
		return fmt.Sprintf("%.1f", max(now-before, 0)/dt)
	}
	names := make([]string, 0, len(cur.routes))
	var received, completed, backlog, oldest, pReceived, pCompleted float64
	for name, r := range cur.routes {
		if name == "_unknown" || name == "_listener" { // shown only when something was refused there
			if len(r.errors) == 0 {
				continue
			}
		}
		names = append(names, name)
		received += r.received
		completed += r.completed
		backlog += r.backlog
		oldest = max(oldest, r.oldest)
		if prev != nil && prev.routes[name] != nil {
			pReceived += prev.routes[name].received
			pCompleted += prev.routes[name].completed
		}
	}
	slices.Sort(names)
	fmt.Fprintf(w, "sluice %s at %s, %s\n\n", cur.build, admin, cur.at.UTC().Format(time.RFC3339))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "received\t%.0f (%s/s)\n", received, rate(received, pReceived))
	fmt.Fprintf(tw, "completed\t%.0f (%s/s)\n", completed, rate(completed, pCompleted))
	fmt.Fprintf(tw, "backlog\t%.0f messages, %s, oldest %s\n", backlog, sizeOf(int64(cur.backlogBytes)), age(oldest))
	fmt.Fprintf(tw, "group commits\t%.0f batches, %.0f fsyncs\n", cur.batches, cur.syncs)
	fmt.Fprintf(tw, "disk\t%s free\n", sizeOf(int64(cur.diskFree)))
	tw.Flush() // #nosec G104 -- a tabwriter over a strings.Builder
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "ROUTE\tRECEIVED\tIN/S\tCOMPLETED\tOUT/S\tBACKLOG\tOLDEST\tINFLIGHT\tP50\tP99\tDEAD\t ERRORS")
	for _, name := range names {
		r := cur.routes[name]
		var p *routeView
		if prev != nil {
			p = prev.routes[name]
		}
		var before routeView
		var oldHist *histogram
		if p != nil {
			before, oldHist = *p, &p.endToEnd
		}
		h := r.endToEnd.since(oldHist)
		p50, p99 := "-", "-"
		if v, ok := h.quantile(0.5); ok {
			p50 = latency(v)
		}
		if v, ok := h.quantile(0.99); ok {
			p99 = latency(v)
		}
		fmt.Fprintf(tw, "%s\t%.0f\t%s\t%.0f\t%s\t%.0f\t%s\t%.0f\t%s\t%s\t%.0f\t %s\n", name, r.received, rate(r.received, before.received),
			r.completed, rate(r.completed, before.completed), r.backlog, age(r.oldest), r.inflight, p50, p99, r.dead, errorList(r.errors))
	}
	tw.Flush() // #nosec G104 -- a tabwriter over a strings.Builder
}

// errorList is "code=n" for each code, by code.
func errorList(errs map[string]float64) string {
	if len(errs) == 0 {
		return "-"
	}
	codes := make([]string, 0, len(errs))
	for c := range errs {
		codes = append(codes, c)
	}
	slices.Sort(codes)
	var b strings.Builder
	for i, c := range codes {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s=%.0f", c, errs[c])
	}
	return b.String()
}

// age is a backlog age: "-" for none, else seconds to days.
func age(s float64) string {
	if s <= 0 {
		return "-"
	}
	return time.Duration(s * float64(time.Second)).Round(100 * time.Millisecond).String()
}

// latency is a duration in a unit that suits it, 3 significant digits.
func latency(s float64) string {
	d := time.Duration(s * float64(time.Second))
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%.0fµs", s*1e6)
	case d < time.Second:
		return fmt.Sprintf("%.3gms", s*1e3)
	default:
		return fmt.Sprintf("%.3gs", s)
	}
}

// sizeOf is n in B, KiB, MiB or GiB, one decimal.
func sizeOf(n int64) string {
	f, i := float64(n), 0
	for f >= 1024 && i < 3 {
		f /= 1024
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%d B", n)
	}
	return fmt.Sprintf("%.1f %s", f, []string{"B", "KiB", "MiB", "GiB"}[i])
}
