package tlsconf

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// patience bounds every wait on a condition: generous, the test machine is
// small and shared.
const patience = 30 * time.Second

// pki is a test CA that issues server certificates for 127.0.0.1 and
// localhost.
type pki struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newPKI(t testing.TB) *pki {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "sluice test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &pki{cert: cert, key: key, pool: pool}
}

// issue returns a server certificate with the given serial and its key, PEM.
func (p *pki) issue(t testing.TB, serial int64) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: "localhost"},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.cert, &key.PublicKey, p.key)
	if err != nil {
		t.Fatal(err)
	}
	pk, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk})
}

func writeFile(t testing.TB, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// logBuffer collects log output; safe for concurrent use.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *logBuffer) Printf(format string, args ...any) { fmt.Fprintf(b, format+"\n", args...) }

// since returns what was logged after the first n bytes.
func (b *logBuffer) since(n int) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()[n:]
}

func (b *logBuffer) len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Len()
}

func (b *logBuffer) logger() *slog.Logger { return slog.New(slog.NewTextHandler(b, nil)) }

// waitFor polls cond until it holds, failing the test after patience.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(patience)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up after %s waiting for %s", patience, what)
		}
		<-tick.C
	}
}

// startServer serves cfg on a loopback port with one of the two servers
// Sluice uses and returns the address. The handler answers the client's IP
// address as the server saw it and whether the connection is TLS.
type startServer func(t *testing.T, cfg *tls.Config) string

func startFasthttp(perIP int) startServer {
	return func(t *testing.T, cfg *tls.Config) string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		s := &fasthttp.Server{
			Handler: func(ctx *fasthttp.RequestCtx) {
				fmt.Fprintf(ctx, "%s tls=%v", ctx.RemoteIP(), ctx.IsTLS())
			},
			MaxConnsPerIP:   perIP,
			CloseOnShutdown: true,
			Logger:          serverLog(t),
		}
		served := make(chan error, 1)
		go func() { served <- s.Serve(tls.NewListener(ln, cfg)) }()
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), patience)
			defer cancel()
			if err := s.ShutdownWithContext(ctx); err != nil {
				t.Errorf("shutting the fasthttp server down: %v", err)
			}
			<-served
		})
		return ln.Addr().String()
	}
}

func startNetHTTP(t *testing.T, cfg *tls.Config) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			host, _, _ := net.SplitHostPort(r.RemoteAddr)
			fmt.Fprintf(w, "%s tls=%v", host, r.TLS != nil)
		}),
		TLSConfig: cfg,
		ErrorLog:  log.New(serverLog(t), "", 0),
	}
	served := make(chan error, 1)
	go func() { served <- s.ServeTLS(ln, "", "") }()
	t.Cleanup(func() {
		s.Close()
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("net/http server: %v", err)
		}
	})
	return ln.Addr().String()
}

// serverLog collects a server's log (fasthttp.Logger, net/http's ErrorLog)
// and shows it at the end of the test: a server may still log after the
// test returned, which t.Log does not allow.
func serverLog(t *testing.T) *logBuffer {
	var b logBuffer
	t.Cleanup(func() {
		if s := b.String(); s != "" {
			t.Logf("server log:\n%s", s)
		}
	})
	return &b
}

var servers = []struct {
	name  string
	start startServer
}{
	{"fasthttp", startFasthttp(0)},
	{"net-http", startNetHTTP},
}

// client is one TLS connection speaking HTTP/1.1 keep-alive.
type client struct {
	conn *tls.Conn
	br   *bufio.Reader
}

