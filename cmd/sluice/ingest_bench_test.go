package main

import (
	"bytes"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/runtime/config"
	"github.com/valyala/fasthttp"
)

// BenchmarkIngestAsync drives the in-process server with 64 keep-alive
// connections posting 1 KiB to an async route without transforms and reports
// the log's batching. The end-to-end comparison with a bare server lives in
// benchmarks/ (separate processes); this one is for profiling.
func BenchmarkIngestAsync(b *testing.B) {
	for _, durability := range []string{"fsync", "none"} {
		b.Run(durability, func(b *testing.B) {
			cfg := config.Default()
			cfg.DataDir, cfg.Listen, cfg.Durability = b.TempDir(), "127.0.0.1:0", durability
			cfg.Routes = []config.Route{{Name: "bench", Mode: config.ModeAsync, OrderBy: "none"}}
			s, err := start(b.Context(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
			if err != nil {
				b.Fatal(err)
			}
			defer s.close()
			body := bytes.Repeat([]byte("x"), 1024)
			const conns = 64
			var n atomic.Int64
			n.Store(int64(b.N))
			var wg sync.WaitGroup
			start := time.Now()
			for range conns {
				wg.Add(1)
				go func() {
					defer wg.Done()
					c := &fasthttp.HostClient{Addr: s.addr.String(), MaxConns: 1}
					req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
					req.SetRequestURI("http://" + s.addr.String() + "/in/bench")
					req.Header.SetMethod("POST")
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
			el := time.Since(start)
			st := s.queue.Stats()
			b.ReportMetric(float64(b.N)/el.Seconds(), "msgs/s")
			b.ReportMetric(float64(st.Appends+st.Completes)/float64(st.Batches), "ops/batch")
			b.ReportMetric(float64(el.Microseconds())/float64(st.Batches), "µs/batch")
			b.ReportMetric(float64(st.Appends)/float64(max(st.Syncs, 1)), "appends/sync")
			b.ReportMetric(float64(st.WriteNanos)/1e3/float64(st.Batches), "writeµs/batch")
			b.ReportMetric(float64(st.SyncNanos)/1e3/float64(max(st.Syncs, 1)), "µs/sync")
		})
	}
}
