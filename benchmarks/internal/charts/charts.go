package charts

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"slices"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/sluicehq/sluice/benchmarks/internal/report"
)

// Chart is one rendered SVG; Name is a file-name suffix such as
// "throughput" or "ingest-latency".
type Chart struct {
	Name  string
	Title string
	SVG   []byte
}

// Render draws every chart the report has data for.
func Render(r *report.Report) ([]Chart, error) {
	var out []Chart
	if p := throughput(r); p != nil {
		c, err := svg("throughput", p, 9*vg.Inch, 5*vg.Inch)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if p := diskWrites(r); p != nil {
		c, err := svg("disk-writes", p, 9*vg.Inch, 5*vg.Inch)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if p := memory(r); p != nil {
		c, err := svg("memory", p, 9*vg.Inch, 5*vg.Inch)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	for _, suite := range r.Settings.Suites {
		p := latencyCurves(r, suite)
		if p == nil {
			continue
		}
		c, err := svg(suite+"-latency", p, 8*vg.Inch, 5*vg.Inch)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

func svg(name string, p *plot.Plot, w, h vg.Length) (Chart, error) {
	wt, err := p.WriterTo(w, h, "svg")
	if err != nil {
		return Chart{}, fmt.Errorf("rendering %s chart: %w", name, err)
	}
	var buf bytes.Buffer
	if _, err := wt.WriteTo(&buf); err != nil {
		return Chart{}, fmt.Errorf("rendering %s chart: %w", name, err)
	}
	return Chart{Name: name, Title: p.Title.Text, SVG: buf.Bytes()}, nil
}

var (
	ceilingColor = color.RGBA{R: 170, G: 170, B: 170, A: 255}
	sluiceColor  = color.RGBA{R: 31, G: 119, B: 180, A: 255}
	byHandColor  = color.RGBA{R: 255, G: 127, B: 14, A: 255}
)

// bar is one bar of the throughput chart.
type bar struct {
	label string
	value float64
	ratio float64 // to the suite's ceiling; 0 for the ceiling itself
	color color.Color
}

// throughput draws the median throughput of every server at the goals'
// connection count, suite by suite, each suite's ceiling (bare or sink) in
// grey and the rest labelled with their ratio to it.
func throughput(r *report.Report) *plot.Plot {
	var bars []bar
	for _, suite := range []string{report.SuiteIngest, report.SuiteE2E, report.SuiteSync} {
		base := r.Settings.Baselines[suite]
		for _, s := range r.Summary {
			if s.Suite != suite || s.Conns != report.GoalConns || s.Rate != 0 {
				continue
			}
			b := bar{label: suite + "\n" + s.Server, value: s.MedianThroughput, ratio: s.MedianRatio, color: sluiceColor}
			switch {
			case s.Server == base:
				b.color, b.ratio = ceilingColor, 0
			case s.Server == report.NameByHand:
				b.color = byHandColor
			}
			bars = append(bars, b)
		}
	}
	if len(bars) == 0 {
		return nil
	}
	p := plot.New()
	p.Title.Text = fmt.Sprintf("Throughput vs ceiling, %d connections, median of %d rounds (%s)",
		report.GoalConns, r.Settings.Rounds, r.StartedAt.Format("2006-01-02"))
	p.Y.Label.Text = "requests/s (e2e sluice: delivered/s)"
	p.Y.Min = 0
	var (
		names  []string
		labels plotter.XYLabels
	)
	top := 0.0
	for i, b := range bars {
		bc, err := plotter.NewBarChart(plotter.Values{b.value}, vg.Points(28))
		if err != nil {
			continue // a non-finite value; the label below still says it
		}
		bc.XMin = float64(i)
		bc.Color = b.color
		bc.LineStyle.Width = 0
		p.Add(bc)
		names = append(names, b.label)
		text := fmt.Sprintf("%.0f", b.value)
		if b.ratio > 0 {
			text += fmt.Sprintf("\n%.2f×", b.ratio)
		}
		labels.XYs = append(labels.XYs, plotter.XY{X: float64(i), Y: b.value})
		labels.Labels = append(labels.Labels, text)
		top = max(top, b.value)
	}
	addBarLabels(p, labels)
	p.Y.Max = top * 1.2
	p.Y.Tick.Marker = wholeTicks{}
	p.NominalX(names...)
	p.X.Tick.Label.Font.Size = vg.Points(8)
	p.Add(plotter.NewGrid())
	return p
}

var fileColor = color.RGBA{R: 44, G: 160, B: 44, A: 255}

// sluiceSummaries are the summaries of Sluice servers (Server.Kind
// "sluice"), in the report's order, with a bar label each.
func sluiceSummaries(r *report.Report) (ss []report.Summary, labels []string) {
	for _, s := range r.Summary {
		if !r.IsSluice(s.Suite, s.Server) || s.MaxRSSAnonKiB == 0 && s.MedianWriteAmp == 0 {
			continue // not a Sluice server, or not measured (a report before schema v5)
		}
		load := fmt.Sprintf("%dc", s.Conns)
		if s.Rate > 0 {
			load = fmt.Sprintf("%.0f/s", s.Rate)
		}
		if s.BodyBytes > 0 {
			load += " " + strings.ReplaceAll(report.Bytes(s.BodyBytes), " ", "")
		}
		ss = append(ss, s)
		labels = append(labels, s.Suite+" "+load+"\n"+s.Server)
	}
	return ss, labels
}

// barPlot is a plot of one or more series of bars over names, each series
// a colour and a legend entry, each bar labelled with format of its value.
func barPlot(title, yLabel, format string, names []string, series []barSeries) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Y.Label.Text = yLabel
	p.Y.Min = 0
	width := vg.Points(float64(40 / len(series)))
	top := 0.0
	var labels plotter.XYLabels
	for i, se := range series {
		bc, err := plotter.NewBarChart(plotter.Values(se.values), width)
		if err != nil {
			continue // a non-finite value
		}
		bc.Color = se.color
		bc.LineStyle.Width = 0
		bc.Offset = width * vg.Length(float64(i)-float64(len(series)-1)/2)
		p.Add(bc)
		if len(series) > 1 {
			p.Legend.Add(se.name, bc)
		}
		for x, v := range se.values {
			// The label sits over its bar: Offset in points, x in bars.
			labels.XYs = append(labels.XYs, plotter.XY{X: float64(x), Y: v})
			labels.Labels = append(labels.Labels, fmt.Sprintf(format, v))
			top = max(top, v)
		}
	}
	if len(series) == 1 {
		addBarLabels(p, labels)
	}
	p.Legend.Top = true
	p.Y.Max = max(top*1.2, 1)
	p.NominalX(names...)
	p.X.Tick.Label.Font.Size = vg.Points(7)
	p.Add(plotter.NewGrid())
	return p
}

// addBarLabels writes each label centred just above its bar.
func addBarLabels(p *plot.Plot, labels plotter.XYLabels) {
	l, err := plotter.NewLabels(labels)
	if err != nil {
		return // a non-finite value; the chart goes without labels
	}
	for i := range l.TextStyle {
		l.TextStyle[i].XAlign = draw.XCenter
		l.TextStyle[i].Font.Size = vg.Points(8)
	}
	l.Offset = vg.Point{Y: vg.Points(3)}
	p.Add(l)
}

type barSeries struct {
	name   string
	values []float64
	color  color.Color
}

// diskWrites draws, per Sluice server and load, the bytes it wrote toward
// the disk per body byte it acknowledged (median of the rounds): issue 15's
// W1 and W2.
func diskWrites(r *report.Report) *plot.Plot {
	ss, names := sluiceSummaries(r)
	if len(ss) == 0 {
		return nil
	}
	var v []float64
	for _, s := range ss {
		v = append(v, s.MedianWriteAmp)
	}
	return barPlot(fmt.Sprintf("Bytes written to disk ÷ body bytes acknowledged, median of rounds (%s)", r.StartedAt.Format("2006-01-02")),
		"write_bytes ÷ body bytes", "%.2f", names, []barSeries{{"written ÷ body", v, sluiceColor}})
}

// memory draws, per Sluice server and load, the largest RssAnon and RssFile
// sampled in its windows: issue 15's M1, with the file-backed mappings
// beside it.
func memory(r *report.Report) *plot.Plot {
	ss, names := sluiceSummaries(r)
	if len(ss) == 0 {
		return nil
	}
	var anon, file []float64
	for _, s := range ss {
		anon = append(anon, float64(s.MaxRSSAnonKiB)/1024)
		file = append(file, float64(s.MaxRSSFileKiB)/1024)
	}
	return barPlot(fmt.Sprintf("Sluice memory, largest sample of any round (%s)", r.StartedAt.Format("2006-01-02")),
		"MiB", "%.0f", names, []barSeries{{"RssAnon (anonymous)", anon, sluiceColor}, {"RssFile (file-backed mappings)", file, fileColor}})
}

// maxX is where the maximum (q = 1) sits on the percentile axis.
const maxX = 4.5

// percentileX maps a quantile to the x axis: -log10(1-q), so 90%, 99%,
// 99.9% are evenly spaced; q = 1 goes to maxX.
func percentileX(q float64) float64 {
	if q >= 1 {
		return maxX
	}
	return -math.Log10(1 - q)
}

// latencyCurves draws latency against percentile for every summary of a
// suite, on log axes.
func latencyCurves(r *report.Report, suite string) *plot.Plot {
	p := plot.New()
	switch suite {
	case report.SuiteOpenLoop:
		p.Title.Text = "Open loop: latency from the intended send time, by percentile"
	case report.SuiteE2E:
		p.Title.Text = "e2e: latency of the answer (sink: 200; Sluice: 202), by percentile"
	default:
		p.Title.Text = suite + ": latency by percentile"
	}
	p.Title.Text += fmt.Sprintf(" (%s, all rounds)", r.StartedAt.Format("2006-01-02"))
	p.X.Label.Text = "percentile"
	p.Y.Label.Text = "latency (ms)"
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	p.X.Min, p.X.Max = 0, maxX
	p.X.Tick.Marker = plot.ConstantTicks{
		{Value: 0, Label: "0%"}, {Value: percentileX(0.5), Label: "50%"}, {Value: 1, Label: "90%"},
		{Value: 2, Label: "99%"}, {Value: 3, Label: "99.9%"}, {Value: 4, Label: "99.99%"}, {Value: maxX, Label: "max"},
	}
	p.Legend.TextStyle.Font.Size = vg.Points(8) // bottom right: the curves' tails are high there
	// One colour per server, one dash pattern per load (conns or rate).
	var servers []string
	var loads []report.Key
	n := 0
	for _, s := range r.Summary {
		if s.Suite != suite || len(s.Percentiles) == 0 {
			continue
		}
		if !slices.Contains(servers, s.Server) {
			servers = append(servers, s.Server)
		}
		if load := (report.Key{Conns: s.Conns, Rate: s.Rate, Body: s.BodyBytes}); !slices.Contains(loads, load) {
			loads = append(loads, load)
		}
		xys := make(plotter.XYs, len(s.Percentiles))
		for i, pt := range s.Percentiles {
			xys[i] = plotter.XY{X: percentileX(pt.Q), Y: max(pt.Us, 1) / 1000} // log axis: no zeros
		}
		l, err := plotter.NewLine(xys)
		if err != nil {
			continue
		}
		l.Color = plotutil.Color(slices.Index(servers, s.Server))
		l.Dashes = plotutil.Dashes(slices.Index(loads, report.Key{Conns: s.Conns, Rate: s.Rate, Body: s.BodyBytes}))
		l.Width = vg.Points(1.5)
		p.Add(l)
		p.Legend.Add(curveLabel(s), l)
		n++
	}
	if n == 0 {
		return nil
	}
	p.Add(plotter.NewGrid())
	return p
}

// wholeTicks are plot.DefaultTicks labelled without decimals: "25000".
type wholeTicks struct{}

func (wholeTicks) Ticks(lo, hi float64) []plot.Tick {
	ts := plot.DefaultTicks{}.Ticks(lo, hi)
	for i := range ts {
		if ts[i].Label != "" {
			ts[i].Label = strconv.FormatFloat(ts[i].Value, 'f', 0, 64)
		}
	}
	return ts
}

func curveLabel(s report.Summary) string {
	var b strings.Builder
	b.WriteString(s.Server)
	if s.Rate > 0 {
		fmt.Fprintf(&b, " @ %.0f/s", s.Rate)
	} else {
		fmt.Fprintf(&b, " @ %d conn", s.Conns)
		if s.Conns != 1 {
			b.WriteString("s")
		}
	}
	if s.BodyBytes > 0 {
		b.WriteString(", " + report.Bytes(s.BodyBytes))
	}
	return b.String()
}
