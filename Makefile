# gcache for Go. `make test` is what CI runs.

GO ?= go

.PHONY: test lint generate check-generated bench bench-runtime bench-peers fuzz

# Modules of their own, tested with the library.
MODULES := examples/userservice bench grpcgcache e2e

## test: vet, check generated files, and run every test under the race detector
test: lint check-generated
	$(GO) test -race -count=1 ./...
	for m in $(MODULES); do (cd $$m && $(GO) test -race -count=1 ./...) || exit 1; done

## lint: gofmt and go vet, the generator's golden files included
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./... $$(find ./testdata -name '*.go' -exec dirname {} \; | sort -u)
	for m in $(MODULES); do (cd $$m && $(GO) vet ./...) || exit 1; done

## generate: regenerate the committed decorators
generate:
	$(GO) generate ./...

## check-generated: fail when a generated file is out of date
check-generated:
	$(GO) run ./cmd/gcachegen -check ./...
	for m in $(MODULES); do (cd $$m && $(GO) tool gcachegen -check ./...) || exit 1; done

## bench: every benchmark, -count=10 for benchstat: raw output in bench/results/, tables in BENCHMARKS.md (about 12 minutes)
bench: bench-runtime bench-peers

## bench-runtime: the runtime's hot paths and the generated decorator
bench-runtime:
	$(GO) test -run '^$$' -bench . -benchmem -count=10 ./runtime/ > bench/results/runtime.txt || { cat bench/results/runtime.txt; exit 1; }
	$(GO) test -run '^$$' -bench . -benchmem -count=10 ./gen/ > bench/results/generated.txt || { cat bench/results/generated.txt; exit 1; }
	@benchstat=$$(command -v benchstat || echo "$$($(GO) env GOPATH)/bin/benchstat"); \
	if [ -x "$$benchstat" ]; then "$$benchstat" bench/results/runtime.txt bench/results/generated.txt; \
	else echo "raw results in bench/results/; go install golang.org/x/perf/cmd/benchstat@latest for tables"; fi

## bench-peers: gcache against other Go caches (about 5 minutes)
bench-peers:
	bench/peers/run.sh
	cd bench && $(GO) run ./tabulate
