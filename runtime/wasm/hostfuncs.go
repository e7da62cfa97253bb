package wasm

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

type hostFunc struct {
	fn              api.GoModuleFunc
	params, results []api.ValueType
}

var i32, i64 = api.ValueTypeI32, api.ValueTypeI64

// hostFuncs is the "sluice" host module of ABI v1.
var hostFuncs = map[string]hostFunc{
	"set_output":       {hostSetOutput, []api.ValueType{i32, i32}, nil},
	"set_error":        {hostSetError, []api.ValueType{i32, i32}, nil},
	"set_content_type": {hostSetContentType, []api.ValueType{i32, i32}, nil},
	"set_header":       {hostSetHeader, []api.ValueType{i32, i32, i32, i32}, nil},
	"meta":             {hostMeta, []api.ValueType{i32, i32, i32, i32}, []api.ValueType{i32}},
	"log":              {hostLog, []api.ValueType{i32, i32, i32}, nil},
	"now":              {hostNow, nil, []api.ValueType{i64}},
	"set_status":       {hostSetStatus, []api.ValueType{i32}, nil},
}

// instantiateHostModule defines the "sluice" host module in rt.
func instantiateHostModule(ctx context.Context, rt wazero.Runtime) error {
	b := rt.NewHostModuleBuilder(hostModule)
	for name, f := range hostFuncs {
		b.NewFunctionBuilder().WithGoModuleFunction(f.fn, f.params, f.results).Export(name)
	}
	if _, err := b.Instantiate(ctx); err != nil {
		return fmt.Errorf("wasm: instantiating host module: %w", err)
	}
	return nil
}

// current returns the instance making the call. Host functions called outside
// Transform (e.g. from _initialize) get a nil call.
func current(ctx context.Context) *Instance {
	inst, _ := ctx.Value(instanceKey{}).(*Instance)
	return inst
}

// read returns guest memory [ptr, ptr+n) or traps with invalid_output.
// The view is valid only during the host call.
func (i *Instance) read(mod api.Module, what string, ptr, n uint32) []byte {
	b, ok := mod.Memory().Read(ptr, n)
	if !ok {
		i.trap(CodeInvalidOutput, fmt.Sprintf("%s: range [%#x, +%d) is outside guest memory of %d bytes", what, ptr, n, mod.Memory().Size()))
	}
	return b
}

// trap records the failure and aborts the guest call; wazero turns the panic
// into an error returned from CallWithStack, which classify maps to fault.
func (i *Instance) trap(code, msg string) {
	i.fault = &Error{Code: code, Plugin: i.p.Name, Message: msg}
	panic(i.fault)
}

func hostSetOutput(ctx context.Context, mod api.Module, stack []uint64) {
	i := current(ctx)
	if i == nil || i.call == nil {
		return
	}
	ptr, n := api.DecodeU32(stack[0]), api.DecodeU32(stack[1])
	if int(n) > i.p.limits.MaxOutput {
		i.trap(CodeInvalidOutput, fmt.Sprintf("set_output: %d bytes exceeds the output limit of %d", n, i.p.limits.MaxOutput))
	}
	i.out = append(i.out[:0], i.read(mod, "set_output", ptr, n)...)
}

func hostSetError(ctx context.Context, mod api.Module, stack []uint64) {
	i := current(ctx)
	if i == nil || i.call == nil {
		return
	}
	ptr, n := api.DecodeU32(stack[0]), min(api.DecodeU32(stack[1]), 64<<10)
	i.errMsg = append(i.errMsg[:0], i.read(mod, "set_error", ptr, n)...)
}

func hostSetContentType(ctx context.Context, mod api.Module, stack []uint64) {
	i := current(ctx)
	if i == nil || i.call == nil {
		return
	}
	ptr, n := api.DecodeU32(stack[0]), min(api.DecodeU32(stack[1]), 1024)
	i.call.OutContentType = string(i.read(mod, "set_content_type", ptr, n))
}

