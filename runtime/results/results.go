// Package results defines what Sluice remembers about a processed message —
// its Outcome — how it is encoded into the log's record payload, how it is
// shown by GET /v1/results/{id}, and the waiters through which a sync caller
// (or any later long-poller) learns that a message finished.
//
// It imports only the standard library and internal/wire (the field encoding
// it shares with the log). Outcomes and views are plain values;
// Waiters is safe for concurrent use.
package results

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/sluicehq/sluice/internal/wire"
)

// Error codes stored in outcomes (the ingress maps them to HTTP statuses).
const (
	CodeDestinationFailed = "destination_failed"     // answered with a non-2xx status
	CodeReplyFailed       = "reply_transform_failed" // a reply transform failed; the destination's answer is in Raw
	CodeInternal          = "internal_error"
)

// Header is a name/value pair.
type Header struct {
	Name, Value string
}

// Response is the destination's answer, or the transformed message when the
// route has no destination.
type Response struct {
	Status  int
	Headers []Header
	Body    []byte
}

// Error is why a message failed.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Stage   string `json:"stage,omitempty"`  // transform | dispatch
	Plugin  string `json:"plugin,omitempty"` // for transform failures
}

// Outcome is a message's final result.
type Outcome struct {
	Succeeded bool
	Response  *Response
	Error     *Error
	Plugins   []string  // name@sha256-prefix of each transform that ran
	Attempts  []Attempt // every delivery attempt, oldest first (routes with a retry policy)
	// Raw is the destination's own answer when reply transforms reshaped it
	// into Response (or failed: Response is nil then).
	Raw *Response
	// Hops is the Sluice-Hops the message arrived with: its callback goes
	// out with one more.
	Hops int
	// TraceID is the message's W3C trace id (hex; empty for a message
	// stored before Sluice kept trace context).
	TraceID string
	// TraceParent is the message's stored traceparent (the ingest span's,
	// with tracing on): the callback's span is its child.
	TraceParent string
}

// Attempt is one try at a message: when, what the destination answered (0:
// no answer), how long it took, and the error if it failed.
type Attempt struct {
	At      time.Time
	Status  int
	Latency time.Duration
	Code    string // empty: succeeded
	Message string
}

// AppendAttempts encodes attempts (the worker keeps them with a message
// waiting for its next attempt).
func AppendAttempts(b []byte, as []Attempt) []byte {
	b = binary.AppendUvarint(b, uint64(len(as)))
	for _, a := range as {
		b = binary.AppendVarint(b, a.At.UnixNano())
		b = binary.AppendUvarint(b, uint64(a.Status))  // #nosec G115 -- an HTTP status: 0 or 100-599
		b = binary.AppendUvarint(b, uint64(a.Latency)) // #nosec G115 -- the bits round-trip through DecodeAttempts
		b = wire.AppendString(b, a.Code)
		b = wire.AppendString(b, a.Message)
	}
	return b
}

// DecodeAttempts decodes what AppendAttempts wrote.
func DecodeAttempts(b []byte) ([]Attempt, error) {
	d := wire.NewReader(b)
	as, err := readAttempts(&d)
	if err == nil && d.Len() > 0 {
		err = errBadPayload
	}
	return as, err
}

func readAttempts(d *wire.Reader) ([]Attempt, error) {
	if d.Len() == 0 {
		return nil, nil
	}
	n := d.Count()
	if d.Failed() {
		return nil, errBadPayload
	}
	as := make([]Attempt, 0, n)
	for range n {
		as = append(as, Attempt{At: time.Unix(0, d.Varint()).UTC(), Status: int(d.Uvarint()), // #nosec G115 -- decodes what AppendAttempts wrote into Sluice's own log
			Latency: time.Duration(d.Uvarint()), Code: d.LenString(), Message: d.LenString()}) // #nosec G115 -- the bits AppendAttempts wrote
	}
	if d.Failed() {
		return nil, errBadPayload
	}
	return as, nil
}

var errBadPayload = errors.New("results: malformed outcome payload")

const payloadVersion = 1

