package main

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestReadmeExamples runs the console examples of README.md (every fenced
// block whose first line is a "$ " command) against the real binary and the
// embedded demo, and fails when what the README shows is not what Sluice
// says: a stale plugin version, a changed answer, a header that is gone.
//
// How an example's output is compared (README lines on the left):
//   - "…" stands for anything (the rest of a JSON object, an id's tail);
//   - an output line that starts with a space continues the line before it
//     (the README wraps long JSON);
//   - a full UUID stands for the id Sluice generated there, the same one
//     wherever the README repeats it, and is replaced by it in later
//     commands; "019ab7c2-" (8 hex digits, a dash) for any id's first part;
//   - timestamps, durations ("took: 1.385ms") and a plugin run's output
//     size ("output: 190 bytes": the demo mapper stamps the time, whose
//     nanoseconds drop trailing zeros) stand for any value;
//   - after "curl -i", each header the README shows must be among the
//     answer's headers (the README leaves out Date, Content-Length, ...);
//   - everything else — plugin versions and sizes, codes, bodies — is
//     compared as written.
//
// Commands run with sh in a temp dir where plugins/ is the repository's and
// the built sluice is first on PATH; localhost:8080 and :8081 are the demo
// server this test starts (curl is needed: .ci/toolchains installs it).
func TestReadmeExamples(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs the README's commands")
	}
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl is not installed (.ci/toolchains installs it)")
	}
	readme, err := os.ReadFile(repoPath("README.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks := consoleBlocks(string(readme))
	if len(blocks) < 2 {
		t.Fatalf("found %d console examples in README.md; expected at least the quick start's and plugin run's", len(blocks))
	}
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}

	work := t.TempDir()
	plugins, _ := filepath.Abs(repoPath("plugins"))
	if err := os.Symlink(plugins, filepath.Join(work, "plugins")); err != nil {
		t.Fatal(err)
	}
	addr, admin := freeAddr(t), freeAddr(t)
	srv := exec.Command(bin, "serve", "--data", filepath.Join(work, "data"), "--listen", addr, "--admin-listen", admin)
	logs := &lockedWriter{w: &bytes.Buffer{}}
	srv.Stderr = logs
	srv.Env = append(os.Environ(), "XDG_CACHE_HOME="+filepath.Join(work, "cache"))
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		srv.Process.Signal(os.Interrupt)
		srv.Wait()
	})
	waitHealthy(t, http.DefaultClient, "http://"+addr+"/healthz", srv, logs)

	env := append(os.Environ(),
		"PATH="+filepath.Dir(bin)+string(os.PathListSeparator)+os.Getenv("PATH"),
		"XDG_CACHE_HOME="+filepath.Join(work, "cache"))
	ids := map[string]string{} // the README's UUIDs → the ones this run generated
	for _, b := range blocks {
		for _, ex := range b.examples {
			cmd := strings.NewReplacer("localhost:8080", addr, "localhost:8081", admin).Replace(ex.command)
			for readmeID, id := range ids {
				cmd = strings.ReplaceAll(cmd, readmeID, id)
			}
			sh := exec.Command("sh", "-c", cmd)
			sh.Dir, sh.Env = work, env
			out, err := sh.CombinedOutput()
			if err != nil {
				t.Fatalf("README.md:%d: $ %s\n%v\n%s", ex.line, ex.command, err, out)
			}
			if msg := matchExample(ex.output, string(out), ids); msg != "" {
				t.Errorf("README.md:%d: the example is stale: %s\n$ %s\nREADME shows:\n%s\nSluice said:\n%s",
					ex.line, msg, ex.command, strings.Join(ex.output, "\n"), out)
			}
		}
	}
}

type consoleBlock struct{ examples []example }

// example is one "$ command" of a README block and the lines under it.
type example struct {
	line    int // of the command in README.md
	command string
	output  []string
}

// consoleBlocks finds the fenced blocks whose first line is a "$ " command.
func consoleBlocks(readme string) []consoleBlock {
	var blocks []consoleBlock
	lines := strings.Split(readme, "\n")
	for i := 0; i < len(lines); i++ {
		if !strings.HasPrefix(lines[i], "```") || i+1 >= len(lines) || !strings.HasPrefix(lines[i+1], "$ ") {
			continue
		}
		var b consoleBlock
		for i++; i < len(lines) && !strings.HasPrefix(lines[i], "```"); i++ {
			switch l := lines[i]; {
			case strings.HasPrefix(l, "$ "):
				b.examples = append(b.examples, example{line: i + 1, command: l[2:]})
			default:
				ex := &b.examples[len(b.examples)-1]
				ex.output = append(ex.output, l)
			}
		}
		for j := range b.examples {
			b.examples[j].output = trimBlankTail(b.examples[j].output)
		}
		blocks = append(blocks, b)
	}
	return blocks
}

func trimBlankTail(lines []string) []string {
	for len(lines) > 0 && strings.TrimSpace(lines[len(lines)-1]) == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}

