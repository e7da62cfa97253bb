package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBounds: for every bounded value, the boundary is accepted, one past it
// is refused, and the message names the key and says the bound it checks.
func TestBounds(t *testing.T) {
	plugin := func(f func(*Plugin)) func(*Config) {
		return func(c *Config) {
			p := Plugin{Name: "p", Path: "p.wasm"}
			f(&p)
			c.Plugins = []Plugin{p}
		}
	}
	route := func(f func(*Route)) func(*Config) {
		return func(c *Config) {
			r := Route{Name: "r", Mode: ModeAsync, Destination: &Destination{URL: "http://example.com/"}}
			f(&r)
			c.Routes = []Route{r}
		}
	}
	for _, tc := range []struct {
		name     string
		ok, bad  []func(*Config)
		key, msg string
	}{
		{"memory_limit",
			[]func(*Config){plugin(func(p *Plugin) { p.MemoryLimit = 0 }), plugin(func(p *Plugin) { p.MemoryLimit = MinMemoryLimit }), plugin(func(p *Plugin) { p.MemoryLimit = MaxMemoryLimit })},
			[]func(*Config){plugin(func(p *Plugin) { p.MemoryLimit = 1 }), plugin(func(p *Plugin) { p.MemoryLimit = MinMemoryLimit - 1 }), plugin(func(p *Plugin) { p.MemoryLimit = MaxMemoryLimit + 1 })},
			"plugins[0].memory_limit", "must be between 64KiB and 4GiB"},
		{"plugin_defaults.memory_limit",
			[]func(*Config){func(c *Config) { c.PluginDefaults.MemoryLimit = MinMemoryLimit }},
			[]func(*Config){func(c *Config) { c.PluginDefaults.MemoryLimit = MinMemoryLimit - 1 }},
			"plugin_defaults.memory_limit", "must be between 64KiB and 4GiB"},
		{"max_depth",
			[]func(*Config){plugin(func(p *Plugin) { p.MaxDepth = 1 }), plugin(func(p *Plugin) { p.MaxDepth = MaxMaxDepth })},
			[]func(*Config){plugin(func(p *Plugin) { p.MaxDepth = -1 }), plugin(func(p *Plugin) { p.MaxDepth = MaxMaxDepth + 1 })},
			"plugins[0].max_depth", fmt.Sprintf("must be between 1 and %d", MaxMaxDepth)},
		{"max_output",
			[]func(*Config){plugin(func(p *Plugin) { p.MaxOutput = 1 }), plugin(func(p *Plugin) { p.MaxOutput = 1 << 30 })},
			[]func(*Config){plugin(func(p *Plugin) { p.MaxOutput = -1 }), plugin(func(p *Plugin) { p.MaxOutput = 1<<30 + 1 })},
			"plugins[0].max_output", "must be between 1 byte and 1GiB"},
		{"plugin timeout",
			[]func(*Config){plugin(func(p *Plugin) { p.Timeout = 0 }), plugin(func(p *Plugin) { p.Timeout = 1 })},
			[]func(*Config){plugin(func(p *Plugin) { p.Timeout = -1 })},
			"plugins[0].timeout", "must not be negative"},
		{"max_compile_work",
			[]func(*Config){plugin(func(p *Plugin) { p.MaxCompileWork = 0 })},
			[]func(*Config){plugin(func(p *Plugin) { p.MaxCompileWork = -1 })},
			"plugins[0].max_compile_work", "must not be negative"},
		{"max_body_size",
			[]func(*Config){func(c *Config) { c.MaxBodySize = 1 }, func(c *Config) { c.MaxBodySize = 1 << 30; c.HTTP.MaxInflightBytes = 1 << 30 }},
			[]func(*Config){func(c *Config) { c.MaxBodySize = 0 }, func(c *Config) { c.MaxBodySize = 1<<30 + 1; c.HTTP.MaxInflightBytes = 2 << 30 }},
			"max_body_size", "must be between 1 byte and 1GiB"},
		{"dispatch.max_response_size",
			[]func(*Config){func(c *Config) { c.Dispatch.MaxResponseSize = 0 }, func(c *Config) { c.Dispatch.MaxResponseSize = 1 << 30 }},
			[]func(*Config){func(c *Config) { c.Dispatch.MaxResponseSize = -1 }, func(c *Config) { c.Dispatch.MaxResponseSize = 1<<30 + 1 }},
			"dispatch.max_response_size", "must be between 1 byte and 1GiB"},
		{"dispatch.max_conns_per_host",
			[]func(*Config){func(c *Config) { c.Dispatch.MaxConnsPerHost = 0 }, func(c *Config) { c.Dispatch.MaxConnsPerHost = 1 }},
			[]func(*Config){func(c *Config) { c.Dispatch.MaxConnsPerHost = -1 }},
			"dispatch.max_conns_per_host", "must not be negative"},
		{"http.max_header_size",
			[]func(*Config){func(c *Config) { c.HTTP.MaxHeaderSize = 1 << 10 }, func(c *Config) { c.HTTP.MaxHeaderSize = 1 << 20 }},
			[]func(*Config){func(c *Config) { c.HTTP.MaxHeaderSize = 1<<10 - 1 }, func(c *Config) { c.HTTP.MaxHeaderSize = 1<<20 + 1 }},
			"http.max_header_size", "must be between 1KiB and 1MiB"},
		{"http.max_inflight_bytes",
			[]func(*Config){func(c *Config) { c.HTTP.MaxInflightBytes = c.MaxBodySize }},
			[]func(*Config){func(c *Config) { c.HTTP.MaxInflightBytes = c.MaxBodySize - 1 }},
			"http.max_inflight_bytes", "must be at least max_body_size"},
		{"idempotency_ttl",
			[]func(*Config){func(c *Config) { c.IdempotencyTTL = 0 }, func(c *Config) { c.IdempotencyTTL = 1 }},
			[]func(*Config){func(c *Config) { c.IdempotencyTTL = -1 }},
			"idempotency_ttl", "must not be negative"},
		{"retry.max_attempts",
			[]func(*Config){route(func(r *Route) { r.Retry = &Retry{MaxAttempts: 1} }), route(func(r *Route) { r.Retry = &Retry{MaxAttempts: MaxRetryAttempts} })},
			[]func(*Config){route(func(r *Route) { r.Retry = &Retry{MaxAttempts: -1} }), route(func(r *Route) { r.Retry = &Retry{MaxAttempts: MaxRetryAttempts + 1} })},
			"routes[0].retry.max_attempts", fmt.Sprintf("must be between 1 and %d", MaxRetryAttempts)},
		{"destination.timeout",
			[]func(*Config){route(func(r *Route) { r.Destination.Timeout = 0 })},
			[]func(*Config){route(func(r *Route) { r.Destination.Timeout = -1 })},
			"routes[0].destination.timeout", "must not be negative"},
		{"rate_limit.burst",
			[]func(*Config){route(func(r *Route) { r.RateLimit = &RateLimit{RPS: 1, Burst: 0} }), route(func(r *Route) { r.RateLimit = &RateLimit{RPS: 1, Burst: 1} })},
			[]func(*Config){route(func(r *Route) { r.RateLimit = &RateLimit{RPS: 1, Burst: -1} })},
			"routes[0].rate_limit.burst", "must not be negative"},
		{"admin_token",
			[]func(*Config){func(c *Config) { c.AdminToken = Secret(strings.Repeat("x", MinAdminTokenLength)) }},
			[]func(*Config){func(c *Config) { c.AdminToken = Secret(strings.Repeat("x", MinAdminTokenLength-1)) }},
			"admin_token", fmt.Sprintf("at least %d characters", MinAdminTokenLength)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for i, f := range tc.ok {
				c := Default()
				f(&c)
				if err := c.Validate(); err != nil {
					t.Errorf("accepted value %d refused: %v", i, err)
				}
			}
			for i, f := range tc.bad {
				c := Default()
				f(&c)
				err := c.Validate()
				var probs Problems
				if !errors.As(err, &probs) || len(probs) != 1 {
					t.Errorf("value %d past the bound: got %v, want one problem", i, err)
					continue
				}
				if p := probs[0]; p.Key != tc.key || !strings.Contains(p.Msg, tc.msg) {
					t.Errorf("value %d past the bound: %q, want key %s and a message saying %q", i, p, tc.key, tc.msg)
				}
			}
		})
	}
}

