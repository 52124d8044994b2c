package faults

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gcache "github.com/gcache-go/gcache/runtime"
)

// The matrix's Cache: the default Redis deadline, and a breaker that
// opens after 5 failures in a row and stays open for longer than the
// calls in a row take, so that no probe blurs the count.
const (
	matrixTimeout   = gcache.DefaultRedisTimeout
	matrixThreshold = 5
	matrixCooldown  = 1500 * time.Millisecond
	// fnTime is how long the function takes: a database call well within
	// every deadline.
	fnTime = 2 * time.Millisecond
	// matrixCells is how many cells run at once.
	matrixCells = 8
)

// calls counts what a series of calls met.
type calls struct {
	n, failed, expired, extraRuns atomic.Int64
	mu                            sync.Mutex
	slowest                       time.Duration
	firstFailure                  string
}

// call makes one call of key with deadline d, whose function checks its
// context at entry, as a database driver does, and counts its runs.
func (c *calls) call(uc *gcache.UseCase[item], db *versions, key string, d time.Duration) {
	ctx, cancel := context.WithTimeout(enabled, d)
	defer cancel()
	var runs atomic.Int64
	start := time.Now()
	b := gcache.AppendString(nil, key)
	_, err := uc.Get(ctx, uc.Key(b, len(b)), func(ctx context.Context) (item, error) {
		if runs.Add(1) > 1 {
			c.extraRuns.Add(1)
		}
		if err := ctx.Err(); err != nil {
			c.expired.Add(1)
			return item{}, err
		}
		time.Sleep(fnTime)
		return db.read(key), nil
	})
	took := time.Since(start)
	c.n.Add(1)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.slowest = max(c.slowest, took)
	if err != nil {
		c.failed.Add(1)
		if c.firstFailure == "" {
			c.firstFailure = fmt.Sprintf("%s after %v: %v", key, took.Round(time.Millisecond), err)
		}
	}
}

// check reports what the calls must not have met: a failure (every call
// here is one the function alone serves), a run of the function with an
// expired context, or two runs for one call.
func (c *calls) check(t *testing.T, phase string) {
	t.Helper()
	if c.failed.Load() > 0 {
		t.Errorf("%s: %d of %d calls failed, the first %s", phase, c.failed.Load(), c.n.Load(), c.firstFailure)
	}
	if c.expired.Load() > 0 {
		t.Errorf("%s: the function ran %d times with an expired context", phase, c.expired.Load())
	}
	if c.extraRuns.Load() > 0 {
		t.Errorf("%s: the function ran more than once for %d calls", phase, c.extraRuns.Load())
	}
}

// redisLooks is the number of reads that went to Redis (not held back by
// the breaker).
func (in *instance) redisLooks() float64 {
	return in.metric("gcache_get_timer", "layer", "REMOTE")
}

// TestFaultMatrix puts calls with 50 ms, 100 ms and 1 s deadlines through
// each kind of Redis trouble: 20 calls in a row, then 8 goroutines of 5
// calls sharing 2 keys, then 10 calls in a row once the trouble is healed.
// Every call is served; the function runs at most once per call and never
// with an expired context; when every Redis call fails, the breaker opens
// within its threshold; and every call that missed Redis counted why.
//
// The cells run side by side, matrixCells at a time: each mostly waits
// for timeouts, and t.Parallel would hold them to GOMAXPROCS at a time.
func TestFaultMatrix(t *testing.T) {
	slots := make(chan struct{}, matrixCells)
	var wg sync.WaitGroup
	for _, tr := range troubles {
		for _, d := range deadlines {
			wg.Go(func() {
				slots <- struct{}{}
				defer func() { <-slots }()
				t.Run(tr.name+"/"+d.String(), func(t *testing.T) { runMatrixCell(t, tr, d) })
			})
		}
	}
	wg.Wait()
}

