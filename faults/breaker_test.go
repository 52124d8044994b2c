package faults

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gcache "github.com/gcache-go/gcache/runtime"
)

// TestBreakerIgnoresCancelledCalls: with Redis black-holed, 5 callers
// that cancel their calls while the Cache waits for Redis do not open the
// breaker, nor count Redis errors; then callers whose deadlines run out
// while it waits open it within its threshold. It does not run beside
// TestOutageProtectsTheDatabase, whose 50 readers keep the cores busy: a
// timer or a caller can then be late by hundreds of ms.
func TestBreakerIgnoresCancelledCalls(t *testing.T) {
	const threshold = 5
	const redisTimeout = time.Second
	s := newSetup(t, false, redisTimeout)
	in := newInstance(t, s.client, gcache.Config{RedisTimeout: redisTimeout, BreakerThreshold: threshold, BreakerCooldown: time.Minute})
	uc, err := gcache.NewUseCase[item](in.c, gcache.UseCaseSpec{Name: "GetItem", KeyType: "item", Tracked: true,
		Default: gcache.KeyConfig{Remote: gcache.LayerConfig{TTL: time.Hour, Ramp: 100}}})
	if err != nil {
		t.Fatal(err)
	}
	db := newVersions()
	var warm calls
	warm.call(uc, db, "warm", time.Second)
	warm.check(t, "before the black hole")
	if err := in.settle(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	heal := s.onLinks(func(l *link) func() { return l.blackHole(t) })
	defer heal()

	// Five callers at once cancel 20 ms into a Redis wait of up to 1 s:
	// the margin is for a busy machine, on which a timer can fire late.
	var cancelled atomic.Int64
	var wg sync.WaitGroup
	for i := range 5 {
		wg.Go(func() {
			ctx, cancel := context.WithCancel(enabled)
			defer cancel()
			stop := time.AfterFunc(20*time.Millisecond, cancel)
			defer stop.Stop()
			b := gcache.AppendString(nil, fmt.Sprint("cancelled", i))
			_, err := uc.Get(ctx, uc.Key(b, len(b)), func(ctx context.Context) (item, error) {
				if err := ctx.Err(); err != nil {
					return item{}, err
				}
				return db.read("x"), nil
			})
			if errors.Is(err, context.Canceled) {
				cancelled.Add(1)
			}
		})
	}
	wg.Wait()
	if cancelled.Load() == 0 {
		t.Fatal("no call was cancelled while it waited for Redis: the test tested nothing")
	}
	if n := in.metric("gcache_disabled_counter_total", "reason", "server_down"); n != 0 {
		t.Errorf("after %d calls cancelled by their callers, the breaker held %v reads back", cancelled.Load(), n)
	}
	if n := in.metric("gcache_error_counter_total", "layer", "REMOTE"); n != 0 {
		t.Errorf("%d calls cancelled by their callers counted %v Redis errors", cancelled.Load(), n)
	}

	looks0 := in.redisLooks()
	var timedOut calls
	opened := false
	for i := range 3 * threshold {
		timedOut.call(uc, db, fmt.Sprint("deadline", i), 100*time.Millisecond)
		if in.metric("gcache_disabled_counter_total", "reason", "server_down") > 0 {
			opened = true
			break
		}
	}
	timedOut.check(t, "calls whose deadline ran out in Redis")
	if !opened {
		t.Errorf("the breaker did not open after %d calls timed out in Redis", timedOut.n.Load())
	} else if looks := in.redisLooks() - looks0; looks > threshold {
		t.Errorf("the breaker opened after %v reads timed out, over its threshold of %d", looks, threshold)
	}
	t.Logf("%d of 5 calls cancelled while waiting for Redis; then the breaker opened after %d calls whose deadlines ran out", cancelled.Load(), timedOut.n.Load())
}
