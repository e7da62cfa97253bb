package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

const opsToken = "ops-test-admin-token-31c9"

// opsRun runs the real binary's operator command with args and stdin,
// SLUICE_* from env only.
func opsRun(t *testing.T, bin string, env []string, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(withoutEnv(withoutEnv(withoutEnv(os.Environ(), "SLUICE_SERVER"), "SLUICE_ADMIN"), "SLUICE_ADMIN_TOKEN"), env...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), out.String(), errb.String()
	} else if err != nil {
		t.Fatal(err)
	}
	return 0, out.String(), errb.String()
}

// TestOperatorCLI runs sluice send, result, dead and stats, as the real
// binary, against the real server (admin API with a token): their output,
// their exit codes and their one-line errors.
func TestOperatorCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	var healthy atomic.Bool
	flaky := newDestination(t, func(w http.ResponseWriter, _ *http.Request, _ []byte) {
		if healthy.Load() {
			w.WriteHeader(200)
			return
		}
		w.WriteHeader(500)
	})
	ok := newDestination(t, nil)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "sluice.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`
data_dir: %s
admin_token: %s
routes:
  - {name: echo, mode: sync}
  - {name: a, mode: async, destination: {url: %s}}
  - {name: doomed, mode: async, destination: {url: %s}, retry: {max_attempts: 1}}
