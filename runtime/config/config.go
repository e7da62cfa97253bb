package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sluicehq/sluice/runtime/dispatch"
	"go.yaml.in/yaml/v3"
)

// Config is the whole file.
type Config struct {
	Listen      string `yaml:"listen"`
	AdminListen string `yaml:"admin_listen"` // admin API (plugins); "off" disables it
	DataDir     string `yaml:"data_dir"`
	WasmCache   string `yaml:"wasm_cache_dir"` // compiled plugins; default <data_dir>/wasm-cache
	// WasmCacheMaxSize caps the compilation cache (least recently used
	// entries go first); 0: 1GiB.
	WasmCacheMaxSize ByteSize `yaml:"wasm_cache_max_size"`
	Durability       string   `yaml:"durability"`    // fsync | none
	MaxBodySize      ByteSize `yaml:"max_body_size"` // per request
	// MinFreeDisk: below this much free space on the data dir's file system
	// new messages get 507 disk_full (default: 1GiB or 5% of the file
	// system, whichever is smaller; 0 turns the guard off).
	MinFreeDisk *ByteSize `yaml:"min_free_disk"`
	Workers     int       `yaml:"workers"` // 0: 8 × GOMAXPROCS
	// Memory is the budget of memory the log holds: half is the backlog's
	// default max_bytes (the messages waiting in memory), half Badger's
	// memtables (queue.SplitMemory). Default 1GiB.
	Memory      ByteSize `yaml:"memory"`
	Backlog     Backlog  `yaml:"backlog"`
	SyncTimeout Duration `yaml:"sync_timeout"` // how long a sync caller waits for its reply
	// Retention is how long final results are kept (default 168h = 7 days;
	// 0 keeps them forever). Dead letters stay until replayed or discarded.
	Retention *Duration `yaml:"retention"`
	// IdempotencyTTL is how long an Idempotency-Key is remembered (default 24h).
	IdempotencyTTL Duration `yaml:"idempotency_ttl"`
	Plugins        []Plugin `yaml:"plugins"`
	// PluginDefaults are the limits of every plugin that does not set its own.
	PluginDefaults PluginLimits `yaml:"plugin_defaults"`
	Routes         []Route      `yaml:"routes"`
	LogLevel       string       `yaml:"log_level"`  // debug | info | warn | error
	LogFormat      string       `yaml:"log_format"` // text | json
	Dispatch       Dispatcher   `yaml:"dispatch"`

	// RequireAuth makes every route declare an auth block.
	RequireAuth bool `yaml:"require_auth"`
	// AdminToken guards the admin API and lets an operator read every
	// result (Authorization: Bearer). Without one the admin listener may
	// only bind a loopback address.
	AdminToken    Secret `yaml:"admin_token"`
	AdminTokenEnv string `yaml:"admin_token_env"`
	// TLS serves the ingress over HTTPS; AdminTLS the admin API.
	TLS      *TLS `yaml:"tls"`
	AdminTLS *TLS `yaml:"admin_tls"`
	// HTTP bounds what a client may cost the ingress.
	HTTP HTTP `yaml:"http"`
	// Tracing exports spans over OTLP/HTTP (off by default).
	Tracing Tracing `yaml:"tracing"`

	// src is what Parse learnt about the file: where each key is and what
	// did not decode, for Validate to report every problem with its line.
	src *source
}

