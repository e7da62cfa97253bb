// Package tracing records Sluice's spans and exports them to an
// OpenTelemetry collector over OTLP/HTTP (protobuf), beside the W3C trace
// context that runtime/tracectx carries with every message whether or not
// anything is exported.
//
// The drivers (ingress, worker, callback) hold a *Tracer that is nil when
// tracing is off: their only cost then is that nil check. With a Tracer, a
// driver decides a span's context (Start for a span that begins a message's
// life at the ingress; tracectx.Context.Child for the spans under it) and,
// once the span is over, hands it to Record with its start and end times.
// Spans are recorded after the fact, so the queue wait between the ingress
// and a worker is a span like any other.
//
// Record never blocks: spans wait in a bounded queue for the exporter
// goroutine, which sends them in batches; when the queue is full, or the
// collector does not take a batch, the spans are dropped and counted
// (Options.Dropped), and a failing collector is logged at most once a
// minute. Shutdown sends what is queued. A Tracer is safe for concurrent use.
package tracing
