package queue

import (
	"encoding/binary"
	"time"
)

// Keys: one byte purpose prefix, then the message id. A pending message is
// found by its id (m), a finished one by its record (r); completing a message
// writes r and deletes m in one batch, so an id is always in exactly one.
const (
	prefixMessage = 'm' // m<id:16> -> encoded Message (pending only; holds its Seq)
	prefixRecord  = 'r' // r<id:16> -> encoded Record (final only)
	prefixOutbox  = 'o' // o<id:16> -> nothing: a final record whose callback is not sent yet
	prefixIdem    = 'i' // i<route>\x00<idempotency key> -> id + body hash (expires)
	prefixDead    = 'd' // d<route>\x00<dead seq:8> -> id: a route's dead letters, in the order they died
	prefixFlush   = 'z' // z: a marker written and dropped at once to flush the memtables (reclaim)
)

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

const codecVersion = 1

// appendMessage encodes m onto b.
func appendMessage(b []byte, m *Message) []byte {
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
	retrying := m.Attempts > 0 || !m.NotBefore.IsZero() || len(m.State) > 0
	if retrying {
		flags |= 2
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
	b = appendString(b, m.Route)
	b = appendString(b, m.Key)
	b = appendString(b, m.ContentType)
	b = binary.AppendUvarint(b, uint64(len(m.Headers)))
	for _, h := range m.Headers {
		b = appendString(b, h.Name)
		b = appendString(b, h.Value)
	}
	return append(b, m.Body...)
}

// decodeMessage decodes b. The returned message does not alias b.
func decodeMessage(b []byte) (*Message, error) {
	d := decoder{b: b}
	if d.byte() != codecVersion {
		return nil, errCorruptValue
	}
	m := &Message{}
	d.id(&m.ID)
	m.Seq = d.uvarint()
	m.Received = time.Unix(0, d.varint()).UTC()
	flags := d.byte()
	m.Sync, m.Dead, m.Parked = flags&1 != 0, flags&4 != 0, flags&8 != 0
	if flags&2 != 0 {
		m.Attempts = uint32(d.uvarint())
		if nb := d.varint(); nb != 0 {
			m.NotBefore = time.Unix(0, nb).UTC()
		}
		if st := d.string(); st != "" {
			m.State = []byte(st)
		}
	}
	m.Route = d.string()
	m.Key = d.string()
	m.ContentType = d.string()
	n := d.uvarint()
	if n > uint64(len(d.b)) { // each header needs at least 2 bytes
		return nil, errCorruptValue
	}
	if n > 0 {
		m.Headers = make([]Header, n)
		for i := range m.Headers {
			m.Headers[i].Name = d.string()
			m.Headers[i].Value = d.string()
		}
	}
	if d.bad {
		return nil, errCorruptValue
	}
	m.Body = append([]byte(nil), d.b...)
	return m, nil
}

func appendRecord(b []byte, r *Record) []byte {
	b = append(b, codecVersion)
	b = append(b, r.ID[:]...)
	b = append(b, byte(r.Status))
	b = binary.AppendUvarint(b, uint64(r.Attempts))
	b = binary.AppendVarint(b, r.Created.UnixNano())
	b = binary.AppendVarint(b, r.Updated.UnixNano())
	b = appendString(b, r.Route)
	return append(b, r.Payload...)
}

func decodeRecord(b []byte) (Record, error) {
	d := decoder{b: b}
	var r Record
	if d.byte() != codecVersion {
		return r, errCorruptValue
	}
	d.id(&r.ID)
	r.Status = Status(d.byte())
	r.Attempts = uint32(d.uvarint())
	r.Created = time.Unix(0, d.varint()).UTC()
	r.Updated = time.Unix(0, d.varint()).UTC()
	r.Route = d.string()
	if d.bad || r.Status < StatusAccepted || r.Status > StatusDead {
		return Record{}, errCorruptValue
	}
	if len(d.b) > 0 {
		r.Payload = append([]byte(nil), d.b...)
	}
	return r, nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// decoder reads what the append functions wrote; any overrun sets bad.
type decoder struct {
	b   []byte
	bad bool
}

func (d *decoder) byte() byte {
	if len(d.b) < 1 {
		d.bad = true
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) id(id *ID) {
	if len(d.b) < len(id) {
		d.bad = true
		return
	}
	copy(id[:], d.b)
	d.b = d.b[len(id):]
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.bad = true
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.bad = true
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) string() string {
	n := d.uvarint()
	if d.bad || n > uint64(len(d.b)) {
		d.bad = true
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}