// TestDefaultsResolved: every accessor that resolves a zero gives the named
// default, and an explicit value wins.
func TestDefaultsResolved(t *testing.T) {
	var c Config
	if c.IdempotencyPeriod() != DefaultIdempotencyTTL || c.WasmCacheSize() != DefaultWasmCacheMaxSize ||
		c.Dispatch.ConnsPerHost() != DefaultMaxConnsPerHost || c.Dispatch.ResponseSizeLimit() != DefaultMaxResponseSize ||
		c.RetentionPeriod() != DefaultRetention || (Destination{}).TimeoutOrDefault() != DefaultDestinationTimeout ||
		(Callback{}).TimeoutOrDefault() != DefaultCallbackTimeout {
		t.Error("a zero does not resolve to its default")
	}
	c = Config{IdempotencyTTL: Duration(time.Hour), WasmCacheMaxSize: 1, Dispatch: Dispatcher{MaxConnsPerHost: 3, MaxResponseSize: 4}}
	if c.IdempotencyPeriod() != time.Hour || c.WasmCacheSize() != 1 || c.Dispatch.ConnsPerHost() != 3 || c.Dispatch.ResponseSizeLimit() != 4 {
		t.Error("an explicit value does not win over the default")
	}
	r := Retry{}.WithDefaults()
	if r.MaxAttempts != DefaultRetryAttempts || r.OnDead != OnDeadSkip || len(r.On) != len(DefaultRetryOn) {
		t.Errorf("retry defaults: %+v", r)
	}
	if err := func() error { c := Default(); return c.Validate() }(); err != nil {
		t.Errorf("the defaults do not validate: %v", err)
	}
}

