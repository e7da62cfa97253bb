package main

// Sender verification against the providers' own code: testdata/interop/sign.mjs signs every real GitHub
// example payload (@octokit/webhooks-examples) with @octokit/webhooks-methods, Stripe events with the
// stripe package, and Standard Webhooks messages with the official standardwebhooks library, right and
// wrong, and writes each body exactly as signed with the headers the library produced. This test posts
// them, byte for byte, to the real server and holds Sluice to what the libraries' own verifiers say.
//
// It needs Node.js and `npm ci` in testdata/interop. Without them it skips, unless
// SLUICE_REQUIRE_INTEROP is set (CI sets it), in which case it fails.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

const interopDir = "testdata/interop"

// The secrets the routes are configured with; sign.mjs reads them from the
// environment too.
var interopSecrets = [...][2]string{
	{"INTEROP_GITHUB_SECRET", "interop: GitHub secret ✓ with spaces and a non-ASCII rune"},
	{"INTEROP_GITHUB_SECRET_OLD", "the previous GitHub secret"},
	{"INTEROP_STRIPE_SECRET", "whsec_interopStripeSecret0123456789ab"},
	{"INTEROP_STRIPE_SECRET_OLD", "whsec_interopStripeSecretOLD98765432"},
	{"INTEROP_SW_SECRET", "whsec_c3RhbmRhcmQgd2ViaG9va3Mga2V5IDI0"}, // "standard webhooks key 24"
	{"INTEROP_SW_SECRET_RAW", "a raw standard-webhooks key"},
}

// interopEntry is one request of sign.mjs's manifest.
type interopEntry struct {
	Name           string            `json:"name"`
	Route          string            `json:"route"`
	BodyFile       string            `json:"body_file"`
	Headers        map[string]string `json:"headers"`
	Expect         int               `json:"expect"`
	Code           string            `json:"code"`
	ReplayOf       string            `json:"replay_of"`
	LibraryAccepts bool              `json:"library_accepts"`
	Note           string            `json:"note"`

	body  []byte
	reply reply
	err   error
}

func (e *interopEntry) String() string { return e.Name }

// describe says everything needed to reproduce a request by hand.
func (e *interopEntry) describe() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (route %s; %s)\n", e.Name, e.Route, e.Note)
	for _, k := range slices.Sorted(maps.Keys(e.Headers)) {
		fmt.Fprintf(&b, "    %s: %s\n", k, e.Headers[k])
	}
	body := e.body
	if len(body) > 400 {
		body = append(body[:400:400], "…"...)
	}
	fmt.Fprintf(&b, "    body (%d bytes): %s\n", len(e.body), body)
	if e.reply.status != 0 {
		fmt.Fprintf(&b, "    answer: %d %s\n", e.reply.status, bytes.TrimSpace(e.reply.body))
	}
	if e.err != nil {
		fmt.Fprintf(&b, "    error: %v\n", e.err)
	}
	return b.String()
}

