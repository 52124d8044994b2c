//go:build findings

// Tests that fail on the runtime as it is: each shows a guarantee broken,
// and passes once the runtime keeps it. They build with -tags findings:
//
//	go test -tags findings -run 'TestFailoverThatLosesAWatermark|TestShortDeadlineJoiningALongerLoad' .
//
// Once the runtime keeps a guarantee, its test moves to the suite.
package faults

import (
	"context"
	"sync"
	"testing"
	"time"

	gcache "github.com/gcache-go/gcache/runtime"
	"github.com/redis/go-redis/v9"
)

// TestFailoverThatLosesAWatermark (finding): Redis replicates
// asynchronously, so a failover can lose a watermark that Invalidate
// wrote to the old primary and reported written (nil). The value it
// invalidated is still on the new primary, which the replica had before.
//
// Guarantee 2 says no read that starts after Invalidate returned nil
// returns a value computed before it: on the invalidating instance at
// once, on the others after the propagation bound; guarantee 7 says a
// failover is treated as lost watermarks. Both instances know the
// watermark (one wrote it, the other heard its event), yet after the
// failover each reads the old value from the new primary and serves it:
// their watermark tables hold the invalidation as landed in Redis, and a
// value read from Redis after a landed watermark was learned is taken
// for fresh, whatever its created_at. Nothing replaces it: the old value
// is served, from Redis and then from the local tier, until its TTL.
//
// The soak found it: after SENTINEL FAILOVER, writes that reached the old
// primary between the promotion and its demotion are lost the same way.
// Here the replica is held back (SIGSTOP, its link cut by CLIENT KILL)
// while the invalidation is written, then the primary is killed and the
// replica promoted.
func TestFailoverThatLosesAWatermark(t *testing.T) {
	g := startGroup(t)
	db := newVersions()
	var ucs [2]*gcache.UseCase[item]
	var insts [2]*instance
	for i := range insts {
		client := redis.NewFailoverClient(&redis.FailoverOptions{MasterName: g.MasterName, SentinelAddrs: []string{g.Sentinel.Sentinel.Addr()},
			ReadTimeout: 200 * time.Millisecond, ContextTimeoutEnabled: true})
		t.Cleanup(func() { _ = client.Close() })
		insts[i] = newInstance(t, client, gcache.Config{BreakerCooldown: 100 * time.Millisecond})
		uc, err := gcache.NewUseCase[item](insts[i].c, gcache.UseCaseSpec{Name: "GetItem", KeyType: "item", Tracked: true,
			Default: gcache.KeyConfig{Local: gcache.LayerConfig{TTL: time.Minute, Ramp: 100}, Remote: gcache.LayerConfig{TTL: time.Hour, Ramp: 100}}})
		if err != nil {
			t.Fatal(err)
		}
		ucs[i] = uc
	}
	get := func(i int) (item, error) {
		b := gcache.AppendString(nil, "1")
		return ucs[i].Get(enabled, ucs[i].Key(b, len(b)), func(context.Context) (item, error) { return db.read("1"), nil })
	}
	v1 := db.bump("1")
	if got, err := get(0); err != nil || got.Version != v1 {
		t.Fatalf("first read = %+v, %v", got, err)
	}
	if err := insts[0].settle(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	// The value is on the replica too.
	replica := g.Replica.Client()
	if !eventually(5*time.Second, func() bool {
		n, _ := replica.Exists(context.Background(), "{urn:item:1}#GetItem").Result()
		return n == 1
	}) {
		keys, _ := replica.Keys(context.Background(), "*").Result()
		t.Fatalf("the value did not reach the replica; it holds %v", keys)
	}
	if got, err := get(1); err != nil || got.Version != v1 {
		t.Fatalf("instance 1's first read = %+v, %v", got, err)
	}

	// The replica stops and loses its link; the invalidation reaches the
	// primary alone.
	g.Replica.Pause()
	if _, err := do(g.Primary.Addr(), "CLIENT", "KILL", "TYPE", "replica"); err != nil {
		g.Replica.Resume()
		t.Fatal(err)
	}
	v2 := db.bump("1")
	if err := insts[0].c.Invalidate(context.Background(), "item", "1"); err != nil {
		g.Replica.Resume()
		t.Fatalf("Invalidate with the primary up: %v", err)
	}
	if err := insts[1].settle(5 * time.Second); err != nil { // it heard the event
		t.Fatal(err)
	}
	// The primary dies; the replica, which never saw the watermark, is
	// promoted.
	old := g.Primary
	old.Kill()
	g.Replica.Resume()
	if !eventually(40*time.Second, func() bool { return g.CurrentPrimary(t) != old.Addr() }) {
		t.Fatal("no failover")
	}
	if wm, _ := g.Replica.Do("GET", "{urn:item:1}#watermark").(string); wm != "" {
		t.Fatalf("the new primary holds the watermark %s: the failover lost nothing", wm)
	}
	// Once both instances read the new primary, every read is of v2.
	stale := 0
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		for i := range ucs {
			got, err := get(i)
			if err != nil {
				t.Fatal(err)
			}
			if got.Version < v2 {
				if stale == 0 {
					t.Errorf("instance %d read v%d after the invalidation of v%d returned nil (and after the failover)", i, got.Version, v2)
				}
				stale++
			}
		}
	}
	if stale > 0 {
		t.Errorf("%d stale reads in 3 s after the failover", stale)
	}
}

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
