package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"

	"github.com/sluicehq/sluice/runtime/config"
	"github.com/sluicehq/sluice/runtime/wasm"
	"github.com/sluicehq/sluice/runtime/wasm/wasmbin"
)

const pluginUsage = `usage: sluice plugin run FILE.wasm [flags]
       sluice plugin inspect FILE.wasm [--abi native|wasi] [--cache-dir DIR]
       sluice plugin new NAME [--lang go|rust|c|assemblyscript|zig]

run: transform one message as the server would, with the same limits; the output
body goes to stdout byte for byte, metadata, plugin logs and errors to stderr.
Exit status 1 if the plugin rejects or fails the message or cannot be loaded.
  --input FILE|-          the message body (default -: standard input)
  --header K=V            a request header the plugin can read (meta "header:K"); repeatable
  --content-type TYPE     the message's content type (default: the Content-Type
                          header, else application/json if the input is JSON,
                          else application/octet-stream)
  --route NAME            route name (default cli)
  --name NAME             plugin name (default: FILE without .wasm)
  --correlation-id ID     correlation id (default: a new UUIDv7)
  --abi native|wasi       the plugin's ABI (default: detected from its exports)
  --fuel N                fuel per call (default 100000000)
  --memory SIZE           memory limit, e.g. 16MiB (default 64MiB)
  --timeout DURATION      wall-clock limit per call (default 1s)
  --max-depth N           call depth limit (default 10000)
  --max-output SIZE       output size limit (default 16MiB)
  --cache-dir DIR         compilation cache (default <user cache dir>/sluice/wasm;
                          empty: none)

inspect: print the module's size, sha256, ABI, imports, exports and memory, and
whether the host loads it with the default limits (exit status 1 if not).

new: write a ready plugin project NAME/ (source, SDK, Makefile, example.json,
README); see sluice plugin new --help.
`

// pluginCmd runs `sluice plugin run|inspect|new`.
func pluginCmd(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "run":
			return pluginRunCmd(args[1:], stdin, stdout, stderr)
		case "inspect":
			return pluginInspectCmd(args[1:], stdout, stderr)
		case "new":
			return pluginNewCmd(args[1:], stdout, stderr)
		case "help", "-h", "--help":
			fmt.Fprint(stdout, pluginUsage)
			return 0
		}
	}
	fmt.Fprint(stderr, pluginUsage)
	return 2
}

// runOptions are the flags of `sluice plugin run`.
type runOptions struct {
	input, contentType, route, name, correlationID, abi, cacheDir string
	headers                                                       headerFlags
	limits                                                        config.PluginLimits
}

func pluginRunCmd(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	o := runOptions{input: "-", route: "cli", cacheDir: defaultCacheDir()}
	fs := newFlagSet("plugin run", stderr)
	fs.StringVar(&o.input, "input", o.input, "")
	fs.Var(&o.headers, "header", "")
	fs.StringVar(&o.contentType, "content-type", "", "")
	fs.StringVar(&o.route, "route", o.route, "")
	fs.StringVar(&o.name, "name", "", "")
	fs.StringVar(&o.correlationID, "correlation-id", "", "")
	fs.StringVar(&o.abi, "abi", "", "")
	fs.StringVar(&o.cacheDir, "cache-dir", o.cacheDir, "")
	fs.Int64Var(&o.limits.Fuel, "fuel", 0, "")
	fs.Var((*byteSizeFlag)(&o.limits.MemoryLimit), "memory", "")
	fs.Var((*durationFlag)(&o.limits.Timeout), "timeout", "")
	fs.IntVar(&o.limits.MaxDepth, "max-depth", 0, "")
	fs.Var((*byteSizeFlag)(&o.limits.MaxOutput), "max-output", "")
	file, code := parseFileArg(fs, args, stdout, stderr)
	if file == "" {
		return code
	}
	if err := o.check(); err != nil {
		fmt.Fprintf(stderr, "sluice plugin run: %v\n\n%s", err, pluginUsage)
		return 2
	}
	return pluginRun(file, o, stdin, stdout, stderr)
}

