// sign.mjs DIR: signs real webhook payloads with the providers' own libraries and writes, into DIR, each
// request body exactly as it was signed (DIR/bodies/NNNN.body) and DIR/manifest.json, the list of requests
// cmd/sluice's TestInterop posts to a real server:
//
//   [{name, route, body_file, headers: {...}, expect: 202|401, code, replay_of, library_accepts, note}]
//
// route is the Sluice route (github, stripe, hooks); expect is the status Sluice must answer and code the
// error code of a 401; replay_of names an earlier entry this one is a sender's retry of (same delivery id:
// Sluice must answer with that entry's correlation id and Idempotent-Replayed: true); library_accepts is
// what the provider's own verifier says about the request as written to disk, and it must agree with
// expect (this script fails otherwise), so the expectations come from the providers, not from Sluice.
//
// Libraries (exact versions in package-lock.json; install with `npm ci` in this directory):
//   @octokit/webhooks-examples  the real GitHub payloads (every event, every example)
//   @octokit/webhooks-methods   GitHub's X-Hub-Signature-256 (sign, verifyWithFallback)
//   stripe                      Stripe-Signature (webhooks.generateTestHeaderString, webhooks.constructEvent)
//   standardwebhooks            the official Standard Webhooks library (Webhook.sign, Webhook.verify)
//
// The secrets the route is configured with come from the environment (the Go test sets them):
// INTEROP_GITHUB_SECRET, INTEROP_GITHUB_SECRET_OLD, INTEROP_STRIPE_SECRET, INTEROP_STRIPE_SECRET_OLD,
// INTEROP_SW_SECRET (whsec_...), INTEROP_SW_SECRET_RAW (a raw key: the library needs {format: "raw"}).
// Signed timestamps are the current time (or deliberately out of tolerance), so post the requests within
// a few minutes. Everything else (order, delivery ids, bodies) is deterministic.

import { createHash, createHmac, generateKeyPairSync, sign as ed25519Sign } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { sign as githubSign, verifyWithFallback as githubVerify } from "@octokit/webhooks-methods";
import Stripe from "stripe";
import { Webhook } from "standardwebhooks";

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

const out = process.argv[2];
if (!out) {
	console.error("usage: node sign.mjs DIR");
	process.exit(2);
}
function env(name) {
	const v = process.env[name];
	if (!v) {
		console.error(`sign.mjs: environment variable ${name} is not set`);
		process.exit(2);
	}
	return v;
}
const secrets = {
	github: env("INTEROP_GITHUB_SECRET"),
	githubOld: env("INTEROP_GITHUB_SECRET_OLD"),
	stripe: env("INTEROP_STRIPE_SECRET"),
	stripeOld: env("INTEROP_STRIPE_SECRET_OLD"),
	sw: env("INTEROP_SW_SECRET"),
	swRaw: env("INTEROP_SW_SECRET_RAW"),
};
// Secrets no route is configured with.
const wrong = {
	github: "not the secret of this hook",
	stripe: "whsec_wrongwrongwrongwrongwrongwrong12",
	sw: "whsec_" + Buffer.from("a different 24-byte key!").toString("base64"),
};

function version(pkg) {
	return JSON.parse(readFileSync(path.join(here, "node_modules", pkg, "package.json"), "utf8")).version;
}
const versions = Object.fromEntries(
	["@octokit/webhooks-examples", "@octokit/webhooks-methods", "stripe", "standardwebhooks"].map((p) => [p, version(p)]),
);

mkdirSync(path.join(out, "bodies"), { recursive: true });
const manifest = [];
const names = new Set();

