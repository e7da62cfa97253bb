// order-to-invoice (../../SPEC.md) on the Sluice AssemblyScript SDK: an order JSON document in, an invoice JSON
// document out, byte-identical to the other languages' builds.
//
// The JSON reader works on the input's bytes, never on AssemblyScript (UTF-16) strings, so that raw bytes pass
// through unchanged. It reads the body once (parse), then writes the output (orderToInvoice):
//
//  - parse checks that the body is exactly one valid JSON value (RFC 8259, strict) nested at most 64 deep:
//    strings hold no raw control characters, and no \u escape leaves a surrogate unpaired. Bytes 0x80 and up
//    are not checked (SPEC.md: the input is not checked for valid UTF-8). It is iterative, with an explicit
//    stack of open containers, so nesting costs no call depth.
//  - On the way it records where the values it needs start: those of the document's id, customer, currency
//    and items; of the customer's names and email; and, for each element of items, the element and its sku,
//    qty and unit_price_cents. A later duplicate key overwrites the offset an earlier one left (the last wins);
//    a new "customer" or "items" key at the top first forgets what the earlier one's value recorded.
//  - Only a valid document is looked at: string values are decoded (and escaped again) straight from the input
//    into the output buffer, which is reused from message to message.

import { Message, Outcome, handle, output, reject } from "@sluicehq/sluice-sdk";
export * from "@sluicehq/sluice-sdk/assembly/abi";

// @ts-ignore: decorator
@inline const QUOTE: i32 = 0x22;
// @ts-ignore: decorator
@inline const BACKSLASH: i32 = 0x5c;
// @ts-ignore: decorator
@inline const MAX_DEPTH: i32 = 64; // nesting of objects and arrays, the document's own object being 1
// @ts-ignore: decorator
@inline const INVALID: i64 = -1; // parseInteger: not an integer in [0, 2^63-1]
// @ts-ignore: decorator
@inline const MAX_TENTH: i64 = 922_337_203_685_477_580; // (2^63-1) / 10

// Kinds of open containers on parse's stack: objects below ARRAY, arrays from it.
// @ts-ignore: decorator
@inline const OBJECT: u8 = 0; // an object whose members are not needed
// @ts-ignore: decorator
@inline const DOCUMENT: u8 = 1; // the document's own object
// @ts-ignore: decorator
@inline const CUSTOMER: u8 = 2; // the value of the document's "customer"
// @ts-ignore: decorator
@inline const ITEM: u8 = 3; // an element of ITEMS
// @ts-ignore: decorator
@inline const ARRAY: u8 = 4; // an array whose elements are not needed
// @ts-ignore: decorator
@inline const ITEMS: u8 = 5; // the value of the document's "items"

// The input of the message being transformed.
let base: usize = 0; // address of its first byte
let end: i32 = 0; // its length

/** A growable byte buffer, reused from message to message. */
@final class Bytes {
  buf: ArrayBuffer;
  ptr: usize; // changetype<usize>(buf)
  len: i32 = 0;
  cap: i32;

  constructor(cap: i32) {
    this.buf = new ArrayBuffer(cap);
    this.ptr = changetype<usize>(this.buf);
    this.cap = cap;
  }

  /** Makes room for k more bytes. Addresses taken from ptr before are stale after it. */
  @inline ensure(k: i32): void {
    if (this.len + k > this.cap) this.grow(k);
  }

  grow(k: i32): void {
    let cap = this.cap * 2;
    if (cap < this.len + k) cap = this.len + k;
    const buf = new ArrayBuffer(cap);
    memory.copy(changetype<usize>(buf), this.ptr, <usize>this.len);
    this.buf = buf;
    this.ptr = changetype<usize>(buf);
    this.cap = cap;
  }

  @inline byte(b: i32): void {
    this.ensure(1);
    store<u8>(this.ptr + <usize>this.len, b);
    this.len++;
  }

  /** Appends the bytes of b. */
  @inline bytes(b: ArrayBuffer): void {
    const n = b.byteLength;
    this.ensure(n);
    memory.copy(this.ptr + <usize>this.len, changetype<usize>(b), <usize>n);
    this.len += n;
  }