// TLS is a certificate and its key (PEM files), reloaded when they change.
type TLS struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// HTTP limits of the ingress listener: timeouts and caps that keep slow or
// hostile clients from taking the server's connections or memory.
type HTTP struct {
	// ReadHeaderTimeout bounds the time from a connection's (or a request's)
	// first byte to the end of its headers.
	ReadHeaderTimeout Duration `yaml:"read_header_timeout"`
	// MinBodyRate is the slowest a body may arrive (bytes per second): a
	// body of N bytes must arrive within read_header_timeout + N/min_body_rate.
	MinBodyRate ByteSize `yaml:"min_body_rate"`
	// WriteTimeout bounds writing one response.
	WriteTimeout Duration `yaml:"write_timeout"`
	// IdleTimeout closes a keep-alive connection that sends nothing.
	IdleTimeout Duration `yaml:"idle_timeout"`
	// MaxHeaderSize caps a request's header block (431 beyond).
	MaxHeaderSize ByteSize `yaml:"max_header_size"`
	// MaxHeaders caps the number of request headers (431 beyond).
	MaxHeaders int `yaml:"max_headers"`
	// MaxConnections caps open connections; MaxConnectionsPerIP those of
	// one client address (0: no per-address cap).
	MaxConnections      int `yaml:"max_connections"`
	MaxConnectionsPerIP int `yaml:"max_connections_per_ip"`
	// MaxInflightBytes caps the request bodies being received at once, all
	// connections together: past it a request gets 503 server_busy.
	MaxInflightBytes ByteSize `yaml:"max_inflight_bytes"`
	// ShutdownTimeout is how long shutting down waits for open requests
	// before it closes their connections.
	ShutdownTimeout Duration `yaml:"shutdown_timeout"`
	// MaxHops stops a message that went through Sluice this many times
	// (the Sluice-Hops header): 508 loop_detected.
	MaxHops int `yaml:"max_hops"`
}

// Auth verifies a route's sender before anything is stored.
type Auth struct {
	// Verify is the scheme: github, stripe, shopify, slack,
	// standard_webhooks, hmac or api_key.
	Verify string `yaml:"verify"`
	// Secrets (signature schemes), from the config, the environment or
	// files; several (a list, or several sources) are all accepted, for
	// rotation.
	Secret     SecretList `yaml:"secret"`
	SecretEnv  StringList `yaml:"secret_env"`
	SecretFile StringList `yaml:"secret_file"`
	// Keys (api_key): in the config, or separated by commas, spaces or
	// newlines in an environment variable or a file.
	Keys     SecretList `yaml:"keys"`
	KeysEnv  StringList `yaml:"keys_env"`
	KeysFile StringList `yaml:"keys_file"`
	// Generic hmac: the header holding the signature, the hash (sha256,
	// sha1, sha512), its encoding (hex, base64) and a prefix before it.
	Header    string `yaml:"header"`
	Algorithm string `yaml:"algorithm"`
	Encoding  string `yaml:"encoding"`
	Prefix    string `yaml:"prefix"`
	// IDHeader (hmac) names a header holding the sender's delivery id.
	IDHeader string `yaml:"id_header"`
	// Tolerance is how far a signed timestamp may be from now (stripe,
	// slack, standard_webhooks; default 5m).
	Tolerance Duration `yaml:"tolerance"`
}

// RateLimit is a token bucket: rps tokens a second, at most burst at once.
type RateLimit struct {
	RPS   float64 `yaml:"rps"`
	Burst int     `yaml:"burst"`
}

// Backlog bounds the messages accepted but not yet completed. Past either
// limit the ingress answers 503 with Retry-After.
type Backlog struct {
	MaxMessages int `yaml:"max_messages"`
	// MaxBytes: unset, half of memory for the global backlog (BacklogBytes)
	// and no limit of its own for a route's.
	MaxBytes *ByteSize `yaml:"max_bytes"`
}

// Bytes is MaxBytes, or def if it is unset.
func (b Backlog) Bytes(def int64) int64 {
	if b.MaxBytes == nil {
		return def
	}
	return int64(*b.MaxBytes)
}

// Dispatcher tunes the outgoing HTTP client.
type Dispatcher struct {
	MaxConnsPerHost int `yaml:"max_conns_per_host"`
	// MaxResponseSize caps a destination's answer body (default 16MiB);
	// past it the delivery fails with destination_response_too_large.
	MaxResponseSize ByteSize `yaml:"max_response_size"`
	// DenyNetworks refuses destinations and callbacks that resolve into
	// these ranges (checked when connecting, after DNS): named groups
	// (loopback, metadata, link_local, private, unspecified, all_internal)
	// or CIDRs. Empty (the default): any address.
	DenyNetworks []string `yaml:"deny_networks"`
}

