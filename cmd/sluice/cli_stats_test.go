package main

import (
	"bytes"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// statsRow returns the fields of route's line in a sluice stats frame.
func statsRow(t *testing.T, frame, route string) []string {
	t.Helper()
	for _, line := range strings.Split(frame, "\n") {
		if f := strings.Fields(line); len(f) >= 12 && f[0] == route {
			return f
		}
	}
	t.Fatalf("no line for route %s:\n%s", route, frame)
	return nil
}

// TestStatsCLI runs sluice stats against the real server after a known mix
// of traffic: the per-route table has the exact counts, the errors by code,
// percentiles for a route with completed messages; --watch draws frames
// with rates; a server that is not there, or a missing token, is one line
// and exit 1.
func TestStatsCLI(t *testing.T) {
	good := newDestination(t, nil)
	bad := newDestination(t, func(w http.ResponseWriter, _ *http.Request, _ []byte) { w.WriteHeader(500) })
	ts := startServer(t, `
admin_token: `+operatorToken+`
max_body_size: 1KiB
routes:
  - {name: a, mode: async, destination: {url: `+good.URL+`}}
  - {name: b, mode: async, destination: {url: `+bad.URL+`}}
  - {name: idle, mode: async}
`, "")
	var ids []string
	for i := range 5 {
		r := ts.post("a", `{"n":`+strconv.Itoa(i)+`}`)
		if r.status != 202 {
			t.Fatalf("POST /in/a: %d %s", r.status, r.body)
		}
		ids = append(ids, r.json(t)["correlation_id"].(string))
	}
	for range 2 {
		if r := ts.post("a", `{"big":"`+strings.Repeat("x", 2048)+`"}`); r.status != 413 {
			t.Fatalf("POST /in/a, too large: %d", r.status)
		}
	}
	r := ts.post("b", `{}`)
	if r.status != 202 {
		t.Fatalf("POST /in/b: %d %s", r.status, r.body)
	}
	ids = append(ids, r.json(t)["correlation_id"].(string))
	for _, id := range ids {
		ts.waitFinal(id)
	}
	run := func(args ...string) (int, string, string) {
		var out, errs bytes.Buffer
		code := statsCmd(args, &out, &errs)
		return code, out.String(), errs.String()
	}

	code, out, errs := run("--admin", ts.adminBase, "--token", operatorToken)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	// ROUTE RECEIVED IN/S COMPLETED OUT/S BACKLOG OLDEST INFLIGHT P50 P99 DEAD ERRORS
	a := statsRow(t, out, "a")
	if got := strings.Join(append(a[1:8:8], a[10:]...), " "); got != "7 - 5 - 0 - 0 0 body_too_large=2" {
		t.Errorf("route a: %q\n%s", got, out)
	}
	for _, p := range a[8:10] {
		if !strings.HasSuffix(p, "s") || p == "-" {
			t.Errorf("route a: percentile %q, want a latency\n%s", p, out)
		}
	}
	b := statsRow(t, out, "b")
	if got := strings.Join(append(b[1:8:8], b[10:]...), " "); got != "1 - 1 - 0 - 0 0 destination_failed=1" {
		t.Errorf("route b: %q\n%s", got, out)
	}
	idle := statsRow(t, out, "idle")
	if got := strings.Join(idle[1:], " "); got != "0 - 0 - 0 - 0 - - 0 -" {
		t.Errorf("route idle: %q\n%s", got, out)
	}
	flat := strings.Join(strings.Fields(out), " ")
	for _, want := range []string{"received 8 (-/s)", "completed 6 (-/s)", "backlog 0 messages"} {
		if !strings.Contains(flat, want) {
			t.Errorf("no %q in the totals:\n%s", want, out)
		}
	}
	if strings.Contains(out, "_unknown") || strings.Contains(out, "_listener") {
		t.Errorf("rows for routes nothing was refused on:\n%s", out)
	}

	// Two frames: the second has rates (nothing new: 0.0) and no latency
	// (nothing completed in its interval).
	code, out, errs = run("--admin", ts.adminBase, "--token", operatorToken, "--watch", "20ms", "--count", "2")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	frames := strings.Split("\n"+out, "\nsluice ")
	if len(frames) != 3 || strings.Contains(out, "\x1b") {
		t.Fatalf("want 2 frames without escape codes:\n%s", out)
	}
	a = statsRow(t, frames[2], "a")
	if got := strings.Join(a[1:], " "); got != "7 0.0 5 0.0 0 - 0 - - 0 body_too_large=2" {
		t.Errorf("second frame, route a: %q\n%s", got, frames[2])
	}
	if !strings.Contains(strings.Join(strings.Fields(frames[2]), " "), "received 8 (0.0/s)") {
		t.Errorf("second frame: no rate in the totals:\n%s", frames[2])
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--admin", ts.adminBase}, "the admin API needs a token"},
		{[]string{"--admin", ts.adminBase, "--token", "wrong"}, "refused the token"},
		{[]string{"--admin", "http://127.0.0.1:1", "--token", operatorToken}, "cannot reach sluice at http://127.0.0.1:1"},
	} {
		code, out, errs := run(tc.args...)
		if code != 1 || strings.Count(errs, "\n") != 1 || !strings.Contains(errs, tc.want) || out != "" {
			t.Errorf("%v: exit %d, stderr %q, stdout %q; want exit 1 and one line with %q", tc.args, code, errs, out, tc.want)
		}
	}
}
