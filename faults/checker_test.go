package faults

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// A checker finds stale reads. A read on instance j that started at s and
// saw version u of an entity is stale when an invalidation of a later
// version v > u had returned before s:
//
//   - on j itself: at once, whether Invalidate returned nil or an error;
//   - on another instance: more than prop (the propagation bound) after it
//     returned nil, or after its watermark landed in Redis when it returned
//     an error; or, while j served in the outage mode, more than outage
//     (Config.OutageStaleness) after it.
//
// Every time is taken on the lenient side, so that a stale read is a real
// one: a read's start before it calls Get, an invalidation's return after
// it returned, a landing when a poll first sees it. A version u < v was
// read by the function before v was written, and v was written before the
// invalidation began, so a value of u was computed before the invalidation.
//
// Whether j was in the outage mode is read from its metrics: a read is an
// outage read when j's gcache_outage_hit_counter_total grew between the
// last sample taken before the read began and the first taken after it
// ended (samples every few ms). That counts more reads as outage reads
// than were, never fewer.
type checker struct {
	prop, outage time.Duration
	db           *versions
	outages      []*series // per instance

	keys sync.Map // id → *history

	reads, outageReads atomic.Int64
	// The longest time after another instance's invalidation returned
	// (or landed) at which a read began and still saw an older version:
	// within the propagation bound, and past it in the outage mode.
	lag, outageLag atomic.Int64

	mu       sync.Mutex
	deferred []read
	stats    checkStats // but reads and outageReads
}

type checkStats struct {
	reads, outageReads, deferredReads int64
	stale                             int64
	staleSamples                      []string
	unresolved                        int64
}

// history is the invalidations of one entity, in the order of their
// versions.
type history struct {
	mu   sync.Mutex
	invs []*invalidation
}

// An invalidation is one write of a version and the Invalidate that
// followed it.
type invalidation struct {
	id       string
	version  int64
	instance int
	began    time.Time

	// Set once Invalidate returned; guarded by the history's mu.
	returned time.Time
	failed   bool
	// Set when the watermark of a failed invalidation is seen in Redis.
	landed time.Time
}

// A read is one Get and what it saw.
type read struct {
	instance   int
	id         string
	version    int64
	start, end time.Time
}

func newChecker(db *versions, instances int, prop, outage time.Duration) *checker {
	c := &checker{prop: prop, outage: outage, db: db}
	for range instances {
		c.outages = append(c.outages, &series{})
	}
	return c
}

func (c *checker) history(id string) *history {
	h, _ := c.keys.LoadOrStore(id, &history{})
	return h.(*history)
}

// write writes a new version of id on behalf of instance, and records the
// invalidation that is to follow.
func (c *checker) write(instance int, id string) *invalidation {
	h := c.history(id)
	h.mu.Lock()
	defer h.mu.Unlock()
	inv := &invalidation{id: id, version: c.db.bump(id), instance: instance, began: time.Now()}
	h.invs = append(h.invs, inv)
	return inv
}

// returned records that inv's Invalidate returned, with an error or not.
func (c *checker) returned(inv *invalidation, failed bool) {
	now := time.Now()
	h := c.history(inv.id)
	h.mu.Lock()
	inv.returned, inv.failed = now, failed
	h.mu.Unlock()
}

// landed records that the watermark of the failed inv was seen in Redis.
func (c *checker) landed(inv *invalidation, at time.Time) {
	h := c.history(inv.id)
	h.mu.Lock()
	inv.landed = at
	h.mu.Unlock()
}

// verdict is what a check finds of a read.
type verdict uint8

const (
	ok verdict = iota
	stale
	later // it depends on what is not known yet
)

// read checks a read now, or keeps it to check when what it depends on
// is known.
func (c *checker) read(r read) {
	v, why, outage := c.judge(r, false)
	c.reads.Add(1)
	switch v {
	case stale:
		c.mu.Lock()
		c.staleRead(r, why)
		c.mu.Unlock()
	case later:
		c.mu.Lock()
		c.stats.deferredReads++
		c.deferred = append(c.deferred, r)
		c.mu.Unlock()
	default:
		if outage {
			c.outageReads.Add(1)
		}
	}
}

// recheck checks the deferred reads again; final decides what is still
// unknown (a watermark that never landed cannot make a read stale).
func (c *checker) recheck(final bool) {
	c.mu.Lock()
	pending := c.deferred
	c.deferred = nil
	c.mu.Unlock()
	var still []read
	for _, r := range pending {
		v, why, outage := c.judge(r, final)
		c.mu.Lock()
		switch v {
		case stale:
			c.staleRead(r, why)
		case later:
			if final {
				c.stats.unresolved++
			} else {
				still = append(still, r)
			}
		default:
			if outage {
				c.outageReads.Add(1)
			}
		}
		c.mu.Unlock()
	}
	c.mu.Lock()
	c.deferred = append(c.deferred, still...)
	c.mu.Unlock()
}

