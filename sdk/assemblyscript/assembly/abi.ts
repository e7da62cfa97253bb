// The exports of Sluice plugin ABI v1 (sdk/ABI.md). AssemblyScript only exports what the entry file exports, so
// a plugin re-exports this file from its entry file, with exactly this line:
//
//   export * from "@sluicehq/sluice-sdk/assembly/abi";
//
// With the linear memory (exported by the compiler as "memory") these are all the module exports.

import { ABI_VERSION } from "./index";
import { alloc, transform } from "./guest";

/** Returns the version of the plugin ABI that the module speaks. */
export function sluice_abi_version(): i32 {
  return ABI_VERSION;
}

/** Returns the address of size writable bytes for the next input, or 0 on failure. */
export function sluice_alloc(size: i32): usize {
  return alloc(size);
}

/** Transforms the len input bytes at ptr; returns 0 (success), 1 (rejected) or 2 (failure). */
export function sluice_transform(ptr: usize, len: i32): i32 {
  return transform(ptr, len);
}
