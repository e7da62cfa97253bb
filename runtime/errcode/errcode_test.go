package errcode

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// codeConst is one error-code constant found in the source tree.
type codeConst struct {
	pkg, name, value, pos string
}

// codeConsts parses every non-test Go file of the server module (cmd/,
// queue/, runtime/) and returns its string constants named Code* (in errcode
// itself: every exported string constant).
func codeConsts(t *testing.T) []codeConst {
	t.Helper()
	root := filepath.Join("..", "..")
	var out []codeConst
	fset := token.NewFileSet()
	for _, dir := range []string{"cmd", "queue", "runtime"} {
		err := filepath.WalkDir(filepath.Join(root, dir), func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && (d.Name() == "testdata" || d.Name() == "node_modules") {
				return filepath.SkipDir
			}
			if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return nil
			}
			f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
			if err != nil {
				return err
			}
			self := f.Name.Name == "errcode"
			for _, decl := range f.Decls {
				gd, ok := decl.(*ast.GenDecl)
				if !ok || gd.Tok != token.CONST {
					continue
				}
				for _, spec := range gd.Specs {
					vs := spec.(*ast.ValueSpec)
					for i, n := range vs.Names {
						if i >= len(vs.Values) || !(strings.HasPrefix(n.Name, "Code") || self && n.IsExported()) {
							continue
						}
						lit, ok := vs.Values[i].(*ast.BasicLit)
						if !ok || lit.Kind != token.STRING {
							continue
						}
						v, _ := strconv.Unquote(lit.Value)
						out = append(out, codeConst{pkg: f.Name.Name, name: n.Name, value: v, pos: fset.Position(n.Pos()).String()})
					}
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(out) < 40 {
		t.Fatalf("found only %d code constants: is the walk looking at the right tree?", len(out))
	}
	return out
}

// TestEveryCodeIsMapped fails on a Code* constant that has no status, and on
// an entry of the table that no package raises.
func TestEveryCodeIsMapped(t *testing.T) {
	consts := codeConsts(t)
	raised := map[string]bool{}
	for _, c := range consts {
		raised[c.value] = true
		info, ok := Lookup(c.value)
		if !ok {
			t.Errorf("%s: %s.%s = %q has no entry in errcode's table: give it a status for each listener that answers with it", c.pos, c.pkg, c.name, c.value)
			continue
		}
		if info.Ingress == 0 && info.Admin == 0 {
			t.Errorf("%s: %s.%s = %q has no status on either listener", c.pos, c.pkg, c.name, c.value)
		}
		// The admin API answers a refused upload with the wasm package's code.
		if c.pkg == "wasm" && info.Admin == 0 {
			t.Errorf("%s: wasm.%s = %q has no admin status (an upload can be refused with it)", c.pos, c.name, c.value)
		}
	}
	for _, i := range All() {
		if !raised[i.Code] {
			t.Errorf("errcode's table maps %q, but no package has a constant with that code", i.Code)
		}
		if i.Meaning == "" {
			t.Errorf("%q has no meaning", i.Code)
		}
		for _, s := range []int{i.Ingress, i.Admin} {
			if s != 0 && (s < 400 || http.StatusText(s) == "") {
				t.Errorf("%q maps to %d, not an HTTP error status", i.Code, s)
			}
		}
	}
	if len(byCode) != len(table) {
		t.Errorf("the table has %d entries but %d codes: one is listed twice", len(table), len(byCode))
	}
}

func TestStatuses(t *testing.T) {
	for _, tc := range []struct {
		code           string
		ingress, admin int
	}{
		{"invalid_module", 500, 422}, // the ingress never answers with it: 500 marks a bug
		{"route_not_found", 404, 404},
		{"trap", 500, 422},
		{"disk_full", 507, 500},
		{"no_such_code", 500, 500},
	} {
		if got := IngressStatus(tc.code); got != tc.ingress {
			t.Errorf("IngressStatus(%q) = %d, want %d", tc.code, got, tc.ingress)
		}
		if got := AdminStatus(tc.code); got != tc.admin {
			t.Errorf("AdminStatus(%q) = %d, want %d", tc.code, got, tc.admin)
		}
	}
}

// readmeRow is a row of README.md's error table: | 404 | `a`, `b` | when |.
var readmeRow = regexp.MustCompile("^\\| (\\d{3}) \\| ((?:`[a-z_]+`(?:, )?)+) \\|")

// readmeTable parses the Markdown table that follows marker in the README:
// each code to the status of its row.
func readmeTable(t *testing.T, readme, marker string) map[string]int {
	t.Helper()
	_, rest, ok := strings.Cut(readme, marker)
	if !ok {
		t.Fatalf("README.md has no %q", marker)
	}
	listed := map[string]int{}
	rows := 0
	for _, line := range strings.Split(rest, "\n")[1:] {
		if !strings.HasPrefix(line, "|") {
			if rows > 0 {
				break // the end of the table
			}
			continue
		}
		m := readmeRow.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		rows++
		status, _ := strconv.Atoi(m[1])
		for _, c := range strings.Split(m[2], ", ") {
			c = strings.Trim(c, "`")
			if _, dup := listed[c]; dup {
				t.Errorf("README's table after %q lists %s twice", marker, c)
			}
			listed[c] = status
		}
	}
	if rows == 0 {
		t.Fatalf("found no rows in README.md's table after %q", marker)
	}
	return listed
}

// TestREADMEErrorTables fails when README.md's error tables (the ingress's
// and the admin API's) list a code their listener does not answer with,
// give it another status, or leave one out.
func TestREADMEErrorTables(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range []struct {
		name, marker string
		status       func(Info) int
	}{
		{"ingress", "Errors are JSON, ", func(i Info) int { return i.Ingress }},
		{"admin API", "The admin API's errors have", func(i Info) int { return i.Admin }},
	} {
		listed := readmeTable(t, string(b), l.marker)
		for _, i := range All() {
			want := l.status(i)
			got, ok := listed[i.Code]
			switch {
			case want != 0 && !ok:
				t.Errorf("README's %s error table does not list %s (%d: %s)", l.name, i.Code, want, i.Meaning)
			case want != 0 && got != want:
				t.Errorf("README's %s error table gives %s status %d; the %s answers %d", l.name, i.Code, got, l.name, want)
			case want == 0 && ok:
				t.Errorf("README's %s error table lists %s, which the %s never answers with", l.name, i.Code, l.name)
			}
			delete(listed, i.Code)
		}
		for c := range listed {
			t.Errorf("README's %s error table lists %s, which is no code of Sluice's", l.name, c)
		}
	}
}
