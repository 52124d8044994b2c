#!/usr/bin/env bash
# run.sh runs the comparison of gcache with its peers (./peers/) and writes
# the raw output to bench/results/peers.txt, then prints benchstat's tables.
#
#   bench/peers/run.sh                 # COUNT=10 runs of every benchmark
#   COUNT=6 BENCHTIME=100ms bench/peers/run.sh
#
# Every benchmark uses one private redis-server, started and killed by the
# test binary (redis-server must be on PATH). Expensive workloads run a
# fixed number of iterations; the others BENCHTIME each.
set -euo pipefail
cd "$(dirname "$0")/.."

count=${COUNT:-10}
benchtime=${BENCHTIME:-200ms}
out=results/peers.txt
mkdir -p results

benchstat=$(command -v benchstat || true)
if [ -z "$benchstat" ] && [ -x "$(go env GOPATH)/bin/benchstat" ]; then
	benchstat="$(go env GOPATH)/bin/benchstat"
fi

start=$(date +%s)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go test -c -o "$tmp/peers.test" ./peers/ # fail early on a build error
# A failing benchmark (gcache's stampede calling the source more than once,
# say) does not stop the others; it is listed at the end.
run() { go test -run '^$' -benchmem -count="$count" -timeout 60m "$@" ./peers/ || true; }
{
	run -bench 'LocalHit|RemoteHit|Mixed' -benchtime="$benchtime"
	run -bench 'Miss' -benchtime="$benchtime"
	run -bench 'Stampede' -benchtime=30x
	run -bench 'Memory' -benchtime=1x
} | tee "$out"
end=$(date +%s)

echo
echo "wall time: $((end - start)) s ($(nproc) CPUs, $(go version | cut -d' ' -f3), COUNT=$count BENCHTIME=$benchtime); raw output in bench/$out"
echo
if [ -n "$benchstat" ]; then
	"$benchstat" "$out"
else
	echo "benchstat is not installed: go install golang.org/x/perf/cmd/benchstat@latest"
fi
if grep -q -e '--- FAIL' -e '^FAIL' -e '^panic:' "$out"; then
	echo
	echo "FAILURES (their runs are missing from the tables):"
	grep -A3 -e '--- FAIL' -e '^panic:' "$out"
	exit 1
fi
