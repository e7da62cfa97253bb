// Package results defines what Sluice remembers about a processed message —
// its Outcome — how it is encoded into the log's record payload, how it is
// shown by GET /v1/results/{id}, and the waiters through which a sync caller
// (or any later long-poller) learns that a message finished.
//
// It imports only the standard library. Outcomes and views are plain values;
// Waiters is safe for concurrent use.
package results

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Error codes stored in outcomes (the ingress maps them to HTTP statuses).
const (
	CodeDestinationFailed = "destination_failed" // answered with a non-2xx status
	CodeInternal          = "internal_error"
)

// Header is a name/value pair.
type Header struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Response is the destination's answer, or the transformed message when the
// route has no destination.
type Response struct {
	Status  int      `json:"status"`
	Headers []Header `json:"headers,omitempty"`
	Body    []byte   `json:"body,omitempty"`
}

// ContentType returns the Content-Type header, if any.
func (r *Response) ContentType() string {
	for _, h := range r.Headers {
		if strings.EqualFold(h.Name, "Content-Type") {
			return h.Value
		}
	}
	return ""
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
	Succeeded bool      `json:"ok"`
	Response  *Response `json:"response,omitempty"`
	Error     *Error    `json:"error,omitempty"`
	Plugins   []string  `json:"plugins,omitempty"` // name@sha256-prefix of each transform that ran
}

var errBadPayload = errors.New("results: malformed outcome payload")

// Encode returns the payload stored in the log record.
func (o *Outcome) Encode() []byte {
	b, err := json.Marshal(o)
	if err != nil {
		panic(err) // only plain data: cannot fail
	}
	return b
}

// Decode parses a payload written by Encode. An empty payload is a zero Outcome.
func Decode(b []byte) (*Outcome, error) {
	o := &Outcome{}
	if len(b) == 0 {
		return o, nil
	}
	if err := json.Unmarshal(b, o); err != nil {
		return nil, fmt.Errorf("%w: %v", errBadPayload, err)
	}
	return o, nil
}

// Meta is what the log knows about a message, independent of its outcome.
type Meta struct {
	CorrelationID string
	Route         string
	Status        string // accepted | processing | succeeded | failed
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
	CreatedAt     time.Time     `json:"created_at"`
	UpdatedAt     time.Time     `json:"updated_at"`
	Response      *ResponseView `json:"response,omitempty"`
	Error         *Error        `json:"error,omitempty"`
	Plugins       []string      `json:"plugins,omitempty"`
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
	v.Error, v.Plugins = o.Error, o.Plugins
	if r := o.Response; r != nil {
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
		v.Response = rv
	}
	return v
}

// Waiters lets a caller wait for a message's outcome. Safe for concurrent use.
type Waiters struct {
	mu sync.Mutex
	m  map[[16]byte]chan *Outcome
}

// NewWaiters returns an empty registry.
func NewWaiters() *Waiters { return &Waiters{m: make(map[[16]byte]chan *Outcome)} }

// Register must be called before the message can complete. The channel
// receives the outcome once; call Cancel if you stop waiting.
func (w *Waiters) Register(id [16]byte) <-chan *Outcome {
	ch := make(chan *Outcome, 1)
	w.mu.Lock()
	w.m[id] = ch
	w.mu.Unlock()
	return ch
}

// Cancel forgets a registration.
func (w *Waiters) Cancel(id [16]byte) {
	w.mu.Lock()
	delete(w.m, id)
	w.mu.Unlock()
}

// Notify hands o to the waiter of id, if any; it never blocks.
func (w *Waiters) Notify(id [16]byte, o *Outcome) {
	w.mu.Lock()
	ch, ok := w.m[id]
	delete(w.m, id)
	w.mu.Unlock()
	if ok {
		ch <- o
	}
}