// PluginLimits bound what a plugin may use. In a plugin entry, zero fields
// take the values of the top-level plugin_defaults, then the built-in ones.
type PluginLimits struct {
	MemoryLimit   ByteSize `yaml:"memory_limit"`    // linear memory cap; rounded up to 64 KiB pages
	Timeout       Duration `yaml:"timeout"`         // wall clock per call, behind fuel
	Fuel          int64    `yaml:"fuel"`            // per call: one unit per function call and loop iteration
	MaxDepth      int      `yaml:"max_depth"`       // call depth
	MaxOutput     ByteSize `yaml:"max_output"`      // bytes one call may output
	MaxModuleSize ByteSize `yaml:"max_module_size"` // refuse bigger modules before compiling
	// Structure, checked before compiling so that no module costs the
	// machine more than a bounded compile (see RATIONALE.md, WASM host).
	MaxFunctions    int      `yaml:"max_functions"`     // functions the module defines
	MaxFunctionSize ByteSize `yaml:"max_function_size"` // one function body
	MaxCodeSize     ByteSize `yaml:"max_code_size"`     // all function bodies
	MaxDeclarations int      `yaml:"max_declarations"`  // types, imports, globals, exports, segments, ... together
	MaxCompileWork  int64    `yaml:"max_compile_work"`  // estimated compile cost (1 unit ≈ 10–15 ns)
}

// Or returns l with its zero fields taken from d.
func (l PluginLimits) Or(d PluginLimits) PluginLimits {
	if l.MemoryLimit == 0 {
		l.MemoryLimit = d.MemoryLimit
	}
	if l.Timeout == 0 {
		l.Timeout = d.Timeout
	}
	if l.Fuel == 0 {
		l.Fuel = d.Fuel
	}
	if l.MaxDepth == 0 {
		l.MaxDepth = d.MaxDepth
	}
	if l.MaxOutput == 0 {
		l.MaxOutput = d.MaxOutput
	}
	if l.MaxModuleSize == 0 {
		l.MaxModuleSize = d.MaxModuleSize
	}
	if l.MaxFunctions == 0 {
		l.MaxFunctions = d.MaxFunctions
	}
	if l.MaxFunctionSize == 0 {
		l.MaxFunctionSize = d.MaxFunctionSize
	}
	if l.MaxCodeSize == 0 {
		l.MaxCodeSize = d.MaxCodeSize
	}
	if l.MaxDeclarations == 0 {
		l.MaxDeclarations = d.MaxDeclarations
	}
	if l.MaxCompileWork == 0 {
		l.MaxCompileWork = d.MaxCompileWork
	}
	return l
}

// Plugin is one WASM module.
type Plugin struct {
	Name   string `yaml:"name"`
	Path   string `yaml:"path"`   // relative to the config file
	SHA256 string `yaml:"sha256"` // optional: refuse a module with other contents
	// ABI is "native" (Sluice ABI v1, a warm reactor) or "wasi" (a WASI
	// command: stdin to stdout, one instance per message); empty detects it.
	ABI          string `yaml:"abi"`
	PluginLimits `yaml:",inline"`

	// Source, when set, is the module's bytes (embedded configs); Path is
	// then only a label.
	Source []byte `yaml:"-"`
}

// Route is one ingress path /in/{name}.
type Route struct {
	Name        string       `yaml:"name"`
	Mode        string       `yaml:"mode"` // sync | async
	Transforms  []string     `yaml:"transforms"`
	OrderBy     string       `yaml:"order_by"` // route | none | header:<Name> | json:<pointer>
	Destination *Destination `yaml:"destination"`
	Retry       *Retry       `yaml:"retry"` // async routes: retry failed deliveries
	// Backlog bounds this route's share of the backlog; past it the route
	// answers 429 with Retry-After (the global backlog answers 503).
	Backlog *Backlog `yaml:"backlog"`
	// Callback receives every final result of the route, signed as
	// Standard Webhooks signs.
	Callback *Callback `yaml:"callback"`
	// Validate checks a message before it is accepted (both patterns): an
	// invalid one is answered 422 and never stored.
	Validate *Validate `yaml:"validate"`
	// Accept lists the media types the route takes (others: 415); empty: any.
	Accept []string `yaml:"accept"`
	// ReplyTransforms are applied to the destination's answer before it goes
	// back to the source (sync) or into the result (async).
	ReplyTransforms []string `yaml:"reply_transforms"`
	// Auth verifies the sender (signature or API key) before anything is
	// stored; nil: anyone who reaches the port may post.
	Auth *Auth `yaml:"auth"`
	// RateLimit caps the route's accepted requests (429 rate_limited).
	RateLimit *RateLimit `yaml:"rate_limit"`
}

