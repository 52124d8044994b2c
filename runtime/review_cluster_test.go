package gcache

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gcache-go/gcache/internal/redistest"
)

// TestReviewClusterEventOutrunsWatermark breaks guarantee 2 (after
// Invalidate returns nil on I, a read on another instance that starts
// more than the propagation bound later is fresh) on a Redis Cluster.
//
// On a cluster, raiseWatermarks sends the watermark scripts and the
// event's PUBLISH in one pipeline, which go-redis sends to the nodes
// concurrently: the PUBLISH (a keyless command, on whichever master the
// shard picker gives) is not ordered after the watermark write on the
// entity's master. Another instance O applies the event as a watermark
// that is in Redis (watermarks.raise: landed, freshAfter = arrival), so a
// value O then reads from Redis counts as checked against it. But the
// watermark is not there yet: Redis hands O the old value, which O stores
// in its local tier with validated after freshAfter, and the landed
// exception in watermarks.check keeps it fresh for its whole TTL, after
// Invalidate returned nil.
//
// The window is forced with CLIENT PAUSE WRITE on the entity's master
// only: reads go on there, the watermark script waits, the PUBLISH on
// another master goes through. The pause is shorter than RedisTimeout, so
// Invalidate succeeds. When the PUBLISH happens to go to the paused master
// too, the attempt proves nothing and the next id is tried.
func TestReviewClusterEventOutrunsWatermark(t *testing.T) {
	cl := redistest.StartCluster(t, 3)
	cfg := Config{Redis: &RedisConfig{Addrs: cl.Addrs()}, RedisTimeout: 5 * time.Second}
	inv := newHarness(t, cfg)
	other := newHarness(t, cfg)
	inv.waitLive()
	other.waitLive()
	ucI := useCase[string](t, inv.c, trackedSpec("Profile", allLayers))
	ucO := useCase[string](t, other.c, trackedSpec("Profile", allLayers))

	// Every master learns the watermark script first: on a master that
	// has not seen it, the pipeline is sent again with the script's text,
	// PUBLISH included, and that second event would close the window.
	warm := make([]string, 30)
	for i := range warm {
		warm[i] = fmt.Sprint("warm", i)
	}
	if err := inv.c.InvalidateMany(context.Background(), "user_id", warm); err != nil {
		t.Fatal(err)
	}

	for attempt := range 4 {
		id := fmt.Sprint("u", attempt)
		entity := inv.c.entity("user_id", id)
		master := cl.MasterOf(t, watermarkKey(entity))
		src := &versioned{}
		if v, err := ucI.Get(enabled, keyOf(ucI, id), src.fn); err != nil || v != "v0" {
			t.Fatalf("first read = %q, %v", v, err)
		}
		inv.settle() // Redis holds v0
		src.version.Store(1)

		if got := master.Do("CLIENT", "PAUSE", "300", "WRITE"); got != "OK" {
			t.Fatalf("CLIENT PAUSE = %v", got)
		}
		done := make(chan error, 1)
		go func() { done <- inv.c.Invalidate(context.Background(), "user_id", id) }()

		// The event reaches O only once the watermark is in Redis.
		for len(done) == 0 {
			if _, ok := other.c.wm.entries.GetIfPresent(entity); ok {
				if n, _ := cl.Client(t).Exists(context.Background(), watermarkKey(entity)).Result(); n != 1 {
					t.Fatalf("the event of %s reached O before its watermark reached Redis", entity)
				}
				break
			}
			time.Sleep(time.Millisecond)
		}
		if err := <-done; err != nil {
			t.Fatalf("Invalidate returned %v; the pause should be shorter than RedisTimeout", err)
		}
		other.caughtUp()
		if v, err := ucO.Get(enabled, keyOf(ucO, id), src.fn); err != nil || v != "v1" {
			t.Fatalf("instance O read %q (%v) after Invalidate returned nil on I", v, err)
		}
	}
}
