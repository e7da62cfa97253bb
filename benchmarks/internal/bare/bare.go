package bare

import (
	"context"
	"fmt"
	"net"

	"github.com/valyala/fasthttp"
)

// acceptedBody has the shape and roughly the size of Sluice's 202 answer, so
// both servers write a similar number of bytes per response.
var acceptedBody = []byte(`{"correlation_id":"00000000-0000-0000-0000-000000000000",` +
	`"status_url":"/v1/results/00000000-0000-0000-0000-000000000000"}`)

// Handler answers POST with 202 and acceptedBody, GET /healthz with 200, and
// anything else with 405.
func Handler(ctx *fasthttp.RequestCtx) {
	switch {
	case ctx.IsPost():
		ctx.SetStatusCode(fasthttp.StatusAccepted)
		ctx.SetContentType("application/json")
		ctx.SetBody(acceptedBody)
	case ctx.IsGet() && string(ctx.Path()) == "/healthz":
		ctx.SetStatusCode(fasthttp.StatusOK)
	default:
		ctx.SetStatusCode(fasthttp.StatusMethodNotAllowed)
	}
}

// Serve listens on addr and serves Handler until ctx is done.
func Serve(ctx context.Context, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", addr, err)
	}
	srv := &fasthttp.Server{
		Handler: Handler,
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
