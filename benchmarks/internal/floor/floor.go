package floor

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"
)

// maxFile is where the file is cut back to empty.
const maxFile = 256 << 20

// Options configure a Server.
type Options struct {
	Path    string // the file bodies are appended to; created or truncated
	NoSync  bool   // skip the fdatasync (a write per batch only)
	Forward string // URL to POST every committed body to; "" for none
	// Reply (with Forward): answer with the destination's status and body
	// instead of 202 at once.
	Reply bool
	// Forwarders (async forwarding): how many deliveries run at once; 64
	// if 0.
	Forwarders int
}

// acceptedBody has the shape and roughly the size of Sluice's 202 answer.
var acceptedBody = []byte(`{"correlation_id":"00000000-0000-0000-0000-000000000000",` +
	`"status_url":"/v1/results/00000000-0000-0000-0000-000000000000"}`)

// Server is a running floor: its committer and forwarders run until Close.
type Server struct {
	opts    Options
	f       *os.File
	size    int64
	appends chan *pending
	forward chan []byte
	client  *fasthttp.Client
	wg      sync.WaitGroup
}

type pending struct {
	body []byte
	done chan error
}

var appendPool = sync.Pool{New: func() any { return &pending{done: make(chan error, 1)} }}

// Open creates (or truncates) the file and starts the committer and, for
// async forwarding, the forwarders.
func Open(o Options) (*Server, error) {
	f, err := os.OpenFile(o.Path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("floor: %w", err)
	}
	s := &Server{opts: o, f: f, appends: make(chan *pending, 4096)}
	if o.Forward != "" {
		s.client = &fasthttp.Client{MaxConnsPerHost: 4096, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second}
	}
	s.wg.Add(1)
	go s.commitLoop()
	if o.Forward != "" && !o.Reply {
		n := o.Forwarders
		if n <= 0 {
			n = 64
		}
		s.forward = make(chan []byte, 1<<16)
		for range n {
			s.wg.Add(1)
			go s.forwarder()
		}
	}
	return s, nil
}

// Close stops the committer and the forwarders (after what is queued) and
// closes the file. No request may be in flight.
func (s *Server) Close() error {
	close(s.appends)
	if s.forward != nil {
		close(s.forward)
	}
	s.wg.Wait()
	return s.f.Close()
}

// commitLoop is the group commit: each batch is what arrived while the
// previous one was written and synced.
func (s *Server) commitLoop() {
	defer s.wg.Done()
	var batch []*pending
	var buf []byte
	for a := range s.appends {
		batch = append(batch[:0], a)
	more:
		for {
			select {
			case a, ok := <-s.appends:
				if !ok {
					break more
				}
				batch = append(batch, a)
			default:
				break more
			}
		}
		buf = buf[:0]
		for _, a := range batch {
			buf = append(buf, a.body...)
		}
		err := s.write(buf)
		for _, a := range batch {
			a.done <- err
		}
	}
}

func (s *Server) write(buf []byte) error {
	if s.size+int64(len(buf)) > maxFile {
		if err := s.f.Truncate(0); err != nil {
			return err
		}
		s.size = 0
	}
	if _, err := s.f.Write(buf); err != nil {
		return err
	}
	s.size += int64(len(buf))
	if s.opts.NoSync {
		return nil
	}
	return syscall.Fdatasync(int(s.f.Fd())) // #nosec G115 -- a file descriptor
}

// start hands a copy of body to the committer (fasthttp reuses its
// buffer); wait returns once it is durable.
func (s *Server) start(body []byte) *pending {
	a := appendPool.Get().(*pending)
	a.body = append(a.body[:0], body...)
	s.appends <- a
	return a
}

func (s *Server) wait(a *pending) error {
	err := <-a.done
	appendPool.Put(a)
	return err
}

func (s *Server) forwarder() {
	defer s.wg.Done()
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	for body := range s.forward {
		_ = s.deliver(req, resp, body) // #nosec G104 -- the sink counts what arrived; a yardstick does not retry
	}
}

func (s *Server) deliver(req *fasthttp.Request, resp *fasthttp.Response, body []byte) error {
	req.Reset()
	req.SetRequestURI(s.opts.Forward)
	req.Header.SetMethod(fasthttp.MethodPost)
	req.Header.SetContentType("application/json")
	req.SetBodyRaw(body)
	return s.client.Do(req, resp)
}

// Handler serves one request.
func (s *Server) Handler(ctx *fasthttp.RequestCtx) {
	switch {
	case ctx.IsPost():
		body := ctx.PostBody()
		a := s.start(body)
		if s.opts.Reply && s.opts.Forward != "" {
			// The delivery runs while the body syncs; the answer waits
			// for both (as Sluice's sync route does).
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			derr := s.deliver(req, resp, body)
			if err := s.wait(a); err != nil {
				ctx.Error(err.Error(), fasthttp.StatusServiceUnavailable)
				return
			}
			if derr != nil {
				ctx.Error(derr.Error(), fasthttp.StatusBadGateway)
				return
			}
			ctx.SetStatusCode(resp.StatusCode())
			ctx.SetContentType("application/json")
			ctx.SetBody(resp.Body())
			return
		}
		if err := s.wait(a); err != nil {
			ctx.Error(err.Error(), fasthttp.StatusServiceUnavailable)
			return
		}
		if s.opts.Forward != "" {
			s.forward <- append([]byte(nil), body...)
		}
		ctx.SetStatusCode(fasthttp.StatusAccepted)
		ctx.SetContentType("application/json")
		ctx.SetBody(acceptedBody)
	case ctx.IsGet() && string(ctx.Path()) == "/healthz":
		ctx.SetStatusCode(fasthttp.StatusOK)
	default:
		ctx.SetStatusCode(fasthttp.StatusMethodNotAllowed)
	}
}

// Serve listens on addr and serves a floor with options o until ctx is
// done.
func Serve(ctx context.Context, addr string, o Options) error {
	s, err := Open(o)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		_ = s.Close() // #nosec G104 -- the listen error is the one returned
		return fmt.Errorf("listening on %s: %w", addr, err)
	}
	srv := &fasthttp.Server{Handler: s.Handler, Name: "floor", MaxRequestBodySize: 16 << 20}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return errors.Join(fmt.Errorf("serving: %w", err), s.Close())
	case <-ctx.Done():
		return errors.Join(srv.Shutdown(), s.Close())
	}
}
