package gcache

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gcache-go/gcache/internal/redistest"
)

// TestOwnInvalidationsBeforeTheClockAreBounded: an instance that invalidates while it cannot reach Redis from its start
// (SIGSTOP) keeps its watermark table within its bound: own invalidations
// made before the fleet clock is known are forgotten last, behind a floor
// on their local time. They used to be kept whatever the bound, each new
// entity costing a scan and sort of the whole table.
func TestOwnInvalidationsBeforeTheClockAreBounded(t *testing.T) {
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
