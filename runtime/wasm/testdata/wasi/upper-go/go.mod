module github.com/sluicehq/sluice/runtime/wasm/testdata/wasi/upper-go

go 1.26
