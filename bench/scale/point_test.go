package scale

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/gcache-go/gcache/bench/internal/redisinfo"
)

// TestPoint runs a short point end to end, two instances on one Redis,
// and checks that its numbers come from work that happened: calls made
// without errors, hits in both tiers, Redis commands, database reads, the
// instances' memory; and that the Run survives a trip through its file.
func TestPoint(t *testing.T) {
	pr := params{warmup: 300 * time.Millisecond, measured: 700 * time.Millisecond,
		concurrency: 4, localEntries: 200, writeRatio: 0.01, dbLatency: 0}
	topo := startTopology(t, "single")
	p := runPoint(t, pr, topo, 10_000, 2)
	if p.Calls == 0 || p.Reads == 0 {
		t.Fatalf("no calls: %+v", p)
	}
	if p.Errors != 0 || p.GcacheErrors != 0 {
		t.Fatalf("%d calls failed and gcache counted %v errors", p.Errors, p.GcacheErrors)
	}
	// 200 local entries of 10,000 zipf ids: the local tier hits the head,
	// Redis most of the rest after the warm-up, the database the tail.
	if p.LocalHitRatio <= 0 || p.LocalHitRatio >= 1 || p.RemoteHitRatio <= 0 || p.RemoteHitRatio >= 1 {
		t.Errorf("hit ratios: local %v, remote %v", p.LocalHitRatio, p.RemoteHitRatio)
	}
	if p.DBReadsPerSecond <= 0 || p.DBReadRatio <= 0 || p.DBReadRatio >= 1 {
		t.Errorf("database reads: %v/s, %v of reads", p.DBReadsPerSecond, p.DBReadRatio)
	}
	if p.RedisCommandsPerCall <= 0 || p.RedisCommands["mget"] == 0 {
		t.Errorf("Redis commands: %v per call, %v", p.RedisCommandsPerCall, p.RedisCommands)
	}
	if p.P50Micros <= 0 || p.P99Micros < p.P50Micros {
		t.Errorf("latency: p50 %v µs, p99 %v µs", p.P50Micros, p.P99Micros)
	}
	if p.HeapBytes <= 0 || p.RSSBytes < p.HeapBytes {
		t.Errorf("memory per instance: heap %v, RSS %v", p.HeapBytes, p.RSSBytes)
	}

	path := filepath.Join(t.TempDir(), "scale.json")
	if err := (Run{Points: []Point{p}}).Write(path); err != nil {
		t.Fatal(err)
	}
	back, err := Read(path)
	if err != nil || len(back.Points) != 1 || back.Points[0].Calls != p.Calls {
		t.Fatalf("read back %+v, %v", back, err)
	}
}

// TestSummarize checks the arithmetic of a point on made-up counts.
func TestSummarize(t *testing.T) {
	lat := newLatency()
	for range 99 {
		lat.record(100 * time.Microsecond)
	}
	lat.record(10 * time.Millisecond)
	results := []workerResult{
		{Reads: 600, Writes: 10, Latency: lat, LocalRequests: 600, LocalMisses: 200, RemoteRequests: 200, RemoteMisses: 50, DBReads: 50, DBWrites: 10, HeapBytes: 10 << 20, RSSBytes: 30 << 20},
		{Reads: 390, Writes: 0, Latency: newLatency(), LocalRequests: 390, LocalMisses: 0, HeapBytes: 20 << 20, RSSBytes: 40 << 20},
	}
	before := []redisinfo.Stats{{Commands: map[string]redisinfo.Command{"mget": {Calls: 5}}, CPU: time.Second}, {Commands: map[string]redisinfo.Command{}}}
	after := []redisinfo.Stats{
		{Commands: map[string]redisinfo.Command{"mget": {Calls: 205}, "evalsha": {Calls: 50}, "info": {Calls: 9}}, CPU: 3 * time.Second, UsedMemory: 100},
		{Commands: map[string]redisinfo.Command{"evalsha": {Calls: 10}, "set": {Calls: 40}}, CPU: time.Second, UsedMemory: 50},
	}
	p := summarize("cluster", 2, 1000, 2*time.Second, results, before, after)
	check := func(name string, got, want float64) {
		t.Helper()
		if got < want*0.999 || got > want*1.001 {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	check("calls", float64(p.Calls), 1000)
	check("throughput", p.Throughput, 500)
	check("local hit ratio", p.LocalHitRatio, 790.0/990)
	check("remote hit ratio", p.RemoteHitRatio, 150.0/200)
	check("db read ratio", p.DBReadRatio, 50.0/990)
	check("db calls/s", p.DBCallsPerSecond, 30)
	check("redis commands/call", p.RedisCommandsPerCall, 0.3)
	check("redis scripts/call", p.RedisScriptsPerCall, 0.06)
	check("redis cpu", p.RedisCPU, 1.5)
	check("redis cpu of the busiest", p.RedisCPUBusiest, 1)
	check("redis cpu µs/call", p.RedisCPUMicrosPerCall, 3000)
	check("redis memory", float64(p.RedisMemoryBytes), 150)
	check("heap per instance", p.HeapBytes, 15<<20)
	// 99 reads of 100 µs and one of 10 ms: both quantiles are 100 µs,
	// within the buckets' 3 %.
	for name, q := range map[string]float64{"p50": p.P50Micros, "p99": p.P99Micros} {
		if q < 97 || q > 103 {
			t.Errorf("%s = %v µs, want 100", name, q)
		}
	}
	if _, ok := p.RedisCommands["info"]; ok {
		t.Error("INFO, the harness's own command, is counted")
	}
}
