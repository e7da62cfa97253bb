// Package demo embeds the demo configuration and its plugins, so that
// `sluice serve` without --config runs routes demo-sync and demo-async with
// nothing else on disk. The plugins' sources are in src/ (their own Go
// module); `make plugins` rebuilds the .wasm files committed here.
package demo

import "embed"

// FS holds demo.yaml and the .wasm files it names.
//
//go:embed demo.yaml validator.wasm mapper.wasm
var FS embed.FS

// ConfigName is the config file inside FS.
const ConfigName = "demo.yaml"
