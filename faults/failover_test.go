package faults

import (
	"context"
	"fmt"
	"testing"
	"time"

	gcache "github.com/gcache-go/gcache/runtime"
	"github.com/redis/go-redis/v9"
)

// TestFailoverThatLosesAWatermark: Redis replicates asynchronously, so a
// failover can lose a watermark that Invalidate wrote to the old primary
// and reported written (nil); the value it invalidated is still on the
// new primary, which the replica had before. Guarantee 2 says no read that
// starts after Invalidate returned nil returns a value computed before
// it; guarantee 7 says a failover (the master's run id changes) is treated
// as lost watermarks, so the watermarks both instances know no longer
// vouch for what they read from Redis. After the failover, neither
// instance serves the old value.
//
// The replica is held back (SIGSTOP, its link cut by CLIENT KILL) while
// the invalidation is written, then the primary is killed and the replica
// promoted; the test fails if the new primary holds the watermark (the
// failover lost nothing, and the test tested nothing).
func TestFailoverThatLosesAWatermark(t *testing.T) {
	t.Parallel() // with the other short tests, once the matrix and the soak are done
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
	// Values made before an instance knows the fleet clock are not
	// written to Redis: warm both up until a value of each lands.
	for i := range insts {
		attempt := 0
		if !eventually(10*time.Second, func() bool {
			attempt++
			id := fmt.Sprint("warm", i, "-", attempt)
			b := gcache.AppendString(nil, id)
			if _, err := ucs[i].Get(enabled, ucs[i].Key(b, len(b)), func(context.Context) (item, error) { return db.read(id), nil }); err != nil {
				return false
			}
			if err := insts[i].settle(time.Second); err != nil {
				return false
			}
			n, _ := g.Primary.Client().Exists(context.Background(), "{urn:item:"+id+"}#GetItem").Result()
			return n == 1
		}) {
			t.Fatalf("instance %d wrote no value to Redis", i)
		}
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
