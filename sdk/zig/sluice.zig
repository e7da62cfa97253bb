//! Zig guest SDK for Sluice transformation plugins (Zig 0.11).
//!
//! A plugin is a WebAssembly module that the Sluice host calls once per message, between the durable log and
//! the destination: it receives the message body, returns a new body (or rejects the message), and may set the
//! outgoing content type and headers. This file implements the guest side of the plugin ABI (sdk/ABI.md,
//! version `abi_version`): the exports, the host imports, the input buffer and the return codes, so that plugin
//! code sees slices, errors and an allocator, never the ABI's pointers.
//!
//!     const std = @import("std");
//!     const sluice = @import("sluice");
//!
//!     comptime {
//!         sluice.exportHandler(shout);
//!     }
//!
//!     fn shout(m: *sluice.Message) ![]const u8 {
//!         if (m.body.len == 0) return m.reject("body is empty");
//!         m.setContentType("text/plain; charset=utf-8");
//!         return std.ascii.upperString(m.body, m.body);
//!     }
//!
//! Build it as a WebAssembly library (a reactor: no `_start`, no `_initialize` needed):
//!
//!     zig build-lib -target wasm32-freestanding -dynamic -rdynamic -O ReleaseSmall -fstrip \
//!         --mod sluice::path/to/sdk/zig/sluice.zig --deps sluice plugin.zig -femit-bin=plugin.wasm
//!
//! Lifetime and concurrency: the host never calls one instance concurrently or re-entrantly, and reuses it for
//! many messages, so globals persist between calls; do not rely on that (the host may discard an instance at any
//! time and runs several side by side). A `Message`, its `body`, everything allocated with `m.allocator` and
//! every slice a `Message` method returns are valid only until the handler returns: copy what you keep.
//!
//! In native builds (any architecture but wasm32/wasm64) the host functions are served by `TestHost`, so that
//! handlers can be unit-tested with a plain `zig test`.

const std = @import("std");
const builtin = @import("builtin");
const Allocator = std.mem.Allocator;

/// The version of the Sluice plugin ABI that this SDK implements and exports as `sluice_abi_version`.
pub const abi_version: i32 = 1;

/// What `sluice_transform` returns to the host (sdk/ABI.md, "Return codes").
pub const Code = enum(i32) {
    /// The output is the body the handler returned.
    ok = 0,
    /// The message is rejected with the handler's reason (error code `plugin_rejected`); it is not retried.
    rejected = 1,
    /// The plugin failed on this message (error code `plugin_failed`); the host discards the instance.
    failed = 2,
};

/// Returned by `Message.reject` and `Message.rejectFmt`. A handler that returns it rejects the message with the
/// reason passed to `reject`. Any other error from a handler is a plugin failure, not a rejection.
pub const Rejected = error{Rejected};

/// Severity of a host log record, numbered as in the ABI.
pub const Level = enum(i32) {
    debug = 0,
    info = 1,
    warn = 2,
    err = 3,
};

const is_wasm = builtin.target.isWasm();

/// The allocator behind the SDK's buffers and every `Message.allocator`: WebAssembly's own allocator (memory
/// grows with `memory.grow`; at the host's memory cap allocation fails with `error.OutOfMemory`), or the page
/// allocator in native builds.
pub const backing_allocator: Allocator = if (is_wasm) std.heap.wasm_allocator else std.heap.page_allocator;

const min_input_cap = 4 << 10; // first input buffer; grows to the largest message seen
const min_meta_cap = 256; // first metadata buffer; grows to the largest value seen
const meta_tries = 3; // meta calls per lookup before giving up on a value that keeps growing
const arena_retain = 1 << 20; // per-message arena memory kept for the next message