// dial opens a TLS connection that trusts p; tweak adjusts the client's
// config.
func dial(t *testing.T, addr string, p *pki, tweak func(*tls.Config)) (*client, error) {
	t.Helper()
	cfg := &tls.Config{RootCAs: p.pool, ServerName: "localhost", NextProtos: []string{"http/1.1"}}
	if tweak != nil {
		tweak(cfg)
	}
	d := &net.Dialer{Timeout: patience}
	conn, err := tls.DialWithDialer(d, "tcp", addr, cfg)
	if err != nil {
		return nil, err
	}
	conn.SetDeadline(time.Now().Add(patience))
	c := &client{conn: conn, br: bufio.NewReader(conn)}
	t.Cleanup(func() { conn.Close() })
	return c, nil
}

func mustDial(t *testing.T, addr string, p *pki) *client {
	t.Helper()
	c, err := dial(t, addr, p, nil)
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	return c
}

// serial is the serial number of the certificate the server presented.
func (c *client) serial() int64 {
	return c.conn.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
}

// get sends GET / on the connection (kept alive) and returns the body.
func (c *client) get() (string, error) {
	if _, err := io.WriteString(c.conn, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"); err != nil {
		return "", err
	}
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != 200 || resp.Close {
		return "", fmt.Errorf("status %d, close %v: %s", resp.StatusCode, resp.Close, b)
	}
	return string(b), nil
}

func mustGet(t *testing.T, c *client) string {
	t.Helper()
	body, err := c.get()
	if err != nil {
		t.Fatalf("GET /: %v", err)
	}
	return body
}

// newPair writes a certificate with serial and its key to dir and returns
// their paths.
func newPair(t *testing.T, p *pki, dir string, serial int64) (certFile, keyFile string) {
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	certPEM, keyPEM := p.issue(t, serial)
	writeFile(t, certFile, certPEM)
	writeFile(t, keyFile, keyPEM)
	return certFile, keyFile
}

func TestNewErrors(t *testing.T) {
	p := newPKI(t)
	dir := t.TempDir()
	certPEM, keyPEM := p.issue(t, 1)
	_, otherKey := p.issue(t, 2)
	path := func(name string, b []byte) string {
		f := filepath.Join(dir, name)
		writeFile(t, f, b)
		return f
	}
	cert, key := path("cert.pem", certPEM), path("key.pem", keyPEM)
	missing := filepath.Join(dir, "missing.pem")
	garbage := path("garbage.pem", []byte("this is not PEM\n"))
	empty := path("empty.pem", nil)
	other := path("other-key.pem", otherKey)
	der := path("cert.der", mustBlock(t, certPEM))
	tests := []struct {
		name      string
		cert, key string
		is        error
		says      []string
	}{
		{"cert missing", missing, key, fs.ErrNotExist, []string{"certificate file", missing}},
		{"key missing", cert, missing, fs.ErrNotExist, []string{"key file", missing}},
		{"cert garbage", garbage, key, ErrNotPEM, []string{"certificate file " + garbage, "no PEM certificate"}},
		{"cert empty", empty, key, ErrNotPEM, []string{"certificate file " + empty}},
		{"cert DER, not PEM", der, key, ErrNotPEM, []string{"certificate file " + der}},
		{"key garbage", cert, garbage, ErrNotPEM, []string{"key file " + garbage, "no PEM private key"}},
		{"swapped", key, cert, ErrNotPEM, []string{"swapped"}},
		{"key of another certificate", cert, other, ErrKeyMismatch, []string{other, cert}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := New(tt.cert, tt.key, slog.New(slog.DiscardHandler))
			if err == nil {
				t.Fatalf("New = %v, want an error", r)
			}
			if !errors.Is(err, tt.is) {
				t.Errorf("error %q is not %v", err, tt.is)
			}
			for _, s := range tt.says {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not say %q", err, s)
				}
			}
		})
	}
	t.Run("good pair", func(t *testing.T) {
		r, err := New(cert, key, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		if got := r.Leaf().SerialNumber.Int64(); got != 1 {
			t.Errorf("serial %d, want 1", got)
		}
	})
}

func mustBlock(t *testing.T, b []byte) []byte {
	block, _ := pem.Decode(b)
	if block == nil {
		t.Fatal("no PEM block")
	}
	return block.Bytes
}