// Validate is a route's validation before acceptance.
type Validate struct {
	Schema  string   `yaml:"schema"`  // JSON Schema file (2020-12 unless it says otherwise), relative to the config
	Plugins []string `yaml:"plugins"` // validator plugins: may reject, never change the body
}

// Callback is where a route's final results are POSTed.
type Callback struct {
	URL     string   `yaml:"url"`
	Secret  Secret   `yaml:"secret"`  // "whsec_<base64>" (Standard Webhooks) or any string; empty: unsigned
	Timeout Duration `yaml:"timeout"` // default 10s
}

// Retry is a route's retry policy. Zero fields take the defaults below.
type Retry struct {
	MaxAttempts    int      `yaml:"max_attempts"`    // attempts in all, the first included (default 5)
	InitialBackoff Duration `yaml:"initial_backoff"` // before the 2nd attempt, doubling (default 1s)
	MaxBackoff     Duration `yaml:"max_backoff"`     // cap of one wait (default 5m)
	MaxAge         Duration `yaml:"max_age"`         // no attempt after this since arrival (default 24h)
	// On lists what is retried: timeout, connection, a status (503) or a
	// class (5xx). Default: timeout, connection, 408, 425, 429, 5xx.
	On []string `yaml:"on"`
	// OnDead: after the last attempt the message is a dead letter (status
	// dead); skip lets the key's next messages run, park holds the key until
	// the dead letter is replayed or discarded. Default skip.
	OnDead string `yaml:"on_dead"`
}

// Retries reports whether a failure with the dispatch error code and the
// destination's status (0: no answer) is retried. On must be valid.
func (r Retry) Retries(code string, status int) bool {
	for _, on := range r.On {
		switch {
		case on == "timeout" && code == dispatch.CodeTimeout:
			return true
		case on == "connection" && code == dispatch.CodeUnreachable:
			return true
		case status != 0 && len(on) == 3 && on[1:] == "xx" && int(on[0]-'0') == status/100:
			return true
		case status != 0 && on == strconv.Itoa(status):
			return true
		}
	}
	return false
}

var retryOn = regexp.MustCompile(`^(timeout|connection|[1-5]xx|[1-5][0-9][0-9])$`)

// Destination is where a transformed message is POSTed.
type Destination struct {
	URL     string            `yaml:"url"`
	Timeout Duration          `yaml:"timeout"`
	Headers map[string]string `yaml:"headers"`
	// ForwardHeaders lists source request headers passed on to the
	// destination (e.g. X-GitHub-Event); no other source header is.
	ForwardHeaders []string `yaml:"forward_headers"`
}

// Modes.
const (
	ModeSync  = "sync"
	ModeAsync = "async"
)

// Plugin ABIs.
const (
	ABINative = "native"
	ABIWASI   = "wasi"
)

var sha256Hex = regexp.MustCompile(`^[0-9a-f]{64}$`)

// checkLimits checks plugin limits; zero fields are the host's defaults
// (plugin_defaults, then the WASM host's built-in limits).
func checkLimits(key string, l PluginLimits, bad func(key, format string, args ...any)) {
	if l.MemoryLimit != 0 && (l.MemoryLimit < MinMemoryLimit || l.MemoryLimit > MaxMemoryLimit) {
		bad(key+".memory_limit", "must be between 64KiB and 4GiB (0 or unset: the default), got %d bytes", l.MemoryLimit)
	}
	if l.Timeout < 0 {
		bad(key+".timeout", "must not be negative (0 or unset: the default)")
	}
	if l.Fuel < 0 {
		bad(key+".fuel", "must not be negative (0 or unset: the default)")
	}
	if l.MaxDepth < 0 || l.MaxDepth > MaxMaxDepth {
		bad(key+".max_depth", "must be between 1 and %d (0 or unset: the default)", MaxMaxDepth)
	}
	if l.MaxOutput < 0 || l.MaxOutput > MaxBodySizeLimit {
		bad(key+".max_output", "must be between 1 byte and 1GiB (0 or unset: the default)")
	}
	for _, f := range []struct {
		name string
		v    int64
	}{{"max_functions", int64(l.MaxFunctions)}, {"max_function_size", int64(l.MaxFunctionSize)}, {"max_code_size", int64(l.MaxCodeSize)},
		{"max_declarations", int64(l.MaxDeclarations)}, {"max_compile_work", l.MaxCompileWork}, {"max_module_size", int64(l.MaxModuleSize)}} {
		if f.v < 0 {
			bad(key+"."+f.name, "must not be negative (0 or unset: the default)")
		}
	}
}

