package gcache

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gcache-go/gcache/internal/redistest"
	"github.com/redis/go-redis/v9"
)

// A backend is a Redis deployment the same tests run against: a single
// server, a cluster, or a primary behind a sentinel.
type backend struct {
	name   string
	config func() *RedisConfig
	admin  redis.UniversalClient // for looking at what the cache stored
	nodes  []*redistest.Server   // the servers holding data (the masters)
	// cli is the redis-cli arguments that reach the data, redirects
	// followed.
	cli func() []string
}

// keys returns the keys under prefix but the use-case registry's, on every
// node, sorted.
func (be *backend) keys(t *testing.T, prefix string) []string {
	t.Helper()
	var keys []string
	for _, n := range be.nodes {
		c := n.Client()
		for _, pattern := range []string{prefix + ":*", "{" + prefix + ":*"} {
			ks, err := c.Keys(context.Background(), pattern).Result()
			if err != nil && !strings.Contains(err.Error(), "READONLY") {
				t.Fatal(err)
			}
			for _, k := range ks {
				if !strings.Contains(k, ":gcache}:usecases") {
					keys = append(keys, k)
				}
			}
		}
	}
	sort.Strings(keys)
	return keys
}

// killSubscriptions kills every pub/sub connection on every node.
func (be *backend) killSubscriptions(t *testing.T) {
	t.Helper()
	for _, n := range be.nodes {
		n.Client().ClientKillByFilter(context.Background(), "TYPE", "pubsub")
	}
}

func startBackends(t *testing.T) []*backend {
	single := redistest.Start(t)
	cluster := redistest.StartCluster(t, 3)
	group := redistest.StartSentinel(t)
	cliTo := func(addr string, extra ...string) []string {
		host, port, _ := net.SplitHostPort(addr)
		return append(extra, "-h", host, "-p", port)
	}
	return []*backend{
		{
			name:   "single",
			config: func() *RedisConfig { return &RedisConfig{Addrs: []string{single.Addr()}} },
			admin:  single.Client(),
			nodes:  []*redistest.Server{single},
			cli:    func() []string { return cliTo(single.Addr()) },
		},
		{
			name:   "cluster",
			config: func() *RedisConfig { return &RedisConfig{Addrs: cluster.Addrs()} },
			admin:  cluster.Client(t),
			nodes:  cluster.Masters,
			cli:    func() []string { return cliTo(cluster.Masters[0].Addr(), "-c") },
		},
		{
			name: "sentinel",
			config: func() *RedisConfig {
				return &RedisConfig{Addrs: []string{group.Sentinel.Addr()}, MasterName: group.MasterName}
			},
			admin: redis.NewFailoverClient(&redis.FailoverOptions{MasterName: group.MasterName, SentinelAddrs: []string{group.Sentinel.Addr()}}),
			nodes: []*redistest.Server{group.Primary},
			cli:   func() []string { return cliTo(group.CurrentPrimary(t)) },
		},
	}
}

var prefixes atomic.Int64

// onBackend makes a pair of Caches on be under a prefix of their own.
func onBackend(t *testing.T, be *backend) (prefix string, a, b *harness) {
	t.Helper()
	prefix = fmt.Sprintf("t%d", prefixes.Add(1))
	cfg := Config{KeyPrefix: prefix, Redis: be.config()}
	a, b = newHarness(t, cfg), newHarness(t, cfg)
	a.waitLive()
	b.waitLive()
	return prefix, a, b
}

// TestOnEveryTopology runs the runtime's behaviour and invalidation tests
// against one Redis, a three-master cluster, and a primary with a replica
// behind a sentinel.
func TestOnEveryTopology(t *testing.T) {
	backends := startBackends(t)
	t.Cleanup(func() { backends[2].admin.Close() })
	tests := []struct {
		name string
		run  func(t *testing.T, be *backend)
	}{
		{"RemoteHitAcrossCaches", topoRemoteHit},
		{"FlushKeepsOtherPrefixes", topoFlush},
		{"DeleteReachesOtherInstances", topoDelete},
		{"InFlightCallCannotOutliveInvalidation", topoInFlight},
		{"InvalidationReachesOtherInstances", topoPropagation},
		{"InvalidateMany", topoInvalidateMany},
		{"KilledSubscriptionDropsTrackedLocalEntries", topoKilledSubscription},
		{"WatermarkNeverMovesBackwards", topoWatermarkForward},
		{"PythonInterop", topoInterop},
		{"Batch", topoBatch},
		{"LeaseAndNegative", topoLease},
	}
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) { tc.run(t, be) })
			}
		})
	}
}

