package wasmbin

import (
	"fmt"
	"math"
)

// maxSections bounds the sections of a module (custom ones included): a
// module has at most 13 others and compilers emit a handful of custom ones,
// while a 64 MiB module of empty custom sections would be 20 million of them.
const maxSections = 1000

// Counts are what a module declares, read from its section headers: each
// section's number of entries and the code section's size. Counting decodes
// no entry, so a host can refuse an oversized module before Parse (which
// builds every type, import and export) and before compiling it.
type Counts struct {
	Types, Imports, Functions, Tables, Memories, Globals, Exports, Elements, Data, Tags int

	Bodies   int // function bodies in the code section
	CodeSize int // bytes of the code section's payload
}

// Declarations returns the entries of every section but the function and
// code sections, together: types, imports, tables, memories, globals,
// exports, element and data segments, tags. Each costs the host (and wazero)
// memory and time to decode, validate and instantiate.
func (c Counts) Declarations() int {
	return c.Types + c.Imports + c.Tables + c.Memories + c.Globals + c.Exports + c.Elements + c.Data + c.Tags
}

// Largest returns the kind of declaration the module has most of, and how many.
func (c Counts) Largest() (kind string, n int) {
	for _, d := range []struct {
		kind string
		n    int
	}{{"types", c.Types}, {"imports", c.Imports}, {"tables", c.Tables}, {"memories", c.Memories},
		{"globals", c.Globals}, {"exports", c.Exports}, {"element segments", c.Elements},
		{"data segments", c.Data}, {"tags", c.Tags}} {
		if d.n > n {
			kind, n = d.kind, d.n
		}
	}
	return kind, n
}

// Count reads the module's header and the entry count of each of its sections.
func Count(bin []byte) (Counts, error) {
	secs, err := sections(bin)
	if err != nil {
		return Counts{}, err
	}
	var c Counts
	for _, s := range secs {
		var n *int
		switch s.id {
		case secType:
			n = &c.Types
		case secImport:
			n = &c.Imports
		case secFunction:
			n = &c.Functions
		case secTable:
			n = &c.Tables
		case secMemory:
			n = &c.Memories
		case secGlobal:
			n = &c.Globals
		case secExport:
			n = &c.Exports
		case secElement:
			n = &c.Elements
		case secData:
			n = &c.Data
		case secTag:
			n = &c.Tags
		case secCode:
			n = &c.Bodies
			c.CodeSize = s.end - s.start
		default:
			continue
		}
		r := &reader{b: bin[s.start:s.end]}
		*n = int(r.u32())
		if r.err != nil {
			return Counts{}, fmt.Errorf("section %d at byte %d: %w", s.id, s.headerAt, r.err)
		}
	}
	return c, nil
}

// CodeStats estimate what compiling a module's metered code costs, beyond
// what is linear in its size (see Work).
type CodeStats struct {
	// MaxBody is the size in bytes of the largest function body, and
	// MaxBodyFunc that function's index (imported functions first, as in
	// the text format's func[N]).
	MaxBody, MaxBodyFunc int
	// Work estimates, in units of about 10 ns on the reference machine at
	// worst, the parts of compiling that grow faster than the code. It sums,
	// over the module's functions:
	//
	//   - B·(B + L²/8), where B counts the function's basic blocks once
	//     metered (weighted, see opBlocks) and L its locals, parameters
	//     included: wazero's SSA passes walk the dominator tree from every
	//     block (B² for a chain of blocks) and, at every merge, resolve each
	//     block parameter against the others (a parameter per local: B·L²);
	//   - T + I + G, the module's types, imports and globals (with the two
	//     the metering adds): wazero walks them all for every function;
	//   - E + N, the module's exports and the functions its name section
	//     gives local names to: wazero searches both for every function,
	//     imported ones included;
	//   - C·(I + 200·M), where C counts the calls and other instructions
	//     after which wazero may search the imports and defines a new value
	//     for each of the M mutable globals (with the metering's two): about
	//     a microsecond and 170 bytes of memory per global and call (the
	//     weight is set by the memory).
	//
	// The rest of compiling is about linear in the code's size, which the
	// host bounds apart. Work saturates at math.MaxInt64.
	Work int64
	// The function that costs the most Work: its index, blocks, locals and
	// calls.
	MaxWork                                                 int64
	MaxWorkFunc, MaxWorkBlocks, MaxWorkLocals, MaxWorkCalls int
}