/// One message being transformed. The SDK owns it and reuses its memory for the next message: it, its `body`,
/// what was allocated with `allocator` and every slice its methods return are valid only until the handler
/// returns. Its methods talk to the host and may be called only while the handler runs.
pub const Message = struct {
    /// The input: the incoming message body, or the previous plugin's output in a chain. The handler may modify
    /// it in place and return (part of) it.
    body: []u8,
    /// A per-message arena: free nothing, everything is released when the handler returns (the SDK keeps up to
    /// 1 MiB of it warm for the next message). Fails with `error.OutOfMemory` at the host's memory cap.
    allocator: Allocator,

    /// Returns the metadata value stored under `key` (see sdk/ABI.md: `route`, `correlation_id`,
    /// `content_type`, `received_at`, `plugin`, `header:<Name>`), or null if the host does not know it.
    pub fn meta(m: *const Message, key: []const u8) Allocator.Error!?[]const u8 {
        return lookup(m.allocator, key);
    }

    /// Returns the name of the route the message arrived on ("" if unknown).
    pub fn route(m: *const Message) Allocator.Error![]const u8 {
        return (try m.meta("route")) orelse "";
    }

    /// Returns the message's correlation ID ("" if unknown).
    pub fn correlationId(m: *const Message) Allocator.Error![]const u8 {
        return (try m.meta("correlation_id")) orelse "";
    }

    /// Returns the content type of the incoming message, not of a previous plugin's output ("" if unknown).
    pub fn contentType(m: *const Message) Allocator.Error![]const u8 {
        return (try m.meta("content_type")) orelse "";
    }

    /// Returns the name this plugin is configured under ("" if unknown).
    pub fn plugin(m: *const Message) Allocator.Error![]const u8 {
        return (try m.meta("plugin")) orelse "";
    }

    /// Returns when the host accepted the message, in nanoseconds since the Unix epoch, or null if the host did
    /// not say (or said something that is not RFC 3339).
    pub fn receivedAt(m: *const Message) Allocator.Error!?i64 {
        const v = (try m.meta("received_at")) orelse return null;
        return parseRfc3339(v);
    }

    /// Returns the first value of the incoming request header `name` (matched case-insensitively), or null if
    /// the request did not carry it.
    pub fn header(m: *const Message, name: []const u8) Allocator.Error!?[]const u8 {
        const key = try std.mem.concat(m.allocator, u8, &.{ "header:", name });
        return lookup(m.allocator, key);
    }

    /// Sets the content type of the output, sent to the destination.
    pub fn setContentType(m: *const Message, content_type: []const u8) void {
        _ = m;
        host.setContentType(content_type);
    }

    /// Sets a header on the destination request, replacing an earlier value of the same name.
    pub fn setHeader(m: *const Message, name: []const u8, value: []const u8) void {
        _ = m;
        host.setHeader(name, value);
    }

    /// Rejects the message with `reason`, which reaches the sender in the error body: make it short, precise and
    /// safe to show. Use it as `return m.reject("\"email\" must contain \"@\"");`.
    pub fn reject(m: *const Message, reason: []const u8) Rejected {
        _ = m;
        host.setError(reason);
        return error.Rejected;
    }

    /// Like `reject`, with the reason formatted by `std.fmt` into the message's allocator.
    pub fn rejectFmt(m: *const Message, comptime format: []const u8, args: anytype) (Rejected || Allocator.Error) {
        const reason = try std.fmt.allocPrint(m.allocator, format, args);
        return m.reject(reason);
    }
};

/// Returns the host's wall clock, in nanoseconds since the Unix epoch. Prefer it to other clocks for timestamps
/// the host may want to control (replays, tests).
pub fn now() i64 {
    return host.now();
}

/// Sends `msg` to the host's log at `level`. It may be called at any time.
pub fn log(level: Level, msg: []const u8) void {
    host.log(level, msg);
}

/// Formats its arguments with `std.fmt` and sends the result to the host's log. A record that cannot be
/// allocated is cut to 512 bytes, ending in "...".
pub fn logf(level: Level, comptime format: []const u8, args: anytype) void {
    if (std.fmt.allocPrint(backing_allocator, format, args)) |msg| {
        defer backing_allocator.free(msg);
        host.log(level, msg);
    } else |_| {
        var buf: [512]u8 = undefined;
        var fbs = std.io.fixedBufferStream(&buf);
        std.fmt.format(fbs.writer(), format, args) catch {
            @memcpy(buf[buf.len - 3 ..], "...");
            fbs.pos = buf.len;
        };
        host.log(level, fbs.getWritten());
    }
}

