#!/usr/bin/env bash
# Builds order-to-invoice.wasm from assembly/index.ts and the AssemblyScript SDK (sdk/assemblyscript) with the
# AssemblyScript compiler pinned in package-lock.json (assemblyscript 0.28.20, which pins its binaryen).
# Options are in asconfig.json, which extends the SDK's: the incremental runtime, and abort/trace/seed routed
# to the SDK so that the module imports nothing but the "sluice" host functions. Deterministic: it builds
# twice, compares the bytes, checks the module's imports and exports, and only then replaces
# order-to-invoice.wasm.
#
# Needs Node.js >= 20 and npm >= 10 (Debian 12: apt-get install -y nodejs npm gives Node 18, too old; use
# NodeSource's nodejs 20 or later), and wabt's wasm-objdump for the checks (apt-get install -y wabt).
#
# Usage: plugins/order-to-invoice/assemblyscript/build.sh   (from anywhere)
set -euo pipefail

cd "$(dirname "$0")"

OUT=order-to-invoice.wasm

npm ci --no-audit --no-fund --loglevel=error
echo "node $(node --version), asc $(npx --no-install asc --version)"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

build() {
	mkdir -p "$1"
	npx --no-install asc --config asconfig.json --target release -o "$1/$OUT"
}

build "$tmp/a"
build "$tmp/b"
if ! cmp -s "$tmp/a/$OUT" "$tmp/b/$OUT"; then
	echo "build.sh: two builds differ:" >&2
	sha256sum "$tmp/a/$OUT" "$tmp/b/$OUT" >&2
	exit 1
fi

# Imports: only functions of module "sluice". Exports: exactly the ABI's (no _start). No custom sections.
imports=$(wasm-objdump -j Import -x "$tmp/a/$OUT" | grep -- '<-' || true)
if grep -qv ' <- sluice\.' <<<"$imports"; then
	echo "build.sh: imports from outside the sluice module:" >&2
	echo "$imports" >&2
	exit 1
fi
exports=$(wasm-objdump -j Export -x "$tmp/a/$OUT" | grep -o '"[^"]*"$' | sort | tr '\n' ' ')
if [[ $exports != '"memory" "sluice_abi_version" "sluice_alloc" "sluice_transform" ' ]]; then
	echo "build.sh: exports $exports, want memory sluice_abi_version sluice_alloc sluice_transform" >&2
	exit 1
fi
if wasm-objdump -h "$tmp/a/$OUT" | grep -q 'Custom'; then
	echo "build.sh: custom sections left:" >&2
	wasm-objdump -h "$tmp/a/$OUT" >&2
	exit 1
fi

mv "$tmp/a/$OUT" "$OUT"
chmod 644 "$OUT"
wc -c "$OUT"
sha256sum "$OUT"
