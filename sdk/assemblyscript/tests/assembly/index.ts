// A plugin that exercises the whole SDK, one command per message (the body's first word); run.mjs drives it
// through testhost.js. It imports the SDK by relative path because it lives inside the SDK package; a plugin
// imports "@sluicehq/sluice-sdk" instead.

import { Level, Message, Outcome, fail, handle, log, now, output, reject } from "../../index";
export * from "../../assembly/abi";

log(Level.Info, "test plugin starting");

function handler(m: Message): Outcome {
  const text = m.text();
  const space = text.indexOf(" ");
  const command = space < 0 ? text : text.substring(0, space);
  const arg = space < 0 ? "" : text.substring(space + 1);
  if (command == "echo") return output(m.body); // aliases the input buffer
  if (command == "upper") return output(arg.toUpperCase());
  if (command == "buffer") return output(String.UTF8.encode(arg));
  if (command == "empty") return output("");
  if (command == "null") return output<Uint8Array | null>(null);
  if (command == "reject") return reject(arg);
  if (command == "rejectbytes") return reject(m.body.subarray(space + 1));
  if (command == "fail") return fail(arg);
  if (command == "now") return output(now().toString());
  if (command == "meta") {
    const missing = m.meta("no_such_key");
    return output(
      "route=" + m.route + "\n" +
      "correlation_id=" + m.correlationId + "\n" +
      "content_type=" + m.contentType + "\n" +
      "plugin=" + m.plugin + "\n" +
      "received_at=" + m.receivedAt.toString() + "\n" +
      "received_at_text=" + (m.meta("received_at") || "(null)") + "\n" +
      "tenant=" + m.header("x-TENANT") + "\n" +
      "absent=" + m.header("X-Absent") + "\n" +
      "long=" + m.header("X-Long").length.toString() + "\n" +
      "missing=" + (missing === null ? "null" : missing),
    );
  }
  if (command == "headers") {
    m.setContentType("text/plain; charset=utf-8");
    m.setContentType("application/json"); // the last one wins
    m.setHeader("X-One", "1");
    m.setHeader("X-Two", "zwei ✓");
    m.setHeader("x-one", "uno"); // replaces X-One
    return output("{}");
  }
  if (command == "log") {
    log(Level.Debug, "d");
    log(Level.Info, "i");
    log(Level.Warn, "w");
    log(Level.Error, "e ✓");
    return output("");
  }
  if (command == "trace") {
    trace("traced", 2, 1.5, -2);
    return output("");
  }
  if (command == "random") {
    const r = Math.random();
    return output(r >= 0 && r < 1 ? "ok" : "bad");
  }
  if (command == "abort") {
    throw new Error("boom");
  }
  if (command == "garbage") {
    // Allocate far more than the collector's thresholds between reading the body and returning it: the input
    // buffer must survive (the SDK keeps it referenced from a global).
    const before = m.body.length;
    let keep = "";
    for (let i = 0; i < 20000; i++) {
      const s = "garbage " + i.toString();
      if (i % 5000 == 0) keep += s.substring(0, 1);
      const a = new Uint8Array(64 + (i & 255));
      a[0] = <u8>i;
    }
    if (m.body.length != before) return fail("body changed");
    return output(m.body);
  }
  return reject("unknown command: " + command);
}

handle(handler);
