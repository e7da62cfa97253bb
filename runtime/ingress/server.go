package ingress

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"github.com/sluicehq/sluice/runtime/errcode"
	"log/slog"
	"mime"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/sluicehq/sluice/queue"
	"github.com/sluicehq/sluice/runtime/config"
	"github.com/sluicehq/sluice/runtime/dispatch"
	"github.com/sluicehq/sluice/runtime/metrics"
	"github.com/sluicehq/sluice/runtime/results"
	"github.com/sluicehq/sluice/runtime/tracectx"
	"github.com/sluicehq/sluice/runtime/tracing"
	"github.com/sluicehq/sluice/runtime/validate"
	"github.com/sluicehq/sluice/runtime/verify"
	"github.com/sluicehq/sluice/runtime/wasm"
	"github.com/valyala/fasthttp"
)

// Route is what the ingress needs to know about a route.
type Route struct {
	Name string
	Sync bool
	// Metrics counts the route's requests (nil: not counted).
	Metrics *metrics.Route
	// Checks before a message is accepted (nothing is stored if one fails).
	Accept     []string         // media types; empty: any
	Schema     *validate.Schema // nil: none
	Validators []string         // validator plugins, run by Options.Validator
	OrderMode  string           // route | none | header | json (config.Order*); ignored for sync routes
	OrderArg   string           // header name or JSON pointer
	// Verifier checks the sender before anything else is done with the
	// body (nil: anyone who reaches the port may post). With APIKey its keys
	// also read the route's results.
	Verifier *verify.Verifier
	APIKey   bool
	// DropHeaders are not stored with the message (the credentials an
	// api_key route was called with).
	DropHeaders []string
	// RateLimit caps accepted requests: RPS a second, Burst at once (429
	// rate_limited past it). RPS 0: no limit.
	RPS   float64
	Burst int
}

// Limits bound what one client, or all of them, may cost the server. Zero
// fields take the defaults of runtime/config (DefaultHTTP).
type Limits struct {
	ReadHeaderTimeout time.Duration // first byte to the end of the headers
	MinBodyRate       int64         // bytes a second a body must arrive at, at least
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration
	ShutdownTimeout   time.Duration // Shutdown then closes what is still open
	MaxHeaderSize     int           // 431 beyond
	MaxHeaders        int           // 431 beyond
	MaxConnections    int
	MaxConnsPerIP     int   // 0: no per-address cap
	MaxInflightBytes  int64 // request bodies being received at once; 503 server_busy beyond
	MaxHops           int   // Sluice-Hops at or over this: 508 loop_detected
}

func (l Limits) withDefaults() Limits {
	d := config.DefaultHTTP()
	or := func(v *time.Duration, d config.Duration) {
		if *v <= 0 {
			*v = d.D()
		}
	}
	or(&l.ReadHeaderTimeout, d.ReadHeaderTimeout)
	or(&l.WriteTimeout, d.WriteTimeout)
	or(&l.IdleTimeout, d.IdleTimeout)
	or(&l.ShutdownTimeout, d.ShutdownTimeout)
	if l.MinBodyRate <= 0 {
		l.MinBodyRate = int64(d.MinBodyRate)
	}
	if l.MaxHeaderSize <= 0 {
		l.MaxHeaderSize = int(d.MaxHeaderSize)
	}
	if l.MaxHeaders <= 0 {
		l.MaxHeaders = d.MaxHeaders
	}
	if l.MaxConnections <= 0 {
		l.MaxConnections = d.MaxConnections
	}
	if l.MaxInflightBytes <= 0 {
		l.MaxInflightBytes = int64(d.MaxInflightBytes)
	}
	if l.MaxHops <= 0 {
		l.MaxHops = d.MaxHops
	}
	return l
}

