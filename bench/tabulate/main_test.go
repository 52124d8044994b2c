package main

import (
	"strings"
	"testing"
)

// rounds is the output of three rounds of run.sh, the contenders rotated
// in each, with a header repeated per run of the test binary.
const rounds = `goos: linux
cpu: Test CPU
BenchmarkLocalHit/gcache/serial-2         	1000	100.0 ns/op	0 B/op	0 allocs/op
BenchmarkLocalHit/floor-otter/serial-2    	1000	30.0 ns/op	0 B/op	0 allocs/op
BenchmarkStampede/gcache-2                	30	3000000 ns/op	40000 B/op	1000 allocs/op	1.000 calls/op
PASS
goos: linux
cpu: Test CPU
BenchmarkLocalHit/floor-otter/serial-2    	1000	20.0 ns/op	0 B/op	0 allocs/op
BenchmarkLocalHit/gcache/serial-2         	1000	300.0 ns/op	0 B/op	0 allocs/op
BenchmarkStampede/gcache-2                	30	1000000 ns/op	40000 B/op	1000 allocs/op	1.000 calls/op
PASS
BenchmarkLocalHit/gcache/serial-2         	1000	120.0 ns/op	0 B/op	0 allocs/op
BenchmarkLocalHit/floor-otter/serial-2    	1000	40.0 ns/op	0 B/op	0 allocs/op
BenchmarkStampede/gcache-2                	30	2000000 ns/op	40000 B/op	1000 allocs/op	1.000 calls/op
`

func TestTabulateRounds(t *testing.T) {
	samples, cpu := parse([]byte(rounds))
	if cpu != "Test CPU" || len(samples) != 9 {
		t.Fatalf("parsed %d samples on %q, want 9 on Test CPU", len(samples), cpu)
	}
	order, tables := tabulate(samples)
	if strings.Join(order, ",") != "LocalHit,Stampede" {
		t.Fatalf("workloads in order %v", order)
	}
	lh := tables["LocalHit"]
	if strings.Join(lh.contenders, ",") != "gcache/serial,floor-otter/serial" {
		t.Errorf("contenders in order %v, want the first round's", lh.contenders)
	}
	if got := lh.medians["gcache/serial"]["ns/op"]; got != 120 {
		t.Errorf("gcache's median is %v ns, want 120", got)
	}
	if got := lh.medians["floor-otter/serial"]["ns/op"]; got != 30 {
		t.Errorf("the floor's median is %v ns, want 30", got)
	}
	md := render(order, tables, cpu)
	for _, want := range []string{
		"medians of 3 rounds",
		"| gcache | 120.0 ns | 1.00× | 4.00× | 0 | 0 |",
		"| floor-otter | 30.0 ns | 0.25× | 1.00× | 0 | 0 |",
		"| gcache | 2.00 ms | 1.00× | – | 40,000 | 1,000 | 1 |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("the tables lack %q:\n%s", want, md)
		}
	}
}

func TestMetric(t *testing.T) {
	for _, tc := range []struct {
		unit string
		v    float64
		want string
	}{
		{"cpu-ns/op", 38_040, "38.0 µs"},
		{"cpu-ns/op", 950, "950.0 ns"},
		{"calls/op", 1, "1"},
		{"loads/op", 0.0001939, "0.0001939"},
	} {
		if got := metric(tc.unit, tc.v); got != tc.want {
			t.Errorf("metric(%q, %v) = %q, want %q", tc.unit, tc.v, got, tc.want)
		}
	}
}
