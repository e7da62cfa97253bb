// Package callback POSTs each final result to its route's callback URL, signed
// as Standard Webhooks (https://www.standardwebhooks.com) signs: headers
// webhook-id (the correlation id, the same on every retry), webhook-timestamp
// and webhook-signature "v1,<base64 HMAC-SHA256 of id.timestamp.body>".
//
// The callback is durable: the log writes it to an outbox in the same batch
// as the final record (queue.Record.Notify), the Sender delivers it with
// retries and only then forgets it (queue.CallbackDone). After a crash the
// outbox is sent again, so a receiver may see a callback twice: dedupe on
// webhook-id.
package callback

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/sluicehq/sluice/queue"
	"github.com/sluicehq/sluice/runtime/dispatch"
	"github.com/sluicehq/sluice/runtime/metrics"
	"github.com/sluicehq/sluice/runtime/results"
	"github.com/sluicehq/sluice/runtime/tracectx"
	"github.com/sluicehq/sluice/runtime/tracing"
)

// Target is where a route's results go.
type Target struct {
	URL     string
	Secret  []byte // HMAC key; nil: unsigned
	Timeout time.Duration
	// Metrics counts the attempts (nil: not counted).
	Metrics *metrics.Route
}

// Sign returns the webhook-signature value for a message.
func Sign(secret []byte, id string, ts int64, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	fmt.Fprintf(mac, "%s.%d.", id, ts)
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// Sender delivers callbacks. Set the fields, then Run.
type Sender struct {
	Queue      queue.Queue
	Dispatcher *dispatch.Dispatcher
	Targets    map[string]*Target // by route
	Log        *slog.Logger
	// Retries: at most MaxAttempts tries, InitialBackoff doubling up to
	// MaxBackoff (defaults 10, 1s, 5m). Then the callback is dropped (logged).
	MaxAttempts    int
	InitialBackoff time.Duration
	MaxBackoff     time.Duration
	// Tracer records a span for each attempt (nil: tracing off; the
	// callback carries a traceparent of the message's trace either way).
	Tracer *tracing.Tracer

	ctx context.Context
	sem chan struct{}
	wg  sync.WaitGroup
}

// Start begins sending: first what the outbox holds from before, then what
// Enqueue hands it, until ctx is cancelled (unsent callbacks stay in the
// outbox for the next start). Call it before anything calls Enqueue; Wait
// returns once every delivery stopped.
func (s *Sender) Start(ctx context.Context) {
	s.ctx = ctx
	s.sem = make(chan struct{}, 16)
	if s.MaxAttempts <= 0 {
		s.MaxAttempts = 10
	}
	if s.InitialBackoff <= 0 {
		s.InitialBackoff = time.Second
	}
	if s.MaxBackoff <= 0 {
		s.MaxBackoff = 5 * time.Minute
	}
	ids, err := s.Queue.Callbacks()
	if err != nil {
		s.Log.Error("reading the callback outbox", "err", err)
	}
	for _, id := range ids {
		s.Enqueue(id)
	}
}

// Wait blocks until every delivery stopped (after ctx is cancelled).
func (s *Sender) Wait() { s.wg.Wait() }

// Enqueue sends the callback of a message whose final record (with Notify)
// is written.
func (s *Sender) Enqueue(id queue.ID) {
	if s.ctx.Err() != nil {
		return // stopping: the outbox keeps it
	}
	s.wg.Add(1)
	go s.deliver(id)
}

// deliver tries until the callback is sent, given up, or the sender stops
// (the outbox keeps it then).
func (s *Sender) deliver(id queue.ID) {
	defer s.wg.Done()
	idStr := uuid.UUID(id).String()
	for attempt := 1; ; attempt++ {
		select {
		case s.sem <- struct{}{}:
		case <-s.ctx.Done():
			return
		}
		traceID, err := s.send(id)
		<-s.sem
		var de *dispatch.Error
		if errors.As(err, &de) && de.Code == dispatch.CodeDenied { // denied now is denied on every retry
			s.Log.Error("callback refused by dispatch.deny_networks; dropped", "correlation_id", idStr, "trace_id", traceID, "err", err)
			err = errGone
		}
		if err != nil && !errors.Is(err, errGone) && attempt < s.MaxAttempts {
			d := s.InitialBackoff << (attempt - 1)
			if d <= 0 || d > s.MaxBackoff {
				d = s.MaxBackoff
			}
			d = d/2 + time.Duration(rand.Int64N(int64(d/2)+1)) // #nosec G404 -- backoff jitter, not a secret
			s.Log.Warn("callback failed; retrying", "correlation_id", idStr, "trace_id", traceID, "attempt", attempt, "in", d.Round(time.Millisecond), "err", err)
			t := time.NewTimer(d)
			select {
			case <-t.C:
				continue
			case <-s.ctx.Done():
				t.Stop()
				return
			}
		}
		if err != nil && !errors.Is(err, errGone) {
			s.Log.Error("callback failed for good; dropped", "correlation_id", idStr, "trace_id", traceID, "attempts", attempt, "err", err)
		}
		if err := s.Queue.CallbackDone(id); err != nil {
			s.Log.Error("forgetting a sent callback; it may be sent again after a restart", "correlation_id", idStr, "trace_id", traceID, "err", err)
		}
		return
	}
}

var errGone = errors.New("callback: no final record (expired) or no callback for its route")

// send POSTs the result document of id once. It returns the trace the
// callback belongs to (for the log lines about it; empty when there is no
// record to send).
func (s *Sender) send(id queue.ID) (traceID string, err error) {
	rec, err := s.Queue.Lookup(id)
	if errors.Is(err, queue.ErrNotFound) || (err == nil && !rec.Status.Final()) {
		return "", errGone
	}
	if err != nil {
		return "", err
	}
	t := s.Targets[rec.Route]
	if t == nil {
		return "", errGone
	}
	out, err := results.Decode(rec.Payload)
	if err != nil {
		return "", errGone
	}
	idStr := uuid.UUID(id).String()
	body, err := json.Marshal(results.NewView(results.Meta{CorrelationID: idStr, Route: rec.Route,
		Status: rec.Status.String(), Attempts: int(rec.Attempts), Created: rec.Created, Updated: rec.Updated}, out))
	if err != nil {
		return "", err
	}
	ts := time.Now().Unix()
	req := dispatch.Request{URL: t.URL, Body: body, ContentType: "application/json", Timeout: t.Timeout,
		Headers: []dispatch.Header{
			{Name: "webhook-id", Value: idStr},
			{Name: "webhook-timestamp", Value: strconv.FormatInt(ts, 10)},
			{Name: "Sluice-Correlation-Id", Value: idStr},
			{Name: "Sluice-Route", Value: rec.Route},
			{Name: dispatch.HopsHeader, Value: strconv.Itoa(out.Hops + 1)},
		}}
	if t.Secret != nil {
		req.Headers = append(req.Headers, dispatch.Header{Name: "webhook-signature", Value: Sign(t.Secret, idStr, ts, body)})
	}
	// The callback is a span of the message's trace, a child of the span
	// the ingress stored (a record from before Sluice kept it: a new trace).
	parent, traced := tracectx.Parse(out.TraceParent)
	span := tracectx.New()
	if traced {
		span = parent.Child()
	}
	req.Headers = append(req.Headers, dispatch.Header{Name: tracectx.TraceparentHeader, Value: span.String()})
	traceID = span.TraceIDString()
	var resp dispatch.Response
	sent := time.Now()
	err = s.Dispatcher.Send(&req, &resp)
	code := ""
	switch {
	case err != nil:
		code = dispatch.CodeUnreachable
		var de *dispatch.Error
		if errors.As(err, &de) {
			code = de.Code
		}
	case resp.Status < 200 || resp.Status > 299:
		code = results.CodeDestinationFailed
		err = fmt.Errorf("callback %s answered %d", t.URL, resp.Status)
	}
	if s.Tracer != nil && span.Sampled() {
		s.Tracer.Record(callbackSpan(span, parent.SpanID, t.URL, rec.Route, idStr, sent, resp.Status, code))
	}
	if code != "" {
		t.Metrics.Callback(code)
		return traceID, err
	}
	t.Metrics.Callback(metrics.OutcomeSucceeded)
	return traceID, nil
}

// callbackSpan is an attempt's HTTP client span; status 0 is no answer.
func callbackSpan(c tracectx.Context, parent [8]byte, rawURL, route, id string, start time.Time, status int, code string) *tracing.Span {
	s := &tracing.Span{Context: c, Parent: parent, Name: "POST", Kind: tracing.KindClient, Start: start, End: time.Now(),
		Attrs: []tracing.Attr{tracing.String("http.request.method", "POST"), tracing.String("sluice.route", route),
			tracing.String("sluice.correlation_id", id), tracing.String("sluice.hop", "callback")}}
	if u, err := url.Parse(rawURL); err == nil {
		u.User, u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = nil, "", false, "", ""
		s.Attrs = append(s.Attrs, tracing.String("url.full", u.String()), tracing.String("server.address", u.Hostname()))
	}
	if status != 0 {
		s.Attrs = append(s.Attrs, tracing.Int("http.response.status_code", int64(status)))
		if code != "" {
			code = strconv.Itoa(status)
		}
	}
	if code != "" {
		s.Err = code
		s.Attrs = append(s.Attrs, tracing.String("error.type", code))
	}
	return s
}
