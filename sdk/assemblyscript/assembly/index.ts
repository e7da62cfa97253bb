// Sluice guest SDK for AssemblyScript: the API a plugin is written against.
//
// A plugin is a WebAssembly module that the Sluice host calls once per message, between the durable log and the
// destination: it receives the message body, returns a new body (or rejects the message), and may set the
// outgoing content type and headers. This package implements the guest side of the plugin ABI (sdk/ABI.md,
// version ABI_VERSION) so that plugin code never sees a pointer:
//
//   import { Message, Outcome, handle, output, reject } from "@sluicehq/sluice-sdk";
//   export * from "@sluicehq/sluice-sdk/assembly/abi"; // the ABI's exports, from the entry file
//
//   handle((m: Message): Outcome => {
//     if (m.body.length == 0) return reject("body is empty");
//     m.setContentType("text/plain");
//     return output(m.text().toUpperCase());
//   });
//
// Lifetime and concurrency: the host never calls one instance concurrently, and it reuses an instance for many
// messages, so globals persist between calls. Do not rely on that: the host may discard an instance at any time
// (always after a trap) and runs several instances of a plugin side by side. A Message and its body are valid
// only until the handler returns; copy what you keep. Message methods call the host and work only while the
// handler runs.

import * as host from "./host";
import { lookup, register, scratchKey } from "./guest";
// The replacements for env.abort, env.trace and env.seed: imported so that the file is part of every program.
import "./env";

/** The version of the Sluice plugin ABI (sdk/ABI.md) that the SDK implements and exports as sluice_abi_version. */
export const ABI_VERSION: i32 = 1;

/** The severity of a log record, as numbered by the ABI. */
export enum Level {
  Debug = 0,
  Info = 1,
  Warn = 2,
  Error = 3,
}

/**
 * Transforms one message: returns `output(body)` for success, `reject(reason)` to refuse the message, or
 * `fail(reason)` for a plugin failure.
 */
export type Handler = (m: Message) => Outcome;

/**
 * Registers h as the plugin's transform, replacing any earlier registration. Call it at the top level of the
 * entry file, below the globals the handler uses: top-level code runs in order, once per instance, when the
 * host instantiates the module (it is the module's start function).
 */
export function handle(h: Handler): void {
  register(h);
}

/** Return codes of sluice_transform. */
export namespace Code {
  export const OK: i32 = 0;
  export const REJECTED: i32 = 1;
  export const FAILED: i32 = 2;
}

/** What a Handler returns; made by output, reject and fail. */
@final export class Outcome {
  /** The return code of sluice_transform: Code.OK, Code.REJECTED or Code.FAILED. */
  readonly code: i32;
  /** The output body (Code.OK) or the error text, as UTF-8 bytes; null for none. */
  readonly bytes: Uint8Array | null;

  constructor(code: i32, bytes: Uint8Array | null) {
    this.code = code;
    this.bytes = bytes;
  }
}

/** toBytes views a string (as UTF-8), Uint8Array or ArrayBuffer as bytes; null is no bytes. */
function toBytes<T>(value: T): Uint8Array | null {
  if (isNullable<T>()) {
    if (changetype<usize>(value) == 0) return null;
  }
  if (isString<T>()) {
    return Uint8Array.wrap(String.UTF8.encode(changetype<string>(value)));
  } else if (idof<T>() == idof<Uint8Array>()) {
    return changetype<Uint8Array>(value);
  } else if (idof<T>() == idof<ArrayBuffer>()) {
    return Uint8Array.wrap(changetype<ArrayBuffer>(value));
  }
  ERROR("sluice: a body or reason must be a string, Uint8Array or ArrayBuffer");
  return null;
}

/**
 * Success: `body` (a string, sent as UTF-8, or a Uint8Array or ArrayBuffer, sent as is) is the new message body.
 * An empty body or null means an empty body. Bytes may alias m.body: the host copies them before the next
 * message.
 */
export function output<T>(body: T): Outcome {
  return new Outcome(Code.OK, toBytes<T>(body));
}

/**
 * Rejects the message: the host fails it with the error code plugin_rejected and `reason` (a string, or UTF-8
 * bytes) as its message, which reaches the sender. Make it precise ("\"email\" must contain \"@\""). Rejections
 * are final: the message is not retried.
 */
export function reject<T>(reason: T): Outcome {
  return new Outcome(Code.REJECTED, toBytes<T>(reason));
}

/**
 * Reports a plugin failure (a bug or a broken environment, not bad input): the host fails the message with the
 * error code plugin_failed and `reason` in its message, and discards the instance. AssemblyScript cannot catch
 * exceptions, so this is the clean way out; a `throw` or failed assertion traps instead (see abort in env.ts).
 */
export function fail<T>(reason: T): Outcome {
  return new Outcome(Code.FAILED, toBytes<T>(reason));
}

/**
 * One message being transformed. It and its body belong to the SDK and are valid only until the handler
 * returns: copy what you keep. Its methods call the host and may be used only while the handler runs.
 */
@final export class Message {
  /**
   * The input: the incoming message body, or the previous plugin's output in a chain. A view of the SDK's input
   * buffer, which the next message reuses; the handler may modify it in place and return it (or part of it).
   */
  readonly body: Uint8Array;

  constructor(body: Uint8Array) {
    this.body = body;
  }

  /**
   * The body decoded from UTF-8 into an AssemblyScript (UTF-16) string. The decoder is lenient: bytes that are
   * not valid UTF-8 decode to unspecified characters, so validate first when that matters, or work on the bytes.
   */
  text(): string {
    return String.UTF8.decodeUnsafe(this.body.dataStart, <usize>this.body.byteLength, false);
  }

