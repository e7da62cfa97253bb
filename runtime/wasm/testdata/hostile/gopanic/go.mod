module github.com/sluicehq/sluice/runtime/wasm/testdata/hostile/gopanic

go 1.26

require github.com/sluicehq/sluice/sdk/go v0.0.0

replace github.com/sluicehq/sluice/sdk/go => ../../../../../sdk/go