// Load reads a config file over Default(). Unknown keys are errors that name
// the key and its line; plugin paths are resolved relative to the file.
func Load(path string) (Config, error) {
	b, err := os.ReadFile(path) // #nosec G304 -- the config file the operator names
	if err != nil {
		return Config{}, fmt.Errorf("config: reading %s: %w", path, err)
	}
	c, err := Parse(b)
	if err != nil && c.src == nil { // not YAML
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	base := filepath.Dir(path)
	for i := range c.Plugins {
		if p := c.Plugins[i].Path; p != "" && !filepath.IsAbs(p) {
			c.Plugins[i].Path = filepath.Join(base, p)
		}
	}
	for i := range c.Routes {
		if v := c.Routes[i].Validate; v != nil && v.Schema != "" && !filepath.IsAbs(v.Schema) {
			v.Schema = filepath.Join(base, v.Schema)
		}
	}
	if c.WasmCache != "" && !filepath.IsAbs(c.WasmCache) {
		c.WasmCache = filepath.Join(base, c.WasmCache)
	}
	rel := func(p *string) {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(base, *p)
		}
	}
	for _, t := range []*TLS{c.TLS, c.AdminTLS} {
		if t != nil {
			rel(&t.CertFile)
			rel(&t.KeyFile)
		}
	}
	for i := range c.Routes {
		if a := c.Routes[i].Auth; a != nil {
			for j := range a.SecretFile {
				rel(&a.SecretFile[j])
			}
			for j := range a.KeysFile {
				rel(&a.KeysFile[j])
			}
		}
	}
	switch {
	case c.DataDir == "":
		c.DataDir = Default().DataDir // not in the file: relative to the working directory
	case !filepath.IsAbs(c.DataDir):
		c.DataDir = filepath.Join(base, c.DataDir)
	}
	if err != nil {
		// Some values did not decode: report them with every other
		// problem Validate can still see, in line order.
		var ps Problems
		errors.As(c.Validate(), &ps)
		return Config{}, &FileError{Path: path, Problems: ps}
	}
	return c, nil
}

// LoadFS reads a config from fsys (the embedded demo). Plugin paths are
// resolved inside fsys and their bytes loaded into Plugin.Source.
func LoadFS(fsys fs.FS, name string) (Config, error) {
	b, err := fs.ReadFile(fsys, name)
	if err != nil {
		return Config{}, fmt.Errorf("config: reading embedded %s: %w", name, err)
	}
	c, err := Parse(b)
	if err != nil {
		if c.src != nil {
			var ps Problems
			errors.As(c.Validate(), &ps)
			return Config{}, &FileError{Path: "embedded " + name, Problems: ps}
		}
		return Config{}, fmt.Errorf("embedded %s: %w", name, err)
	}
	if c.DataDir == "" {
		c.DataDir = Default().DataDir
	}
	for i := range c.Plugins {
		p := &c.Plugins[i]
		src, err := fs.ReadFile(fsys, p.Path)
		if err != nil {
			return Config{}, fmt.Errorf("config: plugin %q: %w", p.Name, err)
		}
		p.Source = src
	}
	return c, nil
}

