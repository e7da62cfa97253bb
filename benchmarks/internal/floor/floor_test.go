package floor

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/benchmarks/internal/bare"
	"github.com/valyala/fasthttp"
)

// serve runs h on a loopback listener until the test ends and returns its
// base URL.
func serve(t *testing.T, h fasthttp.RequestHandler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: h}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	return "http://" + ln.Addr().String()
}

func open(t *testing.T, o Options) *Server {
	t.Helper()
	o.Path, o.FileBytes = filepath.Join(t.TempDir(), "floor.log"), 1<<20
	s, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func post(t *testing.T, url string, body []byte) (int, []byte) {
	t.Helper()
	req, res := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(res)
	req.SetRequestURI(url)
	req.Header.SetMethod(fasthttp.MethodPost)
	req.SetBody(body)
	if err := fasthttp.DoTimeout(req, res, 30*time.Second); err != nil {
		t.Error(err)
		return 0, nil
	}
	return res.StatusCode(), append([]byte(nil), res.Body()...)
}

// Every acknowledged body is in the file, whole, however the concurrent
// requests were batched.
func TestCommitsEveryBodyBeforeAnswering(t *testing.T) {
	s := open(t, Options{})
	url := serve(t, s.Handler) + "/in/bench"
	const n = 64
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if status, _ := post(t, url, fmt.Appendf(nil, "<body %03d>", i)); status != fasthttp.StatusAccepted {
				t.Errorf("body %d: status %d", i, status)
			}
		})
	}
	wg.Wait()
	data, err := os.ReadFile(s.opts.Path)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) != 1<<20 {
		t.Fatalf("file of %d bytes, want the 1 MiB it was prepared with", len(data))
	}
	written := data[:n*len("<body 000>")]
	for i := range n {
		if !bytes.Contains(written, fmt.Appendf(nil, "<body %03d>", i)) {
			t.Fatalf("body %d missing from the file's first %d bytes", i, len(written))
		}
	}
	if !bytes.Equal(data[len(written):], make([]byte, len(data)-len(written))) {
		t.Fatal("bytes written past the bodies")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// A replying floor answers with the destination's status and body; an
// async one answers 202 and delivers every body in the background.
func TestForward(t *testing.T) {
	sink := bare.New(fasthttp.StatusOK)
	sinkURL := serve(t, sink.Handler) + "/sink"

	s := open(t, Options{Forward: sinkURL, Reply: true})
	status, body := post(t, serve(t, s.Handler)+"/in/sync", []byte(`{"a":1}`))
	if status != fasthttp.StatusOK || !bytes.Contains(body, []byte("correlation_id")) || sink.Count() != 1 {
		t.Fatalf("sync: %d %q, sink got %d", status, body, sink.Count())
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	a := open(t, Options{Forward: sinkURL, Forwarders: 4})
	url := serve(t, a.Handler) + "/in/e2e"
	const n = 20
	for range n {
		if status, _ := post(t, url, []byte(`{"b":2}`)); status != fasthttp.StatusAccepted {
			t.Fatalf("async: status %d", status)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for sink.Count() != 1+n {
		if time.Now().After(deadline) {
			t.Fatalf("sink got %d of %d", sink.Count(), 1+n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
}

// The file is written round and round: it never grows past its size.
func TestWritesRoundTheFile(t *testing.T) {
	s := open(t, Options{})
	s.opts.FileBytes = 1000
	for i := range 25 {
		body := bytes.Repeat([]byte{'a' + byte(i)}, 100)
		if err := s.commit(body); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(s.opts.Path)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) != 1<<20 { // as prepared; the rounds stay in the first 1000 bytes
		t.Fatalf("file of %d bytes", len(data))
	}
	// 25 bodies of 100 bytes in 1000: the last round holds bodies 20-24.
	if !bytes.Equal(data[:100], bytes.Repeat([]byte{'a' + 20}, 100)) || !bytes.Equal(data[400:500], bytes.Repeat([]byte{'a' + 24}, 100)) {
		t.Fatalf("the last round is not at the start: %q", data[:10])
	}
}
