package tracing

import (
	"context"
	"encoding/binary"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicehq/sluice/runtime/tracectx"
)

// Kind is a span's OTLP SpanKind.
type Kind int32

// Span kinds Sluice records.
const (
	KindInternal Kind = 1
	KindServer   Kind = 2
	KindClient   Kind = 3
)

// Attr is a span attribute: a string, or an integer when IsInt.
type Attr struct {
	Key   string
	Str   string
	Int   int64
	IsInt bool
}

// String is a string attribute.
func String(key, v string) Attr { return Attr{Key: key, Str: v} }

// Int is an integer attribute.
func Int(key string, v int64) Attr { return Attr{Key: key, Int: v, IsInt: true} }

// Span is a finished span. Record takes it over: do not touch it after.
type Span struct {
	Context tracectx.Context // the span's trace id, its own span id and the trace flags
	Parent  [8]byte          // the parent span; zero for a trace's root
	// RemoteParent: the parent is another service's span (a traceparent
	// that came in with a request).
	RemoteParent bool
	State        string // tracestate
	Name         string
	Kind         Kind
	Start, End   time.Time
	Attrs        []Attr
	// Err, when set, gives the span status error with this message.
	Err string
}

// Options configure a Tracer.
type Options struct {
	URL         string            // the OTLP/HTTP traces endpoint (…/v1/traces)
	Headers     map[string]string // sent with every export
	SampleRatio float64           // share of new traces recorded, 0 to 1
	Service     string            // service.name
	Version     string            // service.version
	Log         *slog.Logger
	// QueueSize bounds the spans waiting for export (default 8192);
	// BatchSize is the most one request carries (default 512); Interval is
	// the longest a span waits for its batch (default 5s, as OTel's batch
	// span processor); Timeout bounds
	// one export request (default 10s).
	QueueSize int
	BatchSize int
	Interval  time.Duration
	Timeout   time.Duration
	// Dropped, if set, counts spans dropped: reason "queue_full" or
	// "export_failed".
	Dropped func(reason string, n int)
}

// Reasons a span is dropped.
const (
	DroppedQueueFull    = "queue_full"
	DroppedExportFailed = "export_failed"
)

// Tracer samples and exports spans. Safe for concurrent use; nil means
// tracing is off (callers check).
type Tracer struct {
	o      Options
	bound  uint64 // TraceIDRatioBased: sampled when the trace id's low 63 bits are below it
	queue  chan *Span
	stop   chan struct{}
	done   chan struct{}
	once   sync.Once
	client *http.Client

	lastWarn atomic.Int64 // unix nanos of the last export warning
}

// New starts a Tracer and its exporter; Shutdown stops them.
func New(o Options) *Tracer {
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.QueueSize <= 0 {
		o.QueueSize = 8192
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 512
	}
	if o.Interval <= 0 {
		o.Interval = 5 * time.Second
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	t := &Tracer{o: o, bound: ratioBound(o.SampleRatio), queue: make(chan *Span, o.QueueSize),
		stop: make(chan struct{}), done: make(chan struct{}), client: &http.Client{Timeout: o.Timeout}}
	go t.export()
	return t
}

// ratioBound is OTel's TraceIDRatioBased threshold for a ratio.
func ratioBound(r float64) uint64 {
	switch {
	case r >= 1:
		return 1 << 63
	case r <= 0:
		return 0
	}
	return uint64(r * (1 << 63))
}

// Start decides the context of a span that begins Sluice's part of a trace
// (the ingress span): a child of the caller's span when the request came
// with a traceparent, keeping its sampled flag (parent-based sampling), or
// the root of a new trace, sampled by the trace id at SampleRatio (as
// OTel's ParentBased(TraceIDRatioBased) decides).
func (t *Tracer) Start(parent tracectx.Context, hasParent bool) tracectx.Context {
	if hasParent {
		return parent.Child()
	}
	c := tracectx.New()
	if binary.BigEndian.Uint64(c.TraceID[8:])>>1 < t.bound {
		c.Flags |= 1
	}
	return c
}

// Record queues a finished span for export when its trace is sampled. It
// never blocks: with the queue full the span is dropped and counted.
func (t *Tracer) Record(s *Span) {
	if !s.Context.Sampled() {
		return
	}
	select {
	case t.queue <- s:
	default:
		t.dropped(DroppedQueueFull, 1)
	}
}

func (t *Tracer) dropped(reason string, n int) {
	if t.o.Dropped != nil {
		t.o.Dropped(reason, n)
	}
}

// Shutdown sends the spans queued so far and stops the exporter; it
// returns ctx's error if ctx ends first (the rest are dropped).
func (t *Tracer) Shutdown(ctx context.Context) error {
	t.once.Do(func() { close(t.stop) })
	select {
	case <-t.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// export runs the batches: a batch goes when it is full or Interval after
// its first span, and at Shutdown.
func (t *Tracer) export() {
	defer close(t.done)
	batch := make([]*Span, 0, t.o.BatchSize)
	timer := time.NewTimer(t.o.Interval)
	timer.Stop()
	flush := func() {
		if len(batch) > 0 {
			t.send(batch)
			clear(batch)
			batch = batch[:0]
		}
	}
	for {
		select {
		case s := <-t.queue:
			if len(batch) == 0 {
				timer.Reset(t.o.Interval)
			}
			batch = append(batch, s)
			if len(batch) == cap(batch) {
				timer.Stop()
				flush()
			}
		case <-timer.C:
			flush()
		case <-t.stop:
			timer.Stop()
			for {
				select {
				case s := <-t.queue:
					batch = append(batch, s)
					if len(batch) == cap(batch) {
						flush()
					}
					continue
				default:
				}
				break
			}
			flush()
			return
		}
	}
}

var errStatus = errors.New("tracing: the collector refused the spans")