// TestServe serves a Reloader's Config with fasthttp and net/http: a client
// trusting the CA gets through, old protocol versions and CBC-only clients
// do not.
func TestServe(t *testing.T) {
	// Go's servers refuse TLS 1.0 and 1.1 by default, unless this is set:
	// Config's MinVersion must refuse them regardless.
	t.Setenv("GODEBUG", "tls10server=1")
	p := newPKI(t)
	certFile, keyFile := newPair(t, p, t.TempDir(), 7)
	r, err := New(certFile, keyFile, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	for _, srv := range servers {
		t.Run(srv.name, func(t *testing.T) {
			addr := srv.start(t, r.Config())
			c := mustDial(t, addr, p)
			if got := mustGet(t, c); got != "127.0.0.1 tls=true" {
				t.Errorf("handler saw %q, want the client's address and TLS", got)
			}
			if got := c.serial(); got != 7 {
				t.Errorf("serial %d, want 7", got)
			}
			if st := c.conn.ConnectionState(); st.Version != tls.VersionTLS13 || st.NegotiatedProtocol != "http/1.1" {
				t.Errorf("version %s, ALPN %q; want TLS 1.3, http/1.1", tls.VersionName(st.Version), st.NegotiatedProtocol)
			}
			for _, v := range []uint16{tls.VersionTLS10, tls.VersionTLS11} {
				t.Run(tls.VersionName(v)+" refused", func(t *testing.T) {
					_, err := dial(t, addr, p, func(c *tls.Config) { c.MinVersion, c.MaxVersion = v, v })
					if err == nil || !strings.Contains(err.Error(), "protocol version") {
						t.Errorf("handshake error %v, want a protocol version alert", err)
					}
				})
			}
			t.Run("TLS 1.2 AEAD", func(t *testing.T) {
				c, err := dial(t, addr, p, func(c *tls.Config) { c.MaxVersion = tls.VersionTLS12 })
				if err != nil {
					t.Fatal(err)
				}
				if s := c.conn.ConnectionState().CipherSuite; s != tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 &&
					s != tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 && s != tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 {
					t.Errorf("suite %s", tls.CipherSuiteName(s))
				}
				mustGet(t, c)
			})
			t.Run("TLS 1.2 CBC only refused", func(t *testing.T) {
				_, err := dial(t, addr, p, func(c *tls.Config) {
					c.MaxVersion = tls.VersionTLS12
					c.CipherSuites = []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA}
				})
				if err == nil {
					t.Error("a client offering only CBC suites got through")
				}
			})
			t.Run("untrusted client refuses", func(t *testing.T) {
				other := newPKI(t)
				if _, err := dial(t, addr, other, nil); err == nil {
					t.Error("a client trusting another CA accepted the certificate")
				}
			})
		})
	}
	// fasthttp speaks no HTTP/2; net/http would, but does not offer it
	// when the config lists http/1.1 alone.
	for _, srv := range servers {
		t.Run(srv.name+" ALPN with h2 offered", func(t *testing.T) {
			addr := srv.start(t, r.Config())
			c, err := dial(t, addr, p, func(c *tls.Config) { c.NextProtos = []string{"h2", "http/1.1"} })
			if err != nil {
				t.Fatal(err)
			}
			if got := c.conn.ConnectionState().NegotiatedProtocol; got != "http/1.1" {
				t.Errorf("ALPN %q, want http/1.1", got)
			}
			mustGet(t, c)
		})
	}
}