// Options configure a Server.
type Options struct {
	Routes      []Route
	Queue       queue.Queue
	Waiters     *results.Waiters
	MaxBodySize int
	SyncTimeout time.Duration
	// IdempotencyTTL is how long an Idempotency-Key is remembered (0:
	// config.DefaultIdempotencyTTL).
	IdempotencyTTL time.Duration
	// MaxResultWait caps GET /v1/results/{id}?wait= (default 60s).
	MaxResultWait time.Duration
	Log           *slog.Logger
	// Validator runs routes' validator plugins.
	Validator interface {
		Validate(plugins []string, c *wasm.Call, trace tracectx.Context) error
	}
	// Ready, if set, says whether new messages can be accepted: GET /healthz
	// answers 503 with the error's code while it returns one (ErrDiskFull).
	Ready func() error
	// OperatorToken (the admin token) reads every result; "" : none.
	OperatorToken string
	// TLS, if set, serves HTTPS (its GetCertificate may swap certificates).
	TLS *tls.Config
	// Metrics counts requests for routes the config does not have (nil: not counted).
	Metrics *metrics.Metrics
	// Tracer records the ingest spans (nil: tracing off; trace context is
	// still kept with every message).
	Tracer *tracing.Tracer
	Limits
}

// Server is the HTTP ingress. Safe for concurrent use.
type Server struct {
	opts      Options
	routes    map[string]*routeState
	srv       *fasthttp.Server
	log       *slog.Logger
	draining  atomic.Bool
	closing   chan struct{} // closed by Shutdown: long-polls answer at once
	close     sync.Once
	tokenHash []byte // sha256 of the operator token; nil: none
	anyAuth   bool   // some route verifies its sender
	inflight  atomic.Int64
	conns     *tracker

	idemMu   sync.Mutex
	idemBusy map[string]struct{} // route\x00key of requests being handled
}

// DefaultMaxResultWait caps a long-poll when Options.MaxResultWait is zero.
const DefaultMaxResultWait = time.Minute

// New returns a Server; call Serve to start it.
func New(o Options) *Server {
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.MaxResultWait <= 0 {
		o.MaxResultWait = DefaultMaxResultWait
	}
	if o.IdempotencyTTL <= 0 {
		o.IdempotencyTTL = config.DefaultIdempotencyTTL
	}
	o.Limits = o.Limits.withDefaults()
	s := &Server{opts: o, routes: make(map[string]*routeState, len(o.Routes)), log: o.Log, closing: make(chan struct{}),
		idemBusy: make(map[string]struct{}), conns: newTracker()}
	if o.OperatorToken != "" {
		h := sha256.Sum256([]byte(o.OperatorToken))
		s.tokenHash = h[:]
	}
	for i := range o.Routes {
		r := &routeState{Route: &o.Routes[i]}
		if r.RPS > 0 {
			r.limit = newBucket(r.RPS, r.Burst)
		}
		s.anyAuth = s.anyAuth || r.Verifier != nil
		s.routes[r.Name] = r
	}
	s.srv = &fasthttp.Server{
		Handler:        s.handle,
		ErrorHandler:   s.handleError,
		Name:           "sluice",
		Logger:         fasthttpLogger{o.Log},
		TLSConfig:      o.TLS,
		HeaderReceived: s.headerReceived,
		ExpectHandler:  s.expect,
		// Bodies stream: the handler sees the headers first (route, size,
		// budget) and reads the body itself, once, into the message.
		StreamRequestBody:  true,
		MaxRequestBodySize: o.MaxBodySize,
		ReadBufferSize:     o.MaxHeaderSize, // headers must fit: 431 beyond
		// ReadTimeout runs from a request's first byte: it bounds the
		// headers; headerReceived extends it for a body by its size.
		ReadTimeout:  o.ReadHeaderTimeout,
		WriteTimeout: o.WriteTimeout,
		IdleTimeout:  o.IdleTimeout,
		// The listener enforces MaxConnections and MaxConnsPerIP and
		// answers past them with Sluice's JSON error (conns.go); fasthttp's
		// own cap, which answers in plain text, sits above it for the
		// moment a closed connection's worker is still finishing.
		Concurrency:     o.MaxConnections + max(64, o.MaxConnections/8),
		CloseOnShutdown: true,
		// fasthttp's errors about a request it cannot parse quote the raw
		// request by default: its credentials (Authorization, X-Api-Key,
		// signatures) would reach the log and the 400 answer.
		SecureErrorLogMessage: true,
	}
	return s
}

