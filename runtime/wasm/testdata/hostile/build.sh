#!/usr/bin/env bash
# Rebuilds the hostile fixtures in this directory. Deterministic: unchanged sources give the same bytes.
#
#   - every X.wat  -> X.wasm        with wabt's wat2wasm (1.0.32; apt-get install wabt)
#   - truncated.wasm                the first half of unreachable.wasm (head -c)
#   - gopanic.wasm                  the Go guest in gopanic/, with the flags of plugins/build.sh
#
# notwasm.wasm is not built: it is a committed text file.
#
# Usage: runtime/wasm/testdata/hostile/build.sh   (from anywhere)
set -euo pipefail

cd "$(dirname "$0")"

for wat in *.wat; do
	echo "wat2wasm $wat"
	wat2wasm "$wat" -o "${wat%.wat}.wasm"
done

size=$(wc -c < unreachable.wasm)
head -c "$((size / 2))" unreachable.wasm > truncated.wasm
echo "truncated.wasm: first $((size / 2)) of $size bytes of unreachable.wasm"

echo "building gopanic.wasm with $(go version | cut -d' ' -f3)"
(
	cd gopanic
	GOOS=wasip1 GOARCH=wasm GOWORK=off GOFLAGS= CGO_ENABLED=0 \
		go build -buildmode=c-shared -trimpath -buildvcs=false -ldflags=-s -o ../gopanic.wasm .
)
