package worker

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/sluicehq/sluice/queue"
	"github.com/sluicehq/sluice/runtime/dispatch"
	"github.com/sluicehq/sluice/runtime/metrics"
	"github.com/sluicehq/sluice/runtime/registry"
	"github.com/sluicehq/sluice/runtime/results"
	"github.com/sluicehq/sluice/runtime/wasm"
)

// notified records the callbacks a pool queues.
type notified struct {
	mu  sync.Mutex
	ids []queue.ID
}

func (n *notified) Enqueue(id queue.ID) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.ids = append(n.ids, id)
}

func (n *notified) list() []queue.ID {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]queue.ID(nil), n.ids...)
}

// destination answers on /ok with the request body (200), on /flaky with
// 503 to a message's first call and 200 after, on /down with 500; it counts
// the calls per correlation id.
type destination struct {
	mu    sync.Mutex
	calls map[string]int
}

func (d *destination) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	id := r.Header.Get("Sluice-Correlation-Id")
	d.mu.Lock()
	d.calls[id]++
	n := d.calls[id]
	d.mu.Unlock()
	switch {
	case r.URL.Path == "/down":
		w.WriteHeader(http.StatusInternalServerError)
	case r.URL.Path == "/flaky" && n == 1:
		w.WriteHeader(http.StatusServiceUnavailable)
	default:
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write(body)
	}
}

func (d *destination) callsOf(id queue.ID) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.calls[uuid.UUID(id).String()]
}

