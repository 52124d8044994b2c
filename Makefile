# gcache for Go. `make test` is what CI runs.

GO ?= go

.PHONY: test test-root modules lint generate check-generated check-deploy bench bench-runtime bench-peers fuzz

# Modules of their own, tested with the library; the longest tests first.
MODULES := faults e2e gcacheotel bench examples/userservice grpcgcache

# One target per module's tests, so that make can run them side by side.
MODULE_TESTS := $(MODULES:%=test-module-%)
.PHONY: $(MODULE_TESTS)

## test: vet, check generated files, the dashboard and alerts, and run every test under the race detector.
## The parts run side by side (-j3): most tests wait on Redis, timeouts and child processes rather than on the
## CPU, and each part's output is printed whole when it ends (-O). The fault tests run alone afterwards: their
## 50 ms caller deadlines leave no room for a machine that the other parts keep busy.
test: modules
	$(MAKE) --no-print-directory -j3 -O test-root $(filter-out test-module-faults,$(MODULE_TESTS)) lint check-generated check-deploy
	$(MAKE) --no-print-directory test-module-faults

## test-root: the main module's tests
test-root:
	$(GO) test -race -count=1 ./...

$(MODULE_TESTS): test-module-%:
	cd $* && $(GO) test -race -count=1 ./...

## modules: download every module of gcache's build list, tests of its dependencies included: the e2e test's
## fixture module runs go mod tidy with GOPROXY=off and needs them all in the module cache
modules:
	$(GO) mod download all

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

## check-deploy: promtool checks the alerting rules and the dashboard's queries, and runs the rules' unit tests
check-deploy:
	@command -v promtool >/dev/null || { echo "promtool is missing (Debian/Ubuntu: apt-get install prometheus)"; exit 1; }
	promtool check rules deploy/prometheus/gcache-rules.yml
	promtool test rules deploy/prometheus/gcache-rules.test.yml
	tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	$(GO) test -count=1 -run '^TestDashboardQueriesExportedMetrics$$' ./deploy/ -args -queries-out "$$tmp/dashboard.yml" && \
	promtool check rules "$$tmp/dashboard.yml"

## bench: every benchmark but the scale workload: raw output in bench/results/, tables in BENCHMARKS.md (about 12 minutes)
bench: bench-runtime bench-peers bench-redis

.PHONY: bench-redis bench-scale soak faults-table

## soak: the fault soak for 10 minutes: four skewed instances over a Sentinel group through toxiproxy, every fault in turn, every read checked for staleness
soak:
	cd faults && $(GO) test -count=1 -v -run '^TestFaultSoak$$' -timeout 30m . -args -soak 10m | tee ../bench/results/soak.txt
	@! grep -q -e '^--- FAIL' -e '^FAIL' bench/results/soak.txt

## faults-table: latency, failures, function runs and database load per Redis fault and caller deadline, against caching off (about 2.5 minutes)
faults-table:
	cd faults && $(GO) test -count=1 -run '^$$' -bench '^BenchmarkFaultTable$$' -benchtime=1x -timeout 30m . | tee ../bench/results/faults.txt
	@! grep -q -e '^--- FAIL' -e '^FAIL' bench/results/faults.txt

## bench-runtime: the runtime's hot paths and the generated decorator
bench-runtime:
	$(GO) test -run '^$$' -bench . -benchmem -count=10 ./runtime/ > bench/results/runtime.txt || { cat bench/results/runtime.txt; exit 1; }
	$(GO) test -run '^$$' -bench . -benchmem -count=10 ./gen/ > bench/results/generated.txt || { cat bench/results/generated.txt; exit 1; }
	@benchstat=$$(command -v benchstat || echo "$$($(GO) env GOPATH)/bin/benchstat"); \
	if [ -x "$$benchstat" ]; then "$$benchstat" bench/results/runtime.txt bench/results/generated.txt; \
	else echo "raw results in bench/results/; go install golang.org/x/perf/cmd/benchstat@latest for tables"; fi

## bench-peers: gcache against other Go caches, 10 rounds of interleaved contenders (about 6 minutes)
bench-peers:
	bench/peers/run.sh
	cd bench && $(GO) run ./tabulate

## bench-redis: Redis's own CPU and commands per gcache operation, against bare GET/SET (about 1 minute)
bench-redis:
	cd bench && $(GO) test -run '^$$' -bench RedisCost ./rediscost/ | tee results/rediscost.txt
	@! grep -q -e '^--- FAIL' -e '^FAIL' bench/results/rediscost.txt

## bench-scale: 1-8 instances on one Redis and on a cluster, 10^4-10^7 keys: bench/results/scale.json and its plots (about 11 minutes)
bench-scale:
	cd bench && $(GO) test -run '^$$' -bench Scale -benchtime=1x -timeout 30m ./scale/ | tee results/scale.txt
	@! grep -q -e '^--- FAIL' -e '^FAIL' bench/results/scale.txt
	cd bench && $(GO) run ./scale/plot
