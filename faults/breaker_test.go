package faults

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	gcache "github.com/gcache-go/gcache/runtime"
)

// TestBreakerIgnoresCancelledCalls: with Redis black-holed, 20 callers
// that cancel their calls while the Cache waits for Redis do not open the
// breaker, nor count Redis errors; then callers whose deadlines run out
// while it waits open it within its threshold.
func TestBreakerIgnoresCancelledCalls(t *testing.T) {
	t.Parallel() // with the other short test, once the matrix and the soak are done
	const threshold = 5
	s := newSetup(t, false, gcache.DefaultRedisTimeout)
	in := newInstance(t, s.client, gcache.Config{BreakerThreshold: threshold, BreakerCooldown: time.Minute})
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

	cancelled := 0
	for i := range 20 {
		ctx, cancel := context.WithCancel(enabled)
		stop := time.AfterFunc(20*time.Millisecond, cancel) // well before RedisTimeout
		b := gcache.AppendString(nil, fmt.Sprint("cancelled", i))
		_, err := uc.Get(ctx, uc.Key(b, len(b)), func(ctx context.Context) (item, error) {
			if err := ctx.Err(); err != nil {
				return item{}, err
			}
			return db.read("x"), nil
		})
		stop.Stop()
		cancel()
		if errors.Is(err, context.Canceled) {
			cancelled++
		}
	}
	if cancelled == 0 {
		t.Fatal("no call was cancelled while it waited for Redis: the test tested nothing")
	}
	if n := in.metric("gcache_disabled_counter_total", "reason", "server_down"); n != 0 {
		t.Errorf("after %d calls cancelled by their callers, the breaker held %v reads back", cancelled, n)
	}
	if n := in.metric("gcache_error_counter_total", "layer", "REMOTE"); n != 0 {
		t.Errorf("%d calls cancelled by their callers counted %v Redis errors", cancelled, n)
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
	t.Logf("%d of 20 calls cancelled while waiting for Redis; then the breaker opened after %d calls whose deadlines ran out", cancelled, timedOut.n.Load())
}
