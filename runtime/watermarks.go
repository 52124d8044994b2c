package gcache

import (
	"math"
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

// eventLag bounds how far behind the fleet's invalidations this process's
// view of them may be while it serves tracked entries from its local tier:
// an invalidation that returned on another instance more than eventLag ago
// is known here, or no tracked local entry is served on the strength of
// the events alone. Heartbeats keep the view current to within about
// heartbeatEvery plus a round trip; the rest is margin.
const eventLag = 75 * time.Millisecond

// watermarks is this process's view of the entities' watermarks: the time
// of their latest invalidation, in fleet ns. A tracked entry is stale when
// its entity's watermark is at or after the entry's creation.
//
// A watermark is needed only while a local entry made before it may still
// be alive: it is kept for the longest local TTL a tracked entry has had,
// counted from when the watermark became known. The table is bounded: past
// its size it forgets expired watermarks, then the oldest ones, raising a
// floor: a tracked entry last known fresh before the newest watermark it
// forgot is stale, so that forgetting never serves stale data.
//
// The view is only as good as the events that feed it. Heartbeats that
// travel the events' path tell how current it is (asOf); a tracked local
// entry is served while either the view or the entry itself is younger
// than eventLag, or, in the outage mode, than Config.OutageStaleness. A
// subscription that starts again after a gap raises a floor to its start:
// events of the gap may be lost.
type watermarks struct {
	max int
	clk *clock

	// entries maps entities to watermarks. It is an otter cache with no
	// bound of its own, for its lock-free reads of string keys: trim
	// keeps the bound, oldest first, which an admission policy would not.
	entries *otter.Cache[string, *watermark]
	count   atomic.Int64
	writeMu sync.Mutex   // serialises changes, not reads
	keepFor atomic.Int64 // ns

	// floor is a local time at or before which a tracked entry last
	// known fresh may have missed an invalidation, and a load that began
	// may have been running when one was known: the end of the last gap
	// in the events, or the newest watermark trim forgot.
	floor atomic.Int64
	// unlanded is the newest of this process's own invalidations that
	// trim forgot before they reached Redis (fleet ns): neither this table
	// nor Redis holds them, so a value made at or before it is stale, from
	// either tier, and is not written to Redis.
	unlanded atomic.Int64
	// unlandedAt is the same for own invalidations made before the fleet
	// clock was known, in local ns: until the clock is known every value
	// is stale, then every value made before it.
	unlandedAt atomic.Int64
	// keepUnlanded is how long an invalidation that has not reached Redis
	// is kept: as long as it is written again, Config.WatermarkTTL.
	keepUnlanded int64
	// lost is when Redis last lost, or may have lost, its watermarks
	// (local ns): it restarted, failed over, or the subscription dropped
	// and it is not known yet whether it restarted. A value whose call
	// began before it is not written to Redis.
	lost atomic.Int64
	// asOf is the local time up to which the events are known to have
	// arrived: the sending time of the last heartbeat received.
	asOf atomic.Int64
	// outage is how old a tracked entry may be, counted from when it was
	// last known fresh, to be served while the events are not current;
	// at most eventLag when the outage mode is off.
	outage int64
}

type watermark struct {
	ns int64 // the latest invalidation, fleet ns
	// at is the local time of this process's own invalidation made before
	// the fleet clock was known, 0 when there is none: it is mapped onto
	// the fleet clock once that is known, and until then every value of
	// the entity is stale.
	at      int64
	expires int64 // local ns; when no entry it guards can be alive any more
	// landed is whether every invalidation this process knows of is in
	// Redis, and freshAfter the local time after which a value last known
	// fresh was checked against all of them: it started after each had
	// passed (its future buffer included) and after this process learned
	// of it, so it read Redis after them, or the database after the write
	// they follow. Such a value is fresh whatever the clocks' error says,
	// so that a read right after this process's own invalidation caches.
	// A value made elsewhere, or before, is judged by the fleet's clock.
	landed     bool
	freshAfter int64
}

// freshness is what check finds of a tracked entry.
type freshness uint8

const (
	stale       freshness = iota
	fresh                 // the events are current, or the entry was checked within eventLag
	outageFresh           // served by the outage mode alone
)

func newWatermarks(size int, clk *clock, outage, keepUnlanded time.Duration) *watermarks {
	return &watermarks{
		max:          size,
		clk:          clk,
		entries:      otter.Must(&otter.Options[string, *watermark]{InitialCapacity: 1024}),
		outage:       int64(max(outage, eventLag)),
		keepUnlanded: int64(keepUnlanded),
	}
}

// latest returns the watermark's time in fleet ns, with an own
// invalidation made before the fleet clock was known mapped onto it; when
// the clock is still unknown, the latest time there is.
func (wm *watermark) latest(clk *clock) int64 {
	if wm.at == 0 {
		return wm.ns
	}
	at, ok := clk.late(wm.at)
	if !ok {
		return math.MaxInt64
	}
	return max(wm.ns, at)
}

// alwaysCurrent marks the view as current for good: no other instance can
// invalidate what a local-only Cache holds.
func (w *watermarks) alwaysCurrent() { w.asOf.Store(math.MaxInt64) }

// check is the one rule by which a tracked value is served or stored, from
// either tier, by every path that hands a value to a caller: a value of
// entity, made at created (fleet ns), last known fresh at validated (local
// ns: its creation here, or the read from Redis that checked it against
// the watermark there), at local time now.
func (w *watermarks) check(entity string, created, validated, now int64) freshness {
	// The entity before the floors: trim raises the floors before it
	// forgets an entity, so one of the two is always seen.
	if wm, ok := w.entries.GetIfPresent(entity); ok && wm.latest(w.clk) >= created && !w.checkedAgainst(wm, validated) {
		return stale
	}
	if validated <= w.floor.Load() || w.madeBeforeUnlanded(created) {
		return stale
	}
	if age := now - max(validated, w.asOf.Load()); age > int64(eventLag) {
		if age > w.outage {
			return stale
		}
		return outageFresh
	}
	return fresh
}

// checkedAgainst reports whether a value last known fresh at validated
// (local ns) was checked against wm by Redis: wm is in Redis, the value
// was read there after it landed, and Redis has not lost its watermarks
// since.
func (w *watermarks) checkedAgainst(wm *watermark, validated int64) bool {
	return wm.landed && validated > wm.freshAfter && wm.freshAfter > w.lost.Load()
}

// lostBy reports whether a value made at created (fleet ns), read from a
// Redis whose watermark of entity is redisMs, is older than a watermark
// this process knows landed there and Redis no longer holds: a failover
// to a replica that had not received it. Such a read was checked against
// nothing.
func (w *watermarks) lostBy(entity string, redisMs, created int64) bool {
	wm, ok := w.entries.GetIfPresent(entity)
	return ok && wm.landed && wm.ns/1e6 > redisMs && wm.ns >= created
}

// refuses reports whether a tracked value must not be written to Redis: a
// value of entity made at created (fleet ns) by a call that began at local
// time validated, before an invalidation this process knows of (which may
// not have reached Redis yet) or before Redis may have lost its
// watermarks. Redis checks its own watermark as it writes.
func (w *watermarks) refuses(entity string, created, validated int64) bool {
	return w.invalidatedSince(entity, created) || validated <= w.lost.Load() || w.madeBeforeUnlanded(created)
}

// madeBeforeUnlanded reports whether a value made at created (fleet ns)
// may be older than an own invalidation trim forgot before it reached
// Redis.
func (w *watermarks) madeBeforeUnlanded(created int64) bool {
	if u := w.unlanded.Load(); u != 0 && created <= u {
		return true
	}
	if at := w.unlandedAt.Load(); at != 0 {
		fleet, ok := w.clk.late(at)
		return !ok || created <= fleet
	}
	return false
}

// invalidatedSince reports whether this process knows of an invalidation
// of entity at or after ns (fleet).
func (w *watermarks) invalidatedSince(entity string, ns int64) bool {
	wm, ok := w.entries.GetIfPresent(entity)
	return ok && wm.latest(w.clk) >= ns
}

// guard records that a tracked local entry may live for ttl, so that
// watermarks are kept that long.
func (w *watermarks) guard(ttl time.Duration) { raiseTo(&w.keepFor, int64(ttl+keepSlack)) }

// raise records an invalidation of entity at ns (fleet) that is in Redis:
// announced by the instance that wrote it, or read there.
func (w *watermarks) raise(entity string, ns int64) {
	w.set(entity, &watermark{ns: ns, landed: true, freshAfter: w.localOf(ns)})
}

// raiseOwn records an invalidation of this process's own, made at local
// time at (its future buffer included), that is not in Redis yet.
func (w *watermarks) raiseOwn(entity string, at int64) {
	w.set(entity, &watermark{at: at, freshAfter: at})
}

// landOwn records that this process's own invalidation made at local time
// at reached Redis as the watermark ns (fleet).
func (w *watermarks) landOwn(entity string, ns, at int64) {
	w.set(entity, &watermark{ns: ns, landed: true, freshAfter: at})
}

// set records the invalidation nw of entity.
func (w *watermarks) set(entity string, nw *watermark) {
	w.writeMu.Lock()
	defer w.writeMu.Unlock()
	now := w.clk.local()
	nw.freshAfter = max(nw.freshAfter, now)
	w.fold(nw)
	old, found := w.entries.GetIfPresent(entity)
	if found {
		prev := *old
		w.fold(&prev)
		// An invalidation with an earlier watermark may still be a later
		// one, taken with a smaller error: it is no more in Redis than
		// the one before unless it is at least as late.
		nw.landed = nw.landed && (prev.landed || nw.ns >= prev.ns) && prev.at == 0
		nw.ns = max(prev.ns, nw.ns)
		nw.at = max(prev.at, nw.at)
		nw.freshAfter = max(nw.freshAfter, prev.freshAfter)
	}
	keep := w.keepFor.Load()
	if !nw.landed {
		keep = max(keep, w.keepUnlanded)
	}
	nw.expires = max(w.clk.toLocal(nw.ns), nw.at, now) + keep
	w.entries.Set(entity, nw)
	if !found && w.count.Add(1) > int64(w.max) {
		w.trim(now)
	}
}

// fold maps wm's own invalidation made before the fleet clock was known
// onto it, once it is.
func (w *watermarks) fold(wm *watermark) {
	if wm.at == 0 {
		return
	}
	if at, ok := w.clk.late(wm.at); ok {
		wm.ns, wm.at = max(wm.ns, at), 0
	}
}

// raiseMs records a watermark read from Redis, in ms, unless this process
// knows of an invalidation in that ms already: it keeps its own to the ns.
func (w *watermarks) raiseMs(entity string, ms int64) {
	if wm, ok := w.entries.GetIfPresent(entity); ok && wm.ns/1e6 >= ms {
		return
	}
	w.raise(entity, msToNs(ms))
}

// trim shrinks the table to three quarters of its bound: expired
// watermarks first, then the oldest of those in Redis, then the oldest of
// this process's own that are not, those made before the fleet clock was
// known last. Each floor is raised before the entity it stands for is
// forgotten. Callers hold writeMu.
func (w *watermarks) trim(now int64) {
	type item struct {
		entity string
		wm     *watermark
	}
	var live []item
	for entity, wm := range w.entries.All() {
		if wm.expires < now {
			w.forget(entity, wm)
			continue
		}
		live = append(live, item{entity, wm})
	}
	target := w.max * 3 / 4
	if len(live) <= target {
		return
	}
	sort.Slice(live, func(i, j int) bool {
		a, b := live[i].wm, live[j].wm
		switch {
		case a.landed != b.landed:
			return a.landed
		case (a.at == 0) != (b.at == 0):
			return a.at == 0
		case a.at != 0:
			return a.at < b.at
		}
		return a.ns < b.ns
	})
	for _, it := range live[:len(live)-target] {
		w.forget(it.entity, it.wm)
	}
}

// forget drops entity's watermark wm from the table, raising the floor
// that stands for it first. Callers hold writeMu.
func (w *watermarks) forget(entity string, wm *watermark) {
	switch {
	case wm.landed:
		w.gap(w.localOf(wm.ns))
	case wm.at != 0:
		raiseTo(&w.unlandedAt, wm.at)
		fallthrough
	default:
		raiseTo(&w.unlanded, wm.ns)
	}
	w.entries.Invalidate(entity)
	w.count.Add(-1)
	hook(&hooks.forget, func(f func()) { f() })
}

// localOf returns the latest local time a fleet time may stand for.
func (w *watermarks) localOf(fleet int64) int64 {
	_, err, _ := w.clk.fleet()
	return w.clk.toLocal(fleet) + err
}

// lose records that Redis may have lost its watermarks at local time ns.
func (w *watermarks) lose(ns int64) { raiseTo(&w.lost, ns) }

// gap records a gap in the events that ended at local time ns: every
// tracked entry last known fresh at or before it is stale, and no value
// of a load that began before it is served or stored.
func (w *watermarks) gap(ns int64) { raiseTo(&w.floor, ns) }

// heard records that every event sent before local time ns has arrived.
func (w *watermarks) heard(ns int64) { raiseTo(&w.asOf, ns) }

func raiseTo(v *atomic.Int64, to int64) {
	for {
		cur := v.Load()
		if cur >= to || v.CompareAndSwap(cur, to) {
			return
		}
	}
}
