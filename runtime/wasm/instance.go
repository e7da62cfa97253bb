package wasm

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicehq/sluice/runtime/wasm/wasmbin"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"
)

// Error codes a plugin can fail with.
const (
	CodeRejected      = "plugin_rejected"     // the plugin refused the message (status 1)
	CodeTrap          = "trap"                // the guest trapped: unreachable, out-of-bounds access, Go panic, ...
	CodeFailed        = "plugin_failed"       // bad return code, guest exit, failed instantiation
	CodeFuel          = "fuel_exhausted"      // the call spent its fuel budget (Limits.Fuel)
	CodeDepth         = "call_depth_exceeded" // the guest recursed deeper than Limits.MaxDepth
	CodeTimeout       = "plugin_timeout"      // the call ran past its wall-clock limit
	CodeInvalidOutput = "invalid_output"      // output out of bounds or too large
	CodeMemoryLimit   = "memory_limit"        // the guest could not get the memory it needed
	CodeInvalidModule = "invalid_module"      // refused at load: not a module, no ABI, a limit (size, functions, code, declarations, compile work)
)

// Error is a failed transform. Discard reports whether the instance must be closed.
type Error struct {
	Code    string
	Plugin  string
	Message string
	Discard bool
	Err     error // underlying error, if any
}

func (e *Error) Error() string {
	return fmt.Sprintf("plugin %s: %s: %s", e.Plugin, e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// Header is a name/value pair.
type Header struct{ Name, Value string }

// HeaderSource answers header lookups for the meta host function.
type HeaderSource interface {
	// Header returns the first value of the named header (case-insensitive).
	Header(name string) (string, bool)
}

// Call is one message going through one plugin. The caller fills the inputs;
// Transform fills the outputs. Output and OutHeaders are owned by the
// instance and valid until its next Transform: copy them to keep them.
type Call struct {
	// Inputs.
	Input         []byte
	Route         string
	CorrelationID string
	TraceID       string // the message's trace (hex), for the plugin's log lines; "" if none
	ContentType   string
	ReceivedAt    time.Time
	Headers       HeaderSource
	// Reply transforms only: the destination's answer (meta response_status,
	// response_header:<name>).
	ResponseStatus  int
	ResponseHeaders HeaderSource

	// Outputs.
	Output         []byte
	OutContentType string // empty unless the plugin set one
	OutHeaders     []Header
	OutStatus      int // set_status (reply transforms); 0: not set
}

// Instance is a warm plugin instance. Not safe for concurrent use.
type Instance struct {
	p         *Plugin
	mod       api.Module
	alloc     api.Function
	transform api.Function
	fuel      api.MutableGlobal // wasmbin.FuelExport
	depth     api.MutableGlobal // wasmbin.DepthExport
	stack     []uint64

	ctx context.Context // carries the instance to host functions

	// The watchdog: a timer that, once a call has run past the timeout,
	// drains the guest's fuel every millisecond until the call returns.
	timer    *time.Timer
	running  atomic.Bool
	timedOut atomic.Bool
	watch    sync.WaitGroup

	call   *Call  // during Transform
	out    []byte // reused output buffer
	errMsg []byte
	fault  *Error // set by a host function before it traps
	closed bool
	warm   bool // counted in Plugin.Instances until closed
}

type instanceKey struct{}

// drained is the fuel value the watchdog writes: far below zero, so that the
// guest's next metering check traps even if it races with the write.
const drained = -1 << 60

// Instantiate creates a warm instance (running _initialize if exported,
// within Limits.InitFuel).
func (p *Plugin) Instantiate(ctx context.Context) (*Instance, error) {
	inst := &Instance{p: p, stack: make([]uint64, 2)}
	inst.ctx = context.WithValue(context.Background(), instanceKey{}, inst)
	inst.timer = time.AfterFunc(time.Hour, inst.expire)
	inst.timer.Stop()
	if p.ABI == ABIWASI {
		return inst, nil // a fresh module per message: transformCommand
	}
	mod, err := p.rt.InstantiateModule(inst.ctx, p.compiled, p.modCfg)
	if err != nil {
		msg := "instantiating: " + firstLine(err.Error())
		if strings.Contains(msg, "unreachable") {
			msg += " (the module's _initialize trapped, or spent its fuel: Limits.InitFuel)"
		}
		return nil, &Error{Code: CodeFailed, Plugin: p.Name, Message: msg, Discard: true, Err: err}
	}
	inst.mod, inst.warm = mod, true
	p.warm.Add(1)
	inst.alloc = mod.ExportedFunction(exportAlloc)
	inst.transform = mod.ExportedFunction(exportTransform)
	inst.fuel, _ = mod.ExportedGlobal(wasmbin.FuelExport).(api.MutableGlobal)
	inst.depth, _ = mod.ExportedGlobal(wasmbin.DepthExport).(api.MutableGlobal)
	if inst.fuel == nil || inst.depth == nil {
		inst.Close()
		return nil, &Error{Code: CodeFailed, Plugin: p.Name, Message: "instantiating: metering globals missing", Discard: true}
	}
	return inst, nil
}

// resetMeters gives the next call its full budgets.
func (i *Instance) resetMeters() {
	i.fuel.Set(api.EncodeI64(i.p.limits.Fuel))
	i.depth.Set(api.EncodeI32(i.p.limits.MaxDepth))
}

// expire runs on the timer's goroutine when a call overran its timeout.
func (i *Instance) expire() {
	defer i.watch.Done()
	if !i.running.Load() {
		return
	}
	i.timedOut.Store(true)
	for i.running.Load() {
		i.fuel.Set(api.EncodeI64(drained))
		time.Sleep(time.Millisecond)
	}
}

// startTimer arms the watchdog for one call; stopTimer disarms it and waits
// for a watchdog that already fired, so that no goroutine touches the
// instance after the call.
func (i *Instance) startTimer() {
	i.timedOut.Store(false)
	i.running.Store(true)
	i.watch.Add(1)
	i.timer.Reset(i.p.limits.Timeout)
}

func (i *Instance) stopTimer() {
	i.running.Store(false)
	if i.timer.Stop() {
		i.watch.Done()
		return
	}
	i.watch.Wait()
}

// Transform runs c through the plugin. On failure it returns an *Error; when
// its Discard is set the instance is already closed.
func (i *Instance) Transform(c *Call) error {
	if i.closed {
		return &Error{Code: CodeFailed, Plugin: i.p.Name, Message: errNoInstance.Error(), Discard: true}
	}
	i.call, i.fault = c, nil
	i.out, i.errMsg = i.out[:0], i.errMsg[:0]
	c.Output, c.OutContentType, c.OutHeaders, c.OutStatus = nil, "", c.OutHeaders[:0], 0
	defer func() { i.call = nil }()

	if i.p.ABI == ABIWASI {
		return i.transformCommand(c)
	}
	i.resetMeters()
	i.startTimer()
	rc, fn, callErr, err := i.invoke(c.Input)
	i.stopTimer()
	if callErr != nil {
		err = i.classify(fn, callErr)
	}
	if err != nil {
		i.Close()
		err.Discard = true
		return err
	}
	switch rc {
	case 0:
		c.Output = i.out
		return nil
	case 1:
		msg := string(i.errMsg)
		if msg == "" {
			msg = "rejected without a message"
		}
		return &Error{Code: CodeRejected, Plugin: i.p.Name, Message: msg}
	default:
		i.Close()
		msg := fmt.Sprintf("sluice_transform returned %d", rc)
		if len(i.errMsg) > 0 {
			msg += ": " + string(i.errMsg)
		}
		return &Error{Code: CodeFailed, Plugin: i.p.Name, Message: msg, Discard: true}
	}
}

// invoke copies the input in and calls the transform. A failed guest call
// comes back as (fn, callErr), classified once the watchdog is stopped.
func (i *Instance) invoke(input []byte) (rc int32, fn string, callErr error, err *Error) {
	i.stack[0] = api.EncodeI32(int32(len(input)))
	if err := i.alloc.CallWithStack(i.ctx, i.stack); err != nil {
		return 0, exportAlloc, err, nil
	}
	ptr := api.DecodeU32(i.stack[0])
	if ptr == 0 && len(input) > 0 {
		return 0, "", nil, &Error{Code: CodeMemoryLimit, Plugin: i.p.Name,
			Message: fmt.Sprintf("sluice_alloc(%d) returned 0: the plugin could not allocate the input (memory limit %d pages)", len(input), i.p.limits.MemoryPages)}
	}
	if !i.mod.Memory().Write(ptr, input) {
		return 0, "", nil, &Error{Code: CodeInvalidOutput, Plugin: i.p.Name,
			Message: fmt.Sprintf("sluice_alloc(%d) returned %#x, outside memory of %d bytes", len(input), ptr, i.mod.Memory().Size())}
	}
	i.stack[0], i.stack[1] = api.EncodeU32(ptr), api.EncodeI32(int32(len(input)))
	if err := i.transform.CallWithStack(i.ctx, i.stack); err != nil {
		return 0, exportTransform, err, nil
	}
	return api.DecodeI32(i.stack[0]), "", nil, nil
}

func firstLine(s string) string {
	if j := strings.IndexByte(s, '\n'); j > 0 {
		return s[:j]
	}
	return s
}

// classify turns a call error into an *Error. Called after stopTimer.
func (i *Instance) classify(fn string, err error) *Error {
	if i.fault != nil {
		return i.fault
	}
	var exit *sys.ExitError
	if errors.As(err, &exit) {
		return &Error{Code: CodeFailed, Plugin: i.p.Name, Err: err,
			Message: fmt.Sprintf("%s: guest exited with code %d", fn, exit.ExitCode())}
	}
	msg := firstLine(err.Error()) // wazero's stack trace stays in Err
	e := &Error{Plugin: i.p.Name, Err: err}
	switch fuel, depth := int64(i.fuel.Get()), int32(i.depth.Get()); {
	case i.timedOut.Load():
		e.Code, e.Message = CodeTimeout, fmt.Sprintf("%s ran past its %s limit", fn, i.p.limits.Timeout)
	case fuel <= 0:
		e.Code, e.Message = CodeFuel, fmt.Sprintf("%s spent its fuel budget of %d (function calls and loop iterations)", fn, i.p.limits.Fuel)
	case depth < 0:
		e.Code, e.Message = CodeDepth, fmt.Sprintf("%s recursed deeper than %d calls", fn, i.p.limits.MaxDepth)
	case strings.Contains(msg, "out of memory") || strings.Contains(msg, "memory limit"):
		e.Code, e.Message = CodeMemoryLimit, fmt.Sprintf("%s trapped: %s", fn, msg)
	case i.nearMemoryLimit():
		// memory.grow fails quietly (-1); a guest typically traps right after.
		e.Code, e.Message = CodeMemoryLimit, fmt.Sprintf("%s trapped (%s) with its memory at %d of %d pages",
			fn, msg, i.mod.Memory().Size()>>16, i.p.limits.MemoryPages)
	default:
		e.Code, e.Message = CodeTrap, fmt.Sprintf("%s trapped: %s", fn, msg)
	}
	return e
}

// nearMemoryLimit reports whether the guest's memory is within 1/16 of its limit.
func (i *Instance) nearMemoryLimit() bool {
	pages := uint64(i.mod.Memory().Size() >> 16)
	limit := uint64(i.p.limits.MemoryPages)
	return pages+max(limit/16, 1) > limit
}

// Close releases the instance. Safe to call twice.
func (i *Instance) Close() {
	if i.closed {
		return
	}
	i.closed = true
	if i.mod != nil {
		i.mod.Close(context.Background())
	}
	if i.warm {
		i.p.warm.Add(-1)
	}
}

// Closed reports whether the instance was discarded.
func (i *Instance) Closed() bool { return i.closed }