// check rejects flag values the server's config would refuse.
func (o *runOptions) check() error {
	if o.abi != "" && o.abi != wasm.ABINative && o.abi != wasm.ABIWASI {
		return fmt.Errorf("--abi %q: must be native or wasi", o.abi)
	}
	if o.route == "" {
		return errors.New("--route must not be empty")
	}
	l := o.limits
	switch {
	case l.Fuel < 0:
		return errors.New("--fuel must be positive")
	case l.MemoryLimit < 0 || l.MemoryLimit > 4<<30:
		return errors.New("--memory must be between 64KiB and 4GiB")
	case l.Timeout < 0:
		return errors.New("--timeout must be positive")
	case l.MaxDepth < 0 || l.MaxDepth > 1_000_000:
		return errors.New("--max-depth must be between 1 and 1000000")
	case l.MaxOutput < 0:
		return errors.New("--max-output must be positive")
	}
	return nil
}

func pluginRun(file string, o runOptions, stdin io.Reader, stdout, stderr io.Writer) int {
	fail := func(format string, args ...any) int {
		fmt.Fprintf(stderr, "error: "+format+"\n", args...)
		return 1
	}
	bin, err := os.ReadFile(file) // #nosec G304 -- the plugin file named on the command line
	if err != nil {
		return fail("reading plugin: %v", err)
	}
	input, err := readInput(o.input, stdin, stderr)
	if err != nil {
		return fail("reading input: %v", err)
	}
	if limit := int(config.Default().MaxBodySize); len(input) > limit {
		fmt.Fprintf(stderr, "warning: the input is %d bytes; the server refuses bodies over max_body_size (default %d)\n", len(input), limit)
	}
	name := o.name
	if name == "" {
		name = strings.TrimSuffix(filepath.Base(file), ".wasm")
	}
	id := o.correlationID
	if id == "" {
		u, err := uuid.NewV7()
		if err != nil {
			return fail("generating correlation id: %v", err)
		}
		id = u.String()
	}
	contentType := o.contentType
	if contentType == "" {
		contentType = sniffContentType(o.headers, input)
	}
	// The server hands plugins the request's Content-Type header too.
	headers := o.headers.with("Content-Type", contentType)

	ctx := context.Background()
	h, err := newCLIHost(o.cacheDir, stderr)
	if err != nil {
		return fail("%v", err)
	}
	defer h.Close()
	start := time.Now()
	p, err := h.LoadABI(ctx, name, bin, o.abi, wasmLimits(o.limits))
	if err != nil {
		return fail("%s", describeErr(err))
	}
	defer p.Close(ctx)
	loadTook := time.Since(start)
	inst, err := p.Instantiate(ctx)
	if err != nil {
		return fail("%s", describeErr(err))
	}
	defer inst.Close()

	fmt.Fprintf(stderr, "plugin: %s (%s ABI, %d bytes)\ncorrelation-id: %s\n", p.Version, p.ABI, p.Size, id)
	c := &wasm.Call{Input: input, Route: o.route, CorrelationID: id, ContentType: contentType,
		ReceivedAt: time.Now().UTC(), Headers: headers}
	start = time.Now()
	err = inst.Transform(c)
	took := time.Since(start)
	if err != nil {
		return fail("%s", describeErr(err))
	}
	if _, err := stdout.Write(c.Output); err != nil {
		return fail("writing output: %v", err)
	}
	if c.OutContentType != "" {
		fmt.Fprintf(stderr, "content-type: %s\n", c.OutContentType)
	} else {
		fmt.Fprintf(stderr, "content-type: %s (the input's: the plugin set none)\n", contentType)
	}
	for _, hd := range c.OutHeaders {
		fmt.Fprintf(stderr, "header: %s: %s\n", hd.Name, hd.Value)
	}
	fmt.Fprintf(stderr, "output: %d bytes\ntook: %s (load %s)\n", len(c.Output),
		took.Round(time.Microsecond), loadTook.Round(time.Millisecond))
	return 0
}

// readInput reads the message body from a file or, for "-", from stdin.
func readInput(name string, stdin io.Reader, stderr io.Writer) ([]byte, error) {
	if name != "-" {
		return os.ReadFile(name) // #nosec G304 -- --input, named on the command line
	}
	if f, ok := stdin.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			fmt.Fprintln(stderr, "reading the message from the terminal; end it with Ctrl-D (or use --input FILE)")
		}
	}
	return io.ReadAll(stdin)
}

