package sdk

import (
	"bytes"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "copy sdk/go's files into sdk/_go")

// goCopied lists the files of sdk/go that _go copies: the package's sources and its README (not its tests:
// a generated project does not run them; not go.mod: `sluice plugin new` writes one for the Go it targets).
func goCopied(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir("go")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		n := e.Name()
		if e.Type().IsRegular() && (n == "README.md" || strings.HasSuffix(n, ".go") && !strings.HasSuffix(n, "_test.go")) {
			names = append(names, n)
		}
	}
	if len(names) < 3 {
		t.Fatalf("sdk/go has only %v: the SDK moved?", names)
	}
	return names
}

// TestGoCopy fails when sdk/_go, the copy of the Go SDK that sluice embeds, differs from sdk/go.
func TestGoCopy(t *testing.T) {
	want := goCopied(t)
	if *update {
		old, _ := filepath.Glob("_go/*")
		for _, f := range old {
			if err := os.Remove(f); err != nil {
				t.Fatal(err)
			}
		}
		for _, n := range want {
			b, err := os.ReadFile(filepath.Join("go", n))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join("_go", n), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		t.Log("sdk/_go updated from sdk/go: run the test again (the embedded files are those of the build)")
		return
	}
	entries, err := os.ReadDir("_go")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if !slices.Equal(got, want) {
		t.Errorf("sdk/_go holds %v, sdk/go %v; run: go test ./sdk -run TestGoCopy -update", got, want)
	}
	for _, n := range want {
		src, err := os.ReadFile(filepath.Join("go", n))
		if err != nil {
			t.Fatal(err)
		}
		embedded, err := Files.ReadFile("_go/" + n)
		if err != nil {
			t.Errorf("%s is not embedded: %v", n, err)
			continue
		}
		if !bytes.Equal(src, embedded) {
			t.Errorf("sdk/_go/%s differs from sdk/go/%s; run: go test ./sdk -run TestGoCopy -update", n, n)
		}
	}
}

// TestEmbedded checks that every language's directory holds the files its build needs, byte for byte as in
// the SDK's directory.
func TestEmbedded(t *testing.T) {
	need := map[string][]string{
		"go":             {"sluice.go", "guest.go", "host_wasip1.go", "testhost.go"},
		"rust":           {"Cargo.toml", "src/lib.rs", "src/guest.rs", "src/host.rs", "examples/shout.rs"},
		"c":              {"sluice.h", "sluice.c"},
		"assemblyscript": {"package.json", "asconfig.json", "index.ts", "assembly/index.ts", "assembly/abi.ts", "assembly/tsconfig.json"},
		"zig":            {"sluice.zig"},
	}
	for lang, files := range need {
		dir, ok := Dir(lang)
		if !ok {
			t.Fatalf("Dir(%q): no SDK", lang)
		}
		sub, err := fs.Sub(Files, dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			b, err := fs.ReadFile(sub, f)
			if err != nil {
				t.Errorf("%s: %v", lang, err)
				continue
			}
			src, err := os.ReadFile(filepath.Join(strings.Replace(dir, "_go", "go", 1), f))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(b, src) {
				t.Errorf("%s: embedded %s differs from the file", lang, f)
			}
		}
		// Nothing but source text: no build outputs or dependencies.
		err = fs.WalkDir(sub, ".", func(p string, d fs.DirEntry, err error) error {
			if err == nil && (strings.Contains(p, "node_modules") || strings.Contains(p, "target/") || strings.HasSuffix(p, ".wasm")) {
				t.Errorf("%s: embeds %s", lang, p)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, ok := Dir("cobol"); ok {
		t.Error(`Dir("cobol") found an SDK`)
	}
}
