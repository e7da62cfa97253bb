//! order-to-invoice, the reference plugin (../SPEC.md), written with the Zig SDK (sdk/zig): it turns a JSON
//! order into the invoice shape of an ERP. Built by build.sh.

const std = @import("std");
const sluice = @import("sluice");
const Allocator = std.mem.Allocator;

pub const panic = sluice.panic;

comptime {
    sluice.exportHandler(transform);
}

fn transform(m: *sluice.Message) ![]const u8 {
    return switch (try convert(m.allocator, m.body)) {
        .invoice => |out| {
            m.setContentType("application/json");
            return out;
        },
        .invalid_json => m.reject("invalid JSON"),
        .missing => |field| m.rejectFmt("missing field: {s}", .{field}),
        .invalid_quantity => |sku| m.rejectFmt("invalid quantity for sku {s}", .{sku}),
        .invalid_price => |sku| m.rejectFmt("invalid price for sku {s}", .{sku}),
    };
}

/// The result of converting one order: the invoice, or why the order is rejected (SPEC.md, "Errors").
const Outcome = union(enum) {
    invoice: []const u8,
    invalid_json,
    /// The dotted path of the field.
    missing: []const u8,
    /// The item's decoded sku.
    invalid_quantity: []const u8,
    invalid_price: []const u8,
};

/// Converts the order in `body` into an invoice; everything is allocated with `a` (an arena).
fn convert(a: Allocator, body: []const u8) Allocator.Error!Outcome {
    var p = Parser{ .b = body, .a = a };
    const doc = p.document() catch |err| switch (err) {
        error.Invalid => return .invalid_json,
        error.OutOfMemory => return error.OutOfMemory,
    };
    if (doc != .object) return .invalid_json;
    const id = str(doc, "id") orelse return .{ .missing = "id" };
    const cust = get(doc, "customer") orelse return .{ .missing = "customer" };
    if (cust != .object) return .{ .missing = "customer" };
    const first = str(cust, "first_name") orelse return .{ .missing = "customer.first_name" };
    const last = str(cust, "last_name") orelse return .{ .missing = "customer.last_name" };
    const email = str(cust, "email") orelse return .{ .missing = "customer.email" };
    const currency = str(doc, "currency") orelse return .{ .missing = "currency" };
    const items = get(doc, "items") orelse return .{ .missing = "items" };
    if (items != .array or items.array.len == 0) return .{ .missing = "items" };

    var out = std.ArrayList(u8).init(a);
    const w = out.writer();
    try w.writeAll("{\"external_id\":\"");
    try writeEscaped(w, id);
    try w.writeAll("\",\"customer_name\":\"");
    try writeEscaped(w, first);
    try w.writeByte(' ');
    try writeEscaped(w, last);
    try w.writeAll("\",\"email\":\"");
    for (email) |c| try writeEscapedByte(w, std.ascii.toLower(c));
    try w.writeAll("\",\"currency\":\"");
    try writeEscaped(w, currency);
    try w.writeAll("\",\"lines\":[");
    var total: i64 = 0;
    for (items.array, 0..) |it, i| {
        const sku = (if (it == .object) str(it, "sku") else null) orelse return .{ .missing = "items.sku" };
        const qty = integer(it, "qty", 1) orelse return .{ .invalid_quantity = sku };
        const price = integer(it, "unit_price_cents", 0) orelse return .{ .invalid_price = sku };
        const amount = @mulWithOverflow(qty, price);
        if (amount[1] != 0) return .{ .invalid_price = sku };
        const sum = @addWithOverflow(total, amount[0]);
        if (sum[1] != 0) return .{ .invalid_price = sku };
        total = sum[0];
        if (i > 0) try w.writeByte(',');
        try w.writeAll("{\"sku\":\"");
        try writeEscaped(w, sku);
        try w.print("\",\"quantity\":{d},\"amount_cents\":{d}}}", .{ qty, amount[0] });
    }
    try w.print("],\"total_cents\":{d}}}", .{total});
    return .{ .invoice = out.items };
}

/// Writes `s` as the inside of a JSON string: `"` and `\` escaped, bytes below 0x20 as `\u00xx` (lower-case
/// hex), everything else raw.
fn writeEscaped(w: anytype, s: []const u8) !void {
    var start: usize = 0;
    for (s, 0..) |c, i| {
        if (c >= 0x20 and c != '"' and c != '\\') continue;
        try w.writeAll(s[start..i]);
        try writeEscapedByte(w, c);
        start = i + 1;
    }
    try w.writeAll(s[start..]);
}

