package ingress

// FuzzIngress drives the real Server, over its real Serve loop, with
// arbitrary bytes on a connection: whatever a client can put on the wire
// (request line, headers, framing, body, pipelined requests). The server
// runs against a real Badger log and a stand-in worker that completes what
// it claims, so sync answers, replays and result reads take their real
// paths.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/sluicehq/sluice/runtime/errcode"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/sluicehq/sluice/queue"
	"github.com/sluicehq/sluice/runtime/results"
	"github.com/sluicehq/sluice/runtime/tracectx"
	"github.com/sluicehq/sluice/runtime/validate"
	"github.com/sluicehq/sluice/runtime/verify"
	"github.com/sluicehq/sluice/runtime/wasm"
	"github.com/valyala/fasthttp"
)

const (
	fuzzGitHubSecret = "fuzz-github-secret"
	fuzzAPIKey       = "fuzz-api-key-0123456789"
	fuzzOperator     = "fuzz-operator-token-0123456789"
	fuzzSyncTimeout  = 20 * time.Millisecond // the stand-in worker is slower on the slow routes
	fuzzSlowWork     = 60 * time.Millisecond
	fuzzMaxBody      = 64 << 10
	fuzzMaxHeaders   = 24
	fuzzMaxHeader    = 4 << 10
	fuzzMaxRequests  = 8 // requests served per connection (bounds one input's run time)
	fuzzDeadline     = 20 * time.Second
)

// scriptConn is one client connection whose bytes are known in advance: the
// server reads them and then end of file (the client half-closed), and what
// it writes is kept. Nothing blocks, so a request is served as soon as its
// bytes are in, and an incomplete one ends at the end of the input, not at
// a read timeout.
type scriptConn struct {
	in   *bytes.Reader
	mu   sync.Mutex
	out  bytes.Buffer
	done chan struct{}
	once sync.Once
}

func newScriptConn(b []byte) *scriptConn {
	return &scriptConn{in: bytes.NewReader(b), done: make(chan struct{})}
}

func (c *scriptConn) Read(p []byte) (int, error) { return c.in.Read(p) }

func (c *scriptConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.out.Write(p)
}

func (c *scriptConn) Close() error {
	c.once.Do(func() { close(c.done) })
	return nil
}

func (c *scriptConn) written() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return bytes.Clone(c.out.Bytes())
}

func (c *scriptConn) LocalAddr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080}
}

func (c *scriptConn) RemoteAddr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}
}
func (c *scriptConn) SetDeadline(time.Time) error      { return nil }
func (c *scriptConn) SetReadDeadline(time.Time) error  { return nil }
func (c *scriptConn) SetWriteDeadline(time.Time) error { return nil }

// chanListener hands the server the connections sent on conns.
type chanListener struct {
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *chanListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *chanListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080} }

// served is what the server did with one request: recorded after the
// handler (or the error handler, for a request fasthttp could not parse)
// returned.
type served struct {
	errorHandler bool
	head         bool   // a HEAD request: the answer has no body
	path         string // the raw path the handler routed on ("" if none)
	status       int
}

// fuzzIngress is one server shared by every input of a fuzzing process.
type fuzzIngress struct {
	s  *Server
	q  *queue.Log
	ln *chanListener

	mu     sync.Mutex
	served []served
	log    bytes.Buffer // what the server logged while serving the connection
}

// Write is the server's log output.
func (e *fuzzIngress) Write(p []byte) (int, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.log.Write(p)
}

func (e *fuzzIngress) record(ctx *fasthttp.RequestCtx, errorHandler bool) {
	rec := served{errorHandler: errorHandler, status: ctx.Response.StatusCode()}
	if !errorHandler {
		rec.head = ctx.IsHead()
		if p, ok := requestPath(ctx); ok {
			rec.path = string(p)
		}
	}
	e.mu.Lock()
	e.served = append(e.served, rec)
	e.mu.Unlock()
}

// fuzzValidator stands in for validator plugins: it rejects bodies that say
// "reject" and fails on bodies that say "trap".
type fuzzValidator struct{}

func (fuzzValidator) Validate(plugins []string, c *wasm.Call, _ tracectx.Context) error {
	c.Headers.Header("X-Reason") // validators may read headers
	switch {
	case bytes.Contains(c.Input, []byte("reject")):
		return &wasm.Error{Code: wasm.CodeRejected, Plugin: plugins[0], Message: "rejected by the fuzz validator"}
	case bytes.Contains(c.Input, []byte("trap")):
		return &wasm.Error{Code: "trap", Plugin: plugins[0], Message: "unreachable"}
	}
	return nil
}