func runMatrixCell(t *testing.T, tr trouble, d time.Duration) {
	s := newSetup(t, tr.onGroup, matrixTimeout)
	in := newInstance(t, s.client, gcache.Config{RedisTimeout: matrixTimeout, BreakerThreshold: matrixThreshold, BreakerCooldown: matrixCooldown})
	uc, err := gcache.NewUseCase[item](in.c, gcache.UseCaseSpec{Name: "GetItem", KeyType: "item", Tracked: true,
		Default: gcache.KeyConfig{Remote: gcache.LayerConfig{TTL: time.Hour, Ramp: 100}}})
	if err != nil {
		t.Fatal(err)
	}
	db := newVersions()
	// Healthy first: the clock is learned and connections are open. On a
	// starved machine a healthy Redis can still miss the 200 ms budget:
	// warm up until a round goes by without a Redis error (which also
	// leaves the breaker with no failures in a row), and count the
	// trouble's errors from there.
	errs0 := 0.0
	for round := 0; ; round++ {
		var warm calls
		for i := range 3 {
			warm.call(uc, db, fmt.Sprint("warm", round, "-", i), time.Second)
		}
		warm.check(t, "before the trouble")
		if err := in.settle(5 * time.Second); err != nil {
			t.Fatal(err)
		}
		errs := in.metric("gcache_error_counter_total", "layer", "REMOTE")
		if errs == errs0 {
			break
		}
		if round == 20 {
			t.Fatalf("%v Redis errors before the trouble, in 20 rounds of 3 calls", errs)
		}
		errs0 = errs
	}

	skipped0 := in.metric("gcache_disabled_counter_total", "reason", "server_down")
	heal := tr.inject(t, s)
	looks0, misses0 := in.redisLooks(), in.metric("gcache_miss_counter_total", "layer", "REMOTE")
	var inRow calls
	opened, looksToOpen := false, 0.0
	for i := range 20 {
		inRow.call(uc, db, fmt.Sprint("row", i), d)
		if !opened && in.metric("gcache_disabled_counter_total", "reason", "server_down") > skipped0 {
			opened, looksToOpen = true, in.redisLooks()-looks0
		}
	}
	inRow.check(t, "calls in a row")
	looks := in.redisLooks() - looks0
	errs := in.metric("gcache_error_counter_total", "layer", "REMOTE") - errs0
	skipped := in.metric("gcache_disabled_counter_total", "reason", "server_down") - skipped0
	misses := in.metric("gcache_miss_counter_total", "layer", "REMOTE") - misses0
	if tr.breaks {
		if !opened {
			t.Errorf("the breaker did not open: %v reads tried Redis, %v errors counted", looks, errs)
		} else if looksToOpen > matrixThreshold {
			t.Errorf("the breaker opened after %v reads tried Redis, over its threshold of %d", looksToOpen, matrixThreshold)
		}
		if errs < 1 {
			t.Error("no Redis error counted")
		}
	}
	// Each call read Redis and missed, or counted why it did not.
	if accounted := misses + errs + skipped; accounted < 20 {
		t.Errorf("20 calls, but %v misses + %v errors + %v skipped by the breaker", misses, errs, skipped)
	}

	var shared calls
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 5 {
				shared.call(uc, db, fmt.Sprint("hot", (g+i)%2), d)
			}
		})
	}
	wg.Wait()
	shared.check(t, "calls sharing keys")

	heal()
	time.Sleep(matrixCooldown) // the breaker lets a probe through again
	var after calls
	for i := range 10 {
		after.call(uc, db, fmt.Sprint("after", i), d)
	}
	after.check(t, "calls after the trouble")
	t.Logf("%s, deadline %v: %d+%d+%d calls, slowest %v/%v/%v; Redis reads tried %v (%v before the breaker opened), errors %v, skipped %v",
		tr.name, d, inRow.n.Load(), shared.n.Load(), after.n.Load(), inRow.slowest.Round(time.Millisecond), shared.slowest.Round(time.Millisecond),
		after.slowest.Round(time.Millisecond), looks, looksToOpen, errs, skipped)
}