// TestPerIPLimitSeesClientAddress: behind tls.NewListener fasthttp still
// keys MaxConnsPerIP on the client's address (if it could not, it would not
// limit at all).
func TestPerIPLimitSeesClientAddress(t *testing.T) {
	p := newPKI(t)
	certFile, keyFile := newPair(t, p, t.TempDir(), 1)
	r, err := New(certFile, keyFile, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	addr := startFasthttp(1)(t, r.Config())
	first := mustDial(t, addr, p)
	mustGet(t, first)
	// The second connection is closed before its handshake completes.
	if second, err := dial(t, addr, p, nil); err == nil {
		if _, err := second.get(); err == nil {
			t.Fatal("a second connection from 127.0.0.1 was served with MaxConnsPerIP 1")
		}
	}
	first.conn.Close()
	waitFor(t, "a new connection once the first closed", func() bool {
		c, err := dial(t, addr, p, nil)
		if err != nil {
			return false
		}
		defer c.conn.Close()
		_, err = c.get()
		return err == nil
	})
}

// swapper replaces the certificate and key the Reloader reads.
type swapper struct {
	name string
	// setup writes the first pair and returns the paths to give New.
	setup func(t *testing.T, dir string, certPEM, keyPEM []byte) (certFile, keyFile string)
	// swap installs another pair.
	swap func(t *testing.T, dir string, certPEM, keyPEM []byte)
}

var swappers = []swapper{
	{
		// certbot renew, or an operator: the same files rewritten, the
		// certificate first (for a moment it does not match the key).
		name: "rewrite in place",
		setup: func(t *testing.T, dir string, certPEM, keyPEM []byte) (string, string) {
			writeFile(t, filepath.Join(dir, "cert.pem"), certPEM)
			writeFile(t, filepath.Join(dir, "key.pem"), keyPEM)
			return filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
		},
		swap: func(t *testing.T, dir string, certPEM, keyPEM []byte) {
			writeFile(t, filepath.Join(dir, "cert.pem"), certPEM)
			writeFile(t, filepath.Join(dir, "key.pem"), keyPEM)
		},
	},
	{
		// Kubernetes secret volumes (cert-manager): tls.crt -> ..data/tls.crt,
		// ..data -> a timestamped directory, swapped atomically by a
		// rename of a new ..data symlink.
		name: "symlink swap",
		setup: func(t *testing.T, dir string, certPEM, keyPEM []byte) (string, string) {
			version(t, dir, "v0", certPEM, keyPEM)
			link(t, "v0", filepath.Join(dir, "..data"))
			link(t, filepath.Join("..data", "tls.crt"), filepath.Join(dir, "tls.crt"))
			link(t, filepath.Join("..data", "tls.key"), filepath.Join(dir, "tls.key"))
			return filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
		},
		swap: func(t *testing.T, dir string, certPEM, keyPEM []byte) {
			v := fmt.Sprintf("v%d", time.Now().UnixNano())
			version(t, dir, v, certPEM, keyPEM)
			link(t, v, filepath.Join(dir, "..data_tmp"))
			if err := os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")); err != nil {
				t.Fatal(err)
			}
		},
	},
}

func version(t *testing.T, dir, name string, certPEM, keyPEM []byte) {
	if err := os.Mkdir(filepath.Join(dir, name), 0o700); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, name, "tls.crt"), certPEM)
	writeFile(t, filepath.Join(dir, name, "tls.key"), keyPEM)
}

func link(t *testing.T, target, name string) {
	if err := os.Symlink(target, name); err != nil {
		t.Fatal(err)
	}
}