  /** The metadata value stored under key (see sdk/ABI.md), or null if the host does not know it. */
  meta(key: string): string | null {
    return lookup(scratchKey("", key));
  }

  /** The name of the route the message arrived on. */
  get route(): string {
    return orEmpty(this.meta("route"));
  }

  /** The message's correlation ID. */
  get correlationId(): string {
    return orEmpty(this.meta("correlation_id"));
  }

  /** The content type of the incoming message (not of a previous plugin's output). */
  get contentType(): string {
    return orEmpty(this.meta("content_type"));
  }

  /** The name this plugin is configured under. */
  get plugin(): string {
    return orEmpty(this.meta("plugin"));
  }

  /**
   * When the host accepted the message, in nanoseconds since the Unix epoch (like now()), or 0 if the host did
   * not say or the time is outside the years 1678–2262. `meta("received_at")` has the RFC 3339 text.
   */
  get receivedAt(): i64 {
    const v = this.meta("received_at");
    return v === null ? 0 : parseRFC3339(v);
  }

  /** The first value of the incoming request header name (matched case-insensitively), or "" if absent. */
  header(name: string): string {
    return orEmpty(lookup(scratchKey("header:", name)));
  }

  /** Sets the content type of the output, sent to the destination. */
  setContentType(contentType: string): void {
    // Plugins tend to set the same content type every time: keep its UTF-8 form.
    let b = lastContentTypeBytes;
    if (b === null || contentType != lastContentType) {
      b = String.UTF8.encode(contentType);
      lastContentType = contentType;
      lastContentTypeBytes = b;
    }
    host.set_content_type(changetype<usize>(b), b.byteLength);
  }

  /** Sets a header on the destination request, replacing an earlier value of the same name. */
  setHeader(name: string, value: string): void {
    const n = String.UTF8.encode(name);
    const v = String.UTF8.encode(value);
    host.set_header(changetype<usize>(n), n.byteLength, changetype<usize>(v), v.byteLength);
  }
}

/** The host's wall clock, in nanoseconds since the Unix epoch. Prefer it to Date.now, which the host lacks. */
export function now(): i64 {
  return host.now();
}

/**
 * Sends msg to the host's log at the given level. Works at any time, including from top-level code. (Use it
 * instead of console.log, which would import functions the host does not provide.)
 */
export function log(level: Level, msg: string): void {
  const b = String.UTF8.encode(msg);
  host.log(level, changetype<usize>(b), b.byteLength);
}

let lastContentType: string = "";
let lastContentTypeBytes: ArrayBuffer | null = null;

function orEmpty(s: string | null): string {
  return s === null ? "" : s;
}

// parseRFC3339 returns the time s (YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)) in nanoseconds since the Unix
// epoch, or 0 if s is malformed or out of range.
function parseRFC3339(s: string): i64 {
  const len = s.length;
  if (len < 20) return 0;
  const year = digits(s, 0, 4);
  const month = digits(s, 5, 2);
  const day = digits(s, 8, 2);
  const hour = digits(s, 11, 2);
  const min = digits(s, 14, 2);
  const sec = digits(s, 17, 2);
  if (year < 0 || month < 1 || month > 12 || day < 1 || day > 31 || hour < 0 || hour > 23 ||
      min < 0 || min > 59 || sec < 0 || sec > 60) return 0;
  if (s.charCodeAt(4) != 0x2D || s.charCodeAt(7) != 0x2D || (s.charCodeAt(10) | 0x20) != 0x74 ||
      s.charCodeAt(13) != 0x3A || s.charCodeAt(16) != 0x3A) return 0;
  let i = 19;
  let frac: i64 = 0;
  if (s.charCodeAt(i) == 0x2E) {
    i++;
    let scale: i64 = 100_000_000;
    const start = i;
    while (i < len) {
      const c = s.charCodeAt(i);
      if (c < 0x30 || c > 0x39) break;
      frac += <i64>(c - 0x30) * scale;
      scale /= 10;
      i++;
    }
    if (i == start || i - start > 9) return 0;
  }
  let offset: i64 = 0;
  if (i == len - 1 && (s.charCodeAt(i) | 0x20) == 0x7A) {
    // Z
  } else if (i == len - 6 && (s.charCodeAt(i) == 0x2B || s.charCodeAt(i) == 0x2D) && s.charCodeAt(i + 3) == 0x3A) {
    const oh = digits(s, i + 1, 2);
    const om = digits(s, i + 4, 2);
    if (oh < 0 || oh > 23 || om < 0 || om > 59) return 0;
    offset = <i64>(oh * 3600 + om * 60);
    if (s.charCodeAt(i) == 0x2D) offset = -offset;
  } else {
    return 0;
  }
  // Days since the epoch of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
  const y: i64 = <i64>year - (month <= 2 ? 1 : 0);
  const era: i64 = (y >= 0 ? y : y - 399) / 400;
  const yoe: i64 = y - era * 400;
  const mp: i64 = <i64>((month + 9) % 12);
  const doy: i64 = (153 * mp + 2) / 5 + <i64>day - 1;
  const doe: i64 = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  const days: i64 = era * 146097 + doe - 719468;
  const secs: i64 = days * 86400 + <i64>(hour * 3600 + min * 60 + sec) - offset;
  // i64 nanoseconds span about ±292 years around 1970.
  if (secs < -9_223_372_035 || secs > 9_223_372_035) return 0;
  return secs * 1_000_000_000 + frac;
}

// digits returns the n decimal digits of s at i as a number, or -1 if one is not a digit.
function digits(s: string, i: i32, n: i32): i32 {
  let v = 0;
  for (let k = 0; k < n; k++) {
    const c = s.charCodeAt(i + k);
    if (c < 0x30 || c > 0x39) return -1;
    v = v * 10 + (c - 0x30);
  }
  return v;
}
