package config

import (
	"runtime"
	"time"
)

// Every default of Sluice's configuration, and every bound Validate puts on
// a value, is a named constant of this file: Default() and DefaultHTTP() are
// built from them, Validate's messages quote them, and the zeros that mean
// "the default" are resolved here (WithDefaults, WorkerCount, TimeoutOrDefault,
// ...) before a value reaches another package. The packages on the data path take the values they are given.

// Top-level defaults.
const (
	DefaultListen      = "127.0.0.1:8080"
	DefaultAdminListen = "127.0.0.1:8081"
	DefaultDataDir     = "./data"
	DefaultDurability  = DurabilityFsync
	DefaultLogLevel    = "info"
	DefaultLogFormat   = LogFormatText
	DefaultMaxBodySize = 16 << 20
	// DefaultBacklogMessages bounds the messages accepted but not
	// completed; their bytes are bounded by half of memory (BacklogBytes).
	DefaultBacklogMessages = 100_000
	// DefaultMemory is memory's default: with it Badger gets 64MiB
	// memtables, 4 queued (queue.SplitMemory), and the backlog 512MiB (its
	// fixed default before the budget). Smaller budgets cost ingest CPU:
	// 256MiB (16MiB memtables) took ~40% more per message (RATIONALE.md,
	// "Memory budget").
	DefaultMemory = 1 << 30
	// MinMemoryBudget is memory's smallest value (queue.MinMemory).
	MinMemoryBudget       = 16 << 20
	DefaultSyncTimeout    = 30 * time.Second
	DefaultIdempotencyTTL = 24 * time.Hour
	// DefaultRetention is how long final results are kept.
	DefaultRetention        = 7 * 24 * time.Hour
	DefaultWasmCacheMaxSize = 1 << 30
	// WorkersPerCPU × GOMAXPROCS workers unless workers says otherwise.
	WorkersPerCPU = 8
	// AdminListenOff turns the admin listener off.
	AdminListenOff = "off"
)

// Durability values.
const (
	DurabilityFsync = "fsync"
	DurabilityNone  = "none"
)

// LogLevels are log_level's values.
var LogLevels = []string{"debug", "info", "warn", "error"}

// Log formats: slog's key=value text or one JSON object per line.
const (
	LogFormatText = "text"
	LogFormatJSON = "json"
)

// LogFormats are log_format's values.
var LogFormats = []string{LogFormatText, LogFormatJSON}

// Dispatch, destination and callback defaults.
const (
	DefaultMaxConnsPerHost    = 512
	DefaultMaxResponseSize    = 16 << 20
	DefaultDestinationTimeout = 10 * time.Second
	DefaultCallbackTimeout    = 10 * time.Second
)

// HTTP defaults (the ingress listener's limits).
const (
	DefaultReadHeaderTimeout   = 10 * time.Second
	DefaultMinBodyRate         = 64 << 10
	DefaultWriteTimeout        = 30 * time.Second
	DefaultIdleTimeout         = 2 * time.Minute
	DefaultMaxHeaderSize       = 16 << 10
	DefaultMaxHeaders          = 100
	DefaultMaxConnections      = 10_000
	DefaultMaxConnectionsPerIP = 1_000
	DefaultMaxInflightBytes    = 256 << 20
	DefaultShutdownTimeout     = 30 * time.Second
	DefaultMaxHops             = 8
)

// Retry defaults.
const (
	DefaultRetryAttempts       = 5
	DefaultRetryInitialBackoff = time.Second
	DefaultRetryMaxBackoff     = 5 * time.Minute
	DefaultRetryMaxAge         = 24 * time.Hour
	DefaultOnDead              = OnDeadSkip
)

// on_dead values.
const (
	OnDeadSkip = "skip"
	OnDeadPark = "park"
)

// DefaultRetryOn is what a retry policy retries unless it says otherwise.
var DefaultRetryOn = []string{"timeout", "connection", "408", "425", "429", "5xx"}

// Bounds Validate enforces (inclusive); their messages quote these.
const (
	MaxBodySizeLimit    = 1 << 30 // max_body_size, dispatch.max_response_size, plugins' max_output
	MinMemoryLimit      = 64 << 10
	MaxMemoryLimit      = 4 << 30
	MaxMaxDepth         = 1_000_000
	MinHeaderSizeLimit  = 1 << 10
	MaxHeaderSizeLimit  = 1 << 20
	MaxRetryAttempts    = 1000
	MinAdminTokenLength = 16
)

