package load

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/sluicehq/sluice/benchmarks/internal/latency"
	"github.com/valyala/fasthttp"
)

var (
	errNoAddr     = errors.New("load: addr is empty")
	errBadConns   = errors.New("load: conns must be ≥ 1")
	errBadBody    = errors.New("load: body_bytes must be ≥ 0")
	errBadWindow  = errors.New("load: warmup must be ≥ 0 and measure > 0")
	errBadTimeout = errors.New("load: timeout must be > 0")
)

// Config describes one closed-loop run against one server.
type Config struct {
	Addr      string        // host:port of the server
	Path      string        // request path, e.g. "/in/bench"
	Conns     int           // concurrent keep-alive connections, one goroutine each
	BodyBytes int           // size of every POST body
	Warmup    time.Duration // load before measuring; not counted
	Measure   time.Duration // measured window
	Timeout   time.Duration // per-request read and write timeout
}

// Default returns the configuration: 64 connections, 1 KiB bodies,
// 2 s warmup and 5 s measurement. Addr must still be set.
func Default() Config {
	return Config{
		Path:      "/in/bench",
		Conns:     64,
		BodyBytes: 1024,
		Warmup:    2 * time.Second,
		Measure:   5 * time.Second,
		Timeout:   10 * time.Second,
	}
}

// Validate reports the first invalid field.
func (c Config) Validate() error {
	switch {
	case c.Addr == "":
		return errNoAddr
	case c.Conns < 1:
		return fmt.Errorf("%w (got %d)", errBadConns, c.Conns)
	case c.BodyBytes < 0:
		return fmt.Errorf("%w (got %d)", errBadBody, c.BodyBytes)
	case c.Warmup < 0 || c.Measure <= 0:
		return fmt.Errorf("%w (got %v, %v)", errBadWindow, c.Warmup, c.Measure)
	case c.Timeout <= 0:
		return errBadTimeout
	}
	return nil
}

// Phase is a point in a run at which Run calls the Marker.
type Phase int

const (
	// MeasureStart is reported just before the measured window opens.
	MeasureStart Phase = iota
	// MeasureEnd is reported just after the measured window closed.
	MeasureEnd
)

// Marker is called synchronously at MeasureStart and MeasureEnd so the
// caller can sample the server (CPU time, memory) at the window's edges.
type Marker func(Phase)

// Result is what one run measured. Counts cover the measured window only.
type Result struct {
	Conns    int
	Elapsed  time.Duration // actual length of the measured window
	Accepted uint64        // 202 answers
	// Rejected counts answers with any other status, by status code
	// (e.g. 503 when Sluice's backlog is full).
	Rejected        map[int]uint64
	TransportErrors uint64 // timeouts, resets, refused connections
	FirstError      string // first transport error seen, if any (any phase)
	// Dials is the number of connections opened during the whole run; it
	// equals Conns when every connection stayed alive.
	Dials uint64
	// MinConnAccepted and MaxConnAccepted are the fewest and most 202s one
	// connection got: a large spread means unfair scheduling.
	MinConnAccepted, MaxConnAccepted uint64
	Latency                          latency.Histogram // of 202 answers
	ClientCPU                        time.Duration     // CPU time of this whole process in the window
	ClientAllocs                     uint64            // heap objects this whole process allocated in the window
}

// RPS is the rate of 202 answers in the measured window.
func (r *Result) RPS() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Accepted) / r.Elapsed.Seconds()
}

// Errors is the number of requests in the window that did not get a 202.
func (r *Result) Errors() uint64 {
	n := r.TransportErrors
	for _, c := range r.Rejected {
		n += c
	}
	return n
}

// AllocsPerRequest is ClientAllocs divided by the answers in the window.
func (r *Result) AllocsPerRequest() float64 {
	n := r.Accepted + r.Errors()
	if n == 0 {
		return 0
	}
	return float64(r.ClientAllocs) / float64(n)
}

const (
	phaseWarmup int32 = iota
	phaseMeasure
	phaseStop
)

// errorBackoff keeps a goroutine whose server refuses connections from
// spinning and starving the server of CPU.
const errorBackoff = 10 * time.Millisecond

