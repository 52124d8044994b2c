package gcache

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/gcache-go/gcache/internal/redistest"
)

// TestFailoverThatLostTheWatermarkIsHonoured: after Invalidate returned nil, a failover to a replica that never
// received the watermark (asynchronous replication, made deterministic by
// pausing the replica's writes while the primary is killed) does not let the
// invalidating instance serve the old value. A watermark that had landed
// used to vouch for reads from Redis made after it, even from a Redis that
// had since lost it.
func TestFailoverThatLostTheWatermarkIsHonoured(t *testing.T) {
	group := redistest.StartSentinel(t)
	h := newHarness(t, Config{Redis: &RedisConfig{Addrs: []string{group.Sentinel.Addr()}, MasterName: group.MasterName}})
	h.waitLive()
	uc := useCase[string](t, h.c, trackedSpec("Profile", allLayers))
	key := keyOf(uc, "7")
	wmKey := key.watermarkKey()
	ctx := context.Background()
	src := &versioned{}
	if v, err := uc.Get(enabled, key, src.fn); err != nil || v != "v0" {
		t.Fatalf("first read = %q, %v", v, err)
	}
	h.settle()
	replica := group.Replica.Client()
	eventually(t, "the replica holds v0", func() bool { return replica.Exists(ctx, key.String()).Val() == 1 })

	src.version.Store(1)
	if got := group.Replica.Do("CLIENT", "PAUSE", "2000", "WRITE"); got != "OK" {
		t.Fatalf("CLIENT PAUSE = %v", got)
	}
	if err := h.c.Invalidate(ctx, "user_id", "7"); err != nil {
		t.Fatalf("Invalidate: %v", err)
	}
	oldPrimary := group.CurrentPrimary(t)
	group.Primary.Kill()
	deadline := time.Now().Add(30 * time.Second)
	for group.CurrentPrimary(t) == oldPrimary {
		if time.Now().After(deadline) {
			t.Fatal("the sentinel did not fail over")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if replica.Exists(ctx, wmKey).Val() != 0 || replica.Exists(ctx, key.String()).Val() != 1 {
		t.Fatal("setup: the new primary should hold v0 and not the watermark")
	}
	// The instance notices the failover (a new run id) and is current
	// again on the new primary.
	failedOver := h.c.clk.local()
	eventually(t, "the instance resubscribed on the new primary", func() bool {
		return h.c.live() && h.c.wm.floor.Load() > failedOver
	})
	if v, err := uc.Get(enabled, key, src.fn); err != nil || v != "v1" {
		t.Fatalf("the instance whose Invalidate returned nil read %q (%v) after a failover that lost the watermark; "+
			"its own table holds the watermark", v, err)
	}
}

// gatedCodec is CBOR whose Marshal, while gate is set, waits until the
// test releases it: it stands for a background write held up on its way
// to Redis (a slow encoder, a starved worker, a full backlog).
type gatedCodec struct {
	mu      sync.Mutex
	gate    chan struct{} // nil: no wait
	entered chan struct{}
}

func (g *gatedCodec) Marshal(v any) ([]byte, error) {
	g.mu.Lock()
	gate, entered := g.gate, g.entered
	g.mu.Unlock()
	if gate != nil {
		entered <- struct{}{}
		<-gate
	}
	return CBOR.Marshal(v)
}

func (g *gatedCodec) Unmarshal(data []byte, v any) error { return CBOR.Unmarshal(data, v) }

// TestDelayedFillAfterRestartIsRefused: a write to Redis held up after its checks (a slow encoding) is checked
// again right before it goes: when Redis restarted empty meanwhile, a value
// whose call began before the restart, of an entity invalidated since, is
// not written, and the instance that invalidated reads the new value. The
// checks used to run once, before encoding.
func TestDelayedFillAfterRestartIsRefused(t *testing.T) {
	srv := redistest.Start(t)
	cfg := Config{Redis: &RedisConfig{Addrs: []string{srv.Addr()}}}
	a, b := newHarness(t, cfg), newHarness(t, cfg)
	a.waitLive()
	b.waitLive()
	codecA := &gatedCodec{gate: make(chan struct{}), entered: make(chan struct{}, 1)}
	specA := trackedSpec("Profile", allLayers)
	specA.Codec = codecA
	specB := specA
	specB.Codec = &gatedCodec{}
	ucA := useCase[string](t, a.c, specA)
	ucB := useCase[string](t, b.c, specB)
	key := keyOf(ucA, "7")
	ctx := context.Background()

	src := &versioned{}
	if v, err := ucA.Get(enabled, key, src.fn); err != nil || v != "v0" {
		t.Fatalf("first read = %q, %v", v, err)
	}
	<-codecA.entered // A's write of v0 passed its checks and is encoding
	src.version.Store(1)
	if err := b.c.Invalidate(ctx, "user_id", "7"); err != nil {
		t.Fatalf("Invalidate: %v", err)
	}
	eventually(t, "A hears of the invalidation", func() bool {
		return a.c.wm.invalidatedSince(key.entityKey(), 1)
	})
	restarted := a.c.clk.local()
	srv.Kill()
	srv.Restart()
	eventually(t, "both instances are back, and know Redis restarted", func() bool {
		return a.c.live() && b.c.live() && a.c.wm.lost.Load() > restarted && b.c.wm.floor.Load() > restarted
	})
	if !a.c.wm.refuses(key.entityKey(), 0, restarted-1) {
		t.Fatal("setup: A's own rule should refuse the write now")
	}
	codecA.mu.Lock()
	gate := codecA.gate
	codecA.gate = nil
	codecA.mu.Unlock()
	close(gate)
	a.settle()

	inRedis := srv.Client().Exists(ctx, key.String()).Val() == 1
	got, _ := ucB.Get(enabled, key, src.fn)
	if inRedis {
		t.Errorf("Redis restarted empty, yet A wrote a value whose call began before the restart, "+
			"of an entity A knew was invalidated; B, whose Invalidate returned nil, then read %q", got)
	}
	if got != "v1" {
		t.Errorf("B read %q after its own Invalidate returned nil", got)
	}
}
