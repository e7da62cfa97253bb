#!/usr/bin/env bash
# Builds order-to-invoice.wasm (the committed module) from src/ with Debian's Rust toolchain, offline and
# reproducibly: the same toolchain and sources give the same bytes in any directory.
#
# Needs (Debian 12): apt-get install -y --no-install-recommends rustc cargo libstd-rust-dev-wasm32 lld-14
# That is rustc 1.63 and cargo 1.65 at /usr/bin; a rustup toolchain earlier on PATH is never used. No crates
# are fetched: the plugin depends on the SDK in sdk/rust alone.
#
# It builds for both wasm32 targets the SDK supports and ships the wasm32-unknown-unknown module, which imports
# only the host's "sluice" module; the wasm32-wasi build is checked the same way and stays in target/.
# Release profile: Cargo.toml; stack size: .cargo/config.toml.
#
# Usage: plugins/order-to-invoice/rust/build.sh   (from anywhere)
set -euo pipefail

cd "$(dirname "$0")"
ship=wasm32-unknown-unknown
targets=(wasm32-unknown-unknown wasm32-wasi)
out=order-to-invoice.wasm

root=$(cd ../../.. && pwd) # the repository: its absolute path must not reach the module
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Nothing from the caller's Rust environment: no rustup proxies, no ~/.cargo config or registry, no flags.
unset RUSTFLAGS CARGO_ENCODED_RUSTFLAGS CARGO_BUILD_RUSTFLAGS RUSTC_WRAPPER RUSTC_WORKSPACE_WRAPPER \
	CARGO_BUILD_TARGET CARGO_BUILD_TARGET_DIR CARGO_INCREMENTAL RUSTUP_TOOLCHAIN
export RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc CARGO_HOME="$tmp/cargo-home" CARGO_TARGET_DIR="$PWD/target"

# cargo 1.65 derives each crate's -C metadata (which salts every symbol name, and so the order of functions in
# the module) from the absolute path of a path dependency outside the package, here the SDK: the bytes would
# depend on where the repository is checked out. This wrapper replaces it with the crate's name, which is
# unique in this two-crate graph.
cat >"$tmp/rustc" <<'WRAPPER'
#!/usr/bin/env bash
rustc=$1
shift
args=() name=
for a in "$@"; do
	[[ ${prev:-} == --crate-name ]] && name=$a
	prev=$a
	args+=("$a")
done
for i in "${!args[@]}"; do
	[[ ${args[$i]} == metadata=* && -n $name ]] && args[$i]="metadata=sluice-$name"
done
exec "$rustc" "${args[@]}"
WRAPPER
chmod +x "$tmp/rustc"
export RUSTC_WRAPPER="$tmp/rustc"

# check TARGET MODULE: the exports the host needs, no _start, imports from the host (and WASI) only, no custom
# sections. Skipped without wabt's wasm-objdump.
check() {
	local target=$1 wasm=$2 allowed='sluice'
	command -v wasm-objdump >/dev/null || return 0
	[[ $target == wasm32-wasi ]] && allowed='sluice|wasi_snapshot_preview1'
	local exports
	exports=$(wasm-objdump -j Export -x "$wasm")
	for want in memory sluice_abi_version sluice_alloc sluice_transform; do
		grep -q "\"$want\"" <<<"$exports" || { echo "build.sh: $target: export $want is missing" >&2; exit 1; }
	done
	if grep -q '"_start"' <<<"$exports"; then
		echo "build.sh: $target: exports _start: not a reactor" >&2
		exit 1
	fi
	if wasm-objdump -j Import -x "$wasm" | grep -- ' <- ' | grep -Ev " <- ($allowed)\." >&2; then
		echo "build.sh: $target: imports beyond $allowed (above)" >&2
		exit 1
	fi
	if wasm-objdump -h "$wasm" | grep -q 'Custom'; then
		echo "build.sh: $target: custom sections left:" >&2
		wasm-objdump -h "$wasm" >&2
		exit 1
	fi
}

for target in "${targets[@]}"; do
	echo "building order-to-invoice for $target"
	# --config adds to the target's rustflags in .cargo/config.toml (cargo merges the arrays).
	/usr/bin/cargo build --release --locked --offline --target "$target" \
		--config "target.$target.rustflags=[\"--remap-path-prefix=$root=/sluice\"]"
	check "$target" "target/$target/release/order_to_invoice.wasm"
done
install -m 644 "target/$ship/release/order_to_invoice.wasm" "$out"
echo "built $out ($ship, $(wc -c <"$out") bytes, sha256 $(sha256sum "$out" | cut -c1-16)) with $(/usr/bin/rustc --version)"
