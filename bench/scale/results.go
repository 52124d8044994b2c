// Package scale measures how gcache's costs grow with the fleet and the
// key space: 1, 2, 4 and 8 instances of a service (package catalog) on
// one Redis and on a three-master cluster, reading zipf-distributed ids
// out of 10⁴ to 10⁷ through a bounded local tier, with 1 % of calls
// updating an item and invalidating it everywhere. The database is
// simulated: in memory, with a fixed latency, counting its calls.
//
// Each instance is a process of its own (the test binary, started again
// as a worker), so that its memory is its own and it pays its own Go
// runtime, connections and subscription, as a service's instances do.
// The benchmark (scale_test.go) drives them and writes a Run to
// results/scale.json; go run ./scale/plot draws the curves from it.
//
//	go test -run '^$' -bench Scale -benchtime=1x -timeout 30m ./scale/
//
// This file is the results' format, shared by the benchmark and the
// plots.
package scale

import (
	"encoding/json"
	"fmt"
	"os"
	"time"
)

// A Run is one run of the workload: where, how, and its points.
type Run struct {
	Started  time.Time
	Machine  Machine
	Settings Settings
	Points   []Point
}

// Machine is what the run ran on.
type Machine struct {
	CPU   string // model name
	CPUs  int
	Go    string
	Redis string // redis_version
}

// Settings are the workload's parameters, the same for every point.
type Settings struct {
	WarmupSeconds   float64 // each point's, before it is measured
	MeasuredSeconds float64 // each point's
	Concurrency     int     // calls in flight per instance (a closed loop)
	LocalEntries    int     // the local tier's bound, per instance
	WriteRatio      float64 // the share of calls that update and invalidate
	ZipfS           float64 // the ids' distribution: rank r is drawn ∝ 1/r^s
	DBLatencyMs     float64 // the simulated database's latency per call
	ValueBytes      int     // an item's encoded size
}

// A Point is one fleet size on one topology and key space.
type Point struct {
	Topology  string // "single" (one Redis) or "cluster" (three masters)
	Instances int
	Keys      int64 // the key space: ids are 1..Keys

	Seconds float64 // how long the point was measured
	Calls   int64   // reads and writes, over the fleet
	Reads   int64
	Writes  int64
	Errors  int64 // calls that returned an error

	Throughput float64 // calls per second, the fleet's
	P50Micros  float64 // read latency, over the fleet
	P99Micros  float64

	// LocalHitRatio is local hits over local lookups; RemoteHitRatio is
	// Redis hits over Redis lookups (the reads the local tier missed);
	// DBReadRatio is the reads that reached the database over all reads.
	LocalHitRatio  float64
	RemoteHitRatio float64
	DBReadRatio    float64
	GcacheErrors   float64 // gcache_error_counter_total, over the fleet

	// RedisCommandsPerCall counts every command the servers ran
	// (commandstats), those run by gcache's scripts included;
	// RedisScriptsPerCall the scripts alone (EVALSHA and the like).
	RedisCommandsPerCall float64
	RedisScriptsPerCall  float64
	RedisCommands        map[string]int64 // by command, over the point
	// RedisCPU is the servers' CPU time per second of the point (1 is a
	// core), summed; RedisCPUBusiest is the busiest server's.
	RedisCPU              float64
	RedisCPUBusiest       float64
	RedisCPUMicrosPerCall float64
	RedisMemoryBytes      int64 // used_memory at the end, summed

	DBCallsPerSecond float64 // reads and writes of the simulated database
	DBReadsPerSecond float64

	// HeapBytes is each instance's live heap after a GC at the end, and
	// RSSBytes its resident set, averaged over the fleet.
	HeapBytes float64
	RSSBytes  float64
}

// Read reads the Run stored at path.
func Read(path string) (Run, error) {
	var r Run
	b, err := os.ReadFile(path)
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return r, fmt.Errorf("scale: %s: %w", path, err)
	}
	return r, nil
}

// Write stores r at path, indented, replacing what was there.
func (r Run) Write(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
