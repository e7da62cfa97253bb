package main

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"text/template"

	"github.com/sluicehq/sluice/sdk"
)

// scaffoldFiles are the templates of `sluice plugin new`: scaffold/common for every language, scaffold/<lang>
// for one, scaffold/partials for the Makefiles' shared parts. A file whose name ends in .tmpl is a text/template
// (the suffix is dropped); any other file is copied as is. In output paths, "dot-x" and "gitignore" become ".x"
// and ".gitignore" (go:embed leaves out files whose names begin with a dot).
//
//go:embed scaffold
var scaffoldFiles embed.FS

// zigVersion is the Zig the SDK is written for (sdk/zig/README.md; plugins/order-to-invoice/zig pins it too).
const zigVersion = "0.11.0"

const pluginNewUsage = `usage: sluice plugin new NAME [--lang go|rust|c|assemblyscript|zig]

new: write a ready plugin project in the directory NAME: the plugin (a JSON
transform: wraps the body in {"route":...,"event":...}), the SDK for its
language (from this binary: nothing is downloaded), a Makefile, a test input
and a README. Then:

  cd NAME && make && sluice plugin run NAME.wasm --input example.json

  --lang LANG   go (default), rust, c, assemblyscript or zig

NAME: lowercase letters, digits, - and _, starting with a letter (at most 64).
The directory must not exist, or be empty. make says what to install when the
language's toolchain is missing.
`

// scaffoldLang is one language `sluice plugin new` writes projects in.
type scaffoldLang struct {
	Lang   string // --lang value, scaffold/<Lang>, sdk.Dir(Lang)
	Title  string // for people
	Source string // the file a plugin author edits
	Needs  string // what make needs installed, for the project's README
	// UnitTest is the command make test runs before checking expected.json, TestFile where its tests are;
	// empty for none.
	UnitTest, TestFile string
}

// scaffoldLangs are the languages of `sluice plugin new`, in the order its messages list them.
var scaffoldLangs = []scaffoldLang{
	{"go", "Go", "main.go", "Go 1.24 or later", "go test", "main_test.go"},
	{"rust", "Rust", "src/lib.rs", "Rust 1.63 or later (`cargo`, `rustc`) with the `wasm32-unknown-unknown` " +
		"standard library: with rustup, `rustup target add wasm32-unknown-unknown`; on Debian/Ubuntu, " +
		"`apt-get install rustc cargo libstd-rust-dev-wasm32 lld`", "cargo test", "src/lib.rs"},
	{"c", "C", "main.c", "clang with the wasm32-wasi target and wasi-libc: on Debian/Ubuntu, " +
		"`apt-get install clang-14 lld-14 wasi-libc libclang-rt-14-dev-wasm32`; elsewhere wasi-sdk " +
		"(`make CLANG=/path/to/wasi-sdk/bin/clang`)", "", ""},
	{"assemblyscript", "AssemblyScript", "assembly/index.ts", "Node.js 20 or later with npm (the AssemblyScript " +
		"compiler comes from npm)", "", ""},
	{"zig", "Zig", "main.zig", "Zig " + zigVersion + " on PATH, or `make ZIG=/path/to/zig`", "zig test", "main.zig"},
}

func langNames() []string {
	var names []string
	for _, l := range scaffoldLangs {
		names = append(names, l.Lang)
	}
	return names
}

// scaffoldData is what the templates see.
type scaffoldData struct {
	scaffoldLang
	Name       string // the project, its directory and NAME.wasm
	Crate      string // Name as a Rust crate name (- becomes _)
	ASVersion  string // the assemblyscript compiler the AssemblyScript SDK pins
	ZigVersion string
}

