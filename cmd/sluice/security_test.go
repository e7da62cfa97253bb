package main

// The security issue's end-to-end tests: sender verification, who may read
// results and operate the admin API, raw-path routing, limits on what a
// client may cost (headers, bodies, connections, time), loops, and header
// forwarding. Real server, real Badger, real destinations; raw TCP where a
// well-behaved client could not send the request under test.

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/runtime/config"
)

const (
	githubSecret    = "It's a Secret to Everybody"
	githubSecretOld = "the previous secret, still valid while GitHub is updated"
	partnerKey      = "pk_live_0123456789abcdef"
	otherKey        = "pk_live_fedcba9876543210"
	operatorToken   = "operator-token-0123456789abcdef"
	whSecret        = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
)

// githubSign signs a body as GitHub does (X-Hub-Signature-256), written here
// from GitHub's documentation rather than with the code under test.
func githubSign(secret, body string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(body))
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// whSign signs as the Standard Webhooks spec says: base64 HMAC-SHA256 of
// "id.timestamp.body" with the base64-decoded whsec_ secret.
func whSign(secret, id string, ts int64, body string) string {
	key, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	mac := hmac.New(sha256.New, key)
	fmt.Fprintf(mac, "%s.%d.%s", id, ts, body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// logCapture is a logger whose lines a test can search.
type logCapture struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logCapture) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(b)
}

func (l *logCapture) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// startSecured starts a server from yaml with the admin API on and the
// log captured; mutate may adjust the config after it was validated.
func startSecured(t *testing.T, yaml string, mutate func(*config.Config)) (*testServer, *logCapture) {
	t.Helper()
	dir := t.TempDir()
	path := dir + "/sluice.yaml"
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Listen, cfg.AdminListen, cfg.DataDir, cfg.WasmCache = "127.0.0.1:0", "127.0.0.1:0", dir+"/data", wasmCache
	prov, err := cfg.Provision()
	if err != nil {
		t.Fatal(err)
	}
	if mutate != nil { // after the check: what it cannot see (an alias of this host, say)
		mutate(prov.Config)
	}
	lc := &logCapture{}
	log := slog.New(slog.NewTextHandler(io.MultiWriter(lc, testWriter{t}), &slog.HandlerOptions{Level: slog.LevelInfo}))
	s, err := startProvisioned(t.Context(), prov, log)
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{t: t, s: s, base: "http://" + s.addr.String()}
	if s.adminLn != nil {
		ts.adminBase = "http://" + s.adminLn.Addr().String()
	}
	t.Cleanup(ts.stop)
	return ts, lc
}

// appends is how many messages the log has stored.
func (ts *testServer) appends() uint64 { return ts.s.queue.Stats().Appends }