// add writes body (a string, UTF-8 encoded, or a Buffer) and records the request. verdict(bodyString)
// runs the provider's verifier on the bytes as written and returns whether it accepts them.
async function add({ name, route, body, headers, expect, code = "", replayOf = "", note, verdict }) {
	if (names.has(name)) throw new Error(`duplicate entry name ${name}`);
	names.add(name);
	const bodyFile = path.join("bodies", String(manifest.length).padStart(4, "0") + ".body");
	writeFileSync(path.join(out, bodyFile), body);
	const onDisk = readFileSync(path.join(out, bodyFile), "utf8");
	const libraryAccepts = await verdict(onDisk);
	if (libraryAccepts !== (expect === 202)) {
		throw new Error(`${name}: the provider's library ${libraryAccepts ? "accepts" : "rejects"} it, but it is expected ${expect}`);
	}
	manifest.push({ name, route, body_file: bodyFile, headers, expect, code, replay_of: replayOf, library_accepts: libraryAccepts, note });
}

// A delivery id derived from the entry's name: stable across runs, distinct per entry.
function uuidFor(name) {
	const h = createHash("sha256").update(name).digest("hex");
	return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}
function idFor(prefix, name, n = 24) {
	return prefix + createHash("sha256").update(name).digest("base64url").replace(/[-_]/g, "x").slice(0, n);
}

const now = Math.floor(Date.now() / 1000);
const counts = { github: 0, stripe: 0, hooks: 0 };

// ---- GitHub: every example payload of every event --------------------------------------------------
//
// GitHub posts the payload as compact JSON (content type application/json) or, for hooks configured
// with application/x-www-form-urlencoded, as payload=<url-encoded JSON>; X-Hub-Signature-256 is the
// HMAC of the raw body either way.

const events = require("@octokit/webhooks-examples"); // api.github.com/index.json
const githubAccepts = (sig) => async (body) => githubVerify(secrets.github, body, sig, [secrets.githubOld]);

function githubHeaders(event, delivery, sig, contentType = "application/json") {
	return {
		"Content-Type": contentType,
		"User-Agent": "GitHub-Hookshot/4a4ab5f",
		"X-GitHub-Event": event,
		"X-GitHub-Delivery": delivery,
		"X-GitHub-Hook-ID": "292430182",
		"X-GitHub-Hook-Installation-Target-ID": "79929171",
		"X-GitHub-Hook-Installation-Target-Type": "repository",
		"X-Hub-Signature-256": sig,
	};
}
// GitHub also sends the legacy SHA-1 signature; verifiers must not rely on it (webhooks-methods has no
// SHA-1 signer, so it is computed here as GitHub documents it).
const sha1 = (secret, body) => "sha1=" + createHmac("sha1", secret).update(body).digest("hex");

const examples = [];
for (const ev of events) {
	ev.examples.forEach((payload, i) => examples.push({ event: ev.name, i, payload }));
}
for (const { event, i, payload } of examples) {
	const body = JSON.stringify(payload);
	const base = `github ${event}[${i}]`;
	for (const [kind, secret, expect] of [
		["valid", secrets.github, 202],
		["wrong secret", wrong.github, 401],
	]) {
		const name = `${base} ${kind}`;
		const sig = await githubSign(secret, body);
		const headers = { ...githubHeaders(event, uuidFor(name), sig), "X-Hub-Signature": sha1(secret, body) };
		await add({
			name, route: "github", body, headers, expect, code: expect === 401 ? "signature_invalid" : "",
			note: `${event} example ${i} (${Buffer.byteLength(body)} B), signed by @octokit/webhooks-methods with the ${kind === "valid" ? "route's secret" : "wrong secret"}`,
			verdict: githubAccepts(sig),
		});
		counts.github++;
	}
}

// One example per event again, as a form-encoded delivery.
for (const ev of events) {
	const payload = ev.examples[0];
	const body = new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
	const name = `github ${ev.name}[0] form-encoded`;
	const sig = await githubSign(secrets.github, body);
	await add({
		name, route: "github", body, expect: 202,
		headers: githubHeaders(ev.name, uuidFor(name), sig, "application/x-www-form-urlencoded"),
		note: `${ev.name} example 0 as application/x-www-form-urlencoded (payload=...), signed over the form body`,
		verdict: githubAccepts(sig),
	});
	counts.github++;
}

