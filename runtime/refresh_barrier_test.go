package gcache

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gcache-go/gcache/internal/clocktest"
)

// TestStalledRefreshDoesNotTripTheBreaker: one background write of an
// unrelated key is held (a starved worker), and refreshes of other keys
// wait for it until their time is up. They must then write nothing: their
// writes used to go with an expired context, each failing as a Redis
// timeout that counted against the breaker, which opened on a healthy
// Redis.
func TestStalledRefreshDoesNotTripTheBreaker(t *testing.T) {
	clock := clocktest.New()
	h := withRedis(t, Config{Clock: clock.Now})
	cfg := KeyConfig{Local: LayerConfig{TTL: 10 * time.Second, Ramp: 100}, Remote: LayerConfig{TTL: 10 * time.Second, Ramp: 100}, RefreshAt: 0.5}
	uc := useCase[int64](t, h.c, UseCaseSpec{Name: "uc", Default: cfg})
	var value atomic.Int64
	value.Store(1)
	fn := func(context.Context) (int64, error) { return value.Load(), nil }

	const n = DefaultBreakerThreshold
	keys := make([]Key, n)
	for i := range keys {
		keys[i] = keyOf(uc, fmt.Sprint("k", i))
		if v, err := uc.Get(enabled, keys[i], fn); v != 1 || err != nil {
			t.Fatalf("first call: %d, %v", v, err)
		}
	}
	h.settle()

	held, release := holdFirstWrite(t)
	other := keyOf(uc, "other")
	if _, err := uc.Get(enabled, other, fn); err != nil {
		t.Fatal(err)
	}
	<-held // the write of an unrelated key waits

	value.Store(2)
	clock.Advance(9500 * time.Millisecond) // past the refresh point; the refreshes run for 1s
	for _, k := range keys {
		if v, err := uc.Get(enabled, k, fn); v != 1 || err != nil {
			t.Fatalf("hit past the refresh point: %d, %v", v, err)
		}
	}
	eventually(t, "the refreshes end", func() bool {
		return h.metric("gcache_refresh_counter_total", "use_case", "uc", "result", "ok")+
			h.metric("gcache_refresh_counter_total", "use_case", "uc", "result", "error") >= n
	})
	timeouts := h.metric("gcache_error_counter_total", "use_case", "uc", "error", "timeout")
	open := h.c.remote.breaker.open()
	// A call of a fresh key now skips the healthy Redis.
	if _, err := uc.Get(enabled, keyOf(uc, "fresh"), fn); err != nil {
		t.Fatal(err)
	}
	skipped := h.metric("gcache_disabled_counter_total", "use_case", "uc", "reason", "server_down")
	release()
	h.settle()
	if timeouts > 0 || open || skipped > 0 {
		t.Errorf("refreshes stalled behind an unrelated held write counted %v Redis timeouts; breaker open: %v; calls that skipped Redis: %v (Redis is healthy)", timeouts, open, skipped)
	}
}

// TestStalledLeasedRefreshGivesItsLeaseBack: a refresh under a lease
// waits behind an unrelated held write until its time is up. It must give
// the lease it took back: it used to keep it, unused, holding the key's
// refreshes off on every instance until it expired.
func TestStalledLeasedRefreshGivesItsLeaseBack(t *testing.T) {
	clock := clocktest.New()
	h := withRedis(t, Config{Clock: clock.Now})
	cfg := KeyConfig{Local: LayerConfig{TTL: 10 * time.Second, Ramp: 100}, Remote: LayerConfig{TTL: 10 * time.Second, Ramp: 100}, RefreshAt: 0.5, Lease: time.Minute}
	uc := useCase[int64](t, h.c, UseCaseSpec{Name: "uc", Default: cfg})
	var value atomic.Int64
	value.Store(1)
	fn := func(context.Context) (int64, error) { return value.Load(), nil }
	key := keyOf(uc, "1")
	if v, err := uc.Get(enabled, key, fn); v != 1 || err != nil {
		t.Fatalf("first call: %d, %v", v, err)
	}
	h.settle()
	rc := h.redis.Client()
	if n := rc.Exists(context.Background(), leaseKey(key.str)).Val(); n != 0 {
		t.Fatalf("the miss left its lease behind")
	}

	held, release := holdFirstWrite(t)
	if _, err := uc.Get(enabled, keyOf(uc, "other"), fn); err != nil {
		t.Fatal(err)
	}
	<-held // the write of an unrelated key waits

	value.Store(2)
	clock.Advance(9500 * time.Millisecond) // past the refresh point; the refresh runs for 1s
	if v, err := uc.Get(enabled, key, fn); v != 1 || err != nil {
		t.Fatalf("hit past the refresh point: %d, %v", v, err)
	}
	eventually(t, "the refresh ends", func() bool {
		return h.metric("gcache_refresh_counter_total", "use_case", "uc", "result", "ok")+
			h.metric("gcache_refresh_counter_total", "use_case", "uc", "result", "error") >= 1
	})
	var pttl time.Duration
	eventually(t, "the lease is given back", func() bool {
		pttl = rc.PTTL(context.Background(), leaseKey(key.str)).Val()
		return pttl <= 0
	})
	release()
	h.settle()
	if pttl > 0 {
		t.Errorf("the refresh's lease is left in Redis for another %v: no instance refreshes the key meanwhile", pttl)
	}
}

// holdFirstWrite holds the next background write that runs, as a starved
// worker would, while the other workers go on. held is closed once it
// waits; release lets it go, as the test's end does at the latest.
func holdFirstWrite(t *testing.T) (held <-chan struct{}, release func()) {
	waiting, proceed := make(chan struct{}), make(chan struct{})
	var holding atomic.Bool
	hold := func() {
		if holding.CompareAndSwap(false, true) {
			close(waiting)
			<-proceed
		}
	}
	hooks.write.Store(&hold)
	var once sync.Once
	release = func() { once.Do(func() { close(proceed) }) }
	t.Cleanup(func() {
		release()
		hooks.write.Store(nil)
	})
	return waiting, release
}
