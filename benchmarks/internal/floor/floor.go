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

// defaultFileBytes is the file's size unless Options say otherwise.
const defaultFileBytes = 256 << 20

// Options configure a Server.
type Options struct {
	Path string // the file bodies are written to; created or truncated
	// FileBytes is its size (256 MiB if 0): zero-filled and synced at Open,
	// then written round and round.
	FileBytes int64
	Forward   string // URL to POST every committed body to; "" for none
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
	off     int64 // where the next batch is written
	mu      sync.Mutex
	queue   []*pending // waiting for the next batch (mu)
	spare   []*pending
	leading bool   // a request is writing a batch (mu)
	buf     []byte // the leader's
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
	f, err := os.OpenFile(o.Path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, fmt.Errorf("floor: %w", err)
	}
	if o.FileBytes <= 0 {
		o.FileBytes = defaultFileBytes
	}
	if err := zeroFill(f, o.FileBytes); err != nil {
		_ = f.Close() // #nosec G104 -- the fill's error is the one returned
		return nil, fmt.Errorf("floor: preparing %s: %w", o.Path, err)
	}
	s := &Server{opts: o, f: f}
	if o.Forward != "" {
		s.client = &fasthttp.Client{MaxConnsPerHost: 4096, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second}
	}
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
	if s.forward != nil {
		close(s.forward)
	}
	s.wg.Wait()
	return s.f.Close()
}

// commit makes body durable (a copy: fasthttp reuses its buffer) by a
// group commit without a committer goroutine, as LevelDB's writers do:
// the request that finds no batch being written becomes the leader and
// writes and syncs everything queued so far itself; the others queue and
// wait. A leader that leaves a queue behind hands the lead to its first
// waiter. At one connection no request changes goroutines; under load the
// batches are as large as with a committer.
func (s *Server) commit(body []byte) error {
	a := appendPool.Get().(*pending)
	defer appendPool.Put(a)
	a.body = append(a.body[:0], body...)
	s.mu.Lock()
	s.queue = append(s.queue, a)
	if s.leading {
		s.mu.Unlock()
		if err := <-a.done; err != errLead {
			return err
		}
		s.mu.Lock() // the lead came to a, still queued
	}
	s.leading = true
	batch := s.queue
	s.queue = s.spare[:0]
	s.mu.Unlock()

	s.buf = s.buf[:0]
	for _, b := range batch {
		s.buf = append(s.buf, b.body...)
	}
	err := s.write(s.buf)
	for _, b := range batch {
		if b != a {
			b.done <- err
		}
	}
	clear(batch)
	s.mu.Lock()
	s.spare = batch
	if len(s.queue) > 0 {
		s.queue[0].done <- errLead
	} else {
		s.leading = false
	}
	s.mu.Unlock()
	return err
}

// errLead tells a waiting request that it leads the next batch.
var errLead = errors.New("floor: lead the next batch")

// zeroFill writes n zero bytes to f and syncs them, so that every
// later write overwrites blocks that exist: its fdatasync then has no size
// or extent to commit (40-120 µs less per sync at one connection here than
// after an append; a log that recycles its files gets the same).
func zeroFill(f *os.File, n int64) error {
	zero := make([]byte, min(n, 1<<20))
	for left := n; left > 0; left -= int64(len(zero)) {
		if _, err := f.Write(zero[:min(left, int64(len(zero)))]); err != nil {
			return err
		}
	}
	return syscall.Fdatasync(int(f.Fd())) // #nosec G115 -- a file descriptor
}

func (s *Server) write(buf []byte) error {
	if s.off+int64(len(buf)) > s.opts.FileBytes {
		s.off = 0 // round again
	}
	if _, err := s.f.WriteAt(buf, s.off); err != nil {
		return err
	}
	s.off += int64(len(buf))
	return syscall.Fdatasync(int(s.f.Fd())) // #nosec G115 -- a file descriptor
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
		if err := s.commit(body); err != nil {
			ctx.Error(err.Error(), fasthttp.StatusServiceUnavailable)
			return
		}
		switch {
		case s.opts.Forward == "":
		case s.opts.Reply:
			// After the commit, on the same goroutine: at one connection
			// this beats delivering while the body syncs on another
			// goroutine (each hand-off wakes an idle core).
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			if err := s.deliver(req, resp, body); err != nil {
				ctx.Error(err.Error(), fasthttp.StatusBadGateway)
				return
			}
			ctx.SetStatusCode(resp.StatusCode())
			ctx.SetContentType("application/json")
			ctx.SetBody(resp.Body())
			return
		default:
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
