package faults

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gcache "github.com/gcache-go/gcache/runtime"
)

// TestOutageProtectsTheDatabase: with Redis black-holed for 5 s, a hot
// tracked key read by 50 goroutines costs the database at most one call
// per Config.OutageStaleness (5 s / 1 s + 1 = 6), and no goroutine gets a
// value older than that bound.
//
// The bound is the outage mode's: a value is served while the later of
// when its call began and when the view of the events was last current is
// within OutageStaleness. The function stamps each value with when it made
// it (after its call began); the view was last current before the black
// hole was in place; and the Cache checked the value after the reader's
// Get began. So a read that began more than the bound after both the
// value's stamp and the black hole's start got a value the Cache should
// not have served, whatever the scheduler did before Get returned. The
// only allowance is clockError, for the fleet clock's error on loopback
// (the view's time comes from heartbeats stamped on Redis's clock).
func TestOutageProtectsTheDatabase(t *testing.T) {
	t.Parallel() // with the other short test, once the matrix and the soak are done
	const (
		readers = 50
		outage  = 5 * time.Second
		bound   = gcache.DefaultOutageStaleness
		// clockError is more than the fleet clock's error with Redis on
		// loopback (round trip / 2 + 1 µs).
		clockError = 5 * time.Millisecond
	)
	s := newSetup(t, false, gcache.DefaultRedisTimeout)
	in := newInstance(t, s.client, gcache.Config{OutageStaleness: bound})
	uc, err := gcache.NewUseCase[item](in.c, gcache.UseCaseSpec{Name: "GetItem", KeyType: "item", Tracked: true,
		Default: gcache.KeyConfig{Local: gcache.LayerConfig{TTL: time.Hour, Ramp: 100}, Remote: gcache.LayerConfig{TTL: time.Hour, Ramp: 100}}})
	if err != nil {
		t.Fatal(err)
	}
	db := newVersions()
	get := func() (item, error) {
		b := gcache.AppendString(nil, "hot")
		return uc.Get(enabled, uc.Key(b, len(b)), func(ctx context.Context) (item, error) {
			if err := ctx.Err(); err != nil {
				return item{}, err
			}
			return db.read("hot"), nil
		})
	}
	if _, err := get(); err != nil {
		t.Fatal(err)
	}
	if err := in.settle(5 * time.Second); err != nil {
		t.Fatal(err)
	}

	heal := s.onLinks(func(l *link) func() { return l.blackHole(t) })
	defer heal()
	holeFrom := time.Now() // after the view was last current
	before := db.readCount()
	var served, failed, tooOld atomic.Int64
	var oldest atomic.Int64
	stop := time.Now().Add(outage)
	var wg sync.WaitGroup
	for range readers {
		wg.Go(func() {
			for time.Now().Before(stop) {
				start := time.Now()
				v, err := get()
				if err != nil {
					failed.Add(1)
					continue
				}
				served.Add(1)
				// How old the value was, by the outage mode's rule, when
				// the read began: no older than when the Cache checked it.
				age := start.Sub(laterOf(v.Made, holeFrom))
				for cur := oldest.Load(); int64(age) > cur && !oldest.CompareAndSwap(cur, int64(age)); cur = oldest.Load() {
				}
				if age > bound+clockError {
					tooOld.Add(1)
				}
			}
		})
	}
	wg.Wait()
	calls := db.readCount() - before
	limit := int64(outage/bound) + 1
	t.Logf("%d calls served by %d goroutines in %v of black hole: %d database calls (limit %d), %d failed, oldest value served %v (counted from when it was made or the black hole began, whichever is later, to when the read began), %.0f outage hits",
		served.Load(), readers, outage, calls, limit, failed.Load(), time.Duration(oldest.Load()).Round(time.Millisecond), in.metric("gcache_outage_hit_counter_total"))
	if failed.Load() > 0 {
		t.Errorf("%d calls failed", failed.Load())
	}
	if calls > limit {
		t.Errorf("%d database calls in %v of outage, over %d", calls, outage, limit)
	}
	if tooOld.Load() > 0 {
		t.Errorf("%d values served older than %v (+%v for the clock's error)", tooOld.Load(), bound, clockError)
	}
	if in.metric("gcache_outage_hit_counter_total") == 0 {
		t.Error("no hit counted as served by the outage mode")
	}
}

// laterOf returns the later of a and b.
func laterOf(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
