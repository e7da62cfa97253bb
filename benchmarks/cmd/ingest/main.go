// Command ingest runs Sluice's benchmark suites (async ingest, end-to-end
// delivery, sync latency, open loop, body sizes, sender verification,
// ordering modes, restart time) against their ceilings (a bare fasthttp
// server, a sink) and a by-hand baseline, with one load generator in one
// run, and reports every goal's median ratio.
//
// It is its own module (benchmarks/go.mod); run it from anywhere inside
// the repository, e.g.:
//
//	cd benchmarks && go run ./cmd/ingest [flags]
//
// It prints a Markdown report to stdout, progress to stderr, and writes
// <out>/<YYYY-MM-DD>.json, the same Markdown as <YYYY-MM-DD>.md and SVG
// charts as <YYYY-MM-DD>-<chart>.svg. See benchmarks/README.md.
//
// "ingest bare-server --listen ADDR --status CODE" and "ingest by-hand-server
// --listen ADDR --data DIR --wasm FILE" are hidden subcommands: the harness
// re-executes itself with them to run those servers in their own processes.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sluicehq/sluice/benchmarks/internal/bare"
	"github.com/sluicehq/sluice/benchmarks/internal/baseline"
	"github.com/sluicehq/sluice/benchmarks/internal/charts"
	"github.com/sluicehq/sluice/benchmarks/internal/floor"
	"github.com/sluicehq/sluice/benchmarks/internal/harness"
	"github.com/sluicehq/sluice/benchmarks/internal/report"
)

func main() {
	var err error
	switch {
	case len(os.Args) > 1 && os.Args[1] == harness.BareServerCommand:
		err = runBare(os.Args[2:])
	case len(os.Args) > 1 && os.Args[1] == harness.ByHandServerCommand:
		err = runByHand(os.Args[2:])
	case len(os.Args) > 1 && os.Args[1] == harness.FloorServerCommand:
		err = runFloor(os.Args[2:])
	default:
		err = runBench(os.Args[1:])
	}
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "ingest:", err)
		os.Exit(1)
	}
}