// staleRead records a stale read; callers hold mu.
func (c *checker) staleRead(r read, why string) {
	c.stats.stale++
	if len(c.stats.staleSamples) < 5 {
		c.stats.staleSamples = append(c.stats.staleSamples, fmt.Sprintf("instance %d read %s v%d, started %s (took %v): %s",
			r.instance, r.id, r.version, describe(r.start), r.end.Sub(r.start).Round(time.Microsecond), why))
	}
}

// judge checks r against the invalidations of later versions. outage
// reports whether the verdict took the outage mode into account.
func (c *checker) judge(r read, final bool) (v verdict, why string, outage bool) {
	h := c.history(r.id)
	h.mu.Lock()
	defer h.mu.Unlock()
	v = ok
	for i := len(h.invs) - 1; i >= 0 && h.invs[i].version > r.version; i-- {
		inv := h.invs[i]
		if inv.returned.IsZero() || !r.start.After(inv.returned) {
			continue // it had not returned when the read began
		}
		if inv.instance == r.instance {
			return stale, fmt.Sprintf("v%d was invalidated on this instance, returning at %s (failed: %t)", inv.version, describe(inv.returned), inv.failed), false
		}
		from := inv.returned
		if inv.failed {
			if inv.landed.IsZero() {
				if !final && r.start.After(inv.returned.Add(c.prop)) {
					v = later // it may land before the read began
				}
				continue
			}
			from = inv.landed
		}
		if !r.start.After(from.Add(c.prop)) {
			raiseTo(&c.lag, int64(r.start.Sub(from)))
			continue
		}
		desc := fmt.Sprintf("v%d was invalidated by instance %d, returning at %s (failed: %t, landed: %s)",
			inv.version, inv.instance, describe(inv.returned), inv.failed, describeLanding(inv))
		if r.start.After(from.Add(c.outage)) {
			return stale, desc + ", more than the outage bound before", false
		}
		switch c.outages[r.instance].grewDuring(r.start, r.end) {
		case unknown:
			if !final {
				v = later
				continue
			}
			fallthrough
		case no:
			return stale, desc + ", more than the propagation bound before, outside the outage mode", false
		}
		outage = true
		raiseTo(&c.outageLag, int64(r.start.Sub(from)))
	}
	return v, "", outage
}

func raiseTo(v *atomic.Int64, to int64) {
	for cur := v.Load(); to > cur && !v.CompareAndSwap(cur, to); cur = v.Load() {
	}
}

func describeLanding(inv *invalidation) string {
	if inv.landed.IsZero() {
		return "-"
	}
	return describe(inv.landed)
}

// report describes the checks.
func (c *checker) report() (stats checkStats, text string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	stats = c.stats
	stats.reads, stats.outageReads = c.reads.Load(), c.outageReads.Load()
	var b strings.Builder
	fmt.Fprintf(&b, "reads checked: %d (%d judged under the outage bound, %d checked late, %d unresolved)\n",
		stats.reads, stats.outageReads, stats.deferredReads, stats.unresolved)
	fmt.Fprintf(&b, "an older version seen after another instance's invalidation: up to %v after it (bound %v); in the outage mode up to %v after it (bound %v)\n",
		time.Duration(c.lag.Load()).Round(time.Millisecond), c.prop, time.Duration(c.outageLag.Load()).Round(time.Millisecond), c.outage)
	fmt.Fprintf(&b, "stale reads: %d\n", stats.stale)
	for _, s := range stats.staleSamples {
		fmt.Fprintf(&b, "  %s\n", s)
	}

	return stats, b.String()
}

// invalidations returns every invalidation recorded, in no order.
func (c *checker) invalidations() []*invalidation {
	var all []*invalidation
	c.keys.Range(func(_, h any) bool {
		h.(*history).mu.Lock()
		all = append(all, h.(*history).invs...)
		h.(*history).mu.Unlock()
		return true
	})
	return all
}

// A series is a counter sampled over time.
type series struct {
	mu      sync.Mutex
	samples []sample
}

// A sample is a value read between from and to.
type sample struct {
	from, to time.Time
	value    float64
}

// sample reads the counter with read, and records it with the times
// before and after.
func (s *series) sample(read func() float64) {
	from := time.Now()
	v := read()
	to := time.Now()
	s.mu.Lock()
	s.samples = append(s.samples, sample{from, to, v})
	s.mu.Unlock()
}

type tristate uint8

const (
	no tristate = iota
	yes
	unknown
)

// grewDuring reports whether the counter grew between the last sample
// read wholly before from and the first read wholly after to.
func (s *series) grewDuring(from, to time.Time) tristate {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(s.samples)
	after := sort.Search(n, func(i int) bool { return !s.samples[i].from.Before(to) })
	if after == n {
		return unknown
	}
	before := sort.Search(n, func(i int) bool { return s.samples[i].to.After(from) }) - 1
	if before < 0 {
		return yes // no sample before it: assume the mode was on
	}
	if s.samples[after].value > s.samples[before].value {
		return yes
	}
	return no
}
