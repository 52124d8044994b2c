//go:build findings

// Tests that fail on the runtime as it is: each shows a guarantee broken,
// and passes once the runtime keeps it. They build with -tags findings:
//
//	go test -tags findings -run 'TestFaultSoakWritingThroughFailover' .
//
// Once the runtime keeps a guarantee, its test moves to the suite.
package faults

import (
	"testing"
)

// TestFaultSoakWritingThroughFailover (finding): the soak, with its
// writers going on across SENTINEL FAILOVER instead of holding off until
// the old primary is demoted. Invalidations that return nil during the
// switch are lost with the old primary's last writes, and reads that
// begin more than the outage bound after them, on other instances and on
// the invalidating instance itself, return the version they invalidated
// (a 60 s run: 6,396 stale reads, e.g. instance 0 read v3 of an entity
// 1.9 s after its own Invalidate of v4 returned nil). Guarantee 2 says the
// invalidating instance never returns such a value once Invalidate
// returned; guarantee 7 says a failover is treated as lost watermarks.
//
// Where: runtime/watermarks.go, watermarks.checkedAgainst takes a value
// read from Redis after a watermark landed as checked against it by Redis
// until wm.lost is raised; runtime/events.go, subscriber.beat and
// subscriber.measure raise it (watermarks.lose) only when they read a new
// run id, which they read once in runIDEvery (10) measurements of
// syncEvery (100 ms): a second after the switch at best. In between, an
// invalidation written to the old primary after the promotion (and lost
// with it) still vouches for reads from the new primary, which has the
// value and not the watermark, and the value read there is served and
// kept in the local tier, on every instance, the invalidating one too.
func TestFaultSoakWritingThroughFailover(t *testing.T) {
	holdWritesForFailover = false
	defer func() { holdWritesForFailover = true }()
	TestFaultSoak(t)
}
