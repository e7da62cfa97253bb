package server

import (
	"bytes"
	"errors"
	"fmt"

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
	Listen      string  `yaml:"listen"`
	AdminListen string  `yaml:"admin_listen"` // "off": two servers run side by side
	DataDir     string  `yaml:"data_dir"`
	Durability  string  `yaml:"durability"`
	Routes      []Route `yaml:"routes"`
}

// Route is one ingest route. The benchmark's route has no transforms and no
// destination: the worker only records a result.
type Route struct {
	Name    string `yaml:"name"`
	Mode    string `yaml:"mode"`     // "async": 202 once durable
	OrderBy string `yaml:"order_by"` // "none": no per-key ordering
}

// BenchRoute is the route name the load generator posts to (/in/<name>).
const BenchRoute = "bench"

// BenchConfig returns the configuration for the async ingest benchmark.
func BenchConfig(listen, dataDir, durability string) SluiceConfig {
	return SluiceConfig{
		Listen:      listen,
		AdminListen: "off",
		DataDir:     dataDir,
		Durability:  durability,
		Routes:      []Route{{Name: BenchRoute, Mode: "async", OrderBy: "none"}},
	}
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
	for i, r := range c.Routes {
		if r.Name == "" {
			return fmt.Errorf("%w: routes[%d].name is empty", errBadSluiceConfig, i)
		}
	}
	return nil
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