const fuzzSchema = `{"type":"object","required":["customer"],"properties":{"customer":{"type":"object","required":["id"]}}}`

func newFuzzIngress(tb testing.TB) *fuzzIngress {
	q, err := queue.Open(queue.Options{Dir: tb.TempDir(), Durability: queue.DurabilityNone, Logger: slog.New(slog.DiscardHandler),
		Limits: queue.Limits{Routes: map[string]queue.Limits{"slow": {Messages: 1}}}})
	if err != nil {
		tb.Fatal(err)
	}
	github, err := verify.New(verify.Config{Scheme: verify.SchemeGitHub, Secrets: [][]byte{[]byte(fuzzGitHubSecret)}})
	if err != nil {
		tb.Fatal(err)
	}
	apiKey, err := verify.New(verify.Config{Scheme: verify.SchemeAPIKey, Secrets: [][]byte{[]byte(fuzzAPIKey)}})
	if err != nil {
		tb.Fatal(err)
	}
	schema, err := validate.CompileBytes("fuzz.json", []byte(fuzzSchema))
	if err != nil {
		tb.Fatal(err)
	}
	waiters := results.NewWaiters()
	e := &fuzzIngress{q: q, ln: &chanListener{conns: make(chan net.Conn), closed: make(chan struct{})}}
	e.s = New(Options{
		Routes: []Route{
			{Name: "async", OrderMode: "route"},
			{Name: "sync", Sync: true},
			{Name: "slowsync", Sync: true},
			{Name: "slow", OrderMode: "none"},
			{Name: "byheader", OrderMode: "header", OrderArg: "X-Customer-Id"},
			{Name: "byjson", OrderMode: "json", OrderArg: "/customer/id", Accept: []string{"application/json"}, Schema: schema},
			{Name: "validated", Sync: true, Validators: []string{"fuzzcheck"}},
			{Name: "github", OrderMode: "route", Verifier: github},
			{Name: "apikey", Sync: true, Verifier: apiKey, APIKey: true, DropHeaders: []string{"Authorization", "X-Api-Key"}},
			{Name: "limited", RPS: 20, Burst: 2},
		},
		Queue:          q,
		Waiters:        waiters,
		MaxBodySize:    fuzzMaxBody,
		SyncTimeout:    fuzzSyncTimeout,
		IdempotencyTTL: time.Hour,
		MaxResultWait:  fuzzSyncTimeout,
		Log:            slog.New(slog.NewTextHandler(e, &slog.HandlerOptions{Level: slog.LevelDebug})), // every level: no secret at any
		Validator:      fuzzValidator{},
		Ready:          q.Ready,
		OperatorToken:  fuzzOperator,
		Limits: Limits{
			MaxHeaderSize:    fuzzMaxHeader,
			MaxHeaders:       fuzzMaxHeaders,
			MaxInflightBytes: fuzzMaxBody, // the least the config allows
			ShutdownTimeout:  time.Second,
		},
	})
	// Record what was served; bound the requests of one connection so that
	// an input of many pipelined slow requests stays quick.
	e.s.srv.Handler = func(ctx *fasthttp.RequestCtx) {
		e.s.handle(ctx)
		e.record(ctx, false)
	}
	e.s.srv.ErrorHandler = func(ctx *fasthttp.RequestCtx, err error) {
		e.s.handleError(ctx, err)
		e.record(ctx, true)
	}
	e.s.srv.ExpectHandler = func(ctx *fasthttp.RequestCtx) int {
		status := e.s.expect(ctx)
		if status != fasthttp.StatusContinue { // answered here: the handler does not run
			e.record(ctx, false)
		}
		return status
	}
	e.s.srv.MaxRequestsPerConn = fuzzMaxRequests

	ctx, cancel := context.WithCancel(context.Background())
	var work sync.WaitGroup
	work.Add(2)
	go func() {
		defer work.Done()
		fuzzWorker(ctx, q, waiters)
	}()
	go func() {
		defer work.Done()
		e.s.Serve(e.ln)
	}()
	tb.Cleanup(func() {
		e.s.Shutdown()
		cancel()
		work.Wait()
		q.Close()
	})
	return e
}