func topoRemoteHit(t *testing.T, be *backend) {
	prefix, a, b := onBackend(t, be)
	spec := UseCaseSpec{Name: "GetUser", KeyType: "user_id", Tracked: true, Default: KeyConfig{Remote: allLayers.Remote}}
	ucA, ucB := useCase[string](t, a.c, spec), useCase[string](t, b.c, spec)
	calls := 0
	fn := func(context.Context) (string, error) { calls++; return "ada", nil }
	for i := range 20 {
		id := strconv.Itoa(i)
		if v, _ := ucA.Get(enabled, keyOf(ucA, id), fn); v != "ada" {
			t.Fatal(v)
		}
		a.settle()
		if v, _ := ucB.Get(enabled, keyOf(ucB, id), fn); v != "ada" {
			t.Fatal(v)
		}
	}
	if calls != 20 {
		t.Errorf("calls = %d, want 20: B should read what A wrote", calls)
	}
	if keys := be.keys(t, prefix); len(keys) != 20 || keys[0] != "{"+prefix+":user_id:0}#GetUser" {
		t.Errorf("keys = %q", keys)
	}
}

func topoFlush(t *testing.T, be *backend) {
	prefix, a, _ := onBackend(t, be)
	other, _, _ := onBackend(t, be)
	ucs := []*UseCase[string]{
		useCase[string](t, a.c, UseCaseSpec{Name: "P", KeyType: "k", Default: allLayers}),
		useCase[string](t, a.c, trackedSpec("T", allLayers)),
	}
	for i := range 30 {
		for _, uc := range ucs {
			uc.Get(enabled, keyOf(uc, strconv.Itoa(i)), func(context.Context) (string, error) { return "v", nil })
		}
	}
	a.settle()
	be.admin.Set(context.Background(), other+":k:1#P", "x", 0)
	if err := a.c.Invalidate(context.Background(), "user_id", "1"); err != nil {
		t.Fatal(err)
	}
	if n := len(be.keys(t, prefix)); n != 61 {
		t.Fatalf("before Flush: %d keys", n)
	}
	if err := a.c.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if keys := be.keys(t, prefix); !reflect.DeepEqual(keys, []string{"{" + prefix + ":user_id:1}#watermark"}) {
		t.Errorf("after Flush: %q", keys)
	}
	if keys := be.keys(t, other); len(keys) != 1 {
		t.Errorf("another prefix lost its keys: %q", keys)
	}
}

func topoDelete(t *testing.T, be *backend) {
	_, a, b := onBackend(t, be)
	localOnly := KeyConfig{Local: LayerConfig{TTL: time.Hour, Ramp: 100}}
	ucA := useCase[string](t, a.c, UseCaseSpec{Name: "P", KeyType: "k", Default: localOnly})
	ucB := useCase[string](t, b.c, UseCaseSpec{Name: "P", KeyType: "k", Default: localOnly})
	src := &versioned{}
	ucA.Get(enabled, keyOf(ucA, "1"), src.fn)
	ucB.Get(enabled, keyOf(ucB, "1"), src.fn)
	src.version.Store(1)
	if _, err := a.c.Delete(context.Background(), keyOf(ucA, "1")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "B drops its copy", func() bool {
		v, _ := ucB.Get(enabled, keyOf(ucB, "1"), src.fn)
		return v == "v1"
	})
}

func topoInFlight(t *testing.T, be *backend) {
	prefix, a, b := onBackend(t, be)
	for i := range 5 {
		id := fmt.Sprint("u", i)
		src := &versioned{hold: make(chan chan struct{})}
		name := fmt.Sprint("A", i)
		ucA, ucB := useCase[string](t, a.c, trackedSpec(name, allLayers)), useCase[string](t, b.c, trackedSpec(name, allLayers))
		got := make(chan string)
		go func() {
			v, _ := ucA.Get(enabled, keyOf(ucA, id), src.fn)
			got <- v
		}()
		release := <-src.hold
		src.version.Store(1)
		if err := b.c.Invalidate(context.Background(), "user_id", id); err != nil {
			t.Fatal(err)
		}
		close(release)
		if v := <-got; v != "v0" {
			t.Fatalf("in-flight call = %q", v)
		}
		src.hold = nil
		a.settle()
		a.caughtUp() // reads on A start past the propagation bound
		if n, _ := be.admin.Exists(context.Background(), keyOf(ucA, id).String()).Result(); n != 0 {
			t.Errorf("%s: Redis holds the in-flight call's value", prefix)
		}
		for _, uc := range []*UseCase[string]{ucA, ucB, ucA, ucB} {
			if v, _ := uc.Get(enabled, keyOf(uc, id), src.fn); v != "v1" {
				t.Fatalf("a read after the invalidation returned %q", v)
			}
		}
	}
}

func topoPropagation(t *testing.T, be *backend) {
	_, a, b := onBackend(t, be)
	localOnly := KeyConfig{Local: LayerConfig{TTL: time.Hour, Ramp: 100}}
	ucB := useCase[string](t, b.c, trackedSpec("Profile", localOnly))
	src := &versioned{}
	ucB.Get(enabled, keyOf(ucB, "7"), src.fn)
	src.version.Store(1)
	if err := a.c.Invalidate(context.Background(), "user_id", "7"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "B drops its local copy", func() bool {
		v, _ := ucB.Get(enabled, keyOf(ucB, "7"), src.fn)
		return v == "v1"
	})
}

