package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// The secrets of TestLogsJSONAndNoSecrets' runs: none may reach a log line.
const (
	logsGithubSecret   = "logs-test github secret 7f3a9c"
	logsAPIKey         = "pk_logs_test_5b2e8d41c07a"
	logsAdminToken     = "admin-logs-test-token-9e41b7c2"
	logsCallbackSecret = "whsec_bG9ncy10ZXN0LWNhbGxiYWNrLXNlY3JldA=="
)

// runLogged runs the real binary with cfg (admin listener at admin) until
// healthy, lets drive use it, stops it with SIGTERM and returns its stderr.
func runLogged(t *testing.T, bin, cfg, addr, admin string, drive func()) string {
	t.Helper()
	var logs bytes.Buffer
	lw := &lockedWriter{w: &logs}
	cmd := exec.Command(bin, "serve", "--config", cfg, "--listen", addr, "--admin-listen", admin)
	cmd.Stderr = lw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitHealthy(t, http.DefaultClient, "http://"+addr+"/healthz", cmd, lw)
	drive()
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, lw)
		}
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("no exit within 60 s of SIGTERM\n%s", lw)
	}
	return lw.String()
}

// TestLogsJSONAndNoSecrets runs the real binary in both log formats through
// signed and keyed ingest (valid and not), a plugin that logs, a dead letter,
// a signed callback, admin calls with and without the token and a connection
// fasthttp cannot serve. In json, every stderr line is a JSON object with
// time, level and msg; the plugin's line carries plugin, plugin_version, route, trace_id
// and correlation_id; the dead letter's carries route and correlation_id. In
// both, no line holds a secret of the run or a signature value sent or
// received.
func TestLogsJSONAndNoSecrets(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	busy, _ := filepath.Abs(repoPath("runtime/wasm/testdata/busy.wasm"))
	for _, format := range []string{"text", "json"} {
		t.Run(format, func(t *testing.T) {
			ok := newDestination(t, nil)
			broken := newDestination(t, func(w http.ResponseWriter, _ *http.Request, _ []byte) { w.WriteHeader(500) })
			var callbackCalls atomic.Int32 // the first callback fails, so the sender logs a retry
			callbacks := newDestination(t, func(w http.ResponseWriter, _ *http.Request, _ []byte) {
				if callbackCalls.Add(1) == 1 {
					w.WriteHeader(503)
					return
				}
				w.WriteHeader(204)
			})
			dir := t.TempDir()
			cfg := filepath.Join(dir, "sluice.yaml")
			if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`
data_dir: %s
log_level: debug
log_format: %s
admin_token: %s
plugins:
  - {name: busy, path: %s}
routes:
  - name: gh
    mode: async
    auth: {verify: github, secret: "%s"}
  - name: keyed
    mode: async
    auth: {verify: api_key, keys: [%s]}
  - name: work
    mode: async
    transforms: [busy]
    destination: {url: %s}
    callback: {url: %s, secret: "%s"}
  - name: doomed
    mode: async
    destination: {url: %s}
    retry: {max_attempts: 1}
`, filepath.Join(dir, "data"), format, logsAdminToken, busy, logsGithubSecret, logsAPIKey,
				ok.URL, callbacks.URL, logsCallbackSecret, broken.URL)), 0o600); err != nil {
				t.Fatal(err)
			}
			addr, admin := freeAddr(t), freeAddr(t)
			body := `{"order":1}`
			goodSig := githubSign(logsGithubSecret, body)
			badSig := githubSign("not "+logsGithubSecret, body)
			var ids []string
			post := func(route string, want int, hdr ...string) {
				t.Helper()
				req, _ := http.NewRequest("POST", "http://"+addr+"/in/"+route, strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				for i := 0; i+1 < len(hdr); i += 2 {
					req.Header.Set(hdr[i], hdr[i+1])
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != want {
					t.Fatalf("POST /in/%s: %d, want %d", route, resp.StatusCode, want)
				}
				if id := resp.Header.Get("Sluice-Correlation-Id"); id != "" && want == 202 {
					ids = append(ids, id)
				}
			}
			adminGet := func(token string, want int) {
				t.Helper()
				req, _ := http.NewRequest("GET", "http://"+admin+"/v1/stats", nil)
				if token != "" {
					req.Header.Set("Authorization", "Bearer "+token)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != want {
					t.Fatalf("GET /v1/stats: %d, want %d", resp.StatusCode, want)
				}
			}
			logs := runLogged(t, bin, cfg, addr, admin, func() {
				post("gh", 202, "X-Hub-Signature-256", goodSig, "X-GitHub-Event", "push")
				post("gh", 401, "X-Hub-Signature-256", badSig, "X-GitHub-Event", "push")
				post("keyed", 202, "Authorization", "Bearer "+logsAPIKey)
				post("keyed", 401, "X-Api-Key", logsAPIKey+"x")
				post("work", 202)
				post("doomed", 202)
				adminGet(logsAdminToken, 200)
				adminGet(logsAdminToken+"x", 401)
				c, err := net.Dial("tcp", addr)
				if err != nil {
					t.Fatal(err)
				}
				c.Write([]byte("\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03garbage\r\n\r\n"))
				c.SetReadDeadline(time.Now().Add(30 * time.Second))
				c.Read(make([]byte, 4096))
				c.Close()
				// Wait for the callback of work's message (retried once) and the dead letter of doomed's.
				deadline := time.Now().Add(60 * time.Second)
				for len(callbacks.all()) < 2 || len(broken.all()) == 0 {
					if time.Now().After(deadline) {
						t.Fatalf("no callback (%d) or no delivery to the broken destination (%d) within 60 s",
							len(callbacks.all()), len(broken.all()))
					}
					time.Sleep(20 * time.Millisecond)
				}
				for {
					resp, err := http.Get("http://" + addr + "/v1/results/" + ids[len(ids)-1])
					if err != nil {
						t.Fatal(err)
					}
					var v struct{ Status string }
					json.NewDecoder(resp.Body).Decode(&v)
					resp.Body.Close()
					if v.Status == "dead" || v.Status == "failed" {
						break
					}
					if time.Now().After(deadline) {
						t.Fatalf("doomed's message is %q after 60 s", v.Status)
					}
					time.Sleep(20 * time.Millisecond)
				}
			})

			secrets := []string{logsGithubSecret, logsAPIKey, logsAdminToken, logsCallbackSecret,
				strings.TrimPrefix(logsCallbackSecret, "whsec_"), goodSig, badSig,
				strings.TrimPrefix(goodSig, "sha256="), strings.TrimPrefix(badSig, "sha256=")}
			for _, cb := range callbacks.all() {
				if s := cb.header.Get("Webhook-Signature"); s != "" {
					secrets = append(secrets, s, strings.TrimPrefix(s, "v1,"))
				} else {
					t.Errorf("the callback is not signed: %v", cb.header)
				}
			}
			lines := strings.Split(strings.TrimSpace(logs), "\n")
			for _, line := range lines {
				for _, s := range secrets {
					if strings.Contains(line, s) {
						t.Errorf("a log line holds the secret or signature %q:\n%s", s, line)
					}
				}
			}
			if format != "json" {
				return
			}
			var pluginLine, deadLine, callbackLine, httpLine bool
			for _, line := range lines {
				var kv map[string]any
				if err := json.Unmarshal([]byte(line), &kv); err != nil {
					t.Errorf("not a JSON line: %q", line)
					continue
				}
				for _, k := range []string{"time", "level", "msg"} {
					if _, ok := kv[k].(string); !ok {
						t.Errorf("no %s in %q", k, line)
					}
				}
				switch {
				case kv["msg"] == "busy: started":
					pluginLine = kv["plugin"] == "busy" && strings.HasPrefix(fmt.Sprint(kv["plugin_version"]), "busy@") &&
						kv["route"] == "work" && kv["correlation_id"] != nil && len(fmt.Sprint(kv["trace_id"])) == 32
				case strings.HasPrefix(fmt.Sprint(kv["msg"]), "delivery failed for good"):
					deadLine = kv["route"] == "doomed" && kv["correlation_id"] == ids[len(ids)-1] && len(fmt.Sprint(kv["trace_id"])) == 32
				case kv["msg"] == "callback failed; retrying":
					callbackLine = kv["correlation_id"] == ids[len(ids)-2] && len(fmt.Sprint(kv["trace_id"])) == 32
				case kv["component"] == "http":
					httpLine = true
				}
			}
			if !pluginLine || !deadLine || !callbackLine || !httpLine {
				t.Errorf("plugin line with plugin, plugin_version, route, correlation_id and trace_id: %v; dead letter line with route, correlation_id and trace_id: %v; callback retry line with correlation_id and trace_id: %v; fasthttp's line (component=http): %v\n%s",
					pluginLine, deadLine, callbackLine, httpLine, logs)
			}
		})
	}
}