// tamper changes the first digit of s.
function tamper(s) {
	const i = s.search(/[0-9]/);
	return s.slice(0, i) + String((Number(s[i]) + 1) % 10) + s.slice(i + 1);
}

// Rotation and forgeries, on a spread of examples.
const picks = [0, 41, 97, 163, 228, 301].map((k) => examples[k % examples.length]);
for (const [j, { event, i, payload }] of picks.entries()) {
	const body = JSON.stringify(payload);
	const base = `github ${event}[${i}]`;
	const other = JSON.stringify(examples[(j * 53 + 7) % examples.length].payload);
	const cases = [
		{ kind: "previous secret (rotation)", body, sig: await githubSign(secrets.githubOld, body), expect: 202,
			note: "signed with the route's second (previous) secret: accepted during a rotation" },
		{ kind: "tampered body", body: tamper(body), sig: await githubSign(secrets.github, body), expect: 401,
			note: "signed with the right secret, then one digit of the body changed" },
		{ kind: "trailing newline", body: body + "\n", sig: await githubSign(secrets.github, body), expect: 401,
			note: "signed with the right secret, a newline appended after signing" },
		{ kind: "signature of another payload", body, sig: await githubSign(secrets.github, other), expect: 401,
			note: "a valid signature, but of another delivery's body" },
	];
	for (const c of cases) {
		const name = `${base} ${c.kind}`;
		await add({
			name, route: "github", body: c.body, expect: c.expect, code: c.expect === 401 ? "signature_invalid" : "",
			headers: githubHeaders(event, uuidFor(name), c.sig), note: c.note, verdict: githubAccepts(c.sig),
		});
		counts.github++;
	}
	// Only the legacy SHA-1 header, correctly signed: not enough.
	const name = `${base} sha1 only`;
	const headers = githubHeaders(event, uuidFor(name), "");
	delete headers["X-Hub-Signature-256"];
	headers["X-Hub-Signature"] = sha1(secrets.github, body);
	await add({
		name, route: "github", body, headers, expect: 401, code: "signature_invalid",
		note: "only X-Hub-Signature (SHA-1, right secret), no X-Hub-Signature-256",
		verdict: githubAccepts(headers["X-Hub-Signature"]), // webhooks-methods verifies sha256= only
	});
	counts.github++;
}

// ---- Stripe ------------------------------------------------------------------------------------------
//
// Stripe posts events as pretty-printed JSON (2 spaces, as stripe-node's own tests build them) and signs
// "<t>.<body>"; constructEvent is the library's verifier (tolerance 300 s, only for old timestamps).

const stripeLib = new Stripe("sk_test_interop");
const stripeHeaders = (sig) => ({
	"Content-Type": "application/json; charset=utf-8",
	"User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
	"Cache-Control": "no-cache",
	"Stripe-Signature": sig,
});
const stripeAccepts = (header) => async (body) => {
	for (const secret of [secrets.stripe, secrets.stripeOld]) {
		try {
			stripeLib.webhooks.constructEvent(body, header, secret);
			return true;
		} catch {}
	}
	return false;
};
const stripeHeader = (body, secret, timestamp, scheme) =>
	stripeLib.webhooks.generateTestHeaderString({ payload: body, secret, timestamp, ...(scheme ? { scheme } : {}) });

