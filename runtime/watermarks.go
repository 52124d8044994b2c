package runtime

import (
	"sync/atomic"
	"time"

	"github.com/maypok86/otter/v2"
)

// maxWatermarks bounds the local watermark table.
const maxWatermarks = 100_000

// watermarks is this process's view of the entities' watermarks: the time
// of their latest invalidation, in ns. A tracked local entry is stale when
// its entity's watermark is at or after the entry's creation.
//
// The table is bounded. An evicted watermark raises the floor, before which
// every tracked entry is stale, so that forgetting never serves stale data;
// so does a lost subscription, since invalidations may have been missed.
type watermarks struct {
	table *otter.Cache[string, int64]
	floor atomic.Int64 // ns
	// live is false while invalidations from other instances may be missed:
	// before the first subscription and after it drops.
	live atomic.Bool
}

func newWatermarks(ttl time.Duration, now func() time.Time, clock otter.Clock) (*watermarks, error) {
	return newWatermarksSized(maxWatermarks, ttl, now, clock)
}

func newWatermarksSized(size int, ttl time.Duration, now func() time.Time, clock otter.Clock) (*watermarks, error) {
	w := &watermarks{}
	var err error
	w.table, err = otter.New(&otter.Options[string, int64]{
		MaximumSize: size,
		Clock:       clock,
		// A watermark is kept until every entry it guards has expired.
		ExpiryCalculator: otter.ExpiryWritingFunc(func(e otter.Entry[string, int64]) time.Duration {
			return time.Unix(0, e.Value).Sub(now()) + ttl
		}),
		OnAtomicDeletion: func(e otter.DeletionEvent[string, int64]) {
			if e.Cause == otter.CauseOverflow {
				w.raiseFloor(e.Value)
			}
		},
	})
	return w, err
}

// stale reports whether a tracked entry of entity created at ns is stale.
func (w *watermarks) stale(entity string, created int64) bool {
	return !w.live.Load() || created <= w.floor.Load() || w.invalidatedSince(entity, created)
}

// invalidatedSince reports whether this process knows of an invalidation
// of entity at or after ns.
func (w *watermarks) invalidatedSince(entity string, ns int64) bool {
	wm, ok := w.table.GetIfPresent(entity)
	return ok && wm >= ns
}

// raise moves the entity's watermark forward to ns.
func (w *watermarks) raise(entity string, ns int64) {
	w.table.Compute(entity, func(old int64, found bool) (int64, otter.ComputeOp) {
		if found && old >= ns {
			return old, otter.CancelOp
		}
		return ns, otter.WriteOp
	})
}

// raiseFloor makes every tracked entry created at or before ns stale.
func (w *watermarks) raiseFloor(ns int64) {
	for {
		cur := w.floor.Load()
		if cur >= ns || w.floor.CompareAndSwap(cur, ns) {
			return
		}
	}
}

func (w *watermarks) close() { w.table.StopAllGoroutines() }