func hostSetHeader(ctx context.Context, mod api.Module, stack []uint64) {
	i := current(ctx)
	if i == nil || i.call == nil {
		return
	}
	name := string(i.read(mod, "set_header name", api.DecodeU32(stack[0]), min(api.DecodeU32(stack[1]), 1024)))
	value := string(i.read(mod, "set_header value", api.DecodeU32(stack[2]), min(api.DecodeU32(stack[3]), 8192)))
	c := i.call
	for k := range c.OutHeaders {
		if equalFold(c.OutHeaders[k].Name, name) {
			c.OutHeaders[k].Value = value
			return
		}
	}
	if len(c.OutHeaders) < 64 {
		c.OutHeaders = append(c.OutHeaders, Header{name, value})
	}
}

// hostMeta copies a metadata value into the guest's buffer if it fits and
// returns its length, or -1 for an unknown key.
func hostMeta(ctx context.Context, mod api.Module, stack []uint64) {
	i := current(ctx)
	if i == nil || i.call == nil {
		stack[0] = api.EncodeI32(-1)
		return
	}
	key := i.read(mod, "meta key", api.DecodeU32(stack[0]), min(api.DecodeU32(stack[1]), 1024))
	bufPtr, bufCap := api.DecodeU32(stack[2]), api.DecodeU32(stack[3])
	v, ok := i.metaValue(key)
	if !ok {
		stack[0] = api.EncodeI32(-1)
		return
	}
	if uint32(len(v)) <= bufCap && !mod.Memory().WriteString(bufPtr, v) {
		i.trap(CodeInvalidOutput, fmt.Sprintf("meta: buffer [%#x, +%d) is outside guest memory", bufPtr, bufCap))
	}
	stack[0] = api.EncodeI32(int32(len(v)))
}

func (i *Instance) metaValue(key []byte) (string, bool) {
	c := i.call
	switch string(key) {
	case "route":
		return c.Route, true
	case "correlation_id":
		return c.CorrelationID, true
	case "content_type":
		return c.ContentType, true
	case "received_at":
		return c.ReceivedAt.UTC().Format(time.RFC3339Nano), true
	case "plugin":
		return i.p.Name, true
	case "response_status":
		if c.ResponseStatus == 0 {
			return "", false
		}
		return strconv.Itoa(c.ResponseStatus), true
	}
	if len(key) > 7 && string(key[:7]) == "header:" && c.Headers != nil {
		return c.Headers.Header(string(key[7:]))
	}
	if len(key) > 16 && string(key[:16]) == "response_header:" && c.ResponseHeaders != nil {
		return c.ResponseHeaders.Header(string(key[16:]))
	}
	return "", false
}

// hostSetStatus sets the reply's status (reply transforms): 200–599.
func hostSetStatus(ctx context.Context, mod api.Module, stack []uint64) {
	i := current(ctx)
	if i == nil || i.call == nil {
		return
	}
	status := api.DecodeI32(stack[0])
	if status < 200 || status > 599 {
		i.trap(CodeInvalidOutput, fmt.Sprintf("set_status(%d): a reply status must be between 200 and 599", status))
	}
	i.call.OutStatus = int(status)
}

func hostLog(ctx context.Context, mod api.Module, stack []uint64) {
	i := current(ctx)
	if i == nil {
		return
	}
	level := api.DecodeI32(stack[0])
	msg := string(i.read(mod, "log", api.DecodeU32(stack[1]), min(api.DecodeU32(stack[2]), 8192)))
	args := []any{}
	if i.call != nil {
		args = append(args, "route", i.call.Route, "correlation_id", i.call.CorrelationID)
		if i.call.TraceID != "" {
			args = append(args, "trace_id", i.call.TraceID)
		}
	}
	switch {
	case level <= 0:
		i.p.log.Debug(msg, args...)
	case level == 1:
		i.p.log.Info(msg, args...)
	case level == 2:
		i.p.log.Warn(msg, args...)
	default:
		i.p.log.Error(msg, args...)
	}
}

func hostNow(_ context.Context, _ api.Module, stack []uint64) {
	stack[0] = api.EncodeI64(time.Now().UnixNano())
}

// equalFold is ASCII case-insensitive equality (header names).
func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for k := 0; k < len(a); k++ {
		x, y := a[k], b[k]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
