#!/usr/bin/env bash
# Rebuilds every Go plugin with the Go toolchain alone.
#
# Layout: each plugins/<group>/src/ is one Go module; each of its directories holding a main.go is one plugin,
# built to plugins/<group>/<name>.wasm (next to src/, where the host embeds it from). The flags make the build
# reproducible: the same Go version and sources give the same bytes on any machine.
#
# Usage: plugins/build.sh            (from anywhere)
set -euo pipefail

cd "$(dirname "$0")"
export GOOS=wasip1 GOARCH=wasm GOWORK=off GOFLAGS= CGO_ENABLED=0

built=0
for mod in */src; do
	[[ -f "$mod/go.mod" ]] || continue
	for main in "$mod"/*/main.go; do
		[[ -f "$main" ]] || continue
		name=$(basename "$(dirname "$main")")
		out="../$name.wasm"
		echo "building $(dirname "$mod")/$name.wasm"
		(cd "$mod" && go build -buildmode=c-shared -trimpath -buildvcs=false -ldflags=-s -o "$out" "./$name")
		built=$((built + 1))
	done
done
echo "built $built plugin(s) with $(go version | cut -d' ' -f3)"
