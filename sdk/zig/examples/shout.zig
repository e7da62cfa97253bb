//! shout upper-cases ASCII letters of the body: the example plugin of ../README.md.
//!
//!     zig build-lib -target wasm32-freestanding -dynamic -rdynamic -O ReleaseSmall -fstrip --stack 65536 \
//!         --mod sluice::../sluice.zig --deps sluice shout.zig -femit-bin=shout.wasm
//!     zig test --mod sluice::../sluice.zig --deps sluice shout.zig

const std = @import("std");
const sluice = @import("sluice");

comptime {
    sluice.exportHandler(shout);
}

// Optional: std.log records go to the host log, and a panic is logged before the instance traps. (Under
// `zig test` the test runner is the root file, so neither applies there.)
pub const std_options = struct {
    pub const logFn = sluice.logFn;
    pub const log_level = .debug;
};
pub const panic = sluice.panic;

fn shout(m: *sluice.Message) ![]const u8 {
    if (m.body.len == 0) return m.reject("body is empty");
    sluice.logf(.debug, "shouting on route {s}", .{try m.route()});
    m.setContentType("text/plain; charset=utf-8");
    var buf: [sluice.rfc3339_len]u8 = undefined;
    m.setHeader("X-Shouted-At", sluice.formatRfc3339(&buf, sluice.now()));
    return std.ascii.upperString(m.body, m.body); // in place: the output aliases the input
}

test shout {
    const t = std.testing;
    var host = sluice.TestHost{
        .meta = &.{ .{ "route", "orders" }, .{ "header:X-Tenant", "acme" } },
        .now = 1767323045 * std.time.ns_per_s,
    };
    var res = try host.call(t.allocator, shout, "hi");
    defer res.deinit();
    try t.expectEqual(sluice.Code.ok, res.code);
    try t.expectEqualStrings("HI", res.output);
    try t.expectEqualStrings("text/plain; charset=utf-8", res.content_type);
    try t.expectEqualStrings("2026-01-02T03:04:05.000000000Z", res.header("x-shouted-at").?);
    try t.expectEqualStrings("shouting on route orders", res.logs.items[0].message);

    var empty = try host.call(t.allocator, shout, "");
    defer empty.deinit();
    try t.expect(empty.rejected());
    try t.expectEqualStrings("body is empty", empty.@"error");
}