// Parse decodes YAML over Default(), except that DataDir stays empty unless
// the YAML sets it (Load resolves it). It does not validate.
//
// When the YAML is not well-formed the error says where and Config is
// zero. When it is but some values are wrong (an unknown key, a value of
// the wrong type, a key set twice) the error is the Problems of decoding,
// every one with its line, and Config holds every value that did decode:
// its Validate reports those problems again together with its own, skipping
// the keys whose value did not decode.
func Parse(b []byte) (Config, error) {
	c := Default()
	c.DataDir = ""
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return c, nil // an empty file is the defaults
		}
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		switch {
		case errLine.MatchString(msg) || errNode.MatchString(msg):
		case errByte.MatchString(msg): // the decoder gives no line for a byte it cannot read
			msg = fmt.Sprintf("line %d: %s", badByteLine(b), msg)
		default: // nor for a syntax error on the first line
			msg = "line 1: " + msg
		}
		return Config{}, fmt.Errorf("parsing YAML: %s", strings.TrimSpace(msg))
	}
	root := &doc
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		root = doc.Content[0]
	}
	c.src = decode(root, &c)
	if len(c.src.probs) > 0 {
		return c, c.src.probs
	}
	return c, nil
}

var (
	errLine = regexp.MustCompile(`\bline \d+`)
	// errNode: errors about an anchor, alias, merge or !!binary value, which
	// name what to look for instead of a line.
	errNode = regexp.MustCompile(`anchor|alias|merge|!!binary`)
	// errByte: the decoder's errors about a byte it cannot read.
	errByte = regexp.MustCompile(`octet|UTF-8|UTF-16|Unicode|surrogate|control characters`)
)

// badByteLine returns the line of the first byte YAML does not allow (a
// control character, invalid UTF-8), or 1 if there is none (UTF-16).
func badByteLine(b []byte) int {
	line := 1
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		switch {
		case r == utf8.RuneError && n <= 1, r < 0x20 && r != '\t' && r != '\n' && r != '\r', r >= 0x7f && r <= 0x9f && r != 0x85,
			r == 0xfffe || r == 0xffff:
			return line
		case r == '\n':
			line++
		}
		b = b[n:]
	}
	return 1
}

