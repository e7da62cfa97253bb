package main

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// emptyFunctions is a WebAssembly module defining n functions that do
// nothing: tiny to upload (~4 bytes a function), a 12 s compile at 1M before
// the structural limits.
func emptyFunctions(n int) []byte {
	uleb := func(b []byte, v uint64) []byte { return binary.AppendUvarint(b, v) }
	section := func(id byte, payload []byte) []byte {
		return append(uleb([]byte{id}, uint64(len(payload))), payload...)
	}
	mod := []byte("\x00asm\x01\x00\x00\x00")
	mod = append(mod, section(1, []byte{1, 0x60, 0, 0})...) // one type: func()
	funcs := uleb(nil, uint64(n))
	code := uleb(nil, uint64(n))
	for range n {
		funcs = append(funcs, 0)
		code = append(code, 2, 0, 0x0b) // body of 2 bytes: no locals, end
	}
	mod = append(mod, section(3, funcs)...)
	return append(mod, section(10, code)...)
}

// TestHostileUploadRefusedBeforeCompiling: an upload whose compile would
// cost the machine (1M empty functions) is refused with invalid_module
// naming the limit, the server keeps its version and stays healthy.
func TestHostileUploadRefusedBeforeCompiling(t *testing.T) {
	ts, _ := startSecured(t, withRepo(`
plugins:
  - {name: step, path: {{REPO}}/runtime/wasm/testdata/upper.wasm}
routes:
  - {name: s, mode: sync, transforms: [step]}
`), nil)
	before := ts.admin("GET", "/v1/plugins/step", nil).json(t)["version"]
	start := time.Now()
	r := ts.admin("PUT", "/v1/plugins/step", emptyFunctions(1_000_000))
	took := time.Since(start)
	e, _ := r.json(t)["error"].(map[string]any)
	if r.status != 422 || e["code"] != "invalid_module" || !strings.Contains(e["message"].(string), "max_functions") {
		t.Fatalf("1M functions: %d %s", r.status, r.body)
	}
	t.Logf("refused in %s", took)
	if after := ts.admin("GET", "/v1/plugins/step", nil).json(t)["version"]; after != before {
		t.Fatalf("version changed from %v to %v", before, after)
	}
	if r := ts.post("s", `"ok"`); r.status != 200 || string(r.body) != `"OK"` {
		t.Fatalf("after the refused upload: %d %s", r.status, r.body)
	}
}

// TestConnectionsPerIP: past http.max_connections_per_ip a client's next
// connection is refused (429) while its open ones, and other work, go on.
func TestConnectionsPerIP(t *testing.T) {
	ts, _ := startSecured(t, `
http: {max_connections_per_ip: 3}
routes:
  - {name: a, mode: async}
`, nil)
	addr := ts.s.addr.String()
	var open []net.Conn
	for range 3 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		open = append(open, c)
	}
	// The server counts a connection when it accepts it: the open ones
	// answer a request first, so all three are counted.
	for _, c := range open {
		io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		buf := make([]byte, 512)
		if n, err := c.Read(buf); err != nil || !strings.HasPrefix(string(buf[:n]), "HTTP/1.1 200") {
			t.Fatalf("an open connection: %v %q", err, buf[:n])
		}
	}
	status, answer := rawRequest(t, addr, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
	if status != 429 {
		t.Fatalf("a 4th connection from one address: %d\n%s", status, answer)
	}
	open[0].Close()
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprint(c, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		b, _ := io.ReadAll(c)
		c.Close()
		if strings.HasPrefix(string(b), "HTTP/1.1 200") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a connection after one closed: %q", b)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
