package wasm

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/sluicehq/sluice/runtime/wasm/wasmbin"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"
)

// WASI command plugins (ABI "wasi"): any program built for WASI preview 1.
// The message arrives on stdin, the result is what the program writes to
// stdout, stderr goes to the log, and exit status 0 (or returning from
// _start) is success; any other status or a trap fails the message. One fresh
// instance runs per message, as the command contract requires, under the
// plugin's fuel (for the whole run), depth, memory, output and time limits.

// prepareCommand checks a WASI command and its configuration.
func (p *Plugin) prepareCommand(ctx context.Context) error {
	fns := p.compiled.ExportedFunctions()
	start, ok := fns["_start"]
	if !ok {
		return invalid(p.Name, "abi: wasi needs an exported _start (a WASI command); exported functions found: [%s]",
			strings.Join(slices.Sorted(maps.Keys(fns)), " "))
	}
	if len(start.ParamTypes()) != 0 || len(start.ResultTypes()) != 0 {
		return invalid(p.Name, "_start has signature %s, want () -> ()", signature(start.ParamTypes(), start.ResultTypes()))
	}
	p.modCfg = wazero.NewModuleConfig().
		WithName("").
		WithStartFunctions(). // _start runs under the watchdog, in Transform
		WithArgs(p.Name).
		WithSysWalltime().WithSysNanotime().WithSysNanosleep().
		WithRandSource(rand.Reader)
	// Instantiate once without running anything: unresolvable imports and
	// memory problems show now, not with the first message.
	mod, err := p.rt.InstantiateModule(ctx, p.compiled, p.modCfg)
	if err != nil {
		return invalid(p.Name, "instantiating: %s", firstLine(err.Error()))
	}
	return mod.Close(ctx)
}

// stdout collects a command's output up to a limit.
type stdout struct {
	buf  bytes.Buffer
	max  int
	over bool
}

var errOutputLimit = errors.New("output over its limit")

func (w *stdout) Write(b []byte) (int, error) {
	if w.buf.Len()+len(b) > w.max {
		w.over = true
		return 0, errOutputLimit
	}
	return w.buf.Write(b)
}

// stderr keeps the tail of a command's stderr for the error message and
// logs it line by line (a line written in pieces is one record).
type stderr struct {
	log     *logWriter
	tail    []byte
	partial []byte
}

func (w *stderr) Write(b []byte) (int, error) {
	w.tail = append(w.tail, b...)
	if n := len(w.tail); n > 512 {
		w.tail = append(w.tail[:0], w.tail[n-512:]...)
	}
	w.partial = append(w.partial, b...)
	if i := bytes.LastIndexByte(w.partial, '\n'); i >= 0 {
		w.log.Write(w.partial[:i])
		w.partial = append(w.partial[:0], w.partial[i+1:]...)
	}
	if len(w.partial) > 4096 { // a very long line: log it in pieces
		w.flush()
	}
	return len(b), nil
}

func (w *stderr) flush() {
	w.log.Write(w.partial)
	w.partial = w.partial[:0]
}

// transformCommand runs one message through a fresh instance of a WASI command.
func (i *Instance) transformCommand(c *Call) error {
	p := i.p
	out := &stdout{max: p.limits.MaxOutput}
	log := p.log.With("correlation_id", c.CorrelationID)
	if c.TraceID != "" {
		log = log.With("trace_id", c.TraceID)
	}
	errw := &stderr{log: &logWriter{log: log}}
	cfg := p.modCfg.
		WithStdin(bytes.NewReader(c.Input)).
		WithStdout(out).WithStderr(errw).
		WithEnv("SLUICE_ROUTE", c.Route).
		WithEnv("SLUICE_CORRELATION_ID", c.CorrelationID).
		WithEnv("SLUICE_CONTENT_TYPE", c.ContentType)
	mod, err := p.rt.InstantiateModule(i.ctx, p.compiled, cfg)
	if err != nil {
		return &Error{Code: CodeFailed, Plugin: p.Name, Message: "instantiating: " + firstLine(err.Error()), Err: err}
	}
	i.mod = mod
	defer func() {
		mod.Close(context.Background())
		i.mod = nil
	}()
	i.fuel, _ = mod.ExportedGlobal(wasmbin.FuelExport).(api.MutableGlobal)
	i.depth, _ = mod.ExportedGlobal(wasmbin.DepthExport).(api.MutableGlobal)
	if i.fuel == nil || i.depth == nil {
		return &Error{Code: CodeFailed, Plugin: p.Name, Message: "instantiating: metering globals missing"}
	}
	start := mod.ExportedFunction("_start")
	i.resetMeters()
	i.startTimer()
	callErr := start.CallWithStack(i.ctx, nil)
	i.stopTimer()
	errw.flush()
	if out.over {
		return &Error{Code: CodeInvalidOutput, Plugin: p.Name,
			Message: fmt.Sprintf("wrote more than the output limit of %d bytes to stdout", p.limits.MaxOutput)}
	}
	if callErr != nil {
		var exit *sys.ExitError
		if errors.As(callErr, &exit) && !i.timedOut.Load() {
			if exit.ExitCode() == 0 {
				callErr = nil
			} else {
				msg := fmt.Sprintf("exited with status %d", exit.ExitCode())
				if t := strings.TrimSpace(string(errw.tail)); t != "" {
					msg += "; stderr: " + t
				}
				return &Error{Code: CodeFailed, Plugin: p.Name, Message: msg, Err: callErr}
			}
		} else {
			e := i.classify("_start", callErr)
			e.Discard = false // nothing to discard: the instance is per message
			return e
		}
	}
	if i.fault != nil {
		return i.fault
	}
	i.out = append(i.out[:0], out.buf.Bytes()...)
	c.Output = i.out
	return nil
}
