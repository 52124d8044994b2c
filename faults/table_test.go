package faults

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gcache "github.com/gcache-go/gcache/runtime"
)

// The table's workload: 8 goroutines calling a tracked use case cached in
// both tiers, over 50 keys (zipf), whose function takes 1 ms, each pausing
// 200 µs between calls (time.Sleep: about 1 ms on a 2-core VM). Without the pause the workers, whose calls are
// mostly local hits of a few hundred ns, would keep both cores busy: a
// goroutine would wait tens of ms, at times hundreds, for its turn, and
// calls with 50 ms deadlines would fail on the scheduler's queue, the
// function alone (the control) as often as the Cache.
const (
	tablePause   = 200 * time.Microsecond
	tableWorkers = 8
	tableKeys    = 50
	tableFnTime  = time.Millisecond
	tableWarm    = time.Second
	tableFault   = 3 * time.Second
)

// tableRow is what one run of the workload measured.
type tableRow struct {
	calls, failed, runs, expired int64
	latencies                    []time.Duration
	took                         time.Duration
	// failures are the failed calls; excused counts those during which the
	// function alone, called with the same deadline, failed too (the
	// control), and unexcused describes the first few of the others.
	failures  []failure
	excused   int64
	unexcused []string
	// controls is how many calls of the function alone ran, and how many
	// of them failed.
	controls, controlsFailed int64
}

// A failure is a failed call: when it began (before its context was
// made), when the function was entered (zero if it was not), when it
// returned, and its error.
type failure struct {
	start, end time.Time
	entered    int64 // Unix ns
	err        error
}

// A span is one call of the control: the function alone, under the
// callers' deadline, in a goroutine of its own.
type span struct {
	start, end time.Time
}

func (r tableRow) percentile(p float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	return r.latencies[min(len(r.latencies)-1, int(float64(len(r.latencies))*p))]
}

// runWorkload runs the workload for d with calls of deadline deadline,
// in contexts made by ctxOf, and measures it. Beside it, a control calls
// the function alone, without the Cache, under the same deadline, one
// call after another: a failed call of the workload during which a call
// of the control failed too is one the function alone would have failed
// (the machine, 2 cores shared by the workers, Redis, the proxies and
// whatever else runs, did not run it in time), and is counted apart.
func runWorkload(uc *gcache.UseCase[item], db *versions, base context.Context, deadline, d time.Duration) tableRow {
	var (
		mu                           sync.Mutex
		row                          tableRow
		calls, failed, runs, expired atomic.Int64
		wg                           sync.WaitGroup
		controlFails                 []span
	)
	start := time.Now()
	stop := start.Add(d)
	wg.Go(func() {
		for time.Now().Before(stop) {
			t0 := time.Now()
			ctx, cancel := context.WithTimeout(base, deadline)
			time.Sleep(tableFnTime)
			err := ctx.Err()
			cancel()
			row.controls++
			if err != nil {
				row.controlsFailed++
				controlFails = append(controlFails, span{t0, time.Now()})
			}
		}
	})
	for w := range tableWorkers {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), uint64(start.UnixNano())))
			zipf := rand.NewZipf(r, 1.1, 1, tableKeys-1)
			var lat []time.Duration
			for time.Now().Before(stop) {
				id := strconv.FormatUint(zipf.Uint64(), 10)
				t0 := time.Now()
				ctx, cancel := context.WithTimeout(base, deadline)
				b := gcache.AppendString(nil, id)
				var entered atomic.Int64 // a refresh may call the function after the call
				_, err := uc.Get(ctx, uc.Key(b, len(b)), func(ctx context.Context) (item, error) {
					entered.CompareAndSwap(0, time.Now().UnixNano())
					runs.Add(1)
					if err := ctx.Err(); err != nil {
						expired.Add(1)
						return item{}, err
					}
					time.Sleep(tableFnTime)
					return db.read(id), nil
				})
				end := time.Now()
				lat = append(lat, end.Sub(t0))
				cancel()
				calls.Add(1)
				if err != nil {
					failed.Add(1)
					mu.Lock()
					row.failures = append(row.failures, failure{start: t0, entered: entered.Load(), end: end, err: err})
					mu.Unlock()
				}
				time.Sleep(tablePause)
			}
			mu.Lock()
			row.latencies = append(row.latencies, lat...)
			mu.Unlock()
		})
	}
	wg.Wait()
	row.took = time.Since(start)
	row.calls, row.failed, row.runs, row.expired = calls.Load(), failed.Load(), runs.Load(), expired.Load()
	slices.Sort(row.latencies)
	for _, f := range row.failures {
		if slices.ContainsFunc(controlFails, func(c span) bool { return c.start.Before(f.end) && f.start.Before(c.end) }) {
			row.excused++
			continue
		}
		if len(row.unexcused) < 3 {
			how := "the function was not called"
			if f.entered != 0 {
				how = fmt.Sprintf("the function was entered after %v", time.Unix(0, f.entered).Sub(f.start).Round(100*time.Microsecond))
			}
			row.unexcused = append(row.unexcused, fmt.Sprintf("at %s, after %v (%s): %v", describe(f.start), f.end.Sub(f.start).Round(100*time.Microsecond), how, f.err))
		}
	}
	return row
}

