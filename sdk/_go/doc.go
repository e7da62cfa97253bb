// Package sluice is the Go guest SDK for Sluice transformation plugins.
//
// A plugin is a WebAssembly module that the Sluice host calls once per message, between the durable log and
// the destination: it receives the message body, returns a new body (or rejects the message), and may set the
// outgoing content type and headers. This package implements the guest side of the plugin ABI (sdk/ABI.md,
// version [ABIVersion]) so that plugin code never sees a pointer:
//
//	package main
//
//	import sluice "github.com/sluicehq/sluice/sdk/go"
//
//	func init() { sluice.Handle(transform) }
//
//	func transform(m *sluice.Message) ([]byte, error) {
//		if len(m.Body) == 0 {
//			return nil, sluice.Reject("body is empty")
//		}
//		m.SetContentType("text/plain")
//		return bytes.ToUpper(m.Body), nil
//	}
//
//	func main() {} // required by package main, never called
//
// Build it as a WASI reactor:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -trimpath -buildvcs=false -ldflags=-s -o plugin.wasm .
//
// # Registration happens in init
//
// A c-shared module exports `_initialize`, which the host runs once per instance. It initializes the Go runtime
// and runs every package's init functions, but it never calls main.main. [Handle] must therefore be called from
// an init function (or a package-level variable initializer). A handler registered from main is never seen; the
// SDK then fails every message and logs why.
//
// # Lifetime and concurrency
//
// The host never calls one instance concurrently, and it reuses an instance for many messages, so package-level
// state persists between calls. Do not rely on that: the host may discard an instance at any time (always after
// a trap) and run several instances of the same plugin side by side.
//
// A [Message] and its Body are valid only until the handler returns: the SDK reuses both for the next message.
// Copy what you keep. Methods of Message talk to the host and may be called only while the handler runs.
//
// In builds other than GOOS=wasip1 the host imports are replaced by an in-process stand-in, [TestHost], so that
// plugins can be unit-tested with a plain `go test`.
package sluice
