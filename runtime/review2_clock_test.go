package gcache

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gcache-go/gcache/internal/redistest"
)

// TestReview2NothingTrackedIsCachedBeforeTheClockIsKnown breaks guarantee
// 6 (outage mode: "a tracked local entry is served while it was made ...
// within OutageStaleness") and the brief's "no flood of the function
// during an outage" for an instance that starts while Redis is down: until
// it has measured the fleet clock, no tracked value is cached in either
// tier, and the callers of one key that join a load call the function one
// after another instead of sharing its value.
//
// Root cause: watermarks.check (and refuses) treats `created <=
// w.unlanded.Load()` as stale; unlanded starts at 0, and Cache.started,
// which no longer waits for the clock, gives created_at 0 to every call
// made before the clock is known. So 0 <= 0: setLocal drops the value, and
// UseCase.load's joiners find the shared result unusable and loop, each
// leading and calling the function in turn. Guarantee 8 makes only an
// entity this instance invalidated uncacheable before the clock is known;
// started's own doc says such a value is "of no use to a tracked read
// elsewhere", not here.
//
// Fault: Redis frozen (SIGSTOP) from before the instance starts.
func TestReview2NothingTrackedIsCachedBeforeTheClockIsKnown(t *testing.T) {
	srv := redistest.Start(t)
	srv.Pause()
	t.Cleanup(srv.Resume) // after the Cache closes
	h := newHarness(t, Config{Redis: &RedisConfig{Addrs: []string{srv.Addr()}}, RedisTimeout: 50 * time.Millisecond, CloseTimeout: 100 * time.Millisecond})
	h.redis = srv
	uc := useCase[string](t, h.c, trackedSpec("Profile", allLayers))

	// Sequential reads of one key, well within OutageStaleness (1 s).
	src := &versioned{}
	for range 5 {
		if v, err := uc.Get(enabled, keyOf(uc, "7"), src.fn); err != nil || v != "v0" {
			t.Fatalf("Get = %q, %v", v, err)
		}
	}
	if _, _, known := h.c.clk.fleet(); known {
		t.Fatal("setup: the clock should still be unknown")
	}
	if n := src.calls.Load(); n != 1 {
		t.Errorf("5 reads of one key within OutageStaleness called the function %d times: "+
			"a value made before the fleet clock is known is never cached locally (created 0 <= unlanded 0)", n)
	}

	// Concurrent callers of one key: they join the leader's load.
	held := &versioned{hold: make(chan chan struct{}, 1)}
	before := h.metric("gcache_miss_counter_total", "layer", "LOCAL")
	done := make(chan string, 5)
	go func() { v, _ := uc.Get(enabled, keyOf(uc, "8"), held.fn); done <- v }()
	release := <-held.hold
	for range 4 {
		go func() { v, _ := uc.Get(enabled, keyOf(uc, "8"), held.fn); done <- v }()
	}
	eventually(t, "4 callers join the load", func() bool {
		return h.metric("gcache_miss_counter_total", "layer", "LOCAL") == before+5
	})
	held.hold = nil
	close(release)
	for range 5 {
		<-done
	}
	if n := held.calls.Load(); n != 1 {
		t.Errorf("5 concurrent callers of one key called the function %d times, one after another: "+
			"the joiners find the shared value stale and each loads again", n)
	}
}

