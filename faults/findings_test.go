//go:build findings

// Tests that fail on the runtime as it is: each shows a guarantee broken,
// and passes once the runtime keeps it. They build with -tags findings:
//
//	go test -tags findings -run 'TestShortDeadlineJoiningALongerLoad|TestFaultSoakWritingThroughFailover' .
//
// Once the runtime keeps a guarantee, its test moves to the suite.
package faults

import (
	"sync"
	"testing"
	"time"

	gcache "github.com/gcache-go/gcache/runtime"
)

// TestShortDeadlineJoiningALongerLoad (finding): a caller that joins a
// load another caller leads waits for that load, under the leader's Redis
// budget rather than its own. With Redis black-holed, a caller with a
// 1 s deadline leads and waits RedisTimeout (200 ms) for Redis; callers
// with 50 ms deadlines that join its load fail with their context's
// error, though the function (2 ms) alone would have served them.
//
// Guarantee 4 says a call is always served, and that the Redis part of a
// call takes at most half of the caller's remaining deadline. Both hold
// for the leader, neither for the callers sharing its load: the wait in
// single flight is not bounded by the joiner's own budget.
//
// Where: runtime/flight.go, flight.do: a caller that finds a load under
// way waits for it (<-c.done) or for its own context's end, nothing
// shorter, and never loads itself while the load goes on; the load's
// Redis part was bounded by runtime/load.go, Cache.redisContext, from the
// leader's deadline (min(RedisTimeout, half of the leader's remaining
// time)), called from UseCase.getRemote under UseCase.lead. A joiner whose
// deadline is sooner than the leader's Redis part ends needs its own
// bound: wait at most half of its remaining time, then call the function
// itself.
func TestShortDeadlineJoiningALongerLoad(t *testing.T) {
	s := newSetup(t, false, gcache.DefaultRedisTimeout)
	in := newInstance(t, s.client, gcache.Config{})
	uc, err := gcache.NewUseCase[item](in.c, gcache.UseCaseSpec{Name: "GetItem", KeyType: "item", Tracked: true,
		Default: gcache.KeyConfig{Local: gcache.LayerConfig{TTL: time.Hour, Ramp: 100}, Remote: gcache.LayerConfig{TTL: time.Hour, Ramp: 100}}})
	if err != nil {
		t.Fatal(err)
	}
	db := newVersions()
	var warm calls
	warm.call(uc, db, "warm", time.Second)
	warm.check(t, "before the black hole")
	heal := s.onLinks(func(l *link) func() { return l.blackHole(t) })
	defer heal()

	var leaders, joiners calls
	var wg sync.WaitGroup
	wg.Go(func() { leaders.call(uc, db, "hot", time.Second) })
	time.Sleep(20 * time.Millisecond) // the leader waits for Redis
	for range 5 {
		wg.Go(func() { joiners.call(uc, db, "hot", 50*time.Millisecond) })
	}
	wg.Wait()
	leaders.check(t, "the caller with a 1 s deadline")
	joiners.check(t, "callers with a 50 ms deadline that joined its load")
}

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