// Encode appends the payload stored in the log record to b. The format is
// compact binary: the payload is written for every message, so it avoids
// JSON's base64 for bodies.
func (o *Outcome) Encode(b []byte) []byte {
	var flags byte
	if o.Succeeded {
		flags |= 1
	}
	if o.Response != nil {
		flags |= 2
	}
	if o.Error != nil {
		flags |= 4
	}
	if len(o.Attempts) > 0 {
		flags |= 8
	}
	if o.Raw != nil {
		flags |= 16
	}
	if o.Hops > 0 {
		flags |= 32
	}
	if o.TraceID != "" {
		flags |= 64
	}
	if o.TraceParent != "" {
		flags |= 128
	}
	b = append(b, payloadVersion, flags)
	b = binary.AppendUvarint(b, uint64(len(o.Plugins)))
	for _, p := range o.Plugins {
		b = wire.AppendString(b, p)
	}
	if e := o.Error; e != nil {
		b = wire.AppendString(b, e.Code)
		b = wire.AppendString(b, e.Message)
		b = wire.AppendString(b, e.Stage)
		b = wire.AppendString(b, e.Plugin)
	}
	if len(o.Attempts) > 0 {
		b = AppendAttempts(b, o.Attempts)
	}
	if o.Hops > 0 {
		b = binary.AppendUvarint(b, uint64(o.Hops))
	}
	if o.TraceID != "" {
		b = wire.AppendString(b, o.TraceID)
	}
	if o.TraceParent != "" {
		b = wire.AppendString(b, o.TraceParent)
	}
	if r := o.Raw; r != nil {
		b = binary.AppendUvarint(b, uint64(r.Status)) // #nosec G115 -- an HTTP status: 100-599
		b = binary.AppendUvarint(b, uint64(len(r.Headers)))
		for _, h := range r.Headers {
			b = wire.AppendString(b, h.Name)
			b = wire.AppendString(b, h.Value)
		}
		b = wire.AppendString(b, string(r.Body))
	}
	if r := o.Response; r != nil {
		b = binary.AppendUvarint(b, uint64(r.Status)) // #nosec G115 -- an HTTP status: 100-599
		b = binary.AppendUvarint(b, uint64(len(r.Headers)))
		for _, h := range r.Headers {
			b = wire.AppendString(b, h.Name)
			b = wire.AppendString(b, h.Value)
		}
		b = append(b, r.Body...) // the rest
	}
	return b
}

// Decode parses a payload written by Encode. An empty payload is a zero Outcome.
func Decode(b []byte) (*Outcome, error) {
	o := &Outcome{}
	if len(b) == 0 {
		return o, nil
	}
	if len(b) < 2 || b[0] != payloadVersion {
		return nil, errBadPayload
	}
	flags := b[1]
	d := wire.NewReader(b[2:])
	n := d.Count()
	if d.Failed() {
		return nil, errBadPayload
	}
	for range n {
		o.Plugins = append(o.Plugins, d.LenString())
	}
	o.Succeeded = flags&1 != 0
	if flags&4 != 0 {
		o.Error = &Error{Code: d.LenString(), Message: d.LenString(), Stage: d.LenString(), Plugin: d.LenString()}
	}
	if flags&8 != 0 {
		as, err := readAttempts(&d)
		if err != nil {
			return nil, err
		}
		o.Attempts = as
	}
	if flags&32 != 0 {
		o.Hops = int(min(d.Uvarint(), 1<<20))
	}
	if flags&64 != 0 {
		o.TraceID = d.LenString()
	}
	if flags&128 != 0 {
		o.TraceParent = d.LenString()
	}
	if flags&16 != 0 {
		o.Raw = readResponse(&d)
		o.Raw.Body = []byte(d.LenString())
	}
	if flags&2 != 0 {
		o.Response = readResponse(&d)
		o.Response.Body = append([]byte(nil), d.Rest()...)
	}
	if d.Failed() {
		return nil, errBadPayload
	}
	return o, nil
}

// readResponse reads a response's status and headers (its body is stored
// differently for Raw and Response: the caller reads it).
func readResponse(d *wire.Reader) *Response {
	r := &Response{Status: int(d.Uvarint())} // #nosec G115 -- decodes what Encode wrote into Sluice's own log
	n := d.Count()
	for range n {
		r.Headers = append(r.Headers, Header{Name: d.LenString(), Value: d.LenString()})
	}
	return r
}

// Meta is what the log knows about a message, independent of its outcome.
type Meta struct {
	CorrelationID string
	Route         string
	Status        string // accepted | processing | retrying | succeeded | failed | dead
	Attempts      int
	Created       time.Time
	Updated       time.Time
}

// View is the JSON document of GET /v1/results/{id}.
type View struct {
	CorrelationID string        `json:"correlation_id"`
	Route         string        `json:"route"`
	Status        string        `json:"status"`
	Attempts      int           `json:"attempts"`
	TraceID       string        `json:"trace_id,omitempty"` // W3C trace id (final results)
	CreatedAt     time.Time     `json:"created_at"`
	UpdatedAt     time.Time     `json:"updated_at"`
	Response      *ResponseView `json:"response,omitempty"`
	Error         *Error        `json:"error,omitempty"`
	Plugins       []string      `json:"plugins,omitempty"`
	AttemptLog    []AttemptView `json:"attempt_log,omitempty"`
	// NextAttemptAt (retrying): when the next attempt may start; absent
	// while it is being made.
	NextAttemptAt *time.Time `json:"next_attempt_at,omitempty"`
	// DestinationResponse is the destination's own answer when reply
	// transforms reshaped it (or failed).
	DestinationResponse *ResponseView `json:"destination_response,omitempty"`
}

