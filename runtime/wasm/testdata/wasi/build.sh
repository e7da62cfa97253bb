#!/usr/bin/env bash
# Rebuilds the WASI command fixtures in this directory. Deterministic:
# unchanged sources and tool versions give the same bytes.
#
#   - upper-go.wasm    from upper-go/   Go, GOOS=wasip1 GOARCH=wasm
#   - upper-c.wasm     from c/upper.c   clang-14 --target=wasm32-wasi + wasi-libc + wasm-ld-14
#   - upper-rust.wasm  from rust/upper.rs  Debian's /usr/bin/rustc --target wasm32-wasi (no cargo)
#
# Debian 12 packages for C and Rust (see README.md):
#   apt-get install -y --no-install-recommends clang-14 lld-14 wasi-libc libclang-rt-14-dev-wasm32 \
#       rustc libstd-rust-dev-wasm32
#
# Usage: runtime/wasm/testdata/wasi/build.sh [go] [c] [rust]   (from anywhere; no argument: all three)
set -euo pipefail

cd "$(dirname "$0")"

CLANG=${CLANG:-clang-14}
# Debian's rustc on purpose: a rustup rustc earlier on PATH would name the
# target wasm32-wasip1 and give other bytes.
RUSTC=${RUSTC:-/usr/bin/rustc}

build_go() {
	echo "upper-go.wasm:   $(go version | cut -d' ' -f3)"
	(
		cd upper-go
		GOOS=wasip1 GOARCH=wasm GOWORK=off GOFLAGS= CGO_ENABLED=0 \
			go build -trimpath -buildvcs=false -ldflags=-s -o ../upper-go.wasm .
	)
}

build_c() {
	echo "upper-c.wasm:    $("$CLANG" --version | head -n1); $(wasm-ld-14 --version);" \
		"wasi-libc $(dpkg-query -W -f='${Version}' wasi-libc 2>/dev/null || echo '?')"
	local tmp
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' RETURN
	# Compile and link in two steps: clang runs binaryen's wasm-opt on the
	# linked module when it is given -O at link time and finds wasm-opt on
	# PATH, which would make the bytes depend on whether binaryen is installed.
	# -nostdlibinc: only the wasi-libc headers, never the host's /usr/include.
	"$CLANG" --target=wasm32-wasi -O2 -nostdlibinc -isystem /usr/include/wasm32-wasi \
		-Wall -Wextra -Werror -c -o "$tmp/upper.o" c/upper.c
	"$CLANG" --target=wasm32-wasi -s -o upper-c.wasm "$tmp/upper.o"
}

build_rust() {
	echo "upper-rust.wasm: $("$RUSTC" --version) (LLVM $("$RUSTC" -vV | sed -n 's/^LLVM version: //p')); linker rust-lld -> $(readlink /usr/bin/rust-lld || echo '?')"
	# The panic location in the module is the path given here: keep it relative.
	"$RUSTC" --target wasm32-wasi --edition 2021 --crate-name upper_rust \
		-O -C codegen-units=1 -C panic=abort -C debuginfo=0 -C strip=symbols \
		-o upper-rust.wasm rust/upper.rs
}

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(go c rust)
for t in "${targets[@]}"; do
	case "$t" in
	go) build_go ;;
	c) build_c ;;
	rust) build_rust ;;
	*) echo "build.sh: unknown target $t (want go, c or rust)" >&2; exit 2 ;;
	esac
done
files=()
for t in "${targets[@]}"; do files+=("upper-$t.wasm"); done
wc -c "${files[@]}"
sha256sum "${files[@]}"
