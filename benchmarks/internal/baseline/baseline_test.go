package baseline

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dgraph-io/badger/v4"
)

// upperWasm is the transform the harness gives the baseline.
var upperWasm = filepath.Join("..", "..", "..", "runtime", "wasm", "testdata", "upper.wasm")

func open(t *testing.T) *Server {
	t.Helper()
	s, err := Open(context.Background(), t.TempDir(), upperWasm)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	return s
}

func TestTransformUsesAFreshInstance(t *testing.T) {
	s := open(t)
	for _, in := range []string{"hello, World", "", "second call"} {
		out, err := s.Transform(context.Background(), []byte(in))
		if err != nil {
			t.Fatal(err)
		}
		if want := strings.ToUpper(in); string(out) != want {
			t.Errorf("Transform(%q) = %q, want %q", in, out, want)
		}
	}
}

func TestServeHTTPStoresTheTransformedMessage(t *testing.T) {
	s := open(t)
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/in/bench", strings.NewReader("abc")))
	if rec.Code != http.StatusAccepted || rec.Body.String() != "{\"id\":1}\n" {
		t.Fatalf("answer %d %q", rec.Code, rec.Body.String())
	}
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get([]byte{0, 0, 0, 0, 0, 0, 0, 1})
		if err != nil {
			return err
		}
		v, err := item.ValueCopy(nil)
		if string(v) != "ABC" {
			t.Errorf("stored %q, want ABC", v)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	rec = httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	if rec.Code != http.StatusOK {
		t.Errorf("healthz %d", rec.Code)
	}
}
