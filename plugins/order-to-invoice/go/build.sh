#!/usr/bin/env bash
# Builds order-to-invoice.wasm with the Go toolchain alone (reproducible: same Go, same bytes).
set -euo pipefail
cd "$(dirname "$0")"
export GOOS=wasip1 GOARCH=wasm GOWORK=off GOFLAGS= CGO_ENABLED=0
go build -buildmode=c-shared -trimpath -buildvcs=false -ldflags=-s -o order-to-invoice.wasm .
echo "order-to-invoice.wasm ($(go version | cut -d' ' -f3)): $(wc -c < order-to-invoice.wasm) bytes"
