package gcache

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// TestTrimKeepsAnUnlandedInvalidation: with writes paused (CLIENT PAUSE WRITE, as in a failover), the
// instance's own invalidation that has not reached Redis survives a trim
// of a full watermark table, or makes every older value stale when it goes:
// the instance never reads the old value from Redis. Trim used to forget
// it as expired, with nothing left to refuse the value in Redis.
func TestTrimKeepsAnUnlandedInvalidation(t *testing.T) {
	h := withRedis(t, Config{RedisTimeout: 100 * time.Millisecond, BreakerThreshold: 1_000_000})
	remoteOnly := KeyConfig{Remote: LayerConfig{TTL: time.Hour, Ramp: 100}}
	uc := useCase[string](t, h.c, trackedSpec("Profile", remoteOnly))
	key := keyOf(uc, "0")
	src := &versioned{}
	if v, err := uc.Get(enabled, key, src.fn); err != nil || v != "v0" {
		t.Fatalf("first read = %q, %v", v, err)
	}
	h.settle() // Redis holds v0
	ctx := context.Background()

	if got := h.redis.Do("CLIENT", "PAUSE", "60000", "WRITE"); got != "OK" {
		t.Fatalf("CLIENT PAUSE = %v", got)
	}
	defer h.redis.Do("CLIENT", "UNPAUSE")
	src.version.Store(1)
	if err := h.c.Invalidate(ctx, "user_id", "0"); err == nil {
		t.Fatal("Invalidate returned nil with writes paused")
	}
	if v, _ := uc.Get(enabled, key, src.fn); v != "v1" {
		t.Fatalf("right after its failed Invalidate the instance read %q", v)
	}
	// Fill the table to its bound, then one more entity: trim runs.
	others := make([]string, maxWatermarks-int(h.c.wm.count.Load()))
	for i := range others {
		others[i] = fmt.Sprint("other", i)
	}
	if err := h.c.InvalidateMany(ctx, "user_id", others); err == nil {
		t.Fatal("InvalidateMany returned nil with writes paused")
	}
	if _, ok := h.c.wm.entries.GetIfPresent(key.entityKey()); !ok {
		t.Fatal("setup: entity 0 should still be in the table before trim")
	}
	if err := h.c.Invalidate(ctx, "user_id", "one-more"); err == nil {
		t.Fatal("Invalidate returned nil with writes paused")
	}
	if _, ok := h.c.wm.entries.GetIfPresent(key.entityKey()); ok {
		t.Fatal("setup: trim should have run")
	}
	h.c.retries.mu.Lock()
	_, pending := h.c.retries.pending[key.entityKey()]
	h.c.retries.mu.Unlock()
	if !pending {
		t.Fatal("setup: entity 0 should still wait in retries")
	}
	if v, err := uc.Get(enabled, key, src.fn); err != nil || v != "v1" {
		t.Fatalf("the instance whose Invalidate failed read %q (%v): trim forgot its own watermark, "+
			"which is not in Redis either (it still waits in retries)", v, err)
	}
}

// TestJoinerAfterTrimLoadsAgain: a call that starts after this instance's Invalidate and joins a load
// that began before it loads again, even when trim has since forgotten the
// watermark as expired. The floor an expired watermark raised used to guard
// stores only, not the values handed to joiners.
func TestJoinerAfterTrimLoadsAgain(t *testing.T) {
	// A hundred invalidations of 1,000 entities each: give a starved machine
	// time for them, as the test is about trim, not about Redis's speed.
	h := withRedis(t, Config{RedisTimeout: 10 * time.Second})
	uc := useCase[string](t, h.c, trackedSpec("Profile", allLayers))
	ctx := context.Background()
	src := &versioned{hold: make(chan chan struct{}, 1)}
	leader := make(chan string, 1)
	go func() {
		v, _ := uc.Get(enabled, keyOf(uc, "0"), src.fn)
		leader <- v
	}()
	release := <-src.hold // the leader read v0 and waits
	src.version.Store(1)
	if err := h.c.Invalidate(ctx, "user_id", "0"); err != nil {
		t.Fatal(err)
	}
	// Other entities' invalidations fill the table past its bound.
	others := make([]string, maxWatermarks)
	for i := range others {
		others[i] = fmt.Sprint("other", i)
	}
	for from := 0; from < len(others); from += 1000 {
		if err := h.c.InvalidateMany(ctx, "user_id", others[from:from+1000]); err != nil {
			t.Fatal(err)
		}
	}
	h.caughtUp()
	key := keyOf(uc, "0")
	if _, ok := h.c.wm.entries.GetIfPresent(key.entityKey()); ok {
		t.Fatal("setup: trim should have forgotten entity 0")
	}
	joiner := make(chan string, 1)
	go func() {
		v, _ := uc.Get(enabled, keyOf(uc, "0"), src.fn)
		joiner <- v
	}()
	eventually(t, "the joiner joins the load", func() bool { return h.metric("gcache_miss_counter_total", "layer", "LOCAL") == 2 })
	src.hold = nil
	close(release)
	<-leader
	if v := <-joiner; v != "v1" {
		t.Fatalf("a call that began after this instance's Invalidate returned nil got %q from a load that began before it", v)
	}
}
