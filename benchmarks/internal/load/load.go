package load

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
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
	errBadRate    = errors.New("load: rate must be ≥ 0 and ≤ 1e6")
	errBadStatus  = errors.New("load: status must be 0 or 100..599")
	errBadKeys    = errors.New("load: keys must be ≥ 0, and > 0 with a key header")
	errBadBackoff = errors.New("load: reject_backoff must be ≥ 0")
	errBadHeader  = errors.New("load: headers need a token name and a value without CR, LF or NUL")
)

// Config describes one run against one server.
type Config struct {
	Addr      string        // host:port of the server
	Path      string        // request path, e.g. "/in/bench"
	Conns     int           // concurrent keep-alive connections, one goroutine each
	BodyBytes int           // size of every POST body
	Warmup    time.Duration // load before measuring; not counted
	Measure   time.Duration // measured window
	Timeout   time.Duration // per-request read and write timeout
	// Status is the answer that counts as success; 0 means 202.
	Status int
	// Rate, if > 0, makes the run open loop: requests are due at fixed
	// intervals of 1/Rate, whatever the answers do, and the first free
	// connection sends the oldest due request. Latency then runs from the
	// request's intended send time (coordinated-omission corrected).
	// 0: closed loop, every connection sends back to back.
	Rate float64
	// JSONBody sends a JSON document of exactly BodyBytes bytes
	// (application/json, see JSONBody) instead of letters
	// (application/octet-stream).
	JSONBody bool
	// KeyHeader, if set, is a header every request carries with one of Keys
	// values ("k0", "k1", ...). Each connection cycles through all of them,
	// starting at its own offset (StartKey), so consecutive messages of one
	// key come from different connections.
	KeyHeader string
	Keys      int
	// RejectBackoff is how long a closed-loop connection waits after an
	// answer with another status than Status before it sends again (a client
	// honouring Retry-After, so a server shedding load with 429s is not
	// flooded with retries); 0 sends again at once.
	RejectBackoff time.Duration
	// Headers are sent with every request, the same values every time (e.g.
	// a signature of the fixed body, see Body). They are set once per
	// connection, so they cost a request nothing but their bytes.
	Headers []Header
}

// Header is one request header.
type Header struct {
	Name, Value string
}

// Default returns the configuration: 64 connections, 1 KiB bodies,
// 2 s warmup and 5 s measurement, closed loop. Addr must still be set.
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
	case c.Rate < 0 || c.Rate > 1e6:
		return fmt.Errorf("%w (got %v)", errBadRate, c.Rate)
	case c.Status != 0 && (c.Status < 100 || c.Status > 599):
		return fmt.Errorf("%w (got %d)", errBadStatus, c.Status)
	case c.Keys < 0 || (c.KeyHeader != "" && c.Keys == 0):
		return fmt.Errorf("%w (got %d)", errBadKeys, c.Keys)
	case c.RejectBackoff < 0:
		return fmt.Errorf("%w (got %v)", errBadBackoff, c.RejectBackoff)
	}
	for _, h := range c.Headers {
		if !validHeader(h) {
			return fmt.Errorf("%w (got %q)", errBadHeader, h.Name)
		}
	}
	return nil
}

// validHeader reports whether h's name is an HTTP token and its value has
// no byte that would end or corrupt the header.
func validHeader(h Header) bool {
	if h.Name == "" || strings.ContainsFunc(h.Name, func(r rune) bool {
		return r <= ' ' || r >= 0x7f || strings.ContainsRune(`"(),/:;<=>?@[\]{}`, r)
	}) {
		return false
	}
	return !strings.ContainsAny(h.Value, "\r\n\x00")
}

