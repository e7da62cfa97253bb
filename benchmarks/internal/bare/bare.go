package bare

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"sync/atomic"

	"github.com/valyala/fasthttp"
)

// acceptedBody has the shape and roughly the size of Sluice's 202 answer, so
// both servers write a similar number of bytes per response.
var acceptedBody = []byte(`{"correlation_id":"00000000-0000-0000-0000-000000000000",` +
	`"status_url":"/v1/results/00000000-0000-0000-0000-000000000000"}`)

// CountPath answers GET with the number of POSTs served so far, in decimal.
const CountPath = "/v1/count"

// Server answers every POST with Status and acceptedBody and counts them,
// GET /healthz with 200, GET CountPath with the count, and anything else
// with 405. It is safe for concurrent use; Handler does not allocate.
type Server struct {
	status int
	posts  atomic.Uint64
}

// New returns a Server answering POSTs with status (202 for the ingest
// baseline, 200 for the sink a Sluice route delivers to).
func New(status int) *Server { return &Server{status: status} }

// Count is the number of POSTs answered so far.
func (s *Server) Count() uint64 { return s.posts.Load() }

// Handler serves one request.
func (s *Server) Handler(ctx *fasthttp.RequestCtx) {
	switch {
	case ctx.IsPost():
		s.posts.Add(1)
		ctx.SetStatusCode(s.status)
		ctx.SetContentType("application/json")
		ctx.SetBody(acceptedBody)
	case ctx.IsGet() && string(ctx.Path()) == "/healthz":
		ctx.SetStatusCode(fasthttp.StatusOK)
	case ctx.IsGet() && string(ctx.Path()) == CountPath:
		ctx.SetStatusCode(fasthttp.StatusOK)
		ctx.SetContentType("text/plain")
		ctx.SetBody(strconv.AppendUint(nil, s.Count(), 10))
	default:
		ctx.SetStatusCode(fasthttp.StatusMethodNotAllowed)
	}
}

// Serve listens on addr and serves a Server answering POSTs with status
// until ctx is done.
func Serve(ctx context.Context, addr string, status int) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", addr, err)
	}
	s := New(status)
	srv := &fasthttp.Server{
		Handler: s.Handler,
		Name:    "bare",
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
		return srv.Shutdown()
	}
}