/// A `std.log` back end that writes to the host's log. Install it in the plugin's root file:
///
///     pub const std_options = struct {
///         pub const logFn = sluice.logFn;
///     };
///
/// Records are "message" for the default scope and "(scope) message" otherwise.
pub fn logFn(
    comptime message_level: std.log.Level,
    comptime scope: @TypeOf(.EnumLiteral),
    comptime format: []const u8,
    args: anytype,
) void {
    const level: Level = switch (message_level) {
        .err => .err,
        .warn => .warn,
        .info => .info,
        .debug => .debug,
    };
    const prefix = if (scope == .default) "" else "(" ++ @tagName(scope) ++ ") ";
    logf(level, prefix ++ format, args);
}

/// A panic handler that logs the panic message at error level and passes it to the host before trapping (a trap
/// fails the message and discards the instance). Install it in the plugin's root file:
///
///     pub const panic = sluice.panic;
pub fn panic(msg: []const u8, error_return_trace: ?*std.builtin.StackTrace, ret_addr: ?usize) noreturn {
    _ = error_return_trace;
    _ = ret_addr;
    if (!is_wasm) std.builtin.default_panic(msg, null, null);
    logf(.err, "sluice: handler panicked: {s}", .{msg});
    host.setError(msg);
    @trap();
}

/// Exports `handler` as the plugin's transform, together with the rest of the ABI (`sluice_abi_version`,
/// `sluice_alloc`, `sluice_transform`). Call it once, from a `comptime` block in the plugin's root file:
///
///     comptime {
///         sluice.exportHandler(transform);
///     }
///
/// `handler` is a `fn (m: *sluice.Message) E![]const u8` (or `[]u8`, or without an error set). It returns the
/// output body, which may alias `m.body` or live in `m.allocator`; an empty slice means an empty body. Returning
/// `error.Rejected` (from `m.reject`) rejects the message; any other error fails it (return code 2), with
/// "handler failed: <error name>" as the message and in the log.
///
/// In native builds nothing is exported; use `TestHost.call` instead.
pub fn exportHandler(comptime handler: anytype) void {
    checkHandler(@TypeOf(handler));
    const Exports = struct {
        fn sluiceAbiVersion() callconv(.C) i32 {
            return abi_version;
        }
        fn sluiceAlloc(size: i32) callconv(.C) ?[*]u8 {
            return guest.alloc(size);
        }
        fn sluiceTransform(ptr: [*]u8, len: i32) callconv(.C) i32 {
            const body = guest.input(ptr, len) orelse {
                host.log(.err, "sluice: sluice_transform was given bytes outside the buffer of sluice_alloc");
                host.setError("sluice: input outside the buffer of sluice_alloc");
                return @intFromEnum(Code.failed);
            };
            return @intFromEnum(run(handler, body));
        }
    };
    if (is_wasm) {
        @export(Exports.sluiceAbiVersion, .{ .name = "sluice_abi_version" });
        @export(Exports.sluiceAlloc, .{ .name = "sluice_alloc" });
        @export(Exports.sluiceTransform, .{ .name = "sluice_transform" });
    }
}

fn checkHandler(comptime H: type) void {
    const bad = "sluice: a handler is a fn (m: *sluice.Message) ![]const u8, not " ++ @typeName(H);
    const info = @typeInfo(H);
    if (info != .Fn or info.Fn.params.len != 1 or info.Fn.params[0].type != *Message) @compileError(bad);
    const R = info.Fn.return_type orelse @compileError(bad);
    const P = switch (@typeInfo(R)) {
        .ErrorUnion => |eu| eu.payload,
        else => R,
    };
    if (P != []const u8 and P != []u8) @compileError(bad);
}