// TestProvision: what only provisioning finds (a schema that does not
// compile, a secret_env that is unset) is reported as a problem with its key
// and line, like Validate's; a good config is provisioned.
func TestProvision(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "bad.json"), []byte(`{"type": 12}`), 0o644)
	os.WriteFile(filepath.Join(dir, "good.json"), []byte(`{"type": "object", "required": ["id"]}`), 0o644)
	write := func(yaml string) string {
		p := filepath.Join(dir, "sluice.yaml")
		if err := os.WriteFile(p, []byte(yaml), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	c, err := Load(write(`routes:
  - name: a
    mode: async
    validate:
      schema: bad.json
  - name: b
    mode: sync
    auth: {verify: github, secret_env: SLUICE_TEST_UNSET_SECRET}
`))
	if err != nil {
		t.Fatal(err)
	}
	os.Unsetenv("SLUICE_TEST_UNSET_SECRET")
	_, err = c.Provision()
	var probs Problems
	if !errors.As(err, &probs) {
		t.Fatalf("Provision: %v, want Problems", err)
	}
	got := err.Error()
	for _, want := range []string{"line 8: routes[1].auth: ", "SLUICE_TEST_UNSET_SECRET"} {
		if !strings.Contains(got, want) {
			t.Errorf("Provision's problems:\n%s\nwant %q", got, want)
		}
	}

	// The secret set, the schema is what is left: found by Provision only.
	t.Setenv("SLUICE_TEST_UNSET_SECRET", "s3cret")
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	_, err = c.Provision()
	if !errors.As(err, &probs) || len(probs) != 1 || probs[0].Key != "routes[0].validate.schema" || probs[0].Line != 5 {
		t.Fatalf("Provision: %v, want one problem at line 5, routes[0].validate.schema", err)
	}

	c, err = Load(write(`dispatch: {deny_networks: [loopback]}
routes:
  - name: a
    mode: async
    order_by: "json:/id"
    validate: {schema: good.json}
    destination: {url: "http://example.com/"}
    callback: {url: "http://example.com/cb", secret: "whsec_c2VjcmV0"}
`))
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.Provision()
	if err != nil {
		t.Fatal(err)
	}
	r := p.Routes[0]
	if p.Config != &c || r.Name != "a" || r.Schema == nil || r.OrderMode != OrderJSON || r.OrderArg != "/id" ||
		string(r.CallbackSecret) != "secret" || len(p.DenyNetworks) == 0 || r.Verifier != nil {
		t.Errorf("provisioned: %+v, route %+v", p, r)
	}
}
