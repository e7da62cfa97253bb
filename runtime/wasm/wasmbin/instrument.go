package wasmbin

import (
	"fmt"
	"math"
	"slices"
)

// Names of the globals Instrument adds and exports.
const (
	FuelExport  = "sluice:fuel"
	DepthExport = "sluice:depth"
)

// Meter sets the budgets Instrument bakes into the module as the globals'
// initial values; they bound instantiation (start functions such as
// _initialize). The host resets both globals before every call.
type Meter struct {
	Fuel  int64 // units for instantiation: one per function call and per loop iteration
	Depth int32 // maximum call depth
}

// Instrument rewrites a module so that it cannot run unbounded:
//
//   - every function entry and every loop header decrements an i64 global
//     exported as FuelExport, and traps (unreachable) once it is <= 0;
//   - every function entry decrements an i32 global exported as DepthExport and
//     traps once it is < 0; every exit (falling off the end, return, a branch
//     to the function's label, return_call) increments it again.
//
// After a trap, the host tells the causes apart by reading the globals: fuel
// <= 0 means the budget ran out, depth < 0 means the recursion was too deep,
// otherwise the trap was the guest's own. No existing index changes: the
// globals, exports and (for multi-value functions) block types are appended.
func Instrument(bin []byte, meter Meter) ([]byte, error) {
	m, err := Parse(bin)
	if err != nil {
		return nil, err
	}
	for _, e := range m.Exports {
		if e.Name == FuelExport || e.Name == DepthExport {
			return nil, fmt.Errorf("module already exports %q, a name reserved for the host", e.Name)
		}
	}
	fuel, depth := uint32(m.globals), uint32(m.globals+1)

	// Block types for functions with several results: reuse a [] -> results
	// type if there is one, else append it.
	newTypes := []FuncType{}
	blockType := func(results []string) []byte {
		switch len(results) {
		case 0:
			return []byte{0x40}
		case 1:
			for c, n := range valTypes {
				if n == results[0] {
					return []byte{c}
				}
			}
		}
		all := slices.Concat(m.Types, newTypes)
		for i, t := range all {
			if len(t.Params) == 0 && slices.Equal(t.Results, results) {
				return appendS64(nil, int64(i))
			}
		}
		newTypes = append(newTypes, FuncType{Results: results})
		return appendS64(nil, int64(len(all)))
	}

	out := make([]byte, 0, len(bin)+len(bin)/4+64)
	out = append(out, bin[:8]...)
	var (
		wroteGlobals, wroteExports bool
		code                       []byte // the rewritten code section's payload
	)
	for _, s := range m.sections {
		if s.id == secCode {
			code, err = instrumentCode(bin[s.start:s.end], m, fuel, depth, blockType)
			if err != nil {
				return nil, err
			}
		}
	}
	appendSection := func(id byte, payload []byte) {
		out = append(out, id)
		out = appendU32(out, uint32(len(payload)))
		out = append(out, payload...)
	}
	globals := func(prev []byte) []byte {
		var p []byte
		p = appendU32(p, uint32(m.globals-m.importedGlobals()+2))
		p = append(p, prev...)
		p = append(p, 0x7e, 0x01, 0x42)
		p = appendS64(p, meter.Fuel)
		p = append(p, 0x0b, 0x7f, 0x01, 0x41)
		p = appendS64(p, int64(meter.Depth))
		return append(p, 0x0b)
	}
	exports := func(prev []byte) []byte {
		var p []byte
		p = appendU32(p, uint32(len(m.Exports)+2))
		p = append(p, prev...)
		for _, e := range []struct {
			name string
			idx  uint32
		}{{FuelExport, fuel}, {DepthExport, depth}} {
			p = appendU32(p, uint32(len(e.name)))
			p = append(p, e.name...)
			p = append(p, 0x03)
			p = appendU32(p, e.idx)
		}
		return p
	}
	for _, s := range m.sections {
		payload := bin[s.start:s.end]
		if s.id != secCustom {
			if !wroteGlobals && order[s.id] > order[secGlobal] {
				appendSection(secGlobal, globals(nil))
				wroteGlobals = true
			}
			if !wroteExports && order[s.id] > order[secExport] {
				appendSection(secExport, exports(nil))
				wroteExports = true
			}
		}
		switch s.id {
		case secType:
			if len(newTypes) == 0 {
				out = append(out, bin[s.headerAt:s.end]...)
				continue
			}
			r := &reader{b: payload}
			n := r.u32()
			var p []byte
			p = appendU32(p, n+uint32(len(newTypes)))
			p = append(p, payload[r.off:]...)
			for _, t := range newTypes {
				p = append(p, 0x60, 0x00)
				p = appendU32(p, uint32(len(t.Results)))
				for _, res := range t.Results {
					for c, name := range valTypes {
						if name == res {
							p = append(p, c)
						}
					}
				}
			}
			appendSection(secType, p)
		case secGlobal:
			r := &reader{b: payload}
			r.u32()
			appendSection(secGlobal, globals(payload[r.off:]))
			wroteGlobals = true
		case secExport:
			r := &reader{b: payload}
			r.u32()
			appendSection(secExport, exports(payload[r.off:]))
			wroteExports = true
		case secCode:
			appendSection(secCode, code)
		default:
			out = append(out, bin[s.headerAt:s.end]...)
		}
	}
	if !wroteGlobals {
		appendSection(secGlobal, globals(nil))
	}
	if !wroteExports {
		appendSection(secExport, exports(nil))
	}
	if len(newTypes) > 0 && !slices.ContainsFunc(m.sections, func(s section) bool { return s.id == secType }) {
		return nil, fmt.Errorf("functions with several results but no type section")
	}
	return out, nil
}