func TestSenderVerification(t *testing.T) {
	t.Setenv("TEST_GITHUB_SECRET", githubSecret)
	t.Setenv("TEST_PARTNER_KEYS", partnerKey+", "+otherKey)
	dest := newDestination(t, nil)
	ts, logs := startSecured(t, `
admin_token: `+operatorToken+`
routes:
  - name: github
    mode: async
    destination: {url: `+dest.URL+`}
    auth: {verify: github, secret_env: TEST_GITHUB_SECRET, secret: "`+githubSecretOld+`"}
  - name: hooks
    mode: sync
    auth: {verify: standard_webhooks, secret: `+whSecret+`}
  - name: partner
    mode: async
    auth: {verify: api_key, keys_env: TEST_PARTNER_KEYS}
`, nil)
	body := `{"action":"opened","number":7}`

	t.Run("a valid GitHub signature is accepted, with either secret of a rotation", func(t *testing.T) {
		for i, secret := range []string{githubSecret, githubSecretOld} {
			r := ts.post("github", body, "X-Hub-Signature-256", githubSign(secret, body),
				"X-GitHub-Delivery", fmt.Sprintf("rotation-%d", i))
			if r.status != 202 {
				t.Fatalf("secret %d: %d %s", i, r.status, r.body)
			}
		}
	})

	t.Run("a wrong signature is 401 signature_invalid, stores nothing and leaks nothing", func(t *testing.T) {
		before := ts.appends()
		for _, tc := range []struct{ name, sig, code string }{
			{"wrong secret", githubSign("not the secret", body), "signature_invalid"},
			{"tampered body", githubSign(githubSecret, body+" "), "signature_invalid"},
			{"missing", "", "signature_invalid"},
			{"not hex", "sha256=zz", "signature_invalid"},
		} {
			var hdr []string
			if tc.sig != "" {
				hdr = []string{"X-Hub-Signature-256", tc.sig}
			}
			r := ts.post("github", body, hdr...)
			e := r.json(t)["error"].(map[string]any)
			if r.status != 401 || e["code"] != tc.code {
				t.Fatalf("%s: %d %s", tc.name, r.status, r.body)
			}
			msg := e["message"].(string)
			if want := githubSign(githubSecret, body); strings.Contains(msg, want[7:]) || strings.Contains(msg, githubSecret) ||
				(tc.sig != "" && len(tc.sig) > 10 && strings.Contains(msg, tc.sig[7:])) {
				t.Fatalf("%s: the message leaks a secret or a signature: %s", tc.name, msg)
			}
			if id := r.header.Get("Sluice-Correlation-Id"); ts.do("GET", "/v1/results/"+id, "", nil, "Authorization", "Bearer "+operatorToken).status != 404 {
				t.Fatalf("%s: a refused message has a result", tc.name)
			}
		}
		if n := ts.appends(); n != before {
			t.Fatalf("refused messages were stored: %d appends, want %d", n, before)
		}
		failures := ts.admin("GET", "/v1/stats", nil, "Authorization", "Bearer "+operatorToken).json(t)["ingress"].(map[string]any)["routes"].(map[string]any)["github"].(map[string]any)
		if failures["auth_failures"].(float64) < 4 {
			t.Fatalf("auth failures not counted: %v", failures)
		}
		l := logs.String()
		if !strings.Contains(l, "sender verification failed") {
			t.Fatalf("auth failure not logged:\n%s", l)
		}
		if strings.Contains(l, githubSecret) || strings.Contains(l, githubSign(githubSecret, body)[7:]) ||
			strings.Contains(l, githubSign("not the secret", body)[7:]) {
			t.Fatalf("the log leaks a secret or a signature:\n%s", l)
		}
	})

	t.Run("a sender's retry of one delivery is stored once and answered with the first id", func(t *testing.T) {
		before := ts.appends()
		sig := githubSign(githubSecret, body)
		first := ts.post("github", body, "X-Hub-Signature-256", sig, "X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958")
		again := ts.post("github", body, "X-Hub-Signature-256", sig, "X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958")
		id := first.header.Get("Sluice-Correlation-Id")
		if first.status != 202 || again.status != 202 || again.header.Get("Sluice-Correlation-Id") != id ||
			again.header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("first %d %v, retry %d %v", first.status, first.header, again.status, again.header)
		}
		if n := ts.appends(); n != before+1 {
			t.Fatalf("a retried delivery was stored %d times", n-before)
		}
		// A replayed delivery with the wrong signature is still refused.
		if r := ts.post("github", body, "X-Hub-Signature-256", githubSign("x", body), "X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958"); r.status != 401 {
			t.Fatalf("a forged retry: %d %s", r.status, r.body)
		}
	})

	t.Run("Standard Webhooks: valid, stale, future, and a retry of one webhook-id", func(t *testing.T) {
		now := time.Now().Unix()
		msg := `{"type":"invoice.paid"}`
		r := ts.post("hooks", msg, "webhook-id", "msg_1", "webhook-timestamp", strconv.FormatInt(now, 10),
			"webhook-signature", "v1,bm90IGl0 "+whSign(whSecret, "msg_1", now, msg))
		if r.status != 200 {
			t.Fatalf("valid: %d %s", r.status, r.body)
		}
		for _, ts0 := range []int64{now - 3600, now + 3600} {
			r := ts.post("hooks", msg, "webhook-id", "msg_2", "webhook-timestamp", strconv.FormatInt(ts0, 10),
				"webhook-signature", whSign(whSecret, "msg_2", ts0, msg))
			if e := r.json(t)["error"].(map[string]any); r.status != 401 || e["code"] != "timestamp_out_of_tolerance" {
				t.Fatalf("timestamp %d from now: %d %s", ts0-now, r.status, r.body)
			}
		}
		later := now + 1 // the sender's retry: new timestamp and signature, same id and body
		again := ts.post("hooks", msg, "webhook-id", "msg_1", "webhook-timestamp", strconv.FormatInt(later, 10),
			"webhook-signature", whSign(whSecret, "msg_1", later, msg))
		if again.status != 200 || again.header.Get("Sluice-Correlation-Id") != r.header.Get("Sluice-Correlation-Id") ||
			again.header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("retry of msg_1: %d %v %s", again.status, again.header, again.body)
		}
	})

	t.Run("API keys: either header form; unknown or missing key is 401 unauthorized", func(t *testing.T) {
		for _, h := range [][]string{{"Authorization", "Bearer " + partnerKey}, {"X-Api-Key", otherKey}} {
			if r := ts.post("partner", body, h...); r.status != 202 {
				t.Fatalf("%s: %d %s", h[0], r.status, r.body)
			}
		}
		for _, h := range [][]string{{"Authorization", "Bearer nope"}, {"X-Api-Key", partnerKey + "x"}, nil} {
			r := ts.post("partner", body, h...)
			if e := r.json(t)["error"].(map[string]any); r.status != 401 || e["code"] != "unauthorized" || r.header.Get("WWW-Authenticate") == "" {
				t.Fatalf("%v: %d %v %s", h, r.status, r.header, r.body)
			}
		}
	})
}

