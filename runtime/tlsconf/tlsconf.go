package tlsconf

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

var (
	// ErrNotPEM: a file does not hold the PEM block it should (a certificate
	// in cert_file, a private key in key_file).
	ErrNotPEM = errors.New("tlsconf: not the expected PEM data")
	// ErrKeyMismatch: the key file's private key is not the certificate's.
	ErrKeyMismatch = errors.New("tlsconf: the private key does not match the certificate")
)

// DefaultWatchInterval is what Watch polls at when given no interval. A
// renewal lands weeks before the old certificate expires; the poll costs two
// reads of a few KiB.
const DefaultWatchInterval = 30 * time.Second

// maxFileSize bounds what is read of a certificate or key file: a full chain
// is a few KiB.
const maxFileSize = 1 << 20

// cipherSuites are the TLS 1.2 suites offered: ECDHE key exchange with an
// AEAD (Mozilla's "intermediate" list, less the DHE suites Go lacks). Go's
// own defaults would also offer the ECDHE AES-CBC-SHA1 suites. TLS 1.3
// suites are not configurable and all fine.
var cipherSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// Reloader holds the certificate a listener serves and reloads it from its
// files. Safe for concurrent use.
type Reloader struct {
	certFile, keyFile string
	log               *slog.Logger
	cur               atomic.Pointer[tls.Certificate] // never nil after New

	mu sync.Mutex // serialises loading; guards the fields below
	// What the last attempt read, loaded or not: Watch reloads when the
	// files' contents differ, and reports a broken pair once, not on
	// every poll.
	seenCert, seenKey []byte
	seenErr           string // the last attempt's read error ("": none)
}

// New loads the certificate (PEM, optionally followed by its chain) and the
// private key (PEM: PKCS#8, PKCS#1 or SEC 1) and returns a Reloader serving
// them. The error says which file is missing, is not PEM, or does not match
// the other. log may be nil (slog.Default).
func New(certFile, keyFile string, log *slog.Logger) (*Reloader, error) {
	if log == nil {
		log = slog.Default()
	}
	r := &Reloader{certFile: certFile, keyFile: keyFile, log: log}
	certPEM, keyPEM, err := r.read()
	if err != nil {
		return nil, err
	}
	c, err := parse(certPEM, keyPEM, certFile, keyFile)
	if err != nil {
		return nil, err
	}
	r.seenCert, r.seenKey = certPEM, keyPEM
	r.cur.Store(c)
	r.logLoaded("TLS certificate loaded", c)
	return r, nil
}

// Config returns a server configuration that serves the current
// certificate at every handshake: TLS 1.2 or later, ALPN http/1.1. Each call
// returns a new Config (the servers clone and amend theirs); all of them
// follow Reload.
//
//	fasthttp: srv.Serve(tls.NewListener(ln, r.Config()))
//	net/http: (&http.Server{TLSConfig: r.Config()}).ServeTLS(ln, "", "")
func (r *Reloader) Config() *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		CipherSuites:   slices.Clone(cipherSuites),
		NextProtos:     []string{"http/1.1"},
		GetCertificate: r.getCertificate,
	}
}

func (r *Reloader) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return r.cur.Load(), nil
}

// Leaf returns the certificate being served. Do not modify it.
func (r *Reloader) Leaf() *x509.Certificate { return r.cur.Load().Leaf }

// Reload reads the files again and serves the pair from the next handshake
// on. On failure it keeps the pair it has, logs why and returns the error.
// Meant for SIGHUP; it reloads even when the files did not change.
func (r *Reloader) Reload() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reloadLocked(true)
}

// Watch polls the files every interval (DefaultWatchInterval if <= 0) and
// reloads them when their contents change, until ctx is done. It compares
// contents, not modification times: a rewrite in place within the file
// system's timestamp granularity, or a symlink swapped to a file with the
// same size and time, is still seen. A broken pair is logged once and the
// previous certificate kept; the next change is tried again.
func (r *Reloader) Watch(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		interval = DefaultWatchInterval
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			r.poll() // #nosec G104 -- poll logs each distinct failure and keeps the current pair
		}
	}
}

// poll is one Watch step: it reloads if the files changed since the last
// attempt.
func (r *Reloader) poll() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reloadLocked(false)
}

