package gcache

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gcache-go/gcache/internal/redistest"
	"github.com/redis/go-redis/v9"
)

// commandLog records the commands each node of a cluster client runs.
type commandLog struct {
	mu   sync.Mutex
	cmds []string // "addr command"
}

func (l *commandLog) hook(addr string) redis.Hook { return nodeHook{l, addr} }

func (l *commandLog) reset() {
	l.mu.Lock()
	l.cmds = nil
	l.mu.Unlock()
}

// data returns the recorded commands but those about the cluster itself.
func (l *commandLog) data() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, c := range l.cmds {
		if name := strings.Fields(c)[1]; name != "cluster" && name != "ping" && name != "hello" && name != "client" {
			out = append(out, c)
		}
	}
	return out
}

type nodeHook struct {
	log  *commandLog
	addr string
}

func (h nodeHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h nodeHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.record(cmd)
		return next(ctx, cmd)
	}
}

func (h nodeHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, cmd := range cmds {
			h.record(cmd)
		}
		return next(ctx, cmds)
	}
}

// record logs cmd, unless it is the Cache's own background work:
// heartbeats and the clock's measurements.
func (h nodeHook) record(cmd redis.Cmder) {
	name := strings.ToLower(cmd.Name())
	args := cmd.Args()
	if name == "time" || name == "info" || name == "publish" && len(args) > 1 && strings.Contains(fmt.Sprint(args[1]), ":gcache:heartbeat:") {
		return
	}
	h.log.mu.Lock()
	h.log.cmds = append(h.log.cmds, h.addr+" "+name)
	h.log.mu.Unlock()
}

// TestClusterSpreadsEntitiesAndReadsInOneRoundTrip: the keys of many
// entities land on every master, and a tracked read, value and watermark
// together, is one command to one node.
func TestClusterSpreadsEntitiesAndReadsInOneRoundTrip(t *testing.T) {
	cluster := redistest.StartCluster(t, 3)
	var log commandLog
	client := redis.NewClusterClient(&redis.ClusterOptions{Addrs: cluster.Addrs(), ContextTimeoutEnabled: true})
	client.OnNewNode(func(rdb *redis.Client) { rdb.AddHook(log.hook(rdb.Options().Addr)) })
	t.Cleanup(func() { client.Close() })
	h := newHarness(t, Config{RedisClient: client})
	h.waitLive()
	remoteOnly := KeyConfig{Remote: LayerConfig{TTL: time.Hour, Ramp: 100}}
	uc := useCase[string](t, h.c, UseCaseSpec{Name: "Profile", KeyType: "user_id", Tracked: true, Default: remoteOnly})
	fn := func(context.Context) (string, error) { return "v", nil }
	for i := range 300 {
		uc.Get(enabled, keyOf(uc, fmt.Sprint(i)), fn)
	}
	for _, m := range cluster.Masters {
		n, err := m.Client().DBSize(context.Background()).Result()
		if err != nil || n < 50 {
			t.Errorf("master %s holds %d keys (%v): the entities did not spread", m.Addr(), n, err)
		}
	}
	if err := h.c.Invalidate(context.Background(), "user_id", "42"); err != nil {
		t.Fatal(err)
	}
	// Refill after the invalidation, past the clock's error: Redis
	// refuses a value that may have been made before it.
	h.pastClockError()
	uc.Get(enabled, keyOf(uc, "42"), fn)
	h.settle()
	log.reset()
	v, err := uc.Get(enabled, keyOf(uc, "42"), func(context.Context) (string, error) {
		t.Error("a remote hit called the function")
		return "", nil
	})
	if err != nil || v != "v" {
		t.Fatalf("Get = %q, %v", v, err)
	}
	cmds := log.data()
	owner := cluster.MasterOf(t, "{urn:user_id:42}#Profile").Addr()
	if len(cmds) != 1 || cmds[0] != owner+" mget" {
		t.Errorf("a tracked read ran %q; want one MGET on %s", cmds, owner)
	}
}

