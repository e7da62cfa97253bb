package wasmbin

import (
	"errors"
	"fmt"
)

// reader decodes the primitive encodings of the binary format. Errors are
// sticky: after the first one every read returns zero and err stays set.
type reader struct {
	b   []byte
	off int
	err error
}

var errEOF = errors.New("unexpected end")

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("at byte %d: %s", r.off, fmt.Sprintf(format, args...))
	}
}

func (r *reader) done() bool { return r.err != nil || r.off >= len(r.b) }

func (r *reader) byte() byte {
	if r.err != nil {
		return 0
	}
	if r.off >= len(r.b) {
		r.fail("%v", errEOF)
		return 0
	}
	c := r.b[r.off]
	r.off++
	return c
}

func (r *reader) bytes(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b)-r.off {
		r.fail("%v: want %d bytes, have %d", errEOF, n, len(r.b)-r.off)
		return nil
	}
	s := r.b[r.off : r.off+n]
	r.off += n
	return s
}

// u32 reads an unsigned LEB128 of at most 32 bits.
func (r *reader) u32() uint32 {
	v := r.u32Wide(true)
	if v > 1<<32-1 {
		r.fail("u32 overflows")
		return 0
	}
	return uint32(v)
}

// skipSLEB skips a signed LEB128 of at most maxBytes bytes.
func (r *reader) skipSLEB(maxBytes int) {
	for range maxBytes {
		if r.byte()&0x80 == 0 {
			return
		}
	}
	r.fail("signed LEB128 longer than %d bytes", maxBytes)
}

// s33 reads a signed 33-bit LEB128 (block types).
func (r *reader) s33() int64 {
	var v int64
	shift := 0
	for range 5 {
		c := r.byte()
		if r.err != nil {
			return 0
		}
		v |= int64(c&0x7f) << shift
		shift += 7
		if c&0x80 == 0 {
			if shift < 64 && c&0x40 != 0 {
				v |= -1 << shift
			}
			return v
		}
	}
	r.fail("s33 longer than 5 bytes")
	return 0
}

func (r *reader) name() string {
	n := r.u32()
	return string(r.bytes(int(n)))
}

// limits reads a table or memory limits: (min, max, hasMax).
func (r *reader) limits() (uint64, uint64, bool) {
	flag := r.byte()
	if flag&^0x07 != 0 {
		r.fail("unknown limits flag %#x", flag)
		return 0, 0, false
	}
	read := r.u32Wide
	min := read(flag&0x04 != 0)
	if flag&0x01 != 0 {
		return min, read(flag&0x04 != 0), true
	}
	return min, 0, false
}

// u32Wide reads a u32, or a u64 for 64-bit memories.
func (r *reader) u32Wide(wide bool) uint64 {
	if !wide {
		return uint64(r.u32())
	}
	var v uint64
	for shift := 0; shift < 70; shift += 7 {
		c := r.byte()
		if r.err != nil {
			return 0
		}
		v |= uint64(c&0x7f) << shift
		if c&0x80 == 0 {
			return v
		}
	}
	r.fail("u64 too long")
	return 0
}

// appendU32 appends v as unsigned LEB128.
func appendU32(b []byte, v uint32) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

// appendS64 appends v as signed LEB128.
func appendS64(b []byte, v int64) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}
