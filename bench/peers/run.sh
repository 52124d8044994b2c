#!/usr/bin/env bash
# run.sh runs the comparison of gcache with its peers (./peers/) and writes
# the raw output to bench/results/peers.txt, then prints benchstat's tables.
#
#   bench/peers/run.sh                 # ROUNDS=10 rounds
#   ROUNDS=3 BENCHTIME=100ms bench/peers/run.sh
#
# Each round runs every benchmark once (-count=1) for every contender, in
# an order the round rotates (-peers.round), so that a slow spell of a
# shared machine falls on all the contenders instead of on the one that ran
# through it; the tables take the median over the rounds.
#
# Every benchmark uses one private redis-server, started and killed by the
# test binary (redis-server must be on PATH). Expensive workloads run a
# fixed number of iterations; the others BENCHTIME each.
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=${ROUNDS:-10}
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
go test -c -o "$tmp/peers.test" ./peers/ # built once; fails early on a build error
# A failing benchmark (gcache's stampede calling the source more than once,
# say) does not stop the others; it is listed at the end. The binary runs
# in the package's directory, as go test runs it.
run() { (cd peers && "$tmp/peers.test" -test.run '^$' -test.benchmem -test.count=1 -test.timeout 60m -peers.round="$round" "$@") || true; }
{
	for ((round = 0; round < rounds; round++)); do
		echo "round $((round + 1)) of $rounds" >&2
		run -test.bench 'LocalHit|RemoteHit|Mixed' -test.benchtime="$benchtime"
		run -test.bench 'Miss' -test.benchtime="$benchtime"
		run -test.bench 'Stampede' -test.benchtime=30x
		run -test.bench 'Memory' -test.benchtime=1x
	done
} | tee "$out"
end=$(date +%s)

echo
echo "wall time: $((end - start)) s ($(nproc) CPUs, $(go version | cut -d' ' -f3), ROUNDS=$rounds BENCHTIME=$benchtime); raw output in bench/$out"
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
