package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gcache-go/gcache/config"
	"github.com/gcache-go/gcache/internal/redistest"
	"github.com/gcache-go/gcache/runtime"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// gcacheAt runs the command against the Redis at addrs, passed as -redis.
func gcacheAt(t *testing.T, addrs []string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	args = append([]string{"-redis", strings.Join(addrs, ",")}, args...)
	status := run(context.Background(), args, func(string) string { return "" }, &stdout, &stderr)
	return status, stdout.String(), stderr.String()
}

// instance is one running service: a Cache that follows the config hash,
// with its own client and registry.
type instance struct {
	c        *gcache.Cache
	provider *config.Redis
	reg      *prometheus.Registry
}

func startInstance(t *testing.T, addrs []string) *instance {
	t.Helper()
	client := redis.NewUniversalClient(&redis.UniversalOptions{Addrs: addrs, ContextTimeoutEnabled: true})
	t.Cleanup(func() { client.Close() })
	reg := prometheus.NewRegistry()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	provider, err := config.NewRedis(context.Background(), client, config.RedisOptions{Options: config.Options{Logger: quiet, Registerer: reg}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { provider.Close() })
	c, err := gcache.New(gcache.Config{RedisClient: client, ConfigProvider: provider.Provider(), Registerer: reg, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	in := &instance{c: c, provider: provider, reg: reg}
	in.settle(t) // subscribed to the other instances' events
	return in
}

// settle waits until the instance's background work is done: its writes
// to Redis have landed, and it has heard the events sent so far.
func (in *instance) settle(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := in.c.Settle(ctx); err != nil {
		t.Fatal(err)
	}
}

// errors returns the errors the instance counted.
func (in *instance) errors(t *testing.T) float64 {
	t.Helper()
	families, err := in.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	total := 0.0
	for _, f := range families {
		if f.GetName() == "gcache_error_counter_total" {
			for _, m := range f.GetMetric() {
				total += m.GetCounter().GetValue()
			}
		}
	}
	return total
}

// catalog is the data behind the cached function: its version changes, as
// a database's rows would.
type catalog struct {
	version atomic.Int64
	calls   atomic.Int64
}

func (c *catalog) product(id string) func(context.Context) (string, error) {
	return func(context.Context) (string, error) {
		c.calls.Add(1)
		return fmt.Sprintf("%s@v%d", id, c.version.Load()), nil
	}
}

func get(t *testing.T, uc *gcache.UseCase[string], id string, fn func(context.Context) (string, error)) string {
	t.Helper()
	b := gcache.AppendString(nil, id)
	v, err := uc.Get(gcache.Enable(context.Background()), uc.Key(b, len(b)), fn)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// redisKeysOf returns the keys of a use case on every master.
func redisKeysOf(t *testing.T, masters []*redistest.Server, useCase string) []string {
	t.Helper()
	var keys []string
	for _, m := range masters {
		ks, err := m.Client().Keys(context.Background(), "*#"+useCase).Result()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, ks...)
	}
	return keys
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestKillSwitchEndToEnd is the kill switch as on-call uses it, on one
// server and on a cluster: a use case that runs on its annotation's
// default is listed, ramped to 0 with one command that also purges it, its
// entries are gone from Redis and from another instance's local tier, and
// ramping it back serves fresh values only.
func TestKillSwitchEndToEnd(t *testing.T) {
	for _, topo := range []struct {
		name  string
		start func(t *testing.T) []*redistest.Server
	}{
		{"single", func(t *testing.T) []*redistest.Server { return []*redistest.Server{redistest.Start(t)} }},
		{"cluster", func(t *testing.T) []*redistest.Server { return redistest.StartCluster(t, 3).Masters }},
	} {
		t.Run(topo.name, func(t *testing.T) {
			masters := topo.start(t)
			var addrs []string
			for _, m := range masters {
				addrs = append(addrs, m.Addr())
			}
			testKillSwitch(t, masters, addrs)
		})
	}
}

func testKillSwitch(t *testing.T, masters []*redistest.Server, addrs []string) {
	const name = "Catalog.GetProduct"
	def := gcache.KeyConfig{Local: gcache.LayerConfig{TTL: time.Hour, Ramp: 100}, Remote: gcache.LayerConfig{TTL: time.Hour, Ramp: 100}}
	a, b := startInstance(t, addrs), startInstance(t, addrs)
	spec := gcache.UseCaseSpec{Name: name, KeyType: "product_id", Tracked: true, Default: def}
	ucA, err := gcache.NewUseCase[string](a.c, spec)
	if err != nil {
		t.Fatal(err)
	}
	ucB, err := gcache.NewUseCase[string](b.c, spec)
	if err != nil {
		t.Fatal(err)
	}
	// B's probe: a tracked local entry that an invalidation from A makes
	// B call its function again. Events reach B in order, so once B has
	// applied the invalidation, it has applied the purge published before.
	probe, err := gcache.NewUseCase[string](b.c, gcache.UseCaseSpec{Name: "Probe", KeyType: "probe", Tracked: true,
		Default: gcache.KeyConfig{Local: gcache.LayerConfig{TTL: time.Hour, Ramp: 100}}})
	if err != nil {
		t.Fatal(err)
	}
	var probes atomic.Int64
	probeFn := func(context.Context) (string, error) { return fmt.Sprint(probes.Add(1)), nil }

	db := &catalog{}
	ids := []string{"p1", "p2", "p3", "p4", "p5"}
	for _, id := range ids {
		get(t, ucA, id, db.product(id)) // fills Redis
		a.settle(t)
		get(t, ucB, id, db.product(id)) // fills B's local tier from Redis
	}
	if db.calls.Load() != int64(len(ids)) {
		t.Fatalf("%d calls of the function to cache %d ids", db.calls.Load(), len(ids))
	}
	if keys := redisKeysOf(t, masters, name); len(keys) != len(ids) {
		t.Fatalf("Redis holds %q", keys)
	}
	db.version.Store(1) // the cached values are now wrong

	// Listed, with its default and no override.
	row := regexp.MustCompile(`(?m)^Catalog\.GetProduct +product_id +true +\{"ttl_sec":\{"local":3600,"remote":3600\},"ramp":\{"local":100,"remote":100\}\} +-$`)
	eventually(t, "config get lists the use case", func() bool {
		_, stdout, _ := gcacheAt(t, addrs, "config", "get")
		return row.MatchString(stdout)
	})

	// Killed and purged with one command.
	status, stdout, stderr := gcacheAt(t, addrs, "config", "ramp", name, "local=0", "remote=0", "-purge")
	want := name + "\t" + `{"ttl_sec":{"local":3600,"remote":3600},"ramp":{"local":0,"remote":0}}` + "\n" +
		"purged " + name + ": 5 keys from Redis; every instance drops its local entries\n"
	if status != 0 || stdout != want {
		t.Fatalf("config ramp -purge = %d\n%s%s\nwant\n%s", status, stdout, stderr, want)
	}
	if keys := redisKeysOf(t, masters, name); len(keys) != 0 {
		t.Errorf("after the purge, Redis holds %q", keys)
	}
	_, stdout, _ = gcacheAt(t, addrs, "config", "get", name)
	if !strings.Contains(stdout, `"ramp":{"local":0,"remote":0}`) {
		t.Errorf("config get after the kill:\n%s", stdout)
	}

	get(t, probe, "x", probeFn)
	if err := a.c.Invalidate(context.Background(), "probe", "x"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "B applies the events", func() bool { return get(t, probe, "x", probeFn) != "1" })

	// Ramped back to its default, purging what calls under way at the kill
	// may have stored: the override goes, and only fresh values are served.
	status, stdout, _ = gcacheAt(t, addrs, "config", "ramp", name, "local=100", "remote=100", "-purge")
	if status != 0 || !strings.HasPrefix(stdout, "purged "+name+": 0 keys") || !strings.Contains(stdout, "(its default: the config is deleted)") {
		t.Fatalf("ramp back = %d\n%s", status, stdout)
	}
	key := &gcache.Key{KeyType: "product_id", ID: "p1", UseCase: name}
	for _, in := range []*instance{a, b} {
		eventually(t, "the instances follow the config", func() bool {
			cfg, err := in.provider.Provider()(context.Background(), key)
			return cfg == nil && err == nil
		})
	}
	before := db.calls.Load()
	for _, id := range ids {
		if v := get(t, ucB, id, db.product(id)); v != id+"@v1" {
			t.Errorf("B serves %s for %s after the ramp back", v, id)
		}
		b.settle(t)
		if v := get(t, ucA, id, db.product(id)); v != id+"@v1" {
			t.Errorf("A serves %s for %s after the ramp back", v, id)
		}
	}
	// Cached again: B loaded each id once, and A read B's values from Redis.
	if n := db.calls.Load() - before; n != int64(len(ids)) {
		t.Errorf("%d calls of the function after the ramp back, want %d", n, len(ids))
	}
	if keys := redisKeysOf(t, masters, name); len(keys) != len(ids) {
		t.Errorf("Redis holds %q after the ramp back", keys)
	}
	if n := a.errors(t) + b.errors(t); n != 0 {
		t.Errorf("%v errors counted", n)
	}
}

// TestCommandsOnACluster: keys and flush walk every master.
func TestCommandsOnACluster(t *testing.T) {
	cluster := redistest.StartCluster(t, 3)
	addrs := cluster.Addrs()
	c, err := gcache.New(gcache.Config{
		Redis:      &gcache.RedisConfig{Addrs: addrs},
		Registerer: prometheus.NewRegistry(),
		Logger:     slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	uc, err := gcache.NewUseCase[string](c, gcache.UseCaseSpec{Name: "Search", KeyType: "user_id",
		Default: gcache.KeyConfig{Remote: gcache.LayerConfig{TTL: time.Hour, Ramp: 100}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := gcache.Enable(context.Background())
	for page := range 30 {
		b := gcache.AppendString(nil, "1")
		idLen := len(b)
		b = append(b, "?page="...)
		b = gcache.AppendInt(b, int64(page))
		uc.Get(ctx, uc.Key(b, idLen), func(context.Context) (string, error) { return "v", nil })
	}
	spread := 0
	for _, m := range cluster.Masters {
		if n := len(m.Client().Keys(context.Background(), "urn:user_id:1?*").Val()); n > 0 {
			spread++
		}
	}
	if spread < 2 {
		t.Fatalf("the keys of one untracked entity sit on %d masters: the test shows nothing", spread)
	}
	status, stdout, stderr := gcacheAt(t, addrs, "keys", "user_id", "1")
	if lines := strings.Split(strings.TrimSpace(stdout), "\n"); status != 0 || len(lines) != 30 {
		t.Errorf("keys = %d, %d lines\n%s%s", status, len(lines), stdout, stderr)
	}
	gcacheAt(t, addrs, "config", "set", "Search", `{"ttl_sec": {"remote": 60}, "ramp": {"remote": 0}}`)
	if status, stdout, _ := gcacheAt(t, addrs, "flush", "-yes"); status != 0 || stdout != "flushed urn\n" {
		t.Errorf("flush = %d %q", status, stdout)
	}
	for _, m := range cluster.Masters {
		if keys := m.Client().Keys(context.Background(), "*#*").Val(); len(keys) != 0 {
			t.Errorf("master %s holds %q after flush", m.Addr(), keys)
		}
	}
	if _, stdout, _ := gcacheAt(t, addrs, "config", "get", "Search"); !strings.Contains(stdout, `"ramp":{"local":0,"remote":0}`) {
		t.Errorf("the flush took the config:\n%s", stdout)
	}
}

// TestCommandsThroughSentinel: -master-name makes the addresses sentinels.
func TestCommandsThroughSentinel(t *testing.T) {
	g := redistest.StartSentinel(t)
	status, stdout, stderr := gcacheAt(t, []string{g.Sentinel.Addr()}, "-master-name", g.MasterName,
		"config", "set", "GetUser", `{"ttl_sec": {"local": 60}, "ramp": {"local": 100}}`)
	if status != 0 {
		t.Fatalf("config set through the sentinel = %d %s%s", status, stdout, stderr)
	}
	if got := g.Primary.Client().HGet(context.Background(), "urn:gcache:config", "GetUser").Val(); !strings.Contains(got, `"local":60`) {
		t.Errorf("the primary holds %q", got)
	}
	// The sentinel's address alone is no data node.
	if status, _, _ := gcacheAt(t, []string{g.Sentinel.Addr()}, "config", "get"); status != 1 {
		t.Errorf("config get on a sentinel without -master-name = %d, want 1", status)
	}
}

// TestPurgeCommand: purge drops one use case's entries and tells the
// instances; watch shows it.
func TestPurgeCommand(t *testing.T) {
	srv := redistest.Start(t)
	addrs := []string{srv.Addr()}
	in := startInstance(t, addrs)
	uc, err := gcache.NewUseCase[string](in.c, gcache.UseCaseSpec{Name: "GetUser", KeyType: "user_id",
		Default: gcache.KeyConfig{Local: gcache.LayerConfig{TTL: time.Hour, Ramp: 100}, Remote: gcache.LayerConfig{TTL: time.Hour, Ramp: 100}}})
	if err != nil {
		t.Fatal(err)
	}
	db := &catalog{}
	get(t, uc, "1", db.product("1"))
	db.version.Store(1)

	ctx, cancel := context.WithCancel(context.Background())
	var out syncBuffer
	env := func(k string) string {
		if k == "GCACHE_REDIS_URL" {
			return srv.Addr()
		}
		return ""
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); run(ctx, []string{"watch"}, env, &out, io.Discard) }()
	eventually(t, "watch subscribes", func() bool { return strings.Contains(out.String(), "watching urn") })

	if status, stdout, _ := gcacheAt(t, addrs, "purge", "GetUser"); status != 0 || stdout != "purged GetUser: 1 keys from Redis; every instance drops its local entries\n" {
		t.Errorf("purge = %d %q", status, stdout)
	}
	eventually(t, "the instance drops its local entry", func() bool { return get(t, uc, "1", db.product("1")) == "1@v1" })
	eventually(t, "watch shows the purge", func() bool { return strings.Contains(out.String(), " purge GetUser") })
	cancel()
	wg.Wait()
	if status, _, stderr := gcacheAt(t, addrs, "purge", "a*b"); status != 1 || !strings.Contains(stderr, "gcache: ") {
		t.Errorf("purge of a bad name = %d %q", status, stderr)
	}
	if n := in.errors(t); n != 0 {
		t.Errorf("%v errors counted", n)
	}
}