// signInterop runs sign.mjs and returns its requests, their bodies read.
func signInterop(t *testing.T) []*interopEntry {
	t.Helper()
	missing := ""
	node, err := exec.LookPath("node")
	if err != nil {
		missing = "node is not on PATH"
	} else {
		for _, p := range []string{"@octokit/webhooks-examples", "@octokit/webhooks-methods", "stripe", "standardwebhooks"} {
			if _, err := os.Stat(filepath.Join(interopDir, "node_modules", p, "package.json")); err != nil {
				missing = "the npm packages are not installed (" + p + ")"
				break
			}
		}
	}
	if missing != "" {
		const how = "run `cd cmd/sluice/testdata/interop && npm ci` (Node.js 20 or later)"
		if os.Getenv("SLUICE_REQUIRE_INTEROP") != "" {
			t.Fatalf("SLUICE_REQUIRE_INTEROP is set but %s: %s", missing, how)
		}
		t.Skipf("interop test skipped: %s; %s", missing, how)
	}

	out := t.TempDir()
	cmd := exec.CommandContext(t.Context(), node, "sign.mjs", out)
	cmd.Dir = interopDir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("node sign.mjs: %v\n%s%s", err, stdout.Bytes(), stderr.Bytes())
	}
	t.Log(strings.TrimSpace(stdout.String()))

	m, err := os.ReadFile(filepath.Join(out, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var entries []*interopEntry
	if err := json.Unmarshal(m, &entries); err != nil {
		t.Fatalf("manifest.json: %v", err)
	}
	for _, e := range entries {
		if e.body, err = os.ReadFile(filepath.Join(out, e.BodyFile)); err != nil {
			t.Fatal(err)
		}
		if e.LibraryAccepts != (e.Expect == 202) || (e.Expect != 202 && e.Expect != 401) {
			t.Fatalf("manifest: %s: expect %d, library_accepts %v", e.Name, e.Expect, e.LibraryAccepts)
		}
	}
	return entries
}

func TestInterop(t *testing.T) {
	for _, s := range interopSecrets {
		t.Setenv(s[0], s[1])
	}
	entries := signInterop(t)
	ts, logs := startSecured(t, `
admin_token: `+operatorToken+`
routes:
  - name: github
    mode: async
    auth: {verify: github, secret_env: [INTEROP_GITHUB_SECRET, INTEROP_GITHUB_SECRET_OLD]}
  - name: stripe
    mode: async
    auth: {verify: stripe, secret_env: [INTEROP_STRIPE_SECRET, INTEROP_STRIPE_SECRET_OLD]}
  - name: hooks
    mode: async
    auth: {verify: standard_webhooks, secret_env: [INTEROP_SW_SECRET, INTEROP_SW_SECRET_RAW]}
`, nil)

	tr := &http.Transport{MaxIdleConnsPerHost: 8}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: time.Minute}
	send := func(method, url string, body []byte, hdr map[string]string) (reply, error) {
		req, err := http.NewRequest(method, url, bytes.NewReader(body))
		if err != nil {
			return reply{}, err
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := client.Do(req)
		if err != nil {
			return reply{}, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return reply{resp.StatusCode, resp.Header, b}, err
	}
	// each runs f on every item with a few concurrent clients (the server
	// group-commits concurrent appends) and waits for all of them.
	each := func(n int, f func(i int)) {
		var wg sync.WaitGroup
		next := make(chan int)
		for range 4 {
			wg.Go(func() {
				for i := range next {
					f(i)
				}
			})
		}
		for i := range n {
			next <- i
		}
		close(next)
		wg.Wait()
	}
	post := func(e *interopEntry) {
		e.reply, e.err = send("POST", ts.base+"/in/"+e.Route, e.body, e.Headers)
	}
	// failures reports what failed, each request in full, at most 10.
	failures := func(what string, bad []*interopEntry) {
		t.Helper()
		if len(bad) == 0 {
			return
		}
		var b strings.Builder
		for i, e := range bad {
			if i == 10 {
				fmt.Fprintf(&b, "... and %d more\n", len(bad)-10)
				break
			}
			b.WriteString(e.describe())
		}
		t.Errorf("%d of the providers' requests %s:\n%s", len(bad), what, b.String())
	}

	byName := make(map[string]*interopEntry, len(entries))
	var first, retries []*interopEntry
	for _, e := range entries {
		byName[e.Name] = e
		if e.ReplayOf == "" {
			first = append(first, e)
		} else {
			retries = append(retries, e)
		}
	}

	// 1. Every first delivery: accepted (202, stored once) or refused (401
	// with the expected code, nothing stored), as the library says.
	before := ts.appends()
	each(len(first), func(i int) { post(first[i]) })
	var (
		bad                 []*interopEntry
		accepted, refused   = map[string]int{}, map[string]int{}
		ids                 = map[string]*interopEntry{} // correlation id -> accepted entry
		nAccepted, nRefused int
	)
	for _, e := range first {
		r := e.reply
		id := r.header.Get("Sluice-Correlation-Id")
		var answer struct {
			CorrelationID string `json:"correlation_id"`
			Error         struct {
				Code string `json:"code"`
			} `json:"error"`
		}
		if e.err == nil {
			e.err = json.Unmarshal(r.body, &answer)
		}
		switch {
		case e.err != nil:
		case r.status != e.Expect:
			e.err = fmt.Errorf("answered %d, the library's verifier says %d", r.status, e.Expect)
		case e.Expect == 202 && (id == "" || answer.CorrelationID != id || r.header.Get("Idempotent-Replayed") != "" || ids[id] != nil):
			e.err = fmt.Errorf("accepted, but with correlation id %q (in the body %q, Idempotent-Replayed %q), or one already given to %v",
				id, answer.CorrelationID, r.header.Get("Idempotent-Replayed"), ids[id])
		case e.Expect == 401 && (answer.Error.Code != e.Code || r.header.Get("Sluice-Error-Code") != e.Code):
			e.err = fmt.Errorf("refused with code %q (Sluice-Error-Code %q), want %q", answer.Error.Code, r.header.Get("Sluice-Error-Code"), e.Code)
		default:
			if e.Expect == 202 {
				ids[id] = e
				accepted[e.Route]++
				nAccepted++
			} else {
				refused[e.Route]++
				nRefused++
			}
			continue
		}
		bad = append(bad, e)
	}
	failures("were not answered as their library's verifier says", bad)
	stored := ts.appends() - before
	if stored != uint64(nAccepted) {
		t.Errorf("the log stored %d messages for %d accepted requests", stored, nAccepted)
	}

	// 2. Every accepted message is in the log under its correlation id (for
	// the operator only: the routes verify their senders); no refused one is.
	lookups := make([]error, len(first))
	each(len(first), func(i int) {
		e := first[i]
		id := e.reply.header.Get("Sluice-Correlation-Id")
		if e.err != nil {
			return
		}
		r, err := send("GET", ts.base+"/v1/results/"+id, nil, map[string]string{"Authorization": "Bearer " + operatorToken})
		var v struct {
			Route string `json:"route"`
		}
		switch {
		case err != nil:
		case e.Expect == 202 && r.status == 200:
			if err = json.Unmarshal(r.body, &v); err == nil && v.Route != e.Route {
				err = fmt.Errorf("result %s is of route %q", id, v.Route)
			}
		case e.Expect == 401 && r.status == 404:
		default:
			err = fmt.Errorf("GET /v1/results/%s: %d %s", id, r.status, r.body)
		}
		lookups[i] = err
	})
	bad = bad[:0]
	for i, e := range first {
		if lookups[i] != nil {
			e.err = lookups[i]
			bad = append(bad, e)
		}
	}
	failures("have a wrong result record", bad)
	for _, e := range first {
		if e.Expect == 202 && e.err == nil {
			if r := ts.do("GET", "/v1/results/"+e.reply.header.Get("Sluice-Correlation-Id"), "", nil); r.status != 404 {
				t.Errorf("a result of a verified route is readable without credentials: %d %s", r.status, r.body)
			}
			break
		}
	}

	// 3. The senders' own retries (same delivery id, new timestamp and
	// signature): the first correlation id, replayed, nothing stored.
	before = ts.appends()
	each(len(retries), func(i int) { post(retries[i]) })
	bad = bad[:0]
	for _, e := range retries {
		orig := byName[e.ReplayOf]
		switch {
		case orig == nil:
			e.err = fmt.Errorf("replay_of %q is not in the manifest", e.ReplayOf)
		case e.err == nil && (e.reply.status != 202 || e.reply.header.Get("Idempotent-Replayed") != "true" ||
			e.reply.header.Get("Sluice-Correlation-Id") != orig.reply.header.Get("Sluice-Correlation-Id")):
			e.err = fmt.Errorf("not a replay of %s (correlation id %s)", orig.Name, orig.reply.header.Get("Sluice-Correlation-Id"))
		}
		if e.err != nil {
			bad = append(bad, e)
		}
	}
	failures("sent again by their sender were not replays of the first delivery", bad)

	// 4. GitHub redeliveries: the same request again, verbatim (same
	// X-GitHub-Delivery, body and signature), as "Redeliver" sends it.
	var github []*interopEntry
	for _, e := range first {
		if e.Route == "github" && e.Expect == 202 && e.err == nil {
			github = append(github, e)
		}
	}
	var redeliver []*interopEntry
	for k := range min(6, len(github)) {
		redeliver = append(redeliver, github[k*len(github)/6])
	}
	for _, e := range redeliver {
		r, err := send("POST", ts.base+"/in/github", e.body, e.Headers)
		if err != nil || r.status != 202 || r.header.Get("Idempotent-Replayed") != "true" ||
			r.header.Get("Sluice-Correlation-Id") != e.reply.header.Get("Sluice-Correlation-Id") {
			t.Errorf("GitHub redelivery of %s: %v %d %v %s (first: %s)", e.Name, err, r.status, r.header, r.body, e.reply.header.Get("Sluice-Correlation-Id"))
		}
	}
	// A forged redelivery: a known delivery id and its body, signed with the
	// wrong secret (the same body's wrong-secret entry), is still refused.
	forgedFailures := 0
	if len(redeliver) > 0 {
		orig := redeliver[0]
		forged := byName[strings.TrimSuffix(orig.Name, " valid")+" wrong secret"]
		if forged == nil || !bytes.Equal(forged.body, orig.body) {
			t.Fatalf("no wrong-secret entry with the body of %s", orig.Name)
		}
		hdr := maps.Clone(forged.Headers)
		hdr["X-GitHub-Delivery"] = orig.Headers["X-GitHub-Delivery"]
		if r, err := send("POST", ts.base+"/in/github", forged.body, hdr); err != nil || r.status != 401 {
			t.Errorf("a forged redelivery of %s: %v %d %s", orig.Name, err, r.status, r.body)
		}
		forgedFailures = 1
	}
	if n := ts.appends() - before; n != 0 {
		t.Errorf("retries and redeliveries stored %d new messages", n)
	}

	// 5. Every refusal was counted, and no secret reached the log.
	stats := ts.admin("GET", "/v1/stats", nil, "Authorization", "Bearer "+operatorToken).json(t)
	routes, _ := stats["ingress"].(map[string]any)["routes"].(map[string]any)
	for _, route := range []string{"github", "stripe", "hooks"} {
		rs, _ := routes[route].(map[string]any)
		want := refused[route]
		if route == "github" {
			want += forgedFailures
		}
		if got, _ := rs["auth_failures"].(float64); int(got) != want {
			t.Errorf("route %s: auth_failures %v, want %d", route, rs["auth_failures"], want)
		}
	}
	for _, s := range interopSecrets {
		if strings.Contains(logs.String(), s[1]) {
			t.Errorf("the log shows the secret of %s", s[0])
		}
	}

	t.Logf("interop: %d requests signed by the providers' libraries: %d accepted (github %d, stripe %d, hooks %d), "+
		"%d refused (github %d, stripe %d, hooks %d); %d sender retries and %d GitHub redeliveries replayed; %d messages stored",
		len(entries), nAccepted, accepted["github"], accepted["stripe"], accepted["hooks"],
		nRefused, refused["github"], refused["stripe"], refused["hooks"], len(retries), len(redeliver), stored)
}