// AttemptView is one attempt in a result document.
type AttemptView struct {
	At        time.Time `json:"at"`
	Status    int       `json:"status,omitempty"` // the destination's answer; absent if none
	LatencyMS float64   `json:"latency_ms"`
	Error     *Error    `json:"error,omitempty"`
}

// AttemptViews converts attempts for a result document.
func AttemptViews(as []Attempt) []AttemptView {
	out := make([]AttemptView, 0, len(as))
	for _, a := range as {
		v := AttemptView{At: a.At, Status: a.Status, LatencyMS: float64(a.Latency.Microseconds()) / 1000}
		if a.Code != "" {
			v.Error = &Error{Code: a.Code, Message: a.Message}
		}
		out = append(out, v)
	}
	return out
}

// ResponseView shows a body as a string when it is UTF-8, else as base64.
type ResponseView struct {
	Status     int               `json:"status"`
	Headers    map[string]string `json:"headers"`
	Body       *string           `json:"body,omitempty"`
	BodyBase64 *string           `json:"body_base64,omitempty"`
}

// NewView combines log metadata and an outcome (nil while not final).
func NewView(m Meta, o *Outcome) View {
	v := View{CorrelationID: m.CorrelationID, Route: m.Route, Status: m.Status, Attempts: m.Attempts,
		CreatedAt: m.Created, UpdatedAt: m.Updated}
	if o == nil {
		return v
	}
	v.Error, v.Plugins, v.TraceID = o.Error, o.Plugins, o.TraceID
	if len(o.Attempts) > 0 {
		v.AttemptLog = AttemptViews(o.Attempts)
	}
	v.Response, v.DestinationResponse = responseView(o.Response), responseView(o.Raw)
	return v
}

// Retrying fills in a message between its first failed attempt and its
// outcome: the attempts so far, the last one's error (retries follow
// delivery failures only) and when the next attempt may start (zero: it is
// being made).
func (v *View) Retrying(as []Attempt, next time.Time) {
	v.AttemptLog = AttemptViews(as)
	if n := len(as); n > 0 && as[n-1].Code != "" {
		v.Error = &Error{Code: as[n-1].Code, Message: as[n-1].Message, Stage: "dispatch"}
	}
	if !next.IsZero() {
		next = next.UTC()
		v.NextAttemptAt = &next
	}
}

func responseView(r *Response) *ResponseView {
	if r == nil {
		return nil
	}
	rv := &ResponseView{Status: r.Status, Headers: make(map[string]string, len(r.Headers))}
	for _, h := range r.Headers {
		if prev, ok := rv.Headers[h.Name]; ok {
			rv.Headers[h.Name] = prev + ", " + h.Value
		} else {
			rv.Headers[h.Name] = h.Value
		}
	}
	if utf8.Valid(r.Body) {
		s := string(r.Body)
		rv.Body = &s
	} else {
		s := base64.StdEncoding.EncodeToString(r.Body)
		rv.BodyBase64 = &s
	}
	return rv
}

// Waiters lets a caller wait for a message's outcome. Safe for concurrent use.
type Waiters struct {
	mu sync.Mutex
	m  map[[16]byte][]chan *Outcome
}

// NewWaiters returns an empty registry.
func NewWaiters() *Waiters { return &Waiters{m: make(map[[16]byte][]chan *Outcome)} }

// Register must be called before the message can complete. The channel
// receives the outcome once; call Cancel with it if you stop waiting. Any
// number of waiters may wait for one id (a sync caller and long-polls).
func (w *Waiters) Register(id [16]byte) <-chan *Outcome {
	ch := make(chan *Outcome, 1)
	w.mu.Lock()
	w.m[id] = append(w.m[id], ch)
	w.mu.Unlock()
	return ch
}

// Cancel forgets the registration that returned ch.
func (w *Waiters) Cancel(id [16]byte, ch <-chan *Outcome) {
	w.mu.Lock()
	defer w.mu.Unlock()
	chs := w.m[id]
	for i, c := range chs {
		if c == ch {
			chs = append(chs[:i], chs[i+1:]...)
			break
		}
	}
	if len(chs) == 0 {
		delete(w.m, id)
	} else {
		w.m[id] = chs
	}
}

// Notify hands o to every waiter of id; it never blocks.
func (w *Waiters) Notify(id [16]byte, o *Outcome) {
	w.mu.Lock()
	chs := w.m[id]
	delete(w.m, id)
	w.mu.Unlock()
	for _, ch := range chs {
		ch <- o
	}
}
