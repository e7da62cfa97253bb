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
//
// Loading is bounded before anything is compiled, because wazero's compiler
// cannot be interrupted (v1.12 checks its context only between functions,
// and only when compiling on several goroutines). [Host.LoadABI] reads the
// section headers ([wasmbin.Count]) and refuses too many functions, too much
// code or too many declarations; then it walks the code once
// ([wasmbin.Module.CodeStats]) and refuses a function body over
// [Limits.MaxFunctionSize] or a module whose estimated superlinear compile
// work is over [Limits.MaxCompileWork]. Each refusal is an [*Error] with
// code invalid_module that names the limit, the value and the configuration
// key that raises it. At most GOMAXPROCS/2 compilations run at once.
//
// Compiled code is kept in a directory shared by processes (wazero's file
// cache). The [Host] keeps it under [HostOptions.CacheMaxSize], deleting the
// least recently used entries when it starts and after each compilation;
// a loaded plugin's code lives in memory, so pruning never affects it.
package wasm