// Serve accepts connections on ln until Shutdown (TLS when Options.TLS is set).
func (s *Server) Serve(ln net.Listener) error {
	ln = s.conns.wrap(ln, s.opts.MaxConnections, s.opts.MaxConnsPerIP, s.refuse)
	if s.opts.TLS != nil {
		ln = tls.NewListener(ln, s.opts.TLS)
	}
	return s.srv.Serve(ln)
}

// Shutdown stops accepting requests and waits for open ones to finish, at
// most ShutdownTimeout; then it closes the connections still open (slow
// or stalled clients), so it always returns.
func (s *Server) Shutdown() error {
	s.draining.Store(true)
	s.close.Do(func() { close(s.closing) })
	ctx, cancel := context.WithTimeout(context.Background(), s.opts.ShutdownTimeout)
	defer cancel()
	err := s.srv.ShutdownWithContext(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		n := s.conns.closeAll()
		s.log.Warn("shutdown timeout: closed connections still open", "connections", n, "timeout", s.opts.ShutdownTimeout)
		return nil
	}
	return err
}

// headerReceived runs once a request's headers are in: a body gets a read
// deadline by its declared size, at http.min_body_rate, so a client cannot
// hold a connection by sending slowly. Bodies of at most a second's worth
// keep the header deadline that is already running.
func (s *Server) headerReceived(h *fasthttp.RequestHeader) fasthttp.RequestConfig {
	n := int64(h.ContentLength())
	switch {
	case n == -1: // chunked: as long as the largest body may take
		n = int64(s.opts.MaxBodySize)
	case n <= s.opts.MinBodyRate:
		return fasthttp.RequestConfig{}
	}
	n = min(n, int64(s.opts.MaxBodySize))
	return fasthttp.RequestConfig{ReadTimeout: s.opts.ReadHeaderTimeout + time.Duration(n*int64(time.Second)/s.opts.MinBodyRate)}
}

// diskFullMessage explains a disk_full answer.
const diskFullMessage = "the disk holding Sluice's log is almost full (under min_free_disk or the log's floor); the message was not accepted; retry later"

var (
	pathIngest  = []byte("/in/")
	pathResults = []byte("/v1/results/")
	pathHealth  = []byte("/healthz")
)

func (s *Server) handle(ctx *fasthttp.RequestCtx) {
	path, ok := requestPath(ctx)
	switch {
	case !ok:
		writeError(ctx, errcode.BadRequest, "the request target must be a path such as /in/{route}")
	case bytes.HasPrefix(path, pathIngest):
		start := time.Now()
		var sp ingestSpan
		s.ingest(ctx, path[len(pathIngest):], &sp)
		s.count(ctx, path[len(pathIngest):], start)
		if s.opts.Tracer != nil {
			s.recordIngest(ctx, path[len(pathIngest):], start, &sp)
		}
	case bytes.HasPrefix(path, pathResults):
		s.result(ctx, path[len(pathResults):])
	case bytes.Equal(path, pathHealth):
		if s.draining.Load() {
			writeError(ctx, CodeShuttingDown, "shutting down")
			return
		}
		if s.opts.Ready != nil {
			if err := s.opts.Ready(); errors.Is(err, queue.ErrDiskFull) {
				writeErrorDetail(ctx, errorDetail{Code: queue.CodeDiskFull,
					Message: "the disk holding Sluice's log is almost full (under min_free_disk or the log's floor): new messages are refused"})
				ctx.SetStatusCode(fasthttp.StatusServiceUnavailable) // not ready; the process is fine
				return
			}
		}
		setCorrelationID(ctx) // every answer has one
		ctx.SetContentType("application/json")
		ctx.SetBodyString(`{"status":"ok"}` + "\n")
	default:
		writeError(ctx, errcode.NotFound, fmt.Sprintf("no such endpoint %q; messages go to POST /in/{route}", path))
	}
}

