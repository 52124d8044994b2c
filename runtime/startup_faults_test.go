package gcache

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/gcache-go/gcache/internal/redistest"
)

// TestTrackedValuesAreCachedBeforeTheClockIsKnown: an instance that starts while Redis is frozen (SIGSTOP) caches its
// tracked values locally before it has measured the fleet clock, and the
// callers of one key share one load: an outage at start does not flood the
// function. The floor of forgotten own invalidations, 0 when there is none,
// used to make every value with created_at 0 stale.
func TestTrackedValuesAreCachedBeforeTheClockIsKnown(t *testing.T) {
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

// TestBreakerClosesAfterAClockStepBack: a breaker opened by a short stall (SIGSTOP) probes Redis again after
// its cooldown even when the wall clock was stepped back an hour meanwhile:
// a cooldown longer than the breaker's own is over. It used to last as long
// as the step.
func TestBreakerClosesAfterAClockStepBack(t *testing.T) {
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