function stripeEvent(name, type, object) {
	return JSON.stringify({
		id: idFor("evt_", name), object: "event", api_version: "2025-09-30.clover", created: now - 5,
		data: { object }, livemode: false, pending_webhooks: 1,
		request: { id: idFor("req_", name, 14), idempotency_key: uuidFor(name + " idem") }, type,
	}, null, 2);
}
const stripeEvents = [
	["payment_intent.succeeded", { id: "pi_3QxInterop0001", object: "payment_intent", amount: 2000, amount_received: 2000, currency: "usd", status: "succeeded", metadata: { order_id: "6735" } }],
	["charge.succeeded", { id: "ch_3QxInterop0002", object: "charge", amount: 1099, currency: "eur", paid: true, billing_details: { name: "Zoë Ångström", address: { city: "Malmö" } }, description: "Café crème ☕ — 日本語" }],
	["invoice.paid", { id: "in_1QxInterop0003", object: "invoice", amount_paid: 4200, currency: "gbp", lines: { object: "list", data: [{ id: "il_1", amount: 4200, description: "1 × Pro plan (at £42.00 / month)" }], has_more: false } }],
	["customer.subscription.updated", { id: "sub_1QxInterop0004", object: "subscription", status: "active", items: { object: "list", data: [{ id: "si_1", price: { id: "price_1", unit_amount: 4200 } }] } }],
	["checkout.session.completed", { id: "cs_test_a1QxInterop0005", object: "checkout.session", amount_total: 5000, customer_details: { email: "jenny.rosen@example.com", name: "Jenny \"JR\" Rosen" }, url: null, metadata: { "cart<id>": "a&b" } }],
	["customer.created", { id: "cus_QxInterop0006", object: "customer", email: null, name: "O'Brien \\ Sons\t(test)", preferred_locales: ["fr-CA", "en"] }],
];
const stripeValid = [];
for (const [k, [type, object]] of stripeEvents.entries()) {
	const name = `stripe ${type} valid`;
	const body = stripeEvent(name, type, object);
	const sig = stripeHeader(body, secrets.stripe, now);
	await add({ name, route: "stripe", body, headers: stripeHeaders(sig), expect: 202,
		note: `${type} (${Buffer.byteLength(body)} B), header from stripe webhooks.generateTestHeaderString`, verdict: stripeAccepts(sig) });
	stripeValid.push({ name, body });
	counts.stripe++;
}
{
	const mk = (kind, type, object) => {
		const name = `stripe ${type} ${kind}`;
		return { name, body: stripeEvent(name, type, object) };
	};
	const [t0, o0] = stripeEvents[0], [t1, o1] = stripeEvents[1], [t2, o2] = stripeEvents[2];
	const cases = [];
	let e = mk("previous secret (rotation)", t0, o0);
	cases.push({ ...e, sig: stripeHeader(e.body, secrets.stripeOld, now), expect: 202, note: "signed with the route's second (previous) secret" });
	e = mk("two v1 (rolling secret)", t1, o1);
	{
		const a = stripeHeader(e.body, secrets.stripeOld, now), b = stripeHeader(e.body, secrets.stripe, now);
		cases.push({ ...e, sig: `${a},${b.split(",")[1]}`, expect: 202, note: "t=,v1=<old secret>,v1=<new secret>, as Stripe sends while an endpoint's secret is rolled" });
	}
	e = mk("v1 and v0", t2, o2);
	{
		const v1 = stripeHeader(e.body, secrets.stripe, now), v0 = stripeHeader(e.body, "whsec_testmode_v0_scheme_secret", now, "v0");
		cases.push({ ...e, sig: `${v1},${v0.split(",")[1]}`, expect: 202, note: "t=,v1=,v0= (the legacy v0 scheme, which verifiers ignore)" });
	}
	e = mk("extra malformed v1", t0, o0);
	cases.push({ ...e, sig: stripeHeader(e.body, secrets.stripe, now) + ",v1=potato", expect: 202,
		note: "a valid header plus ,v1=potato: stripe-node's own test says at least one valid signature is enough" });
	e = mk("diagnostic metadata", t1, o1);
	{
		const masked = secrets.stripe.slice(0, 6) + "*".repeat(secrets.stripe.length - 10) + secrets.stripe.slice(-4);
		const payloadHash = createHash("sha256").update(e.body).digest("hex").slice(-8);
		cases.push({ ...e, sig: `${stripeHeader(e.body, secrets.stripe, now)},secret=${masked},payload=${payloadHash},destination=we_1QxInterop`, expect: 202,
			note: "with the diagnostic metadata stripe 23.2.0 reads from Stripe-Signature (secret=<masked>, payload=<hash suffix>, destination=)" });
	}
	e = mk("wrong secret", t2, o2);
	cases.push({ ...e, sig: stripeHeader(e.body, wrong.stripe, now), expect: 401, code: "signature_invalid", note: "signed with a secret the route does not have" });
	e = mk("stale timestamp", t0, o0);
	cases.push({ ...e, sig: stripeHeader(e.body, secrets.stripe, now - 3600), expect: 401, code: "timestamp_out_of_tolerance", note: "right secret, t= an hour ago" });
	e = mk("just past tolerance", t1, o1);
	cases.push({ ...e, sig: stripeHeader(e.body, secrets.stripe, now - 400), expect: 401, code: "timestamp_out_of_tolerance", note: "right secret, t= 400 s ago (tolerance 300 s)" });
	e = mk("re-serialized body", t2, o2);
	cases.push({ ...e, sig: stripeHeader(e.body, secrets.stripe, now), body: JSON.stringify(JSON.parse(e.body)), expect: 401, code: "signature_invalid",
		note: "signed pretty-printed, sent compact (a proxy that re-serialized the JSON)" });
	for (const c of cases) {
		await add({ name: c.name, route: "stripe", body: c.body, headers: stripeHeaders(c.sig), expect: c.expect, code: c.code ?? "",
			note: c.note, verdict: stripeAccepts(c.sig) });
		counts.stripe++;
	}
	// Stripe's retries of a delivery: same event (same body), new timestamp and signature.
	for (const v of stripeValid.slice(0, 2)) {
		const sig = stripeHeader(v.body, secrets.stripe, now + 1);
		await add({ name: `${v.name} retry`, route: "stripe", body: v.body, headers: stripeHeaders(sig), expect: 202, replayOf: v.name,
			note: "Stripe's retry of the same event: same body and id, new t= and signature", verdict: stripeAccepts(sig) });
		counts.stripe++;
	}
}