func runBare(args []string) error {
	fs := flag.NewFlagSet(harness.BareServerCommand, flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:18081", "address to listen on")
	status := fs.Int("status", 202, "status of every POST answer")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return bare.Serve(ctx, *listen, *status)
}

func runByHand(args []string) error {
	fs := flag.NewFlagSet(harness.ByHandServerCommand, flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:18082", "address to listen on")
	data := fs.String("data", "", "Badger directory")
	wasm := fs.String("wasm", harness.TransformModule, "transform module (Sluice ABI v1)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *data == "" {
		return errors.New("--data is required")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return baseline.Serve(ctx, *listen, *data, *wasm)
}

func runFloor(args []string) error {
	fs := flag.NewFlagSet(harness.FloorServerCommand, flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:18083", "address to listen on")
	var o floor.Options
	fs.StringVar(&o.Path, "file", "", "file the bodies are appended to (created or truncated)")
	fs.StringVar(&o.Forward, "forward", "", "URL to POST every committed body to")
	fs.BoolVar(&o.Reply, "reply", false, "with --forward: answer with the destination's answer (a sync route)")
	fs.IntVar(&o.Forwarders, "forwarders", 64, "with --forward and without --reply: deliveries at once")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.Path == "" {
		return errors.New("--file is required")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return floor.Serve(ctx, *listen, o)
}

func runBench(args []string) error {
	cfg := harness.Default()
	fs := flag.NewFlagSet("ingest", flag.ContinueOnError)
	suites := stringList(cfg.Suites)
	fs.Var(&suites, "suites", "comma-separated suites to run, in this order: "+strings.Join(report.AllSuites, ","))
	conns := intList(cfg.Conns)
	fs.Var(&conns, "conns", "ingest suite: comma-separated connection counts, each measured for all rounds (e.g. 64,256)")
	rates := floatList(cfg.Rates)
	fs.Var(&rates, "rates", "openloop suite: comma-separated request rates per second, each measured for all rounds")
	fs.IntVar(&cfg.OpenConns, "openloop-conns", cfg.OpenConns, "openloop suite: connections of the generator")
	fs.IntVar(&cfg.Rounds, "rounds", cfg.Rounds, "rounds; each round measures every server of a load once, interleaved")
	fs.DurationVar(&cfg.Warmup, "warmup", cfg.Warmup, "load before each measurement, not counted")
	fs.DurationVar(&cfg.Measure, "measure", cfg.Measure, "measured window of each run")
	fs.IntVar(&cfg.BodyBytes, "body", cfg.BodyBytes, "POST body size in bytes (every suite but payload)")
	fs.BoolVar(&cfg.Transform, "transform", cfg.Transform, "e2e, sync and ordering routes run "+harness.TransformModule)
	fs.IntVar(&cfg.FsyncSamples, "fsync-samples", cfg.FsyncSamples, "sync suite: write+fdatasync samples per round")
	extra := strings.Join(report.ExtraSuites, ", ")
	fs.IntVar(&cfg.ExtraRounds, "extra-rounds", cfg.ExtraRounds, extra+" suites: rounds (at most -rounds)")
	fs.DurationVar(&cfg.ExtraWarmup, "extra-warmup", cfg.ExtraWarmup, "payload, verify and ordering suites: warmup of each run (at most -warmup)")
	fs.DurationVar(&cfg.ExtraMeasure, "extra-measure", cfg.ExtraMeasure, "payload, verify and ordering suites: measured window of each run (at most -measure)")
	payloads := intList(cfg.Payloads)
	fs.Var(&payloads, "payloads", "payload suite: comma-separated JSON body sizes in bytes, each measured for all its rounds")
	fs.IntVar(&cfg.OrderKeys, "order-keys", cfg.OrderKeys, "ordering suite: distinct "+harness.OrderHeader+" values of the per-key route")
	fs.IntVar(&cfg.OrderBacklog, "order-backlog", cfg.OrderBacklog, "ordering suite: backlog cap of each route in messages (429 past it)")
	out := fs.String("out", "benchmarks/results", "directory for the results (JSON, Markdown, SVG), relative to the repo root; empty: do not write")
	fs.StringVar(&cfg.SluiceBin, "sluice-bin", "", "use this Sluice binary instead of building ./cmd/sluice")
	fs.BoolVar(&cfg.SelfTest, "self-test", false, "harness check: run the bare server in place of every Sluice and by-hand server")
	fs.DurationVar(&cfg.ReadyTimeout, "ready-timeout", cfg.ReadyTimeout, "how long a server may take to answer GET /healthz")
	fs.DurationVar(&cfg.Timeout, "timeout", cfg.Timeout, "per-request timeout")
	fs.BoolVar(&cfg.KeepTmp, "keep-tmp", false, "keep the temp dir with configs, data and server logs")
	render := fs.String("render", "", "measure nothing: re-render the Markdown report and charts of this results JSON next to it (after the report's code changed)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *render != "" {
		return rerender(*render)
	}
	cfg.Suites, cfg.Conns, cfg.Rates, cfg.Payloads = suites, conns, rates, payloads

	repo, err := repoRoot()
	if err != nil {
		return err
	}
	cfg.RepoDir = repo
	if cfg.Self, err = os.Executable(); err != nil {
		return fmt.Errorf("finding own executable: %w", err)
	}
	cfg.Log = os.Stderr

	// First SIGINT/SIGTERM: cancel, stop the servers, exit. A second one
	// kills the harness at once; the kernel then kills the servers
	// (parent-death signal).
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	go func() {
		<-ctx.Done()
		stop()
	}()

	rep, err := harness.Run(ctx, cfg)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("interrupted; servers stopped, nothing written (%w)", err)
		}
		return err
	}
	if err := rep.WriteMarkdown(os.Stdout); err != nil {
		return err
	}
	if *out == "" {
		return nil
	}
	dir := *out
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(repo, dir)
	}
	name := rep.StartedAt.Format(time.DateOnly)
	if cfg.SelfTest {
		name += "-selftest" // never mistaken for, or overwriting, a real result
	}
	return writeResults(rep, dir, name, true)
}

// rerender reads a results JSON and writes its Markdown report and charts
// again, next to it, with the current report code.
func rerender(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var rep report.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	rep.Summarize()
	return writeResults(&rep, filepath.Dir(path), strings.TrimSuffix(filepath.Base(path), ".json"), false)
}

// writeResults writes rep as dir/name.json (if withJSON), dir/name.md and
// the charts dir/name-*.svg.
func writeResults(rep *report.Report, dir, name string, withJSON bool) error {
	type output struct {
		path  string
		write func(io.Writer) error
	}
	files := []output{{name + ".md", rep.WriteMarkdown}}
	if withJSON {
		files = append(files, output{name + ".json", rep.WriteJSON})
	}
	cs, err := charts.Render(rep)
	if err != nil {
		return err
	}
	for _, c := range cs {
		files = append(files, output{name + "-" + c.Name + ".svg", func(w io.Writer) error {
			_, err := w.Write(c.SVG)
			return err
		}})
	}
	for _, f := range files {
		path := filepath.Join(dir, f.path)
		if err := writeFile(path, f.write); err != nil {
			return err
		}
		fmt.Fprintln(os.Stderr, "wrote", path)
	}
	return nil
}

// writeFile writes via a temp file and a rename, so an interrupted run
// never leaves a truncated results file.
func writeFile(path string, write func(io.Writer) error) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("creating results dir: %w", err)
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".bench-*")
	if err != nil {
		return fmt.Errorf("creating results file: %w", err)
	}
	defer os.Remove(f.Name()) // no-op after the rename
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing results file: %w", err)
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		return fmt.Errorf("writing results file: %w", err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("writing results file: %w", err)
	}
	return nil
}

