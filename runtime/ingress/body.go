package ingress

import (
	"bytes"
	"errors"
	"fmt"
	"github.com/sluicehq/sluice/runtime/errcode"
	"io"
	"os"
	"slices"

	"github.com/valyala/fasthttp"
)

// The server streams request bodies (fasthttp's StreamRequestBody): the
// handler runs once the headers are in, so an unknown route, a declared
// size over max_body_size or a full in-flight budget is answered before the
// body is read, and the bytes of a body are read once, straight into the
// message that keeps them.

// readBody reads the request's body into a new slice, counting its bytes
// against the in-flight budget: the caller unreserves them. It answers the
// request itself and returns ok false when the body is too large, the
// budget is spent, or the client stops sending.
func (s *Server) readBody(ctx *fasthttp.RequestCtx) (body []byte, reserved int64, ok bool) {
	n := ctx.Request.Header.ContentLength()
	if n > s.opts.MaxBodySize {
		s.tooLarge(ctx)
		return nil, 0, false
	}
	stream := ctx.RequestBodyStream()
	if n == -2 || stream == nil { // no body
		return nil, 0, true
	}
	if n >= 0 {
		if !s.reserve(int64(n)) {
			s.busy(ctx)
			return nil, 0, false
		}
		body = make([]byte, n)
		if _, err := io.ReadFull(stream, body); err != nil {
			s.unreserve(int64(n))
			s.bodyFailed(ctx, err)
			return nil, 0, false
		}
		return body, int64(n), true
	}
	// Chunked: unknown length. Reserve as the body grows.
	const step = 64 << 10
	release := func() { s.unreserve(reserved) }
	body = make([]byte, 0, 4<<10)
	for {
		if len(body) == cap(body) {
			grow := min(max(cap(body), step), s.opts.MaxBodySize+1-len(body))
			if grow <= 0 {
				release()
				s.tooLarge(ctx)
				return nil, 0, false
			}
			if !s.reserve(int64(grow)) {
				release()
				s.busy(ctx)
				return nil, 0, false
			}
			reserved += int64(grow)
			body = slices.Grow(body, grow)
		}
		k, err := stream.Read(body[len(body):cap(body)])
		body = body[:len(body)+k]
		if len(body) > s.opts.MaxBodySize {
			release()
			s.tooLarge(ctx)
			return nil, 0, false
		}
		if errors.Is(err, io.EOF) {
			return body, reserved, true
		}
		if err != nil {
			release()
			s.bodyFailed(ctx, err)
			return nil, 0, false
		}
	}
}

// expect answers a request with Expect: 100-continue before its body is
// sent: one refused from its headers alone (an unknown route or path,
// another method than POST, a declared body over max_body_size) gets its
// refusal at once instead of 100 Continue, so the client does not send a
// body only to have it refused; the others continue.
func (s *Server) expect(ctx *fasthttp.RequestCtx) int {
	if path, ok := requestPath(ctx); ok && bytes.HasPrefix(path, pathIngest) &&
		s.routes[string(path[len(pathIngest):])] != nil && ctx.IsPost() &&
		ctx.Request.Header.ContentLength() <= s.opts.MaxBodySize {
		return fasthttp.StatusContinue
	}
	s.handle(ctx) // answers without reading the body
	return ctx.Response.StatusCode()
}

// reserve counts n bytes against the in-flight body budget; false if they
// do not fit.
func (s *Server) reserve(n int64) bool {
	if s.inflight.Add(n) > s.opts.MaxInflightBytes && n > 0 {
		s.inflight.Add(-n)
		return false
	}
	return true
}

func (s *Server) unreserve(n int64) { s.inflight.Add(-n) }

func (s *Server) tooLarge(ctx *fasthttp.RequestCtx) {
	ctx.SetConnectionClose() // the rest of the body is not read
	writeError(ctx, CodeBodyTooLarge, fmt.Sprintf("request body exceeds the limit of %d bytes (max_body_size)", s.opts.MaxBodySize))
}

func (s *Server) busy(ctx *fasthttp.RequestCtx) {
	ctx.SetConnectionClose()
	writeError(ctx, CodeServerBusy, fmt.Sprintf("the server is receiving %d MiB of request bodies already (http.max_inflight_bytes); "+
		"the message was not accepted; retry later", s.opts.MaxInflightBytes>>20))
}

// bodyFailed answers a body that did not arrive whole: the client stopped,
// sent too slowly (under http.min_body_rate) or broke the chunked framing.
func (s *Server) bodyFailed(ctx *fasthttp.RequestCtx, err error) {
	ctx.SetConnectionClose()
	if errors.Is(err, os.ErrDeadlineExceeded) {
		writeError(ctx, CodeRequestTimeout, "the request body did not arrive in time (http.min_body_rate); the message was not accepted")
		return
	}
	writeError(ctx, errcode.BadRequest, "reading the request body: "+err.Error())
}
