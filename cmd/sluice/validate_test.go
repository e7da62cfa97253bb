package main

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestValidateBeforeAccepting: a schema, validator plugins and accepted
// media types are checked before a message is stored; an invalid message gets
// 422 with every violation (or 415) and never reaches the log or the
// destination.
func TestValidateBeforeAccepting(t *testing.T) {
	dir := t.TempDir()
	schema, err := os.ReadFile(repoPath("runtime/validate/testdata/order.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "order.schema.json"), schema, 0o644)
	dest := newDestination(t, nil)
	ts := startServerIn(t, dir, withRepo(`
plugins:
  - {name: validator, path: {{REPO}}/plugins/demo/validator.wasm}
routes:
  - name: orders
    mode: async
    accept: [application/json]
    validate: {schema: order.schema.json}
    destination: {url: `+dest.URL+`}
  - name: signups
    mode: sync
    validate: {plugins: [validator]}
  - name: raw
    mode: sync
`))
	r := ts.post("orders", `{"id":"A","items":[{"sku":"x","qty":2}]}`, "Content-Type", "application/json")
	if r.status != 202 {
		t.Fatalf("valid order: %d %s", r.status, r.body)
	}
	r = ts.post("orders", `{"id":"","items":[{"sku":"x","qty":0},{"qty":"2"}]}`, "Content-Type", "application/json")
	e, _ := r.json(t)["error"].(map[string]any)
	if r.status != 422 || e == nil || e["code"] != "validation_failed" {
		t.Fatalf("invalid order: %d %s", r.status, r.body)
	}
	pointers := map[string]bool{}
	for _, v := range e["violations"].([]any) {
		v := v.(map[string]any)
		pointers[v["pointer"].(string)] = true
		if v["message"] == "" {
			t.Fatalf("violation without a message: %v", v)
		}
	}
	for _, p := range []string{"/id", "/items/0/qty", "/items/1", "/items/1/qty"} {
		if !pointers[p] {
			t.Errorf("no violation at %s: %s", p, r.body)
		}
	}
	id := r.header.Get("Sluice-Correlation-Id")
	if g := ts.do("GET", "/v1/results/"+id, "", nil); g.status != 404 {
		t.Fatalf("an invalid message was stored: %d", g.status)
	}
	if r := ts.post("orders", `<order/>`, "Content-Type", "application/xml"); r.status != 415 ||
		r.json(t)["error"].(map[string]any)["code"] != "unsupported_media_type" {
		t.Fatalf("xml to a JSON route: %d %s", r.status, r.body)
	}
	if r := ts.post("orders", `not json`, "Content-Type", "application/json; charset=utf-8"); r.status != 422 ||
		!strings.Contains(string(r.body), "not JSON") {
		t.Fatalf("not JSON: %d %s", r.status, r.body)
	}

	// A validator plugin rejects with its reason; a valid message goes on.
	if r := ts.post("signups", `{"email":"a@b"}`); r.status != 422 ||
		r.json(t)["error"].(map[string]any)["code"] != "validation_failed" ||
		!strings.Contains(string(r.body), `\"name\" is required`) {
		t.Fatalf("validator rejection: %d %s", r.status, r.body)
	}
	if r := ts.post("signups", `{"name":"ada","email":"a@b"}`); r.status != 200 || string(r.body) != `{"name":"ada","email":"a@b"}` {
		t.Fatalf("validator never changes the body: %d %s", r.status, r.body)
	}
	// Non-JSON bodies pass through routes without a schema as bytes.
	if r := ts.post("raw", "id,qty\nA,2\n", "Content-Type", "text/csv"); r.status != 200 || string(r.body) != "id,qty\nA,2\n" {
		t.Fatalf("csv: %d %q", r.status, r.body)
	}
	ts.waitFinal(ts.post("orders", `{"id":"B","items":[{"sku":"y","qty":1}]}`, "Content-Type", "application/json").json(t)["correlation_id"].(string))
	if n := len(dest.all()); n != 2 {
		t.Fatalf("the destination got %d messages, want the 2 valid ones", n)
	}
}

// TestConfigCheckCompilesSchemas: a broken schema fails config check and
// startup with its file and location.
func TestConfigCheckCompilesSchemas(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "bad.schema.json"), []byte(`{"properties": {"n": {"type": "integr"}}}`), 0o644)
	cfg := filepath.Join(dir, "sluice.yaml")
	os.WriteFile(cfg, []byte("routes:\n  - {name: r, mode: async, validate: {schema: bad.schema.json}}\n"), 0o644)
	code, _, stderr := runCLI("config", "check", cfg)
	if code != 1 || !strings.Contains(stderr, "bad.schema.json") || !strings.Contains(stderr, "/properties/n/type") {
		t.Fatalf("config check: %d %q", code, stderr)
	}
}

// TestReplyTransforms: reply transforms reshape the destination's answer (its
// status, headers and body, seeing the destination's status and headers)
// before it goes back to the source (sync) or into the result (async); a
// failing one answers 502 reply_transform_failed and the destination's raw
// answer stays in the result.
func TestReplyTransforms(t *testing.T) {
	erp := newDestination(t, func(w http.ResponseWriter, _ *http.Request, body []byte) {
		w.Header().Set("X-Erp-Id", "INV-7")
		w.WriteHeader(201)
		w.Write(append([]byte("erp:"), body...))
	})
	ts := startServer(t, withRepo(`
plugins:
  - {name: reply, path: {{REPO}}/runtime/wasm/testdata/reply.wasm}
  - {name: trap, path: {{REPO}}/runtime/wasm/testdata/trap.wasm}
routes:
  - {name: s, mode: sync, destination: {url: `+erp.URL+`}, reply_transforms: [reply]}
  - {name: a, mode: async, destination: {url: `+erp.URL+`}, reply_transforms: [reply]}
  - {name: broken, mode: sync, destination: {url: `+erp.URL+`}, reply_transforms: [trap]}
`), "")
	r := ts.post("s", "order")
	if r.status != 200 || string(r.body) != "shaped:erp:order" || r.header.Get("X-Shaped") != "INV-7" {
		t.Fatalf("sync reply: %d %q %v", r.status, r.body, r.header)
	}
	res := ts.waitFinal(ts.post("a", "order").json(t)["correlation_id"].(string))
	resp := res["response"].(map[string]any)
	raw := res["destination_response"].(map[string]any)
	if res["status"] != "succeeded" || resp["status"].(float64) != 200 || resp["body"] != "shaped:erp:order" ||
		resp["headers"].(map[string]any)["X-Shaped"] != "INV-7" || raw["status"].(float64) != 201 || raw["body"] != "erp:order" {
		t.Fatalf("async result: %v", res)
	}
	r = ts.post("broken", "order")
	e, _ := r.json(t)["error"].(map[string]any)
	if r.status != 502 || e == nil || e["code"] != "reply_transform_failed" || e["plugin"] != "trap" {
		t.Fatalf("failing reply transform: %d %s", r.status, r.body)
	}
	res = ts.waitFinal(r.header.Get("Sluice-Correlation-Id"))
	if raw := res["destination_response"].(map[string]any); raw["status"].(float64) != 201 || raw["body"] != "erp:order" {
		t.Fatalf("the raw answer is not kept: %v", res)
	}
}