// sniffContentType is the Content-Type header if given, else JSON or octet-stream by the input.
func sniffContentType(h headerFlags, input []byte) string {
	if v, ok := h.Header("Content-Type"); ok {
		return v
	}
	if len(bytes.TrimSpace(input)) > 0 && json.Valid(input) {
		return "application/json"
	}
	return "application/octet-stream"
}

// describeErr formats a load or transform error as "<code>: <message>",
// followed by the guest's stack trace when wazero gave one.
func describeErr(err error) string {
	var we *wasm.Error
	if !errors.As(err, &we) {
		return err.Error()
	}
	s := we.Code + ": " + we.Message
	if we.Err != nil {
		if _, trace, ok := strings.Cut(we.Err.Error(), "\n"); ok && strings.TrimSpace(trace) != "" {
			s += "\n" + strings.TrimRight(trace, "\n")
		}
	}
	return s
}

func pluginInspectCmd(args []string, stdout, stderr io.Writer) int {
	abi, cacheDir := "", defaultCacheDir()
	fs := newFlagSet("plugin inspect", stderr)
	fs.StringVar(&abi, "abi", "", "")
	fs.StringVar(&cacheDir, "cache-dir", cacheDir, "")
	file, code := parseFileArg(fs, args, stdout, stderr)
	if file == "" {
		return code
	}
	if abi != "" && abi != wasm.ABINative && abi != wasm.ABIWASI {
		fmt.Fprintf(stderr, "sluice plugin inspect: --abi %q: must be native or wasi\n\n%s", abi, pluginUsage)
		return 2
	}
	bin, err := os.ReadFile(file) // #nosec G304 -- the plugin file named on the command line
	if err != nil {
		fmt.Fprintf(stderr, "error: reading plugin: %v\n", err)
		return 1
	}
	w := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(w, "file: %s\nsize: %d bytes\n", file, len(bin))
	sum := sha256.Sum256(bin)
	fmt.Fprintf(w, "sha256: %x\n", sum)
	p, loadErr := loadForInspect(file, bin, abi, cacheDir, stderr)
	if p != nil {
		defer p.Close(context.Background())
	}
	if m, err := wasmbin.Parse(bin); err == nil {
		switch {
		case p != nil && p.ABI == wasm.ABINative:
			fmt.Fprintf(w, "abi: native (Sluice ABI v%d)\n", wasm.ABIVersion)
		case p != nil:
			fmt.Fprintf(w, "abi: %s\n", p.ABI)
		case abi != "":
			fmt.Fprintf(w, "abi: %s (as given)\n", abi)
		default:
			fmt.Fprintf(w, "abi: %s (by its exports)\n", wasm.DetectABI(m))
		}
		fmt.Fprintf(w, "imports (%d):\n", len(m.Imports))
		for _, imp := range m.Imports {
			fmt.Fprintf(w, "  %s.%s\t%s\n", imp.Module, imp.Name, kindAndType(imp.Kind, imp.Type))
		}
		fmt.Fprintf(w, "exports (%d):\n", len(m.Exports))
		for _, e := range m.Exports {
			fmt.Fprintf(w, "  %s\t%s\n", e.Name, kindAndType(e.Kind, e.Type))
		}
		if len(m.Memories) == 0 {
			fmt.Fprintf(w, "memory: none\n")
		}
		for _, mem := range m.Memories {
			fmt.Fprintf(w, "memory: %s\n", describeMemory(mem))
		}
	}
	if loadErr != nil {
		msg := loadErr.Error()
		var we *wasm.Error
		if errors.As(loadErr, &we) {
			msg = we.Message
		}
		fmt.Fprintf(w, "loads: no: %s\n", msg)
	} else {
		fmt.Fprintf(w, "loads: yes, as %s\n", p.Version)
	}
	w.Flush() // #nosec G104 -- a report on the terminal; the exit status says whether the plugin loads
	if loadErr != nil {
		return 1
	}
	return 0
}

