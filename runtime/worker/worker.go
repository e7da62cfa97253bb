// Package worker is the driver between the log and the destination: a bounded
// pool of goroutines, each claiming the next runnable message from the queue,
// running the route's transform chain on instances it owns, dispatching the
// result, deciding from the route's retry policy what happens next, and
// saving that in the log with one call (Complete, Retry or Dead). A waiting
// sync caller is woken by the worker once the log holds the final record
// (Complete or Dead returned; Lookup answers from it before it is written),
// and a callback is queued by the log's writer once the record is written
// (type recorded; see the queue package's concurrency contract).
//
// Each worker owns one warm wasm.Instance per plugin, created on first use and
// replaced after any failure that poisons it, so no instance is ever shared.
// Pool.Run is the only entry point; it returns when its context is cancelled
// and every worker has finished (and recorded) the message it held.
package worker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/sluicehq/sluice/queue"
	"github.com/sluicehq/sluice/runtime/dispatch"
	"github.com/sluicehq/sluice/runtime/metrics"
	"github.com/sluicehq/sluice/runtime/registry"
	"github.com/sluicehq/sluice/runtime/results"
	"github.com/sluicehq/sluice/runtime/tracectx"
	"github.com/sluicehq/sluice/runtime/tracing"
	"github.com/sluicehq/sluice/runtime/wasm"
)

// Route is what a worker needs to know about a route.
type Route struct {
	Name       string
	Transforms []string     // plugin names, resolved in Pool.Plugins per message
	Retry      *RetryPolicy // nil: one attempt
	Callback   bool         // POST the final result to the route's callback (Pool.Callbacks)
	// ReplyTransforms reshape the destination's answer (plugin names).
	ReplyTransforms []string
	Destination     *Destination // nil: the transformed message is the result
	// Metrics counts the route's outcomes and deliveries (nil: not counted).
	Metrics *metrics.Route
}

// RetryPolicy says when a failed delivery runs again (async routes only: a
// sync caller is waiting and retries itself).
type RetryPolicy struct {
	MaxAttempts    int           // attempts in all, the first included
	InitialBackoff time.Duration // before the second attempt; doubles each time
	MaxBackoff     time.Duration // cap of one wait (a destination's Retry-After may ask for more)
	MaxAge         time.Duration // no attempt starts later than this after the message arrived
	// Retryable decides from the failure's code and the destination's status (0: no answer).
	Retryable func(code string, status int) bool
	// Park: a dead letter holds its ordering key until it is replayed or
	// discarded (else the key's next message runs).
	Park bool
}

// Notifier sends the callback of a message whose final record is written.
type Notifier interface{ Enqueue(queue.ID) }

// Destination is where a route delivers.
type Destination struct {
	URL     string
	Timeout time.Duration
	Headers []dispatch.Header // static headers from the config
	Forward []string          // source request headers passed on (forward_headers)
}

// Pool runs workers.
type Pool struct {
	Queue      queue.Queue
	Routes     map[string]*Route
	Plugins    *registry.Registry
	Callbacks  Notifier // for routes with Callback
	Dispatcher *dispatch.Dispatcher
	Waiters    *results.Waiters
	Workers    int
	Log        *slog.Logger
	// Metrics times and counts the transforms' plugin calls (nil: not counted).
	Metrics *metrics.Metrics
	// Tracer records the spans of the messages' stages (nil: tracing off;
	// destinations get a traceparent either way).
	Tracer *tracing.Tracer
}

// Run starts p.Workers workers and blocks until ctx is cancelled (or the
// queue closes) and all of them have stopped.
func (p *Pool) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for range max(p.Workers, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := &worker{pool: p, instances: make(map[*registry.Version]*wasm.Instance)}
			defer w.close()
			w.run(ctx)
		}()
	}
	wg.Wait()
}

// worker is one goroutine's state. Not safe for concurrent use.
type worker struct {
	pool      *Pool
	instances map[*registry.Version]*wasm.Instance
	gen       uint64              // registry generation the instances were checked against
	chain     []*registry.Version // leased for the current message
	call      wasm.Call
	hdrs      messageHeaders
	resp      dispatch.Response
	// The current message's stored trace context, when its spans are
	// recorded (spans: tracing on and the trace sampled).
	spans      bool
	trace      tracectx.Context
	traceState string
}

