// Package config is Sluice's configuration as plain data: the YAML file's
// shape, its defaults and its validation. Loading a file resolves plugin paths
// relative to the file and reports every problem of the file at once, in
// line order, each with its line and key: unknown keys (with the closest
// key of the same block), values of the wrong type, and what Validate finds.
// Nothing here starts anything; cmd/sluice merges flags over a loaded Config
// and hands it to the drivers.
package config
