package peers

import (
	"context"
	"flag"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gcache-go/gcache/runtime"
)

// round is the round of run.sh this run is. Each round runs every
// contender once; the round rotates the order they run in, so that over
// the rounds each runs early and late, and a slow spell of a shared
// machine falls on all of them rather than on whichever ran then.
var round = flag.Int("peers.round", 0, "rotate the order of the contenders by this many places")

// rotated returns cs rotated left by the round.
func rotated(cs ...contender) []contender {
	k := *round % len(cs)
	if k < 0 {
		k += len(cs)
	}
	return append(slices.Clone(cs[k:]), cs[:k]...)
}

// enabled is the context of every call: gcache caches only where it is
// enabled; the peers ignore it.
var enabled = gcache.Enable(context.Background())

// prefill reads ids[:len(keys)] through inst, from a few goroutines, so
// that both of its tiers hold them, then waits for its background writes.
func prefill(tb testing.TB, inst instance, keys []string) {
	tb.Helper()
	const workers = 8
	var failures atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(keys); i += workers {
				if _, err := inst.get(enabled, ids[i], keys[i]); err != nil {
					failures.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if n := failures.Load(); n > 0 {
		tb.Fatalf("prefill: %d reads failed", n)
	}
	inst.settle(tb, len(keys))
	// ristretto drops writes when its buffers are full: read those keys
	// again (from Redis) until its local tier holds them all.
	lm, ok := inst.(interface{ localMissing([]string) []string })
	if !ok {
		return
	}
	for round := 0; ; round++ {
		missing := lm.localMissing(keys)
		if len(missing) == 0 {
			return
		}
		if round == 50 {
			tb.Fatalf("prefill: %d keys still missing from the local tier", len(missing))
		}
		for _, k := range missing {
			if _, err := inst.get(enabled, idOf(k), k); err != nil {
				tb.Fatal(err)
			}
		}
		time.Sleep(10 * time.Millisecond) // the chain writes back in the background
		inst.settle(tb, len(keys))
	}
}

// reportLoads reports the source's calls per operation since before, when
// there were any: a workload of hits should have none.
func reportLoads(b *testing.B, src *source, before int64) {
	if n := src.calls.Load() - before; n > 0 {
		b.ReportMetric(float64(n)/float64(b.N), "loads/op")
	}
}

// BenchmarkLocalHit reads a Zipf-distributed key out of 10,000, all held in
// the local tier (prefilled), one goroutine (serial) and one per CPU
// (parallel). Every cache but the otter floor also has its Redis tier.
func BenchmarkLocalHit(b *testing.B) {
	for _, c := range rotated(gcacheC, gcacheTrackedC, goRedisCacheC, ekoC, sturdycC, otterFloorC, otterNaiveC) {
		b.Run(c.name, func(b *testing.B) {
			src := &source{}
			inst := c.build(b, twoTier, src)
			keys := c.keys(hotKeys)
			prefill(b, inst, keys)
			b.Run("serial", func(b *testing.B) {
				before := src.calls.Load()
				i := 0
				for b.Loop() {
					k := zipfSeq[i&zipfMask]
					i++
					if _, err := inst.get(enabled, ids[k], c.keyOf(keys, k)); err != nil {
						b.Fatal(err)
					}
				}
				reportLoads(b, src, before)
			})
			b.Run("parallel", func(b *testing.B) {
				before := src.calls.Load()
				var offsets atomic.Uint32
				b.RunParallel(func(pb *testing.PB) {
					i := offsets.Add(1) * 7919 // each goroutine from its own place
					var u *User                // a local, not a shared sink
					for pb.Next() {
						k := zipfSeq[i&zipfMask]
						i++
						u, _ = inst.get(enabled, ids[k], c.keyOf(keys, k))
					}
					_ = u
				})
				reportLoads(b, src, before)
			})
		})
	}
}

// BenchmarkRemoteHit reads a Zipf-distributed key out of 10,000, all held
// in Redis, with the local tier off or kept empty: one round trip and a
// decode per read. Its wall time is mostly the round trip, which varies
// with the machine's scheduling; cpu-ns/op, the CPU this process spent
// per read (Redis is another process), is the client's own cost.
func BenchmarkRemoteHit(b *testing.B) {
	for _, c := range rotated(gcacheC, gcacheTrackedC, goRedisCacheC, ekoC, sturdycC, redisFloorC) {
		b.Run(c.name, func(b *testing.B) {
			src := &source{}
			inst := c.build(b, remote, src)
			keys := c.keys(hotKeys)
			prefill(b, inst, keys)
			before := src.calls.Load()
			cpu := processCPU(b)
			i := 0
			for b.Loop() {
				k := zipfSeq[i&zipfMask]
				i++
				if _, err := inst.get(enabled, ids[k], keys[k]); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(processCPU(b)-cpu)/float64(b.N), "cpu-ns/op")
			reportLoads(b, src, before)
		})
	}
}

// processCPU is the CPU time, user and system, this process has used.
func processCPU(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkMiss reads a key no one read before, through both tiers: a
// local miss, a Redis miss, the source (which answers at once), and the
// writes, which are timed until they have landed, also where the cache
// makes them in the background.
func BenchmarkMiss(b *testing.B) {
	for _, c := range rotated(gcacheC, goRedisCacheC, ekoC, sturdycC, redisFloorC) {
		b.Run(c.name, func(b *testing.B) {
			src := &source{}
			inst := c.build(b, twoTier, src)
			b.ResetTimer()
			for range b.N {
				id := uniqueID()
				if _, err := inst.get(enabled, id, c.key(id)); err != nil {
					b.Fatal(err)
				}
			}
			inst.settle(b, b.N)
			b.StopTimer()
			if got := src.calls.Load(); got != int64(b.N) {
				b.Errorf("the source was called %d times for %d misses", got, b.N)
			}
		})
	}
}

// stampedeCallers read one key at once in BenchmarkStampede.
const stampedeCallers = 1000

// BenchmarkStampede releases 1,000 goroutines, parked on a channel, to read
// one key that neither tier holds; the source takes 1 ms, like a query. An
// operation is the whole stampede, until every caller has its value;
// calls/op is how many times the source was called for it.
func BenchmarkStampede(b *testing.B) {
	for _, c := range rotated(gcacheC, goRedisCacheC, ekoC, sturdycC) {
		b.Run(c.name, func(b *testing.B) {
			src := &source{delay: time.Millisecond}
			inst := c.build(b, twoTier, src)
			var failures atomic.Int64
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				id := uniqueID()
				want, _ := strconv.ParseInt(id, 10, 64)
				key := c.key(id)
				start := make(chan struct{})
				var ready, done sync.WaitGroup
				ready.Add(stampedeCallers)
				done.Add(stampedeCallers)
				for range stampedeCallers {
					go func() {
						defer done.Done()
						ready.Done()
						<-start
						u, err := inst.get(enabled, id, key)
						if err != nil || u == nil || u.ID != want {
							failures.Add(1)
						}
					}()
				}
				ready.Wait()
				b.StartTimer()
				close(start)
				done.Wait()
			}
			inst.settle(b, b.N)
			b.StopTimer()
			calls := float64(src.calls.Load()) / float64(b.N)
			b.ReportMetric(calls, "calls/op")
			if n := failures.Load(); n > 0 {
				b.Errorf("%d callers did not get their value", n)
			}
			if c.name == gcacheC.name && src.calls.Load() != int64(b.N) {
				b.Errorf("gcache called the source %d times for %d stampedes, want once each", src.calls.Load(), b.N)
			}
		})
	}
}

// BenchmarkMixed reads a Zipf-distributed key out of 10,000 (prefilled in
// both tiers) nine times in ten and invalidates it the tenth: for gcache a
// generated //gcache:invalidate method (reads are tracked), for the peers
// a delete of the key from both tiers. The sequence of 4,096 operations
// repeats, after one untimed pass. loads/op is how many reads the
// invalidations turned into misses: the same for every contender that
// invalidates exactly.
func BenchmarkMixed(b *testing.B) {
	for _, c := range rotated(gcacheC, goRedisCacheC, ekoC, sturdycC, otterFloorC) {
		b.Run(c.name, func(b *testing.B) {
			src := &source{}
			inst := c.build(b, tracked, src)
			keys := c.keys(hotKeys)
			prefill(b, inst, keys)
			do := func(op mixedOp) {
				var err error
				if op.write {
					err = inst.invalidate(enabled, ids[op.key], keys[op.key])
				} else {
					_, err = inst.get(enabled, ids[op.key], keys[op.key])
				}
				if err != nil {
					b.Fatal(err)
				}
			}
			for _, op := range mixedSeq { // the untimed pass
				do(op)
			}
			time.Sleep(50 * time.Millisecond) // its background writes land
			before := src.calls.Load()
			i := 0
			for b.Loop() {
				do(mixedSeq[i%mixedLen])
				i++
			}
			b.ReportMetric(float64(src.calls.Load()-before)/float64(b.N), "loads/op")
		})
	}
}

// BenchmarkMemory fills each cache's local tier alone (no Redis) with
// 100,000 entries, once per run (use -benchtime=1x), and reports the live
// heap it holds per entry, values included (B/entry), after a GC. Keys
// are built during the fill, so that what a cache keeps of them counts.
// values-only keeps the values in a slice: their own size. ns/op, B/op
// and allocs/op are those of filling one entry (a local miss, the source,
// the write).
func BenchmarkMemory(b *testing.B) {
	for _, c := range rotated(gcacheC, goRedisCacheC, ekoC, sturdycC, otterFloorC, valuesC) {
		b.Run(c.name, func(b *testing.B) {
			var before, filled, after runtime.MemStats
			runtime.GC()
			runtime.GC()
			runtime.ReadMemStats(&before)
			src := &source{}
			inst := c.build(b, local, src)
			start := time.Now()
			for _, id := range ids[:memEntries] {
				if _, err := inst.get(enabled, id, c.key(id)); err != nil {
					b.Fatal(err)
				}
			}
			inst.settle(b, 0)
			elapsed := time.Since(start)
			runtime.ReadMemStats(&filled)
			runtime.GC()
			runtime.GC()
			runtime.ReadMemStats(&after)
			held := int64(memEntries)
			if c.name != valuesC.name {
				// Every entry must still be there: a second pass loads none.
				calls := src.calls.Load()
				for _, id := range ids[:memEntries] {
					if _, err := inst.get(enabled, id, c.key(id)); err != nil {
						b.Fatal(err)
					}
				}
				held -= src.calls.Load() - calls
				if held < memEntries*99/100 {
					b.Errorf("the local tier holds %d entries of %d", held, memEntries)
				}
			}
			runtime.KeepAlive(inst)
			b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(held), "B/entry")
			b.ReportMetric(float64(elapsed.Nanoseconds())/memEntries, "ns/op")
			b.ReportMetric(float64(filled.TotalAlloc-before.TotalAlloc)/memEntries, "B/op")
			b.ReportMetric(float64(filled.Mallocs-before.Mallocs)/memEntries, "allocs/op")
		})
	}
}

// TestRotated checks that the rounds put every contender at every place.
func TestRotated(t *testing.T) {
	defer func(r int) { *round = r }(*round)
	cs := []contender{gcacheC, goRedisCacheC, ekoC}
	first := map[string]bool{}
	for r := range 2 * len(cs) {
		*round = r
		got := rotated(cs...)
		if len(got) != len(cs) {
			t.Fatalf("round %d: %d contenders, want %d", r, len(got), len(cs))
		}
		first[got[0].name] = true
		if got[(len(cs)-r%len(cs))%len(cs)].name != cs[0].name {
			t.Errorf("round %d: %s is not where the rotation puts it", r, cs[0].name)
		}
	}
	if len(first) != len(cs) {
		t.Errorf("over the rounds, only %v ran first", first)
	}
	if cs[0].name != gcacheC.name {
		t.Error("rotated changed its argument")
	}
}
