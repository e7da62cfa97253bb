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

// TestCheckRefusesWhatServeRefuses: a config that only provisioning finds
// wrong (a schema that does not compile; a secret_env that is not set) is
// refused by `sluice config check` and by `sluice serve` with the same
// problems, each with its key and line, and serve stores nothing.
func TestCheckRefusesWhatServeRefuses(t *testing.T) {
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, routes string
		want         string // the first problem starts so
	}{
		{"schema does not compile", `  - name: orders
    mode: async
    validate:
      schema: bad.json
`, "line 8: routes[0].validate.schema: schema "},
		{"secret_env unset", `  - name: hooks
    mode: async
    auth:
      verify: github
      secret_env: SLUICE_TEST_NEVER_SET
`, "line 7: routes[0].auth: secret_env: environment variable SLUICE_TEST_NEVER_SET is not set"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "bad.json"), []byte(`{"type": 12}`), 0o644); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, "sluice.yaml")
			yaml := "listen: 127.0.0.1:0\nadmin_listen: \"off\"\ndata_dir: data\nroutes:\n" + tc.routes
			if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
				t.Fatal(err)
			}
			var outputs [][]string
			for _, args := range [][]string{{"config", "check", path}, {"serve", "--config", path}} {
				var stdout, stderr bytes.Buffer
				cmd := exec.Command(bin, args...)
				cmd.Env = withoutEnv(os.Environ(), "SLUICE_TEST_NEVER_SET")
				cmd.Stdout, cmd.Stderr = &stdout, &stderr
				err := cmd.Run()
				var exit *exec.ExitError
				if !errors.As(err, &exit) || exit.ExitCode() != 1 {
					t.Fatalf("sluice %s: %v, want exit status 1\nstderr: %s", strings.Join(args, " "), err, stderr.String())
				}
				if !strings.Contains(stderr.String(), "invalid config:") {
					t.Errorf("sluice %s: %s, want \"invalid config:\"", strings.Join(args, " "), stderr.String())
				}
				var got []string
				for _, l := range strings.Split(stderr.String(), "\n") {
					if p, ok := strings.CutPrefix(l, "  - "); ok {
						got = append(got, p)
					}
				}
				if len(got) == 0 || !strings.HasPrefix(got[0], tc.want) {
					t.Errorf("sluice %s printed %q, want a first problem starting with %q", strings.Join(args, " "), stderr.String(), tc.want)
				}
				outputs = append(outputs, got)
			}
			if strings.Join(outputs[0], "\n") != strings.Join(outputs[1], "\n") {
				t.Errorf("config check said:\n%s\nserve said:\n%s", strings.Join(outputs[0], "\n"), strings.Join(outputs[1], "\n"))
			}
			if _, err := os.Stat(filepath.Join(dir, "data")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("serve refused the config but created its data dir (%v)", err)
			}
		})
	}
}

// withoutEnv returns env without its name=... entries.
func withoutEnv(env []string, name string) []string {
	var out []string
	for _, e := range env {
		if !strings.HasPrefix(e, name+"=") {
			out = append(out, e)
		}
	}
	return out
}