  /** Appends the n input bytes at i. */
  @inline input(i: i32, n: i32): void {
    this.ensure(n);
    memory.copy(this.ptr + <usize>this.len, base + <usize>i, <usize>n);
    this.len += n;
  }

  /** Appends v (>= 0) in decimal. */
  int(v: i64): void {
    let digits = 1;
    for (let t = v; t >= 10; t /= 10) digits++;
    this.ensure(digits);
    const dst = this.ptr + <usize>this.len;
    for (let k = digits - 1; k >= 0; k--) {
      store<u8>(dst + <usize>k, <i32>(v % 10) + 0x30);
      v /= 10;
    }
    this.len += digits;
  }

  /** A view of the bytes written, valid until the next write. */
  view(): Uint8Array {
    return Uint8Array.wrap(this.buf, 0, this.len);
  }
}

// @ts-ignore: decorator
@inline function utf8(s: string): ArrayBuffer {
  return String.UTF8.encode(s);
}

// The output's fixed parts.
const OUT_ID = utf8("{\"external_id\":\"");
const OUT_NAME = utf8("\",\"customer_name\":\"");
const OUT_EMAIL = utf8("\",\"email\":\"");
const OUT_CURRENCY = utf8("\",\"currency\":\"");
const OUT_LINES = utf8("\",\"lines\":[");
const OUT_SKU = utf8("{\"sku\":\"");
const OUT_QUANTITY = utf8("\",\"quantity\":");
const OUT_AMOUNT = utf8(",\"amount_cents\":");
const OUT_TOTAL = utf8("],\"total_cents\":");

// The keys parse looks for, by kind of object, as UTF-8; matchKey returns the index.
const DOCUMENT_KEYS: StaticArray<ArrayBuffer> = [utf8("id"), utf8("customer"), utf8("currency"), utf8("items")];
const CUSTOMER_KEYS: StaticArray<ArrayBuffer> = [utf8("first_name"), utf8("last_name"), utf8("email")];
const ITEM_KEYS: StaticArray<ArrayBuffer> = [utf8("sku"), utf8("qty"), utf8("unit_price_cents")];

// What parse found: offsets of values in the input, or -1 for absent.
let id = -1;
let customer = -1;
let currency = -1;
let itemsValue = -1;
let firstName = -1;
let lastName = -1;
let email = -1;
// For each element of items, four i32: the element's offset, then those of its sku, qty and unit_price_cents.
const items = new Bytes(256);
// @ts-ignore: decorator
@inline const ITEM_SIZE: i32 = 16;

const out = new Bytes(4096); // the output, or a rejection text with the sku in it
const key = new Bytes(64); // a key with escapes, decoded
const stack = new Bytes(MAX_DEPTH); // parse's open containers, by kind

function orderToInvoice(m: Message): Outcome {
  base = m.body.dataStart;
  end = m.body.byteLength;
  if (!parse() || byte(ws(0)) != 0x7b) return reject("invalid JSON"); // not valid, or not an object
  if (!isNonEmptyString(id)) return reject("missing field: id");
  if (customer < 0 || byte(customer) != 0x7b) return reject("missing field: customer");
  if (!isNonEmptyString(firstName)) return reject("missing field: customer.first_name");
  if (!isNonEmptyString(lastName)) return reject("missing field: customer.last_name");
  if (!isNonEmptyString(email)) return reject("missing field: customer.email");
  if (!isNonEmptyString(currency)) return reject("missing field: currency");
  if (itemsValue < 0 || byte(itemsValue) != 0x5b || items.len == 0) return reject("missing field: items");

  out.len = 0;
  out.bytes(OUT_ID);
  emitString(id, ESCAPE);
  out.bytes(OUT_NAME);
  emitString(firstName, ESCAPE);
  out.byte(0x20);
  emitString(lastName, ESCAPE);
  out.bytes(OUT_EMAIL);
  emitString(email, ESCAPE | LOWER);
  out.bytes(OUT_CURRENCY);
  emitString(currency, ESCAPE);
  out.bytes(OUT_LINES);

  let total: i64 = 0;
  for (let k = 0; k < items.len; k += ITEM_SIZE) {
    const p = items.ptr + <usize>k; // items does not grow here
    const sku = load<i32>(p, 4);
    if (byte(load<i32>(p)) != 0x7b || !isNonEmptyString(sku)) return reject("missing field: items.sku");
    const qty = parseInteger(load<i32>(p, 8));
    if (qty < 1) return rejectSku("invalid quantity for sku ", sku);
    const price = parseInteger(load<i32>(p, 12));
    if (price < 0) return rejectSku("invalid price for sku ", sku);
    // qty >= 1 and price >= 0: neither the amount nor the total can go below zero.
    if (price != 0 && qty > i64.MAX_VALUE / price) return rejectSku("invalid price for sku ", sku);
    const amount = qty * price;
    if (amount > i64.MAX_VALUE - total) return rejectSku("invalid price for sku ", sku);
    total += amount;

    if (k > 0) out.byte(0x2c);
    out.bytes(OUT_SKU);
    emitString(sku, ESCAPE);
    out.bytes(OUT_QUANTITY);
    out.int(qty);
    out.bytes(OUT_AMOUNT);
    out.int(amount);
    out.byte(0x7d);
  }
  out.bytes(OUT_TOTAL);
  out.int(total);
  out.byte(0x7d);
  m.setContentType("application/json");
  return output(out.view());
}

