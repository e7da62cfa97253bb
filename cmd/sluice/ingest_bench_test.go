package main

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/runtime/config"
	"github.com/valyala/fasthttp"
)

// benchSchema is what a route validating orders might use; the benchmark's
// 1 KiB body matches it.
const benchSchema = `{"type": "object", "required": ["id", "pad"],
  "properties": {"id": {"type": "string", "minLength": 1}, "pad": {"type": "string", "maxLength": 2000}}}`

// BenchmarkIngestAsync drives the in-process server with 64 keep-alive
// connections posting 1 KiB of JSON to an async route without transforms and
// reports the log's batching; "schema" validates every message against a
// JSON Schema first; "github" verifies a GitHub signature first. The end-to-end comparison with a bare server lives in
// benchmarks/ (separate processes); this one is for profiling and ratios.
func BenchmarkIngestAsync(b *testing.B) {
	for _, variant := range []string{"fsync", "none", "fsync+schema", "none+github"} {
		durability, withSchema := strings.CutSuffix(variant, "+schema")
		durability, withGitHub := strings.CutSuffix(durability, "+github")
		b.Run(variant, func(b *testing.B) {
			cfg := config.Default()
			cfg.DataDir, cfg.Listen, cfg.Durability, cfg.AdminListen = b.TempDir(), "127.0.0.1:0", durability, "off"
			cfg.Routes = []config.Route{{Name: "bench", Mode: config.ModeAsync, OrderBy: "none"}}
			if withSchema {
				path := filepath.Join(b.TempDir(), "bench.schema.json")
				os.WriteFile(path, []byte(benchSchema), 0o644)
				cfg.Routes[0].Validate = &config.Validate{Schema: path}
			}
			if withGitHub {
				cfg.Routes[0].Auth = &config.Auth{Verify: config.AuthGitHub, Secret: config.SecretList{githubSecret}}
			}
			s, err := start(b.Context(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
			if err != nil {
				b.Fatal(err)
			}
			defer s.close()
			body := []byte(`{"id":"order-1","pad":"` + strings.Repeat("x", 990) + `"}`)
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
					if withGitHub {
						req.Header.Set("X-Hub-Signature-256", githubSign(githubSecret, string(body)))
					}
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
