package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runPluginCmd runs `sluice plugin SUB --cache-dir <shared> ARGS...` with stdin.
func runPluginCmd(t *testing.T, stdin []byte, sub string, args ...string) (code int, stdout []byte, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	all := append([]string{"plugin", sub, "--cache-dir", wasmCache}, args...)
	code = runWithStdin(all, bytes.NewReader(stdin), &out, &errb)
	return code, out.Bytes(), errb.String()
}

// headersWasm is built from this module by wabt 1.0.32 (wat2wasm headers.wat
// -o headers.wasm; xxd -p headers.wasm). No fixture in runtime/wasm/testdata
// reads request headers.
//
//	;; headers: output = meta("header:X-Test"), or "-" if absent; content type = meta("content_type").
//	(module
//	  (import "sluice" "set_output" (func $set_output (param i32 i32)))
//	  (import "sluice" "set_content_type" (func $set_content_type (param i32 i32)))
//	  (import "sluice" "meta" (func $meta (param i32 i32 i32 i32) (result i32)))
//	  (memory (export "memory") 1)
//	  (data (i32.const 0) "header:X-Test")
//	  (data (i32.const 16) "content_type")
//	  (data (i32.const 32) "-")
//	  (func (export "sluice_abi_version") (result i32) (i32.const 1))
//	  (func (export "sluice_alloc") (param $size i32) (result i32) (i32.const 1024))
//	  (func (export "sluice_transform") (param $ptr i32) (param $len i32) (result i32)
//	    (local $n i32)
//	    (local.set $n (call $meta (i32.const 0) (i32.const 13) (i32.const 256) (i32.const 256)))
//	    (if (i32.and (i32.ge_s (local.get $n) (i32.const 0)) (i32.le_s (local.get $n) (i32.const 256)))
//	      (then (call $set_output (i32.const 256) (local.get $n)))
//	      (else (call $set_output (i32.const 32) (i32.const 1))))
//	    (local.set $n (call $meta (i32.const 16) (i32.const 12) (i32.const 512) (i32.const 256)))
//	    (if (i32.and (i32.ge_s (local.get $n) (i32.const 0)) (i32.le_s (local.get $n) (i32.const 256)))
//	      (then (call $set_content_type (i32.const 512) (local.get $n))))
//	    (i32.const 0))
//	)
const headersWasm = "0061736d01000000011d0560027f7f0060047f7f7f7f017f6000017f60017f017f60027f7f017f023d0306736c756963650a" +
	"7365745f6f7574707574000006736c75696365107365745f636f6e74656e745f74797065000006736c75696365046d657461" +
	"00010304030203040503010001074104066d656d6f7279020012736c756963655f6162695f76657273696f6e00030c736c75" +
	"6963655f616c6c6f63000410736c756963655f7472616e73666f726d00050a6203040041010b05004180080b5501017f4100" +
	"410d41800241800210022102200241004e20024180024c71044041800220021000054120410110000b4110410c4180044180" +
	"0210022102200241004e20024180024c710440418004200210010b41000b0b2a030041000b0d6865616465723a582d546573" +
	"740041100b0c636f6e74656e745f747970650041200b012d"