/** Rejects with prefix followed by the decoded sku at i, raw. */
function rejectSku(prefix: string, sku: i32): Outcome {
  out.len = 0;
  out.bytes(utf8(prefix));
  emitString(sku, 0);
  return reject(out.view());
}

// ---- Reading.

/** The byte at i, or -1 past the end. */
// @ts-ignore: decorator
@inline function at(i: i32): i32 {
  return i < end ? <i32>load<u8>(base + <usize>i) : -1;
}

/** The byte at i, which must be inside the input (parse has checked it). */
// @ts-ignore: decorator
@inline function byte(i: i32): i32 {
  return <i32>load<u8>(base + <usize>i);
}

/** The offset of the first byte at or after i that is not JSON whitespace. */
function ws(i: i32): i32 {
  const p = base;
  const n = end;
  while (i < n) {
    const c = <i32>load<u8>(p + <usize>i);
    if (c > 0x20 || (c != 0x20 && c != 0x0a && c != 0x0d && c != 0x09)) break;
    i++;
  }
  return i;
}

// @ts-ignore: decorator
@inline function isDigit(c: i32): bool {
  return <u32>(c - 0x30) < 10;
}

/**
 * Reports whether the input is exactly one JSON value, surrounded by optional whitespace, and records the
 * offsets of the values orderToInvoice needs.
 */
function parse(): bool {
  id = customer = currency = itemsValue = firstName = lastName = email = -1;
  items.len = 0;
  stack.len = 0;
  let i = ws(0);
  let kind = DOCUMENT; // of the container the next value opens, if it opens one
  while (true) {
    // A value starts at i.
    const c = at(i);
    if (c == 0x7b || c == 0x5b) {
      if (stack.len == MAX_DEPTH) return false; // this one would be 65 deep
      i = ws(i + 1);
      if (c == 0x7b) {
        if (at(i) == 0x7d) {
          i++;
        } else {
          kind = kind < ARRAY ? kind : OBJECT;
          stack.byte(kind);
          i = member(i, kind);
          if (i < 0) return false;
          kind = next;
          continue;
        }
      } else {
        if (at(i) == 0x5d) {
          i++;
        } else {
          kind = kind == ITEMS ? ITEMS : ARRAY;
          stack.byte(kind);
          kind = element(i, kind);
          continue;
        }
      }
    } else {
      if (c == QUOTE) {
        i = validString(i);
      } else if (c == 0x2d || isDigit(c)) {
        i = validNumber(i);
      } else if (c == 0x74) {
        i = literal(i, 0x65757274, 4); // "true"
      } else if (c == 0x66) {
        i = literal(i + 1, 0x65736c61, 4); // "alse"
      } else if (c == 0x6e) {
        i = literal(i, 0x6c6c756e, 4); // "null"
      } else {
        return false;
      }
      if (i < 0) return false;
    }
    // A value ended at i: close containers until one goes on.
    while (true) {
      i = ws(i);
      if (stack.len == 0) return i == end;
      const open = load<u8>(stack.ptr + <usize>(stack.len - 1));
      const d = at(i);
      if (d == 0x2c) { // ,
        i = ws(i + 1);
        if (open < ARRAY) {
          i = member(i, open);
          if (i < 0) return false;
          kind = next;
        } else {
          kind = element(i, open);
        }
        break;
      }
      if (d != (open < ARRAY ? 0x7d : 0x5d)) return false;
      stack.len--;
      i++;
    }
  }
  return false;
}