var (
	validPluginName = regexp.MustCompile(`^[a-z][a-z0-9]*([_-][a-z0-9]+)*$`)
	// Names a project cannot take: the SDK's own (the dependency of the same name would clash), Rust's
	// built-in crates and Rust keywords (a crate cannot be named after one).
	reservedPluginNames = strings.Fields(`sluice sluice-sdk sluice_sdk std core alloc test proc_macro
		as break const continue crate else enum extern false fn for if impl in let loop match mod move mut pub
		ref return self static struct super trait true type unsafe use where while async await dyn abstract
		become box do final macro override priv typeof unsized virtual yield try`)
)

func checkPluginName(name string) error {
	switch {
	case len(name) > 64:
		return fmt.Errorf("NAME %q is too long: at most 64 characters", name)
	case !validPluginName.MatchString(name):
		return fmt.Errorf("NAME %q: use lowercase letters, digits, - and _, starting with a letter "+
			"(it names the directory, NAME.wasm and the module or crate), e.g. orders or order-enricher", name)
	case slices.Contains(reservedPluginNames, name):
		return fmt.Errorf("NAME %q is reserved (an SDK, a Rust crate or keyword): choose another, e.g. %s-plugin", name, name)
	}
	return nil
}

// pluginNewCmd runs `sluice plugin new NAME [--lang LANG]`.
func pluginNewCmd(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("plugin new", stderr)
	lang := fs.String("lang", "go", "")
	var names []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fmt.Fprint(stdout, pluginNewUsage)
				return 0
			}
			fmt.Fprintf(stderr, "\n%s", pluginNewUsage)
			return 2
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			names = append(names, rest...)
			break
		}
		names, args = append(names, rest[0]), rest[1:]
	}
	if len(names) != 1 {
		fmt.Fprintf(stderr, "sluice plugin new: want one NAME, got %d arguments\n\n%s", len(names), pluginNewUsage)
		return 2
	}
	name := names[0]
	if err := checkPluginName(name); err != nil {
		fmt.Fprintf(stderr, "sluice plugin new: %v\n", err)
		return 2
	}
	i := slices.IndexFunc(scaffoldLangs, func(l scaffoldLang) bool { return l.Lang == *lang })
	if i < 0 {
		fmt.Fprintf(stderr, "sluice plugin new: unknown --lang %q: choose one of %s\n", *lang, strings.Join(langNames(), ", "))
		return 2
	}
	l := scaffoldLangs[i]
	files, err := scaffold(name, l)
	if err != nil {
		fmt.Fprintf(stderr, "sluice plugin new: %v\n", err)
		return 1
	}
	if err := writeProject(name, files); err != nil {
		fmt.Fprintf(stderr, "sluice plugin new: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "created %s/: a Sluice plugin in %s (%s), with the %s SDK in sluice-sdk/, a Makefile,\n"+
		"example.json, expected.json and README.md. Build and try it:\n\n"+
		"  cd %s && make && sluice plugin run %s.wasm --input example.json\n\n"+
		"make needs %s.\n", name, l.Title, l.Source, l.Title, name, name, l.Needs)
	return 0
}