// count records an answer to POST /in/{name} in the route's metrics: every
// request is received; a 4xx or 5xx is rejected with its error code; a 2xx
// is an acknowledgement and its time since start is observed.
func (s *Server) count(ctx *fasthttp.RequestCtx, name []byte, start time.Time) {
	var m *metrics.Route
	if r := s.routes[string(name)]; r != nil {
		m = r.Metrics
	} else {
		m = s.opts.Metrics.Unknown()
	}
	if m == nil {
		return
	}
	m.Received()
	switch status := ctx.Response.StatusCode(); {
	case status >= 400:
		m.Rejected(string(ctx.Response.Header.Peek("Sluice-Error-Code")))
	case status >= 200 && status < 300:
		m.Ingested(time.Since(start))
	}
}

// handleError answers requests fasthttp could not parse. They carry a
// correlation id too, so a caller can always quote one.
func (s *Server) handleError(ctx *fasthttp.RequestCtx, err error) {
	if path, ok := requestPath(ctx); ok && bytes.HasPrefix(path, pathIngest) {
		defer s.count(ctx, path[len(pathIngest):], time.Now())
	}
	switch {
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		writeError(ctx, CodeBodyTooLarge, fmt.Sprintf("request body exceeds the limit of %d bytes (max_body_size)", s.opts.MaxBodySize))
	case errors.As(err, new(*fasthttp.ErrSmallBuffer)) || strings.Contains(err.Error(), "small read buffer") || strings.Contains(err.Error(), "too big"):
		writeError(ctx, CodeHeadersTooLarge, fmt.Sprintf("request headers exceed %d bytes (http.max_header_size)", s.opts.MaxHeaderSize))
	case errors.Is(err, os.ErrDeadlineExceeded) || strings.Contains(err.Error(), "timeout"):
		writeError(ctx, CodeRequestTimeout, "the request did not arrive in time (http.read_header_timeout for the headers, http.min_body_rate for the body)")
	default:
		writeError(ctx, errcode.BadRequest, "malformed request: "+err.Error())
	}
}