// The kind of container that the value after the current key or element opens, set by member and element.
let next: u8 = OBJECT;

/**
 * Checks `"key" :` at i, in an object of the given kind, and returns the offset of the value after it, or -1.
 * Records the value's offset if the key is one orderToInvoice needs, and sets next.
 */
function member(i: i32, kind: u8): i32 {
  if (at(i) != QUOTE) return -1;
  const keyEnd = validString(i);
  if (keyEnd < 0) return -1;
  let v = ws(keyEnd);
  if (at(v) != 0x3a) return -1;
  v = ws(v + 1);
  next = OBJECT;
  if (kind == DOCUMENT) {
    switch (matchKey(i, keyEnd, DOCUMENT_KEYS)) {
      case 0: id = v; break;
      case 1: // a new customer: forget the fields of an earlier one
        customer = v;
        firstName = lastName = email = -1;
        next = CUSTOMER;
        break;
      case 2: currency = v; break;
      case 3: // new items: forget the elements of earlier ones
        itemsValue = v;
        items.len = 0;
        next = ITEMS;
        break;
    }
  } else if (kind == CUSTOMER) {
    switch (matchKey(i, keyEnd, CUSTOMER_KEYS)) {
      case 0: firstName = v; break;
      case 1: lastName = v; break;
      case 2: email = v; break;
    }
  } else if (kind == ITEM) {
    const k = matchKey(i, keyEnd, ITEM_KEYS);
    if (k >= 0) store<i32>(items.ptr + <usize>(items.len - ITEM_SIZE + 4 + (k << 2)), v); // of the last element
  }
  return v;
}

/** Notes an element starting at i in an array of the given kind; returns the kind of container it opens. */
function element(i: i32, kind: u8): u8 {
  if (kind != ITEMS) return OBJECT;
  items.ensure(ITEM_SIZE);
  const p = items.ptr + <usize>items.len;
  store<i32>(p, i);
  store<i32>(p, -1, 4);
  store<i32>(p, -1, 8);
  store<i32>(p, -1, 12);
  items.len += ITEM_SIZE;
  return ITEM;
}

/** Checks that the n bytes at i are those of word (little-endian) and returns the offset after them, or -1. */
function literal(i: i32, word: u32, n: i32): i32 {
  if (i + n > end || load<u32>(base + <usize>i) != word) return -1;
  return i + n;
}

/** Checks the number at i (-?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?) and returns the offset after it, or -1. */
function validNumber(i: i32): i32 {
  if (at(i) == 0x2d) i++;
  let c = at(i);
  if (c == 0x30) {
    i++;
  } else if (isDigit(c)) {
    do i++; while (isDigit(at(i)));
  } else {
    return -1;
  }
  if (at(i) == 0x2e) {
    i++;
    if (!isDigit(at(i))) return -1;
    do i++; while (isDigit(at(i)));
  }
  c = at(i);
  if (c == 0x65 || c == 0x45) {
    i++;
    c = at(i);
    if (c == 0x2b || c == 0x2d) i++;
    if (!isDigit(at(i))) return -1;
    do i++; while (isDigit(at(i)));
  }
  return i;
}

/** The value of the four hex digits at i, or -1. */
function hex4(i: i32): i32 {
  if (i + 4 > end) return -1;
  let v = 0;
  for (let k = 0; k < 4; k++) {
    const c = byte(i + k);
    let d: i32;
    if (isDigit(c)) d = c - 0x30;
    else if (<u32>((c | 0x20) - 0x61) < 6) d = (c | 0x20) - 0x61 + 10;
    else return -1;
    v = (v << 4) | d;
  }
  return v;
}

/**
 * Checks the string at i (at its opening quote) and returns the offset after its closing quote, or -1: no raw
 * control characters, only the escapes of RFC 8259, and no \u escape that leaves a surrogate unpaired.
 */