/// The SDK's state for one module instance. The host never calls an instance concurrently, so nothing here is
/// locked.
const Guest = struct {
    input_buf: []u8 = &.{}, // handed out by sluice_alloc, reused while big enough
    meta_buf: []u8 = &.{}, // metadata values, reused
    arena: std.heap.ArenaAllocator = std.heap.ArenaAllocator.init(backing_allocator),

    /// Returns a buffer of at least `size` bytes for the next input, never at address 0, or null if `size` is
    /// negative or memory ran out.
    fn alloc(g: *Guest, size: i32) ?[*]u8 {
        if (size < 0) return null;
        const n: usize = @intCast(size);
        if (n > g.input_buf.len or g.input_buf.len == 0) {
            const want = @max(n, 2 * g.input_buf.len, min_input_cap);
            backing_allocator.free(g.input_buf);
            g.input_buf = &.{};
            g.input_buf = backing_allocator.alloc(u8, want) catch
                backing_allocator.alloc(u8, @max(n, 1)) catch return null;
        }
        return g.input_buf.ptr;
    }

    /// Returns the `len` bytes at `ptr`, or null unless they lie inside the buffer of the last `alloc`.
    fn input(g: *Guest, ptr: [*]u8, len: i32) ?[]u8 {
        if (len < 0) return null;
        const n: usize = @intCast(len);
        const base = @intFromPtr(g.input_buf.ptr);
        const addr = @intFromPtr(ptr);
        if (addr < base or addr - base > g.input_buf.len or n > g.input_buf.len - (addr - base)) return null;
        const off = addr - base;
        return g.input_buf[off .. off + n];
    }
};

var guest = Guest{};

/// Runs `handler` on `body` and reports the outcome to the host.
fn run(comptime handler: anytype, body: []u8) Code {
    defer _ = guest.arena.reset(.{ .retain_with_limit = arena_retain });
    var m = Message{ .body = body, .allocator = guest.arena.allocator() };
    const result = handler(&m);
    const out = if (@typeInfo(@TypeOf(result)) == .ErrorUnion) result catch |err| {
        const e: anyerror = err;
        if (e == error.Rejected) return .rejected;
        logf(.err, "sluice: handler failed: {s}", .{@errorName(e)});
        var buf: [96]u8 = undefined;
        host.setError(std.fmt.bufPrint(&buf, "handler failed: {s}", .{@errorName(e)}) catch "handler failed");
        return .failed;
    } else result;
    if (out.len > 0) host.setOutput(out);
    return .ok;
}

/// Asks the host for the metadata value under `key` and copies it into `allocator`.
fn lookup(allocator: Allocator, key: []const u8) Allocator.Error!?[]const u8 {
    if (guest.meta_buf.len == 0) guest.meta_buf = try backing_allocator.alloc(u8, min_meta_cap);
    var tries: usize = 0;
    while (tries < meta_tries) : (tries += 1) {
        const n = host.meta(key, guest.meta_buf);
        if (n < 0) return null;
        const len: usize = @intCast(n);
        if (len <= guest.meta_buf.len) return try allocator.dupe(u8, guest.meta_buf[0..len]);
        backing_allocator.free(guest.meta_buf);
        guest.meta_buf = &.{};
        guest.meta_buf = try backing_allocator.alloc(u8, len);
    }
    return null;
}

