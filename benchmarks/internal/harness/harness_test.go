package harness

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func validConfig() Config {
	c := Default()
	c.RepoDir = "/repo"
	c.Self = "/bin/ingest"
	return c
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name      string
		mutate    func(*Config)
		wantField string // "" means valid
	}{
		{"default", func(*Config) {}, ""},
		{"self-test needs no repo", func(c *Config) { c.RepoDir = ""; c.SelfTest = true }, ""},
		{"no repo", func(c *Config) { c.RepoDir = "" }, "repo_dir"},
		{"no self", func(c *Config) { c.Self = "" }, "self"},
		{"no conns", func(c *Config) { c.Conns = nil }, "conns"},
		{"zero conns", func(c *Config) { c.Conns = []int{64, 0} }, "conns"},
		{"no rounds", func(c *Config) { c.Rounds = 0 }, "rounds"},
		{"no measure", func(c *Config) { c.Measure = 0 }, "measure"},
		{"negative body", func(c *Config) { c.BodyBytes = -1 }, "body_bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			tt.mutate(&c)
			err := c.Validate()
			if tt.wantField == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantField) {
				t.Fatalf("error %v does not name %q", err, tt.wantField)
			}
		})
	}
}

func TestDefaultRunFitsBudget(t *testing.T) {
	c := validConfig()
	c.DurabilityNone = true
	// Three servers, five rounds, 7 s each, plus build, startup and settling.
	if d := c.Duration(); d > 2*time.Minute {
		t.Errorf("default measurements take %v; the whole run must stay under ~3 min", d)
	}
}

func TestPlan(t *testing.T) {
	tmp := t.TempDir()
	c := validConfig()
	c.DurabilityNone = true
	insts, err := plan(c, tmp, "/bin/sluice")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	addrs := map[string]bool{}
	for _, in := range insts {
		names = append(names, in.meta.Name)
		addrs[in.spec.Addr] = true
	}
	if want := []string{NameBare, NameSluiceFsync, NameSluiceNone}; !slices.Equal(names, want) {
		t.Fatalf("servers %v, want %v", names, want)
	}
	if len(addrs) != 3 {
		t.Errorf("servers share addresses: %v", addrs)
	}
	bare, fsync := insts[0], insts[1]
	if bare.spec.Path != c.Self || bare.spec.Args[0] != BareServerCommand {
		t.Errorf("bare command = %s %v", bare.spec.Path, bare.spec.Args)
	}
	if fsync.spec.Path != "/bin/sluice" || !slices.Equal(fsync.spec.Args[:2], []string{"serve", "--config"}) {
		t.Errorf("sluice command = %s %v", fsync.spec.Path, fsync.spec.Args)
	}
	yml, err := os.ReadFile(fsync.spec.Args[2])
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"listen: " + fsync.spec.Addr, "durability: fsync", "mode: async",
		"data_dir: " + filepath.Join(tmp, NameSluiceFsync, "data")} {
		if !strings.Contains(string(yml), want) {
			t.Errorf("config lacks %q:\n%s", want, yml)
		}
	}
}

func TestPlanSelfTestUsesBareEverywhere(t *testing.T) {
	c := validConfig()
	c.SelfTest = true
	insts, err := plan(c, t.TempDir(), "")
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range insts {
		if in.spec.Path != c.Self || in.meta.Kind != "bare" || in.dataDir != "" {
			t.Errorf("%s in self-test runs %s (%s)", in.meta.Name, in.spec.Path, in.meta.Kind)
		}
	}
}
