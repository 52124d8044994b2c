package gcache

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// TestReviewTrimForgetsAPendingInvalidation breaks guarantee 3 ("a failed
// Invalidate: the invalidating instance never serves the old value again,
// either tier").
//
// Root cause: watermarks.trim treats a watermark as needed only while a
// LOCAL entry made before it may be alive (expires = watermark +
// keepFor, keepFor = the longest tracked local TTL + 1s; 0 when no
// tracked entry was ever stored locally, as with a use case cached in
// Redis only), and forgets expired ones first, raising only storeFloor,
// which no read looks at. But a watermark of this instance's own that
// failed to land (landed == false, waiting in retries) is also what stops
// the instance from serving the old value from REDIS, where it is not:
// once trim forgets it, a read from Redis finds neither the watermark
// there nor the entity in the table, and serves the old value. (Past the
// expired ones trim forgets the oldest, raising the floor to the newest it
// forgot; a read from Redis after that floor is not covered either.) trim
// must keep what retries still holds.
//
// Fault: CLIENT PAUSE WRITE, as a failover does: watermark writes fail,
// reads go on. Past the failed invalidation of entity 0 the instance
// invalidates (and fails to write) as many entities as the table holds,
// so that trim runs.
func TestReviewTrimForgetsAPendingInvalidation(t *testing.T) {
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

// TestReviewTrimLetsAJoinerHaveTheOldValue breaks guarantee 2 on the
// instance that invalidated ("after Invalidate returns nil on instance I,
// no read that starts afterwards returns a value computed before the
// invalidation: on I at once"), through single-flight: a caller that
// starts after the invalidation joins a load that began before it and is
// handed that load's value.
//
// Root cause: when trim forgets an EXPIRED watermark it raises only
// storeFloor (watermarks.trim, first loop), and watermarks.check, the rule
// a joiner's shared result (UseCase.load), a value in transit
// (UseCase.lead, the filling buffer) and a batch go through, never looks
// at storeFloor; only storable (setLocal) does. "Expired" is reckoned from
// the local tier's TTLs (keepFor: the longest tracked local TTL stored so
// far, plus 1 s; 0 before any is stored), not from how long a load or a
// write can stay in flight, so a load that outlives keepFor loses its
// watermark to trim, and its joiners get its value as fresh. (A fresh
// instance has keepFor 0; any instance has a function slower than its
// local TTL plus a second sometimes.)
func TestReviewTrimLetsAJoinerHaveTheOldValue(t *testing.T) {
	h := withRedis(t, Config{})
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
