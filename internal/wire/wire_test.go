package wire

import (
	"bytes"
	"encoding/binary"
	"math"
	"testing"
)

// appendAll writes one of every field the package reads.
func appendAll(b []byte) []byte {
	b = append(b, 7)
	b = append(b, []byte("0123456789abcdef")...)
	b = binary.AppendUvarint(b, math.MaxUint64)
	b = binary.AppendVarint(b, math.MinInt64)
	b = binary.AppendVarint(b, -1)
	b = AppendString(b, "")
	b = AppendString(b, "héllo")
	return append(b, "tail"...)
}

func TestRoundTrip(t *testing.T) {
	r := NewReader(appendAll(nil))
	if got := r.Byte(); got != 7 {
		t.Fatalf("Byte = %d, want 7", got)
	}
	var id [16]byte
	r.Copy(id[:])
	if string(id[:]) != "0123456789abcdef" {
		t.Fatalf("Copy = %q", id)
	}
	if got := r.Uvarint(); got != math.MaxUint64 {
		t.Fatalf("Uvarint = %d", got)
	}
	if got := r.Varint(); got != math.MinInt64 {
		t.Fatalf("Varint = %d", got)
	}
	if got := r.Varint(); got != -1 {
		t.Fatalf("Varint = %d", got)
	}
	if got := r.LenString(); got != "" {
		t.Fatalf("LenString = %q", got)
	}
	if got := r.LenString(); got != "héllo" {
		t.Fatalf("LenString = %q", got)
	}
	if r.Failed() || string(r.Rest()) != "tail" || r.Len() != 4 {
		t.Fatalf("after all fields: failed %v rest %q", r.Failed(), r.Rest())
	}
}

// The encoding is encoding/binary's: values stored before the package
// existed must read the same, so the bytes are pinned here.
func TestAppendStringBytes(t *testing.T) {
	got := AppendString([]byte{0xff}, string(make([]byte, 200)))
	want := append([]byte{0xff, 0xc8, 0x01}, make([]byte, 200)...)
	if !bytes.Equal(got, want) {
		t.Fatalf("AppendString = % x..., want % x...", got[:4], want[:4])
	}
}

// Every prefix of a valid input is truncated: some read must fail, and a
// failed Reader stays failed and returns zero values.
func TestTruncated(t *testing.T) {
	full := appendAll(nil)
	full = full[:len(full)-len("tail")]
	for n := range len(full) {
		r := NewReader(full[:n])
		r.Byte()
		var id [16]byte
		r.Copy(id[:])
		r.Uvarint()
		r.Varint()
		r.Varint()
		r.LenString()
		r.LenString()
		if !r.Failed() {
			t.Fatalf("prefix of %d/%d bytes read without failing", n, len(full))
		}
		if r.Rest() != nil || r.Len() != 0 || r.Byte() != 0 || r.Uvarint() != 0 || r.Varint() != 0 || r.LenString() != "" {
			t.Fatalf("prefix %d: a failed Reader returned data", n)
		}
	}
}

func TestMalformed(t *testing.T) {
	overlong := bytes.Repeat([]byte{0x80}, 10)
	overlong = append(overlong, 0x01)                       // 11 bytes: longer than any uint64
	overflow := append(bytes.Repeat([]byte{0xff}, 9), 0x02) // 10th byte > 1: past 64 bits
	for _, tc := range []struct {
		name string
		in   []byte
		read func(*Reader)
	}{
		{"uvarint overlong", overlong, func(r *Reader) { r.Uvarint() }},
		{"uvarint overflow", overflow, func(r *Reader) { r.Uvarint() }},
		{"varint overlong", overlong, func(r *Reader) { r.Varint() }},
		{"uvarint unterminated", []byte{0x80, 0x80}, func(r *Reader) { r.Uvarint() }},
		{"string longer than input", []byte{5, 'a', 'b'}, func(r *Reader) { r.LenString() }},
		{"string length overlong", overlong, func(r *Reader) { r.LenString() }},
		{"copy past end", []byte{1, 2}, func(r *Reader) { r.Copy(make([]byte, 3)) }},
		{"byte of empty", nil, func(r *Reader) { r.Byte() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := NewReader(tc.in)
			tc.read(&r)
			if !r.Failed() {
				t.Fatalf("read % x without failing", tc.in)
			}
		})
	}
	r := NewReader([]byte{1})
	r.Fail()
	if r.Byte() != 0 || !r.Failed() {
		t.Fatal("Fail did not stop the Reader")
	}
}

func TestReadAllocs(t *testing.T) {
	in := appendAll(nil)
	var id [16]byte
	if n := testing.AllocsPerRun(100, func() {
		r := NewReader(in)
		r.Byte()
		r.Copy(id[:])
		r.Uvarint()
		r.Varint()
		r.Varint()
		r.Rest()
	}); n != 0 {
		t.Fatalf("reading fixed and varint fields allocated %v times, want 0", n)
	}
}

func FuzzReader(f *testing.F) {
	f.Add(appendAll(nil))
	f.Add([]byte{0x80})
	f.Fuzz(func(t *testing.T, b []byte) {
		r := NewReader(b)
		for !r.Failed() && r.Len() > 0 {
			switch r.Byte() % 4 {
			case 0:
				r.Uvarint()
			case 1:
				r.Varint()
			case 2:
				s := r.LenString()
				if len(s) > len(b) {
					t.Fatalf("string of %d bytes from %d of input", len(s), len(b))
				}
			}
		}
	})
}

// TestCount: a count of items is at most the bytes left (each item takes
// one at least); a larger one fails the Reader.
func TestCount(t *testing.T) {
	b := binary.AppendUvarint(nil, 3)
	b = append(b, 'a', 'b', 'c')
	r := NewReader(b)
	if n := r.Count(); n != 3 || r.Failed() {
		t.Fatalf("Count = %d (failed %v), want 3", n, r.Failed())
	}
	r = NewReader(b[:3]) // the count says 3, two bytes follow
	if n := r.Count(); n != 0 || !r.Failed() {
		t.Fatalf("Count over the bytes left = %d (failed %v), want 0 and failed", n, r.Failed())
	}
	r = NewReader(binary.AppendUvarint(nil, math.MaxUint64))
	if n := r.Count(); n != 0 || !r.Failed() {
		t.Fatalf("Count of MaxUint64 = %d (failed %v), want 0 and failed", n, r.Failed())
	}
}

// LenBytes reads what AppendString wrote without copying, and fails on a
// length past the input like LenString.
func TestLenBytes(t *testing.T) {
	in := AppendString(AppendString(nil, "frame"), "x")
	r := NewReader(in)
	b := r.LenBytes()
	if string(b) != "frame" || cap(b) != len(b) || &b[0] != &in[1] {
		t.Fatalf("LenBytes = %q (cap %d), want an alias of the input", b, cap(b))
	}
	if got := r.LenBytes(); string(got) != "x" || r.Failed() || r.Len() != 0 {
		t.Fatalf("second LenBytes = %q, failed %v", got, r.Failed())
	}
	r = NewReader([]byte{5, 'a', 'b'})
	if got := r.LenBytes(); got != nil || !r.Failed() {
		t.Fatalf("a length past the input: %q, failed %v", got, r.Failed())
	}
}