func TestPluginRun(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	fixture := func(name string) string { return repoPath("runtime/wasm/testdata/" + name + ".wasm") }
	binary := make([]byte, 4096)
	for i := range binary {
		binary[i] = byte(i * 7)
	}
	hdrBin, err := hex.DecodeString(headersWasm)
	if err != nil {
		t.Fatal(err)
	}
	headers := write("headers.wasm", hdrBin)
	lower := write("lower.txt", []byte("hello, World\n"))
	bin := write("binary.bin", binary)

	for _, tc := range []struct {
		name    string
		args    []string
		stdin   string
		code    int
		out     []byte   // exact stdout; nil: none expected
		stderr  []string // substrings of stderr
		without []string // substrings stderr must not have
	}{
		{name: "upper from file", args: []string{fixture("upper"), "--input", lower},
			out: []byte("HELLO, WORLD\n"),
			stderr: []string{"plugin: upper@", "(native ABI, ", "output: 13 bytes", "took: ", "correlation-id: ",
				"content-type: application/octet-stream (the input's: the plugin set none)"}},
		{name: "upper from stdin", args: []string{fixture("upper"), "--input", "-"}, stdin: `{"a":"b"}`,
			out: []byte(`{"A":"B"}`), stderr: []string{"content-type: application/json (the input's"}},
		{name: "stdin by default, flags after FILE", args: []string{fixture("upper"), "--route", "r"}, stdin: "abc",
			out: []byte("ABC")},
		{name: "empty input", args: []string{fixture("upper")}, out: []byte{}, stderr: []string{"output: 0 bytes"}},
		{name: "binary through echo", args: []string{"--input", bin, fixture("echo")}, out: binary,
			stderr: []string{"content-type: text/plain\n", "header: X-Echo-Route: cli\n", "output: 4096 bytes"}},
		{name: "route", args: []string{fixture("echo"), "--route", "orders"}, stdin: "x", out: []byte("x"),
			stderr: []string{"header: X-Echo-Route: orders\n"}},
		{name: "plugin name", args: []string{fixture("echo"), "--name", "my-echo"}, stdin: "x", out: []byte("x"),
			stderr: []string{"plugin: my-echo@3e755f3fc066 "}},
		{name: "header visible", args: []string{headers, "--header", "X-Other=1", "--header", "x-test=a=b"},
			out: []byte("a=b"), stderr: []string{"content-type: application/octet-stream\n"}},
		{name: "header with colon", args: []string{headers, "--header", "X-Test: v"}, out: []byte("v")},
		{name: "first header wins", args: []string{headers, "--header", "X-Test=1", "--header", "X-Test=2"}, out: []byte("1")},
		{name: "no header", args: []string{headers}, out: []byte("-")},
		{name: "content type from header", args: []string{headers, "--header", "Content-Type=text/csv"}, stdin: "{}",
			out: []byte("-"), stderr: []string{"content-type: text/csv\n"}},
		{name: "content type flag", args: []string{headers, "--content-type", "a/b", "--header", "Content-Type=text/csv"},
			out: []byte("-"), stderr: []string{"content-type: a/b\n"}},
		{name: "content type sniffed", args: []string{headers}, stdin: " [1, 2]\n", out: []byte("-"),
			stderr: []string{"content-type: application/json\n"}},
		{name: "reject", args: []string{fixture("reject")}, stdin: "x", code: 1,
			stderr: []string{"error: plugin_rejected: rejected by fixture\n"}, without: []string{"output:"}},
		{name: "trap", args: []string{fixture("trap")}, code: 1,
			stderr: []string{"error: trap: sluice_transform trapped: wasm error: unreachable", "wasm stack trace:"}},
		{name: "fuel", args: []string{fixture("hostile/loop"), "--fuel", "1000000"}, code: 1,
			stderr: []string{"error: fuel_exhausted: sluice_transform spent its fuel budget of 1000000"}},
		{name: "timeout", args: []string{fixture("slow"), "--timeout", "50ms", "--fuel", "1000000000000"}, code: 1,
			stderr: []string{"error: plugin_timeout: sluice_transform ran past its 50ms limit"}},
		{name: "memory", args: []string{fixture("hostile/membomb"), "--memory", "16MiB", "--timeout", "2m"}, code: 1,
			stderr: []string{"error: memory_limit: ", "of 256 pages"}},
		{name: "max output", args: []string{fixture("echo"), "--max-output", "4B"}, stdin: "12345", code: 1,
			stderr: []string{"error: invalid_output: set_output: 5 bytes exceeds the output limit of 4"}},
		{name: "max depth", args: []string{fixture("hostile/recursion"), "--max-depth", "100"}, code: 1,
			stderr: []string{"error: call_depth_exceeded: sluice_transform recursed deeper than 100 calls"}},
		{name: "no ABI", args: []string{fixture("noabi")}, code: 1,
			stderr: []string{"error: invalid_module: does not speak Sluice ABI v1 (missing export sluice_abi_version)"}},
		{name: "not wasm", args: []string{fixture("hostile/notwasm")}, code: 1,
			stderr: []string{"error: invalid_module: not a WebAssembly module"}},
		{name: "zero memory limit means the default", args: []string{fixture("echo"), "--memory", "0B"}, stdin: "default limit",
			out: []byte("default limit")},
		{name: "minimum memory over the default limit", args: []string{fixture("hostile/hugemem")}, code: 1,
			stderr: []string{"error: invalid_module: module declares a minimum memory of 65536 pages (4 GiB), over its limit of 1024 pages (64 MiB)"}},
		{name: "missing plugin", args: []string{filepath.Join(dir, "gone.wasm")}, code: 1,
			stderr: []string{"error: reading plugin: open ", "gone.wasm: no such file or directory"}},
		{name: "missing input", args: []string{fixture("echo"), "--input", filepath.Join(dir, "gone.json")}, code: 1,
			stderr: []string{"error: reading input: open ", "gone.json: no such file or directory"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := runPluginCmd(t, []byte(tc.stdin), "run", tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstderr:\n%s", code, tc.code, errs)
			}
			if tc.out == nil && len(out) > 0 {
				t.Errorf("stdout = %q, want nothing", out)
			}
			if tc.out != nil && !bytes.Equal(out, tc.out) {
				t.Errorf("stdout = %q, want %q", trim(out), trim(tc.out))
			}
			for _, w := range tc.stderr {
				if !strings.Contains(errs, w) {
					t.Errorf("stderr does not have %q:\n%s", w, errs)
				}
			}
			for _, w := range tc.without {
				if strings.Contains(errs, w) {
					t.Errorf("stderr has %q:\n%s", w, errs)
				}
			}
		})
	}
}

