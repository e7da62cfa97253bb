# Sluice's front door. `make run` and `make test` need only Go.
GO        ?= go
BIN       ?= bin/sluice
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X main.version=$(VERSION)
FUZZTIME  ?= 20s
# FUZZTIME_TEST: the short fuzzing pass at the end of `make test`, in executions (~5-10 s each; "" skips it).
# A count, not a duration: a duration can end in a spurious "context deadline exceeded" (go.dev/issue/75804,
# fixed in Go 1.27).
FUZZTIME_TEST ?= 30000x
# Every fuzz target, as package:Target (`make fuzz` fails if one is missing).
FUZZ_TARGETS := \
	internal/wire:FuzzReader \
	queue:FuzzDecode \
	runtime/results:FuzzDecode \
	runtime/config:FuzzConfig \
	runtime/ingress:FuzzIngress \
	runtime/ingress:FuzzParsePrefer \
	runtime/ingress:FuzzParseWait \
	runtime/ingress:FuzzRequestPath \
	runtime/ingress:FuzzHopCount \
	runtime/ingress:FuzzOrderKey \
	runtime/ingress:FuzzJSONPointer \
	runtime/verify:FuzzVerify \
	runtime/verify:FuzzParseStripeSignature \
	runtime/verify:FuzzParseSignatureList \
	runtime/verify:FuzzDecodeSignature \
	runtime/verify:FuzzJSONTopLevelString \
	runtime/wasm/wasmbin:FuzzInstrument \
	runtime/wasm/wasmbin:FuzzCodeStats

.PHONY: run build install test test-short test-benchmarks plugins check fmt vet tidy security bench bench-tracing bench-floor bench-plugins fuzz clean

## run: build, then start Sluice on the embedded demo config (Badger in ./data; delete it to start empty)
run: build
	@echo "make run: starting $(BIN) serve (data in $(CURDIR)/data; Ctrl-C stops it)"
	./$(BIN) serve

## build: build the single binary into bin/sluice (the first build downloads the server's modules and compiles
## them: ~35 s on 2 cores; later builds take a second or two)
build:
	@echo "make build: building $(BIN) $(VERSION) (the first build downloads and compiles the dependencies, ~35 s)"
	@start=$$(date +%s); $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/sluice && \
	  echo "make build: $(BIN) built in $$(( $$(date +%s) - start )) s"

## install: put `sluice` on the PATH: go install into $(go env GOBIN), or $(go env GOPATH)/bin when GOBIN is unset
install:
	$(GO) install -trimpath -ldflags '$(LDFLAGS)' ./cmd/sluice
	@dir=$$($(GO) env GOBIN); [ -n "$$dir" ] || dir=$$($(GO) env GOPATH)/bin; \
	  echo "make install: installed $$dir/sluice"; \
	  case ":$$PATH:" in *":$$dir:"*) ;; *) echo "make install: $$dir is not on your PATH; add it, e.g. export PATH=\"$$dir:\$$PATH\"";; esac

## test: every test, race detector on (server module, the Go SDK, the demo plugins' unit tests; fuzz targets on
## their seed corpora), then a short real fuzzing pass of the ingress and of sender verification (FUZZTIME_TEST).
## The benchmark harness is its own module (benchmarks/, with its charting dependencies): test-benchmarks.
test:
	$(GO) test -race -count=1 -timeout 20m ./...
	cd sdk/go && $(GO) test -race -count=1 ./...
	cd plugins/demo/src && $(GO) test -race -count=1 ./...
	cd plugins/order-to-invoice/go && GOWORK=off $(GO) test -count=1 ./...
ifneq ($(FUZZTIME_TEST),)
	$(GO) test -run '^$$' -fuzz '^FuzzIngress$$' -fuzztime $(FUZZTIME_TEST) ./runtime/ingress
	$(GO) test -run '^$$' -fuzz '^FuzzVerify$$' -fuzztime $(FUZZTIME_TEST) ./runtime/verify
endif

