// Package verify checks that an inbound webhook comes from the sender its
// route expects, before anything about it is stored.
//
// The ingress builds one [Verifier] per route that has an auth block (with
// [New], at config load) and calls [Verifier.Verify] on every POST /in/{route}
// with the request headers and the raw body, after reading the body and
// before schema validation and before the durable append. A request that
// fails is answered with the [Error]'s Code (signature_invalid,
// unauthorized, timestamp_out_of_tolerance) and never reaches the log.
//
// Schemes (see [Schemes]):
//
//   - github: X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, body)>.
//   - stripe: Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>...], HMAC-SHA256
//     over "<t>.<body>"; entries other than t and v1 (v0) are ignored.
//   - shopify: X-Shopify-Hmac-Sha256: <base64 HMAC-SHA256(secret, body)>.
//   - slack: X-Slack-Signature: v0=<hex HMAC-SHA256 over "v0:<ts>:<body>">
//     with ts from X-Slack-Request-Timestamp.
//   - standard_webhooks: webhook-id, webhook-timestamp and webhook-signature
//     (a space-separated list of "v1,<base64>"), HMAC-SHA256 over
//     "<id>.<timestamp>.<body>" (https://www.standardwebhooks.com). Only the
//     symmetric v1 scheme is supported; v1a (ed25519) entries are ignored.
//   - hmac: a configured header, algorithm (sha256, sha1, sha512), encoding
//     (hex, base64) and prefix, over the raw body.
//   - api_key: "Authorization: Bearer <key>" or "X-Api-Key: <key>".
//
// Every signature is computed over the raw body bytes exactly as received,
// with the timestamp and id exactly as the headers carry them; the received
// signature is decoded and compared to the computed MAC in constant time.
// Several secrets may be configured for rotation: any one matching is
// enough, and [Result.Key] says which. API keys are compared as SHA-256
// digests against every configured key, without stopping at a match.
// Timestamped schemes (stripe, slack, standard_webhooks) reject a timestamp
// further than the tolerance (default 5m) from now, in either direction.
//
// Error messages name the header and the check that failed; they never
// contain a secret, a key, the expected signature or the received one.
//
// Concurrency: a Verifier is immutable after New and safe for concurrent use
// by any number of goroutines. It pools one keyed HMAC state per secret, so
// a steady-state Verify of a signature scheme allocates nothing. Byte slices
// in a [Result] are borrowed from the headers or the body passed to Verify
// and are valid only as long as those are (for fasthttp, until the handler
// returns); copy them to keep them.
package verify
