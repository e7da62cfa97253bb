package wasm

import (
	"context"
	"os"
	"testing"
)

// TestInstancesCounted checks Plugin.Instances: one per open warm instance,
// back down when an instance is closed, by its owner or by a failure that
// discards it; a WASI command keeps none.
func TestInstancesCounted(t *testing.T) {
	h := newHost(t)
	echo := load(t, h, "echo", Limits{})
	a, b := instance(t, echo), instance(t, echo)
	if n := echo.Instances(); n != 2 {
		t.Fatalf("two instances: Instances() = %d", n)
	}
	if err := a.Transform(&Call{Input: []byte("x"), Headers: headers{}}); err != nil {
		t.Fatal(err)
	}
	a.Close()
	a.Close() // twice: counted once
	if n := echo.Instances(); n != 1 {
		t.Fatalf("one closed: Instances() = %d", n)
	}
	b.Close()
	if n := echo.Instances(); n != 0 {
		t.Fatalf("both closed: Instances() = %d", n)
	}

	trap := load(t, h, "trap", Limits{})
	i := instance(t, trap)
	if trap.Instances() != 1 {
		t.Fatalf("trap: Instances() = %d", trap.Instances())
	}
	if err := i.Transform(&Call{Input: []byte("x")}); err == nil || !i.Closed() {
		t.Fatalf("trap: err %v, closed %v", err, i.Closed())
	}
	if n := trap.Instances(); n != 0 {
		t.Fatalf("after a trap: Instances() = %d", n)
	}

	bin, err := os.ReadFile("testdata/wasi/upper-go.wasm")
	if err != nil {
		t.Skip("no WASI fixture:", err)
	}
	cmd, err := h.LoadABI(context.Background(), "upper-go", bin, ABIWASI, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	defer cmd.Close(context.Background())
	w := instance(t, cmd)
	if err := w.Transform(&Call{Input: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	if n := cmd.Instances(); n != 0 {
		t.Fatalf("WASI command: Instances() = %d", n)
	}
}
