package ingress

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"regexp"
	"slices"
	"strings"
	"sync"
)

// tracker remembers the open connections of a listener so that Shutdown can
// close the ones that outlive its deadline (a client sending its headers a
// byte a second keeps fasthttp's graceful shutdown waiting otherwise).
type tracker struct {
	mu    sync.Mutex
	conns map[*trackedConn]struct{}
}

func newTracker() *tracker { return &tracker{conns: make(map[*trackedConn]struct{})} }

func (t *tracker) wrap(ln net.Listener) net.Listener { return &trackedListener{Listener: ln, t: t} }

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

func (l *trackedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	tc := &trackedConn{Conn: c, t: l.t}
	l.t.mu.Lock()
	l.t.conns[tc] = struct{}{}
	l.t.mu.Unlock()
	return tc, nil
}

type trackedConn struct {
	net.Conn
	t    *tracker
	once sync.Once
}

func (c *trackedConn) Close() error {
	c.once.Do(func() {
		c.t.mu.Lock()
		delete(c.t.conns, c)
		c.t.mu.Unlock()
	})
	return c.Conn.Close()
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
