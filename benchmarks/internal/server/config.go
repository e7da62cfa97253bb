package server

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"go.yaml.in/yaml/v3"
)

var errBadSluiceConfig = errors.New("server: invalid sluice config")

// Durability values of the Sluice configuration.
const (
	DurabilityFsync = "fsync" // the 202 leaves after the group commit's fsync
	DurabilityNone  = "none"  // the 202 leaves after the write, before any fsync
)

// SluiceConfig is the subset of Sluice's configuration file the benchmark
// writes. It mirrors the documented file format; it is not Sluice's own
// config type, so the harness does not import the server it measures.
type SluiceConfig struct {
	Listen string `yaml:"listen"`
	// AdminListen is the admin API's address, where GET /v1/stats (the
	// backlog the harness reads) is served: a loopback host:port of its own
	// for every server of a suite, since they run side by side, or AdminOff.
	// No admin_token is set, which Sluice allows on loopback only.
	AdminListen string   `yaml:"admin_listen"`
	DataDir     string   `yaml:"data_dir"`
	Durability  string   `yaml:"durability"`
	Plugins     []Plugin `yaml:"plugins,omitempty"`
	Routes      []Route  `yaml:"routes"`
	Tracing     *Tracing `yaml:"tracing,omitempty"`
}

// Tracing turns span export on.
type Tracing struct {
	OTLPEndpoint string  `yaml:"otlp_endpoint"` // base URL: Sluice POSTs to its /v1/traces
	SampleRatio  float64 `yaml:"sample_ratio"`
}

// AdminOff is the AdminListen value that disables the admin API; the
// configs below start with it and the harness sets an address.
const AdminOff = "off"

// Plugin is a WASM transform module, referenced by name from routes.
type Plugin struct {
	Name string `yaml:"name"`
	Path string `yaml:"path"`
}

// Route is one ingest route.
type Route struct {
	Name        string       `yaml:"name"`
	Mode        string       `yaml:"mode"`               // "async": 202 once durable; "sync": the destination's answer
	OrderBy     string       `yaml:"order_by,omitempty"` // async only: "none", "route" (strict FIFO), "header:<Name>", "json:<pointer>"
	Transforms  []string     `yaml:"transforms,omitempty"`
	Destination *Destination `yaml:"destination,omitempty"`
	Backlog     *Backlog     `yaml:"backlog,omitempty"`
	Auth        *Auth        `yaml:"auth,omitempty"`
}

// Auth makes a route verify its sender before anything is stored.
type Auth struct {
	Verify string `yaml:"verify"` // the scheme; the harness signs VerifyGitHub only
	Secret string `yaml:"secret"` // the signing secret, in the file
}

// VerifyGitHub is the auth scheme of a route that checks
// X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, raw body)>.
const VerifyGitHub = "github"

// Destination is where a route delivers the transformed message.
type Destination struct {
	URL string `yaml:"url"`
}

// Backlog is a route's share of the backlog; past it Sluice answers 429.
type Backlog struct {
	MaxMessages int `yaml:"max_messages"`
}

// Route names the load generator posts to (/in/<name>).
const (
	BenchRoute = "bench" // async, no destination: the ingest benchmark
	E2ERoute   = "e2e"   // async, destination: the end-to-end benchmark
	SyncRoute  = "sync"  // sync, destination: the sync latency benchmark
	// OrderingRoute is async with a destination and an ordering mode: the
	// ordering benchmark.
	OrderingRoute = "order"
)

// UpperPlugin is the name of the transform plugin in the configs below.
const UpperPlugin = "upper"

// Ordering modes of a route (Sluice's order_by).
const (
	OrderNone  = "none"  // messages run as soon as a worker is free
	OrderRoute = "route" // strict FIFO: one message of the route at a time
)

// OrderByHeader is the order_by value that orders per key, the key being
// the named request header.
func OrderByHeader(name string) string { return "header:" + name }

// BenchConfig returns the configuration for the async ingest benchmark: one
// route without transforms or destination (the worker only records a
// result).
func BenchConfig(listen, dataDir, durability string) SluiceConfig {
	return SluiceConfig{
		Listen:      listen,
		AdminListen: AdminOff,
		DataDir:     dataDir,
		Durability:  durability,
		Routes:      []Route{{Name: BenchRoute, Mode: "async", OrderBy: OrderNone}},
	}
}

// VerifyConfig returns the ingest benchmark's configuration (durability
// fsync) with the route verifying GitHub signatures made with secret.
func VerifyConfig(listen, dataDir, secret string) SluiceConfig {
	c := BenchConfig(listen, dataDir, DurabilityFsync)
	c.Routes[0].Auth = &Auth{Verify: VerifyGitHub, Secret: secret}
	return c
}

// E2EConfig returns the configuration for the end-to-end benchmark: an
// async route without ordering that delivers to destURL, through the
// transform module at wasmPath if it is not empty. backlog > 0 caps the
// route's backlog (Sluice answers 429 past it).
func E2EConfig(listen, dataDir, destURL, wasmPath string, backlog int) SluiceConfig {
	c := BenchConfig(listen, dataDir, DurabilityFsync)
	r := Route{Name: E2ERoute, Mode: "async", OrderBy: OrderNone, Destination: &Destination{URL: destURL}}
	if backlog > 0 {
		r.Backlog = &Backlog{MaxMessages: backlog}
	}
	c.Routes = []Route{withTransform(&c, r, wasmPath)}
	return c
}

// TracedConfig is E2EConfig with every trace recorded (sample_ratio 1) and
// exported to the OTLP/HTTP endpoint otlpURL.
func TracedConfig(listen, dataDir, destURL, wasmPath, otlpURL string) SluiceConfig {
	c := E2EConfig(listen, dataDir, destURL, wasmPath, 0)
	c.Tracing = &Tracing{OTLPEndpoint: otlpURL, SampleRatio: 1}
	return c
}