// Validate checks every field and reports all problems (Problems), each
// naming its key and, for a config from Parse, its line, together with the
// problems of decoding, in line order.
func (c *Config) Validate() error {
	var probs Problems
	bad := func(key, format string, a ...any) {
		probs = append(probs, &Problem{Key: key, Msg: fmt.Sprintf(format, a...)})
	}
	if c.Listen == "" {
		bad("listen", "must be set, e.g. 127.0.0.1:8080")
	} else if _, port, ok := strings.Cut(c.Listen, ":"); !ok || port == "" {
		bad("listen", "%q is not host:port", c.Listen)
	}
	if c.DataDir == "" {
		bad("data_dir", "must be set")
	}
	if c.Durability != DurabilityFsync && c.Durability != DurabilityNone {
		bad("durability", "must be fsync or none, got %q", c.Durability)
	}
	if c.MaxBodySize <= 0 || c.MaxBodySize > MaxBodySizeLimit {
		bad("max_body_size", "must be between 1 byte and 1GiB")
	}
	if c.Dispatch.MaxResponseSize < 0 || c.Dispatch.MaxResponseSize > MaxBodySizeLimit {
		bad("dispatch.max_response_size", "must be between 1 byte and 1GiB (0: the default, 16MiB)")
	}
	if c.Dispatch.MaxConnsPerHost < 0 {
		bad("dispatch.max_conns_per_host", "must not be negative (0: the default, %d)", DefaultMaxConnsPerHost)
	}
	if c.Workers < 0 {
		bad("workers", "must be >= 0 (0 picks %d × GOMAXPROCS)", WorkersPerCPU)
	}
	if c.Memory < MinMemoryBudget {
		bad("memory", "must be at least %dMiB (the smallest budget the backlog and Badger's memtables fit in)", MinMemoryBudget>>20)
	}
	if c.Backlog.MaxMessages < 0 || c.Backlog.Bytes(0) < 0 {
		bad("backlog", "limits must be >= 0 (0 means unlimited)")
	}
	if c.Retention != nil && *c.Retention < 0 {
		bad("retention", "must be >= 0 (0 keeps results forever)")
	}
	if c.WasmCacheMaxSize < 0 {
		bad("wasm_cache_max_size", "must be >= 0 (0 picks 1GiB)")
	}
	if c.MinFreeDisk != nil && *c.MinFreeDisk < 0 {
		bad("min_free_disk", "must be >= 0 (0 turns the free-space guard off)")
	}
	idem := c.IdempotencyPeriod()
	if r := c.RetentionPeriod(); r > 0 && r < idem {
		bad("retention", "is shorter than idempotency_ttl (%s): replaying an Idempotency-Key needs its result", idem)
	}
	if c.IdempotencyTTL < 0 {
		bad("idempotency_ttl", "must not be negative (0 or unset: the default, %s)", DefaultIdempotencyTTL)
	}
	if c.SyncTimeout <= 0 {
		bad("sync_timeout", "must be positive")
	}
	if !slices.Contains(LogLevels, c.LogLevel) {
		bad("log_level", "must be debug, info, warn or error, got %q", c.LogLevel)
	}
	if !slices.Contains(LogFormats, c.LogFormat) {
		bad("log_format", "must be text or json, got %q", c.LogFormat)
	}
	c.validateTracing(bad)
	c.validateSecurity(bad)
	// checkName reports a malformed or repeated name of the given kind.
	checkName := func(key, kind, name string, seen map[string]bool) {
		if !validName.MatchString(name) {
			bad(key+".name", "%q must match %s", name, validName)
		} else if seen[name] {
			bad(key+".name", "duplicate %s %q", kind, name)
		}
		seen[name] = true
	}
	plugins := map[string]bool{}
	for i, p := range c.Plugins {
		key := fmt.Sprintf("plugins[%d]", i)
		checkName(key, "plugin", p.Name, plugins)
		if p.Path == "" && p.Source == nil {
			bad(key+".path", "must be set")
		}
		checkLimits(key, p.PluginLimits, bad)
		if p.SHA256 != "" && !sha256Hex.MatchString(p.SHA256) {
			bad(key+".sha256", "must be 64 lower-case hex digits (sha256sum FILE), got %q", p.SHA256)
		}
		if p.ABI != "" && p.ABI != ABINative && p.ABI != ABIWASI {
			bad(key+".abi", "must be native or wasi, got %q", p.ABI)
		}
	}
	checkLimits("plugin_defaults", c.PluginDefaults, bad)
	routes := map[string]bool{}
	for i, r := range c.Routes {
		key := fmt.Sprintf("routes[%d]", i)
		checkName(key, "route", r.Name, routes)
		if r.Mode != ModeSync && r.Mode != ModeAsync {
			bad(key+".mode", "must be sync or async, got %q", r.Mode)
		}
		if cb := r.Callback; cb != nil {
			c.checkURL(key+".callback.url", cb.URL, bad)
			if _, err := cb.SigningKey(); err != nil {
				bad(key+".callback.secret", "%v", err)
			}
			if cb.Timeout < 0 {
				bad(key+".callback.timeout", "must not be negative (0 or unset: the default, %s)", DefaultCallbackTimeout)
			}
		}
		if b := r.Backlog; b != nil && (b.MaxMessages < 0 || b.Bytes(0) < 0) {
			bad(key+".backlog", "limits must be >= 0 (0 means unlimited)")
		}
		if rt := r.Retry; rt != nil {
			if r.Mode == ModeSync {
				bad(key+".retry", "only async routes retry (a sync caller is waiting; it retries itself)")
			}
			if r.Destination == nil {
				bad(key+".retry", "needs a destination: only deliveries are retried")
			}
			if rt.MaxAttempts < 0 || rt.MaxAttempts > MaxRetryAttempts {
				bad(key+".retry.max_attempts", "must be between 1 and %d (0 or unset: the default, %d)", MaxRetryAttempts, DefaultRetryAttempts)
			}
			if rt.InitialBackoff < 0 || rt.MaxBackoff < 0 || rt.MaxAge < 0 {
				bad(key+".retry", "durations must not be negative (0 or unset: the default)")
			}
			if rt.MaxBackoff > 0 && rt.InitialBackoff > rt.MaxBackoff {
				bad(key+".retry.initial_backoff", "is longer than max_backoff")
			}
			if rt.OnDead != "" && rt.OnDead != OnDeadSkip && rt.OnDead != OnDeadPark {
				bad(key+".retry.on_dead", "must be skip or park, got %q", rt.OnDead)
			}
			for j, on := range rt.On {
				if !retryOn.MatchString(on) {
					bad(fmt.Sprintf("%s.retry.on[%d]", key, j), "must be timeout, connection, a status (503) or a class (5xx), got %q", on)
				}
			}
		}
		if v := r.Validate; v != nil {
			for j, t := range v.Plugins {
				if !plugins[t] {
					bad(fmt.Sprintf("%s.validate.plugins[%d]", key, j), "no plugin named %q", t)
				}
			}
		}
		for j, t := range r.ReplyTransforms {
			if !plugins[t] {
				bad(fmt.Sprintf("%s.reply_transforms[%d]", key, j), "no plugin named %q", t)
			}
		}
		if len(r.ReplyTransforms) > 0 && r.Destination == nil {
			bad(key+".reply_transforms", "needs a destination: they shape its answer")
		}
		for j, a := range r.Accept {
			if mt, _, err := mime.ParseMediaType(a); err != nil || !strings.Contains(mt, "/") {
				bad(fmt.Sprintf("%s.accept[%d]", key, j), "must be a media type like application/json, got %q", a)
			}
		}
		for j, t := range r.Transforms {
			if !plugins[t] {
				bad(fmt.Sprintf("%s.transforms[%d]", key, j), "no plugin named %q", t)
			}
		}
		if r.OrderBy != "" {
			if r.Mode == ModeSync {
				bad(key+".order_by", "applies to async routes only (sync routes run concurrently)")
			} else if _, _, err := ParseOrderBy(r.OrderBy); err != nil {
				bad(key+".order_by", "%v", err)
			}
		}
		if d := r.Destination; d != nil {
			c.checkURL(key+".destination.url", d.URL, bad)
			if d.Timeout < 0 {
				bad(key+".destination.timeout", "must not be negative (0 or unset: the default, %s)", DefaultDestinationTimeout)
			}
			for j, h := range d.ForwardHeaders {
				if !headerName.MatchString(h) {
					bad(fmt.Sprintf("%s.destination.forward_headers[%d]", key, j), "%q is not a header name", h)
				}
			}
		}
		c.validateRouteSecurity(key, &r, bad)
	}
	return c.src.report(probs)
}