func (c Config) status() int {
	if c.Status == 0 {
		return fasthttp.StatusAccepted
	}
	return c.Status
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
// caller can sample the server (CPU time, memory, counters) at the window's
// edges.
type Marker func(Phase)

// Result is what one run measured. Counts cover the measured window only.
type Result struct {
	Conns    int
	Rate     float64       // requests per second intended; 0 for closed loop
	Elapsed  time.Duration // actual length of the measured window
	Accepted uint64        // answers with Config.Status (202 by default)
	// Rejected counts answers with any other status, by status code
	// (e.g. 503 when Sluice's backlog is full).
	Rejected        map[int]uint64
	TransportErrors uint64 // timeouts, resets, refused connections
	FirstError      string // first transport error seen, if any (any phase)
	// Dials is the number of connections opened during the whole run; it
	// equals Conns when every connection stayed alive.
	Dials uint64
	// MinConnAccepted and MaxConnAccepted are the fewest and most successes
	// one connection got: a large spread means unfair scheduling.
	MinConnAccepted, MaxConnAccepted uint64
	// Latency holds the successes. Closed loop: from send to answer. Open
	// loop: from the intended send time to the answer, plus, for every
	// request due before the window ended and not answered by then, the time
	// from its intended send to the end of the window (a lower bound).
	Latency latency.Histogram
	// Service is, for open loop, the latency of the successes from their
	// actual send: Latency minus the wait for a free connection and the
	// generator's own lag. Empty for closed loop.
	Service latency.Histogram
	// Unfinished counts open-loop requests due before the window ended that
	// had no answer by then (in flight or still waiting for a connection):
	// more than a handful means the server did not keep up with Rate.
	Unfinished uint64
	// Dropped counts open-loop requests the generator could not even queue.
	Dropped      uint64
	ClientCPU    time.Duration // CPU time of this whole process in the window
	ClientAllocs uint64        // heap objects this whole process allocated in the window
}

// RPS is the rate of successes in the measured window.
func (r *Result) RPS() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Accepted) / r.Elapsed.Seconds()
}

// Errors is the number of requests in the window that did not succeed.
func (r *Result) Errors() uint64 {
	n := r.TransportErrors + r.Dropped
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

// maxQueued bounds the open-loop queue of due requests (8 bytes each).
const maxQueued = 1 << 20

// Run drives one run and returns what it measured. mark may be nil. If ctx
// ends first, Run stops the load and returns ctx's error.
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
		done  = make(chan struct{})
		p     *pacer
	)
	body := Body(cfg)
	var keys [][]byte
	if cfg.KeyHeader != "" {
		keys = make([][]byte, cfg.Keys)
		for i := range keys {
			keys[i] = []byte("k" + strconv.Itoa(i))
		}
	}
	workers := make([]*worker, cfg.Conns)
	for i := range workers {
		workers[i] = newWorker(cfg, body, keys, StartKey(i, cfg.Conns, len(keys)), &dials)
	}
	t0 := time.Now()
	if cfg.Rate > 0 {
		// Room for every request of the run and a second more (the Marker
		// calls take time too), so requests queue rather than drop.
		queue := min(maxQueued, int(cfg.Rate*(cfg.Warmup+cfg.Measure+time.Second).Seconds())+1)
		p = &pacer{t0: t0, rate: cfg.Rate, due: make(chan int64, queue)}
		for _, w := range workers {
			wg.Go(func() { w.openLoop(&phase, p, done) })
		}
		wg.Go(func() { p.run(&phase, done) })
	} else {
		for _, w := range workers {
			wg.Go(func() { w.closedLoop(&phase) })
		}
	}
	var unfinished latency.Histogram
	var nUnfinished uint64
	// closeWindow ends the measured window; wait then lets the requests on
	// the wire finish (they no longer count) and closes the connections.
	closeWindow := func() {
		phase.Store(phaseStop)
		if p == nil {
			return
		}
		// Everything due and unanswered now waited at least until now.
		end := time.Since(t0)
		for _, w := range workers {
			if v := w.inflight.Swap(0); v != 0 {
				unfinished.Record(end - time.Duration(v-1))
				nUnfinished++
			}
		}
		for drained := false; !drained; {
			select {
			case v := <-p.due:
				unfinished.Record(end - time.Duration(v))
				nUnfinished++
			default:
				drained = true
			}
		}
	}
	wait := func() {
		close(done)
		wg.Wait()
		for _, w := range workers {
			w.close()
		}
	}

	if !sleep(ctx, cfg.Warmup) {
		closeWindow()
		wait()
		return nil, ctx.Err()
	}
	mark(MeasureStart)
	cpu0, allocs0 := processCPU(), processAllocs()
	tStart := time.Now()
	phase.Store(phaseMeasure)
	ok := sleep(ctx, cfg.Measure)
	closeWindow()
	elapsed := time.Since(tStart)
	cpu1, allocs1 := processCPU(), processAllocs()
	mark(MeasureEnd)
	wait()
	if !ok {
		return nil, ctx.Err()
	}

	res := &Result{
		Conns:           cfg.Conns,
		Rate:            cfg.Rate,
		Elapsed:         elapsed,
		Rejected:        map[int]uint64{},
		Dials:           dials.Load(),
		ClientCPU:       cpu1 - cpu0,
		ClientAllocs:    allocs1 - allocs0,
		MinConnAccepted: ^uint64(0),
		Unfinished:      nUnfinished,
	}
	if p != nil {
		res.Dropped = p.dropped.Load()
		res.Latency.Merge(&unfinished)
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
		res.Service.Merge(&w.service)
	}
	return res, nil
}

