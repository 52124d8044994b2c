package gcache

// Faults aimed at refreshes and batches in flight across an Invalidate,
// and at caching after Redis lost its watermarks.

import (
	"context"
	"testing"
	"time"
)

// TestRefreshAcrossOwnInvalidate: an early
// refresh whose call began before this instance's Invalidate returned nil
// fills neither tier: after it ends, the instance reads the new value,
// from its local tier and, on another instance, from Redis.
func TestRefreshAcrossOwnInvalidate(t *testing.T) {
	a, b := pair(t, Config{})
	cfg := KeyConfig{Local: LayerConfig{TTL: 2 * time.Second, Ramp: 100}, Remote: LayerConfig{TTL: 2 * time.Second, Ramp: 100}, RefreshAt: 0.05}
	ucA := useCase[string](t, a.c, trackedSpec("Profile", cfg))
	ucB := useCase[string](t, b.c, trackedSpec("Profile", cfg))
	src := &versioned{}
	if v, err := ucA.Get(enabled, keyOf(ucA, "7"), src.fn); err != nil || v != "v0" {
		t.Fatalf("first read = %q, %v", v, err)
	}
	a.settle()
	time.Sleep(150 * time.Millisecond) // past the refresh point (at most 100 ms)
	src.hold = make(chan chan struct{}, 1)
	if v, _ := ucA.Get(enabled, keyOf(ucA, "7"), src.fn); v != "v0" {
		t.Fatalf("the hit that starts the refresh read %q", v)
	}
	release := <-src.hold // the refresh read v0 and waits
	src.version.Store(1)
	if err := a.c.Invalidate(context.Background(), "user_id", "7"); err != nil {
		t.Fatal(err)
	}
	src.hold = nil
	close(release)
	eventually(t, "the refresh ends", func() bool { return a.metric("gcache_refresh_counter_total") == 1 })
	a.settle()
	b.caughtUp()
	if v, _ := ucA.Get(enabled, keyOf(ucA, "7"), src.fn); v != "v1" {
		t.Errorf("A read %q after its Invalidate returned nil: the refresh in flight filled its local tier", v)
	}
	if v, _ := ucB.Get(enabled, keyOf(ucB, "7"), src.fn); v != "v1" {
		t.Errorf("B read %q after A's Invalidate returned nil: the refresh in flight filled Redis", v)
	}
}

// TestCachingResumesAfterLostWatermarks: a
// Redis that restarts empty voids what was checked against its watermarks
// (lost), and the instance's own landed watermark no longer vouches for a
// read; but this does not stop caching: once the instance is live again,
// one call of the function refills both tiers and the reads that follow
// hit, in this instance and in a fresh one.
func TestCachingResumesAfterLostWatermarks(t *testing.T) {
	a := withRedis(t, Config{})
	uc := useCase[string](t, a.c, trackedSpec("Profile", allLayers))
	key := keyOf(uc, "7")
	ctx := context.Background()
	src := &versioned{}
	uc.Get(enabled, key, src.fn)
	src.version.Store(1)
	if err := a.c.Invalidate(ctx, "user_id", "7"); err != nil {
		t.Fatal(err)
	}
	if v, _ := uc.Get(enabled, key, src.fn); v != "v1" {
		t.Fatalf("read %q after Invalidate", v)
	}
	a.settle()
	restarted := a.c.clk.local()
	a.redis.Kill()
	a.redis.Restart()
	eventually(t, "the instance knows Redis lost its watermarks and is live", func() bool {
		return a.c.live() && a.c.wm.lost.Load() > restarted && a.c.wm.floor.Load() > restarted
	})
	calls, redisErrors := src.calls.Load(), a.metric("gcache_error_counter_total", "layer", "REMOTE")
	for range 5 {
		if v, _ := uc.Get(enabled, key, src.fn); v != "v1" {
			t.Fatalf("read %q after the restart", v)
		}
	}
	if n := src.calls.Load() - calls; n != 1 {
		t.Errorf("5 reads after the restart called the function %d times; want 1", n)
	}
	if a.metric("gcache_error_counter_total", "layer", "REMOTE") != redisErrors {
		t.Fatal("Redis failed after the instance was live again")
	}
	a.settle()
	fresh := newHarness(t, Config{Redis: &RedisConfig{Addrs: []string{a.redis.Addr()}}})
	fresh.waitLive()
	ucF := useCase[string](t, fresh.c, trackedSpec("Profile", allLayers))
	calls = src.calls.Load()
	if v, _ := ucF.Get(enabled, key, src.fn); v != "v1" || src.calls.Load() != calls {
		t.Errorf("a fresh instance read %q, with %d calls of the function; want v1 from Redis", v, src.calls.Load()-calls)
	}
}

// TestBatchAcrossOwnInvalidate: a GetBatch
// whose function began before this instance's Invalidate returned nil,
// and returned after it, fills neither tier for that entity (storeBatch
// and putBatch refuse it), while the other ids of the batch are cached:
// A reads the new value from its local tier, B from Redis.
func TestBatchAcrossOwnInvalidate(t *testing.T) {
	a, b := pair(t, Config{})
	ucA := useCase[string](t, a.c, trackedSpec("Profile", allLayers))
	ucB := useCase[string](t, b.c, trackedSpec("Profile", allLayers))
	key := func(buf []byte, id string) ([]byte, int, error) {
		buf = AppendString(buf, id)
		return buf, len(buf), nil
	}
	src := &versioned{}
	started, release := make(chan struct{}), make(chan struct{})
	var calls int
	load := func(ctx context.Context, ids []string) (map[string]string, error) {
		calls++
		v, _ := src.fn(ctx) // read before the wait, like a database read
		out := map[string]string{}
		for _, id := range ids {
			out[id] = v
		}
		if calls == 1 {
			close(started)
			<-release
		}
		return out, nil
	}
	got := make(chan map[string]string, 1)
	go func() {
		m, _ := GetBatch(enabled, ucA, []string{"7", "8"}, key, load)
		got <- m
	}()
	<-started
	src.version.Store(1)
	if err := a.c.Invalidate(context.Background(), "user_id", "7"); err != nil {
		t.Fatal(err)
	}
	close(release)
	if m := <-got; m["7"] != "v0" {
		t.Fatalf("the batch in flight returned %v", m)
	}
	a.settle()
	b.caughtUp()
	if m, _ := GetBatch(enabled, ucA, []string{"7", "8"}, key, load); m["7"] != "v1" || m["8"] != "v0" {
		t.Errorf("A's next batch read %v after its Invalidate of 7 returned nil; want 7=v1, 8=v0 (cached)", m)
	}
	if v, _ := ucB.Get(enabled, keyOf(ucB, "7"), src.fn); v != "v1" {
		t.Errorf("B read %q from Redis after A's Invalidate returned nil", v)
	}
}