// scaffold returns the files of a new project NAME in language l, by path relative to the project directory.
func scaffold(name string, l scaffoldLang) (map[string][]byte, error) {
	d := scaffoldData{scaffoldLang: l, Name: name, Crate: strings.ReplaceAll(name, "-", "_"), ZigVersion: zigVersion}
	var err error
	if d.ASVersion, err = assemblyScriptVersion(); err != nil {
		return nil, err
	}
	partials, err := template.New("").Option("missingkey=error").ParseFS(scaffoldFiles, "scaffold/partials/*.tmpl")
	if err != nil {
		return nil, fmt.Errorf("parsing templates: %w", err)
	}
	files := make(map[string][]byte)
	for _, dir := range []string{"scaffold/common", "scaffold/" + l.Lang} {
		err := fs.WalkDir(scaffoldFiles, dir, func(p string, e fs.DirEntry, err error) error {
			if err != nil || e.IsDir() {
				return err
			}
			b, err := scaffoldFiles.ReadFile(p)
			if err != nil {
				return err
			}
			out := outputPath(strings.TrimPrefix(p, dir+"/"))
			if strings.HasSuffix(out, ".tmpl") {
				out = strings.TrimSuffix(out, ".tmpl")
				t, err := template.Must(partials.Clone()).New(p).Parse(string(b))
				if err != nil {
					return fmt.Errorf("parsing template %s: %w", p, err)
				}
				var buf bytes.Buffer
				if err := t.Execute(&buf, d); err != nil {
					return fmt.Errorf("rendering template %s: %w", p, err)
				}
				b = buf.Bytes()
			}
			files[out] = b
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	// The SDK, from the binary.
	sdkDir, ok := sdk.Dir(l.Lang)
	if !ok {
		return nil, fmt.Errorf("no SDK for %s", l.Lang)
	}
	err = fs.WalkDir(sdk.Files, sdkDir, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		b, err := sdk.Files.ReadFile(p)
		if err != nil {
			return err
		}
		out := path.Join("sluice-sdk", strings.TrimPrefix(p, sdkDir+"/"))
		if _, dup := files[out]; dup {
			return fmt.Errorf("scaffold/%s and the SDK both write %s", l.Lang, out)
		}
		files[out] = b
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("copying the SDK: %w", err)
	}
	return files, nil
}

// outputPath maps a template's path to the project's: dot-x becomes .x, gitignore .gitignore.
func outputPath(p string) string {
	parts := strings.Split(p, "/")
	for i, s := range parts {
		if s == "gitignore" || s == "gitignore.tmpl" {
			parts[i] = "." + s
		} else if rest, ok := strings.CutPrefix(s, "dot-"); ok {
			parts[i] = "." + rest
		}
	}
	return strings.Join(parts, "/")
}

// assemblyScriptVersion returns the assemblyscript compiler version the AssemblyScript SDK pins, so that a new
// project builds with the compiler the SDK is tested with.
func assemblyScriptVersion() (string, error) {
	dir, _ := sdk.Dir("assemblyscript")
	b, err := sdk.Files.ReadFile(dir + "/package.json")
	if err != nil {
		return "", err
	}
	var pkg struct {
		DevDependencies map[string]string `json:"devDependencies"`
	}
	if err := json.Unmarshal(b, &pkg); err != nil {
		return "", fmt.Errorf("reading the AssemblyScript SDK's package.json: %w", err)
	}
	v := pkg.DevDependencies["assemblyscript"]
	if v == "" {
		return "", errors.New("the AssemblyScript SDK's package.json pins no assemblyscript")
	}
	return v, nil
}

// writeProject writes files into the directory dir, which must not exist or be empty. On failure it removes
// what it wrote.
func writeProject(dir string, files map[string][]byte) (err error) {
	entries, err := os.ReadDir(dir)
	switch {
	case err == nil && len(entries) > 0:
		return fmt.Errorf("%s already exists and is not empty: choose another NAME, or remove it", dir)
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%s: %w", dir, err) // a file, or unreadable
	}
	created := err != nil
	if err := os.MkdirAll(dir, 0o755); err != nil { // #nosec G301 -- the user's source tree, as mkdir makes it (umask applies)
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	defer func() {
		if err == nil {
			return
		}
		if created {
			_ = os.RemoveAll(dir) // best effort: the error that got us here is the one to report
		} else { // it was empty: empty it again
			entries, _ := os.ReadDir(dir)
			for _, e := range entries {
				_ = os.RemoveAll(filepath.Join(dir, e.Name()))
			}
		}
	}()
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	for _, p := range paths {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil { // #nosec G301 -- as above
			return fmt.Errorf("creating %s: %w", filepath.Dir(full), err)
		}
		if err := os.WriteFile(full, files[p], 0o644); err != nil { // #nosec G306 -- source files of the user's project
			return fmt.Errorf("writing %s: %w", full, err)
		}
	}
	return nil
}
