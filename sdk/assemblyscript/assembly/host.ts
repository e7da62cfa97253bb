// The "sluice" host module of plugin ABI v1 (sdk/ABI.md). Every (ptr, len) pair is read by the host during the
// call, so a managed object passed here only has to stay alive until the call returns: callers pass pointers
// into objects they still hold in a local or a global, and allocate nothing between taking the pointer and
// making the call.

// @ts-ignore: decorator
@external("sluice", "set_output")
export declare function set_output(ptr: usize, len: i32): void;

// @ts-ignore: decorator
@external("sluice", "set_error")
export declare function set_error(ptr: usize, len: i32): void;

// @ts-ignore: decorator
@external("sluice", "set_content_type")
export declare function set_content_type(ptr: usize, len: i32): void;

// @ts-ignore: decorator
@external("sluice", "set_header")
export declare function set_header(namePtr: usize, nameLen: i32, valuePtr: usize, valueLen: i32): void;

// @ts-ignore: decorator
@external("sluice", "meta")
export declare function meta(keyPtr: usize, keyLen: i32, bufPtr: usize, bufCap: i32): i32;

// @ts-ignore: decorator
@external("sluice", "log")
export declare function log(level: i32, ptr: usize, len: i32): void;

// @ts-ignore: decorator
@external("sluice", "now")
export declare function now(): i64;