func TestWhoReadsResults(t *testing.T) {
	dest := newDestination(t, nil)
	ts, _ := startSecured(t, `
admin_token: `+operatorToken+`
routes:
  - {name: open, mode: async, destination: {url: `+dest.URL+`}}
  - name: partner
    mode: async
    destination: {url: `+dest.URL+`, forward_headers: [X-Partner-Ref]}
    auth: {verify: api_key, keys: [`+partnerKey+`]}
  - name: other
    mode: async
    auth: {verify: api_key, keys: [`+otherKey+`]}
  - name: github
    mode: async
    auth: {verify: github, secret: "`+githubSecret+`"}
`, nil)
	bearer := func(k string) []string { return []string{"Authorization", "Bearer " + k} }
	id := func(r reply) string {
		t.Helper()
		if r.status != 202 {
			t.Fatalf("post: %d %s", r.status, r.body)
		}
		return r.header.Get("Sluice-Correlation-Id")
	}
	open := id(ts.post("open", `{}`))
	partner := id(ts.post("partner", `{}`, "Authorization", "Bearer "+partnerKey, "X-Partner-Ref", "r-1"))
	signed := id(ts.post("github", `{}`, "X-Hub-Signature-256", githubSign(githubSecret, `{}`)))
	missing := "01234567-89ab-7def-8123-456789abcdef"

	for _, tc := range []struct {
		name   string
		id     string
		hdr    []string
		status int
	}{
		{"open route, no credentials", open, nil, 200},
		{"api_key route, its key", partner, bearer(partnerKey), 200},
		{"api_key route, X-Api-Key", partner, []string{"X-Api-Key", partnerKey}, 200},
		{"api_key route, another route's key", partner, bearer(otherKey), 404},
		{"api_key route, no key", partner, nil, 404},
		{"api_key route, operator token", partner, bearer(operatorToken), 200},
		{"signature route, no token", signed, nil, 404},
		{"signature route, a route key", signed, bearer(partnerKey), 404},
		{"signature route, operator token", signed, bearer(operatorToken), 200},
		{"no such id, operator token", missing, bearer(operatorToken), 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := ts.do("GET", "/v1/results/"+tc.id+"?wait=10s", "", nil, tc.hdr...)
			if r.status != tc.status {
				t.Fatalf("%d %s, want %d", r.status, r.body, tc.status)
			}
		})
	}
	// A refused read and a missing id look alike, so ids cannot be probed.
	a := ts.do("GET", "/v1/results/"+partner, "", nil, bearer(otherKey)...).json(t)["error"].(map[string]any)["message"].(string)
	b := ts.do("GET", "/v1/results/"+missing, "", nil, bearer(otherKey)...).json(t)["error"].(map[string]any)["message"].(string)
	if strings.ReplaceAll(a, partner, "ID") != strings.ReplaceAll(b, missing, "ID") {
		t.Fatalf("a refused read and a missing id differ:\n%s\n%s", a, b)
	}

	t.Run("the key is not stored or forwarded; listed headers are", func(t *testing.T) {
		got := dest.all()
		var last *received
		for i := range got {
			if got[i].header.Get("Sluice-Route") == "partner" {
				last = &got[i]
			}
		}
		if last == nil {
			t.Fatal("partner message not delivered")
		}
		if last.header.Get("Authorization") != "" || last.header.Get("X-Partner-Ref") != "r-1" || last.header.Get("Sluice-Hops") != "1" {
			t.Fatalf("destination headers %v", last.header)
		}
	})

	t.Run("the admin API needs the operator token", func(t *testing.T) {
		for _, p := range []string{"/v1/plugins", "/v1/stats", "/v1/routes/open/dead"} {
			if r := ts.admin("GET", p, nil); r.status != 401 || r.header.Get("WWW-Authenticate") == "" {
				t.Fatalf("%s without a token: %d %s", p, r.status, r.body)
			}
			if r := ts.admin("GET", p, nil, bearer(partnerKey)...); r.status != 401 {
				t.Fatalf("%s with a route key: %d %s", p, r.status, r.body)
			}
			if r := ts.admin("GET", p, nil, bearer(operatorToken)...); r.status != 200 {
				t.Fatalf("%s with the token: %d %s", p, r.status, r.body)
			}
		}
		if r := ts.admin("GET", "/healthz", nil); r.status != 200 {
			t.Fatalf("admin healthz: %d", r.status)
		}
		if r := ts.do("GET", "/v1/stats", "", nil, bearer(operatorToken)...); r.status != 404 {
			t.Fatalf("/v1/stats on the public ingress: %d", r.status)
		}
	})
}

