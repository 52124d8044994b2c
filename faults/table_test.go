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
// both tiers, over 50 keys (zipf), whose function takes 1 ms.
const (
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
	firstFailure                 string
}

func (r tableRow) percentile(p float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	return r.latencies[min(len(r.latencies)-1, int(float64(len(r.latencies))*p))]
}

// runWorkload runs the workload for d with calls of deadline deadline,
// in contexts made by ctxOf, and measures it.
func runWorkload(uc *gcache.UseCase[item], db *versions, base context.Context, deadline, d time.Duration) tableRow {
	var (
		mu                           sync.Mutex
		row                          tableRow
		calls, failed, runs, expired atomic.Int64
		wg                           sync.WaitGroup
	)
	start := time.Now()
	stop := start.Add(d)
	for w := range tableWorkers {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), uint64(start.UnixNano())))
			zipf := rand.NewZipf(r, 1.1, 1, tableKeys-1)
			var lat []time.Duration
			for time.Now().Before(stop) {
				id := strconv.FormatUint(zipf.Uint64(), 10)
				ctx, cancel := context.WithTimeout(base, deadline)
				b := gcache.AppendString(nil, id)
				t0 := time.Now()
				_, err := uc.Get(ctx, uc.Key(b, len(b)), func(ctx context.Context) (item, error) {
					runs.Add(1)
					if err := ctx.Err(); err != nil {
						expired.Add(1)
						return item{}, err
					}
					time.Sleep(tableFnTime)
					return db.read(id), nil
				})
				took := time.Since(t0)
				lat = append(lat, took)
				cancel()
				calls.Add(1)
				if err != nil && failed.Add(1) == 1 {
					mu.Lock()
					row.firstFailure = fmt.Sprintf("after %v: %v", took.Round(time.Millisecond), err)
					mu.Unlock()
				}
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
		fmt.Println("| fault | deadline | p50 | p99 | p99.9 | max | calls failed | function runs per call | database calls/s |")
		fmt.Println("|---|---|---|---|---|---|---|---|---|")
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
	fmt.Printf("| %s | %v | %s | %s | %s | %s | %d of %d | %.4f | %.0f |\n", name, d, short(row.percentile(.5)), short(row.percentile(.99)),
		short(row.percentile(.999)), short(row.latencies[len(row.latencies)-1]), row.failed, row.calls, float64(row.runs)/float64(row.calls), float64(dbCalls)/row.took.Seconds())
	if row.failed > 0 {
		notes = append(notes, fmt.Sprintf("- %s, %v: %d failed, %d of them in the function, entered with an expired context; the first %s", name, d, row.failed, row.expired, row.firstFailure))
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
