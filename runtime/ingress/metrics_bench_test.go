package ingress

import (
	"context"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/queue"
	"github.com/sluicehq/sluice/runtime/metrics"
	"github.com/sluicehq/sluice/runtime/results"
	"github.com/valyala/fasthttp"
)

// BenchmarkIngestMetrics is the cost of counting on the hot path: the same
// real ingress (fasthttp on loopback, a Badger log with durability none,
// so that nothing hides the difference behind an fsync) with metrics off
// (nil) and on, 64 keep-alive connections posting 1 KiB of JSON to an async
// route; a consumer completes the messages as a worker would, so the
// backlog stays small; with metrics on, the log's group commits are timed
// too, as the server does. Run it several times interleaved and compare the
// medians of msgs/s:
//
//	for i in 1 2 3 4 5 6 7 8; do go test -run '^$' -bench IngestMetrics ./runtime/ingress; done
func BenchmarkIngestMetrics(b *testing.B) {
	for _, variant := range []string{"metrics=off", "metrics=on"} {
		b.Run(variant, func(b *testing.B) {
			var m *metrics.Metrics
			opts := queue.Options{Dir: filepath.Join(b.TempDir(), "log"), Durability: queue.DurabilityNone,
				Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
			if variant == "metrics=on" { // as the server wires them: the routes, the unknown route, the log's commits
				m = metrics.New("bench", []string{"bench"}, nil)
				commit := m.LogCommit()
				opts.OnCommit = func(c queue.Commit) { commit(c.Appended, c.Write, c.Sync) }
			}
			q, err := queue.Open(opts)
			if err != nil {
				b.Fatal(err)
			}
			s := New(Options{Routes: []Route{{Name: "bench", Metrics: m.Route("bench")}}, Queue: q,
				Waiters: results.NewWaiters(), MaxBodySize: 1 << 20, Metrics: m,
				Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			go s.Serve(ln)
			ctx, cancel := context.WithCancel(context.Background())
			var consumers sync.WaitGroup
			for range 2 {
				consumers.Add(1)
				go func() {
					defer consumers.Done()
					for {
						msg, err := q.Next(ctx)
						if err != nil {
							return
						}
						q.Complete(msg, &queue.Record{Status: queue.StatusSucceeded}, nil)
					}
				}()
			}
			defer func() {
				s.Shutdown()
				cancel()
				consumers.Wait()
				q.Close()
			}()

			body := []byte(`{"id":"order-1","pad":"` + strings.Repeat("x", 990) + `"}`)
			const conns = 64
			var n atomic.Int64
			n.Store(int64(b.N))
			var wg sync.WaitGroup
			b.ResetTimer()
			start := time.Now()
			for range conns {
				wg.Add(1)
				go func() {
					defer wg.Done()
					c := &fasthttp.HostClient{Addr: ln.Addr().String(), MaxConns: 1}
					req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
					req.SetRequestURI("http://" + ln.Addr().String() + "/in/bench")
					req.Header.SetMethod("POST")
					req.Header.SetContentType("application/json")
					req.SetBody(body)
					for n.Add(-1) >= 0 {
						if err := c.Do(req, resp); err != nil || resp.StatusCode() != 202 {
							b.Errorf("%v %d %s", err, resp.StatusCode(), resp.Body())
							return
						}
					}
				}()
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
		})
	}
}