// rawRequest writes req on a new connection and returns the status line and
// the rest of the answer.
func rawRequest(t *testing.T, addr, req string) (status int, answer string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	return readAnswer(t, bufio.NewReader(c))
}

func readAnswer(t *testing.T, br *bufio.Reader) (int, string) {
	t.Helper()
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var h bytes.Buffer
	resp.Header.Write(&h)
	return resp.StatusCode, h.String() + "\n" + string(b)
}

func TestRawPathRouting(t *testing.T) {
	ts, _ := startSecured(t, `
routes:
  - {name: async, mode: async}
  - {name: sync, mode: sync}
`, nil)
	addr := ts.s.addr.String()
	id := ts.post("async", `{}`).header.Get("Sluice-Correlation-Id")
	for _, tc := range []struct {
		target string
		status int
	}{
		{"/in/async/../sync", 404},
		{"/v1/results/../../in/sync", 405}, // a POST under /v1/results/
		{"/in/../v1/results/" + id, 404},
		{"/in/%2e%2e/v1/results/" + id, 404},
		{"/in/%2e%2e/v1/stats", 404},
		{"/in/async%2f..%2fsync", 404},
		{"/in/./sync", 404},
		{"//in/sync", 404},
		{"/in/sync", 200},
		{"http://example.com/in/sync", 200}, // absolute form: its path
		{"/in/async?x=/../sync", 202},
	} {
		t.Run(tc.target, func(t *testing.T) {
			status, answer := rawRequest(t, addr, "POST "+tc.target+" HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}")
			if status != tc.status {
				t.Fatalf("%d, want %d:\n%s", status, tc.status, answer)
			}
			if !strings.Contains(answer, "Sluice-Correlation-Id") {
				t.Fatalf("no correlation id in the answer:\n%s", answer)
			}
		})
	}
	for _, target := range []string{"/v1/results/../../in/sync", "/v1/results/%2e%2e%2f" + id} {
		if status, answer := rawRequest(t, addr, "GET "+target+" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"); status != 400 {
			t.Fatalf("GET %s: %d\n%s", target, status, answer)
		}
	}
}