var validName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// Ordering modes, from ParseOrderBy.
const (
	OrderRoute  = "route"
	OrderNone   = "none"
	OrderHeader = "header"
	OrderJSON   = "json"
)

// ParseOrderBy splits an order_by value into its mode and argument (header
// name or JSON pointer). Empty means route.
func ParseOrderBy(s string) (mode, arg string, err error) {
	switch {
	case s == "" || s == OrderRoute:
		return OrderRoute, "", nil
	case s == OrderNone:
		return OrderNone, "", nil
	case strings.HasPrefix(s, "header:"):
		arg = strings.TrimSpace(strings.TrimPrefix(s, "header:"))
		if arg == "" {
			return "", "", errors.New(`"header:" needs a header name, e.g. header:X-Customer-Id`)
		}
		return OrderHeader, arg, nil
	case strings.HasPrefix(s, "json:"):
		arg = strings.TrimPrefix(s, "json:")
		if !strings.HasPrefix(arg, "/") {
			return "", "", fmt.Errorf("%q needs a JSON pointer starting with /, e.g. json:/customer/id", s)
		}
		return OrderJSON, arg, nil
	}
	return "", "", fmt.Errorf(`must be route, none, "header:<Name>" or "json:<pointer>", got %q`, s)
}

// Duration is a time.Duration written as "5s", "250ms".
type Duration time.Duration

// D returns the time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: must be a duration (e.g. 5s, 250ms), got %s", n.Line, describeNode(n))
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration (e.g. 5s, 250ms)", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}

// ByteSize is a size written as 1048576, "512KiB", "16MiB", "1GiB" (or KB/MB/GB, also powers of 1024).
type ByteSize int64

func (s *ByteSize) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: must be a size (e.g. 65536, 512KiB, 16MiB), got %s", n.Line, describeNode(n))
	}
	v, err := ParseByteSize(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %v", n.Line, err)
	}
	*s = ByteSize(v)
	return nil
}

// ParseByteSize parses a size such as "16MiB".
func ParseByteSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1 << 10}, {"MB", 1 << 20}, {"GB", 1 << 30}, {"B", 1}} {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("%q is not a size (e.g. 65536, 512KiB, 16MiB)", s)
	}
	return n * mult, nil
}
