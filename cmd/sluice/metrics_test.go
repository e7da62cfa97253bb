package main

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/queue"
)

// scrape reads the admin API's GET /metrics and returns every sample by its
// series, e.g. `sluice_messages_received_total{route="ok"}`.
func (ts *testServer) scrape(token string) (map[string]float64, []byte) {
	ts.t.Helper()
	r := ts.admin("GET", "/metrics", nil, "Authorization", "Bearer "+token)
	if r.status != 200 {
		ts.t.Fatalf("GET /metrics: %d %s", r.status, r.body)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		ts.t.Fatalf("GET /metrics: Content-Type %q, want the text format", ct)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(r.body))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			ts.t.Fatalf("metrics line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out, r.body
}

// TestMetricsAgreeWithTraffic sends a known mix of messages (accepted,
// refused with several codes, succeeded, failed, dead) and checks that the
// counters of GET /metrics agree with it exactly.
func TestMetricsAgreeWithTraffic(t *testing.T) {
	good := newDestination(t, nil)
	bad := newDestination(t, func(w http.ResponseWriter, _ *http.Request, _ []byte) { w.WriteHeader(500) })
	// held answers once release is closed: its message stays in the backlog meanwhile.
	arrived, release := make(chan struct{}, 1), make(chan struct{})
	held := newDestination(t, func(w http.ResponseWriter, _ *http.Request, _ []byte) {
		arrived <- struct{}{}
		<-release
		w.WriteHeader(204)
	})
	released := false
	defer func() {
		if !released {
			close(release)
		}
	}()
	ts := startServer(t, withRepo(`
plugins:
  - {name: upper, path: "{{REPO}}/runtime/wasm/testdata/upper.wasm"}
  - {name: trap, path: "{{REPO}}/runtime/wasm/testdata/trap.wasm"}
  - {name: echo, path: "{{REPO}}/runtime/wasm/testdata/echo.wasm"}
  - {name: reject, path: "{{REPO}}/runtime/wasm/testdata/reject.wasm"}
  - {name: reply, path: "{{REPO}}/runtime/wasm/testdata/reply.wasm"}
admin_token: `+operatorToken+`
max_body_size: 1KiB
routes:
  - {name: ok, mode: async, destination: {url: `+good.URL+`}, callback: {url: `+good.URL+`/callback}}
  - {name: failing, mode: async, destination: {url: `+bad.URL+`}}
  - name: flaky
    mode: async
    destination: {url: `+bad.URL+`}
    retry: {max_attempts: 2, initial_backoff: 10ms, max_backoff: 10ms}
  - {name: limited, mode: async, rate_limit: {rps: 0.001, burst: 1}}
  - {name: typed, mode: async, accept: [application/json]}
  - {name: shouted, mode: async, transforms: [upper]}
  - {name: trapping, mode: async, transforms: [trap]}
  - {name: checked, mode: async, validate: {plugins: [echo]}}
  - {name: refused, mode: async, validate: {plugins: [reject]}}
  - {name: reshaped, mode: async, destination: {url: `+good.URL+`}, reply_transforms: [reply]}
  - {name: stuck, mode: async, destination: {url: `+held.URL+`}}
`), "")
	var ids []string
	post := func(route, body string, want int, hdr ...string) {
		t.Helper()
		r := ts.post(route, body, hdr...)
		if r.status != want {
			t.Fatalf("POST /in/%s: %d %s, want %d", route, r.status, r.body, want)
		}
		if want == 202 {
			ids = append(ids, r.json(t)["correlation_id"].(string))
		}
	}
	for i := range 3 {
		post("ok", `{"n":`+strconv.Itoa(i)+`}`, 202)
	}
	post("ok", `{"big":"`+strings.Repeat("x", 2048)+`"}`, 413)
	if r := ts.do("GET", "/in/ok", "", nil); r.status != 405 {
		t.Fatalf("GET /in/ok: %d", r.status)
	}
	post("failing", `{}`, 202)
	post("failing", `{}`, 202)
	post("flaky", `{}`, 202)
	post("limited", `{}`, 202)
	post("limited", `{}`, 429)
	post("limited", `{}`, 429)
	post("typed", `{}`, 202)
	if r := ts.do("POST", "/in/typed", "text/plain", []byte("hi")); r.status != 415 {
		t.Fatalf("POST text/plain: %d", r.status)
	}
	post("shouted", `{}`, 202)
	post("trapping", `{}`, 202)
	post("nowhere", `{}`, 404)
	post("checked", `{}`, 202)
	post("refused", `{}`, 422)
	post("reshaped", `{}`, 202)

	// A message the destination holds back: the route's oldest message
	// ages while it waits, and is gone once it is delivered.
	post("stuck", `{}`, 202)
	stuckID := ids[len(ids)-1]
	ids = ids[:len(ids)-1]
	<-arrived
	stuckAge := `sluice_backlog_oldest_age_seconds{route="stuck"}`
	got, body := ts.scrape(operatorToken)
	for deadline := time.Now().Add(60 * time.Second); got[stuckAge] <= queue.AgeResolution.Seconds(); {
		if time.Now().After(deadline) {
			t.Fatalf("%s = %v while the destination holds the message back", stuckAge, got[stuckAge])
		}
		time.Sleep(10 * time.Millisecond)
		got, body = ts.scrape(operatorToken)
	}
	for k, v := range map[string]float64{`sluice_backlog_messages{route="stuck"}`: 1, `sluice_inflight_messages{route="stuck"}`: 1} {
		if got[k] != v {
			t.Errorf("held back: %s = %v, want %v", k, got[k], v)
		}
	}
	if a := got[`sluice_backlog_oldest_age_seconds{route="ok"}`]; a != 0 {
		t.Errorf("route ok: oldest age %v with nothing in its backlog", a)
	}
	released = true
	close(release)
	ts.waitFinal(stuckID)

	for _, id := range ids {
		ts.waitFinal(id)
	}
	// The metrics need the admin token like the rest of the admin API.
	if r := ts.admin("GET", "/metrics", nil); r.status != 401 {
		t.Fatalf("GET /metrics without the token: %d", r.status)
	}
	// The route ok's three callbacks are sent after the outcomes are final.
	got, body = ts.scrape(operatorToken)
	for deadline := time.Now().Add(60 * time.Second); got[`sluice_callback_attempts_total{outcome="succeeded",route="ok"}`] < 3; {
		if time.Now().After(deadline) {
			t.Fatalf("callbacks: %v, want 3", got[`sluice_callback_attempts_total{outcome="succeeded",route="ok"}`])
		}
		time.Sleep(10 * time.Millisecond)
		got, body = ts.scrape(operatorToken)
	}
	want := map[string]float64{
		`sluice_messages_received_total{route="ok"}`:                                   5,
		`sluice_messages_received_total{route="failing"}`:                              2,
		`sluice_messages_received_total{route="flaky"}`:                                1,
		`sluice_messages_received_total{route="limited"}`:                              3,
		`sluice_messages_received_total{route="typed"}`:                                2,
		`sluice_messages_received_total{route="_unknown"}`:                             1,
		`sluice_messages_rejected_total{code="body_too_large",route="ok"}`:             1,
		`sluice_messages_rejected_total{code="method_not_allowed",route="ok"}`:         1,
		`sluice_messages_rejected_total{code="rate_limited",route="limited"}`:          2,
		`sluice_messages_rejected_total{code="unsupported_media_type",route="typed"}`:  1,
		`sluice_messages_rejected_total{code="route_not_found",route="_unknown"}`:      1,
		`sluice_messages_completed_total{route="ok",status="succeeded"}`:               3,
		`sluice_messages_completed_total{route="failing",status="failed"}`:             2,
		`sluice_messages_completed_total{route="flaky",status="dead"}`:                 1,
		`sluice_messages_completed_total{route="flaky",status="failed"}`:               0,
		`sluice_messages_completed_total{route="limited",status="succeeded"}`:          1,
		`sluice_messages_completed_total{route="typed",status="succeeded"}`:            1,
		`sluice_delivery_attempts_total{outcome="succeeded",route="ok"}`:               3,
		`sluice_delivery_attempts_total{outcome="destination_failed",route="failing"}`: 2,
		`sluice_delivery_attempts_total{outcome="destination_failed",route="flaky"}`:   2,
		`sluice_retries_total{route="flaky"}`:                                          1,
		`sluice_retries_total{route="ok"}`:                                             0,
		`sluice_dead_letters{route="flaky"}`:                                           1,
		`sluice_dead_letters{route="ok"}`:                                              0,
		`sluice_backlog_messages{route="ok"}`:                                          0,
		`sluice_backlog_bytes{route="ok"}`:                                             0,
		`sluice_inflight_messages{route="ok"}`:                                         0,
		`sluice_ingest_duration_seconds_count{route="ok"}`:                             3,
		`sluice_end_to_end_duration_seconds_count{route="flaky"}`:                      1,
		`sluice_dispatch_duration_seconds_count{route="flaky"}`:                        2,
		`sluice_messages_completed_total{route="shouted",status="succeeded"}`:          1,
		`sluice_messages_completed_total{route="trapping",status="failed"}`:            1,
		`sluice_plugin_duration_seconds_count{plugin="upper"}`:                         1,
		`sluice_plugin_duration_seconds_count{plugin="trap"}`:                          1,
		`sluice_plugin_failures_total{code="trap",plugin="trap"}`:                      1,
		`sluice_callback_attempts_total{outcome="succeeded",route="ok"}`:               3,
		`sluice_log_batch_messages_sum`:                                                float64(len(ids) + 1),
		// Validators and reply transforms are timed and counted like transforms.
		`sluice_plugin_duration_seconds_count{plugin="echo"}`:                      1,
		`sluice_plugin_duration_seconds_count{plugin="reject"}`:                    1,
		`sluice_plugin_failures_total{code="plugin_rejected",plugin="reject"}`:     1,
		`sluice_plugin_duration_seconds_count{plugin="reply"}`:                     1,
		`sluice_messages_rejected_total{code="validation_failed",route="refused"}`: 1,
		`sluice_messages_completed_total{route="reshaped",status="succeeded"}`:     1,
		// One warm instance of each plugin that ran and was not discarded:
		// one worker's of upper and reply, the validators' kept ones; the
		// trap's was discarded after its trap.
		`sluice_plugin_instances{plugin="upper"}`:  1,
		`sluice_plugin_instances{plugin="reply"}`:  1,
		`sluice_plugin_instances{plugin="echo"}`:   1,
		`sluice_plugin_instances{plugin="reject"}`: 1,
		`sluice_plugin_instances{plugin="trap"}`:   0,
		// Drained: no route has an oldest message.
		`sluice_backlog_oldest_age_seconds{route="stuck"}`:                                    0,
		`sluice_backlog_oldest_age_seconds{route="flaky"}`:                                    0,
		`sluice_backlog_messages{route="stuck"}`:                                              0,
		`sluice_messages_completed_total{route="stuck",status="succeeded"}`:                   1,
		`sluice_build_info{go="` + runtime.Version() + `",version="` + versionString() + `"}`: 1,
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %v (present: %v), want %v", k, g, ok, v)
		}
	}
	// Only the codes above were answered: no other rejection is counted.
	for k, v := range got {
		if strings.HasPrefix(k, "sluice_messages_rejected_total") {
			if _, ok := want[k]; !ok {
				t.Errorf("unexpected %s = %v", k, v)
			}
		}
	}
	for _, k := range []string{"go_goroutines", "process_resident_memory_bytes", "sluice_disk_free_bytes",
		"sluice_log_commit_duration_seconds_count", "sluice_log_sync_duration_seconds_count", "sluice_log_segment_bytes"} {
		if got[k] <= 0 {
			t.Errorf("%s = %v, want > 0", k, got[k])
		}
	}
	if t.Failed() {
		t.Logf("scraped:\n%s", body)
	}
	promtoolCheck(t, body)
	dashboardUses(t, body)
	everyIssueMetric(t, body)
}

