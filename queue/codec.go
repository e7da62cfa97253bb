package queue

import (
	"encoding/binary"
	"time"

	"github.com/sluicehq/sluice/internal/wire"
)

// Keys: one byte purpose prefix, then the message id. A pending message is
// read from its segment file (segment.go) until it leaves it: then it is
// found by its id (m), a finished one by its record (r); completing a
// message writes r (and deletes m) in one batch, so an id has at most one
// of them.
const (
	prefixMessage = 'm' // m<id:16> -> encoded Message out of its segment: retrying, dead, replayed, evacuated (holds its Seq)
	prefixRecord  = 'r' // r<id:16> -> encoded Record (final only)
	prefixOutbox  = 'o' // o<id:16> -> nothing: a final record whose callback is not sent yet
	prefixIdem    = 'i' // i<route>\x00<idempotency key> -> id + body hash (expires)
	prefixDead    = 'd' // d<route>\x00<dead seq:8> -> id: a route's dead letters, in the order they died
	prefixFlush   = 'z' // z: a marker written and dropped at once to flush the memtables (reclaim)
	prefixKept    = 'k' // k<segment:8> -> keep-until (unix seconds, varint): a segment kept only for the records that refer to it (expires with it)
)

// keptKey marks segment n as kept for retained results (retained.go).
func keptKey(n uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte{prefixKept}, n)
}

func outboxKey(id ID) []byte {
	k := make([]byte, 17)
	k[0] = prefixOutbox
	copy(k[1:], id[:])
	return k
}

// idemKey maps a route's idempotency key to a message: i<route>\x00<key>
// -> id(16) + body hash(32), written with a TTL.
func idemKey(route, key string) []byte {
	k := make([]byte, 0, 2+len(route)+len(key))
	k = append(k, prefixIdem)
	k = append(k, route...)
	k = append(k, 0)
	return append(k, key...)
}

// deadKey indexes a dead letter under its route. The message itself stays
// at m<id> (flagged Dead) for a replay.
func deadKey(route string, seq uint64) []byte {
	k := make([]byte, 0, 2+len(route)+8)
	k = append(k, prefixDead)
	k = append(k, route...)
	k = append(k, 0)
	return binary.BigEndian.AppendUint64(k, seq)
}

func messageKey(id ID) []byte {
	k := make([]byte, 17)
	k[0] = prefixMessage
	copy(k[1:], id[:])
	return k
}

func recordKey(id ID) []byte {
	k := make([]byte, 17)
	k[0] = prefixRecord
	copy(k[1:], id[:])
	return k
}

const (
	codecVersion  = 1
	recordRefKind = 2 // a record whose payload ends with a body kept in a segment (appendRecordRef)
)

// appendMessage encodes m onto b.
func appendMessage(b []byte, m *Message) []byte { return encodeMessage(b, m, true) }

// encodeMessage encodes m onto b; without retry, as if no attempt had been
// made (it does not read Attempts, NotBefore or State, which a worker may
// be writing).
func encodeMessage(b []byte, m *Message, retry bool) []byte {
	b = append(b, codecVersion)
	b = append(b, m.ID[:]...)
	b = binary.AppendUvarint(b, m.Seq)
	b = binary.AppendVarint(b, m.Received.UnixNano())
	var flags byte
	if m.Sync {
		flags |= 1
	}
	if m.Dead {
		flags |= 4
	}
	if m.Parked {
		flags |= 8
	}
	retrying := retry && (m.Attempts > 0 || !m.NotBefore.IsZero() || len(m.State) > 0)
	if retrying {
		flags |= 2
	}
	if m.IdemKey != "" {
		flags |= 16
	}
	b = append(b, flags)
	if retrying {
		b = binary.AppendUvarint(b, uint64(m.Attempts))
		var nb int64
		if !m.NotBefore.IsZero() {
			nb = m.NotBefore.UnixNano()
		}
		b = binary.AppendVarint(b, nb)
		b = binary.AppendUvarint(b, uint64(len(m.State)))
		b = append(b, m.State...)
	}
	if m.IdemKey != "" { // recovery puts the key back if Badger lost it
		b = wire.AppendString(b, m.IdemKey)
		b = append(b, m.IdemHash[:]...)
		b = binary.AppendVarint(b, int64(m.IdemTTL))
	}
	b = wire.AppendString(b, m.Route)
	b = wire.AppendString(b, m.Key)
	b = wire.AppendString(b, m.ContentType)
	b = binary.AppendUvarint(b, uint64(len(m.Headers)))
	for _, h := range m.Headers {
		b = wire.AppendString(b, h.Name)
		b = wire.AppendString(b, h.Value)
	}
	return append(b, m.Body...)
}

