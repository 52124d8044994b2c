package runtime

import (
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/maypok86/otter/v2"
)

// maxWatermarks bounds the local watermark table.
const maxWatermarks = 100_000

// keepSlack is added to how long a watermark is kept: the local tiers'
// clock may let entries outlive their TTL by up to its resolution.
const keepSlack = time.Second

// watermarks is this process's view of the entities' watermarks: the time
// of their latest invalidation, in ns. A tracked local entry is stale when
// its entity's watermark is at or after the entry's creation.
//
// A watermark is needed only while a local entry made before it may still
// be alive: it is kept for the longest local TTL a tracked entry has had,
// counted from when the watermark became known. The table is bounded: past
// its size it forgets expired watermarks, then the oldest ones, raising
// the floor below which every tracked entry is stale to the newest one it
// forgot, so that forgetting never serves stale data. A lost subscription
// raises the floor too, since invalidations may have been missed.
type watermarks struct {
	max int
	now func() int64 // ns

	// entries maps entities to watermarks. It is an otter cache with no
	// bound of its own, for its lock-free reads of string keys: trim
	// keeps the bound, oldest first, which an admission policy would not.
	entries *otter.Cache[string, *watermark]
	count   atomic.Int64
	writeMu sync.Mutex // serialises changes, not reads

	keepFor atomic.Int64 // ns
	floor   atomic.Int64 // ns; tracked entries created at or before it are stale
	// storeFloor is the newest watermark forgotten because it expired: a
	// load that began before it may have been running when it was
	// known, so its value is not stored.
	storeFloor atomic.Int64
	// live is false while invalidations from other instances may be
	// missed: before the first subscription and after it drops.
	live atomic.Bool
}

type watermark struct {
	ns      int64 // the invalidation
	expires int64 // when no entry it guards can be alive any more
}

func newWatermarks(size int, now func() time.Time) *watermarks {
	return &watermarks{
		max:     size,
		now:     func() int64 { return now().UnixNano() },
		entries: otter.Must(&otter.Options[string, *watermark]{InitialCapacity: 1024}),
	}
}

// stale reports whether a tracked entry of entity is stale: one made at
// created, and known fresh at validated (its creation, or a read from
// Redis that checked it against the watermark there). The floors, which
// stand for invalidations this process may not know of, apply to when it
// was known fresh; the entity's watermark, to when it was made.
func (w *watermarks) stale(entity string, created, validated int64) bool {
	return !w.live.Load() || validated <= w.floor.Load() || w.invalidatedSince(entity, created)
}

// storable reports whether a tracked entry may be stored in the local
// tier; see stale.
func (w *watermarks) storable(entity string, created, validated int64) bool {
	return validated > w.storeFloor.Load() && !w.stale(entity, created, validated)
}

// invalidatedSince reports whether this process knows of an invalidation
// of entity at or after ns.
func (w *watermarks) invalidatedSince(entity string, ns int64) bool {
	wm, ok := w.entries.GetIfPresent(entity)
	return ok && wm.ns >= ns
}

// guard records that a tracked local entry may live for ttl, so that
// watermarks are kept that long.
func (w *watermarks) guard(ttl time.Duration) {
	keep := int64(ttl + keepSlack)
	for {
		cur := w.keepFor.Load()
		if cur >= keep || w.keepFor.CompareAndSwap(cur, keep) {
			return
		}
	}
}

// raise moves the entity's watermark forward to ns.
func (w *watermarks) raise(entity string, ns int64) {
	if w.invalidatedSince(entity, ns) {
		return
	}
	w.writeMu.Lock()
	defer w.writeMu.Unlock()
	old, found := w.entries.GetIfPresent(entity)
	if found && old.ns >= ns {
		return
	}
	w.entries.Set(entity, &watermark{ns: ns, expires: max(ns, w.now()) + w.keepFor.Load()})
	if !found && w.count.Add(1) > int64(w.max) {
		w.trim()
	}
}

// raiseMs moves the entity's watermark forward to one read from Redis, in
// ms, unless this process knows of an invalidation in that ms already: it
// keeps its own to the ns.
func (w *watermarks) raiseMs(entity string, ms int64) {
	if wm, ok := w.entries.GetIfPresent(entity); ok && wm.ns/1e6 >= ms {
		return
	}
	w.raise(entity, msToNs(ms))
}

// trim shrinks the table to three quarters of its bound: expired
// watermarks first, then the oldest. Callers hold writeMu.
func (w *watermarks) trim() {
	now := w.now()
	type item struct {
		entity string
		wm     *watermark
	}
	var live []item
	for entity, wm := range w.entries.All() {
		if wm.expires < now {
			w.entries.Invalidate(entity)
			w.count.Add(-1)
			raiseTo(&w.storeFloor, wm.ns)
		} else {
			live = append(live, item{entity, wm})
		}
	}
	target := w.max * 3 / 4
	if len(live) <= target {
		return
	}
	sort.Slice(live, func(i, j int) bool { return live[i].wm.ns < live[j].wm.ns })
	for _, it := range live[:len(live)-target] {
		w.entries.Invalidate(it.entity)
		w.count.Add(-1)
		raiseTo(&w.floor, it.wm.ns)
		raiseTo(&w.storeFloor, it.wm.ns)
	}
}

// raiseFloor makes every tracked entry created at or before ns stale.
func (w *watermarks) raiseFloor(ns int64) {
	raiseTo(&w.floor, ns)
	raiseTo(&w.storeFloor, ns)
}

func raiseTo(v *atomic.Int64, to int64) {
	for {
		cur := v.Load()
		if cur >= to || v.CompareAndSwap(cur, to) {
			return
		}
	}
}