func (m *Module) importedGlobals() int {
	n := 0
	for _, imp := range m.Imports {
		if imp.Kind == KindGlobal {
			n++
		}
	}
	return n
}

// instrumentCode rewrites the code section's payload.
func instrumentCode(payload []byte, m *Module, fuel, depth uint32, blockType func([]string) []byte) ([]byte, error) {
	r := &reader{b: payload}
	n := r.u32()
	if int(n) != len(m.Funcs)-m.importedFuncs {
		return nil, fmt.Errorf("code section has %d bodies for %d functions", n, len(m.Funcs)-m.importedFuncs)
	}
	g := func(b []byte, op byte, idx uint32) []byte { return appendU32(append(b, op), idx) }
	var entry, exit, loop []byte
	// entry: fuel -= 1; depth -= 1; if fuel <= 0 | depth < 0 { unreachable }
	entry = g(entry, 0x23, fuel)
	entry = append(entry, 0x42, 0x01, 0x7d)
	entry = g(entry, 0x24, fuel)
	entry = g(entry, 0x23, depth)
	entry = append(entry, 0x41, 0x01, 0x6b)
	entry = g(entry, 0x24, depth)
	entry = g(entry, 0x23, fuel)
	entry = append(entry, 0x42, 0x00, 0x57)
	entry = g(entry, 0x23, depth)
	entry = append(entry, 0x41, 0x00, 0x48, 0x72, 0x04, 0x40, 0x00, 0x0b)
	// exit: depth += 1
	exit = g(exit, 0x23, depth)
	exit = append(exit, 0x41, 0x01, 0x6a)
	exit = g(exit, 0x24, depth)
	// loop header: fuel -= 1; if fuel <= 0 { unreachable }
	loop = g(loop, 0x23, fuel)
	loop = append(loop, 0x42, 0x01, 0x7d)
	loop = g(loop, 0x24, fuel)
	loop = g(loop, 0x23, fuel)
	loop = append(loop, 0x42, 0x00, 0x57, 0x04, 0x40, 0x00, 0x0b)

	out := appendU32(make([]byte, 0, len(payload)+len(payload)/4), n)
	var body []byte
	for fi := range int(n) {
		size := r.u32()
		start := r.off
		br := &reader{b: r.bytes(int(size))}
		if r.err != nil {
			return nil, fmt.Errorf("code section: body %d: %w", fi, r.err)
		}
		// Locals are copied as they are.
		for k := br.u32(); k > 0 && br.err == nil; k-- {
			br.u32()
			br.valType()
		}
		if br.err != nil {
			return nil, fmt.Errorf("code section: body %d: locals: %w", fi, br.err)
		}
		ti := m.Funcs[m.importedFuncs+fi]
		if int(ti) >= len(m.Types) {
			return nil, fmt.Errorf("code section: body %d: type index %d out of range (%d types)", fi, ti, len(m.Types))
		}
		t := m.Types[ti]
		body = append(body[:0], payload[start:start+br.off]...)
		body = append(body, entry...)
		body = append(body, 0x02)
		body = append(body, blockType(t.Results)...)
		nest := 0
		for {
			if br.done() {
				return nil, fmt.Errorf("code section: body %d: %w before the function's end", fi, errEOF)
			}
			at := br.off
			op := br.byte()
			switch op {
			case 0x0f, 0x12, 0x13: // return, return_call, return_call_indirect
				body = append(body, exit...)
			case 0x02, 0x03, 0x04:
				nest++
			case 0x0b:
				nest--
			}
			skipImmediates(br, op)
			if br.err != nil {
				return nil, fmt.Errorf("code section: body %d, instruction at byte %d: %w", fi, at, br.err)
			}
			body = append(body, br.b[at:br.off]...)
			if op == 0x03 {
				body = append(body, loop...)
			}
			if nest < 0 {
				break
			}
		}
		if !br.done() {
			return nil, fmt.Errorf("code section: body %d: %d bytes after the function's end", fi, len(br.b)-br.off)
		}
		body = append(body, exit...)
		body = append(body, 0x0b)
		if len(body) > math.MaxUint32 {
			return nil, fmt.Errorf("code section: body %d too large", fi)
		}
		out = appendU32(out, uint32(len(body)))
		out = append(out, body...)
	}
	if !r.done() {
		return nil, fmt.Errorf("code section: %d bytes after the last body", len(payload)-r.off)
	}
	return out, nil
}