/// Parses an RFC 3339 timestamp (`2026-01-02T03:04:05.123456789Z`, or with a `±hh:mm` offset) into nanoseconds
/// since the Unix epoch; null if it is malformed or out of the i64 range.
pub fn parseRfc3339(s: []const u8) ?i64 {
    if (s.len < 20 or s[4] != '-' or s[7] != '-' or (s[10] != 'T' and s[10] != 't') or s[13] != ':' or s[16] != ':')
        return null;
    const year = digits(s[0..4]) orelse return null;
    const month = digits(s[5..7]) orelse return null;
    const day = digits(s[8..10]) orelse return null;
    const hour = digits(s[11..13]) orelse return null;
    const minute = digits(s[14..16]) orelse return null;
    const second = digits(s[17..19]) orelse return null;
    if (month < 1 or month > 12 or day < 1 or day > daysInMonth(year, month) or hour > 23 or minute > 59 or second > 60)
        return null;
    var i: usize = 19;
    var frac: i64 = 0;
    if (s[i] == '.') {
        i += 1;
        var scale: i64 = 100_000_000;
        const start = i;
        while (i < s.len and s[i] >= '0' and s[i] <= '9') : (i += 1) {
            frac += (s[i] - '0') * scale;
            scale = @divTrunc(scale, 10);
        }
        if (i == start) return null;
    }
    if (i >= s.len) return null;
    var offset: i64 = 0;
    switch (s[i]) {
        'Z', 'z' => i += 1,
        '+', '-' => {
            if (s.len - i != 6 or s[i + 3] != ':') return null;
            const oh = digits(s[i + 1 .. i + 3]) orelse return null;
            const om = digits(s[i + 4 .. i + 6]) orelse return null;
            if (oh > 23 or om > 59) return null;
            offset = (oh * 60 + om) * 60;
            if (s[i] == '-') offset = -offset;
            i += 6;
        },
        else => return null,
    }
    if (i != s.len) return null;
    // Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant, "days_from_civil").
    const y = if (month <= 2) year - 1 else year;
    const era = @divFloor(y, 400);
    const yoe = y - era * 400;
    const mp = @mod(month + 9, 12);
    const doy = @divFloor(153 * mp + 2, 5) + day - 1;
    const doe = yoe * 365 + @divFloor(yoe, 4) - @divFloor(yoe, 100) + doy;
    const days = era * 146097 + doe - 719468;
    const secs = days * 86400 + hour * 3600 + minute * 60 + second - offset;
    const ns = @mulWithOverflow(secs, std.time.ns_per_s);
    if (ns[1] != 0) return null;
    const total = @addWithOverflow(ns[0], frac);
    if (total[1] != 0) return null;
    return total[0];
}

/// The length of `formatRfc3339`'s result.
pub const rfc3339_len = "2006-01-02T15:04:05.999999999Z".len;

/// Formats `ns` (nanoseconds since the Unix epoch, as from `now`) as RFC 3339 in UTC with nanoseconds,
/// `2026-01-02T03:04:05.123456789Z`, the format of the `received_at` metadata.
pub fn formatRfc3339(buf: *[rfc3339_len]u8, ns: i64) []const u8 {
    const secs = @divFloor(ns, std.time.ns_per_s);
    const frac: u64 = @intCast(@mod(ns, std.time.ns_per_s));
    const days = @divFloor(secs, 86400);
    const sod: u64 = @intCast(@mod(secs, 86400));
    // Proleptic Gregorian date of a day number (H. Hinnant, "civil_from_days").
    const z = days + 719468;
    const era = @divFloor(z, 146097);
    const doe = z - era * 146097;
    const yoe = @divFloor(doe - @divFloor(doe, 1460) + @divFloor(doe, 36524) - @divFloor(doe, 146096), 365);
    const doy = doe - (365 * yoe + @divFloor(yoe, 4) - @divFloor(yoe, 100));
    const mp = @divFloor(5 * doy + 2, 153);
    const day: u64 = @intCast(doy - @divFloor(153 * mp + 2, 5) + 1);
    const month: u64 = @intCast(if (mp < 10) mp + 3 else mp - 9);
    const year: u64 = @intCast(yoe + era * 400 + @as(i64, if (month <= 2) 1 else 0));
    return std.fmt.bufPrint(buf, "{d:0>4}-{d:0>2}-{d:0>2}T{d:0>2}:{d:0>2}:{d:0>2}.{d:0>9}Z", .{
        year, month, day, sod / 3600, sod / 60 % 60, sod % 60, frac,
    }) catch unreachable; // i64 nanoseconds span the years 1677 to 2262
}

fn digits(s: []const u8) ?i64 {
    var n: i64 = 0;
    for (s) |c| {
        if (c < '0' or c > '9') return null;
        n = n * 10 + (c - '0');
    }
    return n;
}