// ingest handles POST /in/{name}; with tracing on it fills sp.
func (s *Server) ingest(ctx *fasthttp.RequestCtx, name []byte, sp *ingestSpan) {
	id, err := uuid.NewV7()
	if err != nil {
		writeError(ctx, results.CodeInternal, "generating correlation id: "+err.Error())
		return
	}
	idStr := id.String()
	ctx.Response.Header.Set("Sluice-Correlation-Id", idStr)
	// Everything up to the body is decided from the headers alone.
	r := s.routes[string(name)]
	switch {
	case r == nil:
		ctx.SetConnectionClose() // the body is not read
		writeError(ctx, errcode.RouteNotFound, fmt.Sprintf("no route named %q", name))
		return
	case !ctx.IsPost():
		ctx.Response.Header.Set("Allow", "POST")
		writeError(ctx, CodeMethodNotAllowed, "send messages with POST")
		return
	case s.draining.Load():
		writeError(ctx, CodeShuttingDown, "shutting down; retry on another instance or later")
		return
	case ctx.Request.Header.Len() > s.opts.MaxHeaders:
		ctx.SetConnectionClose()
		writeError(ctx, CodeHeadersTooLarge, fmt.Sprintf("the request has more than %d headers (http.max_headers)", s.opts.MaxHeaders))
		return
	}
	if hops := hopCount(ctx); hops >= s.opts.MaxHops {
		ctx.SetConnectionClose()
		writeError(ctx, CodeLoopDetected, fmt.Sprintf("this message has been through Sluice %d times (Sluice-Hops); a route delivers "+
			"into itself or another route that leads back (http.max_hops is %d)", hops, s.opts.MaxHops))
		return
	}
	body, reserved, ok := s.readBody(ctx)
	if !ok {
		return
	}
	defer func() { s.unreserve(reserved) }()
	var delivery []byte // the sender's id of this delivery, borrowed from the request
	if r.Verifier != nil {
		res, ok := s.verifySender(ctx, r, body)
		if !ok {
			return
		}
		delivery = res.DeliveryID
	}
	if r.limit != nil {
		if ok, wait := r.limit.take(time.Now()); !ok {
			r.rateLimited.Add(1)
			ctx.Response.Header.Set("Retry-After", strconv.Itoa(int(max(1, (wait+time.Second-1)/time.Second))))
			writeError(ctx, CodeRateLimited, fmt.Sprintf("route %s accepts at most %g requests a second (rate_limit); retry later", r.Name, r.RPS))
			return
		}
	}
	m := &queue.Message{
		ID:          queue.ID(id),
		Route:       r.Name,
		Sync:        r.Sync,
		Received:    time.Now().UTC(),
		ContentType: string(ctx.Request.Header.ContentType()),
		Body:        body,
	}
	for k, v := range ctx.Request.Header.All() {
		if keepHeader(k) && !r.drop(k) {
			m.Headers = append(m.Headers, queue.Header{Name: string(k), Value: string(v)})
		}
	}
	if s.opts.Tracer == nil {
		m.Headers = traceHeaders(m.Headers)
	} else {
		sp.bodySize = len(body)
		m.Headers = s.spanHeaders(m.Headers, sp)
	}
	if !s.valid(ctx, r.Route, m, idStr, sp.ctx) {
		return
	}
	if !r.Sync {
		m.Key = orderKey(r.Route, ctx, m.Body)
	}
	// A sender's retry of one delivery (its id) is a replay, like an
	// Idempotency-Key: the first correlation id, stored once.
	key := ctx.Request.Header.Peek("Idempotency-Key")
	if len(key) == 0 && len(delivery) > 0 {
		key = append([]byte("delivery:"), delivery...)
	}
	if len(key) > 0 {
		release, done := s.idempotent(ctx, r.Route, m, string(key))
		if done {
			return
		}
		defer release()
	}

	var wait <-chan *results.Outcome
	if r.Sync {
		wait = s.opts.Waiters.Register(m.ID)
	}
	if err := s.opts.Queue.Append(m); err != nil {
		if r.Sync {
			s.opts.Waiters.Cancel(m.ID, wait)
		}
		switch {
		case errors.Is(err, queue.ErrBacklogFull):
			writeError(ctx, queue.CodeBacklogFull, "backlog limit reached; retry later")
		case errors.Is(err, queue.ErrRouteBacklogFull):
			writeError(ctx, queue.CodeRouteBacklogFull, fmt.Sprintf("route %s reached its backlog limit; retry later", r.Name))
		case errors.Is(err, queue.ErrClosed):
			writeError(ctx, CodeShuttingDown, "shutting down")
		case errors.Is(err, queue.ErrDiskFull):
			writeError(ctx, queue.CodeDiskFull, diskFullMessage)
		default:
			s.log.Error("appending message", "err", err)
			writeError(ctx, queue.CodeUnavailable, "could not store the message; it was not accepted")
		}
		return
	}
	s.unreserve(reserved) // the body is the log's now: it counts against the backlog
	reserved = 0
	if s.opts.Tracer != nil {
		sp.acked = time.Now()
	}
	if !r.Sync {
		writeAccepted(ctx, idStr)
		return
	}
	// RFC 7240: a sync caller may prefer the async answer, at once or after
	// waiting at most N seconds; the message is processed either way.
	pref := parsePrefer(ctx.Request.Header.Peek("Prefer"))
	limit := s.opts.SyncTimeout
	if pref.wait > 0 && pref.wait < limit {
		limit = pref.wait
	}
	if pref.respondAsync && pref.wait == 0 {
		s.opts.Waiters.Cancel(m.ID, wait)
		ctx.Response.Header.Set("Preference-Applied", "respond-async")
		writeAccepted(ctx, idStr)
		return
	}
	timer := time.NewTimer(limit)
	defer timer.Stop()
	select {
	case out := <-wait:
		writeOutcome(ctx, idStr, out)
	case <-timer.C:
		s.opts.Waiters.Cancel(m.ID, wait)
		if pref.wait > 0 || pref.respondAsync {
			ctx.Response.Header.Set("Preference-Applied", pref.applied())
			writeAccepted(ctx, idStr)
			return
		}
		ctx.Response.Header.Set("Location", "/v1/results/"+idStr)
		writeErrorDetail(ctx, errorDetail{Code: CodeSyncTimeout, CorrelationID: idStr,
			Message: fmt.Sprintf("no outcome within %s; the message is stored and its result will be at /v1/results/%s", s.opts.SyncTimeout, idStr)})
	}
}