// topoInvalidateMany: one InvalidateMany reaches every entity it names,
// in Redis and in the other instance's local tier, and no other entity.
func topoInvalidateMany(t *testing.T, be *backend) {
	prefix, a, b := onBackend(t, be)
	localOnly := KeyConfig{Local: LayerConfig{TTL: time.Hour, Ramp: 100}}
	ucB := useCase[string](t, b.c, trackedSpec("Profile", localOnly))
	ids := []string{"1", "2", "a:b", "x y", "5"}
	src := &versioned{}
	for _, id := range ids {
		ucB.Get(enabled, keyOf(ucB, id), src.fn)
	}
	src.version.Store(1)
	ctx := context.Background()
	before := a.metric("gcache_invalidation_counter_total", "layer", "REMOTE")
	if err := a.c.InvalidateMany(ctx, "user_id", ids[:4]); err != nil {
		t.Fatal(err)
	}
	if got := a.metric("gcache_invalidation_counter_total", "layer", "REMOTE") - before; got != 4 {
		t.Errorf("REMOTE invalidations = %v, want 4", got)
	}
	for _, id := range ids[:4] {
		if be.admin.Exists(ctx, "{"+prefix+":user_id:"+EscapeID(id)+"}#watermark").Val() != 1 {
			t.Errorf("no watermark for %q", id)
		}
		eventually(t, "B drops its local copy of "+id, func() bool {
			v, _ := ucB.Get(enabled, keyOf(ucB, id), src.fn)
			return v == "v1"
		})
	}
	if v, _ := ucB.Get(enabled, keyOf(ucB, "5"), src.fn); v != "v0" {
		t.Errorf("an entity left out was invalidated: %q", v)
	}
	if err := a.c.InvalidateMany(ctx, "user_id", nil); err != nil {
		t.Errorf("InvalidateMany of nothing: %v", err)
	}
}

func topoKilledSubscription(t *testing.T, be *backend) {
	_, a, b := onBackend(t, be)
	localOnly := KeyConfig{Local: LayerConfig{TTL: time.Hour, Ramp: 100}}
	ucB := useCase[string](t, b.c, trackedSpec("Profile", localOnly))
	src := &versioned{}
	ucB.Get(enabled, keyOf(ucB, "7"), src.fn)
	src.version.Store(1)
	be.killSubscriptions(t)
	eventually(t, "B drops its tracked local entry", func() bool {
		v, _ := ucB.Get(enabled, keyOf(ucB, "7"), src.fn)
		return v == "v1"
	})
	b.waitLive()
	a.waitLive()
	src.version.Store(2)
	if err := a.c.Invalidate(context.Background(), "user_id", "7"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the next invalidation reaches B", func() bool {
		v, _ := ucB.Get(enabled, keyOf(ucB, "7"), src.fn)
		return v == "v2"
	})
}

func topoWatermarkForward(t *testing.T, be *backend) {
	prefix, a, _ := onBackend(t, be)
	ctx := context.Background()
	wmKey := "{" + prefix + ":user_id:1}#watermark"
	if err := a.c.Invalidate(ctx, "user_id", "1", WithFutureBuffer(10*time.Second)); err != nil {
		t.Fatal(err)
	}
	first := be.admin.Get(ctx, wmKey).Val()
	if err := a.c.Invalidate(ctx, "user_id", "1"); err != nil {
		t.Fatal(err)
	}
	if after := be.admin.Get(ctx, wmKey).Val(); after != first || first == "" {
		t.Errorf("watermark went from %q to %q", first, after)
	}
}

func topoInterop(t *testing.T, be *backend) {
	prefix, a, _ := onBackend(t, be)
	remoteOnly := KeyConfig{Remote: LayerConfig{TTL: time.Hour, Ramp: 100}}
	uc := useCase[string](t, a.c, UseCaseSpec{Name: "Get", KeyType: "T", Tracked: true, Default: remoteOnly})
	src := &versioned{}
	uc.Get(enabled, keyOf(uc, "123"), src.fn)
	a.settle()
	a.pastClockError()
	args := append(be.cli(), "SET", "{"+prefix+":T:123}#watermark", strconv.FormatInt(time.Now().UnixMilli(), 10))
	if out, err := exec.Command("redis-cli", args...).CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != "OK" {
		t.Fatalf("redis-cli %v: %v: %s", args, err, out)
	}
	src.version.Store(1)
	if v, _ := uc.Get(enabled, keyOf(uc, "123"), src.fn); v != "v1" {
		t.Errorf("after a foreign watermark, Get = %q, want v1", v)
	}
	if err := a.c.Invalidate(context.Background(), "T", "456"); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("redis-cli", append(be.cli(), "GET", "{"+prefix+":T:456}#watermark")...).CombinedOutput()
	if _, perr := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64); err != nil || perr != nil {
		t.Errorf("GET watermark = %q: %v %v", out, err, perr)
	}
}