// reply runs the route's reply transforms over the destination's answer:
// the body is their input, the answer's status and headers and the request's
// metadata are theirs to read; they may set the status, headers, content type
// and body of the reply.
func (w *worker) reply(r *Route, m *queue.Message, raw *results.Response) (*results.Response, error) {
	chain, err := w.pool.Plugins.Acquire(r.ReplyTransforms, nil)
	if err != nil {
		return nil, err
	}
	defer w.pool.Plugins.Release(chain)
	out := &results.Response{Status: raw.Status, Headers: append([]results.Header(nil), raw.Headers...)}
	hdrs := messageHeaders(m.Headers)
	c := &wasm.Call{Input: raw.Body, Route: m.Route, CorrelationID: uuid.UUID(m.ID).String(), TraceID: TraceID(m),
		ContentType: m.ContentType, ReceivedAt: m.Received, Headers: &hdrs,
		ResponseStatus: raw.Status, ResponseHeaders: responseHeaders(raw.Headers)}
	for _, v := range chain {
		called := time.Now()
		inst, err := w.instance(v)
		if err == nil {
			err = inst.Transform(c)
		}
		if w.spans {
			w.pluginSpan("reply", v, inst, called, err)
		}
		pm := w.pool.Metrics.Plugin(v.Plugin.Name)
		pm.Called(time.Since(called))
		if err != nil {
			pm.Failed(pluginCode(err))
			var we *wasm.Error
			if errors.As(err, &we) && we.Discard {
				delete(w.instances, v)
			}
			return nil, err
		}
		if c.OutStatus != 0 {
			out.Status = c.OutStatus
		}
		if c.OutContentType != "" {
			out.Headers = setResultHeader(out.Headers, "Content-Type", c.OutContentType)
		}
		for _, h := range c.OutHeaders {
			out.Headers = setResultHeader(out.Headers, h.Name, h.Value)
		}
		c.Input = append([]byte(nil), c.Output...)
	}
	out.Body = c.Input
	return out, nil
}

// responseHeaders lets reply transforms read the destination's headers.
type responseHeaders []results.Header

func (h responseHeaders) Header(name string) (string, bool) {
	for _, x := range h {
		if strings.EqualFold(x.Name, name) {
			return x.Value, true
		}
	}
	return "", false
}

func setResultHeader(hs []results.Header, name, value string) []results.Header {
	for i := range hs {
		if strings.EqualFold(hs[i].Name, name) {
			hs[i].Value = value
			return hs
		}
	}
	return append(hs, results.Header{Name: name, Value: value})
}

// bodyTail is the Tail of out's record: the response's body, which
// Encode puts last, when it is m's own body unchanged (the log may keep it
// as a reference to the message's copy: queue.Record.Tail).
func bodyTail(out *results.Outcome, m *queue.Message) int {
	if r := out.Response; r != nil && len(r.Body) > 0 && bytes.Equal(r.Body, m.Body) {
		return len(r.Body)
	}
	return 0
}

// encodeBuf is a buffer sized for out's encoding, so Encode does not grow it.
func encodeBuf(out *results.Outcome) []byte {
	n := 256
	if out.Response != nil {
		n += len(out.Response.Body)
	}
	return make([]byte, 0, n)
}

// run handles messages until ctx is cancelled or the log closes. One
// message's path through a worker, top-down:
//
//	run      claims m from the log
//	process  runs the transforms and the delivery: an outcome and the attempt made
//	decide   (a pure function of the retry policy) what happens next: a decision
//	finish   saves the decision with exactly one call to the log (Complete,
//	         Retry or Dead) and hands the outcome on once it is written
func (w *worker) run(ctx context.Context) {
	for {
		m, err := w.pool.Queue.Next(ctx)
		if err != nil {
			if !errors.Is(err, context.Canceled) && !errors.Is(err, queue.ErrClosed) {
				w.pool.Log.Error("claiming message", "err", err)
			}
			return
		}
		r := w.pool.Routes[m.Route]
		var mr *metrics.Route
		if r != nil {
			mr = r.Metrics
		}
		mr.Started()
		out, att := w.process(r, m)
		mr.Finished()
		out.Hops = Hops(m) // its callback counts as the next hop
		out.TraceID = TraceID(m)
		out.TraceParent = TraceParent(m)
		d := decision{kind: complete}
		if p := retryPolicy(r, m); p != nil {
			out.Attempts = w.attemptLog(m, att)
			d = decide(p, m, out, time.Now(), rand.Int64N) // #nosec G404 -- backoff jitter, not a secret
		}
		w.finish(r, m, out, d)
	}
}