function validString(i: i32): i32 {
  const p = base;
  const n = end;
  i++;
  while (true) {
    if (i >= n) return -1;
    const b = <i32>load<u8>(p + <usize>i);
    if (b == QUOTE) return i + 1;
    if (b != BACKSLASH) {
      if (b < 0x20) return -1;
      i++; // any other byte, 0x80 and up included: the input is not checked for valid UTF-8
      continue;
    }
    const e = at(i + 1);
    if (e == QUOTE || e == BACKSLASH || e == 0x2f || e == 0x62 || e == 0x66 || e == 0x6e || e == 0x72 || e == 0x74) {
      i += 2;
    } else if (e == 0x75) { // u
      const u = hex4(i + 2);
      if (u < 0) return -1;
      i += 6;
      if (u >= 0xd800 && u < 0xdc00) { // a high surrogate: a low one must follow
        if (at(i) != BACKSLASH || at(i + 1) != 0x75) return -1;
        const lo = hex4(i + 2);
        if (lo < 0xdc00 || lo >= 0xe000) return -1;
        i += 6;
      } else if (u >= 0xdc00 && u < 0xe000) {
        return -1;
      }
    } else {
      return -1;
    }
  }
  return -1;
}

/** The index in keys of the (decoded) key string from start to stop (its quotes included), or -1. */
function matchKey(start: i32, stop: i32, keys: StaticArray<ArrayBuffer>): i32 {
  let p = base + <usize>(start + 1);
  let n = stop - start - 2;
  for (let k = 0; k < n; k++) {
    if (load<u8>(p + <usize>k) == BACKSLASH) { // decode it first
      key.len = 0;
      emitTo(key, start, 0);
      p = key.ptr;
      n = key.len;
      break;
    }
  }
  const nkeys = keys.length;
  for (let k = 0; k < nkeys; k++) {
    const want = unchecked(keys[k]);
    if (want.byteLength == n && equal(p, changetype<usize>(want), n)) return k;
  }
  return -1;
}

/** Reports whether the n bytes at a and b are the same. */
function equal(a: usize, b: usize, n: i32): bool {
  let k = 0;
  for (; k + 8 <= n; k += 8) {
    if (load<u64>(a + <usize>k) != load<u64>(b + <usize>k)) return false;
  }
  for (; k < n; k++) {
    if (load<u8>(a + <usize>k) != load<u8>(b + <usize>k)) return false;
  }
  return true;
}

// ---- Reading values of the valid document.

/** Reports whether a value was found at i and is a string other than "". */
function isNonEmptyString(i: i32): bool {
  return i >= 0 && byte(i) == QUOTE && byte(i + 1) != QUOTE;
}

/**
 * The value of the number at i if it is an integer (no fraction, no exponent) in [0, 2^63-1], else INVALID
 * (also for a value that is not a number, and when i is -1: absent). "-0" is 0.
 */
function parseInteger(i: i32): i64 {
  if (i < 0) return INVALID;
  let c = byte(i);
  const negative = c == 0x2d;
  if (negative) c = at(++i);
  if (!isDigit(c)) return INVALID;
  let v: i64 = 0;
  while (isDigit(c)) {
    const d = <i64>(c - 0x30);
    if (v > MAX_TENTH || (v == MAX_TENTH && d > 7)) return INVALID; // over 2^63-1
    v = v * 10 + d;
    c = at(++i);
  }
  if (c == 0x2e || c == 0x65 || c == 0x45) return INVALID;
  if (negative && v != 0) return INVALID;
  return v;
}

// emitString flags.
// @ts-ignore: decorator
@inline const ESCAPE: i32 = 1; // write a JSON string body: escape '"', '\' and control characters
// @ts-ignore: decorator
@inline const LOWER: i32 = 2; // lower-case ASCII A-Z

/** Decodes the string at i (at its opening quote) into the output. */
// @ts-ignore: decorator
@inline function emitString(i: i32, flags: i32): void {
  emitTo(out, i, flags);
}

/**
 * Decodes the valid string at i (at its opening quote) into dst: escapes decoded, code points as UTF-8. A valid
 * string holds no raw '"' or control character, so only what an escape decodes to may need escaping again.
 */
