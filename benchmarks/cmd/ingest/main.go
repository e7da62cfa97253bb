// Command ingest measures Sluice's async durable ingest rate against a bare
// fasthttp server answering 202 to the same 1 KiB POST, with one load
// generator in one run, and reports their ratio.
//
// Run it from the repository root:
//
//	go run ./benchmarks/cmd/ingest [flags]
//
// It prints a Markdown report to stdout, progress to stderr, and writes JSON
// to <out>/<YYYY-MM-DD>-ingest.json. See benchmarks/README.md.
//
// "ingest bare-server --listen ADDR" is a hidden subcommand: the harness
// re-executes itself with it to run the baseline server in its own process.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sluicehq/sluice/benchmarks/internal/bare"
	"github.com/sluicehq/sluice/benchmarks/internal/harness"
)

func main() {
	var err error
	if len(os.Args) > 1 && os.Args[1] == harness.BareServerCommand {
		err = runBare(os.Args[2:])
	} else {
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
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return bare.Serve(ctx, *listen)
}

func runBench(args []string) error {
	cfg := harness.Default()
	fs := flag.NewFlagSet("ingest", flag.ContinueOnError)
	conns := intList(cfg.Conns)
	fs.Var(&conns, "conns", "comma-separated connection counts, each measured for all rounds (e.g. 64,256)")
	fs.IntVar(&cfg.Rounds, "rounds", cfg.Rounds, "rounds; each round measures every server once, interleaved")
	fs.DurationVar(&cfg.Warmup, "warmup", cfg.Warmup, "load before each measurement, not counted")
	fs.DurationVar(&cfg.Measure, "measure", cfg.Measure, "measured window of each run")
	fs.IntVar(&cfg.BodyBytes, "body", cfg.BodyBytes, "POST body size in bytes")
	fs.BoolVar(&cfg.DurabilityNone, "durability-none", false, "also measure Sluice with durability: none")
	out := fs.String("out", "benchmarks/results", "directory for the JSON results, relative to the repo root; empty: do not write")
	fs.StringVar(&cfg.SluiceBin, "sluice-bin", "", "use this Sluice binary instead of building ./cmd/sluice")
	fs.BoolVar(&cfg.SelfTest, "self-test", false, "harness check: run the bare server in place of every Sluice server")
	fs.DurationVar(&cfg.ReadyTimeout, "ready-timeout", cfg.ReadyTimeout, "how long a server may take to answer GET /healthz")
	fs.DurationVar(&cfg.Timeout, "timeout", cfg.Timeout, "per-request timeout")
	fs.BoolVar(&cfg.KeepTmp, "keep-tmp", false, "keep the temp dir with configs, data and server logs")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	cfg.Conns = conns

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
	name := rep.StartedAt.Format(time.DateOnly) + "-ingest"
	if cfg.SelfTest {
		name += "-selftest" // never mistaken for, or overwriting, a real result
	}
	path := filepath.Join(dir, name+".json")
	if err := writeJSON(path, rep.WriteJSON); err != nil {
		return err
	}
	fmt.Fprintln(os.Stderr, "wrote", path)
	return nil
}

// writeJSON writes via a temp file and a rename, so an interrupted run
// never leaves a truncated results file.
func writeJSON(path string, write func(io.Writer) error) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("creating results dir: %w", err)
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".ingest-*.json")
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

// repoRoot is the directory of the main module's go.mod.
func repoRoot() (string, error) {
	b, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("running go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(b))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("not inside the sluice module; run from the repository root")
	}
	return filepath.Dir(mod), nil
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
