package validate

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// orderSchema is also used by cmd/sluice's end-to-end tests.
const orderSchema = "testdata/order.schema.json"

func TestCheckListsEveryViolationWithPointers(t *testing.T) {
	s, err := Compile(orderSchema)
	if err != nil {
		t.Fatal(err)
	}
	if v := s.Check([]byte(`{"id":"A","items":[{"sku":"x","qty":2}]}`)); v != nil {
		t.Fatalf("valid order: %v", v)
	}
	v := s.Check([]byte(`{"id":"","items":[{"sku":"x","qty":0},{"qty":"2"}]}`))
	got := map[string]string{}
	for _, x := range v {
		got[x.Pointer] += x.Message + ";"
	}
	for _, p := range []string{"/id", "/items/0/qty", "/items/1", "/items/1/qty"} {
		if got[p] == "" {
			t.Errorf("no violation at %s: %v", p, v)
		}
	}
	if v := s.Check([]byte(`not json`)); len(v) != 1 || v[0].Pointer != "" || !strings.Contains(v[0].Message, "not JSON") {
		t.Fatalf("not JSON: %v", v)
	}
}

func TestCompileErrorsNameFileAndLocation(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.schema.json")
	os.WriteFile(bad, []byte(`{"type": "object", "properties": {"n": {"type": "integr"}}}`), 0o644)
	_, err := Compile(bad)
	if err == nil || !strings.Contains(err.Error(), "bad.schema.json") || !strings.Contains(err.Error(), "/properties/n/type") {
		t.Fatalf("bad schema: %v", err)
	}
	if _, err := Compile(filepath.Join(dir, "missing.json")); err == nil || !strings.Contains(err.Error(), "missing.json") {
		t.Fatalf("missing schema: %v", err)
	}
	os.WriteFile(bad, []byte(`{"type": `), 0o644)
	if _, err := Compile(bad); err == nil || !strings.Contains(err.Error(), "not JSON") {
		t.Fatalf("schema not JSON: %v", err)
	}
}
