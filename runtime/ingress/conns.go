package ingress

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// tracker remembers the open connections of a listener so that Shutdown can
// close the ones that outlive its deadline (a client sending its headers a
// byte a second keeps fasthttp's graceful shutdown waiting otherwise). It
// also enforces http.max_connections and http.max_connections_per_ip: a
// connection past a cap is answered by refuse (Sluice's JSON error with a
// correlation id, as every answer) and closed, never handed to fasthttp,
// whose own refusals are plain text.
type tracker struct {
	mu    sync.Mutex
	conns map[*trackedConn]struct{}
	perIP map[string]int // open connections by client address, with a per-address cap

	max, maxPerIP int // 0: no cap
	// refuse answers and closes a connection past a cap; perIP tells which.
	refuse func(c net.Conn, perIP bool)
}

func newTracker() *tracker {
	return &tracker{conns: make(map[*trackedConn]struct{}), perIP: make(map[string]int)}
}

// wrap tracks ln's connections and refuses those past max open ones, or
// past maxPerIP from one address (0: no cap).
func (t *tracker) wrap(ln net.Listener, max, maxPerIP int, refuse func(c net.Conn, perIP bool)) net.Listener {
	t.mu.Lock()
	t.max, t.maxPerIP, t.refuse = max, maxPerIP, refuse
	t.mu.Unlock()
	return &trackedListener{Listener: ln, t: t}
}

// closeAll closes every open connection and returns how many there were.
func (t *tracker) closeAll() int {
	t.mu.Lock()
	conns := make([]*trackedConn, 0, len(t.conns))
	for c := range t.conns {
		conns = append(conns, c)
	}
	t.mu.Unlock()
	for _, c := range conns {
		c.Close() // #nosec G104 -- a connection Shutdown gives up on
	}
	return len(conns)
}

type trackedListener struct {
	net.Listener
	t *tracker
}

// Accept returns the next connection within the caps; it answers and closes
// the ones past them itself.
func (l *trackedListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ip := clientAddr(c)
		t := l.t
		t.mu.Lock()
		total, fromIP := t.max > 0 && len(t.conns) >= t.max, ip != "" && t.maxPerIP > 0 && t.perIP[ip] >= t.maxPerIP
		if !total && !fromIP {
			tc := &trackedConn{Conn: c, t: t}
			if ip != "" && t.maxPerIP > 0 {
				tc.ip = ip
				t.perIP[ip]++
			}
			t.conns[tc] = struct{}{}
			t.mu.Unlock()
			return tc, nil
		}
		refuse := t.refuse
		t.mu.Unlock()
		if refuse == nil {
			c.Close() // #nosec G104 -- refused
			continue
		}
		refuse(c, !total)
	}
}

// clientAddr is the IP address of c's client ("" if not an IP connection).
func clientAddr(c net.Conn) string {
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		return string(a.IP.To16())
	}
	return ""
}

type trackedConn struct {
	net.Conn
	t    *tracker
	ip   string // counted in t.perIP
	once sync.Once
}

func (c *trackedConn) Close() error {
	c.once.Do(func() {
		c.t.mu.Lock()
		delete(c.t.conns, c)
		if c.ip != "" {
			if n := c.t.perIP[c.ip] - 1; n > 0 {
				c.t.perIP[c.ip] = n
			} else {
				delete(c.t.perIP, c.ip)
			}
		}
		c.t.mu.Unlock()
	})
	return c.Conn.Close()
}

// refuseTimeout bounds writing the answer to a refused connection: the
// accept loop writes it.
const refuseTimeout = time.Second

// refuse answers a connection past http.max_connections (503 server_busy)
// or http.max_connections_per_ip (429 too_many_connections) like any
// other refusal, with a correlation id and the JSON error body, and closes
// it. A TLS connection is closed without an answer: its handshake has not
// happened, and waiting for it would hold up the accept loop.
func (s *Server) refuse(c net.Conn, perIP bool) {
	defer c.Close() // #nosec G104 -- refused
	code, msg := CodeServerBusy, fmt.Sprintf("the server has %d connections open (http.max_connections); retry later", s.opts.MaxConnections)
	if perIP {
		code, msg = CodeTooManyConnections, fmt.Sprintf("this address has %d connections open (http.max_connections_per_ip); "+
			"reuse one or retry later", s.opts.MaxConnsPerIP)
	}
	s.log.Debug("connection refused", "code", code, "remote", c.RemoteAddr().String(), "component", "http")
	s.opts.Metrics.Listener().Rejected(code)
	if s.opts.TLS != nil {
		return
	}
	var ctx fasthttp.RequestCtx
	writeError(&ctx, code, msg)
	ctx.Response.Header.SetServer("sluice")
	ctx.Response.SetConnectionClose()
	c.SetWriteDeadline(time.Now().Add(refuseTimeout)) // #nosec G104 -- a failed write is a client gone
	bw := bufio.NewWriterSize(c, 1024)
	if ctx.Response.Write(bw) == nil {
		bw.Flush() // #nosec G104 -- as above
	}
}

// fasthttpLogger routes fasthttp's own messages (a connection it could not
// serve, a per-address cap reached) through Sluice's logger. A client's
// broken connection (a failed TLS handshake, a timeout, garbage) is that
// client's problem and logged at debug level, or scanners would flood the
// log; the rest are warnings. An error's quoted parts are left out: they
// quote the client's request (its first line, a malformed header, at times
// the whole header block), which may carry credentials.
type fasthttpLogger struct{ l *slog.Logger }

// quoted is a string fasthttp quoted (%q) into an error.
var quoted = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)

func (f fasthttpLogger) Printf(format string, args ...any) {
	args = slices.Clone(args)
	for i, a := range args {
		if err, ok := a.(error); ok {
			args[i] = quoted.ReplaceAllString(err.Error(), `"..."`)
		}
	}
	msg := strings.TrimSpace(fmt.Sprintf(format, args...))
	level := slog.LevelWarn
	if strings.Contains(msg, "error when serving connection") || strings.Contains(msg, "tls:") {
		level = slog.LevelDebug
	}
	f.l.Log(context.Background(), level, msg, "component", "http")
}