func loadVersion(t *testing.T, h *wasm.Host, name string) *registry.Version {
	t.Helper()
	bin, err := os.ReadFile("../wasm/testdata/" + name + ".wasm")
	if err != nil {
		t.Fatal(err)
	}
	p, err := h.Load(context.Background(), name, bin, wasm.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	return &registry.Version{Plugin: p, Source: registry.SourceConfig}
}

// waitFinal waits for id's final record.
func waitFinal(t *testing.T, q queue.Queue, id queue.ID) queue.Record {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		rec, err := q.Lookup(id)
		if err == nil && rec.Status.Final() {
			return rec
		}
		if time.Now().After(deadline) {
			t.Fatalf("no final record for %s after 60s (last: %+v, %v)", uuid.UUID(id), rec, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func decodeRecord(t *testing.T, rec queue.Record) *results.Outcome {
	t.Helper()
	out, err := results.Decode(rec.Payload)
	if err != nil {
		t.Fatalf("decoding the record of %s: %v", uuid.UUID(rec.ID), err)
	}
	return out
}

func attemptStatuses(out *results.Outcome) []int {
	var s []int
	for _, a := range out.Attempts {
		s = append(s, a.Status)
	}
	return s
}

// scrape reads one sample of the metrics' text exposition (0 if absent).
func scrape(t *testing.T, m *metrics.Metrics, series string) float64 {
	t.Helper()
	rw := httptest.NewRecorder()
	m.Handler().ServeHTTP(rw, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	sc := bufio.NewScanner(rw.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
	}
	return 0
}

// TestPoolDrivesMessagesToTheirRecords runs a Pool on a real log, real
// plugins and a real destination, and checks the record each message ends
// with: a success, a retry then a success, a dead letter, a transform
// failure (not retried), and a sync message whose caller is woken once its
// record is written.
func TestPoolDrivesMessagesToTheirRecords(t *testing.T) {
	q, err := queue.Open(queue.Options{Dir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	host, err := wasm.NewHost("", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	plugins := registry.New(loadVersion(t, host, "upper"), loadVersion(t, host, "reject"))
	defer plugins.Close()
	dest := &destination{calls: map[string]int{}}
	srv := httptest.NewServer(dest)
	defer srv.Close()

	names := []string{"ok", "flaky", "down", "rejected"}
	m := metrics.New("test", names, []string{"upper", "reject"})
	policy := func(attempts int) *RetryPolicy {
		return &RetryPolicy{MaxAttempts: attempts, InitialBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond,
			Retryable: func(_ string, status int) bool { return status >= 500 }}
	}
	route := func(name string, transforms []string, path string, p *RetryPolicy) *Route {
		return &Route{Name: name, Transforms: transforms, Retry: p, Metrics: m.Route(name),
			Destination: &Destination{URL: srv.URL + path, Timeout: 10 * time.Second}}
	}
	routes := map[string]*Route{
		"ok":       route("ok", []string{"upper"}, "/ok", policy(3)),
		"flaky":    route("flaky", []string{"upper"}, "/flaky", policy(3)),
		"down":     route("down", nil, "/down", policy(2)),
		"rejected": route("rejected", []string{"reject"}, "/ok", policy(3)),
	}
	routes["down"].Callback = true
	callbacks := &notified{}
	waiters := results.NewWaiters()
	pool := &Pool{Queue: q, Routes: routes, Plugins: plugins, Callbacks: callbacks, Dispatcher: dispatch.New(dispatch.Options{}),
		Waiters: waiters, Workers: 2, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Metrics: m}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		pool.Run(ctx)
	}()
	defer func() {
		cancel()
		<-stopped
		if err := q.Close(); err != nil {
			t.Error(err)
		}
	}()

	newMsg := func(route, body string) *queue.Message {
		return &queue.Message{ID: queue.ID(uuid.Must(uuid.NewV7())), Route: route, Received: time.Now().UTC(),
			ContentType: "text/plain", Body: []byte(body)}
	}
	appendMsg := func(route, body string) queue.ID {
		t.Helper()
		msg := newMsg(route, body)
		if err := q.Append(msg); err != nil {
			t.Fatal(err)
		}
		return msg.ID
	}
	ok, flaky, down, rejected := appendMsg("ok", "hello"), appendMsg("flaky", "again"), appendMsg("down", "lost"),
		appendMsg("rejected", "nope")
	syncMsg := newMsg("ok", "sync")
	syncMsg.Sync = true
	woken := waiters.Register(syncMsg.ID)
	if err := q.Append(syncMsg); err != nil {
		t.Fatal(err)
	}

	t.Run("sync caller woken once the record is written", func(t *testing.T) {
		var out *results.Outcome
		select {
		case out = <-woken:
		case <-time.After(60 * time.Second):
			t.Fatal("sync caller not woken after 60s")
		}
		rec, err := q.Lookup(syncMsg.ID) // woken by the commit: the record is there
		if err != nil || rec.Status != queue.StatusSucceeded {
			t.Fatalf("record when woken: %+v, %v", rec, err)
		}
		if !out.Succeeded || out.Response == nil || string(out.Response.Body) != "SYNC" || len(out.Attempts) != 0 {
			t.Fatalf("outcome handed to the caller: %+v", out)
		}
		stored := decodeRecord(t, rec)
		if string(stored.Response.Body) != "SYNC" || len(stored.Attempts) != 0 {
			t.Fatalf("stored outcome: %+v (a sync message keeps no attempt log)", stored)
		}
	})
	t.Run("success", func(t *testing.T) {
		rec := waitFinal(t, q, ok)
		out := decodeRecord(t, rec)
		if rec.Status != queue.StatusSucceeded || rec.Attempts != 1 || !out.Succeeded || string(out.Response.Body) != "HELLO" ||
			out.Response.Status != 200 || len(out.Plugins) != 1 {
			t.Fatalf("record %+v, outcome %+v", rec, out)
		}
		if got := attemptStatuses(out); len(got) != 1 || got[0] != 200 || out.Attempts[0].At.IsZero() {
			t.Fatalf("attempt log %+v, want one attempt answered 200", out.Attempts)
		}
	})
	t.Run("retry then success", func(t *testing.T) {
		rec := waitFinal(t, q, flaky)
		out := decodeRecord(t, rec)
		if rec.Status != queue.StatusSucceeded || rec.Attempts != 2 || !out.Succeeded || string(out.Response.Body) != "AGAIN" {
			t.Fatalf("record %+v, outcome %+v", rec, out)
		}
		if got := attemptStatuses(out); len(got) != 2 || got[0] != 503 || got[1] != 200 ||
			out.Attempts[0].Code != results.CodeDestinationFailed || out.Attempts[1].Code != "" {
			t.Fatalf("attempt log %+v, want 503 (destination_failed) then 200", out.Attempts)
		}
		if n := dest.callsOf(flaky); n != 2 {
			t.Fatalf("destination called %d times, want 2", n)
		}
	})
	t.Run("dead letter", func(t *testing.T) {
		rec := waitFinal(t, q, down)
		out := decodeRecord(t, rec)
		if rec.Status != queue.StatusDead || rec.Attempts != 2 || out.Succeeded || out.Error == nil ||
			out.Error.Code != results.CodeDestinationFailed || out.Response == nil || out.Response.Status != 500 {
			t.Fatalf("record %+v, outcome %+v", rec, out)
		}
		if got := attemptStatuses(out); len(got) != 2 || got[0] != 500 || got[1] != 500 {
			t.Fatalf("attempt log %+v, want 500 twice", out.Attempts)
		}
		letters, _, err := q.DeadLetters("down", 0, 10)
		if err != nil || len(letters) != 1 || letters[0].Message.ID != down || letters[0].Message.Parked {
			t.Fatalf("dead letters %+v, %v: want the message, not parked", letters, err)
		}
		if got := callbacks.list(); len(got) != 1 || got[0] != down {
			t.Fatalf("callbacks queued for %v, want only the dead letter's", got)
		}
	})
	t.Run("transform failure not retried", func(t *testing.T) {
		rec := waitFinal(t, q, rejected)
		out := decodeRecord(t, rec)
		if rec.Status != queue.StatusFailed || rec.Attempts != 1 || out.Error == nil || out.Error.Code != wasm.CodeRejected ||
			out.Error.Stage != "transform" || out.Error.Plugin != "reject" {
			t.Fatalf("record %+v, outcome %+v", rec, out)
		}
		if len(out.Attempts) != 1 || out.Attempts[0].Status != 0 || out.Attempts[0].Code != wasm.CodeRejected {
			t.Fatalf("attempt log %+v, want one attempt failed with %s before the destination", out.Attempts, wasm.CodeRejected)
		}
		if n := dest.callsOf(rejected); n != 0 {
			t.Fatalf("destination called %d times for a rejected message", n)
		}
	})
	t.Run("metrics", func(t *testing.T) {
		for series, want := range map[string]float64{
			`sluice_messages_completed_total{route="ok",status="succeeded"}`:       2,
			`sluice_messages_completed_total{route="flaky",status="succeeded"}`:    1,
			`sluice_retries_total{route="flaky"}`:                                  1,
			`sluice_retries_total{route="down"}`:                                   1,
			`sluice_messages_completed_total{route="down",status="dead"}`:          1,
			`sluice_messages_completed_total{route="rejected",status="failed"}`:    1,
			`sluice_messages_completed_total{route="rejected",status="succeeded"}`: 0,
		} {
			if got := scrape(t, m, series); got != want {
				t.Errorf("%s = %v, want %v", series, got, want)
			}
		}
	})
}