// pacer releases open-loop requests at their intended times: it puts the
// intended send time (nanoseconds since t0) of every due request into due,
// where the first free connection takes the oldest.
type pacer struct {
	t0      time.Time
	rate    float64
	due     chan int64
	dropped atomic.Uint64 // requests due while due was full (the generator overloaded)
}

func (p *pacer) run(phase *atomic.Int32, done <-chan struct{}) {
	// A locked thread sleeping in nanosleep wakes within ~0.1 ms; the Go
	// timer would round a short sleep up to the next millisecond when the
	// process is otherwise idle, and that lag would count as latency.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	interval := float64(time.Second) / p.rate
	for n := int64(0); ; {
		select {
		case <-done:
			return
		default:
		}
		if phase.Load() == phaseStop {
			return
		}
		now := time.Since(p.t0)
		for ; time.Duration(float64(n)*interval) <= now; n++ {
			select {
			case p.due <- int64(float64(n) * interval):
			default:
				p.dropped.Add(1)
			}
		}
		preciseSleep(time.Duration(float64(n)*interval) - time.Since(p.t0))
	}
}

// preciseSleep sleeps for d with ~0.1 ms precision, long waits mostly on the
// Go timer so a stop is noticed.
func preciseSleep(d time.Duration) {
	if d <= 0 {
		return
	}
	if d > 3*time.Millisecond {
		time.Sleep(d - 2*time.Millisecond)
		return // the caller loops and computes the rest
	}
	ts := syscall.NsecToTimespec(int64(d))
	_ = syscall.Nanosleep(&ts, nil) // EINTR: wake early, the caller loops
}

// worker owns one connection and everything its request loop touches. It
// is used by one goroutine only, except inflight.
type worker struct {
	client          *fasthttp.HostClient
	req             *fasthttp.Request
	resp            *fasthttp.Response
	status          int
	accepted        uint64
	transportErrors uint64
	statuses        [600]uint64 // failed answers by status code; codes ≥ 600 count as 599
	firstErr        error
	rejectBackoff   time.Duration // Config.RejectBackoff
	// keyHeader and keys are Config.KeyHeader and its values, shared
	// read-only by all workers; key indexes the next request's value.
	keyHeader []byte
	keys      [][]byte
	key       int
	hist      latency.Histogram
	service   latency.Histogram
	// inflight is 1 + the intended send time of the open-loop request on
	// the wire, 0 if none. Whoever swaps it to 0 (the worker when the
	// answer comes, Run when the window ends) records that request.
	inflight atomic.Int64
}

func newWorker(cfg Config, body []byte, keys [][]byte, firstKey int, dials *atomic.Uint64) *worker {
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
	req := fasthttp.AcquireRequest()
	req.SetRequestURI("http://" + cfg.Addr + cfg.Path)
	req.Header.SetMethod(fasthttp.MethodPost)
	if cfg.JSONBody {
		req.Header.SetContentType("application/json")
	} else {
		req.Header.SetContentType("application/octet-stream")
	}
	for _, h := range cfg.Headers {
		req.Header.Set(h.Name, h.Value)
	}
	req.SetBodyRaw(body)
	w := &worker{client: client, req: req, resp: fasthttp.AcquireResponse(),
		status: cfg.status(), rejectBackoff: cfg.RejectBackoff}
	if len(keys) > 0 {
		w.keyHeader, w.keys, w.key = []byte(cfg.KeyHeader), keys, firstKey
	}
	return w
}

