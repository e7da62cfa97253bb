package main

import (
	"strconv"
	"unicode/utf8"
)

// convert appends the invoice for the order in body to out, or returns the
// rejection text (SPEC.md).
func convert(body, out []byte) ([]byte, string) {
	p := parser{b: body}
	doc, ok := p.document()
	if !ok || doc.kind != kindObject {
		return out, "invalid JSON"
	}
	id := doc.str("id")
	if id == nil {
		return out, "missing field: id"
	}
	cust := doc.get("customer")
	if cust == nil || cust.kind != kindObject {
		return out, "missing field: customer"
	}
	first, last, email := cust.str("first_name"), cust.str("last_name"), cust.str("email")
	switch {
	case first == nil:
		return out, "missing field: customer.first_name"
	case last == nil:
		return out, "missing field: customer.last_name"
	case email == nil:
		return out, "missing field: customer.email"
	}
	currency := doc.str("currency")
	if currency == nil {
		return out, "missing field: currency"
	}
	items := doc.get("items")
	if items == nil || items.kind != kindArray || len(items.elems) == 0 {
		return out, "missing field: items"
	}

	out = append(out, `{"external_id":`...)
	out = appendString(out, id)
	out = append(out, `,"customer_name":`...)
	name := make([]byte, 0, len(first)+1+len(last))
	name = append(append(append(name, first...), ' '), last...)
	out = appendString(out, name)
	out = append(out, `,"email":`...)
	lower := make([]byte, len(email))
	for i, c := range email {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		lower[i] = c
	}
	out = appendString(out, lower)
	out = append(out, `,"currency":`...)
	out = appendString(out, currency)
	out = append(out, `,"lines":[`...)
	var total int64
	for i := range items.elems {
		it := &items.elems[i]
		var sku []byte
		if it.kind == kindObject {
			sku = it.str("sku")
		}
		if sku == nil {
			return out, "missing field: items.sku"
		}
		qty, ok := it.integer("qty", 1)
		if !ok {
			return out, "invalid quantity for sku " + string(sku)
		}
		price, ok := it.integer("unit_price_cents", 0)
		if !ok {
			return out, "invalid price for sku " + string(sku)
		}
		if price != 0 && qty > maxInt64/price {
			return out, "invalid price for sku " + string(sku)
		}
		amount := qty * price
		if total > maxInt64-amount {
			return out, "invalid price for sku " + string(sku)
		}
		total += amount
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, `{"sku":`...)
		out = appendString(out, sku)
		out = append(out, `,"quantity":`...)
		out = strconv.AppendInt(out, qty, 10)
		out = append(out, `,"amount_cents":`...)
		out = strconv.AppendInt(out, amount, 10)
		out = append(out, '}')
	}
	out = append(out, `],"total_cents":`...)
	out = strconv.AppendInt(out, total, 10)
	return append(out, '}'), ""
}

const maxInt64 = 1<<63 - 1