// retryPolicy is the policy m's attempts run under: nil (one attempt, no
// attempt log) without a route or a policy, and for a sync message (its
// caller is waiting and retries itself).
func retryPolicy(r *Route, m *queue.Message) *RetryPolicy {
	if r == nil || m.Sync {
		return nil
	}
	return r.Retry
}

// attemptLog is m's attempt log (kept in m.State while it retries) with
// att appended.
func (w *worker) attemptLog(m *queue.Message, att results.Attempt) []results.Attempt {
	log, err := results.DecodeAttempts(m.State)
	if err != nil {
		w.pool.Log.Error("unreadable attempt log; starting a new one", "correlation_id", uuid.UUID(m.ID).String(), "err", err)
		log = nil
	}
	return append(log, att)
}

// decisionKind is what happens to a message after an attempt.
type decisionKind uint8

const (
	complete decisionKind = iota // its outcome is final: succeeded or failed
	retry                        // it runs again at decision.at
	dead                         // a failed delivery that will not be tried again: a dead letter
)

func (k decisionKind) String() string {
	return [...]string{complete: "complete", retry: "retry", dead: "dead"}[k]
}

// decision is decide's answer: a value, saved by finish.
type decision struct {
	kind  decisionKind
	at    time.Time     // retry: the next attempt's earliest start (UTC)
	delay time.Duration // retry: at, from the moment of the decision
	park  bool          // dead: the dead letter holds its ordering key
}

// decide is what happens to m after an attempt whose outcome is out, under
// policy p, at now: retry if out is a delivery failure p retries, p allows
// another attempt and the wait (the backoff, or the destination's
// Retry-After when that is longer, even beyond MaxBackoff) ends within
// MaxAge; dead if it is a delivery failure that will not be retried;
// complete otherwise (a success, or a failure before or after the
// delivery: transforms are deterministic, the same input fails again).
// rnd draws the backoff's jitter (rand.Int64N); decide has no other input.
func decide(p *RetryPolicy, m *queue.Message, out *results.Outcome, now time.Time, rnd func(int64) int64) decision {
	if out.Succeeded || out.Error == nil || out.Error.Stage != "dispatch" {
		return decision{kind: complete}
	}
	if !p.Retryable(out.Error.Code, responseStatus(out)) || int(m.Attempts)+1 >= p.MaxAttempts {
		return decision{kind: dead, park: p.Park}
	}
	delay := backoff(p, int(m.Attempts)+1, rnd)
	if answer := destinationAnswer(out); answer != nil {
		if ra, ok := retryAfter(answer.Headers, now); ok && ra > delay {
			delay = ra
		}
	}
	if p.MaxAge > 0 && now.Sub(m.Received)+delay > p.MaxAge {
		return decision{kind: dead, park: p.Park}
	}
	return decision{kind: retry, at: now.Add(delay).UTC(), delay: delay}
}

// destinationAnswer is what the destination itself answered (nil: no
// answer): the retry policy judges that, not what reply transforms made
// of it for the caller.
func destinationAnswer(out *results.Outcome) *results.Response {
	if out.Raw != nil {
		return out.Raw
	}
	return out.Response
}

// responseStatus is the status the destination answered (0: no answer).
func responseStatus(out *results.Outcome) int {
	if a := destinationAnswer(out); a != nil {
		return a.Status
	}
	return 0
}

