// Package sdk holds the guest SDKs' sources as data, for `sluice plugin new`: the command writes a plugin project
// with a copy of its language's SDK, taken from the binary, so that a plugin builds outside this repository
// without a network or a clone.
//
// The SDKs themselves live in the directories next to this file (sdk/c, sdk/rust, ...) and are embedded from
// there, except the Go SDK: sdk/go is its own Go module, which go:embed cannot reach, so _go holds a copy of its
// files (a directory the go tool ignores: the copy is never compiled into this module). TestGoCopy fails when
// the copy drifts from sdk/go; `go test ./sdk -run TestGoCopy -update` refreshes it.
//
// Nothing here runs: the files are source text for the plugin author's toolchain, never code of the host.
package sdk