// TestReview2ClockStepDuringAStallOutlivesAnInvalidation breaks guarantee 1
// ("Config.Clock is read as a host's wall clock: a step is caught by the
// next measurement") and through it guarantee 2: a value made by a call
// that began before B's Invalidate returned nil is served by B (from
// Redis) and by A after it.
//
// Root cause: clock.toFleet bounds the offset's error by the error
// measured plus drift (500 ppm of the local time elapsed since): a step of
// a Config.Clock between two measurements is not in that bound, and a call
// that starts before the next successful measurement takes a created_at
// off by the whole step (Cache.started). When Redis stalls, no
// measurement succeeds, but calls go on (the function is called when the
// read times out): the window is the stall, not syncEvery. The value's
// created_at is 2 s late for good: the fill script, A's table and B's
// table all take it as made after B's invalidation.
//
// Faults: CLIENT PAUSE ALL (a stalled Redis: a failover, a fork) for 1 s;
// A's Config.Clock stepped 2 s ahead during it.
func TestReview2ClockStepDuringAStallOutlivesAnInvalidation(t *testing.T) {
	srv := redistest.Start(t)
	var step atomic.Int64
	a := newHarness(t, Config{
		Redis:            &RedisConfig{Addrs: []string{srv.Addr()}},
		Clock:            func() time.Time { return time.Now().Add(time.Duration(step.Load())) },
		RedisTimeout:     100 * time.Millisecond,
		BreakerThreshold: 1_000_000,
	})
	a.redis = srv
	a.waitLive()
	b := newHarness(t, Config{Redis: &RedisConfig{Addrs: []string{srv.Addr()}}, RedisTimeout: 5 * time.Second})
	b.redis = srv
	b.waitLive()
	ucA := useCase[string](t, a.c, trackedSpec("Profile", allLayers))
	ucB := useCase[string](t, b.c, trackedSpec("Profile", allLayers))
	ctx := context.Background()

	stalled := time.Now()
	if got := srv.Do("CLIENT", "PAUSE", "1000", "ALL"); got != "OK" {
		t.Fatalf("CLIENT PAUSE = %v", got)
	}
	syncBefore := a.c.clk.sync.Load()
	step.Store(int64(2 * time.Second)) // A's host clock is stepped
	src := &versioned{hold: make(chan chan struct{}, 1)}
	got := make(chan string, 1)
	go func() {
		v, _ := ucA.Get(enabled, keyOf(ucA, "7"), src.fn)
		got <- v
	}()
	release := <-src.hold // A's read timed out; its call began and read v0
	if a.c.clk.sync.Load() != syncBefore || time.Since(stalled) > 800*time.Millisecond {
		t.Fatal("setup: A measured the clock before its call began")
	}
	src.version.Store(1)
	if err := b.c.Invalidate(ctx, "user_id", "7"); err != nil {
		t.Fatalf("Invalidate: %v", err)
	}
	a.caughtUp() // A has heard of the invalidation, and measured again
	close(release)
	<-got
	src.hold = nil
	a.settle()
	b.caughtUp()
	if v, _ := ucB.Get(enabled, keyOf(ucB, "7"), src.fn); v != "v1" {
		t.Errorf("B, whose Invalidate returned nil, read %q: A's value, whose call began before it, "+
			"carries a created_at 2 s late (A's clock stepped while Redis stalled)", v)
	}
	if v, _ := ucA.Get(enabled, keyOf(ucA, "7"), src.fn); v != "v1" {
		t.Errorf("A read %q after it heard of the invalidation", v)
	}
}

// TestReview2BreakerStuckOpenByAClockStep breaks "the cache must not stop
// caching after a transient fault" (and guarantee 1: Config.Clock is read
// as a host's wall clock, whose steps are to be taken in stride): a
// breaker opened by a short Redis stall stays open for as long as the
// clock was stepped back, here an hour, though Redis answers again at
// once: every call skips Redis and calls the function.
//
// Root cause: breaker.allow and breaker.failure time the cooldown with
// Config.Clock's wall time (b.clock().UnixNano(); without a Config.Clock
// time.Now().UnixNano(), also the wall clock, monotonic reading stripped):
// openUntil = wall + cooldown, and allow waits until the wall clock passes
// it. A step back of the wall clock while the breaker is open extends the
// cooldown by the step. The cooldown should be timed on the monotonic
// clock (or bounded by cooldown whatever the wall clock says).
//
// Faults: SIGSTOP of Redis for one timed-out call (the breaker opens), a
// step of Config.Clock one hour back, SIGCONT.
func TestReview2BreakerStuckOpenByAClockStep(t *testing.T) {
	var step atomic.Int64
	h := withRedis(t, Config{
		Clock:            func() time.Time { return time.Now().Add(time.Duration(step.Load())) },
		RedisTimeout:     50 * time.Millisecond,
		BreakerThreshold: 1,
		BreakerCooldown:  100 * time.Millisecond,
	})
	uc := useCase[string](t, h.c, UseCaseSpec{Name: "Profile", KeyType: "user_id", Default: KeyConfig{Remote: LayerConfig{TTL: time.Hour, Ramp: 100}}})
	src := &versioned{}
	h.redis.Pause()
	uc.Get(enabled, keyOf(uc, "1"), src.fn)
	if !h.c.remote.breaker.open() {
		h.redis.Resume()
		t.Fatal("setup: the breaker should be open")
	}
	step.Store(int64(-time.Hour))
	h.redis.Resume()
	deadline := time.Now().Add(5 * time.Second)
	for h.c.remote.breaker.open() && time.Now().Before(deadline) {
		uc.Get(enabled, keyOf(uc, "1"), src.fn)
		time.Sleep(10 * time.Millisecond)
	}
	if h.c.remote.breaker.open() {
		t.Errorf("5 s after a 50 ms stall, with a 100 ms cooldown and Redis answering, the breaker is still open "+
			"(%v calls skipped Redis): its cooldown is timed on the wall clock, stepped back an hour",
			h.metric("gcache_disabled_counter_total", "reason", "server_down"))
	}
}
