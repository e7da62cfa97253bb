module github.com/sluicehq/sluice/plugins/order-to-invoice/go

go 1.26

require github.com/sluicehq/sluice/sdk/go v0.0.0

replace github.com/sluicehq/sluice/sdk/go => ../../../sdk/go
