package gcache

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/gcache-go/gcache/internal/redistest"
)

// TestReviewFailoverThatLostTheWatermark breaks guarantees 2 and 7 on the
// invalidating instance itself: after Invalidate returned nil, a failover
// to a replica that never received the watermark (asynchronous
// replication) leaves the old value in Redis without its watermark, and
// the instance that invalidated serves it, though its own table holds the
// watermark ("reads from Redis are always checked against Redis's
// watermark AND the reading instance's own table").
//
// Root cause: watermarks.check skips an entity's watermark for a value
// "last known fresh" after freshAfter when the watermark has landed:
// validated > freshAfter is taken to mean that the read was checked by
// Redis against the watermark. A value read from Redis after Redis lost
// its watermarks was checked against nothing; the run-id change raises
// the floor (to drop what was checked before) but does not revoke the
// landed exception for what is read after.
//
// The replication loss is made deterministic with CLIENT PAUSE WRITE on
// the replica, which holds the primary's replication stream; the primary
// is killed during the pause and the sentinel promotes the replica.
func TestReviewFailoverThatLostTheWatermark(t *testing.T) {
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

// TestReviewFillAfterRestartLandsUnchecked breaks guarantee 7 ("Redis
// restarting empty is treated as lost watermarks: values whose call began
// before are not written to Redis"), and through it guarantee 2 on the
// invalidating instance.
//
// Root cause: UseCase.fill checks c.wm.refuses (this process's watermark
// table and its lost-watermarks time) once, before it encodes the value;
// the write to Redis happens after. A write that is held up between the
// two (encoding, a busy worker) lands whatever the instance has learned
// meanwhile: here, that another instance invalidated the entity and that
// Redis restarted without the watermark. GetBatch's storeBatch has the
// same gap, wider: it checks when it queues the write, not when the
// backlog runs it. The restarted Redis has no watermark to refuse it.
//
// A second instance B, which invalidated the entity (Invalidate returned
// nil), then serves the old value from Redis: see
// TestReviewFailoverThatLostTheWatermark for why its own table does not
// stop it.
func TestReviewFillAfterRestartLandsUnchecked(t *testing.T) {
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