`, filepath.Join(dir, "data"), opsToken, ok.URL, flaky.URL)), 0o600); err != nil {
		t.Fatal(err)
	}
	msg := filepath.Join(dir, "msg.json")
	if err := os.WriteFile(msg, []byte(`{"order":42}`), 0o600); err != nil {
		t.Fatal(err)
	}
	addr, admin := freeAddr(t), freeAddr(t)
	var logs bytes.Buffer
	lw := &lockedWriter{w: &logs}
	srv := exec.Command(bin, "serve", "--config", cfg, "--listen", addr, "--admin-listen", admin)
	srv.Stderr = lw
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		srv.Process.Signal(syscall.SIGTERM)
		srv.Wait()
	})
	waitHealthy(t, http.DefaultClient, "http://"+addr+"/healthz", srv, lw)

	env := []string{"SLUICE_SERVER=http://" + addr, "SLUICE_ADMIN=http://" + admin}
	withToken := append(env, "SLUICE_ADMIN_TOKEN="+opsToken)
	idRE := regexp.MustCompile(`correlation id: ([0-9a-f-]{36})`)
	must := func(code int, out, errs string, want ...string) {
		t.Helper()
		if code != 0 {
			t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, out, errs)
		}
		for _, w := range want {
			if !strings.Contains(out, w) {
				t.Fatalf("stdout lacks %q:\n%s\nstderr: %s", w, out, errs)
			}
		}
	}
	oneLine := func(code int, out, errs, want string) {
		t.Helper()
		if code != 1 || strings.Count(errs, "\n") != 1 || !strings.HasPrefix(errs, "sluice: ") || !strings.Contains(errs, want) {
			t.Fatalf("want exit 1 and one line on stderr with %q; got exit %d\nstdout: %s\nstderr: %q", want, code, out, errs)
		}
	}

	t.Run("send", func(t *testing.T) {
		code, out, errs := opsRun(t, bin, env, "", "send", "echo", msg, "-H", "X-Test: 1")
		must(code, out, errs, "200 OK", `"order": 42`)
		if !idRE.MatchString(out) {
			t.Fatalf("no correlation id:\n%s", out)
		}
		code, out, errs = opsRun(t, bin, env, `{"from":"stdin"}`, "send", "echo", "-")
		must(code, out, errs, "200 OK", `"from": "stdin"`)
		code, out, errs = opsRun(t, bin, env, "", "send", "a", msg, "--wait", "60s")
		must(code, out, errs, `"status": "succeeded"`)
		code, out, errs = opsRun(t, bin, env, "", "send", "a", msg, "--async")
		must(code, out, errs, "202 Accepted", "status_url")
		code, out, errs = opsRun(t, bin, env, "", "send", "nope", msg)
		oneLine(code, out, errs, "404")
		if !strings.Contains(out, "404 Not Found") {
			t.Fatalf("the answer is not printed:\n%s", out)
		}
	})

	t.Run("send --count", func(t *testing.T) {
		before := ok.all()
		code, out, errs := opsRun(t, bin, env, "", "send", "a", msg, "--count", "40", "--concurrency", "4")
		must(code, out, errs, "40 requests in ", "/s\n", "latency p50 ", " p90 ", " p99 ", "status 202: 40\n")
		if strings.Count(out, "status ") != 1 {
			t.Fatalf("statuses other than 202:\n%s", out)
		}
		deadline := time.Now().Add(60 * time.Second)
		for len(ok.all())-len(before) < 40 {
			if time.Now().After(deadline) {
				t.Fatalf("the destination got %d of 40", len(ok.all())-len(before))
			}
			time.Sleep(20 * time.Millisecond)
		}
		code, out, errs = opsRun(t, bin, env, "", "send", "nope", msg, "--count", "3")
		oneLine(code, out, errs, "not every request was accepted")
		if !strings.Contains(out, "status 404: 3\n") {
			t.Fatalf("statuses:\n%s", out)
		}
	})

	var dead []string
	t.Run("result", func(t *testing.T) {
		for range 3 {
			code, out, errs := opsRun(t, bin, env, "", "send", "doomed", msg)
			must(code, out, errs, "202 Accepted")
			dead = append(dead, idRE.FindStringSubmatch(out)[1])
		}
		for _, id := range dead {
			code, out, errs := opsRun(t, bin, env, "", "result", id, "--wait", "90s")
			must(code, out, errs, `"status": "dead"`, `"correlation_id": "`+id+`"`)
			var v map[string]any
			if err := json.Unmarshal([]byte(out), &v); err != nil {
				t.Fatalf("not one JSON document: %v\n%s", err, out)
			}
		}
		code, out, errs := opsRun(t, bin, env, "", "result", "0190a3f4-0000-7000-8000-000000000000")
		oneLine(code, out, errs, "404")
	})

	t.Run("dead", func(t *testing.T) {
		if len(dead) != 3 {
			t.Skip("no dead letters")
		}
		code, out, errs := opsRun(t, bin, env, "", "dead", "list", "doomed")
		oneLine(code, out, errs, "the admin API needs a token: --token or SLUICE_ADMIN_TOKEN")
		code, out, errs = opsRun(t, bin, env, "", "dead", "list", "doomed", "--token", "wrong")
		oneLine(code, out, errs, "refused the token")
		code, out, errs = opsRun(t, bin, withToken, "", "dead", "list", "doomed")
		must(code, out, errs, "3 dead letters in route doomed", "CORRELATION ID", dead[0], dead[1], dead[2], "destination")
		code, out, errs = opsRun(t, bin, withToken, "", "dead", "discard", "doomed", dead[0])
		must(code, out, errs, "discarded "+dead[0])
		code, out, errs = opsRun(t, bin, withToken, "", "dead", "discard", "doomed", dead[0])
		oneLine(code, out, errs, "404")
		healthy.Store(true)
		code, out, errs = opsRun(t, bin, withToken, "", "dead", "replay", "doomed", dead[1])
		must(code, out, errs, "replayed "+dead[1])
		code, out, errs = opsRun(t, bin, env, "", "result", dead[1], "--wait", "60s")
		must(code, out, errs, `"status": "succeeded"`)
		code, out, errs = opsRun(t, bin, withToken, "", "dead", "replay", "doomed")
		must(code, out, errs, "replayed 1 dead letters of route doomed")
		code, out, errs = opsRun(t, bin, env, "", "result", dead[2], "--wait", "60s")
		must(code, out, errs, `"status": "succeeded"`)
		code, out, errs = opsRun(t, bin, withToken, "", "dead", "list", "doomed")
		must(code, out, errs, "0 dead letters in route doomed")
		code, out, errs = opsRun(t, bin, withToken, "", "dead", "list", "nope")
		oneLine(code, out, errs, "404")
	})

	t.Run("stats", func(t *testing.T) {
		code, out, errs := opsRun(t, bin, env, "", "stats")
		oneLine(code, out, errs, "the admin API needs a token: --token or SLUICE_ADMIN_TOKEN")
		code, out, errs = opsRun(t, bin, withToken, "", "stats", "--watch", "50ms", "--count", "2")
		must(code, out, errs, "received ", "completed ", "backlog ", "ROUTE", "doomed", "P99")
		if n := strings.Count(out, " at http://"+admin); n != 2 {
			t.Fatalf("%d frames, want 2:\n%s", n, out)
		}
		if !strings.Contains(out, "/s)") || strings.Contains(out, "\x1b") {
			t.Fatalf("want rates in the second frame and no escape codes (stdout is not a terminal):\n%s", out)
		}
		var first int
		fmt.Sscanf(out[strings.Index(out, "received")+len("received"):], "%d", &first)
		if first < 45 { // 2 sends to a, 40 more, 3 to doomed
			t.Fatalf("received %d, want at least 45:\n%s", first, out)
		}
	})

	t.Run("errors", func(t *testing.T) {
		code, out, errs := opsRun(t, bin, nil, "", "stats", "--admin", "http://127.0.0.1:1")
		oneLine(code, out, errs, "cannot reach sluice at http://127.0.0.1:1: ")
		code, out, errs = opsRun(t, bin, []string{"SLUICE_SERVER=http://127.0.0.1:1"}, "", "send", "a", msg)
		oneLine(code, out, errs, "cannot reach sluice at http://127.0.0.1:1: ")
		code, out, errs = opsRun(t, bin, env, "", "send", "a", filepath.Join(dir, "missing.json"))
		oneLine(code, out, errs, "missing.json")
		if code, _, errs := opsRun(t, bin, env, "", "dead", "bury", "a"); code != 2 || !strings.Contains(errs, "usage: sluice dead") {
			t.Fatalf("dead bury: %d %q", code, errs)
		}
	})
}