// SyncConfig returns the configuration for the sync benchmark: a sync route
// that delivers to destURL, through the transform at wasmPath if not empty.
func SyncConfig(listen, dataDir, destURL, wasmPath string) SluiceConfig {
	c := BenchConfig(listen, dataDir, DurabilityFsync)
	r := Route{Name: SyncRoute, Mode: "sync", Destination: &Destination{URL: destURL}}
	c.Routes = []Route{withTransform(&c, r, wasmPath)}
	return c
}

// OrderingConfig returns the configuration for the ordering benchmark: the
// e2e route (async, delivering to destURL through the transform at wasmPath
// if not empty) named OrderingRoute, with the given order_by and its backlog
// capped at backlog messages (0: no cap).
func OrderingConfig(listen, dataDir, destURL, wasmPath, orderBy string, backlog int) SluiceConfig {
	c := E2EConfig(listen, dataDir, destURL, wasmPath, backlog)
	c.Routes[0].Name = OrderingRoute
	c.Routes[0].OrderBy = orderBy
	return c
}

// RestartConfig returns the configuration for the restart benchmark: one
// async route per plugin, named after it, that runs it (no destination), so
// that Sluice compiles every plugin before it answers /healthz.
func RestartConfig(listen, dataDir string, plugins []Plugin) SluiceConfig {
	c := BenchConfig(listen, dataDir, DurabilityFsync)
	c.Plugins = plugins
	c.Routes = nil
	for _, p := range plugins {
		c.Routes = append(c.Routes, Route{Name: p.Name, Mode: "async", OrderBy: OrderNone, Transforms: []string{p.Name}})
	}
	return c
}

func withTransform(c *SluiceConfig, r Route, wasmPath string) Route {
	if wasmPath != "" {
		c.Plugins = []Plugin{{Name: UpperPlugin, Path: wasmPath}}
		r.Transforms = []string{UpperPlugin}
	}
	return r
}

// Validate reports the first key that would make Sluice refuse the file or
// measure something else than intended.
func (c SluiceConfig) Validate() error {
	switch {
	case c.Listen == "":
		return fmt.Errorf("%w: listen is empty", errBadSluiceConfig)
	case c.DataDir == "":
		return fmt.Errorf("%w: data_dir is empty", errBadSluiceConfig)
	case c.Durability != DurabilityFsync && c.Durability != DurabilityNone:
		return fmt.Errorf("%w: durability %q (want %q or %q)", errBadSluiceConfig,
			c.Durability, DurabilityFsync, DurabilityNone)
	case len(c.Routes) == 0:
		return fmt.Errorf("%w: routes is empty", errBadSluiceConfig)
	}
	if err := c.validateAdmin(); err != nil {
		return err
	}
	for i, r := range c.Routes {
		if r.Name == "" {
			return fmt.Errorf("%w: routes[%d].name is empty", errBadSluiceConfig, i)
		}
		if r.Mode != "sync" && r.Mode != "async" {
			return fmt.Errorf("%w: routes[%d].mode %q (want sync or async)", errBadSluiceConfig, i, r.Mode)
		}
		if r.Destination != nil && r.Destination.URL == "" {
			return fmt.Errorf("%w: routes[%d].destination.url is empty", errBadSluiceConfig, i)
		}
		if !validOrderBy(r.OrderBy) || (r.OrderBy != "" && r.Mode == "sync") {
			return fmt.Errorf("%w: routes[%d].order_by %q (async routes: none, route, header:<Name> or json:/<pointer>)",
				errBadSluiceConfig, i, r.OrderBy)
		}
		if a := r.Auth; a != nil && (a.Verify != VerifyGitHub || a.Secret == "") {
			return fmt.Errorf("%w: routes[%d].auth needs verify: %s and a secret", errBadSluiceConfig, i, VerifyGitHub)
		}
	}
	for i, p := range c.Plugins {
		if p.Name == "" || p.Path == "" {
			return fmt.Errorf("%w: plugins[%d] needs a name and a path", errBadSluiceConfig, i)
		}
	}
	return nil
}

// validateAdmin checks admin_listen: AdminOff, or a loopback address with a
// port (Sluice refuses another address without an admin token; port 0 would
// bind a port the harness cannot know) that is not the ingress's.
func (c SluiceConfig) validateAdmin() error {
	if c.AdminListen == AdminOff {
		return nil
	}
	ap, err := netip.ParseAddrPort(c.AdminListen)
	if err != nil || !ap.Addr().IsLoopback() || ap.Port() == 0 {
		return fmt.Errorf("%w: admin_listen %q (want %q or a loopback ip:port)", errBadSluiceConfig, c.AdminListen, AdminOff)
	}
	if c.AdminListen == c.Listen {
		return fmt.Errorf("%w: admin_listen %s is also listen", errBadSluiceConfig, c.AdminListen)
	}
	return nil
}

// validOrderBy checks the syntax of an order_by value; "" is Sluice's
// default (route).
func validOrderBy(s string) bool {
	switch {
	case s == "" || s == OrderNone || s == OrderRoute:
		return true
	case strings.HasPrefix(s, "header:"):
		return strings.TrimSpace(strings.TrimPrefix(s, "header:")) != ""
	case strings.HasPrefix(s, "json:"):
		return strings.HasPrefix(strings.TrimPrefix(s, "json:"), "/")
	}
	return false
}

// Render validates c and returns it as YAML.
func (c SluiceConfig) Render() ([]byte, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(c); err != nil {
		return nil, fmt.Errorf("encoding sluice config: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encoding sluice config: %w", err)
	}
	return buf.Bytes(), nil
}
