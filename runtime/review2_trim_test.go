package gcache

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gcache-go/gcache/internal/redistest"
)

// TestReview2OwnInvalidationsBeforeTheClockAreUnbounded breaks the bound
// of the watermark table (maxWatermarks; "unbounded memory" is a finding)
// on an instance that invalidates while it cannot reach Redis from its
// start: the table grows with every entity invalidated, and each entity
// past the bound costs a scan and a sort of the whole table under writeMu.
//
// Root cause: watermarks.trim keeps every own invalidation made before
// the fleet clock is known (wm.at != 0: the `case wm.at != 0:` that skips
// expiry, and the loop's `return` at the first such entry), and
// watermarks.set calls trim for every new entity once count passes the
// bound: with the clock unknown nothing is ever forgotten, so memory grows
// without bound and every Invalidate of a new entity is O(n log n) (a
// quadratic CPU cost over the outage). retries drops what it cannot hold
// past maxRetries, counted; the table has no such bound. Forgetting such
// an entry could raise a floor that needs no clock (e.g. mark every value
// made before the clock was known, created 0, stale, and every value whose
// call began before it locally: validated <= at).
//
// Fault: Redis frozen (SIGSTOP) from before the instance starts.
func TestReview2OwnInvalidationsBeforeTheClockAreUnbounded(t *testing.T) {
	srv := redistest.Start(t)
	srv.Pause()
	t.Cleanup(srv.Resume) // after the Cache closes
	h := newHarness(t, Config{Redis: &RedisConfig{Addrs: []string{srv.Addr()}}, RedisTimeout: 50 * time.Millisecond, CloseTimeout: 100 * time.Millisecond})
	ids := make([]string, maxWatermarks)
	for i := range ids {
		ids[i] = fmt.Sprint("u", i)
	}
	if err := h.c.InvalidateMany(context.Background(), "user_id", ids); err == nil {
		t.Fatal("InvalidateMany returned nil with Redis frozen")
	}
	const past = 5
	more := make([]string, past)
	for i := range more {
		more[i] = fmt.Sprint("more", i)
	}
	start := time.Now()
	_ = h.c.InvalidateMany(context.Background(), "user_id", more)
	took := time.Since(start)
	if _, _, known := h.c.clk.fleet(); known {
		t.Fatal("setup: the clock should still be unknown")
	}
	if n := h.c.wm.count.Load(); n > maxWatermarks {
		t.Errorf("the watermark table holds %d entities, past its bound of %d; the last %d invalidations, "+
			"each of which scanned and sorted the whole table, took %v", n, maxWatermarks, past, took)
	}
}