// fuzzWorker completes every message it claims: at once, or after
// fuzzSlowWork on the slow routes (so that sync callers time out there and
// the slow route's backlog of one fills). A body that says "fail" fails at
// the destination.
func fuzzWorker(ctx context.Context, q *queue.Log, waiters *results.Waiters) {
	for {
		m, err := q.Next(ctx)
		if err != nil {
			return
		}
		complete := func() {
			out := &results.Outcome{Succeeded: true, Response: &results.Response{Status: 200,
				Headers: []results.Header{{Name: "Content-Type", Value: "text/plain"}}, Body: []byte("delivered")}}
			status := queue.StatusSucceeded
			if bytes.Contains(m.Body, []byte("fail")) {
				out = &results.Outcome{Error: &results.Error{Code: "destination_failed", Message: "the destination answered 500", Stage: "dispatch"}}
				status = queue.StatusFailed
			}
			rec := &queue.Record{Status: status, Attempts: 1, Payload: out.Encode(nil)}
			if err := q.Complete(m, rec, func(error) { waiters.Notify(m.ID, out) }); err != nil {
				waiters.Notify(m.ID, out)
			}
		}
		if m.Route == "slow" || m.Route == "slowsync" {
			time.AfterFunc(fuzzSlowWork, complete)
		} else {
			complete()
		}
	}
}