// ---- Standard Webhooks -------------------------------------------------------------------------------
//
// The official library signs "<webhook-id>.<webhook-timestamp>.<body>" and emits "v1,<base64>"; a sender
// with several keys sends several space-separated signatures. Its verifier checks each one and the
// timestamp (5 minutes, both directions). It base64-decodes every secret unless {format: "raw"}.

const whCurrent = new Webhook(secrets.sw);
const whRaw = new Webhook(secrets.swRaw, { format: "raw" });
const whWrong = new Webhook(wrong.sw);
const swHeaders = (id, ts, sig) => ({
	"Content-Type": "application/json",
	"User-Agent": "Svix-Webhooks/1.62.0",
	"webhook-id": id,
	"webhook-timestamp": String(ts),
	"webhook-signature": sig,
});
const swAccepts = (headers) => async (body) => {
	for (const wh of [whCurrent, whRaw]) {
		try {
			wh.verify(body, headers);
			return true;
		} catch {}
	}
	return false;
};
const at = (ts) => new Date(ts * 1000);
const swBodies = [
	["invoice.paid", { invoice_id: "inv_01HZX3", amount: 4200, currency: "EUR" }],
	["user.created", { id: "usr_7", name: "Zoë Ångström — 日本語 🚀", email: "zoe@example.com" }],
	["contact.updated", { id: 12, note: "line 1\nline 2\t\"quoted\" <b>&amp;</b> \\ \u2028" }],
	// A large one: the biggest GitHub example as the event's data.
	["github.relay", examples.reduce((a, b) => (JSON.stringify(b.payload).length > JSON.stringify(a.payload).length ? b : a)).payload],
];
const ed = generateKeyPairSync("ed25519");
const swValid = [];
for (const [type, data] of swBodies) {
	const name = `hooks ${type} valid`;
	const id = idFor("msg_", name, 27);
	const body = JSON.stringify({ type, timestamp: new Date(now * 1000).toISOString(), data });
	const headers = swHeaders(id, now, whCurrent.sign(id, at(now), body));
	await add({ name, route: "hooks", body, headers, expect: 202,
		note: `${type} (${Buffer.byteLength(body)} B), signed by standardwebhooks Webhook.sign with the whsec_ secret`, verdict: swAccepts(headers) });
	swValid.push({ name, id, body });
	counts.hooks++;
}
{
	const body = JSON.stringify({ type: "order.shipped", timestamp: new Date(now * 1000).toISOString(), data: { order: 6735, carrier: "DHL" } });
	const cases = [];
	const c = (kind, ts, sig, expect, code, note, sendBody = body) => {
		const name = `hooks ${kind}`;
		const id = idFor("msg_", name, 27);
		cases.push({ name, body: sendBody, headers: swHeaders(id, ts, sig(id, ts)), expect, code, note });
	};
	c("raw secret (rotation)", now, (id, ts) => whRaw.sign(id, at(ts), body), 202, "",
		"signed with the route's second secret, a raw (non-whsec_) key: the library needs {format: \"raw\"}");
	c("wrong then right", now, (id, ts) => `${whWrong.sign(id, at(ts), body)} ${whCurrent.sign(id, at(ts), body)}`, 202, "",
		"two signatures (a key the route does not have, then the route's): one valid is enough");
	c("right then raw", now, (id, ts) => `${whCurrent.sign(id, at(ts), body)} ${whRaw.sign(id, at(ts), body)}`, 202, "",
		"two signatures, both with keys the route has (a sender rotating keys)");
	c("v1a and v1", now, (id, ts) => {
		const v1a = ed25519Sign(null, Buffer.from(`${id}.${ts}.${body}`), ed.privateKey).toString("base64");
		return `v1a,${v1a} ${whCurrent.sign(id, at(ts), body)}`;
	}, 202, "", "an asymmetric v1a (ed25519, signed with node:crypto as the spec says) before the v1: v1a is skipped");
	c("wrong secret", now, (id, ts) => whWrong.sign(id, at(ts), body), 401, "signature_invalid", "signed with a key the route does not have");
	c("two wrong", now, (id, ts) => `${whWrong.sign(id, at(ts), body)} ${whWrong.sign(id + "x", at(ts), body)}`, 401, "signature_invalid",
		"two signatures, neither with a key the route has");
	c("stale timestamp", now - 3600, (id, ts) => whCurrent.sign(id, at(ts), body), 401, "timestamp_out_of_tolerance", "right key, timestamp an hour ago");
	c("future timestamp", now + 3600, (id, ts) => whCurrent.sign(id, at(ts), body), 401, "timestamp_out_of_tolerance", "right key, timestamp an hour ahead");
	c("tampered body", now, (id, ts) => whCurrent.sign(id, at(ts), body), 401, "signature_invalid",
		"right key, body changed after signing", body.replace("6735", "6736"));
	for (const k of cases) {
		await add({ name: k.name, route: "hooks", body: k.body, headers: k.headers, expect: k.expect, code: k.code, note: k.note, verdict: swAccepts(k.headers) });
		counts.hooks++;
	}
	// The sender's retries: same webhook-id and body, new timestamp and signature.
	for (const v of swValid.slice(0, 2)) {
		const headers = swHeaders(v.id, now + 1, whCurrent.sign(v.id, at(now + 1), v.body));
		await add({ name: `${v.name} retry`, route: "hooks", body: v.body, headers, expect: 202, replayOf: v.name,
			note: "the sender's retry: same webhook-id and body, new timestamp and signature", verdict: swAccepts(headers) });
		counts.hooks++;
	}
}

writeFileSync(path.join(out, "manifest.json"), JSON.stringify(manifest, null, 1));
const accepted = manifest.filter((e) => e.expect === 202).length;
console.log(`sign.mjs: ${manifest.length} requests (${accepted} to accept, ${manifest.length - accepted} to refuse): ` +
	`github ${counts.github} (${events.length} events, ${examples.length} examples), stripe ${counts.stripe}, hooks ${counts.hooks}; ` +
	Object.entries(versions).map(([p, v]) => `${p}@${v}`).join(" "));