// TestWatchPicksUpRenewal: a renewed pair written over the files, or
// swapped in by symlink, is served to new connections within the poll
// interval, while a keep-alive connection made before goes on working.
func TestWatchPicksUpRenewal(t *testing.T) {
	p := newPKI(t)
	for _, srv := range servers {
		for _, sw := range swappers {
			t.Run(srv.name+"/"+sw.name, func(t *testing.T) {
				dir := t.TempDir()
				c1, k1 := p.issue(t, 100)
				certFile, keyFile := sw.setup(t, dir, c1, k1)
				var logs logBuffer
				r, err := New(certFile, keyFile, logs.logger())
				if err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithCancel(context.Background())
				watched := make(chan struct{})
				go func() { defer close(watched); r.Watch(ctx, 50*time.Millisecond) }()
				t.Cleanup(func() { cancel(); <-watched })
				addr := srv.start(t, r.Config())

				old := mustDial(t, addr, p)
				mustGet(t, old)
				if old.serial() != 100 {
					t.Fatalf("serial %d, want 100", old.serial())
				}
				c2, k2 := p.issue(t, 200)
				sw.swap(t, dir, c2, k2)
				waitFor(t, "a new connection to get serial 200", func() bool {
					c, err := dial(t, addr, p, nil)
					if err != nil {
						t.Logf("dial: %v", err)
						return false
					}
					defer c.conn.Close()
					return c.serial() == 200
				})
				if got := r.Leaf().SerialNumber.Int64(); got != 200 {
					t.Errorf("Leaf serial %d, want 200", got)
				}
				// The connection made before the renewal is still open and
				// still served, with the certificate of its handshake.
				for range 3 {
					mustGet(t, old)
				}
				if old.serial() != 100 {
					t.Errorf("the old connection's serial changed to %d", old.serial())
				}
				if !strings.Contains(logs.String(), "TLS certificate reloaded") {
					t.Errorf("no reload logged:\n%s", logs.String())
				}
			})
		}
	}
}

// TestBrokenRenewalKeepsCertificate: garbage, or a certificate with the
// wrong key, is reported and the previous certificate goes on being served;
// the next good pair is picked up.
func TestBrokenRenewalKeepsCertificate(t *testing.T) {
	p := newPKI(t)
	for _, srv := range servers {
		t.Run(srv.name, func(t *testing.T) {
			dir := t.TempDir()
			certFile, keyFile := newPair(t, p, dir, 1)
			var logs logBuffer
			r, err := New(certFile, keyFile, logs.logger())
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			watched := make(chan struct{})
			go func() { defer close(watched); r.Watch(ctx, 50*time.Millisecond) }()
			t.Cleanup(func() { cancel(); <-watched })
			addr := srv.start(t, r.Config())
			serves := func(want int64) {
				t.Helper()
				c := mustDial(t, addr, p)
				defer c.conn.Close()
				mustGet(t, c)
				if got := c.serial(); got != want {
					t.Fatalf("serving serial %d, want %d", got, want)
				}
			}
			serves(1)

			good2, key2 := p.issue(t, 2)
			good3, key3 := p.issue(t, 3)
			steps := []struct {
				name      string
				cert, key []byte
				says      string
			}{
				{"garbage certificate", []byte("-----BEGIN garbage"), key2, "no PEM certificate"},
				{"key of another certificate", good2, key3, "is not the key of certificate file"},
				{"key file removed", good2, nil, "no such file"},
			}
			// The key is written first: no step goes through a valid pair.
			for _, s := range steps {
				mark := logs.len()
				if s.key == nil {
					os.Remove(keyFile)
				} else {
					writeFile(t, keyFile, s.key)
				}
				writeFile(t, certFile, s.cert)
				waitFor(t, s.name+" to be reported", func() bool { return strings.Contains(logs.since(mark), s.says) })
				serves(1)
				if err := r.Reload(); err == nil {
					t.Errorf("%s: Reload succeeded", s.name)
				}
				serves(1)
			}
			if !strings.Contains(logs.String(), "keeping the one being served") {
				t.Errorf("the log does not say the certificate was kept:\n%s", logs.String())
			}
			writeFile(t, keyFile, key3)
			writeFile(t, certFile, good3)
			waitFor(t, "serial 3 to be served", func() bool { return r.Leaf().SerialNumber.Int64() == 3 })
			serves(3)
		})
	}
}

