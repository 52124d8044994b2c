package gcache

import (
	"context"
	"sync/atomic"
	"time"
)

// Three clocks, in ns since the Unix epoch:
//
//   - the local clock: this host's, read precisely (monotonic between
//     reads, whatever the host's wall clock does) or, on the local hit,
//     through otter's coarse clock. It times what stays in this process:
//     TTLs, refresh points, and how current this process's view of the
//     fleet's invalidations is.
//   - the fleet clock: Redis's clock, which every instance learns as an
//     offset from its local clock. It times what instances compare with
//     each other: created_at and watermarks. A local-only Cache has no
//     fleet; its fleet clock is its local clock.
//   - Redis's own, read with TIME to learn the offset.
//
// The offset is known to within an error: half the round trip of the TIME
// that measured it, plus what the two clocks may have drifted apart since.
// Times are taken on the safe side of it: a created_at early, a watermark
// late, so that a call that began before an invalidation never reads as
// begun after it, whatever the hosts' clocks say.
//
// With a Config.Clock, the local clock is that clock, and the offset
// measured first holds for good: a test that moves its clock moves the
// fleet's with it, and one whose clock is set apart from the host's (a
// skewed host) still reads Redis's time. A real host's clock cannot be
// stepped under the Cache: without a Config.Clock the local clock is the
// monotonic one.

// driftPPM bounds how far a host's clock and Redis's drift apart after
// the offset was measured, in parts per million: 500, the most an NTP
// daemon slews a clock.
const driftPPM = 500

// The offset is measured again every syncEvery, so that the error it
// takes from drift stays within 50 µs; the servers' run ids, to notice a
// restart or a failover, are read with each measurement.
const syncEvery = 100 * time.Millisecond

// clock tells the local and the fleet time.
type clock struct {
	wall   func() time.Time // Config.Clock
	custom bool             // wall is not time.Now
	base   time.Time        // wall at start, with its monotonic reading
	baseNs int64

	// sync is the last measurement of the fleet clock, nil until the
	// first one; a local-only Cache has a fixed one with no error.
	sync atomic.Pointer[clockSync]
}

type clockSync struct {
	offset int64 // fleet = local + offset
	err    int64 // the error of offset when it was measured, ns
	at     int64 // local ns when it was measured
	exact  bool  // the fleet clock is the local clock: no error, no drift
}

func newClock(wall func() time.Time, custom bool) *clock {
	c := &clock{wall: wall, custom: custom, base: wall()}
	c.baseNs = c.base.UnixNano()
	return c
}

// local returns the local time, precisely. Without a Config.Clock it
// reads only the monotonic clock.
func (c *clock) local() int64 {
	if c.custom {
		return c.wall().UnixNano()
	}
	return c.baseNs + int64(time.Since(c.base))
}

// fleet returns the fleet time and its error bound; ok is false before the
// offset was first measured.
func (c *clock) fleet() (now, err int64, ok bool) { return c.toFleet(c.local()) }

// toFleet returns the fleet time of a local time, and its error bound.
func (c *clock) toFleet(local int64) (fleet, err int64, ok bool) {
	s := c.sync.Load()
	switch {
	case s == nil:
		return 0, 0, false
	case s.exact:
		return local, 0, true
	case c.custom:
		return local + s.offset, s.err, true
	}
	return local + s.offset, s.err + drift(abs(local-s.at)), true
}

// toLocal returns the local time of a fleet time, as near as it is known;
// before the first measurement, the fleet time itself.
func (c *clock) toLocal(fleet int64) int64 {
	if s := c.sync.Load(); s != nil {
		return fleet - s.offset
	}
	return fleet
}

// late returns the fleet time of a local time on the late side of its
// error, what a watermark is; ok is false before the offset is known.
func (c *clock) late(local int64) (int64, bool) {
	fleet, err, ok := c.toFleet(local)
	return fleet + err, ok
}

// fixed makes the fleet clock the local clock, for a Cache without Redis.
func (c *clock) fixed() { c.sync.Store(&clockSync{exact: true}) }

// measure learns the offset from one reading of Redis's clock: redisTime
// reads it; the reading is taken to be halfway through the call. A
// reading is kept only when it is closer than the one before, drift since
// counted: a round trip slowed by a busy host or server gives way to a
// better one.
func (c *clock) measure(ctx context.Context, redisTime func(context.Context) (time.Time, error)) error {
	sent := c.local()
	t, err := redisTime(ctx)
	if err != nil {
		return err
	}
	got := c.local()
	half := (got - sent + 1) / 2
	// Redis's TIME has µs: its true time is up to 1 µs past what it says.
	next := &clockSync{offset: t.UnixNano() - (sent + half), err: half + 1000, at: got}
	cur := c.sync.Load()
	switch {
	case cur != nil && c.custom:
		// A Config.Clock is a test's: the offset measured first holds,
		// so that the fleet's clock moves as the test moves it.
	case cur == nil || cur.exact || cur.err+drift(got-cur.at) > next.err:
		c.sync.Store(next)
	}
	return nil
}

// drift bounds how far the clocks drift apart in elapsed ns.
func drift(elapsed int64) int64 { return elapsed/(1e6/driftPPM) + 1 }

func abs(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}
