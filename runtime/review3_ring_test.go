package gcache

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/gcache-go/gcache/internal/redistest"
	"github.com/redis/go-redis/v9"
)

// TestRingShardRestartIsALoss: on a redis.Ring (a RedisClient the
// runtime accepts and treats as sharded), a shard restarting empty is
// noticed as lost watermarks: a write whose call began before the restart
// is not written there.
//
// Guarantee 7: "Redis restarting empty or failing over (run id of any
// server/master changes ...) is treated as lost watermarks: values whose
// call began before are not written to Redis".
//
// Root cause: runtime/remote.go remote.runIDs treats every client that is
// not a ClusterClient as one server: it sends INFO server through the
// client and files the answer under "". A Ring routes INFO by its first
// argument, "server", so one shard's run id is read, always the same; the
// other shards may restart unseen (events.go subscriber.sawRestart never
// hears of them), and the fill's Redis-side check finds no watermark.
//
// Fault: kill and restart (empty) the shard that holds the entity's
// watermark while a call that read v0 is in flight and the calling
// instance's subscriber is held, the sequence of
// TestClusterMasterRestartIsALoss.
func TestRingShardRestartIsALoss(t *testing.T) {
	s1, s2 := redistest.Start(t), redistest.Start(t)
	byAddr := map[string]*redistest.Server{s1.Addr(): s1, s2.Addr(): s2}
	newRing := func() *redis.Ring {
		r := redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"s1": s1.Addr(), "s2": s2.Addr()}})
		t.Cleanup(func() { _ = r.Close() })
		return r
	}
	admin := newRing()
	ctx := context.Background()
	serverOf := func(key string) *redistest.Server {
		c, err := admin.GetShardClientForKey(key)
		if err != nil {
			t.Fatal(err)
		}
		return byAddr[c.Options().Addr]
	}
	// The shard INFO goes to: the one whose run id the runtime reads.
	infoShard := serverOf("server")

	hold := newHoldingHandler("malformed event")
	a := ringCache(t, newRing(), slog.New(hold), true)
	b := ringCache(t, newRing(), nil, true)
	a.waitLive()
	b.waitLive()
	released := false
	releaseSubscriber := func() {
		if !released {
			released = true
			close(hold.release)
		}
	}
	defer releaseSubscriber()
	ucA := useCase[string](t, a.c, trackedSpec("Profile", allLayers))

	// An id whose value and watermark live on the other shard.
	id := ""
	for i := 0; ; i++ {
		id = fmt.Sprint("k", i)
		k := keyOf(ucA, id)
		if serverOf(k.watermarkKey()) != infoShard && serverOf(k.String()) != infoShard {
			break
		}
	}
	key := keyOf(ucA, id)
	srv := serverOf(key.watermarkKey())

	src := &versioned{hold: make(chan chan struct{})}
	got := make(chan string, 1)
	go func() {
		v, _ := ucA.Get(enabled, key, src.fn)
		got <- v
	}()
	release := <-src.hold // A's call read v0 and is in flight
	src.version.Store(1)
	if err := admin.Publish(ctx, a.c.channel(), "not an event").Err(); err != nil {
		t.Fatal(err)
	}
	<-hold.held // A's subscriber is held
	if err := b.c.Invalidate(ctx, "user_id", id); err != nil {
		t.Fatalf("Invalidate: %v", err)
	}
	srv.Kill()
	srv.Restart()
	eventually(t, "the restarted shard takes writes again", func() bool {
		return srv.Client().Set(ctx, "probe", 1, time.Second).Err() == nil
	})
	time.Sleep(1 * time.Second) // ten measurements, each reading the run ids
	close(release)
	if v := <-got; v != "v0" {
		t.Fatalf("the in-flight call returned %q", v)
	}
	src.hold = nil
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if !a.c.writes.barrier(wctx) {
		t.Fatal("A's write did not run")
	}
	for _, s := range byAddr {
		if err := s.Client().Ping(ctx).Err(); err != nil {
			t.Fatalf("Redis failed: %v", err)
		}
	}
	if srv.Client().Exists(ctx, key.String()).Val() == 1 {
		t.Errorf("the shard restarted empty, yet holds a value (v0) whose call began before the restart")
	}
	// An instance that starts now reads Redis alone.
	c := ringCache(t, newRing(), nil, true)
	c.waitLive()
	ucC := useCase[string](t, c.c, trackedSpec("Profile", allLayers))
	if v, err := ucC.Get(enabled, key, src.fn); err != nil || v != "v1" {
		t.Errorf("an instance started after B's Invalidate returned nil read %q (%v)", v, err)
	}
}

// ringCache returns a Cache on ring whose heartbeat channel is, with
// together, on the shard of its event channel, or without, on another.
func ringCache(t *testing.T, ring *redis.Ring, logger *slog.Logger, together bool) *harness {
	t.Helper()
	shardOf := func(key string) string {
		c, err := ring.GetShardClientForKey(key)
		if err != nil {
			t.Fatal(err)
		}
		return c.Options().Addr
	}
	for {
		h := newHarness(t, Config{RedisClient: ring, Logger: logger})
		if (shardOf(h.c.sub.heartbeat) == shardOf(h.c.channel())) == together {
			return h
		}
		_ = h.c.Close()
	}
}

// TestRingHeartbeatsArrive: a Cache on a redis.Ring becomes current: it
// hears its own heartbeats, so that its tracked local entries are served
// past eventLag without the outage mode.
//
// Guarantee 2 (heartbeats every 20 ms tell each instance how current its
// view is; a tracked local entry is served only while the view is current
// to within 75 ms) and 6.
//
// Root cause: runtime/events.go subscriber.send publishes each heartbeat
// on its own channel (a random token) through remote.publishers, which,
// for any client but a ClusterClient, is the client itself; a Ring
// publishes by hashing the channel name, while remote.subscribe's
// Ring.Subscribe takes the shard of the first channel, the event
// channel. For about half of the instances the two differ: the
// heartbeats never arrive, the view is never current, every tracked local
// entry is dropped OutageStaleness after it was checked (a miss storm),
// and the outage counter counts every local hit in between.
//
// Fault: none; a Ring of two servers, and an instance whose heartbeat
// channel hashes to the other shard than the event channel.
func TestRingHeartbeatsArrive(t *testing.T) {
	s1, s2 := redistest.Start(t), redistest.Start(t)
	ring := redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"s1": s1.Addr(), "s2": s2.Addr()}})
	t.Cleanup(func() { _ = ring.Close() })
	h := ringCache(t, ring, nil, false)
	deadline := time.Now().Add(10 * time.Second)
	for !h.c.live() && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	for _, s := range []*redistest.Server{s1, s2} {
		if err := s.Client().Ping(context.Background()).Err(); err != nil {
			t.Fatalf("Redis failed: %v", err)
		}
	}
	if !h.c.live() {
		_, _, synced := h.c.clk.fleet()
		t.Fatalf("never current in 10s (fleet clock known: %v): its heartbeats go to the other shard", synced)
	}
}
