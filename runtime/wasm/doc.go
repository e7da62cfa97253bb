// Package wasm is Sluice's WebAssembly host: it loads transform plugins that
// speak ABI v1 (see sdk/ABI.md), keeps them compiled, and runs one message
// through one warm instance at a time.
//
// On the data path it sits between the worker, which owns instances, and
// nothing else: it imports only the standard library and wazero.
//
// A [Plugin] is one compiled module version with its own wazero runtime (so
// its memory limit is its own). It is safe for concurrent use and cheap to
// instantiate from. An [Instance] is not safe for concurrent use: a worker
// owns it, calls [Instance.Transform] once per message, and must discard it
// (Close) as soon as Transform reports [Error.Discard]: after a trap, a
// timeout or a malformed output the guest's state cannot be trusted.
package wasm
