package gcache

import (
	"context"
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