fn daysInMonth(year: i64, month: i64) i64 {
    return switch (month) {
        2 => if (@mod(year, 4) == 0 and (@mod(year, 100) != 0 or @mod(year, 400) == 0)) 29 else 28,
        4, 6, 9, 11 => 30,
        else => 31,
    };
}

// The host. On WebAssembly these are the imports of module "sluice" (sdk/ABI.md); natively, TestHost.

const host = if (is_wasm) struct {
    const imports = struct {
        extern "sluice" fn set_output(ptr: [*]const u8, len: usize) void;
        extern "sluice" fn set_error(ptr: [*]const u8, len: usize) void;
        extern "sluice" fn set_content_type(ptr: [*]const u8, len: usize) void;
        extern "sluice" fn set_header(name_ptr: [*]const u8, name_len: usize, value_ptr: [*]const u8, value_len: usize) void;
        extern "sluice" fn meta(key_ptr: [*]const u8, key_len: usize, buf_ptr: [*]u8, buf_cap: usize) i32;
        extern "sluice" fn log(level: i32, ptr: [*]const u8, len: usize) void;
        extern "sluice" fn now() i64;
    };
    fn setOutput(b: []const u8) void {
        imports.set_output(b.ptr, b.len);
    }
    fn setError(s: []const u8) void {
        imports.set_error(s.ptr, s.len);
    }
    fn setContentType(s: []const u8) void {
        imports.set_content_type(s.ptr, s.len);
    }
    fn setHeader(name: []const u8, value: []const u8) void {
        imports.set_header(name.ptr, name.len, value.ptr, value.len);
    }
    fn meta(key: []const u8, buf: []u8) i32 {
        return imports.meta(key.ptr, key.len, buf.ptr, buf.len);
    }
    fn log(level: Level, msg: []const u8) void {
        imports.log(@intFromEnum(level), msg.ptr, msg.len);
    }
    fn now() i64 {
        return imports.now();
    }
} else struct {
    fn setOutput(b: []const u8) void {
        const r = current();
        r.output = r.dupe(b);
    }
    fn setError(s: []const u8) void {
        const r = current();
        r.@"error" = r.dupe(s);
    }
    fn setContentType(s: []const u8) void {
        const r = current();
        r.content_type = r.dupe(s);
    }
    fn setHeader(name: []const u8, value: []const u8) void {
        const r = current();
        for (r.headers.items) |*h| {
            if (std.ascii.eqlIgnoreCase(h.name, name)) {
                h.value = r.dupe(value);
                return;
            }
        }
        r.headers.append(r.arena.allocator(), .{ .name = r.dupe(name), .value = r.dupe(value) }) catch
            @panic("sluice.TestHost: out of memory");
    }
    fn meta(key: []const u8, buf: []u8) i32 {
        const th = test_host orelse @panic("sluice: host function called outside TestHost.call");
        const header_prefix = "header:";
        for (th.meta) |kv| {
            const match = if (std.ascii.startsWithIgnoreCase(key, header_prefix) and
                std.ascii.startsWithIgnoreCase(kv[0], header_prefix))
                std.ascii.eqlIgnoreCase(kv[0], key)
            else
                std.mem.eql(u8, kv[0], key);
            if (!match) continue;
            const v = kv[1];
            if (v.len <= buf.len) @memcpy(buf[0..v.len], v);
            return @intCast(v.len);
        }
        return -1;
    }
    fn log(level: Level, msg: []const u8) void {
        if (test_result) |r| {
            r.logs.append(r.arena.allocator(), .{ .level = level, .message = r.dupe(msg) }) catch
                @panic("sluice.TestHost: out of memory");
        } else {
            std.debug.print("sluice log ({s}): {s}\n", .{ @tagName(level), msg });
        }
    }
    fn now() i64 {
        if (test_host) |th| if (th.now != 0) return th.now;
        return @truncate(std.time.nanoTimestamp());
    }
    fn current() *Result {
        return test_result orelse @panic("sluice: host function called outside TestHost.call");
    }
};