// Body returns the body every request of a run with cfg carries: a JSON
// document of cfg.BodyBytes with cfg.JSONBody, else that many letters.
func Body(cfg Config) []byte {
	if cfg.JSONBody {
		return JSONBody(cfg.BodyBytes)
	}
	return letterBody(cfg.BodyBytes)
}

// letterBody is n bytes of "abc…xyzabc…".
func letterBody(n int) []byte {
	body := make([]byte, n)
	for i := range body {
		body[i] = 'a' + byte(i%26)
	}
	return body
}

// JSONBody returns a JSON document of exactly n bytes: {"data":"abc…"} for
// n ≥ 11, a JSON string "abc…" for 2 ≤ n < 11, the number 0 for n = 1, and
// nothing for n ≤ 0.
func JSONBody(n int) []byte {
	const head, tail = `{"data":"`, `"}`
	switch {
	case n <= 0:
		return []byte{}
	case n == 1:
		return []byte("0")
	case n < len(head)+len(tail):
		return fmt.Appendf(nil, "%q", letterBody(n-2))
	}
	b := make([]byte, 0, n)
	b = append(b, head...)
	b = append(b, letterBody(n-len(head)-len(tail))...)
	return append(b, tail...)
}

// StartKey is the key index a connection starts at: the connections spread
// evenly over the keys (conn × keys / conns), so that at any moment they
// send different keys.
func StartKey(conn, conns, keys int) int {
	if keys <= 0 || conns <= 0 {
		return 0
	}
	return conn * keys / conns % keys
}

// nextKey sets the key header of the next request and advances the
// worker's key round-robin.
func (w *worker) nextKey() {
	if w.keys == nil {
		return
	}
	w.req.Header.SetCanonical(w.keyHeader, w.keys[w.key])
	w.key++
	if w.key == len(w.keys) {
		w.key = 0
	}
}

// count books one answer; it reports whether it was a success.
func (w *worker) count(err error) bool {
	switch code := w.resp.StatusCode(); {
	case err != nil:
		w.transportErrors++
	case code == w.status:
		w.accepted++
		return true
	default:
		w.statuses[min(max(code, 0), len(w.statuses)-1)]++
	}
	return false
}

func (w *worker) closedLoop(phase *atomic.Int32) {
	for {
		p := phase.Load()
		if p == phaseStop {
			return
		}
		w.nextKey()
		start := time.Now()
		err := w.client.Do(w.req, w.resp)
		took := time.Since(start)
		if err != nil && w.firstErr == nil {
			w.firstErr = err
		}
		// Count only requests that completed inside the window; a request
		// that straddles its start still counts, its latency is real.
		if phase.Load() == phaseMeasure && w.count(err) {
			w.hist.Record(took)
		}
		switch {
		case err != nil:
			time.Sleep(errorBackoff)
		case w.rejectBackoff > 0 && w.resp.StatusCode() != w.status:
			time.Sleep(w.rejectBackoff)
		}
	}
}

func (w *worker) openLoop(phase *atomic.Int32, p *pacer, done <-chan struct{}) {
	for {
		var intended int64
		select {
		case <-done:
			return
		case intended = <-p.due:
		}
		w.inflight.Store(intended + 1)
		w.nextKey()
		start := time.Now()
		err := w.client.Do(w.req, w.resp)
		end := time.Now()
		if err != nil && w.firstErr == nil {
			w.firstErr = err
		}
		if !w.inflight.CompareAndSwap(intended+1, 0) {
			return // the window closed first and Run recorded this request
		}
		if phase.Load() == phaseMeasure {
			if w.count(err) {
				w.hist.Record(end.Sub(p.t0) - time.Duration(intended))
				w.service.Record(end.Sub(start))
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