// decodeMessage decodes b. The returned message does not alias b.
func decodeMessage(b []byte) (*Message, error) {
	d := wire.NewReader(b)
	if d.Byte() != codecVersion {
		return nil, errCorruptValue
	}
	m := &Message{}
	d.Copy(m.ID[:])
	m.Seq = d.Uvarint()
	m.Received = time.Unix(0, d.Varint()).UTC()
	flags := d.Byte()
	m.Sync, m.Dead, m.Parked = flags&1 != 0, flags&4 != 0, flags&8 != 0
	if flags&2 != 0 {
		m.Attempts = uint32(d.Uvarint())
		if nb := d.Varint(); nb != 0 {
			m.NotBefore = time.Unix(0, nb).UTC()
		}
		if st := d.LenString(); st != "" {
			m.State = []byte(st)
		}
	}
	if flags&16 != 0 {
		m.IdemKey = d.LenString()
		d.Copy(m.IdemHash[:])
		m.IdemTTL = time.Duration(d.Varint())
	}
	m.Route = d.LenString()
	m.Key = d.LenString()
	m.ContentType = d.LenString()
	n := d.Uvarint()
	if n > uint64(d.Len()) { // each header needs at least 2 bytes
		return nil, errCorruptValue
	}
	if n > 0 {
		m.Headers = make([]Header, n)
		for i := range m.Headers {
			m.Headers[i].Name = d.LenString()
			m.Headers[i].Value = d.LenString()
		}
	}
	if d.Failed() {
		return nil, errCorruptValue
	}
	m.Body = append([]byte(nil), d.Rest()...)
	return m, nil
}

func appendRecord(b []byte, r *Record) []byte {
	return append(appendRecordHead(b, codecVersion, r), r.Payload...)
}

// bodyRef is where a record's body is kept: n bytes at off in segment seg
// (n 0: in the record).
type bodyRef struct {
	seg    uint64
	off, n int64
}

// appendRecordRef encodes r with the last ref.n bytes of its payload (the
// message's body, Record.Tail) replaced by ref.
func appendRecordRef(b []byte, r *Record, ref bodyRef) []byte {
	b = appendRecordHead(b, recordRefKind, r)
	b = binary.AppendUvarint(b, ref.seg)
	b = binary.AppendUvarint(b, uint64(ref.off)) // #nosec G115 -- an offset in a file, not negative
	b = binary.AppendUvarint(b, uint64(ref.n))   // #nosec G115 -- a length, not negative
	return append(b, r.Payload[:len(r.Payload)-int(ref.n)]...)
}

func appendRecordHead(b []byte, kind byte, r *Record) []byte {
	b = append(b, kind)
	b = append(b, r.ID[:]...)
	b = append(b, byte(r.Status))
	b = binary.AppendUvarint(b, uint64(r.Attempts))
	b = binary.AppendVarint(b, r.Created.UnixNano())
	b = binary.AppendVarint(b, r.Updated.UnixNano())
	return wire.AppendString(b, r.Route)
}

// decodeRecord decodes a record; for one written by appendRecordRef, its
// payload lacks the body that ref locates.
func decodeRecord(b []byte) (Record, bodyRef, error) {
	d := wire.NewReader(b)
	var r Record
	var ref bodyRef
	kind := d.Byte()
	if kind != codecVersion && kind != recordRefKind {
		return r, ref, errCorruptValue
	}
	d.Copy(r.ID[:])
	r.Status = Status(d.Byte())
	r.Attempts = uint32(d.Uvarint())
	r.Created = time.Unix(0, d.Varint()).UTC()
	r.Updated = time.Unix(0, d.Varint()).UTC()
	r.Route = d.LenString()
	if kind == recordRefKind {
		ref.seg = d.Uvarint()
		ref.off, ref.n = int64(d.Uvarint()), int64(d.Uvarint()) // #nosec G115 -- checked below
	}
	if d.Failed() || r.Status < StatusAccepted || r.Status > StatusDead || ref.off < 0 || ref.n < 0 || ref.n > maxFrameBytes {
		return Record{}, bodyRef{}, errCorruptValue
	}
	if d.Len() > 0 || ref.n > 0 {
		r.Payload = make([]byte, d.Len(), d.Len()+int(ref.n))
		copy(r.Payload, d.Rest())
	}
	return r, ref, nil
}
