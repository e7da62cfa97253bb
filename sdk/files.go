package sdk

import "embed"

// Files holds each SDK's files, by language: go (the copy in _go), rust, c, assemblyscript, zig. The patterns
// name what a plugin build needs (and each SDK's README), never build outputs or node_modules.
//
//go:embed _go/*.go _go/README.md
//go:embed rust/Cargo.toml rust/README.md rust/src/*.rs rust/examples/*.rs
//go:embed c/sluice.h c/sluice.c c/README.md
//go:embed assemblyscript/package.json assemblyscript/asconfig.json assemblyscript/index.ts
//go:embed assemblyscript/testhost.js assemblyscript/README.md assemblyscript/assembly/*.ts
//go:embed assemblyscript/assembly/tsconfig.json
//go:embed zig/sluice.zig zig/README.md
var Files embed.FS

// Dir returns the directory in [Files] that holds the SDK for lang (go, rust, c, assemblyscript or zig), and
// whether there is one.
func Dir(lang string) (string, bool) {
	switch lang {
	case "go":
		return "_go", true
	case "rust", "c", "assemblyscript", "zig":
		return lang, true
	}
	return "", false
}