// TestRequestLimits: what is decided from the headers alone is answered
// before the body is read (unknown route, size over max_body_size, the
// in-flight budget spent); oversized or too many headers are 431; every
// such answer has a correlation id.
func TestRequestLimits(t *testing.T) {
	ts, _ := startSecured(t, `
max_body_size: 512KiB
http: {max_inflight_bytes: 1MiB, max_headers: 20, max_header_size: 4KiB}
routes:
  - {name: a, mode: async}
`, nil)
	addr := ts.s.addr.String()

	// The server reads at most 8 KiB of a body before the handler decides
	// (fasthttp's prefetch); the rest of a refused body is never read.
	prefix := strings.Repeat("x", 8<<10)
	t.Run("answered from the headers, the body not read", func(t *testing.T) {
		for _, tc := range []struct {
			name, target string
			length       int
			status       int
		}{
			{"unknown route", "/in/nope", 15 << 20, 404},
			{"over max_body_size", "/in/a", 15 << 20, 413},
		} {
			status, answer := rawRequest(t, addr, fmt.Sprintf("POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", tc.target, tc.length, prefix))
			if status != tc.status || !strings.Contains(answer, "Sluice-Correlation-Id") {
				t.Fatalf("%s: %d, want %d:\n%s", tc.name, status, tc.status, answer)
			}
		}
	})

	t.Run("headers over the limits are 431", func(t *testing.T) {
		many := strings.Repeat("X-A: b\r\n", 30)
		status, answer := rawRequest(t, addr, "POST /in/a HTTP/1.1\r\nHost: x\r\n"+many+"Content-Length: 2\r\n\r\n{}")
		if status != 431 || !strings.Contains(answer, "http.max_headers") {
			t.Fatalf("30 headers: %d\n%s", status, answer)
		}
		status, answer = rawRequest(t, addr, "POST /in/a HTTP/1.1\r\nHost: x\r\nX-Big: "+strings.Repeat("b", 8<<10)+"\r\nContent-Length: 2\r\n\r\n{}")
		if status != 431 || !strings.Contains(answer, "Sluice-Correlation-Id") {
			t.Fatalf("an 8 KiB header: %d\n%s", status, answer)
		}
	})

	t.Run("bodies in flight past max_inflight_bytes get 503 server_busy", func(t *testing.T) {
		const size = 400 << 10 // two fit in the 1 MiB budget, a third does not
		var slow []net.Conn
		for range 2 {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			fmt.Fprintf(c, "POST /in/a HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", size)
			c.Write(bytes.Repeat([]byte("x"), 16<<10)) // part of the body: the handler is waiting for the rest
			slow = append(slow, c)
		}
		deadline := time.Now().Add(30 * time.Second)
		for ts.s.ingress.Stats().InflightBytes != 2*size {
			if time.Now().After(deadline) {
				t.Fatalf("in-flight bytes %d, want %d", ts.s.ingress.Stats().InflightBytes, 2*size)
			}
			time.Sleep(5 * time.Millisecond)
		}
		status, answer := rawRequest(t, addr, fmt.Sprintf("POST /in/a HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", size, prefix))
		if status != 503 || !strings.Contains(answer, "server_busy") || !strings.Contains(answer, "Retry-After") {
			t.Fatalf("third body: %d\n%s", status, answer)
		}
		for _, c := range slow { // the first two complete and are accepted
			c.Write(bytes.Repeat([]byte("x"), size-16<<10))
			c.SetDeadline(time.Now().Add(30 * time.Second))
			if status, answer := readAnswer(t, bufio.NewReader(c)); status != 202 {
				t.Fatalf("a body within the budget: %d\n%s", status, answer)
			}
		}
		if n := ts.s.ingress.Stats().InflightBytes; n != 0 {
			t.Fatalf("in-flight bytes after the requests: %d", n)
		}
	})

	t.Run("chunked bodies are capped and budgeted too", func(t *testing.T) {
		chunk := strings.Repeat("y", 64<<10)
		var req strings.Builder
		req.WriteString("POST /in/a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
		for range 10 { // 640 KiB > max_body_size
			fmt.Fprintf(&req, "%x\r\n%s\r\n", len(chunk), chunk)
		}
		req.WriteString("0\r\n\r\n")
		if status, answer := rawRequest(t, addr, req.String()); status != 413 {
			t.Fatalf("640 KiB chunked: %d\n%s", status, answer)
		}
		small := "POST /in/a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n2\r\n{}\r\n0\r\n\r\n"
		if status, answer := rawRequest(t, addr, small); status != 202 {
			t.Fatalf("small chunked: %d\n%s", status, answer)
		}
	})
	ts.healthy()
}

// TestSlowClients: hundreds of connections dribbling their headers do not
// stop normal requests, are cut after read_header_timeout, and do not hold
// up a shutdown past shutdown_timeout; a body slower than min_body_rate is
// cut too.
func TestSlowClients(t *testing.T) {
	ts, _ := startSecured(t, `
http: {read_header_timeout: 1s, min_body_rate: 1KiB, shutdown_timeout: 1s}
routes:
  - {name: a, mode: async}
`, nil)
	addr := ts.s.addr.String()
	const slow = 200
	conns := make([]net.Conn, 0, slow)
	for range slow {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		io.WriteString(c, "POST /in/a HTTP/1.1\r\nHo") // and nothing more
		conns = append(conns, c)
	}
	for i := range 20 {
		if r := ts.post("a", fmt.Sprintf(`{"n":%d}`, i)); r.status != 202 {
			t.Fatalf("a normal request among %d slow connections: %d %s", slow, r.status, r.body)
		}
	}
	// Every slow connection is closed by the server (EOF, or a 408 first).
	for i, c := range conns {
		c.SetReadDeadline(time.Now().Add(60 * time.Second))
		b, err := io.ReadAll(c)
		if err != nil {
			t.Fatalf("slow connection %d was not closed by the server: %v", i, err)
		}
		if len(b) > 0 && !bytes.Contains(b, []byte("408")) {
			t.Fatalf("slow connection %d got %q", i, b)
		}
	}
	// A body under min_body_rate: 2 KiB announced, one byte sent: cut after
	// read_header_timeout + 2 KiB at 1 KiB/s, ~3 s.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "POST /in/a HTTP/1.1\r\nHost: x\r\nContent-Length: 2048\r\n\r\n{")
	c.SetReadDeadline(time.Now().Add(60 * time.Second))
	status, answer := readAnswer(t, bufio.NewReader(c))
	if status != 408 || !strings.Contains(answer, "request_timeout") {
		t.Fatalf("a stalled body: %d\n%s", status, answer)
	}

	// Shutdown with a stalled body in flight returns after shutdown_timeout.
	stalled, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer stalled.Close()
	io.WriteString(stalled, "POST /in/a HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n"+strings.Repeat("x", 16<<10))
	deadline := time.Now().Add(30 * time.Second)
	for ts.s.ingress.Stats().InflightBytes == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the stalled body never reached the handler")
		}
		time.Sleep(5 * time.Millisecond)
	}
	done := make(chan struct{})
	go func() { ts.stop(); close(done) }()
	select {
	case <-done:
	case <-time.After(60 * time.Second): // shutdown_timeout is 1 s; the body's own deadline ~1000 s
		t.Fatal("shutdown waited for a stalled client")
	}
}

