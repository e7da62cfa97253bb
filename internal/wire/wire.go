package wire

import "encoding/binary"

// AppendString appends s as its length (uvarint) followed by its bytes.
func AppendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// Reader reads, in order, the fields the Append functions (and
// binary.AppendUvarint, binary.AppendVarint, append) wrote. A read past the
// end or a malformed varint marks the Reader failed and returns the zero
// value; every later read fails too, so a decoder checks Failed once, at the
// end. The zero Reader is an empty input.
type Reader struct {
	b   []byte
	bad bool
}

// NewReader returns a Reader over b. It aliases b.
func NewReader(b []byte) Reader { return Reader{b: b} }

// Failed reports whether any read so far overran the input or met a
// malformed varint.
func (r *Reader) Failed() bool { return r.bad }

// Fail marks the Reader failed: for a decoder that finds a field out of range.
func (r *Reader) Fail() { r.bad = true }

// Rest returns the bytes not read yet (nil once failed). It aliases the input.
func (r *Reader) Rest() []byte {
	if r.bad {
		return nil
	}
	return r.b
}

// Len is the number of bytes not read yet.
func (r *Reader) Len() int { return len(r.Rest()) }

// Byte reads one byte.
func (r *Reader) Byte() byte {
	if r.bad || len(r.b) < 1 {
		r.bad = true
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

// Copy fills dst with the next len(dst) bytes.
func (r *Reader) Copy(dst []byte) {
	if r.bad || len(r.b) < len(dst) {
		r.bad = true
		return
	}
	copy(dst, r.b)
	r.b = r.b[len(dst):]
}

// Uvarint reads what binary.AppendUvarint wrote.
func (r *Reader) Uvarint() uint64 {
	if r.bad {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.bad = true
		return 0
	}
	r.b = r.b[n:]
	return v
}

// Varint reads what binary.AppendVarint wrote: a zig-zag encoded uvarint.
func (r *Reader) Varint() int64 {
	u := r.Uvarint()
	x := int64(u >> 1) // #nosec G115 -- the zig-zag decoding of binary.Varint
	if u&1 != 0 {
		x = ^x
	}
	return x
}

// Count reads the number of items that follow, each at least one byte
// long: a count larger than the bytes left is corrupt input, and fails the
// Reader (0).
func (r *Reader) Count() uint64 {
	n := r.Uvarint()
	if r.bad || n > uint64(len(r.b)) {
		r.bad = true
		return 0
	}
	return n
}

// LenBytes reads what AppendString (or a length and that many bytes)
// wrote, without copying: the slice aliases the Reader's input.
func (r *Reader) LenBytes() []byte {
	n := r.Count()
	if r.bad {
		return nil
	}
	b := r.b[:n:n]
	r.b = r.b[n:]
	return b
}

// LenString reads what AppendString wrote, copied into a new string. (Not
// String: a Reader is no fmt.Stringer, printing one must not consume it.)
func (r *Reader) LenString() string {
	n := r.Uvarint()
	if r.bad || n > uint64(len(r.b)) {
		r.bad = true
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}
