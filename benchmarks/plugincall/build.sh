#!/bin/sh
# Rebuilds testdata/*.wasm from testdata/*.wat with wabt's wat2wasm (apt-get install -y wabt).
# The output is deterministic: an unchanged .wat gives the same bytes.
# The Sluice upper-case plugin is not here: the benchmark loads runtime/wasm/testdata/upper.wasm.
set -eu
cd "$(dirname "$0")/testdata"
for f in *.wat; do
	wat2wasm "$f" -o "${f%.wat}.wasm"
	echo "built testdata/${f%.wat}.wasm"
done