// TestPollReportsOnce: a broken pair is logged once, not at every poll, and
// an unchanged pair is not reloaded.
func TestPollReportsOnce(t *testing.T) {
	p := newPKI(t)
	dir := t.TempDir()
	certFile, keyFile := newPair(t, p, dir, 1)
	var logs logBuffer
	r, err := New(certFile, keyFile, logs.logger())
	if err != nil {
		t.Fatal(err)
	}
	count := func(s string) int { return strings.Count(logs.String(), s) }
	for range 3 {
		if err := r.poll(); err != nil {
			t.Fatal(err)
		}
	}
	if n := count("TLS certificate reloaded"); n != 0 {
		t.Errorf("unchanged files reloaded %d times", n)
	}
	writeFile(t, certFile, []byte("garbage"))
	if err := r.poll(); !errors.Is(err, ErrNotPEM) {
		t.Errorf("poll = %v, want ErrNotPEM", err)
	}
	for range 3 {
		if err := r.poll(); err != nil {
			t.Errorf("poll of the same broken files = %v, want nil (already reported)", err)
		}
	}
	os.Remove(certFile)
	for range 3 {
		r.poll()
	}
	if n := count("not reloaded"); n != 2 {
		t.Errorf("%d failures logged, want 2 (garbage once, missing once):\n%s", n, logs.String())
	}
	if err := r.Reload(); err == nil {
		t.Error("Reload of a missing file succeeded")
	}
	if n := count("not reloaded"); n != 3 {
		t.Errorf("Reload did not log its failure")
	}
	if got := r.Leaf().SerialNumber.Int64(); got != 1 {
		t.Errorf("serving serial %d, want 1", got)
	}
	c, k := p.issue(t, 5)
	writeFile(t, certFile, c)
	writeFile(t, keyFile, k)
	if err := r.poll(); err != nil {
		t.Fatal(err)
	}
	if got := r.Leaf().SerialNumber.Int64(); got != 5 {
		t.Errorf("serving serial %d, want 5", got)
	}
}

// BenchmarkHandshake measures a full TLS 1.3 handshake (ECDSA P-256,
// X25519MLKEM768 by default) over loopback, both ends in this process.
func BenchmarkHandshake(b *testing.B) {
	p := newPKI(b)
	dir := b.TempDir()
	certPEM, keyPEM := p.issue(b, 1)
	writeFile(b, filepath.Join(dir, "c"), certPEM)
	writeFile(b, filepath.Join(dir, "k"), keyPEM)
	r, err := New(filepath.Join(dir, "c"), filepath.Join(dir, "k"), slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	tln := tls.NewListener(ln, r.Config())
	go func() {
		for {
			c, err := tln.Accept()
			if err != nil {
				return
			}
			go func() { c.(*tls.Conn).Handshake(); c.Close() }()
		}
	}()
	cfg := &tls.Config{RootCAs: p.pool, ServerName: "localhost"}
	for b.Loop() {
		c, err := tls.Dial("tcp", ln.Addr().String(), cfg)
		if err != nil {
			b.Fatal(err)
		}
		c.Close()
	}
}

func BenchmarkGetCertificate(b *testing.B) {
	p := newPKI(b)
	dir := b.TempDir()
	certPEM, keyPEM := p.issue(b, 1)
	writeFile(b, filepath.Join(dir, "c"), certPEM)
	writeFile(b, filepath.Join(dir, "k"), keyPEM)
	r, err := New(filepath.Join(dir, "c"), filepath.Join(dir, "k"), slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	get := r.Config().GetCertificate
	for b.Loop() {
		get(nil)
	}
}

func BenchmarkPollUnchanged(b *testing.B) {
	p := newPKI(b)
	dir := b.TempDir()
	certPEM, keyPEM := p.issue(b, 1)
	writeFile(b, filepath.Join(dir, "c"), certPEM)
	writeFile(b, filepath.Join(dir, "k"), keyPEM)
	r, err := New(filepath.Join(dir, "c"), filepath.Join(dir, "k"), slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		r.poll()
	}
}