// issueMetrics is every metric issue 14 names (the contract), with
// sluice_backlog_oldest_age_seconds for "what is stuck".
var issueMetrics = []string{
	"sluice_messages_received_total", "sluice_messages_rejected_total", "sluice_messages_completed_total",
	"sluice_delivery_attempts_total", "sluice_retries_total", "sluice_dead_letters", "sluice_backlog_messages",
	"sluice_backlog_bytes", "sluice_inflight_messages", "sluice_ingest_duration_seconds",
	"sluice_end_to_end_duration_seconds", "sluice_plugin_duration_seconds", "sluice_dispatch_duration_seconds",
	"sluice_log_commit_duration_seconds", "sluice_log_sync_duration_seconds", "sluice_log_batch_messages",
	"sluice_plugin_failures_total", "sluice_plugin_instances", "sluice_callback_attempts_total",
	"sluice_disk_free_bytes", "sluice_build_info", "sluice_backlog_oldest_age_seconds",
	"go_goroutines", "go_memstats_alloc_bytes", "process_cpu_seconds_total", "process_resident_memory_bytes",
}

// everyIssueMetric checks that the scrape has every metric of issueMetrics
// with at least one sample, and the README's table names each sluice_ one.
func everyIssueMetric(t *testing.T, scrape []byte) {
	t.Helper()
	readme, err := os.ReadFile(repoPath("README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range issueMetrics {
		if !regexp.MustCompile(`(?m)^` + name + `(_bucket|_sum|_count)?({| )`).Match(scrape) {
			t.Errorf("GET /metrics has no sample of %s", name)
		}
		if strings.HasPrefix(name, "sluice_") && !strings.Contains(string(readme), "`"+name+"`") {
			t.Errorf("the README's metrics table does not name %s", name)
		}
	}
}

// TestMetricsCountListenerRefusals: connections the listener refuses
// before a request is read (past http.max_connections_per_ip, past
// http.max_connections) are counted under route="_listener" by their code,
// and not as received requests.
func TestMetricsCountListenerRefusals(t *testing.T) {
	ts := startServer(t, `
admin_token: `+operatorToken+`
http: {max_connections: 2, max_connections_per_ip: 1}
routes:
  - {name: a, mode: async}
`, "")
	addr := ts.s.addr.String()
	dial := func(local string) net.Conn { t.Helper(); return dialFrom(t, addr, local) }
	held := func(local string) {
		t.Helper()
		c := dial(local)
		io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
		checkCorrelated(t, bufio.NewReader(c), "GET", 200, "")
	}
	held("127.0.0.1")
	checkCorrelated(t, bufio.NewReader(dial("127.0.0.1")), "GET", 429, "too_many_connections")
	checkCorrelated(t, bufio.NewReader(dial("127.0.0.1")), "GET", 429, "too_many_connections")
	held("127.0.0.2")
	checkCorrelated(t, bufio.NewReader(dial("127.0.0.3")), "GET", 503, "server_busy")
	got, body := ts.scrape(operatorToken)
	want := map[string]float64{
		`sluice_messages_rejected_total{code="too_many_connections",route="_listener"}`: 2,
		`sluice_messages_rejected_total{code="server_busy",route="_listener"}`:          1,
		`sluice_messages_received_total{route="a"}`:                                     0,
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %v (present: %v), want %v", k, g, ok, v)
		}
	}
	if strings.Contains(string(body), `sluice_messages_received_total{route="_listener"}`) {
		t.Error("refused connections are counted as received requests")
	}
	if t.Failed() {
		t.Logf("scraped:\n%s", body)
	}
	promtoolCheck(t, body)
}