func trim(b []byte) string {
	if len(b) > 64 {
		return fmt.Sprintf("%q... (%d bytes)", b[:64], len(b))
	}
	return string(b)
}

// TestPluginRunGoGuests runs the demo plugins and a panicking Go guest, whose
// log line must reach stderr.
func TestPluginRunGoGuests(t *testing.T) {
	validator, mapper := repoPath("plugins/demo/validator.wasm"), repoPath("plugins/demo/mapper.wasm")
	input := `{"name":"Ada","email":"ADA@Example.COM","plan":"pro"}`

	code, out, errs := runPluginCmd(t, []byte(input), "run", mapper, "--route", "signup", "--correlation-id", "c-1")
	if code != 0 {
		t.Fatalf("mapper: exit %d\n%s", code, errs)
	}
	var got struct {
		FullName string `json:"full_name"`
		Email    string `json:"email"`
		Source   struct {
			Route         string `json:"route"`
			CorrelationID string `json:"correlation_id"`
		} `json:"source"`
		SyncedAt   string            `json:"synced_at"`
		Attributes map[string]string `json:"attributes"`
	}
	if err := json.Unmarshal(out, &got); err != nil || got.FullName != "Ada" || got.Email != "ada@example.com" ||
		got.Source.Route != "signup" || got.Source.CorrelationID != "c-1" || got.SyncedAt == "" || got.Attributes["plan"] != "pro" {
		t.Errorf("mapper output %s (%v)", out, err)
	}
	for _, w := range []string{"content-type: application/json\n", "header: X-Sluice-Plugin: demo-mapper\n", "correlation-id: c-1\n",
		fmt.Sprintf("output: %d bytes\n", len(out))} {
		if !strings.Contains(errs, w) {
			t.Errorf("mapper: stderr does not have %q:\n%s", w, errs)
		}
	}

	code, out, errs = runPluginCmd(t, []byte(input), "run", validator)
	if code != 0 || string(out) != input {
		t.Errorf("validator: exit %d, stdout %q\n%s", code, out, errs)
	}
	code, out, errs = runPluginCmd(t, []byte(`{"email":"a@b"}`), "run", validator)
	if code != 1 || len(out) != 0 || !strings.Contains(errs, `error: plugin_rejected: "name" is required`+"\n") {
		t.Errorf("validator rejection: exit %d, stdout %q\n%s", code, out, errs)
	}

	code, _, errs = runPluginCmd(t, []byte("boom"), "run", repoPath("runtime/wasm/testdata/hostile/gopanic.wasm"))
	for _, w := range []string{"level=ERROR", "sluice: handler panicked: gopanic fixture: deliberate panic", "plugin=gopanic",
		"error: plugin_failed: sluice_transform returned 2: handler panicked"} {
		if !strings.Contains(errs, w) {
			t.Errorf("gopanic: stderr does not have %q:\n%s", w, errs)
		}
	}
	if code != 1 {
		t.Errorf("gopanic: exit %d, want 1", code)
	}
}