// Run drives one closed-loop run and returns what it measured. mark may be
// nil. If ctx ends first, Run stops the load and returns ctx's error.
func Run(ctx context.Context, cfg Config, mark Marker) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if mark == nil {
		mark = func(Phase) {}
	}
	var (
		phase atomic.Int32
		dials atomic.Uint64
		wg    sync.WaitGroup
	)
	workers := make([]*worker, cfg.Conns)
	for i := range workers {
		workers[i] = newWorker(cfg, &dials)
	}
	for _, w := range workers {
		wg.Go(func() { w.loop(&phase) })
	}
	stop := func() {
		phase.Store(phaseStop)
		wg.Wait()
		for _, w := range workers {
			w.close()
		}
	}

	if !sleep(ctx, cfg.Warmup) {
		stop()
		return nil, ctx.Err()
	}
	mark(MeasureStart)
	cpu0, allocs0 := processCPU(), processAllocs()
	t0 := time.Now()
	phase.Store(phaseMeasure)
	ok := sleep(ctx, cfg.Measure)
	phase.Store(phaseStop)
	elapsed := time.Since(t0)
	cpu1, allocs1 := processCPU(), processAllocs()
	mark(MeasureEnd)
	stop()
	if !ok {
		return nil, ctx.Err()
	}

	res := &Result{
		Conns:           cfg.Conns,
		Elapsed:         elapsed,
		Rejected:        map[int]uint64{},
		Dials:           dials.Load(),
		ClientCPU:       cpu1 - cpu0,
		ClientAllocs:    allocs1 - allocs0,
		MinConnAccepted: ^uint64(0),
	}
	for _, w := range workers {
		res.Accepted += w.accepted
		res.TransportErrors += w.transportErrors
		for code, n := range w.statuses {
			if n > 0 {
				res.Rejected[code] += n
			}
		}
		if res.FirstError == "" && w.firstErr != nil {
			res.FirstError = w.firstErr.Error()
		}
		res.MinConnAccepted = min(res.MinConnAccepted, w.accepted)
		res.MaxConnAccepted = max(res.MaxConnAccepted, w.accepted)
		res.Latency.Merge(&w.hist)
	}
	return res, nil
}

// worker owns one connection and everything its request loop touches. It
// is used by one goroutine only.
type worker struct {
	client          *fasthttp.HostClient
	req             *fasthttp.Request
	resp            *fasthttp.Response
	accepted        uint64
	transportErrors uint64
	statuses        [600]uint64 // non-202 answers by status code; codes ≥ 600 count as 599
	firstErr        error
	hist            latency.Histogram
}

func newWorker(cfg Config, dials *atomic.Uint64) *worker {
	timeout := cfg.Timeout
	client := &fasthttp.HostClient{
		Addr:                     cfg.Addr,
		MaxConns:                 1,
		MaxIdleConnDuration:      time.Hour,
		ReadTimeout:              timeout,
		WriteTimeout:             timeout,
		NoDefaultUserAgentHeader: true,
		DisablePathNormalizing:   true,
		Dial: func(addr string) (net.Conn, error) {
			dials.Add(1)
			return net.DialTimeout("tcp", addr, timeout)
		},
	}
	body := make([]byte, cfg.BodyBytes)
	for i := range body {
		body[i] = 'a' + byte(i%26)
	}
	req := fasthttp.AcquireRequest()
	req.SetRequestURI("http://" + cfg.Addr + cfg.Path)
	req.Header.SetMethod(fasthttp.MethodPost)
	req.Header.SetContentType("application/octet-stream")
	req.SetBodyRaw(body)
	return &worker{client: client, req: req, resp: fasthttp.AcquireResponse()}
}

func (w *worker) loop(phase *atomic.Int32) {
	for {
		p := phase.Load()
		if p == phaseStop {
			return
		}
		start := time.Now()
		err := w.client.Do(w.req, w.resp)
		took := time.Since(start)
		if err != nil && w.firstErr == nil {
			w.firstErr = err
		}
		// Count only requests that completed inside the window; a request
		// that straddles its start still counts, its latency is real.
		if phase.Load() == phaseMeasure {
			switch code := w.resp.StatusCode(); {
			case err != nil:
				w.transportErrors++
			case code == fasthttp.StatusAccepted:
				w.accepted++
				w.hist.Record(took)
			default:
				w.statuses[min(max(code, 0), len(w.statuses)-1)]++
			}
		}
		if err != nil {
			time.Sleep(errorBackoff)
		}
	}
}

func (w *worker) close() {
	w.client.CloseIdleConnections()
	fasthttp.ReleaseRequest(w.req)
	fasthttp.ReleaseResponse(w.resp)
}

// sleep waits for d or ctx, reporting whether the whole d elapsed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// processCPU is the user+system CPU time of this process so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// processAllocs is the number of heap objects this process allocated so far.
// runtime/metrics does not stop the world, unlike runtime.ReadMemStats.
func processAllocs() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:objects"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}
