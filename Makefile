# Sluice's front door. `make run` and `make test` need only Go.
GO        ?= go
BIN       ?= bin/sluice
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X main.version=$(VERSION)
FUZZTIME  ?= 20s

.PHONY: run build test test-short plugins check fmt vet tidy bench bench-plugins fuzz clean

## run: start Sluice on the embedded demo config (Badger in ./data)
run: build
	./$(BIN) serve

## build: build the single binary into bin/sluice
build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/sluice

## test: every test, race detector on (host module, the Go SDK, the demo plugins' unit tests)
test:
	$(GO) test -race -count=1 -timeout 20m ./...
	cd sdk/go && $(GO) test -race -count=1 ./...
	cd plugins/demo/src && $(GO) test -race -count=1 ./...
	cd plugins/order-to-invoice/go && GOWORK=off $(GO) test -count=1 ./...

## test-short: skip the tests that build and crash the binary
test-short:
	$(GO) test -short -count=1 ./...

## plugins: rebuild every committed .wasm plugin from source with Go alone
plugins:
	./plugins/build.sh

## check: vet, gofmt and go.mod tidiness (fails on any difference)
check: vet
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	@cp go.mod /tmp/sluice.go.mod.bak && cp go.sum /tmp/sluice.go.sum.bak && $(GO) mod tidy && \
	  if ! git diff --quiet -- go.mod go.sum; then echo "go.mod/go.sum not tidy:"; git diff -- go.mod go.sum; \
	  cp /tmp/sluice.go.mod.bak go.mod; cp /tmp/sluice.go.sum.bak go.sum; exit 1; fi
	@for m in sdk/go plugins/demo/src runtime/wasm/testdata/hostile/gopanic runtime/wasm/testdata/wasi/upper-go plugins/order-to-invoice/go; do (cd $$m && $(GO) vet ./... && GOOS=wasip1 GOARCH=wasm $(GO) vet ./...) || exit 1; done
	cd benchmarks/plugincall && $(GO) vet ./...

vet:
	$(GO) vet ./...

fmt:
	gofmt -w $$(git ls-files '*.go')

## bench: the load benchmarks (sluice vs a bare fasthttp handler, a sink and a by-hand baseline; body sizes, ordering modes, restart time), ~9 min
bench:
	$(GO) run ./benchmarks/cmd/ingest

## bench-plugins: plugin call cost, bare wazero vs Sluice vs the Extism Go SDK (own module), metering cost, memory per instance
bench-plugins:
	cd benchmarks/plugincall && $(GO) test -run '^$$' -bench . -count 6
	$(GO) test -run '^$$' -bench BenchmarkMetering -count 6 ./runtime/wasm/wasmbin
	$(GO) test -run '^$$' -bench BenchmarkInstanceMemory -benchtime 5x -count 3 ./runtime/wasm

## fuzz: bounded fuzzing of the decoders and the JSON pointer parser
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) ./queue
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) ./runtime/results
	$(GO) test -run '^$$' -fuzz '^FuzzJSONPointer$$' -fuzztime $(FUZZTIME) ./runtime/ingress
	$(GO) test -run '^$$' -fuzz '^FuzzInstrument$$' -fuzztime $(FUZZTIME) ./runtime/wasm/wasmbin

clean:
	rm -rf bin