// loadForInspect loads the module as the server would, with the default limits.
func loadForInspect(file string, bin []byte, abi, cacheDir string, stderr io.Writer) (*wasm.Plugin, error) {
	h, err := newCLIHost(cacheDir, stderr)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	name := strings.TrimSuffix(filepath.Base(file), ".wasm")
	return h.LoadABI(context.Background(), name, bin, abi, wasm.Limits{})
}

func kindAndType(kind string, t *wasmbin.FuncType) string {
	if t == nil {
		return kind
	}
	return kind + " " + t.String()
}

func describeMemory(m wasmbin.Memory) string {
	s := fmt.Sprintf("%s initial", pages(m.MinPages))
	if m.HasMax {
		s += fmt.Sprintf(", %s maximum", pages(m.MaxPages))
	} else {
		s += ", no maximum"
	}
	if m.Imported {
		s += " (imported)"
	}
	return s
}

// pages formats a count of 64 KiB pages with its size.
func pages(n uint64) string {
	unit := "pages"
	if n == 1 {
		unit = "page"
	}
	return fmt.Sprintf("%d %s (%s)", n, unit, byteSize(n<<16))
}

func byteSize(n uint64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d B", n)
}

// defaultCacheDir is where the CLI keeps compiled plugins between runs, so
// that trying a Go plugin twice compiles it once; "" (none) if the user cache
// dir is unknown.
func defaultCacheDir() string {
	d, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(d, "sluice", "wasm")
}

// newCLIHost returns a host whose log (plugin log calls, stdout and stderr)
// goes to stderr.
func newCLIHost(cacheDir string, stderr io.Writer) (*wasm.Host, error) {
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return wasm.NewHost(cacheDir, log)
}

// newFlagSet returns a flag set that reports errors to stderr and leaves the
// usage text to the caller.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {}
	return fs
}

// parseFileArg parses flags placed before or after the one FILE argument.
// It returns the file, or "" and the exit status (0 for -h, 2 for bad usage).
func parseFileArg(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) (string, int) {
	var files []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fmt.Fprint(stdout, pluginUsage)
				return "", 0
			}
			fmt.Fprintf(stderr, "\n%s", pluginUsage)
			return "", 2
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			files = append(files, rest...)
			break
		}
		files, args = append(files, rest[0]), rest[1:]
	}
	if len(files) != 1 {
		fmt.Fprintf(stderr, "sluice %s: want one FILE.wasm, got %d arguments\n\n%s", fs.Name(), len(files), pluginUsage)
		return "", 2
	}
	return files[0], 0
}

// headerFlags are the --header K=V flags: request headers the plugin reads
// through meta("header:K"), first value wins, names case-insensitive.
type headerFlags []wasm.Header

func (h *headerFlags) String() string { return fmt.Sprint(*h) }

func (h *headerFlags) Set(s string) error {
	i := strings.IndexAny(s, "=:")
	if i <= 0 {
		return errors.New("want NAME=VALUE")
	}
	name, value := s[:i], s[i+1:]
	if s[i] == ':' {
		value = strings.TrimLeft(value, " ")
	}
	if strings.ContainsAny(name, " \t") {
		return fmt.Errorf("header name %q has spaces", name)
	}
	*h = append(*h, wasm.Header{Name: name, Value: value})
	return nil
}

func (h headerFlags) Header(name string) (string, bool) {
	for _, x := range h {
		if strings.EqualFold(x.Name, name) {
			return x.Value, true
		}
	}
	return "", false
}

// with returns the headers with name set to value, replacing every earlier value.
func (h headerFlags) with(name, value string) headerFlags {
	out := headerFlags{{Name: name, Value: value}}
	for _, x := range h {
		if !strings.EqualFold(x.Name, name) {
			out = append(out, x)
		}
	}
	return out
}

type byteSizeFlag config.ByteSize

func (b *byteSizeFlag) String() string { return fmt.Sprint(int64(*b)) }

func (b *byteSizeFlag) Set(s string) error {
	n, err := config.ParseByteSize(s)
	if err != nil {
		return err
	}
	*b = byteSizeFlag(n)
	return nil
}

type durationFlag config.Duration

func (d *durationFlag) String() string { return time.Duration(*d).String() }

func (d *durationFlag) Set(s string) error {
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = durationFlag(v)
	return nil
}
