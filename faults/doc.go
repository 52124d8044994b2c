// Package faults tests gcache's runtime from the outside, through its public
// API and its metrics, while Redis fails in the ways production meets:
// latency, cut and reset connections, black holes (toxiproxy, in process,
// between each Cache and each Redis server), CLIENT PAUSE, SIGSTOP, a killed
// server, a server restarted empty, and a Sentinel failover.
//
//   - soak_test.go: four skewed instances, a versioned database, writers
//     that invalidate and readers whose every read is checked for
//     staleness, under a schedule of every fault (make soak runs it for
//     10 minutes; the test suite for less than a minute).
//   - matrix_test.go: each fault, with callers whose deadlines are 50 ms,
//     100 ms and 1 s: every call served, the function run at most once and
//     never with an expired context, the breaker open within its
//     threshold, every failure counted.
//   - outage_test.go: a hot tracked key read through a black hole: the
//     database load and the age of what is served stay within
//     Config.OutageStaleness.
//   - breaker_test.go: calls their callers cancel do not open the
//     breaker; calls whose deadlines run out do.
//   - failover_test.go: a failover that loses a watermark Invalidate
//     reported written: neither instance serves the old value after it.
//   - joiner_test.go: a caller that joins a slower caller's load is
//     served within its own deadline.
//   - table_test.go: BenchmarkFaultTable, the latency and load table of
//     BENCHMARKS.md (make faults-table).
package faults
