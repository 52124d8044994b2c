#!/usr/bin/env bash
# gentime.sh measures gcachegen's wall time on a synthetic module of 10
# interfaces × 20 annotated methods: with a cold build cache (an empty
# GOCACHE) and with a warm one.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

go build -o "$work/gcachegen" "$root/cmd/gcachegen"
mod="$work/synth"
mkdir -p "$mod"
cat > "$mod/go.mod" <<MOD
module example.com/synth

go 1.26.0

require github.com/gcache-go/gcache v0.0.0

replace github.com/gcache-go/gcache => $root
MOD
# The runtime's dependencies, for the generated files that import it.
grep -v '^github.com/gcache-go/gcache ' "$root/go.sum" > "$mod/go.sum"
(cd "$root" && go list -m -f '{{if not .Main}}{{.Path}} {{.Version}}{{end}}' all) |
	while read -r path version; do [ -n "$path" ] && echo "require $path $version"; done >> "$mod/go.mod"

for i in $(seq 0 9); do
	{
		echo "package synth"
		echo
		echo 'import ("context"; "time")'
		echo
		echo "type Item$i struct { ID string; N int; At time.Time }"
		echo
		echo "//gcache:wrap"
		echo "type Store$i interface {"
		for m in $(seq 0 19); do
			echo "	//gcache:cache key_type=item id=id use_case=S${i}M${m} track"
			echo "	//gcache:ttl local=1m remote=5m"
			echo "	Get$m(ctx context.Context, id string, page int, q string, at time.Time) (*Item$i, error)"
		done
		echo "}"
	} > "$mod/store$i.go"
done
gofmt -w "$mod"
cd "$mod"

seconds() { local s e; s=$(date +%s.%N); "$@" >/dev/null; e=$(date +%s.%N); echo "$e - $s" | bc; }

export GOFLAGS=-mod=mod
echo "machine: $(nproc) CPUs, $(go version)"
echo "cold cache, first generation:   $(GOCACHE="$work/cache1" seconds "$work/gcachegen" ./...) s"
echo "cold cache, regeneration:       $(GOCACHE="$work/cache2" seconds "$work/gcachegen" ./...) s"
"$work/gcachegen" ./... # warm up
runs=""
for _ in 1 2 3 4 5; do runs="$runs $(seconds "$work/gcachegen" ./...)"; done
echo "warm cache, 5 runs:            $runs s"
go vet ./... && echo "generated code vets clean ($(ls *_gcache.go | wc -l) files, $(cat *_gcache.go | wc -l) lines)"