// repoRoot is the repository root: the nearest directory at or above the
// working directory whose go.mod declares the server module (the harness
// is its own module, benchmarks/, so `go env GOMOD` would name that one).
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && modulePath(b) == serverModule {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("not inside the sluice repository (no go.mod of %s at or above the working directory)", serverModule)
		}
		dir = parent
	}
}

const serverModule = "github.com/sluicehq/sluice"

// modulePath is the module path a go.mod declares ("" if none).
func modulePath(gomod []byte) string {
	for line := range strings.SplitSeq(string(gomod), "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "module" {
			return strings.Trim(f[1], `"`)
		}
	}
	return ""
}

// intList is a flag.Value for "64,256".
type intList []int

func (l *intList) String() string {
	s := make([]string, len(*l))
	for i, n := range *l {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ",")
}

func (l *intList) Set(v string) error {
	var out intList
	for f := range strings.SplitSeq(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return fmt.Errorf("%q is not a positive integer", f)
		}
		out = append(out, n)
	}
	*l = out
	return nil
}

// floatList is a flag.Value for "5000,10000".
type floatList []float64

func (l *floatList) String() string {
	s := make([]string, len(*l))
	for i, v := range *l {
		s[i] = strconv.FormatFloat(v, 'f', -1, 64)
	}
	return strings.Join(s, ",")
}

func (l *floatList) Set(v string) error {
	var out floatList
	for f := range strings.SplitSeq(v, ",") {
		n, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || n <= 0 {
			return fmt.Errorf("%q is not a positive number", f)
		}
		out = append(out, n)
	}
	*l = out
	return nil
}

// stringList is a flag.Value for "ingest,sync".
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }

func (l *stringList) Set(v string) error {
	var out stringList
	for f := range strings.SplitSeq(v, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			return fmt.Errorf("empty name in %q", v)
		}
		out = append(out, f)
	}
	*l = out
	return nil
}