// finish saves d for m: the one place a worker writes to the log, with
// exactly one call (Retry, Dead or Complete), after counting the outcome
// and logging it. A final record (complete, dead) is handed on by a
// [recorded] once the log has written it. An error from the log means it
// is closing: m is still in it and runs again after a restart.
func (w *worker) finish(r *Route, m *queue.Message, out *results.Outcome, d decision) {
	var mr *metrics.Route
	if r != nil {
		mr = r.Metrics
	}
	id := uuid.UUID(m.ID).String()
	switch d.kind {
	case retry:
		mr.Retried()
		m.Attempts++
		m.NotBefore = d.at
		m.State = results.AppendAttempts(nil, out.Attempts)
		w.pool.Log.Info("delivery failed; retrying", "correlation_id", id, "trace_id", out.TraceID, "attempt", m.Attempts,
			"code", out.Error.Code, "status", responseStatus(out), "in", d.delay.Round(time.Millisecond))
		_ = w.pool.Queue.Retry(m, func(err error) {
			if err != nil {
				w.pool.Log.Error("recording a retry; the message runs again after a restart", "correlation_id", id,
					"trace_id", out.TraceID, "err", err)
			}
		})
	case dead:
		mr.Completed(metrics.StatusDead, time.Since(m.Received))
		w.pool.Log.Warn("delivery failed for good; dead letter", "correlation_id", id, "trace_id", out.TraceID, "route", m.Route,
			"attempts", len(out.Attempts), "code", out.Error.Code, "parked", d.park)
		rec := &queue.Record{Attempts: m.Attempts + 1, Payload: out.Encode(encodeBuf(out)),
			Notify: r.Callback && w.pool.Callbacks != nil}
		h := &recorded{pool: w.pool, id: m.ID, out: out, notify: rec.Notify,
			failed: "recording a dead letter; the message runs again after a restart"}
		_ = w.pool.Queue.Dead(m, rec, d.park, h.done)
		w.pool.Waiters.Notify(m.ID, out)
	default:
		rec := &queue.Record{Status: queue.StatusSucceeded, Attempts: m.Attempts + 1, Payload: out.Encode(encodeBuf(out)),
			Notify: r != nil && r.Callback && w.pool.Callbacks != nil, Tail: bodyTail(out, m)}
		if out.Succeeded {
			mr.Completed(metrics.StatusSucceeded, time.Since(m.Received))
		} else {
			mr.Completed(metrics.StatusFailed, time.Since(m.Received))
			rec.Status = queue.StatusFailed
		}
		h := &recorded{pool: w.pool, id: m.ID, out: out, notify: rec.Notify,
			failed: "recording outcome; the message will run again after a restart"}
		_ = w.pool.Queue.Complete(m, rec, h.done)
		w.pool.Waiters.Notify(m.ID, out)
	}
}

// recorded is the hand-off of a message's final record from the log back
// to the worker's side: the log calls done on its writer goroutine (see
// the queue package's concurrency contract) once the record is written or
// could not be. done queues the callback, only once the record is written
// (the callback sender reads it from the log), without blocking, as the
// log's writer requires. The sync caller waiting for the outcome is woken
// by finish itself as soon as the log has the record (Complete or Dead
// returned): the log answers Lookup from that moment, and its write is not
// synced either way, so waiting for it would only add the writer's cycle
// to every sync reply.
type recorded struct {
	pool   *Pool
	id     queue.ID
	out    *results.Outcome
	notify bool   // queue the callback
	failed string // the log line if the record could not be written
}

func (h *recorded) done(err error) {
	if err != nil {
		h.pool.Log.Error(h.failed, "correlation_id", uuid.UUID(h.id).String(), "trace_id", h.out.TraceID, "err", err)
	} else if h.notify {
		h.pool.Callbacks.Enqueue(h.id)
	}
}

// backoff is the wait before attempt n+1: InitialBackoff doubled n-1 times,
// capped at MaxBackoff, with "equal jitter" (half fixed, half drawn by rnd,
// rand.Int64N) so that messages failing together do not come back together.
func backoff(p *RetryPolicy, n int, rnd func(int64) int64) time.Duration {
	d := p.InitialBackoff
	for i := 1; i < n && d < p.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, p.MaxBackoff)
	if d <= 1 {
		return d
	}
	return d/2 + time.Duration(rnd(int64(d/2)+1))
}

// retryAfter reads a Retry-After header: seconds or an HTTP date.
func retryAfter(hs []results.Header, now time.Time) (time.Duration, bool) {
	for _, h := range hs {
		if !strings.EqualFold(h.Name, "Retry-After") {
			continue
		}
		v := strings.TrimSpace(h.Value)
		if n, err := strconv.ParseUint(v, 10, 32); err == nil {
			return time.Duration(n) * time.Second, true
		}
		if t, err := http.ParseTime(v); err == nil {
			return max(t.Sub(now), 0), true
		}
	}
	return 0, false
}

func (w *worker) close() {
	for _, inst := range w.instances {
		inst.Close()
	}
}

// process runs one message through its route r (nil: the route was removed
// from the config while the message waited): the transforms, then the
// delivery and the reply transforms. It returns the outcome and the
// attempt: the delivery's (when, how long, the status or failure), or, for
// a message that never reached a destination, the time spent and the
// failure if any.
func (w *worker) process(r *Route, m *queue.Message) (*results.Outcome, results.Attempt) {
	start := time.Now()
	out, att := w.transformAndDeliver(r, m)
	if att.At.IsZero() { // no delivery
		att = results.Attempt{At: start.UTC(), Latency: time.Since(start)}
		if out.Error != nil {
			att.Code, att.Message = out.Error.Code, out.Error.Message
		}
	}
	return out, att
}

