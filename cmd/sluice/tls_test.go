package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// testCA issues certificates for 127.0.0.1 and localhost.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sluice test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool}
}

// issue writes a server certificate with the given serial and its key into
// dir (as server.crt and server.key) and returns their paths.
func (ca *testCA) issue(t *testing.T, dir string, serial int64) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "sluice"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile = filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key")
	// Write to temporary names and rename, as certificate tools do.
	for _, f := range []struct {
		path string
		b    []byte
	}{{certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})},
		{keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})}} {
		if err := os.WriteFile(f.path+".tmp", f.b, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(f.path+".tmp", f.path); err != nil {
			t.Fatal(err)
		}
	}
	return certFile, keyFile
}

func (ca *testCA) client() *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: ca.pool}, DisableKeepAlives: true}}
}

// servedSerial connects to addr and returns the serial of the certificate
// it presents.
func (ca *testCA) servedSerial(t *testing.T, addr string) int64 {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", addr, &tls.Config{RootCAs: ca.pool, ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatalf("TLS handshake with %s: %v", addr, err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
}

// TestTLS serves the ingress and the admin API over TLS with a certificate
// the test made: HTTPS works, plain HTTP and TLS 1.1 do not, and the admin
// API still wants its token.
func TestTLS(t *testing.T) {
	ca := newTestCA(t)
	dir := t.TempDir()
	cert, key := ca.issue(t, dir, 100)
	ts, _ := startSecured(t, fmt.Sprintf(`
tls: {cert_file: %s, key_file: %s}
admin_tls: {cert_file: %s, key_file: %s}
admin_token: %s
routes:
  - {name: s, mode: sync}
`, cert, key, cert, key, operatorToken), nil)
	addr, adminAddr := ts.s.addr.String(), ts.s.adminLn.Addr().String()
	c := ca.client()
	resp, err := c.Post("https://"+addr+"/in/s", "application/json", strings.NewReader(`{"over":"tls"}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != `{"over":"tls"}` || resp.TLS == nil {
		t.Fatalf("HTTPS: %d %s", resp.StatusCode, b)
	}
	if resp, err := (&http.Client{Timeout: 10 * time.Second}).Post("http://"+addr+"/in/s", "application/json", strings.NewReader(`{}`)); err == nil {
		resp.Body.Close()
		if resp.StatusCode < 400 {
			t.Fatalf("plain HTTP to the TLS listener: %d", resp.StatusCode)
		}
	}
	old := &tls.Config{RootCAs: ca.pool, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}
	if conn, err := tls.Dial("tcp", addr, old); err == nil {
		conn.Close()
		t.Fatal("a TLS 1.1 client was served")
	}
	req, _ := http.NewRequest("GET", "https://"+adminAddr+"/v1/plugins", nil)
	if resp, err := c.Do(req); err != nil || resp.StatusCode != 401 {
		t.Fatalf("admin without token over TLS: %v %v", resp, err)
	}
	req.Header.Set("Authorization", "Bearer "+operatorToken)
	resp, err = c.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("admin with token over TLS: %v %v", resp, err)
	}
	resp.Body.Close()
	if s := ca.servedSerial(t, addr); s != 100 {
		t.Fatalf("serial %d", s)
	}
}

// TestDenyNetworks: with dispatch.deny_networks a destination that resolves
// into a denied range gets no connection; the message fails with
// destination_denied (502 on a sync route) and is not retried.
func TestDenyNetworks(t *testing.T) {
	dest := newDestination(t, nil)
	local := strings.Replace(dest.URL, "127.0.0.1", "localhost", 1)
	ts, _ := startSecured(t, `
dispatch: {deny_networks: [loopback, link_local]}
routes:
  - {name: s, mode: sync, destination: {url: `+dest.URL+`}}
  - {name: a, mode: async, destination: {url: `+local+`}, retry: {max_attempts: 5, initial_backoff: 10ms}}
`, nil)
	r := ts.post("s", `{}`)
	if e := r.json(t)["error"].(map[string]any); r.status != 502 || e["code"] != "destination_denied" ||
		!strings.Contains(e["message"].(string), "deny_networks") {
		t.Fatalf("sync: %d %s", r.status, r.body)
	}
	a := ts.post("a", `{}`)
	res := ts.waitFinal(a.header.Get("Sluice-Correlation-Id"))
	if e, _ := res["error"].(map[string]any); res["status"] != "dead" || e["code"] != "destination_denied" || res["attempts"].(float64) != 1 {
		t.Fatalf("async (localhost resolves to loopback): %v", res)
	}
	if n := len(dest.all()); n != 0 {
		t.Fatalf("a denied destination got %d requests", n)
	}
}

// TestSIGHUPReloadsCertificate runs the real binary over TLS, renews its
// certificate files and sends SIGHUP: new connections get the new
// certificate, with no restart.
func TestSIGHUPReloadsCertificate(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	ca := newTestCA(t)
	dir := t.TempDir()
	cert, key := ca.issue(t, dir, 1)
	cfg := filepath.Join(dir, "sluice.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("data_dir: %s\ntls: {cert_file: %s, key_file: %s}\nroutes: [{name: s, mode: sync}]\n",
		filepath.Join(dir, "data"), cert, key)), 0o644)
	addr := freeAddr(t)
	proc := spawnWith(t, bin, cfg, addr, "https", ca.client())
	defer proc.kill9()
	if s := ca.servedSerial(t, addr); s != 1 {
		t.Fatalf("serial %d before renewal", s)
	}
	ca.issue(t, dir, 2)
	proc.cmd.Process.Signal(syscall.SIGHUP)
	deadline := time.Now().Add(60 * time.Second)
	for ca.servedSerial(t, addr) != 2 {
		if time.Now().After(deadline) {
			t.Fatal("the renewed certificate was not served after SIGHUP")
		}
		time.Sleep(20 * time.Millisecond)
	}
	out := proc.cmd.Stderr.(*lockedWriter).String()
	if !strings.Contains(out, "SIGHUP") {
		t.Fatalf("no SIGHUP in the log:\n%s", out)
	}
}
