package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// parseLogfmt splits one line of Sluice's log (slog's text handler) into
// its keys and values: key=value pairs separated by single spaces, each
// value bare (no space, quote or '=') or a quoted Go string. ok is false
// for anything else: a line printed past the logger.
func parseLogfmt(line string) (kv map[string]string, ok bool) {
	kv = map[string]string{}
	for line != "" {
		eq := strings.IndexByte(line, '=')
		if eq <= 0 || strings.ContainsAny(line[:eq], " \"") {
			return nil, false
		}
		key := line[:eq]
		line = line[eq+1:]
		var val string
		if strings.HasPrefix(line, `"`) {
			q, err := strconv.QuotedPrefix(line)
			if err != nil {
				return nil, false
			}
			if val, err = strconv.Unquote(q); err != nil {
				return nil, false
			}
			line = line[len(q):]
		} else {
			end := strings.IndexByte(line, ' ')
			if end < 0 {
				end = len(line)
			}
			val = line[:end]
			if strings.ContainsAny(val, `"=`) {
				return nil, false
			}
			line = line[end:]
		}
		kv[key] = val
		if line != "" {
			if line[0] != ' ' || len(line) == 1 {
				return nil, false
			}
			line = line[1:]
		}
	}
	_, hasTime := kv["time"]
	_, hasLevel := kv["level"]
	_, hasMsg := kv["msg"]
	return kv, hasTime && hasLevel && hasMsg
}

func TestParseLogfmt(t *testing.T) {
	for _, tc := range []struct {
		line string
		ok   bool
	}{
		{`time=2026-12-05T12:20:09.125Z level=INFO msg="sluice listening" addr=127.0.0.1:18480 tls=false`, true},
		{`time=2026-12-05T12:20:09.125Z level=DEBUG msg="a \"quoted\" word" component=badger`, true},
		{`WARNING: Block cache might be too small. Metrics: hit: 1`, false},
		{`badger 2026/12/05 12:20:09 INFO: All 0 tables opened in 0s`, false},
		{`2026/12/05 12:20:09 error when serving connection "127.0.0.1:1"<->"127.0.0.1:2": oops`, false},
		{`time=x level=INFO msg=ok trailing`, false},
		{`time=x level=INFO`, false},
	} {
		if _, ok := parseLogfmt(tc.line); ok != tc.ok {
			t.Errorf("parseLogfmt(%q) ok = %v, want %v", tc.line, ok, tc.ok)
		}
	}
}

// TestLogLinesAreKeyValue runs the real binary at log_level debug through a
// connection fasthttp cannot serve and a restart (Badger replays its log):
// every line on stderr is one of Sluice's key=value lines, fasthttp's and
// Badger's own messages included (component=http, component=badger).
func TestLogLinesAreKeyValue(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "sluice.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`
data_dir: %s
log_level: debug
routes:
  - {name: a, mode: async}
`, filepath.Join(dir, "data"))), 0o600); err != nil {
		t.Fatal(err)
	}
	stop := func(p *process) {
		t.Helper()
		p.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- p.cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("exit after SIGTERM: %v\n%s", err, p.logs)
			}
		case <-time.After(60 * time.Second):
			p.kill9()
			t.Fatalf("no exit within 60 s of SIGTERM\n%s", p.logs)
		}
	}
	addr := freeAddr(t)
	p := spawn(t, bin, cfg, addr)
	if status, answer := rawRequest(t, addr, "POST /in/a HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}"); status != 202 {
		t.Fatalf("POST: %d %s", status, answer)
	}
	// A TLS handshake on the plain port: fasthttp cannot serve the
	// connection and says so.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03garbage\r\n\r\n"))
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	buf := make([]byte, 4096)
	c.Read(buf) // its 400, then the server closes
	c.Close()
	stop(p)
	first := p.logs.String()
	p = spawn(t, bin, cfg, addr) // Badger replays what the first run wrote
	stop(p)
	logs := first + p.logs.String()

	components := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		kv, ok := parseLogfmt(line)
		if !ok {
			t.Errorf("not a key=value line: %q", line)
			continue
		}
		components[kv["component"]]++
		if kv["component"] == "http" && !strings.Contains(kv["msg"], "error when serving connection") {
			t.Errorf("fasthttp's line: %q", line)
		}
	}
	if components["http"] == 0 || components["badger"] == 0 {
		t.Errorf("lines by component %v: want fasthttp's (http) and Badger's (badger)\n%s", components, logs)
	}
}