// BenchmarkFaultTable measures, per kind of Redis trouble and caller
// deadline, the workload's p50 and p99 call latency, its failed calls, the
// function's runs per call and the database calls per second while the
// trouble lasts (3 s, after 1 s of healthy warm-up), against the same
// workload with caching off. It prints a Markdown table; make
// faults-table runs it once.
func BenchmarkFaultTable(b *testing.B) {
	for range b.N {
		fmt.Println("| fault | deadline | p50 | p99 | p99.9 | max | calls failed | failed with the function alone | function runs per call | database calls/s |")
		fmt.Println("|---|---|---|---|---|---|---|---|---|---|")
		var notes []string
		for _, d := range deadlines {
			s := newSetup(b, false, gcache.DefaultRedisTimeout)
			in := newInstance(b, s.client, gcache.Config{})
			uc := tableUseCase(b, in)
			row := runWorkload(uc, newVersions(), context.Background(), d, tableFault)
			notes = printRow("caching off", d, row, row.calls, notes)
		}
		for _, tr := range troubles {
			for _, d := range deadlines {
				s := newSetup(b, tr.onGroup, gcache.DefaultRedisTimeout)
				in := newInstance(b, s.client, gcache.Config{})
				uc := tableUseCase(b, in)
				db := newVersions()
				runWorkload(uc, db, enabled, d, tableWarm)
				heal := tr.inject(b, s)
				before := db.readCount()
				row := runWorkload(uc, db, enabled, d, tableFault)
				notes = printRow(tr.name, d, row, db.readCount()-before, notes)
				heal()
			}
		}
		for _, n := range notes {
			fmt.Println(n)
		}
	}
}

func tableUseCase(b *testing.B, in *instance) *gcache.UseCase[item] {
	uc, err := gcache.NewUseCase[item](in.c, gcache.UseCaseSpec{Name: "GetItem", KeyType: "item", Tracked: true,
		Default: gcache.KeyConfig{Local: gcache.LayerConfig{TTL: time.Minute, Ramp: 100}, Remote: gcache.LayerConfig{TTL: time.Hour, Ramp: 100}}})
	if err != nil {
		b.Fatal(err)
	}
	return uc
}

// printRow prints a row of the table, and returns notes with a note on
// its failures added.
func printRow(name string, d time.Duration, row tableRow, dbCalls int64, notes []string) []string {
	fmt.Printf("| %s | %v | %s | %s | %s | %s | %d of %d | %d | %.4f | %.0f |\n", name, d, short(row.percentile(.5)), short(row.percentile(.99)),
		short(row.percentile(.999)), short(row.latencies[len(row.latencies)-1]), row.failed-row.excused, row.calls, row.excused,
		float64(row.runs)/float64(row.calls), float64(dbCalls)/row.took.Seconds())
	if row.failed > 0 || row.controlsFailed > 0 {
		note := fmt.Sprintf("- %s, %v: %d calls failed, %d of them while the function alone failed too (%d of the control's %d calls failed); %d entered the function with an expired context",
			name, d, row.failed, row.excused, row.controlsFailed, row.controls, row.expired)
		for _, u := range row.unexcused {
			note += "\n  - " + u
		}
		notes = append(notes, note)
	}
	return notes
}

// short rounds d to three significant digits.
func short(d time.Duration) string {
	for r := time.Duration(1); ; r *= 10 {
		if d < 1000*r {
			return d.Round(r).String()
		}
	}
}
