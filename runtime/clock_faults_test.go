package gcache

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gcache-go/gcache/internal/redistest"
)

// TestInvalidateBeforeTheClockIsKnownIsHonoured: an Invalidate that fails before the instance has learned the fleet clock
// (Redis frozen from its start, the host's clock 5 s behind Redis's) leaves
// the instance serving none of the entity's older values, while the retry
// waits. Its table used to hold the watermark at the local time, as if it
// were Redis's, 5 s early.
func TestInvalidateBeforeTheClockIsKnownIsHonoured(t *testing.T) {
	srv := redistest.Start(t)
	writer := newHarness(t, Config{Redis: &RedisConfig{Addrs: []string{srv.Addr()}}})
	writer.waitLive()
	ucW := useCase[string](t, writer.c, trackedSpec("Profile", allLayers))
	src := &versioned{}
	if v, err := ucW.Get(enabled, keyOf(ucW, "7"), src.fn); err != nil || v != "v0" {
		t.Fatalf("first read = %q, %v", v, err)
	}
	writer.settle() // Redis holds v0, made by the writer on Redis's clock

	srv.Pause()
	resumed := false
	defer func() {
		if !resumed {
			srv.Resume()
		}
	}()
	const skew = -5 * time.Second // this host's clock is behind Redis's
	inv := newHarness(t, Config{
		Redis:            &RedisConfig{Addrs: []string{srv.Addr()}},
		Clock:            func() time.Time { return time.Now().Add(skew) },
		RedisTimeout:     100 * time.Millisecond,
		BreakerThreshold: 1000,
	})
	ucI := useCase[string](t, inv.c, trackedSpec("Profile", allLayers))
	src.version.Store(1)
	if err := inv.c.Invalidate(context.Background(), "user_id", "7"); err == nil {
		t.Fatal("Invalidate returned nil with Redis frozen")
	}
	// Wait until the retry loop has failed a few times: its next pause is
	// 800 ms, during which Redis comes back and the instance reads.
	failures := func() float64 { return inv.metric("gcache_invalidation_error_counter_total") }
	eventually(t, "the retries back off", func() bool { return failures() >= 6 })
	before := failures()
	srv.Resume()
	resumed = true
	v, err := ucI.Get(enabled, keyOf(ucI, "7"), src.fn)
	if err != nil {
		t.Fatal(err)
	}
	if failures() != before || inv.c.retries.size() != 1 {
		t.Log("the retry ran before the read: this run could not see the window")
	}
	if v == "v0" {
		t.Fatalf("the instance whose Invalidate failed read %q: its table holds the watermark at its local time "+
			"(%v behind Redis), as if it were Redis's", v, -skew)
	}
}

// TestSteppedClockIsCaught: a Config.Clock stepped 5 s ahead after the Cache started, as NTP steps a
// host's clock, is caught by the next measurement: a call that began before
// another instance's invalidation is not served after it, by either
// instance. The offset measured first used to hold for good, so the fleet
// clock followed the step.
func TestSteppedClockIsCaught(t *testing.T) {
	var step atomic.Int64
	a := withRedis(t, Config{Clock: func() time.Time { return time.Now().Add(time.Duration(step.Load())) }})
	b := newHarness(t, Config{Redis: &RedisConfig{Addrs: []string{a.redis.Addr()}}})
	b.redis = a.redis
	b.waitLive()
	ucA := useCase[string](t, a.c, trackedSpec("Profile", allLayers))
	ucB := useCase[string](t, b.c, trackedSpec("Profile", allLayers))
	ctx := context.Background()

	step.Store(int64(5 * time.Second)) // A's host clock is stepped
	// The next measurement, within syncEvery, sees the step.
	eventually(t, "A's fleet clock follows Redis's after the step", func() bool {
		redisNow, err := a.redis.Client().Time(ctx).Result()
		fleet, _, _ := a.c.clk.fleet()
		return err == nil && abs(fleet-redisNow.UnixNano()) < int64(time.Second)
	})
	a.waitLive()
	src := &versioned{hold: make(chan chan struct{})}
	got := make(chan string, 1)
	go func() {
		v, _ := ucA.Get(enabled, keyOf(ucA, "7"), src.fn)
		got <- v
	}()
	release := <-src.hold // A's call read v0 and is in flight
	src.version.Store(1)
	if err := b.c.Invalidate(ctx, "user_id", "7"); err != nil {
		t.Fatalf("Invalidate: %v", err)
	}
	a.caughtUp() // A has heard of the invalidation
	close(release)
	if v := <-got; v != "v0" {
		t.Fatalf("the in-flight call returned %q", v)
	}
	src.hold = nil
	a.settle()
	b.caughtUp()
	if v, _ := ucB.Get(enabled, keyOf(ucB, "7"), src.fn); v != "v1" {
		t.Errorf("B, whose Invalidate returned nil, read %q: A's value, made by a call that began before it, "+
			"carries a created_at 5 s late", v)
	}
	if v, _ := ucA.Get(enabled, keyOf(ucA, "7"), src.fn); v != "v1" {
		t.Errorf("A read %q after it heard of the invalidation", v)
	}
}
