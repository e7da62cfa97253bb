// The SDK's state for one module instance and the mechanics behind the ABI exports (abi.ts). The host never
// calls an instance concurrently, so nothing here is locked.
//
// Garbage collection: every managed object that the host reads or writes through a raw pointer is referenced
// from a global for as long as the host may use it (the input buffer, from sluice_alloc until the next
// sluice_alloc; the metadata key and value buffers), or from a local that the code still uses after the host
// call, with no allocation between taking the pointer and making the call. Both runtimes the SDK supports keep
// such objects alive and never move them:
//
//   - incremental (the default): the collector runs in steps during allocations, also in the middle of a
//     handler; locals are found through the shadow stack and globals are roots.
//   - minimal: the collector never runs by itself. The SDK runs a full collection (__collect) at the end of
//     every sluice_transform, when no managed object is referenced from the stack any more.
//
// The stub runtime never frees memory, so a long-lived instance would eventually fail a message with
// memory_limit; the SDK refuses to compile with it.

import * as host from "./host";
import { Code, Handler, Level, Message } from "./index";

// @ts-ignore: decorator
@inline const MIN_INPUT_CAP: i32 = 4 << 10; // first input buffer; grows to the largest message seen
// @ts-ignore: decorator
@inline const MAX_INPUT: i32 = (1 << 30) - 64; // just under the allocator's largest block
// @ts-ignore: decorator
@inline const MIN_META_CAP: i32 = 256; // first metadata value buffer; grows to the largest value seen
// @ts-ignore: decorator
@inline const META_TRIES: i32 = 3; // meta calls per lookup before giving up on a value that keeps growing

// ASC_RUNTIME values (std/assembly/shared/runtime.ts).
// @ts-ignore: decorator
@inline const RUNTIME_STUB: i32 = 0;
// @ts-ignore: decorator
@inline const RUNTIME_MINIMAL: i32 = 1;

let handler: Handler | null = null;
let input: ArrayBuffer | null = null; // handed out by sluice_alloc; kept here so the collector leaves it alone
let metaKey: ArrayBuffer | null = null; // the key of the metadata lookup in progress
let metaBuf: ArrayBuffer | null = null; // metadata value buffer, reused

export function register(h: Handler): void {
  handler = h;
}

/**
 * alloc returns the address of a buffer of at least size bytes for the host to write the next input into,
 * reusing the previous buffer when it is big enough. The address is never 0, even for size 0. It returns 0 for
 * a negative or impossibly large size. Running out of memory traps (the allocator has no way to say so), which
 * the host reports as memory_limit when the memory is at its cap.
 */
export function alloc(size: i32): usize {
  if (ASC_RUNTIME == RUNTIME_STUB) {
    ERROR("sluice: the stub runtime never frees memory; build with --runtime incremental (or minimal)");
  }
  if (size < 0 || size > MAX_INPUT) return 0;
  let buf = input;
  if (buf === null || size > buf.byteLength) {
    let cap = buf === null ? MIN_INPUT_CAP : buf.byteLength;
    cap = cap > MAX_INPUT / 2 ? MAX_INPUT : cap * 2;
    if (cap < size) cap = size;
    if (cap < MIN_INPUT_CAP) cap = MIN_INPUT_CAP;
    input = null; // the old buffer may be collected while the new one is allocated
    buf = new ArrayBuffer(cap);
    input = buf;
  }
  return changetype<usize>(buf);
}

/**
 * transform runs the handler on the len bytes at ptr, which must lie inside the buffer last returned by alloc,
 * and reports the outcome to the host. It returns the code of sluice_transform.
 */
export function transform(ptr: usize, len: i32): i32 {
  const h = handler;
  if (h === null) {
    logError("sluice: no handler registered: call handle(...) at the top level of the plugin's entry file");
    return Code.FAILED;
  }
  const buf = input;
  if (buf === null) {
    logError("sluice: sluice_transform called before sluice_alloc");
    return Code.FAILED;
  }
  const base = changetype<usize>(buf);
  const cap = <usize>buf.byteLength;
  if (len < 0 || ptr < base || ptr - base > cap || <usize>len > cap - (ptr - base)) {
    logError("sluice: sluice_transform called with bytes outside the buffer from sluice_alloc");
    return Code.FAILED;
  }
  const out = h(new Message(Uint8Array.wrap(buf, <i32>(ptr - base), len)));
  let code = out.code;
  const bytes = out.bytes;
  if (code == Code.OK) {
    if (bytes !== null && bytes.byteLength > 0) host.set_output(bytes.dataStart, bytes.byteLength);
  } else {
    if (bytes !== null && bytes.byteLength > 0) host.set_error(bytes.dataStart, bytes.byteLength);
    if (code != Code.REJECTED) code = Code.FAILED;
  }
  if (ASC_RUNTIME == RUNTIME_MINIMAL) {
    __collect(); // nothing on the stack references a managed object any more
  }
  return code;
}

/**
 * scratchKey sets the key of the next lookup to prefix + name, as UTF-8, and returns it. The key lives in a
 * global because lookup allocates while the host still needs it.
 */
export function scratchKey(prefix: string, name: string): ArrayBuffer {
  const k = String.UTF8.encode(prefix.length == 0 ? name : prefix + name);
  metaKey = k;
  return k;
}

/** lookup asks the host for the metadata value under key, growing the value buffer when it is too small. */
export function lookup(key: ArrayBuffer): string | null {
  let buf = metaBuf;
  if (buf === null) {
    buf = new ArrayBuffer(MIN_META_CAP);
    metaBuf = buf;
  }
  for (let i = 0; i < META_TRIES; i++) {
    const cap = buf.byteLength;
    const n = host.meta(changetype<usize>(key), key.byteLength, changetype<usize>(buf), cap);
    if (n < 0) break;
    if (n <= cap) {
      metaKey = null;
      return String.UTF8.decodeUnsafe(changetype<usize>(buf), <usize>n, false);
    }
    metaBuf = null;
    buf = new ArrayBuffer(n);
    metaBuf = buf;
  }
  metaKey = null;
  return null;
}

function logError(msg: string): void {
  const b = String.UTF8.encode(msg);
  host.log(Level.Error, changetype<usize>(b), b.byteLength);
}
