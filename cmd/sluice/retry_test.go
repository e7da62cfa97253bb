package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// flaky is a destination that answers from a script per message body: the
// first len(script[body]) deliveries of a body get those statuses, later
// ones 200.
type flaky struct {
	mu      sync.Mutex
	script  map[string][]int
	headers map[int]http.Header // extra headers per status
	seen    map[string]int
	order   []string // bodies in the order they succeeded
}

func (f *flaky) respond(w http.ResponseWriter, _ *http.Request, body []byte) {
	f.mu.Lock()
	b := string(body)
	n := f.seen[b]
	f.seen[b]++
	status := 200
	if s := f.script[b]; n < len(s) {
		status = s[n]
	}
	if status == 200 {
		f.order = append(f.order, b)
	}
	f.mu.Unlock()
	for k, vs := range f.headers[status] {
		w.Header()[k] = vs
	}
	w.WriteHeader(status)
	w.Write([]byte("answer " + b))
}

func attemptLog(t *testing.T, res map[string]any) []map[string]any {
	t.Helper()
	var out []map[string]any
	b, _ := json.Marshal(res["attempt_log"])
	json.Unmarshal(b, &out)
	return out
}

// TestRetries: failed deliveries run again with backoff, honour Retry-After,
// record every attempt, stop at the policy's limits, and hold back only their
// own ordering key; a message waiting to retry survives a restart.
func TestRetries(t *testing.T) {
	f := &flaky{
		script: map[string][]int{
			"twice":  {500, 502},
			"later":  {503},
			"always": {500, 500, 500, 500, 500},
			"bad":    {400},
		},
		headers: map[int]http.Header{503: {"Retry-After": {"1"}}},
		seen:    map[string]int{},
	}
	dest := newDestination(t, f.respond)
	data := t.TempDir()
	yaml := withRepo(`
routes:
  - name: r
    mode: async
    order_by: "json:/k"
    destination: {url: ` + dest.URL + `}
    retry: {max_attempts: 3, initial_backoff: 20ms, max_backoff: 100ms}
`)
	ts := startServer(t, yaml, data)
	post := func(body string) string {
		r := ts.post("r", body)
		if r.status != 202 {
			t.Fatalf("POST %s: %d %s", body, r.status, r.body)
		}
		return r.json(t)["correlation_id"].(string)
	}

	twice := post("twice")
	res := ts.waitFinal(twice)
	log := attemptLog(t, res)
	if res["status"] != "succeeded" || res["attempts"].(float64) != 3 || len(log) != 3 ||
		log[0]["status"].(float64) != 500 || log[1]["status"].(float64) != 502 || log[2]["status"].(float64) != 200 ||
		log[0]["error"].(map[string]any)["code"] != "destination_failed" || log[2]["error"] != nil {
		t.Fatalf("failed twice, then succeeded: %v", res)
	}

	always := post("always")
	res = ts.waitFinal(always)
	if res["status"] != "dead" || res["attempts"].(float64) != 3 || len(attemptLog(t, res)) != 3 {
		t.Fatalf("always failing, 3 attempts, then a dead letter: %v", res)
	}
	bad := post("bad")
	res = ts.waitFinal(bad)
	if res["status"] != "dead" || res["attempts"].(float64) != 1 {
		t.Fatalf("400 is not retried: %v", res)
	}

	// 503 with Retry-After: 1 waits at least a second, visibly "retrying".
	later := post("later")
	deadline := time.Now().Add(30 * time.Second)
	for {
		r := ts.do("GET", "/v1/results/"+later, "", nil)
		res = r.json(t)
		if res["status"] == "retrying" {
			break
		}
		if res["status"] == "succeeded" || time.Now().After(deadline) {
			t.Fatalf("never seen retrying: %v", res)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if l := attemptLog(t, res); len(l) != 1 || l[0]["status"].(float64) != 503 || res["attempts"].(float64) != 1 {
		t.Fatalf("while retrying: %v", res)
	}
	// Restart while it waits: the retry state is in the log.
	ts.stop()
	ts = startServer(t, yaml, data)
	res = ts.waitFinal(later)
	log = attemptLog(t, res)
	if res["status"] != "succeeded" || len(log) != 2 {
		t.Fatalf("after the restart: %v", res)
	}
	first, _ := time.Parse(time.RFC3339Nano, log[0]["at"].(string))
	second, _ := time.Parse(time.RFC3339Nano, log[1]["at"].(string))
	if gap := second.Sub(first); gap < 900*time.Millisecond {
		t.Fatalf("Retry-After: 1 not honoured: the attempts were %v apart", gap)
	}

	// Order under failure: A1 fails twice; A2 waits behind it, B1 does not.
	ids := []string{}
	for _, b := range []string{`{"k":"A","n":1}`, `{"k":"A","n":2}`, `{"k":"B","n":1}`} {
		f.mu.Lock()
		if strings.Contains(b, `"A","n":1`) {
			f.script[b] = []int{500, 500}
		}
		f.mu.Unlock()
		r := ts.post("r", b)
		ids = append(ids, r.json(t)["correlation_id"].(string))
	}
	for _, id := range ids {
		if res := ts.waitFinal(id); res["status"] != "succeeded" {
			t.Fatalf("keyed: %v", res)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	pos := map[string]int{}
	for i, b := range f.order {
		pos[b] = i
	}
	if pos[`{"k":"A","n":1}`] > pos[`{"k":"A","n":2}`] {
		t.Fatalf("key A delivered out of order: %v", f.order)
	}
	if pos[`{"k":"B","n":1}`] > pos[`{"k":"A","n":1}`] {
		t.Fatalf("key B waited for key A's retries: %v", f.order)
	}
}

// TestRetryingResult: from the first failed attempt to the outcome, the
// result says retrying with the attempts so far, their log and the last
// error, both while it waits (with next_attempt_at) and while the next
// attempt is being made (without); the history never disappears.
func TestRetryingResult(t *testing.T) {
	arrived, release := make(chan struct{}, 1), make(chan struct{})
	var once sync.Once
	free := func() { once.Do(func() { close(release) }) }
	var mu sync.Mutex
	n := 0
	dest := newDestination(t, func(w http.ResponseWriter, _ *http.Request, _ []byte) {
		mu.Lock()
		n++
		attempt := n
		mu.Unlock()
		switch attempt {
		case 1:
			w.WriteHeader(500)
		case 2: // held until the test has looked at the result meanwhile
			arrived <- struct{}{}
			<-release
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(503)
		default:
			w.WriteHeader(200)
		}
	})
	ts := startServer(t, withRepo(`
routes:
  - name: r
    mode: async
    destination: {url: `+dest.URL+`}
    retry: {max_attempts: 5, initial_backoff: 300ms, max_backoff: 300ms}
`), "")
	t.Cleanup(free) // before the destination closes: a held attempt must end
	r := ts.post("r", `{"n":1}`)
	if r.status != 202 {
		t.Fatalf("POST: %d %s", r.status, r.body)
	}
	id := r.json(t)["correlation_id"].(string)
	get := func() map[string]any {
		t.Helper()
		r := ts.do("GET", "/v1/results/"+id, "", nil)
		if r.status != 200 {
			t.Fatalf("GET result: %d %s", r.status, r.body)
		}
		return r.json(t)
	}
	// checkRetrying: the state after `attempts` failed attempts.
	checkRetrying := func(res map[string]any, attempts int, waiting bool) {
		t.Helper()
		log := attemptLog(t, res)
		e, _ := res["error"].(map[string]any)
		_, next := res["next_attempt_at"]
		if res["status"] != "retrying" || res["attempts"].(float64) != float64(attempts) || len(log) != attempts ||
			log[0]["status"].(float64) != 500 || e["code"] != "destination_failed" || e["stage"] != "dispatch" || next != waiting {
			t.Fatalf("after %d failed attempts (waiting %v): %v", attempts, waiting, res)
		}
		if waiting {
			at, err := time.Parse(time.RFC3339Nano, res["next_attempt_at"].(string))
			last, _ := time.Parse(time.RFC3339Nano, log[attempts-1]["at"].(string))
			if err != nil || at.Before(last) || at.After(last.Add(time.Minute)) {
				t.Fatalf("next_attempt_at %v, the last attempt at %v: %v", res["next_attempt_at"], last, res)
			}
		}
	}

	// Waiting after the first attempt; from then on, never less.
	deadline := time.Now().Add(30 * time.Second)
	var res map[string]any
	for {
		res = get()
		if res["status"] == "retrying" {
			break
		}
		if res["status"] != "accepted" && res["status"] != "processing" || time.Now().After(deadline) {
			t.Fatalf("before the first attempt failed: %v", res)
		}
		time.Sleep(2 * time.Millisecond)
	}
	if _, waiting := res["next_attempt_at"]; !waiting {
		t.Fatalf("retrying after the first attempt, not waiting: %v", res)
	}
	checkRetrying(res, 1, true)
	select {
	case <-arrived:
	case <-time.After(30 * time.Second):
		t.Fatal("the second attempt never came")
	}
	checkRetrying(get(), 1, false) // the second attempt is being made
	free()
	for {
		res = get()
		if res["status"] == "succeeded" {
			break
		}
		if attempts := int(res["attempts"].(float64)); attempts < 1 || attempts > 2 || time.Now().After(deadline) {
			t.Fatalf("between the second attempt and the outcome: %v", res)
		} else {
			checkRetrying(res, attempts, res["next_attempt_at"] != nil)
		}
		time.Sleep(2 * time.Millisecond)
	}
	log := attemptLog(t, res)
	if res["attempts"].(float64) != 3 || len(log) != 3 || log[1]["status"].(float64) != 503 || log[2]["status"].(float64) != 200 ||
		res["error"] != nil || res["next_attempt_at"] != nil {
		t.Fatalf("the outcome: %v", res)
	}
}

// TestDeadLetters: with on_dead: park a dead letter holds its key until it is
// replayed (under its correlation id) or discarded; with skip the key moves
// on. Dead letters are listed per route, page by page, and replayed in bulk.
func TestDeadLetters(t *testing.T) {
	f := &flaky{script: map[string][]int{}, seen: map[string]int{}}
	dest := newDestination(t, f.respond)
	fail := func(body string, n int) {
		f.mu.Lock()
		f.script[body] = make([]int, n)
		for i := range f.script[body] {
			f.script[body][i] = 500
		}
		f.mu.Unlock()
	}
	ts := startServer(t, withRepo(`
routes:
  - name: parked
    mode: async
    order_by: "json:/k"
    destination: {url: `+dest.URL+`}
    retry: {max_attempts: 2, initial_backoff: 10ms, max_backoff: 10ms, on_dead: park}
  - name: skipped
    mode: async
    order_by: "json:/k"
    destination: {url: `+dest.URL+`}
    retry: {max_attempts: 2, initial_backoff: 10ms, max_backoff: 10ms}
  - name: byheader
    mode: async
    order_by: "header:X-Customer-Id"
    destination: {url: `+dest.URL+`}
    retry: {max_attempts: 2, initial_backoff: 10ms, max_backoff: 10ms}
  - name: unordered
    mode: async
    order_by: none
    destination: {url: `+dest.URL+`}
    retry: {max_attempts: 2, initial_backoff: 10ms, max_backoff: 10ms}
`), "")
	post := func(route, body string, hdr ...string) string {
		r := ts.post(route, body, hdr...)
		if r.status != 202 {
			t.Fatalf("POST: %d %s", r.status, r.body)
		}
		return r.json(t)["correlation_id"].(string)
	}
	status := func(id string) string {
		return ts.do("GET", "/v1/results/"+id, "", nil).json(t)["status"].(string)
	}

	// skip: the dead letter's key moves on.
	fail(`{"k":"s","n":1}`, 2)
	s1 := post("skipped", `{"k":"s","n":1}`)
	s2 := post("skipped", `{"k":"s","n":2}`)
	if res := ts.waitFinal(s1); res["status"] != "dead" {
		t.Fatalf("skip: %v", res)
	}
	if res := ts.waitFinal(s2); res["status"] != "succeeded" {
		t.Fatalf("skip: the key's next message: %v", res)
	}

	// park: the key waits.
	fail(`{"k":"p","n":1}`, 2)
	p1 := post("parked", `{"k":"p","n":1}`)
	p2 := post("parked", `{"k":"p","n":2}`)
	other := post("parked", `{"k":"q","n":1}`)
	if res := ts.waitFinal(p1); res["status"] != "dead" {
		t.Fatalf("park: %v", res)
	}
	if res := ts.waitFinal(other); res["status"] != "succeeded" {
		t.Fatalf("park holds only its own key: %v", res)
	}
	if st := status(p2); st != "accepted" {
		t.Fatalf("the parked key's next message is %s, want accepted (waiting)", st)
	}
	status2, list := ts.adminDo("GET", "/v1/routes/parked/dead", nil)
	dead, _ := list["dead"].([]any)
	if status2 != 200 || len(dead) != 1 {
		t.Fatalf("dead letters: %d %v", status2, list)
	}
	d := dead[0].(map[string]any)
	if d["correlation_id"] != p1 || d["attempts"].(float64) != 2 || d["parked"] != true ||
		d["last_destination_status"].(float64) != 500 || d["last_error"].(map[string]any)["code"] != "destination_failed" {
		t.Fatalf("dead letter: %v", d)
	}
	// Its ordering key as the config made it: the route, json, the value at /k.
	if _, internal := d["key"]; internal || d["route"] != "parked" || d["order_by"] != "json" || d["order_key"] != "p" {
		t.Fatalf("dead letter's key: %v", d)
	}
	// A header's value, an empty one (the message lacked the header), none.
	fail(`{"h":1}`, 2)
	fail(`{"h":2}`, 2)
	fail(`{"u":1}`, 2)
	ts.waitFinal(post("byheader", `{"h":1}`, "X-Customer-Id", "x1")) // one after the other: listed in the order they died
	ts.waitFinal(post("byheader", `{"h":2}`))
	ts.waitFinal(post("unordered", `{"u":1}`))
	_, list = ts.adminDo("GET", "/v1/routes/byheader/dead", nil)
	if dead, _ = list["dead"].([]any); len(dead) != 2 {
		t.Fatalf("byheader's dead letters: %v", list)
	}
	for i, want := range []string{"x1", ""} {
		d := dead[i].(map[string]any)
		if v, ok := d["order_key"].(string); !ok || v != want || d["route"] != "byheader" || d["order_by"] != "header" {
			t.Fatalf("dead letter %d of byheader: order_key %q: %v", i, want, d)
		}
	}
	_, list = ts.adminDo("GET", "/v1/routes/unordered/dead", nil)
	if dead, _ = list["dead"].([]any); len(dead) != 1 {
		t.Fatalf("unordered's dead letters: %v", list)
	}
	if d := dead[0].(map[string]any); d["route"] != "unordered" || d["order_by"] != nil || d["order_key"] != nil {
		t.Fatalf("a dead letter of a route that does not order: %v", d)
	}
	// Replay (the destination now accepts it): same correlation id, then the key moves on.
	if st, body := ts.adminDo("POST", "/v1/routes/parked/dead/"+p1+"/replay", nil); st != 200 {
		t.Fatalf("replay: %d %v", st, body)
	}
	if res := ts.waitFinal(p1); res["status"] != "succeeded" || res["correlation_id"] != p1 {
		t.Fatalf("replayed: %v", res)
	}
	if res := ts.waitFinal(p2); res["status"] != "succeeded" {
		t.Fatalf("after the replay the key moves on: %v", res)
	}
	f.mu.Lock()
	order := append([]string(nil), f.order...)
	f.mu.Unlock()
	if i, j := slices.Index(order, `{"k":"p","n":1}`), slices.Index(order, `{"k":"p","n":2}`); i < 0 || j < i {
		t.Fatalf("key p out of order: %v", order)
	}

	// Discard releases a parked key too.
	fail(`{"k":"x","n":1}`, 10)
	x1 := post("parked", `{"k":"x","n":1}`)
	x2 := post("parked", `{"k":"x","n":2}`)
	ts.waitFinal(x1)
	if st, body := ts.adminDo("DELETE", "/v1/routes/parked/dead/"+x1, nil); st != 200 {
		t.Fatalf("discard: %d %v", st, body)
	}
	if res := ts.waitFinal(x2); res["status"] != "succeeded" {
		t.Fatalf("after a discard the key moves on: %v", res)
	}
	if st, _ := ts.adminDo("POST", "/v1/routes/parked/dead/"+x1+"/replay", nil); st != 404 {
		t.Fatalf("replaying a discarded letter: %d", st)
	}

	// Pages and bulk replay.
	var ids []string
	for i := range 5 {
		b := fmt.Sprintf(`{"k":"b%d"}`, i)
		fail(b, 2)
		ids = append(ids, post("skipped", b))
	}
	for _, id := range ids {
		ts.waitFinal(id)
	}
	seen := 0
	after := ""
	for {
		path := "/v1/routes/skipped/dead?limit=2"
		if after != "" {
			path += "&after=" + after
		}
		_, page := ts.adminDo("GET", path, nil)
		seen += len(page["dead"].([]any))
		next, _ := page["next"].(string)
		if next == "" {
			break
		}
		after = next
	}
	if seen != 6 { // s1 and the five
		t.Fatalf("paged through %d dead letters, want 6", seen)
	}
	if st, body := ts.adminDo("POST", "/v1/routes/skipped/dead/replay", nil); st != 200 || body["replayed"].(float64) != 6 {
		t.Fatalf("bulk replay: %d %v", st, body)
	}
	for _, id := range append(ids, s1) {
		if res := ts.waitFinal(id); res["status"] != "succeeded" {
			t.Fatalf("after bulk replay: %v", res)
		}
	}
	if st, _ := ts.adminDo("GET", "/v1/routes/nope/dead", nil); st != 404 {
		t.Fatalf("unknown route: %d", st)
	}
}

// TestRouteBacklogLimit: a route past its own backlog answers 429 with
// Retry-After and stores nothing; other routes keep accepting.
func TestRouteBacklogLimit(t *testing.T) {
	release := make(chan struct{})
	var once sync.Once
	defer once.Do(func() { close(release) })
	dest := newDestination(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	ts := startServer(t, `
routes:
  - {name: small, mode: async, backlog: {max_messages: 2}, destination: {url: `+dest.URL+`, timeout: 60s}}
  - {name: other, mode: async, order_by: none}
`, "")
	var ids []string
	for range 2 {
		r := ts.post("small", "x")
		if r.status != 202 {
			t.Fatalf("within the route's backlog: %d %s", r.status, r.body)
		}
		ids = append(ids, r.json(t)["correlation_id"].(string))
	}
	full := ts.post("small", "x")
	if full.status != 429 || full.header.Get("Retry-After") == "" || full.json(t)["error"].(map[string]any)["code"] != "route_backlog_full" {
		t.Fatalf("over the route's backlog: %d %v %s", full.status, full.header, full.body)
	}
	if r := ts.do("GET", "/v1/results/"+full.header.Get("Sluice-Correlation-Id"), "", nil); r.status != 404 {
		t.Fatalf("a refused message was stored: %d", r.status)
	}
	if r := ts.post("other", "y"); r.status != 202 {
		t.Fatalf("another route: %d %s", r.status, r.body)
	}
	once.Do(func() { close(release) })
	for _, id := range ids {
		ts.waitFinal(id)
	}
	if r := ts.post("small", "x"); r.status != 202 {
		t.Fatalf("after the backlog drained: %d %s", r.status, r.body)
	}
}
