package wasm

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"
)

// Error codes a transform can fail with.
const (
	CodeRejected      = "plugin_rejected"     // the plugin refused the message (status 1)
	CodeFailed        = "plugin_failed"       // trap, panic, bad return code, failed instantiation
	CodeTimeout       = "plugin_timeout"      // the call ran past its limit
	CodeInvalidOutput = "invalid_output"      // output out of bounds or too large
	CodeMemoryLimit   = "plugin_memory_limit" // the guest could not get the memory it needed
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
	ContentType   string
	ReceivedAt    time.Time
	Headers       HeaderSource

	// Outputs.
	Output         []byte
	OutContentType string // empty unless the plugin set one
	OutHeaders     []Header
}

// Instance is a warm plugin instance. Not safe for concurrent use.
type Instance struct {
	p         *Plugin
	mod       api.Module
	alloc     api.Function
	transform api.Function
	stack     []uint64

	ctx      context.Context // carries the instance to host functions; cancelled on timeout
	cancel   context.CancelFunc
	timer    *time.Timer
	timedOut atomic.Bool

	call   *Call  // during Transform
	out    []byte // reused output buffer
	errMsg []byte
	fault  *Error // set by a host function before it traps
	closed bool
}

type instanceKey struct{}

// Instantiate creates a warm instance (running _initialize if exported).
func (p *Plugin) Instantiate(ctx context.Context) (*Instance, error) {
	inst := &Instance{p: p, stack: make([]uint64, 2)}
	ictx, cancel := context.WithCancel(context.WithValue(context.Background(), instanceKey{}, inst))
	inst.ctx, inst.cancel = ictx, cancel
	inst.timer = time.AfterFunc(time.Hour, func() {
		inst.timedOut.Store(true)
		cancel()
	})
	inst.timer.Stop()
	mod, err := p.rt.InstantiateModule(ictx, p.compiled, p.modCfg)
	if err != nil {
		cancel()
		return nil, &Error{Code: CodeFailed, Plugin: p.Name, Message: "instantiating: " + err.Error(), Discard: true, Err: err}
	}
	inst.mod = mod
	inst.alloc = mod.ExportedFunction(exportAlloc)
	inst.transform = mod.ExportedFunction(exportTransform)
	return inst, nil
}

// Transform runs c through the plugin. On failure it returns an *Error; when
// its Discard is set the instance is already closed.
func (i *Instance) Transform(c *Call) error {
	if i.closed {
		return &Error{Code: CodeFailed, Plugin: i.p.Name, Message: errNoInstance.Error(), Discard: true}
	}
	i.call, i.fault = c, nil
	i.out, i.errMsg = i.out[:0], i.errMsg[:0]
	c.Output, c.OutContentType, c.OutHeaders = nil, "", c.OutHeaders[:0]
	defer func() { i.call = nil }()

	i.timer.Reset(i.p.limits.Timeout)
	rc, err := i.invoke(c.Input)
	if !i.timer.Stop() && i.timedOut.Load() {
		i.Close()
		return &Error{Code: CodeTimeout, Plugin: i.p.Name, Discard: true,
			Message: fmt.Sprintf("call exceeded its %s limit", i.p.limits.Timeout)}
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

func (i *Instance) invoke(input []byte) (int32, *Error) {
	i.stack[0] = api.EncodeI32(int32(len(input)))
	if err := i.alloc.CallWithStack(i.ctx, i.stack); err != nil {
		return 0, i.classify(exportAlloc, err)
	}
	ptr := api.DecodeU32(i.stack[0])
	if ptr == 0 && len(input) > 0 {
		return 0, &Error{Code: CodeMemoryLimit, Plugin: i.p.Name,
			Message: fmt.Sprintf("sluice_alloc(%d) returned 0: the plugin could not allocate the input (memory limit %d pages)", len(input), i.p.limits.MemoryPages)}
	}
	if !i.mod.Memory().Write(ptr, input) {
		return 0, &Error{Code: CodeInvalidOutput, Plugin: i.p.Name,
			Message: fmt.Sprintf("sluice_alloc(%d) returned %#x, outside memory of %d bytes", len(input), ptr, i.mod.Memory().Size())}
	}
	i.stack[0], i.stack[1] = api.EncodeU32(ptr), api.EncodeI32(int32(len(input)))
	if err := i.transform.CallWithStack(i.ctx, i.stack); err != nil {
		return 0, i.classify(exportTransform, err)
	}
	return api.DecodeI32(i.stack[0]), nil
}

// classify turns a call error into an *Error.
func (i *Instance) classify(fn string, err error) *Error {
	if i.fault != nil {
		return i.fault
	}
	var exit *sys.ExitError
	if errors.As(err, &exit) && exit.ExitCode() != sys.ExitCodeContextCanceled && exit.ExitCode() != sys.ExitCodeDeadlineExceeded {
		return &Error{Code: CodeFailed, Plugin: i.p.Name, Err: err,
			Message: fmt.Sprintf("%s: guest exited with code %d", fn, exit.ExitCode())}
	}
	msg := err.Error()
	if j := strings.IndexByte(msg, '\n'); j > 0 {
		msg = msg[:j] // drop wazero's stack trace; it stays in Err
	}
	code := CodeFailed
	if strings.Contains(msg, "out of memory") || strings.Contains(msg, "memory limit") {
		code = CodeMemoryLimit
	}
	return &Error{Code: code, Plugin: i.p.Name, Err: err, Message: fmt.Sprintf("%s trapped: %s", fn, msg)}
}

// Close releases the instance. Safe to call twice.
func (i *Instance) Close() {
	if i.closed {
		return
	}
	i.closed = true
	i.timer.Stop()
	i.mod.Close(context.Background())
	i.cancel()
}

// Closed reports whether the instance was discarded.
func (i *Instance) Closed() bool { return i.closed }
