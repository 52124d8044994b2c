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
// value older than that bound. The function stamps each value with when
// it made it; a reader checks the value's age when Get returns, allowing
// 10% of the bound for the time between the Cache's check and the return.
func TestOutageProtectsTheDatabase(t *testing.T) {
	const (
		readers = 50
		outage  = 5 * time.Second
		bound   = gcache.DefaultOutageStaleness
		slack   = bound / 10
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
	before := db.readCount()
	var served, failed, tooOld atomic.Int64
	var oldest atomic.Int64
	stop := time.Now().Add(outage)
	var wg sync.WaitGroup
	for range readers {
		wg.Go(func() {
			for time.Now().Before(stop) {
				v, err := get()
				if err != nil {
					failed.Add(1)
					continue
				}
				served.Add(1)
				age := time.Since(v.Made)
				for cur := oldest.Load(); int64(age) > cur && !oldest.CompareAndSwap(cur, int64(age)); cur = oldest.Load() {
				}
				if age > bound+slack {
					tooOld.Add(1)
				}
			}
		})
	}
	wg.Wait()
	calls := db.readCount() - before
	limit := int64(outage/bound) + 1
	t.Logf("%d calls served by %d goroutines in %v of black hole: %d database calls (limit %d), %d failed, oldest value served %v, %.0f outage hits",
		served.Load(), readers, outage, calls, limit, failed.Load(), time.Duration(oldest.Load()).Round(time.Millisecond), in.metric("gcache_outage_hit_counter_total"))
	if failed.Load() > 0 {
		t.Errorf("%d calls failed", failed.Load())
	}
	if calls > limit {
		t.Errorf("%d database calls in %v of outage, over %d", calls, outage, limit)
	}
	if tooOld.Load() > 0 {
		t.Errorf("%d values served older than %v", tooOld.Load(), bound+slack)
	}
	if in.metric("gcache_outage_hit_counter_total") == 0 {
		t.Error("no hit counted as served by the outage mode")
	}
}
