package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runCLI(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestConfigCheck(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	echo, _ := filepath.Abs(repoPath("runtime/wasm/testdata/echo.wasm"))
	noabi, _ := filepath.Abs(repoPath("runtime/wasm/testdata/noabi.wasm"))
	write("notwasm.wasm", "#!/bin/sh\n")
	for _, tc := range []struct {
		name, yaml string
		code       int
		want       []string
	}{
		{"valid", "plugins: [{name: echo, path: " + echo + "}]\nroutes: [{name: a, mode: async, transforms: [echo]}]\n",
			0, []string{"plugin echo: ABI native v1", "ok (1 plugins, 1 routes)"}},
		{"malformed YAML", "routes: [\n", 1, []string{"parsing YAML"}},
		{"malformed JSON", `{"listen": "127.0.0.1:1", "routes": [{"name": "a",}`, 1, []string{"parsing YAML", "line 1"}},
		{"valid JSON", `{"routes": [{"name": "a", "mode": "sync"}]}`, 0, []string{"ok (0 plugins, 1 routes)"}},
		{"unknown key with line", "listen: :1\nroutes:\n  - name: a\n    mode: sync\n    colour: red\n", 1, []string{"line 5", "unknown key colour"}},
		{"every error listed", "durability: maybe\nroutes: [{name: a, mode: later, transforms: [nope]}]\n", 1,
			[]string{"durability: must be fsync or none", "routes[0].mode", `routes[0].transforms[0]: no plugin named "nope"`}},
		{"plugin without ABI", "plugins: [{name: old, path: " + noabi + "}]\n", 1, []string{`plugin "old"`, "missing export sluice_abi_version"}},
		{"not a wasm file", "plugins: [{name: sh, path: notwasm.wasm}]\n", 1, []string{"not a WebAssembly module"}},
		{"missing plugin file", "plugins: [{name: gone, path: gone.wasm}]\n", 1, []string{"gone.wasm", "no such file"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := write(strings.ReplaceAll(tc.name, " ", "-")+".yaml", tc.yaml)
			code, out, errs := runCLI("config", "check", p)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, out, errs)
			}
			for _, w := range tc.want {
				if !strings.Contains(out+errs, w) {
					t.Errorf("output does not mention %q:\n%s%s", w, out, errs)
				}
			}
		})
	}
}

func TestCLIUsage(t *testing.T) {
	if code, out, _ := runCLI("version"); code != 0 || !strings.HasPrefix(out, "sluice ") {
		t.Fatalf("version: %d %q", code, out)
	}
	if code, _, errs := runCLI("frobnicate"); code != 2 || !strings.Contains(errs, `unknown command "frobnicate"`) {
		t.Fatalf("unknown command: %d %q", code, errs)
	}
	if code, _, errs := runCLI("serve", "--config", "/nonexistent.yaml"); code != 1 || !strings.Contains(errs, "/nonexistent.yaml") {
		t.Fatalf("serve with a missing config: %d %q", code, errs)
	}
}