func TestRateLimit(t *testing.T) {
	ts, _ := startSecured(t, `
routes:
  - {name: limited, mode: async, rate_limit: {rps: 0.01, burst: 2}}
  - {name: free, mode: async}
`, nil)
	for i := range 2 {
		if r := ts.post("limited", `{}`); r.status != 202 {
			t.Fatalf("request %d within the burst: %d %s", i, r.status, r.body)
		}
	}
	r := ts.post("limited", `{}`)
	ra, _ := strconv.Atoi(r.header.Get("Retry-After"))
	if e := r.json(t)["error"].(map[string]any); r.status != 429 || e["code"] != "rate_limited" || ra < 1 {
		t.Fatalf("past the burst: %d %v %s", r.status, r.header, r.body)
	}
	if r := ts.post("free", `{}`); r.status != 202 {
		t.Fatalf("another route: %d", r.status)
	}
}

// TestLoopStops: a route whose destination is its own ingress (at an address
// the config check cannot recognise) stops after http.max_hops deliveries
// with loop_detected, instead of multiplying forever.
func TestLoopStops(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // the server takes this port: its destination is itself
	ts, _ := startSecured(t, `
http: {max_hops: 4}
routes:
  - {name: loop, mode: async}
`, func(c *config.Config) {
		c.Routes[0].Destination = &config.Destination{URL: "http://localhost:" + strings.Split(addr, ":")[1] + "/in/loop"}
		c.Listen = addr
	})
	r := ts.post("loop", `{}`)
	if r.status != 202 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	res := ts.waitFinal(r.header.Get("Sluice-Correlation-Id"))
	if res["status"] != "succeeded" { // the first hop got a 202 from itself
		t.Fatalf("first hop: %v", res)
	}
	// The chain ends: 4 messages in all (hops 0..3), the last refused with 508.
	deadline := time.Now().Add(60 * time.Second)
	for ts.s.queue.Stats().Completes < 4 {
		if time.Now().After(deadline) {
			t.Fatalf("the chain did not end: %+v", ts.s.queue.Stats())
		}
		time.Sleep(10 * time.Millisecond)
	}
	st := ts.s.queue.Stats()
	if st.Appends != 4 {
		t.Fatalf("%d messages from one, want 4 (max_hops)", st.Appends)
	}
	status, answer := rawRequest(t, addr, "POST /in/loop HTTP/1.1\r\nHost: x\r\nSluice-Hops: 4\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}")
	if status != 508 || !strings.Contains(answer, "loop_detected") {
		t.Fatalf("hops at the limit: %d\n%s", status, answer)
	}
}

