package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

// The operator commands (send, result, dead, stats) talk to a running
// server over its HTTP APIs: the ingress (--server) and the admin API
// (--admin, --token). Each failure is one line on stderr and exit 1.

const (
	defaultServer = "http://127.0.0.1:8080"
	defaultAdmin  = "http://127.0.0.1:8081"
)

// opsClient is the connection settings of one operator command.
type opsClient struct {
	server, admin, token string
	hc                   *http.Client
}

// opsFlags registers --server, --admin and --token on fs, their defaults
// from SLUICE_SERVER, SLUICE_ADMIN and SLUICE_ADMIN_TOKEN.
func opsFlags(fs *flag.FlagSet) *opsClient {
	// A generous bound: a sync route answers within its sync_timeout, a
	// long-poll within 60 s; only a server that hangs reaches it.
	c := &opsClient{hc: &http.Client{Timeout: 5 * time.Minute}}
	fs.StringVar(&c.server, "server", envOr("SLUICE_SERVER", defaultServer), "ingress base URL (env SLUICE_SERVER)")
	fs.StringVar(&c.admin, "admin", envOr("SLUICE_ADMIN", defaultAdmin), "admin API base URL (env SLUICE_ADMIN)")
	fs.StringVar(&c.token, "token", os.Getenv("SLUICE_ADMIN_TOKEN"), "admin token (env SLUICE_ADMIN_TOKEN)")
	return c
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// parseInterleaved parses flags that may come before, between or after the
// positional arguments (sluice send ROUTE FILE -H K:V) and returns the
// positional ones.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// apiError is a non-2xx answer: its status and the server's error body.
type apiError struct {
	method, url string
	status      int
	code, msg   string
}

func (e *apiError) Error() string {
	s := fmt.Sprintf("%s %s: %d %s", e.method, e.url, e.status, http.StatusText(e.status))
	if e.code != "" {
		s += ": " + e.code
	}
	if e.msg != "" {
		s += ": " + e.msg
	}
	return s
}

var errNeedToken = errors.New("the admin API needs a token: --token or SLUICE_ADMIN_TOKEN")

// do sends one request. A transport failure is "cannot reach sluice at
// URL"; a 401 from the admin API asks for the token; any other non-2xx is
// an *apiError (returned with the answer, which the caller may print).
func (c *opsClient) do(method, base, path string, body []byte, hdr http.Header) (*http.Response, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	url := strings.TrimRight(base, "/") + path
	req, err := http.NewRequest(method, url, rd) // #nosec G704 -- the operator names the server (--server, --admin) on the command line
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", base, err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	isAdmin := base == c.admin
	if c.token != "" && req.Header.Get("Authorization") == "" && (isAdmin || strings.HasPrefix(path, "/v1/results/")) {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req) // #nosec G704 -- the operator names the server (--server, --admin) on the command line
	if err != nil {
		return nil, nil, fmt.Errorf("cannot reach sluice at %s: %w", base, unwrapURLError(err))
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp, nil, fmt.Errorf("reading the answer of %s %s: %w", method, url, err)
	}
	if resp.StatusCode/100 == 2 {
		return resp, b, nil
	}
	if resp.StatusCode == http.StatusUnauthorized && isAdmin {
		if c.token == "" {
			return resp, b, errNeedToken
		}
		return resp, b, errors.New("the admin API refused the token (--token or SLUICE_ADMIN_TOKEN)")
	}
	ae := &apiError{method: method, url: url, status: resp.StatusCode}
	var eb struct {
		Error struct{ Code, Message string }
	}
	if json.Unmarshal(b, &eb) == nil {
		ae.code, ae.msg = eb.Error.Code, eb.Error.Message
	}
	return resp, b, ae
}

// unwrapURLError drops net/http's "Get "url": " prefix: the line already
// names the server.
func unwrapURLError(err error) error {
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) {
		if inner := ue.Unwrap(); inner != nil {
			return inner
		}
	}
	return err
}

// getJSON GETs base+path and decodes its JSON answer into v.
func (c *opsClient) getJSON(base, path string, v any) error {
	_, b, err := c.do("GET", base, path, nil, nil)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("GET %s%s: not the expected JSON: %w", base, path, err)
	}
	return nil
}

// fail prints one error line and returns the exit code 1.
func fail(stderr io.Writer, err error) int {
	fmt.Fprintln(stderr, "sluice:", err)
	return 1
}

// isTerminal reports whether w (a writer or a reader) is a character
// device: a terminal.
func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// progress draws a one-line bar on w (a terminal; else it draws nothing).
type progress struct {
	w     io.Writer
	on    bool
	label string
	total int
	last  time.Time
}

func newProgress(w io.Writer, label string, total int) *progress {
	return &progress{w: w, on: isTerminal(w), label: label, total: total}
}

func (p *progress) set(done int, extra string) {
	if !p.on || (done < p.total && time.Since(p.last) < 100*time.Millisecond) {
		return
	}
	p.last = time.Now()
	const width = 30
	fill := width
	if p.total > 0 {
		fill = width * done / p.total
	}
	fmt.Fprintf(p.w, "\r%s [%s%s] %d/%d %s\x1b[K", p.label, strings.Repeat("#", fill), strings.Repeat(".", width-fill), done, p.total, extra)
}

func (p *progress) done() {
	if p.on {
		fmt.Fprint(p.w, "\r\x1b[K")
	}
}