## test-benchmarks: the benchmark harness's own tests (its module downloads gonum/plot for the charts)
test-benchmarks:
	cd benchmarks && $(GO) test -race -count=1 ./...

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
	@cd benchmarks && cp go.mod /tmp/sluice-bench.go.mod.bak && cp go.sum /tmp/sluice-bench.go.sum.bak && $(GO) mod tidy && \
	  if ! git diff --quiet -- go.mod go.sum; then echo "benchmarks/go.mod/go.sum not tidy:"; git diff -- go.mod go.sum; \
	  cp /tmp/sluice-bench.go.mod.bak go.mod; cp /tmp/sluice-bench.go.sum.bak go.sum; exit 1; fi
	cd benchmarks && $(GO) vet ./...
	@for m in sdk/go plugins/demo/src runtime/wasm/testdata/hostile/gopanic runtime/wasm/testdata/wasi/upper-go plugins/order-to-invoice/go; do (cd $$m && $(GO) vet ./... && GOOS=wasip1 GOARCH=wasm $(GO) vet ./...) || exit 1; done
	cd benchmarks/plugincall && $(GO) vet ./...

vet:
	$(GO) vet ./...

## security: go vet and gosec (pinned; installed on first use), failing on findings not accepted in the code or .ci/gosec-accepted
security:
	.ci/security

fmt:
	gofmt -w $$(git ls-files '*.go')

## bench: the load benchmarks (sluice vs a bare fasthttp handler, a sink and a by-hand baseline; body sizes, ordering modes, restart time), ~9 min
bench:
	cd benchmarks && $(GO) run ./cmd/ingest

## bench-floor: Sluice beside the least any durable design does here (ingest, 64 KiB, e2e, sync), ~3 min
bench-floor:
	cd benchmarks && $(GO) run ./cmd/ingest -suites floor -rounds 3 -out ""

## bench-tracing: e2e delivery with every span exported over OTLP/HTTP vs tracing off (opt-in suite), ~1 min
bench-tracing:
	cd benchmarks && $(GO) run ./cmd/ingest -suites tracing -extra-rounds 5 -extra-warmup 1s -extra-measure 3s -out ""

## bench-plugins: plugin call cost, bare wazero vs Sluice vs the Extism Go SDK (own module), metering cost, memory per instance
bench-plugins:
	cd benchmarks/plugincall && $(GO) test -run '^$$' -bench . -count 6
	$(GO) test -run '^$$' -bench BenchmarkMetering -count 6 ./runtime/wasm/wasmbin
	$(GO) test -run '^$$' -bench BenchmarkInstanceMemory -benchtime 5x -count 3 ./runtime/wasm

## fuzz: every fuzz target (FUZZ_TARGETS) for FUZZTIME each: the ingress, the config loader, the signature
## parsers, the decoders and the WASM instrumenter (~7 min at the default 20s)
fuzz:
	@for f in $$(grep -rl --include='*_test.go' '^func Fuzz' --exclude-dir=testdata --exclude-dir=node_modules .); do \
	  d=$${f%/*}; d=$${d#./}; \
	  for t in $$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' $$f); do \
	    case " $(FUZZ_TARGETS) " in *" $$d:$$t "*) ;; *) echo "make fuzz: $$d:$$t is not in FUZZ_TARGETS"; exit 1;; esac; \
	  done; \
	done
	@set -e; log=$$(mktemp); trap 'rm -f $$log' EXIT; for pt in $(FUZZ_TARGETS); do \
	  echo "== $${pt%%:*} $${pt##*:}"; \
	  if $(GO) test -run '^$$' -fuzz "^$${pt##*:}\$$" -fuzztime $(FUZZTIME) ./$${pt%%:*} > $$log 2>&1; then tail -n 3 $$log; \
	  elif grep -q 'context deadline exceeded' $$log && ! grep -q 'Failing input written' $$log; then \
	    tail -n 6 $$log; echo "(not a finding: Go's fuzz coordinator stopping at -fuzztime, go.dev/issue/75804)"; \
	  else cat $$log; exit 1; fi; \
	done

clean:
	rm -rf bin