function emitTo(dst: Bytes, i: i32, flags: i32): void {
  const p = base;
  i++;
  while (true) {
    let b = <i32>load<u8>(p + <usize>i);
    if (b == QUOTE) return;
    if (b != BACKSLASH) {
      // A run of raw bytes goes in one copy.
      let j = i + 1;
      while (true) {
        b = <i32>load<u8>(p + <usize>j);
        if (b == QUOTE || b == BACKSLASH) break;
        j++;
      }
      const n = j - i;
      if ((flags & LOWER) != 0) {
        dst.ensure(n);
        const q = dst.ptr + <usize>dst.len;
        for (let k = 0; k < n; k++) {
          const c = <i32>load<u8>(p + <usize>(i + k));
          store<u8>(q + <usize>k, <u32>(c - 0x41) < 26 ? c + 0x20 : c);
        }
        dst.len += n;
      } else {
        dst.input(i, n);
      }
      i = j;
      continue;
    }
    const e = <i32>load<u8>(p + <usize>(i + 1));
    i += 2;
    switch (e) {
      case 0x62: put(dst, 0x08, flags); break; // b
      case 0x66: put(dst, 0x0c, flags); break; // f
      case 0x6e: put(dst, 0x0a, flags); break; // n
      case 0x72: put(dst, 0x0d, flags); break; // r
      case 0x74: put(dst, 0x09, flags); break; // t
      case 0x75: { // u
        let cp = hex4(i);
        i += 4;
        if (cp >= 0xd800 && cp < 0xdc00) { // valid: a low surrogate follows
          cp = 0x10000 + ((cp - 0xd800) << 10) + (hex4(i + 2) - 0xdc00);
          i += 6;
        }
        if (cp < 0x80) {
          put(dst, cp, flags);
        } else if (cp < 0x800) {
          dst.ensure(2);
          const q = dst.ptr + <usize>dst.len;
          store<u8>(q, 0xc0 | (cp >> 6));
          store<u8>(q, 0x80 | (cp & 0x3f), 1);
          dst.len += 2;
        } else if (cp < 0x10000) {
          dst.ensure(3);
          const q = dst.ptr + <usize>dst.len;
          store<u8>(q, 0xe0 | (cp >> 12));
          store<u8>(q, 0x80 | ((cp >> 6) & 0x3f), 1);
          store<u8>(q, 0x80 | (cp & 0x3f), 2);
          dst.len += 3;
        } else {
          dst.ensure(4);
          const q = dst.ptr + <usize>dst.len;
          store<u8>(q, 0xf0 | (cp >> 18));
          store<u8>(q, 0x80 | ((cp >> 12) & 0x3f), 1);
          store<u8>(q, 0x80 | ((cp >> 6) & 0x3f), 2);
          store<u8>(q, 0x80 | (cp & 0x3f), 3);
          dst.len += 4;
        }
        break;
      }
      default: put(dst, e, flags); // '"', '\' or '/'
    }
  }
}

/** Writes the decoded byte b (raw UTF-8 bytes included) to dst, lower-cased and escaped as flags say. */
function put(dst: Bytes, b: i32, flags: i32): void {
  if ((flags & LOWER) != 0 && <u32>(b - 0x41) < 26) b += 0x20;
  if ((flags & ESCAPE) != 0) {
    if (b == QUOTE || b == BACKSLASH) {
      dst.ensure(2);
      store<u8>(dst.ptr + <usize>dst.len, BACKSLASH);
      store<u8>(dst.ptr + <usize>dst.len, b, 1);
      dst.len += 2;
      return;
    }
    if (b < 0x20) {
      dst.ensure(6);
      const q = dst.ptr + <usize>dst.len;
      store<u8>(q, BACKSLASH);
      store<u8>(q, 0x75, 1); // u
      store<u8>(q, 0x30, 2);
      store<u8>(q, 0x30, 3);
      store<u8>(q, 0x30 + (b >> 4), 4);
      const lo = b & 15;
      store<u8>(q, lo < 10 ? 0x30 + lo : 0x61 + lo - 10, 5);
      dst.len += 6;
      return;
    }
  }
  dst.byte(b);
}

// Registered last: top-level code runs in order, and the handler uses the globals above.
handle(orderToInvoice);