fn writeEscapedByte(w: anytype, c: u8) !void {
    const hex = "0123456789abcdef";
    switch (c) {
        '"', '\\' => try w.writeAll(&.{ '\\', c }),
        0...0x1f => try w.writeAll(&.{ '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] }),
        else => try w.writeByte(c),
    }
}

/// A parsed JSON value. Strings hold their decoded bytes; numbers their text.
const Value = union(enum) {
    null,
    bool,
    number: []const u8,
    string: []const u8,
    array: []const Value,
    /// Members in document order, duplicates kept.
    object: []const Member,
};

const Member = struct {
    key: []const u8,
    value: Value,
};

/// Returns the last member of `obj` named `key` (the last duplicate wins).
fn get(obj: Value, key: []const u8) ?Value {
    var i = obj.object.len;
    while (i > 0) {
        i -= 1;
        if (std.mem.eql(u8, obj.object[i].key, key)) return obj.object[i].value;
    }
    return null;
}

/// Returns a non-empty string member of `obj`.
fn str(obj: Value, key: []const u8) ?[]const u8 {
    const v = get(obj, key) orelse return null;
    if (v != .string or v.string.len == 0) return null;
    return v.string;
}

/// Returns a member of `obj` that is an integer ≥ `min` fitting in i64: a number written without a fraction or
/// an exponent.
fn integer(obj: Value, key: []const u8, min: i64) ?i64 {
    const v = get(obj, key) orelse return null;
    if (v != .number) return null;
    var text = v.number;
    const negative = text[0] == '-';
    if (negative) text = text[1..];
    var n: i64 = 0;
    for (text) |c| {
        if (c < '0' or c > '9') return null; // '.', 'e', 'E', '+', '-'
        const times = @mulWithOverflow(n, 10);
        if (times[1] != 0) return null;
        const plus = @addWithOverflow(times[0], c - '0');
        if (plus[1] != 0) return null;
        n = plus[0];
    }
    if (negative) n = -n;
    if (n < min) return null;
    return n;
}

/// A strict RFC 8259 parser into `Value`s allocated with `a`.
const Parser = struct {
    b: []const u8,
    i: usize = 0,
    depth: u32 = 0,
    a: Allocator,

    const Error = error{Invalid} || Allocator.Error;
    const max_depth = 64;

    fn document(p: *Parser) Error!Value {
        p.space();
        const v = try p.value();
        p.space();
        if (p.i != p.b.len) return error.Invalid;
        return v;
    }

    fn space(p: *Parser) void {
        while (p.i < p.b.len) : (p.i += 1) {
            switch (p.b[p.i]) {
                ' ', '\t', '\n', '\r' => {},
                else => return,
            }
        }
    }

    fn peek(p: *Parser) Error!u8 {
        if (p.i >= p.b.len) return error.Invalid;
        return p.b[p.i];
    }

    fn expect(p: *Parser, c: u8) Error!void {
        if (try p.peek() != c) return error.Invalid;
        p.i += 1;
    }

    fn literal(p: *Parser, s: []const u8) Error!void {
        if (!std.mem.startsWith(u8, p.b[p.i..], s)) return error.Invalid;
        p.i += s.len;
    }

    fn value(p: *Parser) Error!Value {
        switch (try p.peek()) {
            '{' => return p.object(),
            '[' => return p.array(),
            '"' => return .{ .string = try p.string() },
            't' => {
                try p.literal("true");
                return .bool;
            },
            'f' => {
                try p.literal("false");
                return .bool;
            },
            'n' => {
                try p.literal("null");
                return .null;
            },
            '-', '0'...'9' => return .{ .number = try p.number() },
            else => return error.Invalid,
        }
    }

    fn enter(p: *Parser) Error!void {
        p.depth += 1;
        if (p.depth > max_depth) return error.Invalid;
        p.i += 1; // '{' or '['
        p.space();
    }

    fn object(p: *Parser) Error!Value {
        try p.enter();
        defer p.depth -= 1;
        var members = std.ArrayListUnmanaged(Member){};
        if (try p.peek() == '}') {
            p.i += 1;
            return .{ .object = &.{} };
        }
        while (true) {
            p.space();
            if (try p.peek() != '"') return error.Invalid;
            const key = try p.string();
            p.space();
            try p.expect(':');
            p.space();
            try members.append(p.a, .{ .key = key, .value = try p.value() });
            p.space();
            switch (try p.peek()) {
                ',' => p.i += 1,
                '}' => {
                    p.i += 1;
                    return .{ .object = members.items };
                },
                else => return error.Invalid,
            }
        }
    }

    fn array(p: *Parser) Error!Value {
        try p.enter();
        defer p.depth -= 1;
        var elems = std.ArrayListUnmanaged(Value){};
        if (try p.peek() == ']') {
            p.i += 1;
            return .{ .array = &.{} };
        }
        while (true) {
            p.space();
            try elems.append(p.a, try p.value());
            p.space();
            switch (try p.peek()) {
                ',' => p.i += 1,
                ']' => {
                    p.i += 1;
                    return .{ .array = elems.items };
                },
                else => return error.Invalid,
            }
        }
    }

    fn digits(p: *Parser) usize {
        const start = p.i;
        while (p.i < p.b.len and std.ascii.isDigit(p.b[p.i])) p.i += 1;
        return p.i - start;
    }

    fn number(p: *Parser) Error![]const u8 {
        const start = p.i;
        if (p.b[p.i] == '-') p.i += 1;
        if (p.i < p.b.len and p.b[p.i] == '0') {
            p.i += 1;
        } else if (p.digits() == 0) {
            return error.Invalid;
        }
        if (p.i < p.b.len and p.b[p.i] == '.') {
            p.i += 1;
            if (p.digits() == 0) return error.Invalid;
        }
        if (p.i < p.b.len and (p.b[p.i] == 'e' or p.b[p.i] == 'E')) {
            p.i += 1;
            if (p.i < p.b.len and (p.b[p.i] == '+' or p.b[p.i] == '-')) p.i += 1;
            if (p.digits() == 0) return error.Invalid;
        }
        return p.b[start..p.i];
    }

    /// Decodes the string literal at `p.i` (its opening quote).
    fn string(p: *Parser) Error![]const u8 {
        p.i += 1; // '"'
        const start = p.i;
        while (p.i < p.b.len and p.b[p.i] != '"' and p.b[p.i] != '\\' and p.b[p.i] >= 0x20) p.i += 1;
        if (p.i < p.b.len and p.b[p.i] == '"') { // no escapes: share the input
            p.i += 1;
            return p.b[start .. p.i - 1];
        }
        var out = std.ArrayListUnmanaged(u8){};
        try out.appendSlice(p.a, p.b[start..p.i]);
        while (true) {
            const c = try p.peek();
            p.i += 1;
            switch (c) {
                '"' => return out.items,
                0...0x1f => return error.Invalid,
                '\\' => {},
                else => {
                    try out.append(p.a, c);
                    continue;
                },
            }
            const e = try p.peek();
            p.i += 1;
            switch (e) {
                '"', '\\', '/' => try out.append(p.a, e),
                'b' => try out.append(p.a, 0x08),
                'f' => try out.append(p.a, 0x0c),
                'n' => try out.append(p.a, '\n'),
                'r' => try out.append(p.a, '\r'),
                't' => try out.append(p.a, '\t'),
                'u' => {
                    var cp: u21 = try p.hex4();
                    switch (cp) {
                        0xd800...0xdbff => { // high surrogate: a low one must follow
                            try p.literal("\\u");
                            const lo = try p.hex4();
                            if (lo < 0xdc00 or lo > 0xdfff) return error.Invalid;
                            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                        },
                        0xdc00...0xdfff => return error.Invalid,
                        else => {},
                    }
                    var buf: [4]u8 = undefined;
                    const n = std.unicode.utf8Encode(cp, &buf) catch return error.Invalid;
                    try out.appendSlice(p.a, buf[0..n]);
                },
                else => return error.Invalid,
            }
        }
    }

    fn hex4(p: *Parser) Error!u21 {
        if (p.b.len - p.i < 4) return error.Invalid;
        var cp: u21 = 0;
        for (p.b[p.i .. p.i + 4]) |c| {
            const d = std.fmt.charToDigit(c, 16) catch return error.Invalid;
            cp = cp << 4 | d;
        }
        p.i += 4;
        return cp;
    }
};

test "the example order" {
    var th = sluice.TestHost{};
    var res = try th.call(std.testing.allocator, transform,
        \\{"id":"A-1001","customer":{"first_name":"Ada","last_name":"Lovelace","email":"ADA@Example.com"},
        \\ "currency":"EUR","items":[{"sku":"X1","qty":2,"unit_price_cents":1250},{"sku":"Y2","qty":1,"unit_price_cents":999}]}
    );
    defer res.deinit();
    try std.testing.expectEqualStrings(
        \\{"external_id":"A-1001","customer_name":"Ada Lovelace","email":"ada@example.com","currency":"EUR","lines":[{"sku":"X1","quantity":2,"amount_cents":2500},{"sku":"Y2","quantity":1,"amount_cents":999}],"total_cents":3499}
    , res.output);
    try std.testing.expectEqualStrings("application/json", res.content_type);
}

test "rejections" {
    const cases = [_][2][]const u8{
        .{ "[1]", "invalid JSON" },
        .{ "{\"id\":\"\\ud800\"}", "invalid JSON" },
        .{ "[" ** 65 ++ "]" ** 65, "invalid JSON" },
        .{ "{\"a\":" ** 64 ++ "1" ++ "}" ** 64, "missing field: id" },
        .{ "{\"id\":\"x\",\"customer\":{\"first_name\":\"a\",\"last_name\":\"b\",\"email\":\"c\"},\"currency\":\"E\"," ++
            "\"items\":[{\"sku\":\"s\\u0000\",\"qty\":9223372036854775807,\"unit_price_cents\":2}]}", "invalid price for sku s\x00" },
        .{ "{\"id\":\"x\",\"customer\":{\"first_name\":\"a\",\"last_name\":\"b\",\"email\":\"c\"},\"currency\":\"E\"," ++
            "\"items\":[{\"sku\":\"s\",\"qty\":-0,\"unit_price_cents\":2}]}", "invalid quantity for sku s" },
    };
    for (cases) |c| {
        var th = sluice.TestHost{};
        var res = try th.call(std.testing.allocator, transform, c[0]);
        defer res.deinit();
        try std.testing.expect(res.rejected());
        try std.testing.expectEqualStrings(c[1], res.@"error");
    }
}