/// An in-process host for unit tests of handlers, available in native builds only. `call` plays one message
/// through a handler the way the host does (input buffer, transform, outcome) and returns what it reported.
///
///     var th = sluice.TestHost{ .meta = &.{ .{ "route", "orders" }, .{ "header:X-Tenant", "acme" } } };
///     var res = try th.call(std.testing.allocator, shout, "hi");
///     defer res.deinit();
///     try std.testing.expectEqualStrings("HI", res.output);
///
/// Not safe for concurrent use: the host functions find the current TestHost through a global.
pub const TestHost = struct {
    /// Metadata as key/value pairs with the keys of sdk/ABI.md; `header:` keys match case-insensitively.
    meta: []const [2][]const u8 = &.{},
    /// What `sluice.now` returns, in nanoseconds since the Unix epoch; 0 means the real clock.
    now: i64 = 0,

    /// Runs `handler` on a copy of `input`. The `Result` owns its memory; release it with `deinit`.
    pub fn call(th: *TestHost, allocator: Allocator, comptime handler: anytype, input: []const u8) Allocator.Error!Result {
        if (is_wasm) @compileError("sluice.TestHost is for native builds");
        checkHandler(@TypeOf(handler));
        var res = Result{ .arena = std.heap.ArenaAllocator.init(allocator) };
        errdefer res.deinit();
        const size = std.math.cast(i32, input.len) orelse return error.OutOfMemory;
        const ptr = guest.alloc(size) orelse return error.OutOfMemory;
        @memcpy(ptr[0..input.len], input);
        test_host = th;
        test_result = &res;
        defer {
            test_host = null;
            test_result = null;
        }
        res.code = run(handler, (guest.input(ptr, size) orelse unreachable));
        if (res.code != .ok) {
            res.output = "";
            res.content_type = "";
            res.headers.clearRetainingCapacity();
        }
        return res;
    }
};

/// What a plugin reported for one `TestHost.call`.
pub const Result = struct {
    code: Code = .ok,
    /// The output body (empty unless `code` is `.ok`).
    output: []const u8 = "",
    /// The rejection (or failure) message.
    @"error": []const u8 = "",
    content_type: []const u8 = "",
    headers: std.ArrayListUnmanaged(Header) = .{},
    logs: std.ArrayListUnmanaged(LogRecord) = .{},
    arena: std.heap.ArenaAllocator,

    pub const Header = struct { name: []const u8, value: []const u8 };
    pub const LogRecord = struct { level: Level, message: []const u8 };

    /// Whether the message was rejected (return code 1).
    pub fn rejected(r: Result) bool {
        return r.code == .rejected;
    }

    /// Returns the value of an output header (matched case-insensitively), or null.
    pub fn header(r: Result, name: []const u8) ?[]const u8 {
        for (r.headers.items) |h| if (std.ascii.eqlIgnoreCase(h.name, name)) return h.value;
        return null;
    }

    pub fn deinit(r: *Result) void {
        r.arena.deinit();
        r.* = undefined;
    }

    fn dupe(r: *Result, b: []const u8) []const u8 {
        return r.arena.allocator().dupe(u8, b) catch @panic("sluice.TestHost: out of memory");
    }
};

var test_host: ?*TestHost = null;
var test_result: ?*Result = null;

fn testUpper(m: *Message) ![]const u8 {
    if (m.body.len == 0) return m.reject("body is empty");
    if (std.mem.eql(u8, m.body, "fail")) return error.Boom;
    const tenant = (try m.header("x-TENANT")) orelse "none";
    m.setContentType("text/plain");
    m.setHeader("X-Route", try m.route());
    m.setHeader("x-route", try m.correlationId());
    log(.debug, "upper");
    if (std.mem.eql(u8, m.body, "who")) return tenant;
    if (std.mem.eql(u8, m.body, "bad sku")) return m.rejectFmt("invalid sku {s}", .{"Q\"1"});
    return std.ascii.upperString(m.body, m.body);
}