// reloadLocked loads the files; unless force, only if they changed since
// the last attempt. r.mu is held.
func (r *Reloader) reloadLocked(force bool) error {
	certPEM, keyPEM, err := r.read()
	if err != nil {
		// A file missing or unreadable: in the middle of a renewal, or
		// broken. Report each distinct failure once when polling.
		if !force && err.Error() == r.seenErr {
			return nil
		}
		r.seenErr = err.Error()
		r.logKept(err)
		return err
	}
	r.seenErr = ""
	if !force && bytes.Equal(certPEM, r.seenCert) && bytes.Equal(keyPEM, r.seenKey) {
		return nil
	}
	r.seenCert, r.seenKey = certPEM, keyPEM
	c, err := parse(certPEM, keyPEM, r.certFile, r.keyFile)
	if err != nil {
		r.logKept(err)
		return err
	}
	r.cur.Store(c)
	r.logLoaded("TLS certificate reloaded", c)
	return nil
}

func (r *Reloader) logKept(err error) {
	kept := r.cur.Load().Leaf
	r.log.Error("TLS certificate not reloaded; keeping the one being served", "cert_file", r.certFile,
		"key_file", r.keyFile, "err", err, "serving_serial", kept.SerialNumber.Text(16),
		"serving_not_after", kept.NotAfter.UTC())
}

func (r *Reloader) logLoaded(msg string, c *tls.Certificate) {
	l := c.Leaf
	r.log.Info(msg, "cert_file", r.certFile, "serial", l.SerialNumber.Text(16),
		"subject", l.Subject.String(), "dns_names", l.DNSNames, "not_after", l.NotAfter.UTC())
	now := time.Now()
	switch {
	case now.After(l.NotAfter):
		r.log.Warn("the TLS certificate has expired; clients will refuse it", "cert_file", r.certFile,
			"not_after", l.NotAfter.UTC())
	case now.Before(l.NotBefore):
		r.log.Warn("the TLS certificate is not valid yet; clients will refuse it", "cert_file", r.certFile,
			"not_before", l.NotBefore.UTC())
	}
}

// read returns both files' contents.
func (r *Reloader) read() (certPEM, keyPEM []byte, err error) {
	if certPEM, err = readFile(r.certFile, "certificate"); err != nil {
		return nil, nil, err
	}
	if keyPEM, err = readFile(r.keyFile, "key"); err != nil {
		return nil, nil, err
	}
	return certPEM, keyPEM, nil
}

func readFile(path, what string) ([]byte, error) {
	f, err := os.Open(path) // #nosec G304 -- cert_file or key_file, from the operator's config
	if err != nil {
		return nil, fmt.Errorf("reading the %s file: %w", what, err) // the error names the path
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading the %s file %s: %w", what, path, err)
	}
	if len(b) > maxFileSize {
		return nil, fmt.Errorf("%s file %s is over %d bytes: %w", what, path, maxFileSize, ErrNotPEM)
	}
	return b, nil
}

// parse checks and parses a pair, with errors that name the file at fault.
func parse(certPEM, keyPEM []byte, certFile, keyFile string) (*tls.Certificate, error) {
	certs, keys := pemKinds(certPEM)
	if certs == 0 {
		if keys > 0 {
			return nil, fmt.Errorf("certificate file %s holds a private key and no certificate (cert_file and key_file swapped?): %w",
				certFile, ErrNotPEM)
		}
		return nil, fmt.Errorf("certificate file %s holds no PEM certificate (-----BEGIN CERTIFICATE-----): %w", certFile, ErrNotPEM)
	}
	certs, keys = pemKinds(keyPEM)
	if keys == 0 {
		if certs > 0 {
			return nil, fmt.Errorf("key file %s holds a certificate and no private key (cert_file and key_file swapped?): %w",
				keyFile, ErrNotPEM)
		}
		return nil, fmt.Errorf("key file %s holds no PEM private key (-----BEGIN PRIVATE KEY-----): %w", keyFile, ErrNotPEM)
	}
	c, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		if strings.Contains(err.Error(), "does not match") {
			return nil, fmt.Errorf("key file %s is not the key of certificate file %s: %w", keyFile, certFile, ErrKeyMismatch)
		}
		return nil, fmt.Errorf("parsing certificate file %s and key file %s: %w", certFile, keyFile, err)
	}
	if c.Leaf == nil { // X509KeyPair sets it unless GODEBUG=x509keypairleaf=0
		if c.Leaf, err = x509.ParseCertificate(c.Certificate[0]); err != nil {
			return nil, fmt.Errorf("parsing certificate file %s: %w", certFile, err)
		}
	}
	return &c, nil
}

// pemKinds counts the certificate and private key blocks in b.
func pemKinds(b []byte) (certs, keys int) {
	for {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			return certs, keys
		}
		switch {
		case block.Type == "CERTIFICATE":
			certs++
		case strings.HasSuffix(block.Type, "PRIVATE KEY"):
			keys++
		}
	}
}
