// Package config is Sluice's configuration as plain data: the YAML file's
// shape, its defaults and its validation. Loading a file resolves plugin paths
// relative to the file and rejects unknown keys, naming the key and its line.
// Nothing here starts anything; cmd/sluice merges flags over a loaded Config
// and hands it to the drivers.
package config