// serve runs one connection with raw as everything the client sends and
// returns what the server wrote, what it served, in order, and what it
// logged.
func (e *fuzzIngress) serve(t *testing.T, raw []byte) ([]byte, []served, string) {
	e.mu.Lock()
	e.served = e.served[:0]
	e.log.Reset()
	e.mu.Unlock()
	c := newScriptConn(raw)
	select {
	case e.ln.conns <- c:
	case <-time.After(fuzzDeadline):
		t.Fatal("the server accepted no connection")
	}
	select {
	case <-c.done:
	case <-time.After(fuzzDeadline):
		t.Fatalf("no answer within %s; it wrote:\n%s", fuzzDeadline, c.written())
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return c.written(), append([]served(nil), e.served...), e.log.String()
}

func githubSignature(body string) string {
	mac := hmac.New(sha256.New, []byte(fuzzGitHubSecret))
	mac.Write([]byte(body))
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// fuzzIngressSeeds are requests of every kind the server handles, well and
// badly formed: routing, framing, headers, Prefer, Idempotency-Key, ordering
// keys, sender verification, limits.
func fuzzIngressSeeds() []string {
	post := func(target, headers, body string) string {
		return fmt.Sprintf("POST %s HTTP/1.1\r\nHost: sluice\r\n%sContent-Length: %d\r\n\r\n%s", target, headers, len(body), body)
	}
	const order = `{"customer":{"id":42},"total":10}`
	ghBody := `{"action":"opened","number":1}`
	id := "0192f0c4-1b2c-7d3e-8f40-123456789abc"
	smuggled := "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
	seeds := []string{
		post("/in/async", "Content-Type: application/json\r\n", `{"a":1}`),
		post("/in/sync", "", "hello"),
		post("/in/sync", "", "please fail"),
		post("/in/slowsync", "", "x"),
		post("/in/slowsync", "Prefer: wait=1\r\n", "x"),
		post("/in/slowsync", "Prefer: respond-async\r\n", "x"),
		post("/in/slowsync", "Prefer: respond-async, wait=1\r\n", "x"),
		post("/in/sync", "Prefer: respond-async; foo=bar, wait=\"0\", return=minimal\r\n", "x"),
		post("/in/slow", "", "1") + post("/in/slow", "", "2"),
		// Raw-path routing: no normalisation.
		post("/in/a/../async", "", "x"),
		post("/in/%2e%2e/v1/results/"+id, "", "x"),
		post("/in/./async", "", "x"),
		post("//in/async", "", "x"),
		post("/in/async%2f..%2fsync", "", "x"),
		post("/in/async?x=/../sync#frag", "", "x"),
		post("/v1/results/../../in/sync", "", "x"),
		post("http://example.com/in/async", "", "x"),
		post("http://example.com", "", "x"),
		post("https://[::1]:443/in/sync?q", "", "x"),
		"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
		"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n",
		// Framing.
		"POST /in/async HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
		"POST /in/sync HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n0\r\nTrailer: x\r\n\r\n",
		"POST /in/async HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
		"POST /in/async HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n10001\r\n" + strings.Repeat("a", 100),
		"POST /in/async HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n\r\n",
		"POST /in/async HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n1\r\na\r\n0\r\n\r\n",
		"POST /in/async HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\nabc",
		"POST /in/async HTTP/1.1\r\nHost: x\r\nContent-Length: 65537\r\n\r\nabc",
		"POST /in/async HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\nabc",
		"POST /in/async HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 5\r\n\r\nabcde",
		"POST /in/async HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nshort",
		"POST /in/async HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi",
		"POST /in/nope HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi",
		"POST /in/async HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 65537\r\n\r\nhi",
		"GET /in/async HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi" + smuggled,
		"GET /healthz HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi",
		"POST /in/async HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n",
		"POST /in/async HTTP/1.0\r\nContent-Length: 2\r\n\r\nhi",
		"POST /in/async HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi",
		"POST /in/async HTTP/1.1\nHost: x\nContent-Length: 2\n\nhi",
		// An unread body must not be taken for the next request.
		post("/in/nope", "", smuggled) + smuggled,
		strings.Replace(post("/in/async", "", smuggled), "POST", "GET", 1) + smuggled,
		post("/in/async", "Sluice-Hops: 8\r\n", smuggled) + smuggled,
		post("/in/async", "X-Many: 1\r\n"+strings.Repeat("X-A: b\r\n", fuzzMaxHeaders), smuggled) + smuggled,
		// Hops.
		post("/in/async", "Sluice-Hops: 7\r\n", "x"),
		post("/in/async", "Sluice-Hops: abc\r\n", "x"),
		post("/in/async", "Sluice-Hops: -1\r\n", "x"),
		post("/in/async", "Sluice-Hops: 99999999999999999999\r\n", "x"),
		post("/in/async", "Sluice-Hops: +9\r\nSluice-Hops: 1\r\n", "x"),
		// Idempotency-Key: a replay, a reuse with another body, a sync replay, too long.
		post("/in/async", "Idempotency-Key: k1\r\n", "same") + post("/in/async", "Idempotency-Key: k1\r\n", "same"),
		post("/in/async", "Idempotency-Key: k2\r\n", "one") + post("/in/async", "Idempotency-Key: k2\r\n", "two"),
		post("/in/sync", "Idempotency-Key: k3\r\n", "s") + post("/in/sync", "Idempotency-Key: k3\r\n", "s"),
		post("/in/slowsync", "Idempotency-Key: k4\r\n", "s") + post("/in/slowsync", "Idempotency-Key: k4\r\n", "s"),
		post("/in/async", "Idempotency-Key: "+strings.Repeat("k", 256)+"\r\n", "x"),
		post("/in/async", "Idempotency-Key: \r\n", "x"),
		// Ordering keys, media types, schema, validators.
		post("/in/byheader", "X-Customer-Id: 42\r\n", "x"),
		post("/in/byheader", "X-Customer-Id: 42\r\nX-Customer-Id: 43\r\n", "x"),
		post("/in/byjson", "Content-Type: application/json\r\n", order),
		post("/in/byjson", "Content-Type: application/json; charset=utf-8\r\n", `{"customer":{"id":"a/b~c"}}`),
		post("/in/byjson", "Content-Type: application/json\r\n", `{"customer":{}}`),
		post("/in/byjson", "Content-Type: application/json\r\n", `not json`),
		post("/in/byjson", "Content-Type: text/plain\r\n", order),
		post("/in/byjson", "Content-Type: ;;;\r\n", order),
		post("/in/validated", "X-Reason: x\r\n", "ok"),
		post("/in/validated", "", "reject"),
		post("/in/validated", "", "trap"),
		// Sender verification.
		post("/in/github", "X-Hub-Signature-256: "+githubSignature(ghBody)+"\r\nX-GitHub-Delivery: d-1\r\n", ghBody),
		post("/in/github", "X-Hub-Signature-256: "+githubSignature(ghBody)+"\r\nX-GitHub-Delivery: d-2\r\n", ghBody) +
			post("/in/github", "X-Hub-Signature-256: "+githubSignature(ghBody)+"\r\nX-GitHub-Delivery: d-2\r\n", ghBody),
		post("/in/github", "X-Hub-Signature-256: sha256=00\r\n", ghBody),
		post("/in/github", "", ghBody),
		post("/in/apikey", "Authorization: Bearer "+fuzzAPIKey+"\r\n", "x"),
		post("/in/apikey", "X-Api-Key: "+fuzzAPIKey+"\r\n", "x"),
		post("/in/apikey", "Authorization: Bearer wrong\r\n", "x"),
		// Found by FuzzIngress: fasthttp's errors quoted credentials into the log.
		"POST /in/apikey HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + fuzzAPIKey + "\r\nBroken header\r\n\r\n",
		"0 " + fuzzAPIKey + "\n",
		"0 \n0:" + fuzzOperator + "0",
		"POST /in/apikey\r\nHost: x\r\nAuthorization: Bearer " + fuzzAPIKey + "\r\n\r\n",
		// Limits.
		strings.Repeat(post("/in/limited", "", "x"), 4),
		post("/in/async", strings.Repeat("X-A: b\r\n", fuzzMaxHeaders+1), "x"),
		post("/in/async", "X-Big: "+strings.Repeat("b", fuzzMaxHeader)+"\r\n", "x"),
		// Other endpoints.
		"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
		"HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
		"HEAD /in/async HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /v1/results/" + id + "?wait=1 HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /v1/results/" + id + "?wait=-1s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + fuzzOperator + "\r\n\r\n",
		"GET /v1/results/not-a-uuid HTTP/1.1\r\nHost: x\r\n\r\n",
		"DELETE /v1/results/" + id + " HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\nGET /healthz HTTP/1.1\r\n\r\n",
		// Garbage.
		"", "\x00\x01\x02", "GET", "GET / HTTP/1.1\r\n", "GET / HTTP/9.9\r\n\r\n", "POST /in/async HTTP/1.1\r\nHost x\r\n\r\n",
		"POST /in/async HTTP/1.1\r\nHost: x\r\n X-Folded: y\r\n\r\n", "POST /in/\x00 HTTP/1.1\r\nHost: x\r\n\r\n",
	}
	return seeds
}

// FuzzIngress: for any bytes a client sends, the server
//   - does not panic and answers (or closes) within fuzzDeadline;
//   - writes only well-formed HTTP/1.x responses (net/http reads them), one
//     per request it handled, plus 100 Continue for Expect: 100-continue;
//   - gives every answer a Sluice-Correlation-Id (a UUID), GET /healthz's
//     200 and the refusals of requests fasthttp cannot parse included;
//   - answers every non-2xx with Sluice-Error-Code and the JSON body
//     {"error":{"code","message"}} whose code is a known one that maps to
//     that status (errcode.IngressStatus): there is no other writer of errors, also for
//     the requests fasthttp cannot parse (they go through handleError);
//   - has stored the message of every 202 (and of every answer that says
//     where its result will be, or carries a sync outcome), and has stored
//     nothing under the id of any other answer to POST /in/...;
//   - never logs an API key, the operator token or a signing secret, not
//     even one the request carries (fasthttp's errors about a malformed
//     request quote it);
//   - returns the in-flight body budget to 0 and forgets every
//     Idempotency-Key in flight once the connection is done.
//
// fasthttp itself writes, without the handlers, only "100 Continue" before
// the body of an Expect: 100-continue request that its headers do not
// refuse (checked here as an interim answer; one they refuse is answered
// by the expect handler at once). The refusals past http.max_connections
// and max_connections_per_ip, outside what one connection can reach, are
// TestConnectionCaps'. A HEAD answer has no body, so only its
// Sluice-Error-Code is checked.
//
// The stand-in worker, the bounded requests per connection
// (fuzzMaxRequests) and the small limits are the harness's; the handlers,
// the Serve loop and the log are the real ones.
func FuzzIngress(f *testing.F) {
	for _, s := range fuzzIngressSeeds() {
		f.Add([]byte(s))
	}
	e := newFuzzIngress(f)
	f.Fuzz(func(t *testing.T, raw []byte) {
		out, handled, logged := e.serve(t, raw)
		checkAnswers(t, e, raw, out, handled)
		for _, secret := range []string{fuzzAPIKey, fuzzOperator, fuzzGitHubSecret} {
			if strings.Contains(logged, secret) {
				t.Fatalf("the log shows a secret (%s):\n%s\ninput %q", secret, logged, raw)
			}
		}
		if n := e.s.inflight.Load(); n != 0 {
			t.Fatalf("in-flight body budget is %d after the connection, want 0; input %q", n, raw)
		}
		e.s.idemMu.Lock()
		busy := len(e.s.idemBusy)
		e.s.idemMu.Unlock()
		if busy != 0 {
			t.Fatalf("%d idempotency keys still marked in flight after the connection; input %q", busy, raw)
		}
	})
}

func checkAnswers(t *testing.T, e *fuzzIngress, raw, out []byte, handled []served) {
	t.Helper()
	br := bufio.NewReader(bytes.NewReader(out))
	i := 0
	for {
		if _, err := br.Peek(1); err == io.EOF {
			break
		}
		method := http.MethodGet
		if i < len(handled) && handled[i].head {
			method = http.MethodHead
		}
		resp, err := http.ReadResponse(br, &http.Request{Method: method})
		if err != nil {
			t.Fatalf("answer %d is not a well-formed HTTP response: %v\ninput %q\noutput %q", i, err, raw, out)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("answer %d: reading its body: %v\ninput %q\noutput %q", i, err, raw, out)
		}
		if resp.StatusCode == http.StatusContinue { // fasthttp's interim answer to Expect: 100-continue
			continue
		}
		if i >= len(handled) {
			t.Fatalf("answer %d was written for no request the server handled\ninput %q\noutput %q", i, raw, out)
		}
		if resp.StatusCode != handled[i].status {
			t.Fatalf("answer %d has status %d, the handler set %d\ninput %q\noutput %q", i, resp.StatusCode, handled[i].status, raw, out)
		}
		if err := checkAnswer(e, handled[i], resp, body); err != nil {
			t.Fatalf("answer %d (%s, %+v): %v\ninput %q\noutput %q", i, resp.Status, handled[i], err, raw, out)
		}
		i++
	}
	if i != len(handled) {
		t.Fatalf("%d answers for %d handled requests\ninput %q\noutput %q", i, len(handled), raw, out)
	}
}

func checkAnswer(e *fuzzIngress, s served, resp *http.Response, body []byte) error {
	status := resp.StatusCode
	ok := status >= 200 && status < 300
	idStr := resp.Header.Get("Sluice-Correlation-Id")
	if idStr == "" {
		return errors.New("no Sluice-Correlation-Id")
	}
	id, err := uuid.Parse(idStr)
	if err != nil {
		return fmt.Errorf("Sluice-Correlation-Id %q: %v", idStr, err)
	}
	if loc := resp.Header.Get("Location"); loc != "" && loc != "/v1/results/"+idStr {
		return fmt.Errorf("Location %q is not the result of %s", loc, idStr)
	}
	outcome := resp.Header.Get("Sluice-Status") != "" // a sync route's outcome
	if !ok {
		code := resp.Header.Get("Sluice-Error-Code")
		if info, known := errcode.Lookup(code); !known || info.Ingress == 0 {
			return fmt.Errorf("Sluice-Error-Code %q is not a code the ingress answers with", code)
		}
		if errcode.IngressStatus(code) != status {
			return fmt.Errorf("code %s maps to %d, not %d", code, errcode.IngressStatus(code), status)
		}
		if !s.head {
			var eb struct {
				Error *struct {
					Code    *string `json:"code"`
					Message *string `json:"message"`
				} `json:"error"`
			}
			if err := json.Unmarshal(body, &eb); err != nil {
				return fmt.Errorf("error body %q is not JSON: %v", body, err)
			}
			if eb.Error == nil || eb.Error.Code == nil || eb.Error.Message == nil {
				return fmt.Errorf(`error body %q is not {"error":{"code","message"}}`, body)
			}
			if *eb.Error.Code != code || *eb.Error.Message == "" {
				return fmt.Errorf("error body %q: code %q, header %q", body, *eb.Error.Code, code)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				return fmt.Errorf("error body of type %q", ct)
			}
		}
	}
	if s.errorHandler || !strings.HasPrefix(s.path, "/in/") {
		return nil
	}
	// POST /in/...: stored exactly when the answer says so.
	_, err = e.q.Lookup(queue.ID(id))
	stored := err == nil
	if err != nil && !errors.Is(err, queue.ErrNotFound) {
		return fmt.Errorf("looking up %s: %v", idStr, err)
	}
	switch {
	case status == http.StatusAccepted:
		if !s.head {
			var a struct {
				CorrelationID string `json:"correlation_id"`
				StatusURL     string `json:"status_url"`
			}
			if err := json.Unmarshal(body, &a); err != nil || a.CorrelationID != idStr || a.StatusURL != "/v1/results/"+idStr {
				return fmt.Errorf("202 body %q (%v) does not name %s", body, err, idStr)
			}
		}
		if !stored {
			return fmt.Errorf("202 for %s, which is not in the log", idStr)
		}
	case outcome || resp.Header.Get("Location") != "":
		if !stored {
			return fmt.Errorf("an answer that points at %s's result, which is not in the log", idStr)
		}
	case ok:
		return fmt.Errorf("a %d without an outcome", status)
	case stored:
		return fmt.Errorf("%d %s, yet %s is in the log", status, resp.Header.Get("Sluice-Error-Code"), idStr)
	}
	return nil
}
