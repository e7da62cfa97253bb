// Replacements for the three functions AssemblyScript would otherwise import from the "env" module, which the
// Sluice host does not provide (it refuses modules with imports other than "sluice" and WASI). The SDK's
// asconfig.json points the compiler at them:
//
//   --use abort=~lib/@sluicehq/sluice-sdk/assembly/env/abort
//   --use trace=~lib/@sluicehq/sluice-sdk/assembly/env/trace
//   --use seed=~lib/@sluicehq/sluice-sdk/assembly/env/seed

import * as host from "./host";

// @ts-ignore: decorator
@inline const LEVEL_DEBUG: i32 = 0;
// @ts-ignore: decorator
@inline const LEVEL_ERROR: i32 = 3;

// abort may run because memory ran out, so it formats its record in static memory and allocates nothing.
// @ts-ignore: decorator
@inline const SCRATCH_CAP: i32 = 1024;
const scratch: usize = memory.data(SCRATCH_CAP);

/** Appends s as UTF-8 to the scratch buffer at n, truncated to fit; returns the new length. */
function put(n: i32, s: string | null): i32 {
  if (s === null) return put(n, "(null)");
  const p = changetype<usize>(s);
  const len = s.length;
  for (let i = 0; i < len; i++) {
    let c = <u32>load<u16>(p + (<usize>i << 1));
    if (c >= 0xD800 && c < 0xDC00 && i + 1 < len) {
      const d = <u32>load<u16>(p + (<usize>(i + 1) << 1));
      if (d >= 0xDC00 && d < 0xE000) {
        c = 0x10000 + ((c - 0xD800) << 10) + (d - 0xDC00);
        i++;
      }
    }
    if (c >= 0xD800 && c < 0xE000) c = 0xFFFD; // lone surrogate
    const w = c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
    if (n + w > SCRATCH_CAP) return n;
    const q = scratch + <usize>n;
    if (w == 1) {
      store<u8>(q, c);
    } else if (w == 2) {
      store<u8>(q, 0xC0 | (c >> 6));
      store<u8>(q, 0x80 | (c & 63), 1);
    } else if (w == 3) {
      store<u8>(q, 0xE0 | (c >> 12));
      store<u8>(q, 0x80 | ((c >> 6) & 63), 1);
      store<u8>(q, 0x80 | (c & 63), 2);
    } else {
      store<u8>(q, 0xF0 | (c >> 18));
      store<u8>(q, 0x80 | ((c >> 12) & 63), 1);
      store<u8>(q, 0x80 | ((c >> 6) & 63), 2);
      store<u8>(q, 0x80 | (c & 63), 3);
    }
    n += w;
  }
  return n;
}

/** Appends the decimal digits of v to the scratch buffer at n; returns the new length. */
function putU32(n: i32, v: u32): i32 {
  let digits = 1;
  for (let t = v; t >= 10; t /= 10) digits++;
  if (n + digits > SCRATCH_CAP) return n;
  for (let i = digits - 1; i >= 0; i--) {
    store<u8>(scratch + <usize>(n + i), 0x30 + v % 10);
    v /= 10;
  }
  return n + digits;
}

/**
 * Replaces AssemblyScript's `abort` (failed assertions, `throw`, out-of-bounds indexing, out of memory): logs
 * `abort: <message> at <file>:<line>:<column>` at error level, then traps. The host discards the instance and
 * fails the message with the error code `trap` (or `memory_limit` when memory is at its cap).
 */
export function abort(message: string | null, fileName: string | null, lineNumber: u32, columnNumber: u32): void {
  let n = put(0, "abort: ");
  n = put(n, message);
  n = put(n, " at ");
  n = put(n, fileName);
  n = put(n, ":");
  n = putU32(n, lineNumber);
  n = put(n, ":");
  n = putU32(n, columnNumber);
  host.log(LEVEL_ERROR, scratch, n);
  unreachable();
}

/** Replaces AssemblyScript's `trace`: logs the message and its first n numbers at debug level. */
export function trace(
  message: string,
  n: i32 = 0,
  a0: f64 = 0,
  a1: f64 = 0,
  a2: f64 = 0,
  a3: f64 = 0,
  a4: f64 = 0,
): void {
  let s = "trace: " + message;
  if (n > 0) s += " " + a0.toString();
  if (n > 1) s += ", " + a1.toString();
  if (n > 2) s += ", " + a2.toString();
  if (n > 3) s += ", " + a3.toString();
  if (n > 4) s += ", " + a4.toString();
  const b = String.UTF8.encode(s);
  host.log(LEVEL_DEBUG, changetype<usize>(b), b.byteLength);
}

/** Replaces AssemblyScript's `seed` (the seed of Math.random): the host's clock. */
export function seed(): f64 {
  return <f64>host.now();
}
