package load

import (
	"context"
	"encoding/json"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

func TestValidate(t *testing.T) {
	ok := Default()
	ok.Addr = "127.0.0.1:1"
	tests := []struct {
		name    string
		mutate  func(*Config)
		wantErr string
	}{
		{"default", func(*Config) {}, ""},
		{"no addr", func(c *Config) { c.Addr = "" }, "addr"},
		{"no conns", func(c *Config) { c.Conns = 0 }, "conns"},
		{"negative body", func(c *Config) { c.BodyBytes = -1 }, "body_bytes"},
		{"no measure", func(c *Config) { c.Measure = 0 }, "measure"},
		{"no timeout", func(c *Config) { c.Timeout = 0 }, "timeout"},
		{"negative rate", func(c *Config) { c.Rate = -1 }, "rate"},
		{"bad status", func(c *Config) { c.Status = 42 }, "status"},
		{"key header without keys", func(c *Config) { c.KeyHeader = "X-K" }, "keys"},
		{"negative backoff", func(c *Config) { c.RejectBackoff = -1 }, "reject_backoff"},
		{"header", func(c *Config) { c.Headers = []Header{{"X-Hub-Signature-256", "sha256=00"}} }, ""},
		{"header without name", func(c *Config) { c.Headers = []Header{{"", "v"}} }, "headers"},
		{"header name with a colon", func(c *Config) { c.Headers = []Header{{"X-A:", "v"}} }, "headers"},
		{"header name with a space", func(c *Config) { c.Headers = []Header{{"X A", "v"}} }, "headers"},
		{"header value with a newline", func(c *Config) { c.Headers = []Header{{"X-A", "v\r\nX-B: w"}} }, "headers"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok
			tt.mutate(&c)
			err := c.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v does not mention %q", err, tt.wantErr)
			}
		})
	}
}

func TestResultMath(t *testing.T) {
	r := Result{
		Elapsed:         2 * time.Second,
		Accepted:        1000,
		Rejected:        map[int]uint64{503: 30, 400: 5},
		TransportErrors: 15,
		ClientAllocs:    105,
	}
	if got := r.RPS(); got != 500 {
		t.Errorf("RPS = %v, want 500", got)
	}
	if got := r.Errors(); got != 50 {
		t.Errorf("Errors = %v, want 50", got)
	}
	if got := r.AllocsPerRequest(); got != 0.1 {
		t.Errorf("AllocsPerRequest = %v, want 0.1", got)
	}
	var empty Result
	if empty.RPS() != 0 || empty.AllocsPerRequest() != 0 {
		t.Error("empty result must report zeros")
	}
}

// serve starts an in-process server on loopback for the duration of the test.
func serve(t *testing.T, h fasthttp.RequestHandler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: h}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Shutdown() })
	return ln.Addr().String()
}

func quick(addr string) Config {
	c := Default()
	c.Addr = addr
	c.Conns = 2
	c.Warmup = 50 * time.Millisecond
	c.Measure = 300 * time.Millisecond
	c.Timeout = 2 * time.Second
	return c
}