// TestClusterMasterDown: with one master dead, calls for its keys are
// served by the function, and keys on the other masters keep hitting. The
// master that dies is the one go-redis routes the event channel to, so
// events must find another.
func TestClusterMasterDown(t *testing.T) {
	cluster := redistest.StartCluster(t, 3)
	cfg := Config{Redis: &RedisConfig{Addrs: cluster.Addrs()}, RedisTimeout: 200 * time.Millisecond}
	h, other := newHarness(t, cfg), newHarness(t, cfg)
	h.waitLive()
	other.waitLive()
	remoteOnly := KeyConfig{Remote: LayerConfig{TTL: time.Hour, Ramp: 100}}
	uc := useCase[string](t, h.c, UseCaseSpec{Name: "P", KeyType: "k", Default: remoteOnly})
	var calls sync.Map
	fn := func(id string) func(context.Context) (string, error) {
		return func(context.Context) (string, error) {
			n, _ := calls.LoadOrStore(id, new(atomic.Int64))
			n.(*atomic.Int64).Add(1)
			return "v" + id, nil
		}
	}
	count := func(id string) int64 {
		n, ok := calls.Load(id)
		if !ok {
			return 0
		}
		return n.(*atomic.Int64).Load()
	}
	ids := make([]string, 60)
	for i := range ids {
		ids[i] = fmt.Sprint(i)
		uc.Get(enabled, keyOf(uc, ids[i]), fn(ids[i]))
	}
	dead := cluster.MasterOf(t, "urn:gcache:events")
	var onDead, onLive []string
	for _, id := range ids {
		if cluster.MasterOf(t, keyOf(uc, id).String()) == dead {
			onDead = append(onDead, id)
		} else {
			onLive = append(onLive, id)
		}
	}
	if len(onDead) == 0 || len(onLive) == 0 {
		t.Fatalf("%d keys on the dead master, %d on the others", len(onDead), len(onLive))
	}
	dead.Kill()
	for range 5 {
		for _, id := range append(append([]string{}, onDead...), onLive...) {
			v, err := uc.Get(enabled, keyOf(uc, id), fn(id))
			if err != nil || v != "v"+id {
				t.Fatalf("Get(%s) = %q, %v", id, v, err)
			}
		}
	}
	for _, id := range onLive {
		if n := count(id); n != 1 {
			t.Errorf("key %s on a live master: %d calls, want the first only (hits since)", id, n)
		}
	}
	for _, id := range onDead {
		// Served by the function, but while a value's write is under way
		// (until the write times out, or at once once the breaker is
		// open), a call of its key may take that value.
		if n := count(id); n < 2 {
			t.Errorf("key %s on the dead master: %d calls, want it served by the function", id, n)
		}
	}
	if h.metric("gcache_disabled_counter_total", "reason", "server_down") == 0 {
		t.Error("the dead master's breaker never opened")
	}
	// Invalidation still reaches Redis for entities whose watermark is on
	// a live master, and the other instance, through a live node.
	localOnly := KeyConfig{Local: LayerConfig{TTL: time.Hour, Ramp: 100}}
	tracked := useCase[string](t, other.c, trackedSpec("T", localOnly))
	// A master this instance cannot reach stops its heartbeats: the
	// events are never proven current, and tracked local entries are
	// served by the outage mode alone. The events still flow.
	eventually(t, "the other instance subscribes", other.c.sub.up.Load)
	if other.c.live() {
		t.Error("the events read as current with a master down")
	}
	for _, id := range ids {
		if cluster.MasterOf(t, "{urn:user_id:"+id+"}#watermark") == dead {
			continue
		}
		src := &versioned{}
		tracked.Get(enabled, keyOf(tracked, id), src.fn)
		src.version.Store(1)
		if err := h.c.Invalidate(context.Background(), "user_id", id); err != nil {
			t.Fatalf("Invalidate of an entity on a live master: %v", err)
		}
		eventually(t, "the other instance hears of it", func() bool {
			v, _ := tracked.Get(enabled, keyOf(tracked, id), src.fn)
			return v == "v1"
		})
		break
	}
}

// TestSentinelFailover: the primary dies under load; calls are served by
// the function while the sentinel fails over, and the same Cache caches
// on the new primary.
func TestSentinelFailover(t *testing.T) {
	group := redistest.StartSentinel(t)
	cfg := Config{
		Redis:           &RedisConfig{Addrs: []string{group.Sentinel.Addr()}, MasterName: group.MasterName},
		RedisTimeout:    200 * time.Millisecond,
		BreakerCooldown: 200 * time.Millisecond,
	}
	h := newHarness(t, cfg)
	h.waitLive()
	remoteOnly := KeyConfig{Remote: LayerConfig{TTL: time.Hour, Ramp: 100}}
	uc := useCase[int64](t, h.c, trackedSpec("P", remoteOnly))
	db := &database{}
	get := func(id string) (int64, error) {
		return uc.Get(enabled, keyOf(uc, id), func(context.Context) (int64, error) { return db.read(id) })
	}
	get("warm")
	h.settle()
	n := db.calls.Load()
	get("warm")
	if db.calls.Load() != n {
		t.Fatal("no remote hit before the failover")
	}
	oldPrimary := group.CurrentPrimary(t)

	stop := make(chan struct{})
	var failed atomic.Int64
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := get(fmt.Sprint(g, "-", i%20)); err != nil {
					failed.Add(1)
				}
				time.Sleep(time.Millisecond)
			}
		})
	}
	group.Primary.Kill()
	deadline := time.Now().Add(30 * time.Second)
	for group.CurrentPrimary(t) == oldPrimary {
		if time.Now().After(deadline) {
			t.Fatal("the sentinel did not fail over")
		}
		time.Sleep(50 * time.Millisecond)
	}
	eventually(t, "caching resumes on the new primary", func() bool {
		get("after")
		n := db.calls.Load()
		get("after")
		return db.calls.Load() == n
	})
	close(stop)
	wg.Wait()
	if failed.Load() > 0 {
		t.Errorf("%d calls failed during the failover", failed.Load())
	}
	host, _, _ := net.SplitHostPort(group.CurrentPrimary(t))
	if host != "127.0.0.1" {
		t.Errorf("new primary %s", group.CurrentPrimary(t))
	}
}
