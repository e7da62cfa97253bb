// The SDK's tests: builds tests/assembly/index.ts with each supported runtime and plays messages through it with
// testhost.js. Run with `npm test` (after `npm ci`).

import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { TestHost } from "../testhost.js";

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const asc = path.join(root, "node_modules", ".bin", "asc");

function build(target) {
  return spawnSync(asc, ["--config", "tests/asconfig.json", "--target", target], { cwd: root, encoding: "utf8" });
}

const runtimes = ["incremental", "minimal"];
const wasm = {};
for (const runtime of runtimes) {
  const r = build(runtime);
  if (r.status !== 0) throw new Error(`building the test plugin (${runtime}):\n${r.stdout}${r.stderr}`);
  wasm[runtime] = fs.readFileSync(path.join(root, "build", `test-${runtime}.wasm`));
}

const meta = {
  route: "orders",
  correlation_id: "c-1",
  content_type: "application/json",
  plugin: "test",
  received_at: "2026-01-02T03:04:05.123456789Z",
  "header:X-Tenant": "acme",
  "header:X-Long": "x".repeat(1000), // longer than the SDK's first metadata buffer
};

test("the stub runtime is refused at compile time", () => {
  const r = build("stub");
  assert.notEqual(r.status, 0);
  assert.match(r.stdout + r.stderr, /the stub runtime never frees memory/);
});

for (const runtime of runtimes) {
  const load = (options = { meta, now: 1_700_000_000_123_456_789n }) => TestHost.load(wasm[runtime], options);

  test(`${runtime}: imports only sluice host functions, exports only the ABI`, async () => {
    assert.deepEqual(TestHost.check(await WebAssembly.compile(wasm[runtime])), []);
    const imports = WebAssembly.Module.imports(await WebAssembly.compile(wasm[runtime]));
    assert.ok(imports.every((i) => i.module === "sluice"));
  });

  test(`${runtime}: outputs`, async () => {
    const host = await load();
    assert.equal(host.call("echo héllo").text(), "echo héllo");
    assert.equal(host.call("upper straße").text(), "STRASSE");
    assert.equal(host.call("buffer ✓").text(), "✓");
    for (const cmd of ["empty", "null"]) {
      const r = host.call(cmd);
      assert.equal(r.code, 0);
      assert.equal(r.output.length, 0);
    }
    assert.equal(host.call("echo").text(), "echo");
    assert.equal(host.call("").code, 1); // zero-length input: "unknown command: "
    assert.equal(host.call("").error, "unknown command: ");
  });

  test(`${runtime}: rejections and failures`, async () => {
    const host = await load();
    let r = host.call("reject \"email\" must contain \"@\"");
    assert.equal(r.code, 1);
    assert.equal(r.error, "\"email\" must contain \"@\"");
    r = host.call("rejectbytes bytes ✓");
    assert.equal(r.code, 1);
    assert.equal(r.error, "bytes ✓");
    r = host.call("fail broken");
    assert.equal(r.code, 2);
    assert.equal(r.error, "broken");
    // Output and content type of earlier calls do not leak into later ones.
    r = host.call("upper x");
    assert.equal(r.code, 0);
    assert.equal(r.error, "");
  });

  test(`${runtime}: metadata and headers`, async () => {
    const host = await load();
    const r = host.call("meta");
    assert.equal(r.code, 0, r.error);
    assert.equal(
      r.text(),
      [
        "route=orders",
        "correlation_id=c-1",
        "content_type=application/json",
        "plugin=test",
        "received_at=1767323045123456789",
        "received_at_text=2026-01-02T03:04:05.123456789Z",
        "tenant=acme",
        "absent=",
        "long=1000",
        "missing=null",
      ].join("\n"),
    );
    const h = host.call("headers");
    assert.equal(h.contentType, "application/json");
    assert.deepEqual(h.headers, { "X-Two": "zwei ✓", "x-one": "uno" });
  });

  test(`${runtime}: received_at formats`, async () => {
    const cases = [
      ["2026-01-02T03:04:05Z", "1767323045000000000"],
      ["2026-01-02T03:04:05.5Z", "1767323045500000000"],
      ["1970-01-01T00:00:00Z", "0"],
      ["1969-12-31T23:59:59.999999999Z", "-1"],
      ["2026-01-02T04:04:05+01:00", "1767323045000000000"],
      ["0001-01-01T00:00:00Z", "0"], // Go's zero time: out of range
      ["garbage", "0"],
    ];
    for (const [text, want] of cases) {
      const host = await load({ meta: { received_at: text } });
      const line = host.call("meta").text().split("\n").find((l) => l.startsWith("received_at="));
      assert.equal(line, "received_at=" + want, text);
    }
  });

  test(`${runtime}: log levels, trace, clock, Math.random`, async () => {
    const host = await load();
    assert.deepEqual(host.initLogs.map((l) => l.level), ["info"]);
    assert.deepEqual(host.call("log").logs, [
      { level: "debug", message: "d" },
      { level: "info", message: "i" },
      { level: "warn", message: "w" },
      { level: "error", message: "e ✓" },
    ]);
    assert.deepEqual(host.call("trace").logs, [{ level: "debug", message: "trace: traced 1.5, -2.0" }]);
    assert.equal(host.call("now").text(), "1700000000123456789");
    assert.equal(host.call("random").text(), "ok");
  });

  test(`${runtime}: abort logs and traps`, async () => {
    const host = await load();
    const r = host.call("abort");
    assert.equal(r.code, -1);
    assert.ok(r.trap instanceof WebAssembly.RuntimeError);
    assert.equal(r.logs.length, 1);
    assert.equal(r.logs[0].level, "error");
    assert.match(r.logs[0].message, /^abort: boom at tests\/assembly\/index\.ts:\d+:\d+$/);
  });

  test(`${runtime}: the input survives garbage collection; buffers are reused`, async () => {
    const host = await load();
    for (let i = 0; i < 20; i++) {
      const body = "garbage " + "y".repeat(i * 997);
      const r = host.call(body);
      assert.equal(r.code, 0, r.error);
      assert.equal(r.text(), body);
    }
    // Growing inputs, then small ones again.
    for (const n of [0, 1, 4095, 4096, 4097, 100_000, 1_000_000, 10]) {
      const body = "echo " + "z".repeat(n);
      assert.equal(host.call(body).text(), body);
    }
  });

  test(`${runtime}: memory stays flat over many messages`, async () => {
    const host = await load();
    const body = "upper " + "a".repeat(2000);
    for (let i = 0; i < 2000; i++) host.call(body);
    const size = host.memoryBytes;
    for (let i = 0; i < 20000; i++) host.call(body);
    assert.equal(host.memoryBytes, size);
  });
}

test("the plugin loads in the real host", { skip: !hasGo() && "no go on PATH" }, () => {
  // `sluice plugin inspect` exits 1 if the host would refuse the module.
  const repo = path.resolve(root, "..", "..");
  const file = path.join(root, "build", "test-incremental.wasm");
  const out = execFileSync("go", ["run", "./cmd/sluice", "plugin", "inspect", file], { cwd: repo, encoding: "utf8" });
  assert.match(out, /loads: yes/);
});

function hasGo() {
  return spawnSync("go", ["version"]).status === 0;
}
