package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestConfigCheckReportsEveryProblem: the real binary's `sluice config
// check` prints every problem of a file, decoding and validation together,
// in line order, each with its line (a type error hides nothing), suggests
// the key meant, and exits 1; `sluice serve` refuses the file the same way.
func TestConfigCheckReportsEveryProblem(t *testing.T) {
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "sluice.yaml")
	yaml := `listen: 127.0.0.1:0
admin_listen: "off"
data_dir: ` + filepath.Join(dir, "data") + `
plugins: []
max_body_size: lots
routes:
  - name: orders
    mode: async
    orderBy: "json:/customer/id"
    destination:
      url: http://127.0.0.1:9/orders
      timout: 5s
  - name: refunds
    mode: [sync]
    transforms: [missing]
http:
  max-hops: 4
`
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	want := []string{
		`line 5: max_body_size: "lots" is not a size (e.g. 65536, 512KiB, 16MiB)`,
		`line 9: routes[0]: unknown key orderBy (did you mean order_by?)`,
		`line 12: routes[0].destination: unknown key timout (did you mean timeout?)`,
		`line 14: routes[1].mode: must be a string, got a list`,
		`line 15: routes[1].transforms[0]: no plugin named "missing"`,
		`line 17: http: unknown key max-hops (did you mean max_hops?)`,
	}
	for _, args := range [][]string{{"config", "check", path}, {"serve", "--config", path}} {
		var stdout, stderr bytes.Buffer
		cmd := exec.Command(bin, args...)
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 1 {
			t.Fatalf("sluice %s: %v, want exit status 1\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, stdout.String(), stderr.String())
		}
		var got []string
		for _, l := range strings.Split(stderr.String(), "\n") {
			if p, ok := strings.CutPrefix(l, "  - "); ok {
				got = append(got, p)
			}
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") || !strings.Contains(stderr.String(), path+": invalid config:") {
			t.Errorf("sluice %s printed:\n%s\nwant the problems:\n%s", strings.Join(args, " "), stderr.String(), strings.Join(want, "\n"))
		}
	}
}