func TestPluginUsage(t *testing.T) {
	echo := repoPath("runtime/wasm/testdata/echo.wasm")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no subcommand", []string{"plugin"}, "usage: sluice plugin run"},
		{"unknown subcommand", []string{"plugin", "frob"}, "usage: sluice plugin run"},
		{"no file", []string{"plugin", "run"}, "want one FILE.wasm, got 0 arguments"},
		{"two files", []string{"plugin", "run", echo, echo}, "want one FILE.wasm, got 2 arguments"},
		{"unknown flag", []string{"plugin", "run", echo, "--frob"}, "flag provided but not defined: -frob"},
		{"bad ABI", []string{"plugin", "run", echo, "--abi", "cgi"}, `--abi "cgi": must be native or wasi`},
		{"bad size", []string{"plugin", "run", echo, "--memory", "lots"}, `"lots" is not a size`},
		{"memory too large", []string{"plugin", "run", echo, "--memory", "8GiB"}, "--memory must be between"},
		{"bad duration", []string{"plugin", "run", echo, "--timeout", "soon"}, `invalid value "soon" for flag -timeout`},
		{"negative fuel", []string{"plugin", "run", echo, "--fuel", "-1"}, "--fuel must be positive"},
		{"bad header", []string{"plugin", "run", echo, "--header", "X-Test"}, "want NAME=VALUE"},
		{"empty route", []string{"plugin", "run", echo, "--route", ""}, "--route must not be empty"},
		{"inspect without file", []string{"plugin", "inspect"}, "want one FILE.wasm, got 0 arguments"},
		{"inspect bad ABI", []string{"plugin", "inspect", echo, "--abi", "x"}, `--abi "x": must be native or wasi`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := runWithStdin(tc.args, strings.NewReader(""), &out, &errb)
			if code != 2 || out.Len() != 0 || !strings.Contains(errb.String(), tc.want) {
				t.Fatalf("exit %d, stdout %q, stderr:\n%s\nwant exit 2 and %q", code, out.String(), errb.String(), tc.want)
			}
		})
	}
	for _, args := range [][]string{{"plugin", "help"}, {"plugin", "run", "-h"}, {"plugin", "inspect", "--help"}} {
		if code, out, errs := runCLI(args...); code != 0 || !strings.Contains(out, "--max-output SIZE") || errs != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, out, errs)
		}
	}
	if code, out, _ := runCLI("help"); code != 0 || !strings.Contains(out, "sluice plugin run FILE.wasm") {
		t.Errorf("sluice help does not list plugin run: %d %q", code, out)
	}
}

func TestPluginInspect(t *testing.T) {
	sum := func(path string) string {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		s := sha256.Sum256(b)
		return hex.EncodeToString(s[:])
	}
	echo := repoPath("runtime/wasm/testdata/echo.wasm")
	noabi := repoPath("runtime/wasm/testdata/noabi.wasm")
	notwasm := repoPath("runtime/wasm/testdata/hostile/notwasm.wasm")
	for _, tc := range []struct {
		name, file string
		code       int
		want       []string
		without    []string
	}{
		{"echo", echo, 0, []string{
			"file: " + echo + "\n", "size: 363 bytes\n", "sha256: " + sum(echo) + "\n", "abi: native (Sluice ABI v1)\n",
			"imports (4):\n",
			"  sluice.set_output        func (i32, i32) -> ()\n",
			"  sluice.meta              func (i32, i32, i32, i32) -> (i32)\n",
			"exports (4):\n", "  memory              memory\n", "  sluice_transform    func (i32, i32) -> (i32)\n",
			"memory: 1 page (64 KiB) initial, no maximum\n", "loads: yes, as echo@" + sum(echo)[:12] + "\n",
		}, []string{"sluice:fuel"}},
		{"refused module", noabi, 1, []string{
			"sha256: " + sum(noabi) + "\n", "abi: native (by its exports)\n", "imports (1):\n", "  sluice.set_output  func",
			"exports (3):\n", "  sluice_alloc", "  sluice_transform", "memory: 1 page",
			"loads: no: does not speak Sluice ABI v1 (missing export sluice_abi_version); exported functions found: [sluice_alloc sluice_transform]",
		}, nil},
		{"not wasm", notwasm, 1, []string{"sha256: " + sum(notwasm) + "\n", "loads: no: not a WebAssembly module"},
			[]string{"imports", "abi:"}},
		{"Go guest", repoPath("plugins/demo/validator.wasm"), 0, []string{
			"abi: native (Sluice ABI v1)\n", "  wasi_snapshot_preview1.fd_write", "  _initialize", "loads: yes, as validator@",
		}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := runPluginCmd(t, nil, "inspect", tc.file)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, out, errs)
			}
			for _, w := range tc.want {
				if !bytes.Contains(out, []byte(w)) {
					t.Errorf("stdout does not have %q:\n%s", w, out)
				}
			}
			for _, w := range tc.without {
				if bytes.Contains(out, []byte(w)) {
					t.Errorf("stdout has %q:\n%s", w, out)
				}
			}
		})
	}
	code, out, errs := runPluginCmd(t, nil, "inspect", "/nonexistent/x.wasm")
	if code != 1 || len(out) != 0 || !strings.Contains(errs, "error: reading plugin: open /nonexistent/x.wasm: no such file") {
		t.Errorf("missing file: exit %d, stdout %q, stderr %q", code, out, errs)
	}
}