func TestClosedLoopCountsStatus(t *testing.T) {
	addr := serve(t, func(ctx *fasthttp.RequestCtx) { ctx.SetStatusCode(fasthttp.StatusOK) })
	c := quick(addr)
	c.Status = fasthttp.StatusOK
	res, err := Run(context.Background(), c, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Accepted == 0 || res.Errors() != 0 || res.Latency.Count() != res.Accepted {
		t.Errorf("accepted %d, errors %d, latencies %d", res.Accepted, res.Errors(), res.Latency.Count())
	}
	c.Status = 0 // 202 expected: every 200 is an error
	res, err = Run(context.Background(), c, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Accepted != 0 || res.Rejected[fasthttp.StatusOK] == 0 {
		t.Errorf("accepted %d, rejected %v", res.Accepted, res.Rejected)
	}
}

func TestOpenLoopKeepsItsRate(t *testing.T) {
	addr := serve(t, func(ctx *fasthttp.RequestCtx) { ctx.SetStatusCode(fasthttp.StatusAccepted) })
	c := quick(addr)
	c.Rate = 1000
	marks := 0
	res, err := Run(context.Background(), c, func(Phase) { marks++ })
	if err != nil {
		t.Fatal(err)
	}
	// 300 requests are due in the window; a loaded machine may lag a little.
	if res.Accepted < 150 || res.Accepted > 330 {
		t.Errorf("accepted %d in %v at 1000/s", res.Accepted, res.Elapsed)
	}
	if marks != 2 || res.Service.Count() != res.Accepted || res.Latency.Count() < res.Accepted {
		t.Errorf("marks %d, service %d, latency %d, accepted %d", marks, res.Service.Count(), res.Latency.Count(), res.Accepted)
	}
}

func TestOpenLoopChargesQueueingToTheServer(t *testing.T) {
	// One connection, 20 ms per answer: at most 50/s get through, 200/s are
	// due. A closed loop would report ~20 ms; the open loop must report the
	// growing wait for the connection, and the backlog left at the end.
	addr := serve(t, func(ctx *fasthttp.RequestCtx) {
		time.Sleep(20 * time.Millisecond)
		ctx.SetStatusCode(fasthttp.StatusAccepted)
	})
	c := quick(addr)
	c.Conns = 1
	c.Rate = 200
	res, err := Run(context.Background(), c, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Unfinished < 10 {
		t.Errorf("unfinished %d, want the backlog of an overloaded server", res.Unfinished)
	}
	service, corrected := res.Service.Quantile(0.5), res.Latency.Quantile(0.99)
	if corrected < 4*service || service < 20*time.Millisecond {
		t.Errorf("service p50 %v, corrected p99 %v: no coordinated-omission correction", service, corrected)
	}
}

func TestJSONBody(t *testing.T) {
	for _, n := range []int{1, 2, 3, 10, 11, 12, 100, 256, 1024, 4096, 65536} {
		b := JSONBody(n)
		if len(b) != n || !json.Valid(b) {
			t.Errorf("JSONBody(%d) = %d bytes %.40q, valid %v", n, len(b), b, json.Valid(b))
		}
	}
	if b := JSONBody(0); len(b) != 0 {
		t.Errorf("JSONBody(0) = %q", b)
	}
}

func TestStartKey(t *testing.T) {
	tests := []struct{ conn, conns, keys, want int }{
		{0, 64, 256, 0},
		{1, 64, 256, 4},
		{63, 64, 256, 252},
		{5, 64, 16, 1}, // more connections than keys: four share a start
		{3, 4, 3, 2},
		{0, 1, 256, 0},
		{2, 4, 0, 0}, // no keys
	}
	for _, tt := range tests {
		if got := StartKey(tt.conn, tt.conns, tt.keys); got != tt.want {
			t.Errorf("StartKey(%d, %d, %d) = %d, want %d", tt.conn, tt.conns, tt.keys, got, tt.want)
		}
	}
}

func TestKeysRotatePerConnection(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]int{}
	addr := serve(t, func(ctx *fasthttp.RequestCtx) {
		mu.Lock()
		seen[string(ctx.Request.Header.Peek("X-Order-Key"))]++
		mu.Unlock()
		ctx.SetStatusCode(fasthttp.StatusAccepted)
	})
	c := quick(addr)
	c.KeyHeader, c.Keys = "X-Order-Key", 8
	res, err := Run(context.Background(), c, nil)
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if res.Accepted < 16 || len(seen) != 8 {
		t.Fatalf("accepted %d, keys seen %v", res.Accepted, seen)
	}
	// Round-robin: every key gets its share, give or take a cycle per connection.
	var total int
	for _, n := range seen {
		total += n
	}
	for k, n := range seen {
		if n < total/8-c.Conns || n > total/8+c.Conns {
			t.Errorf("key %s sent %d times of %d", k, n, total)
		}
	}
}

func TestHeadersAndBodyAreSentAsConfigured(t *testing.T) {
	for _, jsonBody := range []bool{false, true} {
		var (
			mu  sync.Mutex
			bad string
			n   int
		)
		c := quick("")
		c.BodyBytes, c.JSONBody = 100, jsonBody
		c.Headers = []Header{{"X-Hub-Signature-256", "sha256=abc"}, {"X-Other", "1"}}
		want := string(Body(c))
		c.Addr = serve(t, func(ctx *fasthttp.RequestCtx) {
			mu.Lock()
			defer mu.Unlock()
			n++
			h := &ctx.Request.Header
			switch {
			case string(h.Peek("X-Hub-Signature-256")) != "sha256=abc" || string(h.Peek("X-Other")) != "1":
				bad = "headers " + h.String()
			case string(ctx.PostBody()) != want:
				bad = "body " + string(ctx.PostBody())
			}
			ctx.SetStatusCode(fasthttp.StatusAccepted)
		})
		if _, err := Run(context.Background(), c, nil); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		if n == 0 || bad != "" || len(want) != 100 || json.Valid([]byte(want)) != jsonBody {
			t.Errorf("json %v: %d requests, %s; Body %.40q", jsonBody, n, bad, want)
		}
		mu.Unlock()
	}
}

func TestRejectBackoff(t *testing.T) {
	addr := serve(t, func(ctx *fasthttp.RequestCtx) { ctx.SetStatusCode(fasthttp.StatusTooManyRequests) })
	c := quick(addr)
	c.Conns = 1
	c.RejectBackoff = 50 * time.Millisecond
	res, err := Run(context.Background(), c, nil)
	if err != nil {
		t.Fatal(err)
	}
	// 300 ms at one request per 50 ms: about 6 answers, not thousands.
	if n := res.Rejected[fasthttp.StatusTooManyRequests]; n < 2 || n > 10 {
		t.Errorf("%d rejections in %v with a 50 ms backoff", n, res.Elapsed)
	}
}
