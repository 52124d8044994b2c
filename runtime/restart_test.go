package gcache

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gcache-go/gcache/internal/redistest"
	"github.com/redis/go-redis/v9"
)

// holdingHandler is a slog handler that holds the goroutine that logs a
// message containing match until released: the subscriber logs a
// malformed event from its own goroutine, so a malformed event published
// on purpose holds the subscriber back, as a starved process would.
type holdingHandler struct {
	match   string
	held    chan struct{}
	release chan struct{}
	once    sync.Once
}

func newHoldingHandler(match string) *holdingHandler {
	return &holdingHandler{match: match, held: make(chan struct{}), release: make(chan struct{})}
}

func (h *holdingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *holdingHandler) Handle(_ context.Context, r slog.Record) error {
	if strings.Contains(r.Message, h.match) {
		h.once.Do(func() { close(h.held) })
		<-h.release
	}
	return nil
}
func (h *holdingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *holdingHandler) WithGroup(string) slog.Handler      { return h }

// TestClusterMasterRestartIsALoss: on a Redis Cluster, any master restarting empty is noticed as lost
// watermarks: a write whose call began before it is not written there, and
// the instance that invalidated reads the new value. Only the run id of the
// master the clock was measured on used to be watched.
func TestClusterMasterRestartIsALoss(t *testing.T) {
	t.Run("single", func(t *testing.T) {
		srv := redistest.Start(t)
		restartWhileAWriteWaits(t, []string{srv.Addr()}, nil, func(string) *redistest.Server { return srv }, srv.Client())
	})
	t.Run("cluster", func(t *testing.T) {
		cl := redistest.StartCluster(t, 3)
		first := cl.Masters[0]
		for _, m := range cl.Masters {
			if m.Addr() < first.Addr() {
				first = m
			}
		}
		restartWhileAWriteWaits(t, cl.Addrs(), first, func(wmKey string) *redistest.Server { return cl.MasterOf(t, wmKey) }, cl.Client(t))
	})
}

// restartWhileAWriteWaits runs the sequence of
// TestClusterMasterRestartIsALoss on the Redis at addrs;
// first is, on a cluster, the master that holds the subscriptions and
// tells the run id; serverOf returns the server that holds a key; admin
// reaches them all.
func restartWhileAWriteWaits(t *testing.T, addrs []string, first *redistest.Server, serverOf func(key string) *redistest.Server, admin redis.UniversalClient) {
	hold := newHoldingHandler("malformed event")
	a := newHarness(t, Config{Redis: &RedisConfig{Addrs: addrs}, Logger: slog.New(hold)})
	b := newHarness(t, Config{Redis: &RedisConfig{Addrs: addrs}})
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
	ucB := useCase[string](t, b.c, trackedSpec("Profile", allLayers))
	ctx := context.Background()

	// On a cluster, an id on a master other than the first by address,
	// which holds the subscriptions and tells the run id.
	id := "7"
	for i := 0; first != nil && serverOf(watermarkKey(a.c.entity("user_id", id))) == first; i++ {
		id = fmt.Sprint("k", i)
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
	eventually(t, "the restarted server takes writes again", func() bool {
		return admin.Set(ctx, key.String()+"probe", 1, time.Second).Err() == nil
	})
	admin.Del(ctx, key.String()+"probe")
	time.Sleep(2500 * time.Millisecond) // past the run id's period (about 1 s)
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
	if admin.Exists(ctx, key.String()).Val() == 1 {
		t.Errorf("Redis restarted empty, yet holds a value (v0) whose call began before the restart")
	}
	releaseSubscriber()
	if v, err := ucB.Get(enabled, key, src.fn); err != nil || v != "v1" {
		t.Errorf("B, whose Invalidate returned nil, read %q (%v)", v, err)
	}
}
