package main

import (
	"fmt"
	"os"
	"testing"
)

// testDir holds what the tests of this package share across tests (the
// built binary, the compilation cache); TestMain removes it, so a run leaves
// nothing behind outside the tests' own t.TempDir()s.
var testDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sluice-cmd-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "creating the tests' temp dir:", err)
		os.Exit(1)
	}
	testDir = dir
	wasmCache = dir + "/wasm-cache"
	code := m.Run()
	if err := os.RemoveAll(dir); err != nil {
		fmt.Fprintln(os.Stderr, "removing the tests' temp dir:", err)
	}
	os.Exit(code)
}