// transformAndDeliver is process's work; its attempt is zero when no
// delivery was made.
func (w *worker) transformAndDeliver(r *Route, m *queue.Message) (*results.Outcome, results.Attempt) {
	if r == nil {
		return &results.Outcome{Error: &results.Error{Code: results.CodeInternal, Stage: "route",
			Message: fmt.Sprintf("route %q no longer exists", m.Route)}}, results.Attempt{}
	}
	out := &results.Outcome{}
	c := &w.call
	w.hdrs = messageHeaders(m.Headers)
	*c = wasm.Call{Input: m.Body, Route: m.Route, CorrelationID: uuid.UUID(m.ID).String(), TraceID: TraceID(m),
		ContentType: m.ContentType, ReceivedAt: m.Received, Headers: &w.hdrs, OutHeaders: c.OutHeaders[:0]}
	w.spans = false
	if w.pool.Tracer != nil {
		w.startSpans(m)
	}
	contentType := m.ContentType
	var headers []dispatch.Header
	w.dropRetired()
	chain, err := w.pool.Plugins.Acquire(r.Transforms, w.chain[:0])
	w.chain = chain
	if err != nil {
		return &results.Outcome{Error: &results.Error{Code: results.CodeInternal, Stage: "transform", Message: err.Error()}}, results.Attempt{}
	}
	// The versions stay open until the message is done with them, even if a
	// new version is swapped in meanwhile.
	defer w.pool.Plugins.Release(chain)
	for _, v := range chain {
		p := v.Plugin
		out.Plugins = append(out.Plugins, p.Version)
		called := time.Now()
		inst, err := w.instance(v)
		if err == nil {
			err = inst.Transform(c)
		}
		if w.spans {
			w.pluginSpan("transform", v, inst, called, err)
		}
		pm := w.pool.Metrics.Plugin(p.Name)
		pm.Called(time.Since(called))
		if err != nil {
			var we *wasm.Error
			if !errors.As(err, &we) {
				we = &wasm.Error{Code: wasm.CodeFailed, Plugin: p.Name, Message: err.Error(), Discard: true}
			}
			pm.Failed(we.Code)
			if we.Discard {
				delete(w.instances, v)
			}
			if we.Code != wasm.CodeRejected {
				w.pool.Log.Warn("plugin failed", "plugin", p.Name, "code", we.Code, "err", we.Message,
					"correlation_id", c.CorrelationID, "trace_id", TraceID(m))
			}
			out.Error = &results.Error{Code: we.Code, Message: we.Message, Stage: "transform", Plugin: p.Name}
			return out, results.Attempt{}
		}
		if c.OutContentType != "" {
			contentType = c.OutContentType
		}
		for _, h := range c.OutHeaders {
			headers = setHeader(headers, h.Name, h.Value)
		}
		c.Input = c.Output
	}
	body := c.Input

	if r.Destination == nil {
		resp := &results.Response{Status: 200, Body: body}
		if len(chain) > 0 { // the last transform's output may be the instance's buffer
			resp.Body = append([]byte(nil), body...)
		}
		if contentType != "" {
			resp.Headers = []results.Header{{Name: "Content-Type", Value: contentType}}
		}
		out.Succeeded, out.Response = true, resp
		return out, results.Attempt{}
	}
	d := r.Destination
	req := dispatch.Request{URL: d.URL, Body: body, ContentType: contentType, Timeout: d.Timeout}
	for _, name := range d.Forward {
		if v, ok := w.hdrs.Header(name); ok {
			req.Headers = append(req.Headers, dispatch.Header{Name: name, Value: v})
		}
	}
	for _, h := range d.Headers {
		req.Headers = setHeader(req.Headers, h.Name, h.Value)
	}
	for _, h := range headers {
		req.Headers = setHeader(req.Headers, h.Name, h.Value)
	}
	req.Headers = setHeader(req.Headers, "Sluice-Correlation-Id", c.CorrelationID)
	req.Headers = setHeader(req.Headers, "Sluice-Route", m.Route)
	req.Headers = setHeader(req.Headers, dispatch.HopsHeader, strconv.Itoa(Hops(m)+1))
	var span tracectx.Context
	req.Headers, span = traceHeaders(req.Headers, &w.hdrs)
	sent := time.Now()
	err = w.pool.Dispatcher.Send(&req, &w.resp)
	att := results.Attempt{At: sent.UTC(), Latency: time.Since(sent)}
	if err != nil {
		var de *dispatch.Error
		code := dispatch.CodeUnreachable
		if errors.As(err, &de) {
			code = de.Code
		}
		if w.spans {
			w.destinationSpan(span, m, d.URL, sent, 0, code)
		}
		r.Metrics.Attempt(code, att.Latency)
		out.Error = &results.Error{Code: code, Message: err.Error(), Stage: "dispatch"}
		att.Code, att.Message = code, err.Error()
		return out, att
	}
	att.Status = w.resp.Status
	if w.spans {
		failed := ""
		if w.resp.Status < 200 || w.resp.Status > 299 {
			failed = results.CodeDestinationFailed
		}
		w.destinationSpan(span, m, d.URL, sent, w.resp.Status, failed)
	}
	if w.resp.Status >= 200 && w.resp.Status <= 299 {
		r.Metrics.Attempt(metrics.OutcomeSucceeded, att.Latency)
	} else {
		r.Metrics.Attempt(results.CodeDestinationFailed, att.Latency)
	}
	resp := &results.Response{Status: w.resp.Status, Body: append([]byte(nil), w.resp.Body...)}
	for _, h := range w.resp.Headers {
		if !hopByHop(h.Name) {
			resp.Headers = append(resp.Headers, results.Header{Name: h.Name, Value: h.Value})
		}
	}
	out.Response = resp
	if len(r.ReplyTransforms) > 0 {
		out.Raw = resp
		reply, err := w.reply(r, m, resp)
		if err != nil {
			out.Response = nil
			out.Error = &results.Error{Code: results.CodeReplyFailed, Stage: "reply", Message: err.Error()}
			var we *wasm.Error
			if errors.As(err, &we) {
				out.Error.Plugin, out.Error.Message = we.Plugin, we.Code+": "+we.Message
			}
			return out, att
		}
		out.Response = reply
	}
	if resp.Status < 200 || resp.Status > 299 {
		out.Error = &results.Error{Code: results.CodeDestinationFailed, Stage: "dispatch",
			Message: fmt.Sprintf("destination %s answered %d", d.URL, resp.Status)}
		att.Code, att.Message = out.Error.Code, out.Error.Message
		return out, att
	}
	out.Succeeded = true
	return out, att
}

