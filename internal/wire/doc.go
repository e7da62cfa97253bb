// Package wire is the small binary encoding Sluice's own stored values share:
// unsigned and signed varints, length-prefixed strings and fixed-size fields,
// appended to a byte slice by the writer and read back by a Reader.
//
// It sits under the data path's leaves: the log (queue) encodes its message
// and record values with it, and the result store (runtime/results) its
// outcome payloads; both keep their own layouts and versions, wire only
// spells the fields. It imports only the standard library.
//
// The encodings are encoding/binary's (AppendUvarint, AppendVarint) and a
// string is its length as a uvarint followed by its bytes: values written
// before this package existed read the same.
//
// Concurrency: the Append functions are pure; a Reader is a cursor over one
// slice, not safe for concurrent use, and does not copy what it reads unless a
// method says so.
package wire
