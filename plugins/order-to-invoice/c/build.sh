#!/usr/bin/env bash
# Builds order-to-invoice.wasm from order_to_invoice.c and the C SDK (sdk/c), as a WASI reactor: it exports
# _initialize (wasi-libc's reactor start file), never _start. Deterministic: it builds twice, compares the
# bytes, and only then replaces order-to-invoice.wasm.
#
# Debian 12 packages (apt-get update first):
#   apt-get install -y --no-install-recommends clang-14 lld-14 wasi-libc libclang-rt-14-dev-wasm32
#
# Usage: plugins/order-to-invoice/c/build.sh   (from anywhere)
set -euo pipefail

cd "$(dirname "$0")"

CLANG=${CLANG:-clang-14}
SDK=../../../sdk/c
OUT=order-to-invoice.wasm

echo "$("$CLANG" --version | head -n1); $(wasm-ld-14 --version);" \
	"wasi-libc $(dpkg-query -W -f='${Version}' wasi-libc 2>/dev/null || echo '?')"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# build DIR: compile and link in two steps. clang runs binaryen's wasm-opt on the linked module when the link
# command has -O and wasm-opt is on PATH, which would make the bytes depend on whether binaryen is installed;
# linking without -O keeps it out. -nostdlibinc: only the wasi-libc headers, never the host's /usr/include.
# -s strips the name section; the module has no custom sections at all (checked below).
build() {
	local dir=$1
	mkdir -p "$dir"
	local cflags=(--target=wasm32-wasi -O2 -std=c11 -nostdlibinc -isystem /usr/include/wasm32-wasi
		-I"$SDK" -Wall -Wextra -Wpedantic -Werror)
	"$CLANG" "${cflags[@]}" -c -o "$dir/sluice.o" "$SDK/sluice.c"
	"$CLANG" "${cflags[@]}" -c -o "$dir/order_to_invoice.o" order_to_invoice.c
	"$CLANG" --target=wasm32-wasi -mexec-model=reactor -s -o "$dir/$OUT" \
		"$dir/order_to_invoice.o" "$dir/sluice.o"
}

build "$tmp/a"
build "$tmp/b"
if ! cmp -s "$tmp/a/$OUT" "$tmp/b/$OUT"; then
	echo "build.sh: two builds differ:" >&2
	sha256sum "$tmp/a/$OUT" "$tmp/b/$OUT" >&2
	exit 1
fi

if command -v wasm-objdump >/dev/null; then
	exports=$(wasm-objdump -j Export -x "$tmp/a/$OUT")
	for want in _initialize memory sluice_abi_version sluice_alloc sluice_transform; do
		grep -q "\"$want\"" <<<"$exports" || { echo "build.sh: export $want is missing" >&2; exit 1; }
	done
	if grep -q '"_start"' <<<"$exports"; then
		echo "build.sh: exports _start: not a reactor" >&2
		exit 1
	fi
	if wasm-objdump -h "$tmp/a/$OUT" | grep -q 'Custom'; then
		echo "build.sh: custom sections left:" >&2
		wasm-objdump -h "$tmp/a/$OUT" >&2
		exit 1
	fi
fi

mv "$tmp/a/$OUT" "$OUT"
chmod 644 "$OUT"
wc -c "$OUT"
sha256sum "$OUT"
