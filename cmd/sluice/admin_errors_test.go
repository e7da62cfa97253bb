package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/google/uuid"
	"github.com/sluicehq/sluice/runtime/errcode"
)

// TestAdminErrorsThroughRegistry: every error the admin API answers over its
// real listener has the JSON error shape, the code in Sluice-Error-Code, and
// exactly the status runtime/errcode gives that code on the admin listener.
func TestAdminErrorsThroughRegistry(t *testing.T) {
	_, echoSum := fixtureBytes(t, "runtime/wasm/testdata/echo.wasm")
	upper, _ := fixtureBytes(t, "runtime/wasm/testdata/upper.wasm")
	ts := startServer(t, withRepo(`
plugin_defaults: {max_module_size: 1MiB}
plugins:
  - {name: step, path: {{REPO}}/runtime/wasm/testdata/echo.wasm}
  - {name: pinned, path: {{REPO}}/runtime/wasm/testdata/echo.wasm, sha256: `+echoSum+`}
routes:
  - {name: a, mode: async}
`), t.TempDir())
	for _, tc := range []struct {
		method, path string
		body         []byte
		code         string
		status       int // as README's admin table says
	}{
		{"GET", "/v1/nothing", nil, errcode.NotFound, 404},
		{"GET", "/v1/plugins/nope", nil, "plugin_not_found", 404},
		{"PUT", "/v1/plugins/nope", upper, "plugin_not_found", 404},
		{"PUT", "/v1/plugins/step", nil, errcode.BadRequest, 400},
		{"PUT", "/v1/plugins/step", bytes.Repeat([]byte{0}, 1<<20+1), "module_too_large", 413},
		{"PUT", "/v1/plugins/step", []byte("not wasm"), "invalid_module", 422},
		{"PUT", "/v1/plugins/pinned", upper, "plugin_pinned", 409},
		{"GET", "/v1/routes/nope/dead", nil, errcode.RouteNotFound, 404},
		{"GET", "/v1/routes/a/dead?limit=0", nil, errcode.BadRequest, 400},
		{"POST", "/v1/routes/a/dead/x/replay", nil, errcode.InvalidCorrelationID, 400},
		{"DELETE", "/v1/routes/a/dead/" + uuid.NewString(), nil, "dead_letter_not_found", 404},
	} {
		req, err := http.NewRequest(tc.method, ts.adminBase+tc.path, bytes.NewReader(tc.body))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var eb struct {
			Error struct{ Code, Message string }
		}
		if err := json.Unmarshal(b, &eb); err != nil || eb.Error.Code != tc.code || eb.Error.Message == "" {
			t.Errorf("%s %s: %d %s, want a JSON error with code %s", tc.method, tc.path, resp.StatusCode, b, tc.code)
			continue
		}
		if got := resp.Header.Get("Sluice-Error-Code"); got != tc.code {
			t.Errorf("%s %s: Sluice-Error-Code %q, want %q", tc.method, tc.path, got, tc.code)
		}
		if want := errcode.AdminStatus(tc.code); resp.StatusCode != want || want != tc.status {
			t.Errorf("%s %s: status %d; errcode says %d, the README %d", tc.method, tc.path, resp.StatusCode, want, tc.status)
		}
	}
}