func (w *worker) instance(v *registry.Version) (*wasm.Instance, error) {
	if inst := w.instances[v]; inst != nil && !inst.Closed() {
		return inst, nil
	}
	inst, err := v.Plugin.Instantiate(context.Background())
	if err != nil {
		return nil, err
	}
	w.instances[v] = inst
	return inst, nil
}

// dropRetired closes this worker's instances of versions that were replaced
// (checked only when the registry changed).
func (w *worker) dropRetired() {
	gen := w.pool.Plugins.Gen()
	if gen == w.gen {
		return
	}
	w.gen = gen
	for v, inst := range w.instances {
		if v.Retired() {
			inst.Close()
			delete(w.instances, v)
		}
	}
}

func setHeader(hs []dispatch.Header, name, value string) []dispatch.Header {
	for i := range hs {
		if strings.EqualFold(hs[i].Name, name) {
			hs[i].Value = value
			return hs
		}
	}
	return append(hs, dispatch.Header{Name: name, Value: value})
}

func hopByHop(name string) bool {
	switch strings.ToLower(name) {
	case "connection", "keep-alive", "transfer-encoding", "content-length", "date", "server":
		return true
	}
	return false
}

// Hops is the Sluice-Hops a message arrived with (0 without one).
func Hops(m *queue.Message) int {
	for _, h := range m.Headers {
		if strings.EqualFold(h.Name, dispatch.HopsHeader) {
			if n, err := strconv.Atoi(h.Value); err == nil && n > 0 {
				return n
			}
			return 0
		}
	}
	return 0
}

// messageHeaders adapts a message's headers for the plugin meta function.
type messageHeaders []queue.Header

func (h *messageHeaders) Header(name string) (string, bool) {
	for _, x := range *h {
		if strings.EqualFold(x.Name, name) {
			return x.Value, true
		}
	}
	return "", false
}
