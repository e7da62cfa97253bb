package sluice

import (
	"fmt"
	"unsafe"
)

// Return codes of sluice_transform.
const (
	codeOK      int32 = 0
	codeReject  int32 = 1
	codeFailure int32 = 2
)

const (
	minInputCap = 4 << 10 // first input buffer; grows to the largest message seen
	minMetaCap  = 256     // first metadata value buffer; grows to the largest value seen
	metaTries   = 3       // meta calls per lookup before giving up on a value that keeps growing
)

// guest is the SDK's state for one module instance. The host never calls an instance concurrently, so nothing
// here is locked.
type guest struct {
	handler Handler
	in      []byte  // input buffer handed out by sluice_alloc, reused while big enough
	msg     Message // reused for every message
	meta    []byte  // metadata value buffer, reused
	key     []byte  // metadata key scratch, reused
}

var g guest

// alloc returns an n-byte buffer for the host to write the next input into, reusing the previous buffer when it
// is big enough. The buffer always has a non-zero capacity, so its address is never 0, even for n == 0. alloc
// returns nil if n is negative.
func (g *guest) alloc(n int32) []byte {
	if n < 0 {
		return nil
	}
	if int(n) > cap(g.in) {
		g.in = make([]byte, max(int(n), 2*cap(g.in), minInputCap))
	}
	if cap(g.in) == 0 {
		g.in = make([]byte, minInputCap)
	}
	g.in = g.in[:n]
	return g.in
}

// input returns the n bytes at guest address addr, which must lie inside the buffer last returned by alloc.
// It never turns an integer into a pointer: anything outside that buffer is refused.
func (g *guest) input(addr uintptr, n int32) ([]byte, bool) {
	if n == 0 {
		return g.in[:0], true
	}
	if n < 0 || cap(g.in) == 0 {
		return nil, false
	}
	base := addrOf(g.in)
	if addr < base || addr-base > uintptr(cap(g.in)) || uintptr(n) > uintptr(cap(g.in))-(addr-base) {
		return nil, false
	}
	off := int(addr - base)
	return g.in[:cap(g.in)][off : off+int(n)], true
}

// transform runs the handler on body and reports the outcome to the host. It allocates nothing itself.
func (g *guest) transform(body []byte) (code int32) {
	if g.handler == nil {
		hostLog(LevelError, "sluice: no handler registered: call sluice.Handle from an init function (main never runs in a c-shared module)")
		return codeFailure
	}
	defer func() {
		if r := recover(); r != nil {
			msg := fmt.Sprintf("handler panicked: %v", r)
			Logf(LevelError, "sluice: %s", msg)
			hostSetError(msg) // the host reports it with the failure
			code = codeFailure
		}
	}()
	g.msg = Message{Body: body}
	out, err := g.handler(&g.msg)
	g.msg = Message{}
	if err != nil {
		hostSetError(err.Error())
		return codeReject
	}
	if len(out) > 0 {
		hostSetOutput(out)
	}
	return codeOK
}

// lookup asks the host for the metadata value under key, growing the value buffer when the host says it is
// too small.
func (g *guest) lookup(key []byte) (string, bool) {
	if cap(g.meta) == 0 {
		g.meta = make([]byte, minMetaCap)
	}
	for range metaTries {
		n := hostMeta(key, g.meta[:cap(g.meta)])
		if n < 0 {
			return "", false
		}
		if int(n) <= cap(g.meta) {
			return string(g.meta[:n]), true
		}
		g.meta = make([]byte, n)
	}
	return "", false
}

// addrOf returns the address of b's first element, for comparing with addresses the host passes back.
func addrOf(b []byte) uintptr {
	return uintptr(unsafe.Pointer(unsafe.SliceData(b)))
}