// Default returns a Config with every default filled in and no routes.
func Default() Config {
	return Config{
		Listen:      DefaultListen,
		AdminListen: DefaultAdminListen,
		DataDir:     DefaultDataDir,
		Durability:  DefaultDurability,
		MaxBodySize: DefaultMaxBodySize,
		Memory:      DefaultMemory,
		Backlog:     Backlog{MaxMessages: DefaultBacklogMessages},
		SyncTimeout: Duration(DefaultSyncTimeout),
		LogLevel:    DefaultLogLevel,
		LogFormat:   DefaultLogFormat,
		Dispatch:    Dispatcher{MaxConnsPerHost: DefaultMaxConnsPerHost, MaxResponseSize: DefaultMaxResponseSize},
		HTTP:        DefaultHTTP(),
	}
}

// DefaultHTTP returns the ingress listener's default limits.
func DefaultHTTP() HTTP {
	return HTTP{
		ReadHeaderTimeout:   Duration(DefaultReadHeaderTimeout),
		MinBodyRate:         DefaultMinBodyRate,
		WriteTimeout:        Duration(DefaultWriteTimeout),
		IdleTimeout:         Duration(DefaultIdleTimeout),
		MaxHeaderSize:       DefaultMaxHeaderSize,
		MaxHeaders:          DefaultMaxHeaders,
		MaxConnections:      DefaultMaxConnections,
		MaxConnectionsPerIP: DefaultMaxConnectionsPerIP,
		MaxInflightBytes:    DefaultMaxInflightBytes,
		ShutdownTimeout:     Duration(DefaultShutdownTimeout),
		MaxHops:             DefaultMaxHops,
	}
}

// WithDefaults returns r with its zero fields filled in.
func (r Retry) WithDefaults() Retry {
	if r.MaxAttempts == 0 {
		r.MaxAttempts = DefaultRetryAttempts
	}
	if r.InitialBackoff == 0 {
		r.InitialBackoff = Duration(DefaultRetryInitialBackoff)
	}
	if r.MaxBackoff == 0 {
		r.MaxBackoff = Duration(DefaultRetryMaxBackoff)
	}
	if r.MaxAge == 0 {
		r.MaxAge = Duration(DefaultRetryMaxAge)
	}
	if len(r.On) == 0 {
		r.On = DefaultRetryOn
	}
	if r.OnDead == "" {
		r.OnDead = DefaultOnDead
	}
	return r
}

// RetentionPeriod is the configured retention or the default (0: forever).
func (c *Config) RetentionPeriod() time.Duration {
	if c.Retention == nil {
		return DefaultRetention
	}
	return c.Retention.D()
}

// IdempotencyPeriod is the configured idempotency_ttl or the default.
func (c *Config) IdempotencyPeriod() time.Duration {
	if c.IdempotencyTTL > 0 {
		return c.IdempotencyTTL.D()
	}
	return DefaultIdempotencyTTL
}

// BacklogBytes is backlog.max_bytes, or half of memory if it is unset:
// the backlog's messages are held in memory, and the other half is
// Badger's (queue.SplitMemory).
func (c *Config) BacklogBytes() int64 { return c.Backlog.Bytes(int64(c.Memory) / 2) }

// WorkerCount is the configured worker count or the default.
func (c *Config) WorkerCount() int {
	if c.Workers > 0 {
		return c.Workers
	}
	return WorkersPerCPU * runtime.GOMAXPROCS(0)
}

// WasmCacheSize is the configured wasm_cache_max_size or the default.
func (c *Config) WasmCacheSize() int64 {
	if c.WasmCacheMaxSize > 0 {
		return int64(c.WasmCacheMaxSize)
	}
	return DefaultWasmCacheMaxSize
}

// ConnsPerHost is dispatch.max_conns_per_host or the default.
func (d Dispatcher) ConnsPerHost() int {
	if d.MaxConnsPerHost > 0 {
		return d.MaxConnsPerHost
	}
	return DefaultMaxConnsPerHost
}

// ResponseSizeLimit is dispatch.max_response_size or the default.
func (d Dispatcher) ResponseSizeLimit() int {
	if d.MaxResponseSize > 0 {
		return int(d.MaxResponseSize)
	}
	return DefaultMaxResponseSize
}

// TimeoutOrDefault is the destination's timeout or the default.
func (d Destination) TimeoutOrDefault() time.Duration {
	if d.Timeout > 0 {
		return d.Timeout.D()
	}
	return DefaultDestinationTimeout
}

// TimeoutOrDefault is the callback's timeout or the default.
func (cb Callback) TimeoutOrDefault() time.Duration {
	if cb.Timeout > 0 {
		return cb.Timeout.D()
	}
	return DefaultCallbackTimeout
}
