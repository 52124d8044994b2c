package gcache

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gcache-go/gcache/internal/redistest"
)

// TestClusterEventFollowsItsWatermark: on a Redis Cluster, the event of an invalidation reaches the other
// instances only once its watermark is in Redis, and after Invalidate
// returned nil they read the new value. The event used to go in the same
// pipeline as the watermark scripts, which a cluster sends to its nodes at
// once: with the entity's master paused for writes (CLIENT PAUSE WRITE),
// another instance applied the event, read the old value from Redis before
// the watermark landed, and kept it as checked.
func TestClusterEventFollowsItsWatermark(t *testing.T) {
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