// appendString writes s as a JSON string: " and \ escaped, bytes below 0x20
// as \u00xx, everything else raw.
func appendString(out, s []byte) []byte {
	const hex = "0123456789abcdef"
	out = append(out, '"')
	for _, c := range s {
		switch {
		case c == '"' || c == '\\':
			out = append(out, '\\', c)
		case c < 0x20:
			out = append(out, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
		default:
			out = append(out, c)
		}
	}
	return append(out, '"')
}

type kind uint8

const (
	kindNull kind = iota
	kindBool
	kindNumber
	kindString
	kindArray
	kindObject
)

// value is a parsed JSON value. Strings hold their decoded bytes; numbers
// their text.
type value struct {
	kind    kind
	text    []byte
	elems   []value  // array elements
	members []member // object members, in order (duplicates kept)
}

type member struct {
	key []byte
	val value
}

// get returns the last member named key (the last duplicate wins), or nil.
func (v *value) get(key string) *value {
	for i := len(v.members) - 1; i >= 0; i-- {
		if string(v.members[i].key) == key {
			return &v.members[i].val
		}
	}
	return nil
}

// str returns a non-empty string member, or nil.
func (v *value) str(key string) []byte {
	m := v.get(key)
	if m == nil || m.kind != kindString || len(m.text) == 0 {
		return nil
	}
	return m.text
}

// integer returns a member that is an integer >= min fitting in int64:
// a number written without fraction or exponent.
func (v *value) integer(key string, min int64) (int64, bool) {
	m := v.get(key)
	if m == nil || m.kind != kindNumber {
		return 0, false
	}
	for _, c := range m.text {
		if c == '.' || c == 'e' || c == 'E' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(string(m.text), 10, 64)
	if err != nil || n < min {
		return 0, false
	}
	return n, true
}

// parser is a strict RFC 8259 parser.
type parser struct {
	b     []byte
	i     int
	depth int
}

const maxDepth = 64

func (p *parser) document() (value, bool) {
	p.space()
	v, ok := p.value()
	if !ok {
		return v, false
	}
	p.space()
	return v, p.i == len(p.b)
}

func (p *parser) space() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *parser) literal(s string) bool {
	if len(p.b)-p.i >= len(s) && string(p.b[p.i:p.i+len(s)]) == s {
		p.i += len(s)
		return true
	}
	return false
}

func (p *parser) value() (value, bool) {
	if p.i >= len(p.b) {
		return value{}, false
	}
	switch c := p.b[p.i]; {
	case c == '{':
		return p.object()
	case c == '[':
		return p.array()
	case c == '"':
		s, ok := p.string()
		return value{kind: kindString, text: s}, ok
	case c == 't':
		return value{kind: kindBool}, p.literal("true")
	case c == 'f':
		return value{kind: kindBool}, p.literal("false")
	case c == 'n':
		return value{kind: kindNull}, p.literal("null")
	case c == '-' || ('0' <= c && c <= '9'):
		return p.number()
	}
	return value{}, false
}

func (p *parser) object() (value, bool) {
	v := value{kind: kindObject}
	if p.depth++; p.depth > maxDepth {
		return v, false
	}
	defer func() { p.depth-- }()
	p.i++ // {
	p.space()
	if p.i < len(p.b) && p.b[p.i] == '}' {
		p.i++
		return v, true
	}
	for {
		p.space()
		if p.i >= len(p.b) || p.b[p.i] != '"' {
			return v, false
		}
		key, ok := p.string()
		if !ok {
			return v, false
		}
		p.space()
		if p.i >= len(p.b) || p.b[p.i] != ':' {
			return v, false
		}
		p.i++
		p.space()
		val, ok := p.value()
		if !ok {
			return v, false
		}
		v.members = append(v.members, member{key, val})
		p.space()
		if p.i >= len(p.b) {
			return v, false
		}
		switch p.b[p.i] {
		case ',':
			p.i++
		case '}':
			p.i++
			return v, true
		default:
			return v, false
		}
	}
}

func (p *parser) array() (value, bool) {
	v := value{kind: kindArray}
	if p.depth++; p.depth > maxDepth {
		return v, false
	}
	defer func() { p.depth-- }()
	p.i++ // [
	p.space()
	if p.i < len(p.b) && p.b[p.i] == ']' {
		p.i++
		return v, true
	}
	for {
		p.space()
		e, ok := p.value()
		if !ok {
			return v, false
		}
		v.elems = append(v.elems, e)
		p.space()
		if p.i >= len(p.b) {
			return v, false
		}
		switch p.b[p.i] {
		case ',':
			p.i++
		case ']':
			p.i++
			return v, true
		default:
			return v, false
		}
	}
}

func (p *parser) number() (value, bool) {
	start := p.i
	digits := func() int {
		n := 0
		for p.i < len(p.b) && '0' <= p.b[p.i] && p.b[p.i] <= '9' {
			p.i++
			n++
		}
		return n
	}
	if p.b[p.i] == '-' {
		p.i++
	}
	switch {
	case p.i < len(p.b) && p.b[p.i] == '0':
		p.i++
	case digits() == 0:
		return value{}, false
	}
	if p.i < len(p.b) && p.b[p.i] == '.' {
		p.i++
		if digits() == 0 {
			return value{}, false
		}
	}
	if p.i < len(p.b) && (p.b[p.i] == 'e' || p.b[p.i] == 'E') {
		p.i++
		if p.i < len(p.b) && (p.b[p.i] == '+' || p.b[p.i] == '-') {
			p.i++
		}
		if digits() == 0 {
			return value{}, false
		}
	}
	return value{kind: kindNumber, text: p.b[start:p.i]}, true
}

// string decodes a string literal at p.i (at its opening quote).
func (p *parser) string() ([]byte, bool) {
	p.i++ // "
	start := p.i
	for p.i < len(p.b) && p.b[p.i] != '"' && p.b[p.i] != '\\' && p.b[p.i] >= 0x20 {
		p.i++
	}
	if p.i < len(p.b) && p.b[p.i] == '"' { // no escapes: share the input
		p.i++
		return p.b[start : p.i-1], true
	}
	out := append([]byte(nil), p.b[start:p.i]...)
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			p.i++
			return out, true
		case c < 0x20:
			return nil, false
		case c != '\\':
			out = append(out, c)
			p.i++
			continue
		}
		p.i++ // backslash
		if p.i >= len(p.b) {
			return nil, false
		}
		e := p.b[p.i]
		p.i++
		switch e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := p.hex4()
			if !ok {
				return nil, false
			}
			switch {
			case 0xd800 <= r && r < 0xdc00: // high surrogate: a low one must follow
				if !p.literal(`\u`) {
					return nil, false
				}
				lo, ok := p.hex4()
				if !ok || lo < 0xdc00 || lo >= 0xe000 {
					return nil, false
				}
				r = 0x10000 + (r-0xd800)<<10 + (lo - 0xdc00)
			case 0xdc00 <= r && r < 0xe000:
				return nil, false
			}
			out = utf8.AppendRune(out, r)
		default:
			return nil, false
		}
	}
	return nil, false
}

func (p *parser) hex4() (rune, bool) {
	if len(p.b)-p.i < 4 {
		return 0, false
	}
	var r rune
	for _, c := range p.b[p.i : p.i+4] {
		r <<= 4
		switch {
		case '0' <= c && c <= '9':
			r |= rune(c - '0')
		case 'a' <= c && c <= 'f':
			r |= rune(c - 'a' + 10)
		case 'A' <= c && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	p.i += 4
	return r, true
}
