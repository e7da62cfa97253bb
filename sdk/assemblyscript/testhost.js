// An in-process stand-in for the Sluice host, for unit tests of plugins in Node.js (no Go needed). It provides
// the "sluice" host module of plugin ABI v1 (../ABI.md) and plays messages through a built plugin the way the
// host does: sluice_alloc, copy the input, sluice_transform, collect what the plugin reported.
//
//   import { TestHost } from "@sluicehq/sluice-sdk/testhost.js";
//   const host = await TestHost.load(fs.readFileSync("plugin.wasm"), { meta: { route: "orders" } });
//   const res = host.call('{"id":1}');
//   assert.equal(res.code, 0); assert.equal(res.text(), "...");
//
// It does not meter fuel or call depth, and it does not cap memory: run the real host
// (`sluice plugin run plugin.wasm`) for those.

const ABI_EXPORTS = ["memory", "sluice_abi_version", "sluice_alloc", "sluice_transform"];
const HOST_FUNCTIONS = ["set_output", "set_error", "set_content_type", "set_header", "meta", "log", "now"];
const LEVELS = ["debug", "info", "warn", "error"];

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** What one message produced, like the host sees it. */
export class Result {
  constructor() {
    /** The return code of sluice_transform: 0 success, 1 rejected, 2 failure; -1 if the plugin trapped. */
    this.code = 0;
    /** The output body (bytes), empty if set_output was not called. */
    this.output = new Uint8Array(0);
    /** The rejection or failure text passed to set_error. */
    this.error = "";
    /** The content type passed to set_content_type, "" if none. */
    this.contentType = "";
    /** Headers passed to set_header, by name as the plugin spelled it (a later one replaces an earlier one). */
    this.headers = {};
    /** Log records, in order: { level: "debug" | "info" | "warn" | "error", message }. */
    this.logs = [];
    /** The trap, if the plugin trapped (code -1): a WebAssembly.RuntimeError. */
    this.trap = null;
  }

  /** The output decoded as UTF-8. */
  text() {
    return decoder.decode(this.output);
  }

  /** Reports whether the plugin rejected the message (code 1). */
  rejected() {
    return this.code === 1;
  }
}

