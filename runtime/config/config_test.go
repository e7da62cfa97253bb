package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLoadResolvesPathsAndDefaults(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sluice.yaml")
	os.WriteFile(path, []byte(`
listen: 127.0.0.1:9999
plugins:
  - name: enrich
    path: plugins/enrich.wasm
    memory_limit: 8MiB
    timeout: 250ms
routes:
  - name: orders
    mode: async
    transforms: [enrich]
    order_by: "json:/customer/id"
    destination:
      url: http://127.0.0.1:9000/orders
      timeout: 5s
`), 0o644)
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if got, want := c.Plugins[0].Path, filepath.Join(dir, "plugins/enrich.wasm"); got != want {
		t.Errorf("plugin path %q, want %q", got, want)
	}
	if c.Plugins[0].MemoryLimit != 8<<20 || c.Plugins[0].Timeout.D() != 250*time.Millisecond {
		t.Errorf("plugin limits: %+v", c.Plugins[0])
	}
	if c.Durability != "fsync" || c.MaxBodySize != 16<<20 || c.Routes[0].Destination.Timeout.D() != 5*time.Second {
		t.Errorf("defaults not applied: %+v", c)
	}
}

func TestErrorsNameKeyAndLine(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		want       []string
	}{
		{"unknown key", "listen: :1\nroutes:\n  - name: a\n    mode: sync\n    colour: red\n", []string{"line 5", "unknown key colour"}},
		{"bad duration", "sync_timeout: soon\n", []string{"line 1", `"soon" is not a duration`}},
		{"bad size", "max_body_size: lots\n", []string{"line 1", `"lots" is not a size`}},
		{"malformed", "routes: [\n", []string{"parsing YAML"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yaml))
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name, yaml, want string
	}{
		{"mode", "routes: [{name: a, mode: sometimes}]", `routes[0].mode: must be sync or async, got "sometimes"`},
		{"missing plugin", "routes: [{name: a, mode: sync, transforms: [nope]}]", `routes[0].transforms[0]: no plugin named "nope"`},
		{"order_by sync", "routes: [{name: a, mode: sync, order_by: route}]", `routes[0].order_by: applies to async routes only`},
		{"order_by bad", "routes: [{name: a, mode: async, order_by: 'json:x'}]", `routes[0].order_by: "json:x" needs a JSON pointer`},
		{"duplicate route", "routes: [{name: a, mode: sync}, {name: a, mode: sync}]", `routes[1].name: duplicate route "a"`},
		{"bad url", "routes: [{name: a, mode: sync, destination: {url: ftp://x}}]", `routes[0].destination.url`},
		{"durability", "durability: sometimes", `durability: must be fsync or none`},
		{"log_format", "log_format: logfmt", `log_format: must be text or json, got "logfmt"`},
		{"plugin path", "plugins: [{name: p}]", `plugins[0].path: must be set`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse([]byte(tc.yaml))
			if err != nil {
				t.Fatal(err)
			}
			err = c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate() = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestParseByteSize(t *testing.T) {
	for in, want := range map[string]int64{"65536": 65536, "512KiB": 512 << 10, "16MiB": 16 << 20, "1 GiB": 1 << 30, "2MB": 2 << 20} {
		if got, err := ParseByteSize(in); err != nil || got != want {
			t.Errorf("ParseByteSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-1", "12XB", "MiB"} {
		if _, err := ParseByteSize(in); err == nil {
			t.Errorf("ParseByteSize(%q) succeeded", in)
		}
	}
}