// drop reports whether a header is one of the route's DropHeaders.
func (r *routeState) drop(k []byte) bool {
	for _, h := range r.DropHeaders {
		if len(h) == len(k) && bytes.EqualFold(k, []byte(h)) {
			return true
		}
	}
	return false
}

// hopCount is the request's Sluice-Hops (0 if absent or malformed).
func hopCount(ctx *fasthttp.RequestCtx) int {
	v := ctx.Request.Header.Peek(dispatch.HopsHeader)
	if len(v) == 0 {
		return 0
	}
	n, err := strconv.Atoi(string(v))
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// idempotent handles an Idempotency-Key (as the IETF httpapi draft and
// Stripe define it): a key seen with the same body replays the original
// answer; with another body it is 422; while the first request with the key
// is still being handled, 409. Otherwise it marks m to store the key and
// returns a release to call when the request is done.
func (s *Server) idempotent(ctx *fasthttp.RequestCtx, r *Route, m *queue.Message, key string) (release func(), done bool) {
	if len(key) > 255 {
		writeError(ctx, errcode.BadRequest, "Idempotency-Key is longer than 255 bytes")
		return nil, true
	}
	busy := r.Name + "\x00" + key
	s.idemMu.Lock()
	_, inFlight := s.idemBusy[busy]
	if !inFlight {
		s.idemBusy[busy] = struct{}{}
	}
	s.idemMu.Unlock()
	if inFlight {
		writeError(ctx, CodeIdempotencyKeyInFlight, "a request with this Idempotency-Key is still being handled; retry later")
		return nil, true
	}
	release = func() {
		s.idemMu.Lock()
		delete(s.idemBusy, busy)
		s.idemMu.Unlock()
	}
	hash := sha256.Sum256(m.Body)
	id, prev, err := s.opts.Queue.Idempotent(r.Name, key)
	switch {
	case errors.Is(err, queue.ErrNotFound):
		m.IdemKey, m.IdemHash, m.IdemTTL = key, hash, s.opts.IdempotencyTTL
		return release, false
	case err != nil:
		release()
		s.log.Error("reading an idempotency key", "err", err)
		writeError(ctx, queue.CodeUnavailable, "could not check the Idempotency-Key")
		return nil, true
	}
	defer release()
	if prev != hash {
		writeError(ctx, CodeIdempotencyKeyReused, "this Idempotency-Key was used with a different body")
		return nil, true
	}
	idStr := uuid.UUID(id).String()
	ctx.Response.Header.Set("Sluice-Correlation-Id", idStr)
	if !r.Sync {
		ctx.Response.Header.Set("Idempotent-Replayed", "true")
		writeAccepted(ctx, idStr)
		return nil, true
	}
	rec, err := s.opts.Queue.Lookup(id)
	var out *results.Outcome
	if err == nil && rec.Status.Final() {
		out, err = results.Decode(rec.Payload)
	}
	switch {
	case err != nil:
		s.log.Error("replaying an idempotent request", "correlation_id", idStr, "err", err)
		writeError(ctx, queue.CodeUnavailable, "could not read the original answer")
	case out == nil:
		ctx.Response.Header.Set("Location", "/v1/results/"+idStr)
		writeErrorDetail(ctx, errorDetail{Code: CodeIdempotencyKeyInFlight, CorrelationID: idStr,
			Message: "the first request with this Idempotency-Key is still being processed; its result will be at /v1/results/" + idStr})
	default:
		ctx.Response.Header.Set("Idempotent-Replayed", "true")
		writeOutcome(ctx, idStr, out)
	}
	return nil, true
}

// valid runs the route's checks on m before it is accepted and answers the
// request itself if one fails: 415 for a media type the route does not
// accept, 422 validation_failed with every schema violation or a validator
// plugin's reason, or the plugin's failure.
func (s *Server) valid(ctx *fasthttp.RequestCtx, r *Route, m *queue.Message, id string, trace tracectx.Context) bool {
	if len(r.Accept) > 0 && !accepts(r.Accept, m.ContentType) {
		writeError(ctx, CodeUnsupportedMediaType, fmt.Sprintf("route %s accepts %s; got Content-Type %q",
			r.Name, strings.Join(r.Accept, ", "), m.ContentType))
		return false
	}
	if r.Schema != nil {
		if v := r.Schema.Check(m.Body); len(v) > 0 {
			writeErrorDetail(ctx, errorDetail{Code: validate.CodeFailed, CorrelationID: id, Violations: v,
				Message: fmt.Sprintf("the message does not match the route's schema (%d violations)", len(v))})
			return false
		}
	}
	if len(r.Validators) == 0 || s.opts.Validator == nil {
		return true
	}
	c := &wasm.Call{Input: m.Body, Route: r.Name, CorrelationID: id, ContentType: m.ContentType,
		ReceivedAt: m.Received, Headers: requestHeaders{ctx}}
	err := s.opts.Validator.Validate(r.Validators, c, trace)
	var we *wasm.Error
	switch {
	case err == nil:
		return true
	case errors.As(err, &we) && we.Code == wasm.CodeRejected:
		writeErrorDetail(ctx, errorDetail{Code: validate.CodeFailed, CorrelationID: id, Plugin: we.Plugin,
			Message: we.Message, Violations: []validate.Violation{{Pointer: "", Message: we.Message}}})
	case errors.As(err, &we):
		writeErrorDetail(ctx, errorDetail{Code: we.Code, CorrelationID: id, Plugin: we.Plugin, Message: "validating: " + we.Message})
	default:
		writeErrorDetail(ctx, errorDetail{Code: results.CodeInternal, CorrelationID: id, Message: "validating: " + err.Error()})
	}
	return false
}

// accepts reports whether contentType's media type is one of types.
func accepts(types []string, contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	for _, t := range types {
		if strings.EqualFold(t, mt) {
			return true
		}
	}
	return false
}

// requestHeaders lets a validator plugin read the request's headers.
type requestHeaders struct{ ctx *fasthttp.RequestCtx }

func (h requestHeaders) Header(name string) (string, bool) {
	v := h.ctx.Request.Header.Peek(name)
	return string(v), v != nil
}

// writeAccepted answers 202 with where the result will be. It runs for every
// async message, so it builds the body and Location without allocating.
func writeAccepted(ctx *fasthttp.RequestCtx, id string) {
	ctx.SetStatusCode(fasthttp.StatusAccepted)
	ctx.SetContentType("application/json")
	ctx.Response.ResetBody()
	ctx.Response.AppendBodyString(`{"correlation_id":"`)
	ctx.Response.AppendBodyString(id)
	ctx.Response.AppendBodyString(`","status_url":"`)
	start := len(ctx.Response.Body())
	ctx.Response.AppendBodyString("/v1/results/")
	ctx.Response.AppendBodyString(id)
	ctx.Response.Header.SetBytesV("Location", ctx.Response.Body()[start:])
	ctx.Response.AppendBodyString("\"}\n")
}

// writeOutcome answers a sync request: the destination's (or the transform's)
// response as is, else a JSON error.
func writeOutcome(ctx *fasthttp.RequestCtx, id string, out *results.Outcome) {
	status := "succeeded"
	if !out.Succeeded {
		status = "failed"
	}
	ctx.Response.Header.Set("Sluice-Status", status)
	if r := out.Response; r != nil {
		ctx.SetStatusCode(r.Status)
		for _, h := range r.Headers {
			ctx.Response.Header.Set(h.Name, h.Value)
		}
		ctx.SetBody(r.Body)
		return
	}
	e := out.Error
	if e == nil {
		e = &results.Error{Code: results.CodeInternal, Message: "no outcome"}
	}
	writeErrorDetail(ctx, errorDetail{Code: e.Code, Message: e.Message, Plugin: e.Plugin, CorrelationID: id})
}

func (s *Server) result(ctx *fasthttp.RequestCtx, raw []byte) {
	if !ctx.IsGet() && !ctx.IsHead() {
		ctx.Response.Header.Set("Allow", "GET")
		writeError(ctx, CodeMethodNotAllowed, "results are read with GET")
		return
	}
	id, err := uuid.ParseBytes(raw)
	if err != nil {
		writeError(ctx, errcode.InvalidCorrelationID, fmt.Sprintf("%q is not a correlation id (a UUID)", raw))
		return
	}
	ctx.Response.Header.Set("Sluice-Correlation-Id", id.String())
	wait, err := parseWait(ctx.QueryArgs().Peek("wait"), s.opts.MaxResultWait)
	if err != nil {
		writeError(ctx, errcode.BadRequest, err.Error())
		return
	}
	var done <-chan *results.Outcome
	if wait > 0 { // register first: a completion between the lookup and the wait is not missed
		done = s.opts.Waiters.Register(queue.ID(id))
		defer s.opts.Waiters.Cancel(queue.ID(id), done)
	}
	rec, err := s.opts.Queue.Lookup(queue.ID(id))
	if err == nil && !s.mayRead(ctx, rec.Route) { // answered as if there were no such id
		s.notFound(ctx, id.String())
		return
	}
	if err == nil && wait > 0 && !rec.Status.Final() {
		timer := time.NewTimer(wait)
		select {
		case <-done:
		case <-timer.C:
		case <-s.closing:
		}
		timer.Stop()
		rec, err = s.opts.Queue.Lookup(queue.ID(id))
	}
	if errors.Is(err, queue.ErrNotFound) || err == nil && !s.mayRead(ctx, rec.Route) {
		s.notFound(ctx, id.String())
		return
	}
	if err != nil {
		s.log.Error("looking up result", "err", err)
		writeError(ctx, queue.CodeUnavailable, "could not read the result")
		return
	}
	var out *results.Outcome
	if rec.Status.Final() {
		if out, err = results.Decode(rec.Payload); err != nil {
			s.log.Error("decoding result", "correlation_id", id.String(), "err", err)
			writeError(ctx, results.CodeInternal, "stored result is unreadable")
			return
		}
	}
	view := results.NewView(results.Meta{
		CorrelationID: id.String(), Route: rec.Route, Status: rec.Status.String(),
		Attempts: int(rec.Attempts), Created: rec.Created, Updated: rec.Updated,
	}, out)
	if rec.Status == queue.StatusRetrying { // the attempts so far, kept with the message
		if as, err := results.DecodeAttempts(rec.Payload); err == nil {
			view.Retrying(as, rec.NextAttempt)
		}
	}
	writeJSON(ctx, fasthttp.StatusOK, view)
}

// notFound answers a result that does not exist or that the request may
// not read, alike, so that ids cannot be probed.
func (s *Server) notFound(ctx *fasthttp.RequestCtx, id string) {
	msg := fmt.Sprintf("no message with correlation id %s", id)
	if s.anyAuth {
		msg += " that these credentials may read (results of routes with auth need one of the route's API keys or the operator token: Authorization: Bearer ...)"
	}
	writeError(ctx, CodeResultNotFound, msg)
}

// keepHeader drops headers that describe the connection, not the message.
// It runs for every header of every message, so it compares without
// allocating.
func keepHeader(k []byte) bool {
	for _, h := range hopHeaders {
		if len(k) == len(h) && bytes.EqualFold(k, h) {
			return false
		}
	}
	return true
}

var hopHeaders = [][]byte{[]byte("content-length"), []byte("connection"), []byte("keep-alive"),
	[]byte("transfer-encoding"), []byte("te"), []byte("upgrade"), []byte("proxy-connection"), []byte("expect")}