export class TestHost {
  /**
   * Compiles and instantiates a plugin. Options: meta (metadata keys of ABI.md to values, e.g. { route: "orders",
   * "header:X-Tenant": "acme" }; header names match case-insensitively) and now (the clock, in nanoseconds since
   * the Unix epoch, as a BigInt; default: the real clock). Throws if the module does not speak ABI v1, imports
   * anything but the sluice host functions, or exports more than the ABI's exports.
   */
  static async load(wasm, options = {}) {
    const module = await WebAssembly.compile(wasm);
    const problems = TestHost.check(module);
    if (problems.length > 0) throw new Error("module does not fit the Sluice host: " + problems.join("; "));
    const host = new TestHost(options);
    const instance = await WebAssembly.instantiate(module, { sluice: host.#imports() });
    host.#exports = instance.exports;
    host.#current = null;
    const version = host.#exports.sluice_abi_version();
    if (version !== 1) throw new Error(`module speaks ABI version ${version}, the test host speaks 1`);
    return host;
  }

  /**
   * Lists what keeps a compiled module from loading as a tidy ABI v1 plugin: imports other than the sluice host
   * functions (an "env" import means the build lacks the SDK's asconfig.json), a _start export, missing ABI
   * exports, and exports beyond them.
   */
  static check(module) {
    const problems = [];
    for (const imp of WebAssembly.Module.imports(module)) {
      if (imp.module !== "sluice" || !HOST_FUNCTIONS.includes(imp.name)) {
        problems.push(`imports ${imp.module}.${imp.name}`);
      }
    }
    const exports = WebAssembly.Module.exports(module).map((e) => e.name);
    for (const name of ABI_EXPORTS) {
      if (!exports.includes(name)) problems.push(`does not export ${name}`);
    }
    for (const name of exports) {
      if (!ABI_EXPORTS.includes(name)) problems.push(`also exports ${name}`);
    }
    return problems;
  }

  #meta;
  #now;
  #exports = null;
  #current = null; // the Result of the call in progress
  #logs = []; // records logged outside calls (top-level code)

  constructor({ meta = {}, now = null } = {}) {
    this.#meta = new Map();
    for (const [key, value] of Object.entries(meta)) this.#meta.set(TestHost.#normalize(key), String(value));
    this.#now = now;
  }

  /**
   * Log records written outside calls, by top-level code at instantiation. Their text is not available: the
   * start function runs before the test host can reach the module's memory.
   */
  get initLogs() {
    return this.#logs;
  }

  /** The size of the plugin's linear memory, in bytes. */
  get memoryBytes() {
    return this.#exports.memory.buffer.byteLength;
  }

  /**
   * Plays one message through the plugin and returns its Result. input is a string (sent as UTF-8) or bytes.
   * After a trap the instance is unusable, as in the host: load a new one.
   */
  call(input) {
    const bytes = typeof input === "string" ? encoder.encode(input) : new Uint8Array(input);
    const e = this.#exports;
    const res = new Result();
    this.#current = res;
    try {
      const ptr = e.sluice_alloc(bytes.length);
      if (ptr === 0) throw new Error(`sluice_alloc(${bytes.length}) returned 0`);
      new Uint8Array(e.memory.buffer, ptr, bytes.length).set(bytes);
      res.code = e.sluice_transform(ptr, bytes.length);
    } catch (err) {
      if (!(err instanceof WebAssembly.RuntimeError)) throw err;
      res.code = -1;
      res.trap = err;
    } finally {
      this.#current = null;
    }
    return res;
  }

  static #normalize(key) {
    return key.toLowerCase().startsWith("header:") ? "header:" + key.slice(7).toLowerCase() : key;
  }

  #bytes(ptr, len) {
    return new Uint8Array(this.#exports.memory.buffer, ptr >>> 0, len >>> 0).slice();
  }

  #string(ptr, len) {
    return decoder.decode(this.#bytes(ptr, len));
  }

  #imports() {
    return {
      set_output: (ptr, len) => {
        if (this.#current) this.#current.output = this.#bytes(ptr, len);
      },
      set_error: (ptr, len) => {
        if (this.#current) this.#current.error = this.#string(ptr, len);
      },
      set_content_type: (ptr, len) => {
        if (this.#current) this.#current.contentType = this.#string(ptr, len);
      },
      set_header: (namePtr, nameLen, valuePtr, valueLen) => {
        if (!this.#current) return;
        const name = this.#string(namePtr, nameLen);
        const headers = this.#current.headers;
        for (const k of Object.keys(headers)) {
          if (k.toLowerCase() === name.toLowerCase()) delete headers[k];
        }
        headers[name] = this.#string(valuePtr, valueLen);
      },
      meta: (keyPtr, keyLen, bufPtr, bufCap) => {
        if (!this.#current) return -1;
        const value = this.#meta.get(TestHost.#normalize(this.#string(keyPtr, keyLen)));
        if (value === undefined) return -1;
        const bytes = encoder.encode(value);
        if (bytes.length <= bufCap >>> 0) new Uint8Array(this.#exports.memory.buffer, bufPtr >>> 0, bytes.length).set(bytes);
        return bytes.length;
      },
      log: (level, ptr, len) => {
        // Top-level code runs as the module's start function, inside WebAssembly.instantiate, before its memory
        // is reachable from here.
        const message = this.#exports ? this.#string(ptr, len) : "(logged during instantiation: unreadable here)";
        const record = { level: LEVELS[Math.min(Math.max(level, 0), 3)], message };
        (this.#current ? this.#current.logs : this.#logs).push(record);
      },
      now: () => (this.#now === null ? BigInt(Date.now()) * 1000000n : BigInt(this.#now)),
    };
  }
}
