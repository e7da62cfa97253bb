package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// adminDo sends a request to the test server's admin API.
func (ts *testServer) adminDo(method, path string, body []byte) (int, map[string]any) {
	ts.t.Helper()
	req, err := http.NewRequest(method, "http://"+ts.s.adminLn.Addr().String()+path, bytes.NewReader(body))
	if err != nil {
		ts.t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		ts.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		ts.t.Fatalf("%s %s: %d %q is not JSON", method, path, resp.StatusCode, b)
	}
	return resp.StatusCode, out
}

func fixtureBytes(t *testing.T, path string) ([]byte, string) {
	t.Helper()
	b, err := os.ReadFile(repoPath(path))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return b, hex.EncodeToString(sum[:])
}

// TestAdminPluginLifecycle lists plugins, swaps a version in while a message
// runs on the old one, refuses bad and pinned uploads, and keeps an upload
// across a restart.
func TestAdminPluginLifecycle(t *testing.T) {
	upper, upperSum := fixtureBytes(t, "runtime/wasm/testdata/upper.wasm")
	busy, busySum := fixtureBytes(t, "runtime/wasm/testdata/busy.wasm")
	_, echoSum := fixtureBytes(t, "runtime/wasm/testdata/echo.wasm")
	yaml := withRepo(`
plugins:
  - {name: step, path: {{REPO}}/runtime/wasm/testdata/busy.wasm}
  - {name: pinned, path: {{REPO}}/runtime/wasm/testdata/echo.wasm, sha256: ` + echoSum + `}
routes:
  - {name: a, mode: async, order_by: none, transforms: [step]}
  - {name: s, mode: sync, transforms: [step]}
`)
	data := t.TempDir()
	ts := startServer(t, yaml, data)

	status, list := ts.adminDo("GET", "/v1/plugins", nil)
	ps, _ := list["plugins"].([]any)
	if status != 200 || len(ps) != 2 {
		t.Fatalf("GET /v1/plugins: %d %v", status, list)
	}
	step := ps[1].(map[string]any)
	exports := step["exports"].([]any)
	if step["name"] != "step" || step["sha256"] != busySum || step["abi"] != "native" || step["source"] != "config" ||
		step["size"].(float64) != float64(len(busy)) || !slices.Contains(exports, any("func sluice_transform (i32, i32) -> (i32)")) ||
		!slices.Contains(step["imports"].([]any), any("func sluice.now () -> (i64)")) {
		t.Fatalf("step: %v", step)
	}

	// A message starts on the busy version (500 ms); swap while it runs.
	first := ts.post("a", "first").json(t)["correlation_id"].(string)
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, v := ts.adminDo("GET", "/v1/plugins/step", nil)
		if v["in_flight"].(float64) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the first message never started")
		}
		time.Sleep(time.Millisecond)
	}
	status, put := ts.adminDo("PUT", "/v1/plugins/step", upper)
	if status != 200 || put["plugin"].(map[string]any)["sha256"] != upperSum || put["plugin"].(map[string]any)["source"] != "upload" {
		t.Fatalf("PUT: %d %v", status, put)
	}
	if r := ts.post("s", "second"); r.status != 200 || string(r.body) != "SECOND" {
		t.Fatalf("after the swap: %d %q", r.status, r.body)
	}
	res := ts.waitFinal(first)
	if body := res["response"].(map[string]any)["body"]; body != "first" ||
		res["plugins"].([]any)[0] != "step@"+busySum[:12] {
		t.Fatalf("the in-flight message did not finish on the old version: %v", res)
	}

	// Bad uploads change nothing.
	for _, tc := range []struct {
		name, path string
		body       []byte
		status     int
		code       string
	}{
		{"not wasm", "/v1/plugins/step", []byte("#!/bin/sh\n"), 422, "invalid_module"},
		{"no ABI", "/v1/plugins/step", mustRead(t, "runtime/wasm/testdata/noabi.wasm"), 422, "invalid_module"},
		{"empty", "/v1/plugins/step", nil, 400, "bad_request"},
		{"unknown plugin", "/v1/plugins/nope", upper, 404, "plugin_not_found"},
		{"pinned", "/v1/plugins/pinned", upper, 409, "plugin_pinned"},
	} {
		status, body := ts.adminDo("PUT", tc.path, tc.body)
		e, _ := body["error"].(map[string]any)
		if status != tc.status || e == nil || e["code"] != tc.code || e["message"] == "" {
			t.Errorf("%s: %d %v; want %d %s", tc.name, status, body, tc.status, tc.code)
		}
	}
	if r := ts.post("s", "third"); string(r.body) != "THIRD" {
		t.Fatalf("after refused uploads: %q", r.body)
	}

	// The upload survives a restart.
	ts.stop()
	ts = startServer(t, yaml, data)
	if r := ts.post("s", "fourth"); r.status != 200 || string(r.body) != "FOURTH" {
		t.Fatalf("after a restart: %d %q", r.status, r.body)
	}
	_, v := ts.adminDo("GET", "/v1/plugins/step", nil)
	if v["sha256"] != upperSum || v["source"] != "upload" {
		t.Fatalf("after a restart: %v", v)
	}
	if !strings.HasPrefix(v["version"].(string), "step@"+upperSum[:12]) {
		t.Fatalf("version %v", v["version"])
	}
}

func mustRead(t *testing.T, path string) []byte {
	b, _ := fixtureBytes(t, path)
	return b
}