// skipImmediates skips the immediates of the instruction op (already read).
func skipImmediates(r *reader, op byte) {
	switch {
	case op == 0x02 || op == 0x03 || op == 0x04:
		r.s33()
	case op == 0x0c || op == 0x0d || op == 0x10 || op == 0x12 || op == 0xd2 || (op >= 0x20 && op <= 0x26):
		r.u32()
	case op == 0x11 || op == 0x13:
		r.u32()
		r.u32()
	case op == 0x0e:
		for n := r.u32(); n > 0 && r.err == nil; n-- {
			r.u32()
		}
		r.u32()
	case op == 0x1c:
		for n := r.u32(); n > 0 && r.err == nil; n-- {
			r.valType()
		}
	case op >= 0x28 && op <= 0x3e:
		memarg(r)
	case op == 0x3f || op == 0x40:
		r.u32()
	case op == 0x41:
		r.skipSLEB(5)
	case op == 0x42:
		r.skipSLEB(10)
	case op == 0x43:
		r.bytes(4)
	case op == 0x44:
		r.bytes(8)
	case op == 0xd0:
		r.byte()
	case op == 0xfc:
		prefixFC(r)
	case op == 0xfd:
		prefixFD(r)
	case op == 0xfe:
		sub := r.u32()
		if sub == 0x03 {
			r.byte()
		} else {
			memarg(r)
		}
	case op <= 0x01 || op == 0x05 || op == 0x0b || op == 0x0f || op == 0x1a || op == 0x1b ||
		(op >= 0x45 && op <= 0xc4) || op == 0xd1:
	default:
		r.fail("unsupported opcode %#x", op)
	}
}

func memarg(r *reader) {
	if align := r.u32(); align&0x40 != 0 {
		r.u32() // memory index (multi-memory)
	}
	r.u32Wide(true)
}

func prefixFC(r *reader) {
	switch sub := r.u32(); {
	case sub <= 7:
	case sub == 8, sub == 10, sub == 12, sub == 14:
		r.u32()
		r.u32()
	case sub == 9, sub == 11, sub == 13, sub == 15, sub == 16, sub == 17:
		r.u32()
	default:
		r.fail("unsupported opcode 0xfc %d", sub)
	}
}

func prefixFD(r *reader) {
	switch sub := r.u32(); {
	case sub <= 11, sub == 92, sub == 93:
		memarg(r)
	case sub == 12, sub == 13:
		r.bytes(16)
	case sub >= 21 && sub <= 34:
		r.byte()
	case sub >= 84 && sub <= 91:
		memarg(r)
		r.byte()
	case sub > 0x113:
		r.fail("unsupported opcode 0xfd %d", sub)
	}
}