func TestConfigRefusesInsecureSetups(t *testing.T) {
	for _, tc := range []struct {
		name, yaml, want string
	}{
		{"admin on all interfaces without a token", "admin_listen: 0.0.0.0:8081\n", "admin_listen: 0.0.0.0:8081 is not a loopback address"},
		{"require_auth", "require_auth: true\nroutes: [{name: a, mode: async}]\n", "routes[0].auth: is required"},
		{"destination is our own listener", "listen: 127.0.0.1:8080\nroutes: [{name: a, mode: async, destination: {url: 'http://localhost:8080/in/a'}}]\n", "Sluice's own listen"},
		{"callback is our admin listener", "routes: [{name: a, mode: async, callback: {url: 'http://127.0.0.1:8081/x'}}]\n", "Sluice's own admin_listen"},
		{"destination without a host", "routes: [{name: a, mode: async, destination: {url: 'http:///in/a'}}]\n", "needs a host"},
		{"control character in a URL", "routes: [{name: a, mode: async, destination: {url: \"http://x.example/\\u0000\"}}]\n", "control character"},
		{"unset secret env", "routes: [{name: a, mode: async, auth: {verify: github, secret_env: SLUICE_TEST_UNSET_SECRET}}]\n", "SLUICE_TEST_UNSET_SECRET is not set"},
		{"unknown scheme", "routes: [{name: a, mode: async, auth: {verify: gitlab, secret: x}}]\n", `got "gitlab"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := config.Parse([]byte(tc.yaml))
			if err != nil {
				t.Fatal(err)
			}
			c.DataDir = t.TempDir()
			err = c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}