// metricName tells a metric's name from the README's other sluice_ words
// (ABI functions).
var metricName = regexp.MustCompile(`_(total|seconds|bytes|messages|letters|info)(_bucket|_sum|_count)?$`)

// onlyWithTracing are metrics registered only when tracing is on (this
// test's server has it off).
var onlyWithTracing = map[string]bool{"sluice_trace_spans_dropped_total": true}

// dashboardUses checks that every sluice_ metric the Grafana dashboard
// (deploy/grafana/sluice.json) and the README's PromQL query is one the
// server exposes.
func dashboardUses(t *testing.T, scrape []byte) {
	t.Helper()
	typed := map[string]bool{}
	for _, line := range strings.Split(string(scrape), "\n") {
		if f := strings.Fields(line); len(f) == 4 && f[1] == "TYPE" {
			typed[f[2]] = true
		}
	}
	for _, file := range []string{"deploy/grafana/sluice.json", "README.md"} {
		b, err := os.ReadFile(repoPath(file))
		if err != nil {
			t.Fatal(err)
		}
		names := regexp.MustCompile(`sluice_[a-z_]+`).FindAllString(string(b), -1)
		if file == "deploy/grafana/sluice.json" && len(names) < 15 {
			t.Fatalf("%s: only %d metric references", file, len(names))
		}
		for _, n := range names {
			base := n
			for _, suf := range []string{"_bucket", "_sum", "_count"} {
				if b, ok := strings.CutSuffix(n, suf); ok && typed[b] {
					base = b
				}
			}
			if !typed[base] && metricName.MatchString(base) && !onlyWithTracing[base] {
				t.Errorf("%s uses %s, which GET /metrics does not serve", file, n)
			}
		}
	}
}

// promtoolCheck runs promtool check metrics on a scrape when promtool is
// installed (Debian's prometheus package); SLUICE_REQUIRE_PROMTOOL=1 (CI)
// makes its absence a failure.
func promtoolCheck(t *testing.T, body []byte) {
	t.Helper()
	bin, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("SLUICE_REQUIRE_PROMTOOL") == "1" {
			t.Fatal("promtool is not installed and SLUICE_REQUIRE_PROMTOOL=1")
		}
		t.Log("promtool is not installed: the exposition is not linted")
		return
	}
	path := filepath.Join(t.TempDir(), "metrics.txt")
	if err := os.WriteFile(path, body, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := exec.Command(bin, "check", "metrics") // #nosec G204 -- the test's own promtool
	cmd.Stdin = f
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
}