// Weighted basic blocks of a metered function (Instrument).
const (
	blocksPerFunction = 3 // the fuel check at entry (then, join) and the block wrapping the body
	blocksPerLoop     = 4 // the header, the fuel check (then, join), the code after the loop
)

// opBlocks weighs the basic blocks an instruction adds to a metered
// function. The weights make the worst chain of each construct cost about
// the same per unit of Work (10 ns or less on the reference machine): a
// loop counts 4 (its header, the fuel check's two blocks and the code
// after it), if 2 (then, join), block and br_if 2 (a chain of them nests
// the dominator tree as deep as two blocks each would), else 1, br_table 1
// plus 1 per target (each an edge to walk).
func opBlocks(op byte) int {
	switch op {
	case 0x05, 0x0e: // else, br_table (its targets are counted by the caller)
		return 1
	case 0x02, 0x04, 0x0d: // block, if, br_if
		return 2
	case 0x03:
		return blocksPerLoop
	}
	return 0
}

// reloadWork is the Work of reloading one mutable global after a call.
const reloadWork = 200

// reloads reports whether wazero reloads the globals after op (a call, or
// an instruction it implements by calling into Go). prefixed is the
// sub-opcode of a 0xfc instruction.
func reloads(op byte, prefixed uint32) bool {
	switch op {
	case 0x10, 0x11, 0x12, 0x13, 0x40: // call, call_indirect, return_call(_indirect), memory.grow
		return true
	case 0xfc: // memory.init, data.drop, memory.copy, memory.fill, table.* ...
		return prefixed >= 8
	}
	return false
}

// CodeStats walks every function body of bin, which must be the module m
// was parsed from. It decodes every instruction, so its time is linear in
// the code's size (about 10 ms per MiB).
func (m *Module) CodeStats(bin []byte) (CodeStats, error) {
	var st CodeStats
	// The metering adds two mutable globals (fuel and depth).
	perFunction := len(m.Types) + len(m.Imports) + m.globals + 2
	perCall := len(m.Imports) + reloadWork*(m.mutableGlobals+2)
	st.Work = satAdd(st.Work, int64(len(m.Funcs))*int64(len(m.Exports)+m.localNames))
	for _, s := range m.sections {
		if s.id != secCode {
			continue
		}
		r := &reader{b: bin[s.start:s.end]}
		n := r.u32()
		if int(n) != len(m.Funcs)-m.importedFuncs {
			return st, fmt.Errorf("code section has %d bodies for %d functions", n, len(m.Funcs)-m.importedFuncs)
		}
		for i := range int(n) {
			fi := m.importedFuncs + i
			size := r.u32()
			br := &reader{b: r.bytes(int(size))}
			if r.err != nil {
				return st, fmt.Errorf("code section: body %d: %w", i, r.err)
			}
			if int(size) > st.MaxBody {
				st.MaxBody, st.MaxBodyFunc = int(size), fi
			}
			locals := uint64(0)
			if ti := m.Funcs[fi]; int(ti) < len(m.Types) {
				locals = uint64(len(m.Types[ti].Params))
			}
			for k := br.u32(); k > 0 && br.err == nil; k-- {
				locals += uint64(br.u32())
				br.valType()
			}
			blocks, calls := blocksPerFunction, 0
			for !br.done() {
				op := br.byte()
				blocks += opBlocks(op)
				var sub uint32
				if op == 0x0e || op == 0xfc { // br_table's targets, a prefixed opcode
					save := *br
					sub = save.u32()
					if op == 0x0e {
						blocks += int(sub)
					}
				}
				if reloads(op, sub) {
					calls++
				}
				skipImmediates(br, op)
			}
			if br.err != nil {
				return st, fmt.Errorf("code section: body %d: %w", i, br.err)
			}
			w := satAdd(work(blocks, locals), int64(perFunction)+int64(calls)*int64(perCall))
			st.Work = satAdd(st.Work, w)
			if w > st.MaxWork {
				st.MaxWork, st.MaxWorkFunc, st.MaxWorkBlocks = w, fi, blocks
				st.MaxWorkLocals, st.MaxWorkCalls = int(min(locals, math.MaxInt)), calls
			}
		}
	}
	return st, nil
}

// work is B·(B + L²/8), saturating.
func work(blocks int, locals uint64) int64 {
	b, l := float64(blocks), float64(locals)
	w := b * (b + l*l/8)
	if w >= math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(w)
}

func satAdd(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}