test "TestHost plays a message through a handler" {
    var th = TestHost{ .meta = &.{
        .{ "route", "orders" },
        .{ "correlation_id", "c-1" },
        .{ "header:X-Tenant", "acme" },
    } };
    const t = std.testing;
    var res = try th.call(t.allocator, testUpper, "hi");
    defer res.deinit();
    try t.expectEqual(Code.ok, res.code);
    try t.expectEqualStrings("HI", res.output);
    try t.expectEqualStrings("text/plain", res.content_type);
    try t.expectEqual(@as(usize, 1), res.headers.items.len);
    try t.expectEqualStrings("c-1", res.header("X-ROUTE").?);
    try t.expectEqual(Level.debug, res.logs.items[0].level);

    var who = try th.call(t.allocator, testUpper, "who");
    defer who.deinit();
    try t.expectEqualStrings("acme", who.output);

    var empty = try th.call(t.allocator, testUpper, "");
    defer empty.deinit();
    try t.expect(empty.rejected());
    try t.expectEqualStrings("body is empty", empty.@"error");
    try t.expectEqualStrings("", empty.content_type);

    var fmt = try th.call(t.allocator, testUpper, "bad sku");
    defer fmt.deinit();
    try t.expectEqualStrings("invalid sku Q\"1", fmt.@"error");

    var fail = try th.call(t.allocator, testUpper, "fail");
    defer fail.deinit();
    try t.expectEqual(Code.failed, fail.code);
    try t.expectEqualStrings("handler failed: Boom", fail.@"error");
}

test "metadata values longer than the SDK's buffer" {
    const long = "x" ** 1000;
    var th = TestHost{ .meta = &.{.{ "plugin", long }} };
    const H = struct {
        fn h(m: *Message) ![]const u8 {
            return (try m.plugin());
        }
    };
    var res = try th.call(std.testing.allocator, H.h, "");
    defer res.deinit();
    try std.testing.expectEqualStrings(long, res.output);
}

test "parseRfc3339" {
    const t = std.testing;
    try t.expectEqual(@as(?i64, 0), parseRfc3339("1970-01-01T00:00:00Z"));
    try t.expectEqual(@as(?i64, 1767323045123456789), parseRfc3339("2026-01-02T03:04:05.123456789Z"));
    try t.expectEqual(@as(?i64, 1767323045_500_000_000), parseRfc3339("2026-01-02T04:04:05.5+01:00"));
    try t.expectEqual(@as(?i64, 951782400 * std.time.ns_per_s), parseRfc3339("2000-02-29T00:00:00Z"));
    try t.expectEqual(@as(?i64, null), parseRfc3339("2001-02-29T00:00:00Z"));
    try t.expectEqual(@as(?i64, null), parseRfc3339("2026-01-02 03:04:05Z"));
    try t.expectEqual(@as(?i64, null), parseRfc3339("2026-01-02T03:04:05."));
    try t.expectEqual(@as(?i64, null), parseRfc3339("3000-01-01T00:00:00Z"));
}

test "formatRfc3339" {
    const t = std.testing;
    var buf: [rfc3339_len]u8 = undefined;
    try t.expectEqualStrings("1970-01-01T00:00:00.000000000Z", formatRfc3339(&buf, 0));
    try t.expectEqualStrings("2026-01-02T03:04:05.123456789Z", formatRfc3339(&buf, 1767323045123456789));
    try t.expectEqualStrings("2000-02-29T23:59:59.999999999Z", formatRfc3339(&buf, 951868799999999999));
    try t.expectEqualStrings("1969-12-31T23:59:59.999999999Z", formatRfc3339(&buf, -1));
    try t.expectEqualStrings("1677-09-21T00:12:43.145224192Z", formatRfc3339(&buf, std.math.minInt(i64)));
    try t.expectEqualStrings("2262-04-11T23:47:16.854775807Z", formatRfc3339(&buf, std.math.maxInt(i64)));
    var i: i64 = -5_000_000_000_000_000_000;
    while (i < 5_000_000_000_000_000_000) : (i += 123_456_789_012_345_678) {
        try t.expectEqual(@as(?i64, i), parseRfc3339(formatRfc3339(&buf, i)));
    }
}