var (
	uuidRE     = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	volatileRE = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}` + // an id
		`|[0-9a-f]{8}-…` + // an id's first part
		`|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z` + // a timestamp
		`|\b\d+(\.\d+)?(ns|µs|ms|s)\b` + // a duration
		`|output: \d+ bytes` + // a plugin run's output size
		`|…`)
)

// matchExample says how out differs from what the README shows ("" if it
// matches), binding the README's UUIDs to out's in ids.
func matchExample(want []string, out string, ids map[string]string) string {
	// Join continuation lines (a leading space).
	var lines []string
	for _, l := range want {
		if strings.HasPrefix(l, " ") && len(lines) > 0 {
			lines[len(lines)-1] += l[1:]
			continue
		}
		lines = append(lines, l)
	}
	got := strings.TrimRight(strings.ReplaceAll(out, "\r\n", "\n"), "\n")
	if len(lines) > 0 && strings.HasPrefix(lines[0], "HTTP/") {
		return matchHTTP(lines, got, ids)
	}
	return matchText(strings.Join(lines, "\n"), got, ids)
}

// matchHTTP compares a "curl -i" answer: status line, the README's headers
// among the answer's, and the body.
func matchHTTP(want []string, got string, ids map[string]string) string {
	wantHead, wantBody, _ := strings.Cut(strings.Join(want, "\n"), "\n\n")
	gotHead, gotBody, _ := strings.Cut(got, "\n\n")
	wantLines, gotLines := strings.Split(wantHead, "\n"), strings.Split(gotHead, "\n")
	if msg := matchText(wantLines[0], gotLines[0], ids); msg != "" {
		return "status line: " + msg
	}
	for _, h := range wantLines[1:] {
		found := false
		for _, g := range gotLines[1:] {
			if matchText(h, g, ids) == "" {
				found = true
				break
			}
		}
		if !found {
			return fmt.Sprintf("no header %q in the answer", h)
		}
	}
	if msg := matchText(wantBody, gotBody, ids); msg != "" {
		return "body: " + msg
	}
	return ""
}

// matchText matches got against want, where want's volatile parts
// (volatileRE) match any value of their kind.
func matchText(want, got string, ids map[string]string) string {
	var re strings.Builder
	var uuids []string // the README's UUIDs, in the order of their groups
	re.WriteString(`(?s)^`)
	last := 0
	for _, m := range volatileRE.FindAllStringIndex(want, -1) {
		re.WriteString(regexp.QuoteMeta(want[last:m[0]]))
		switch v := want[m[0]:m[1]]; {
		case uuidRE.MatchString(v) && len(v) == 36:
			re.WriteString(`(` + uuidRE.String() + `)`)
			uuids = append(uuids, v)
		case strings.HasSuffix(v, "-…"):
			re.WriteString(`[0-9a-f]{8}-.*?`)
		case v == "…":
			re.WriteString(`.*?`)
		case strings.HasPrefix(v, "output: "):
			re.WriteString(`output: \d+ bytes`)
		case strings.Contains(v, "T"):
			re.WriteString(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z`)
		default:
			re.WriteString(`\d+(?:\.\d+)?(?:ns|µs|ms|s)`)
		}
		last = m[1]
	}
	re.WriteString(regexp.QuoteMeta(want[last:]) + `$`)
	m := regexp.MustCompile(re.String()).FindStringSubmatch(got)
	if m == nil {
		return "output differs"
	}
	for i, readmeID := range uuids {
		if prev, ok := ids[readmeID]; ok && prev != m[i+1] {
			return fmt.Sprintf("%s stands for %s earlier but %s here", readmeID, prev, m[i+1])
		}
		ids[readmeID] = m[i+1]
	}
	return ""
}

// TestEveryServeFlagDocumented fails when a flag of `sluice serve` is
// missing from `sluice help` or from the README.
func TestEveryServeFlagDocumented(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	usage, _ := exec.Command(bin, "serve", "-h").CombinedOutput() // exits 2 after the usage
	help, err := exec.Command(bin, "help").CombinedOutput()
	if err != nil {
		t.Fatalf("sluice help: %v\n%s", err, help)
	}
	readme, err := os.ReadFile(repoPath("README.md"))
	if err != nil {
		t.Fatal(err)
	}
	flags := regexp.MustCompile(`(?m)^  -([a-z-]+)`).FindAllStringSubmatch(string(usage), -1)
	if len(flags) < 4 {
		t.Fatalf("found %d flags in sluice serve -h:\n%s", len(flags), usage)
	}
	for _, f := range flags {
		flag := "--" + f[1]
		if !bytes.Contains(help, []byte(flag)) {
			t.Errorf("sluice help does not mention serve's %s", flag)
		}
		if !bytes.Contains(readme, []byte(flag)) {
			t.Errorf("README.md does not mention serve's %s", flag)
		}
	}
}
