package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// checkCorrelated reads one answer from br and checks that it has the
// status, a correlation id (a UUIDv7) and, for an error, the JSON error
// body with the code (also in Sluice-Error-Code). It returns the id.
func checkCorrelated(t *testing.T, br *bufio.Reader, method string, status int, code string) string {
	t.Helper()
	resp, err := http.ReadResponse(br, &http.Request{Method: method})
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	id, err := uuid.Parse(resp.Header.Get("Sluice-Correlation-Id"))
	if resp.StatusCode != status || err != nil || id.Version() != 7 {
		t.Fatalf("got %d with Sluice-Correlation-Id %q (%v), want %d with a UUIDv7\n%v\n%s",
			resp.StatusCode, resp.Header.Get("Sluice-Correlation-Id"), err, status, resp.Header, body)
	}
	if code == "" {
		return id.String()
	}
	var e struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	if err := json.Unmarshal(body, &e); err != nil || e.Error.Code != code || e.Error.Message == "" ||
		resp.Header.Get("Sluice-Error-Code") != code || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("%d: want the JSON error %s, got %v %q (%v)", status, code, resp.Header, body, err)
	}
	return id.String()
}

// TestEveryAnswerHasACorrelationID sends raw requests to the real server:
// each refusal made before there is a message (fasthttp's parse errors,
// unknown paths and routes, methods, limits, timeouts, connection caps),
// the answers to Expect: 100-continue and the health check carry a
// correlation id of their own, and errors the JSON body with their code.
func TestEveryAnswerHasACorrelationID(t *testing.T) {
	ts, _ := startSecured(t, `
max_body_size: 1KiB
http:
  max_header_size: 4KiB
  max_headers: 20
  max_inflight_bytes: 64KiB
  read_header_timeout: 1s
  max_connections: 4
  max_connections_per_ip: 3
routes:
  - {name: a, mode: async}
`, nil)
	addr := ts.s.addr.String()
	ids := map[string]bool{}
	one := func(name, req, method string, status int, code string) {
		t.Run(name, func(t *testing.T) {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(30 * time.Second))
			if _, err := io.WriteString(c, req); err != nil {
				t.Fatal(err)
			}
			id := checkCorrelated(t, bufio.NewReader(c), method, status, code)
			if ids[id] {
				t.Fatalf("correlation id %s given twice", id)
			}
			ids[id] = true
		})
	}
	post := func(path, headers, body string) string {
		return "POST " + path + " HTTP/1.1\r\nHost: x\r\n" + headers + "\r\n" + body
	}
	big := strings.Repeat("a", 2048)
	one("accepted", post("/in/a", "Content-Length: 2\r\n", "{}"), "POST", 202, "")
	one("health", "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", "GET", 200, "")
	one("unparseable", "\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03garbage\r\n\r\n", "GET", 400, "bad_request")
	one("bad header", "POST /in/a HTTP/1.1\r\nHost: x\r\nBroken header\r\n\r\n", "GET", 400, "bad_request")
	one("bad content length", post("/in/a", "Content-Length: -5\r\n", ""), "GET", 400, "bad_request")
	one("no such path", "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n", "GET", 404, "not_found")
	one("no such route", post("/in/nope", "Content-Length: 2\r\n", "{}"), "POST", 404, "route_not_found")
	one("method", "PUT /in/a HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}", "PUT", 405, "method_not_allowed")
	one("result method", "DELETE /v1/results/"+uuid.NewString()+" HTTP/1.1\r\nHost: x\r\n\r\n", "DELETE", 405, "method_not_allowed")
	one("body too large", post("/in/a", "Content-Length: 2048\r\n", big), "POST", 413, "body_too_large")
	one("chunked body too large", post("/in/a", "Transfer-Encoding: chunked\r\n", "800\r\n"+big+"\r\n0\r\n\r\n"), "POST", 413, "body_too_large")
	one("header too large", post("/in/a", "X-Big: "+strings.Repeat("b", 5000)+"\r\nContent-Length: 2\r\n", "{}"), "POST", 431, "headers_too_large")
	one("too many headers", post("/in/a", strings.Repeat("X-A: b\r\n", 25)+"Content-Length: 2\r\n", "{}"), "POST", 431, "headers_too_large")
	one("headers too slow", "POST /in/a HTTP/1.1\r\nHost: x\r\n", "POST", 408, "request_timeout")
	// Expect: 100-continue: a refusal from the headers comes at once, in
	// place of 100 Continue (the client never sends the body).
	one("expect too large", post("/in/a", "Expect: 100-continue\r\nContent-Length: 2048\r\n", ""), "POST", 413, "body_too_large")
	one("expect no route", post("/in/nope", "Expect: 100-continue\r\nContent-Length: 2\r\n", ""), "POST", 404, "route_not_found")
	t.Run("expect continue", func(t *testing.T) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(30 * time.Second))
		io.WriteString(c, post("/in/a", "Expect: 100-continue\r\nContent-Length: 2\r\n", ""))
		br := bufio.NewReader(c)
		line, err := br.ReadString('\n')
		if err != nil || !strings.HasPrefix(line, "HTTP/1.1 100 Continue") {
			t.Fatalf("want 100 Continue, got %q %v", line, err)
		}
		br.ReadString('\n')
		io.WriteString(c, "{}")
		checkCorrelated(t, br, "POST", 202, "")
	})
}

// TestConnectionCapsAnswerJSON: past http.max_connections_per_ip (3) a new
// connection gets 429 too_many_connections, past http.max_connections (4)
// 503 server_busy, each a JSON error with a correlation id (not fasthttp's
// plain text), and the open connections are not disturbed. Its own server:
// no other connection counts.
func TestConnectionCapsAnswerJSON(t *testing.T) {
	ts, _ := startSecured(t, `
http: {max_connections: 4, max_connections_per_ip: 3}
routes:
  - {name: a, mode: async}
`, nil)
	addr := ts.s.addr.String()
	dial := func(local string) net.Conn { t.Helper(); return dialFrom(t, addr, local) }
	// An open connection is counted once it answered a request.
	held := func(local string) net.Conn {
		t.Helper()
		c := dial(local)
		io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
		checkCorrelated(t, bufio.NewReader(c), "GET", 200, "")
		return c
	}
	var open []net.Conn
	for range 3 {
		open = append(open, held("127.0.0.1"))
	}
	checkCorrelated(t, bufio.NewReader(dial("127.0.0.1")), "GET", 429, "too_many_connections")
	open = append(open, held("127.0.0.2")) // the 4th in all
	checkCorrelated(t, bufio.NewReader(dial("127.0.0.3")), "GET", 503, "server_busy")
	for _, c := range open { // still served
		io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
	}
	for _, c := range open {
		checkCorrelated(t, bufio.NewReader(c), "GET", 200, "")
	}
}

// dialFrom connects to addr from the loopback address local (127.0.0.x: a
// client of its own, as the per-IP limits see it); closed when t ends, with
// a 30 s deadline.
func dialFrom(t *testing.T, addr, local string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(30 * time.Second))
	return c
}
