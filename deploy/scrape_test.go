package deploy_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gcache-go/gcache/config"
	"github.com/gcache-go/gcache/internal/redistest"
	"github.com/gcache-go/gcache/runtime"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/redis/go-redis/v9"
)

// A family is what a scrape shows of one metric family: its label names
// and the values each label took.
type family struct {
	histogram bool
	labels    map[string]map[string]bool
}

// scrape exercises a real Cache, with Redis, on every path that makes a
// metric family, and returns what its registry exposes, by name.
func scrape(t *testing.T, prefix string) map[string]*family {
	t.Helper()
	reg := prometheus.NewRegistry()
	exercise(t, reg, prefix)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	fams := map[string]*family{}
	for _, mf := range mfs {
		f := &family{histogram: mf.GetType() == dto.MetricType_HISTOGRAM, labels: map[string]map[string]bool{}}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if f.labels[l.GetName()] == nil {
					f.labels[l.GetName()] = map[string]bool{}
				}
				f.labels[l.GetName()][l.GetValue()] = true
			}
		}
		fams[mf.GetName()] = f
	}
	// Every family the README and DESIGN-NOTES.md name, so that the checks
	// against this scrape see them all.
	for _, name := range []string{
		"gcache_request_counter_total", "gcache_miss_counter_total", "gcache_disabled_counter_total",
		"gcache_error_counter_total", "gcache_invalidation_counter_total", "gcache_get_timer",
		"gcache_fallback_timer", "gcache_serialization_timer", "gcache_size_histogram",
		"gcache_refresh_counter_total", "gcache_negative_hit_counter_total",
		"gcache_lease_wait_counter_total", "gcache_lease_wait_timer",
		"gcache_config_reload_error_counter_total", "gcache_outage_hit_counter_total",
		"gcache_invalidation_error_counter_total", "gcache_invalidation_retry_counter_total",
		"gcache_invalidation_retry_timer",
	} {
		if fams[prefix+name] == nil {
			t.Errorf("the scrape has no %s%s", prefix, name)
		}
	}
	for _, want := range []struct{ family, label, value string }{
		{"gcache_disabled_counter_total", "reason", "context"},
		{"gcache_disabled_counter_total", "reason", "missing_config"},
		{"gcache_disabled_counter_total", "reason", "ramped_down"},
		{"gcache_disabled_counter_total", "reason", "config_error"},
		{"gcache_disabled_counter_total", "reason", "server_down"},
		{"gcache_error_counter_total", "error", "function"},
		{"gcache_error_counter_total", "error", "connection"},
		{"gcache_error_counter_total", "error", "timeout"},
		{"gcache_error_counter_total", "error", "redis"},
		{"gcache_error_counter_total", "error", "decode"},
		{"gcache_error_counter_total", "error", "dropped"},
		{"gcache_invalidation_error_counter_total", "error", "timeout"},
		{"gcache_invalidation_retry_counter_total", "result", "landed"},
		{"gcache_invalidation_retry_counter_total", "result", "expired"},
		{"gcache_invalidation_retry_counter_total", "result", "dropped"},
		{"gcache_outage_hit_counter_total", "layer", "LOCAL"},
		{"gcache_request_counter_total", "layer", "LOCAL"},
		{"gcache_request_counter_total", "layer", "REMOTE"},
		{"gcache_serialization_timer", "operation", "dump"},
		{"gcache_serialization_timer", "operation", "load"},
	} {
		if f := fams[prefix+want.family]; f == nil || !f.labels[want.label][want.value] {
			t.Errorf("the scrape has no %s%s{%s=%q}", prefix, want.family, want.label, want.value)
		}
	}
	return fams
}

var errNotFound = errors.New("not found")

// exercise runs the calls that make every family appear on reg: hits and
// misses in both layers, each reason to skip a layer, each kind of Redis
// error, an invalidation, an early refresh, a negative hit, a wait for a
// lease, a config reload that fails, hits served by the outage mode, a
// write to Redis dropped, and failed invalidations whose retries land,
// expire and are dropped.
func exercise(t *testing.T, reg *prometheus.Registry, prefix string) {
	t.Helper()
	bg := context.Background()
	ctx := gcache.Enable(bg)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv := redistest.Start(t)
	rdb := srv.Client()

	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	newCache := func(addr string, cfg gcache.Config) *gcache.Cache {
		t.Helper()
		cfg.Redis = &gcache.RedisConfig{Addrs: []string{addr}}
		cfg.Registerer, cfg.MetricsPrefix, cfg.Logger = reg, prefix, quiet
		c, err := gcache.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	useCase := func(c *gcache.Cache, spec gcache.UseCaseSpec) *gcache.UseCase[string] {
		t.Helper()
		if spec.KeyType == "" {
			spec.KeyType = "id"
		}
		uc, err := gcache.NewUseCase[string](c, spec)
		if err != nil {
			t.Fatal(err)
		}
		return uc
	}
	get := func(ctx context.Context, uc *gcache.UseCase[string], id string, fn func(context.Context) (string, error)) {
		b := gcache.AppendString(nil, id)
		_, _ = uc.Get(ctx, uc.Key(b, len(b)), fn)
	}
	value := func(context.Context) (string, error) { return "value", nil }
	both := gcache.KeyConfig{Local: gcache.LayerConfig{TTL: time.Minute, Ramp: 100}, Remote: gcache.LayerConfig{TTL: time.Minute, Ramp: 100}}
	remote := gcache.KeyConfig{Remote: gcache.LayerConfig{TTL: time.Minute, Ramp: 100}}

	broken := errors.New("config store down")
	a := newCache(srv.Addr(), gcache.Config{Clock: clock, ConfigProvider: func(_ context.Context, key *gcache.Key) (*gcache.KeyConfig, error) {
		if key.UseCase == "Broken" {
			return nil, broken
		}
		return nil, nil
	}})
	b := newCache(srv.Addr(), gcache.Config{})

	// Misses in both layers on a, a remote hit on b, the function's error.
	getA, getB := useCase(a, gcache.UseCaseSpec{Name: "Get", Tracked: true, Default: both}), useCase(b, gcache.UseCaseSpec{Name: "Get", Tracked: true, Default: both})
	settle := func(c *gcache.Cache) {
		t.Helper()
		ctx, cancel := context.WithTimeout(bg, 10*time.Second)
		defer cancel()
		if err := c.Settle(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// Both have subscribed first: a value of a call begun before its
	// Cache heard the events is not written to Redis (events of the gap
	// may be lost), and b would have no remote hit to decode.
	settle(a)
	settle(b)
	get(ctx, getA, "1", value)
	get(ctx, getA, "1", value)
	settle(a) // its write has landed...
	settle(b) // ...and b hears the events
	get(ctx, getB, "1", value)
	get(ctx, getA, "fails", func(context.Context) (string, error) { return "", errors.New("database down") })
	// Bytes that do not decode, and a key of another type (WRONGTYPE).
	rdb.Set(bg, "{urn:id:bad}#Get", "not an envelope", time.Minute)
	get(ctx, getB, "bad", value)
	plain := useCase(b, gcache.UseCaseSpec{Name: "Plain", Default: remote})
	rdb.HSet(bg, "urn:id:wrong#Plain", "f", "v")
	get(ctx, plain, "wrong", value)

	// Each reason to skip a layer but server_down.
	getA.Enabled(bg)
	get(ctx, useCase(a, gcache.UseCaseSpec{Name: "Unconfigured"}), "1", value)
	get(ctx, useCase(a, gcache.UseCaseSpec{Name: "Ramped", Default: gcache.KeyConfig{Local: gcache.LayerConfig{TTL: time.Minute}}}), "1", value)
	get(ctx, useCase(a, gcache.UseCaseSpec{Name: "Broken", Default: both}), "1", value)

	if err := a.Invalidate(bg, "id", "1"); err != nil {
		t.Fatal(err)
	}

	// A dead Redis: a connection error, then the breaker holds it off.
	// (Under the default deadline of 200ms, go-redis is still retrying the
	// refused dial when it ends, which counts as a timeout.)
	dead := redistest.Start(t)
	dead.Kill()
	onDead := useCase(newCache(dead.Addr(), gcache.Config{BreakerThreshold: 1, BreakerCooldown: time.Hour, RedisTimeout: 10 * time.Second}), gcache.UseCaseSpec{Name: "Dead", Default: remote})
	get(ctx, onDead, "1", value)
	get(ctx, onDead, "2", value)
	// A hung Redis: a timeout.
	hung := redistest.Start(t)
	hung.Pause()
	onHung := useCase(newCache(hung.Addr(), gcache.Config{RedisTimeout: 50 * time.Millisecond}), gcache.UseCaseSpec{Name: "Hung", Default: remote})
	get(ctx, onHung, "1", value)

	// A negative answer, cached, then hit.
	neg := useCase(a, gcache.UseCaseSpec{Name: "Neg", Negative: errNotFound,
		Default: gcache.KeyConfig{Local: gcache.LayerConfig{TTL: time.Minute, Ramp: 100}, NegativeTTL: time.Minute}})
	notFound := func(context.Context) (string, error) { return "", errNotFound }
	get(ctx, neg, "1", notFound)
	get(ctx, neg, "1", notFound)

	// A wait for another instance's lease: a holds it and does not fill
	// it until b, having waited out the lease, has taken it and loaded.
	leased := gcache.KeyConfig{Remote: gcache.LayerConfig{TTL: time.Minute, Ramp: 100}, Lease: 100 * time.Millisecond}
	leaseA, leaseB := useCase(a, gcache.UseCaseSpec{Name: "Leased", Default: leased}), useCase(b, gcache.UseCaseSpec{Name: "Leased", Default: leased})
	release, held := make(chan struct{}), make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		get(ctx, leaseA, "1", func(context.Context) (string, error) { close(held); <-release; return "a", nil })
	}()
	<-held
	get(ctx, leaseB, "1", value)
	close(release)
	<-done

	// An early refresh: a hit past the refresh point.
	fresh := useCase(a, gcache.UseCaseSpec{Name: "Fresh", Default: gcache.KeyConfig{Local: gcache.LayerConfig{TTL: time.Minute, Ramp: 100}, RefreshAt: 0.5}})
	get(ctx, fresh, "1", value)
	mu.Lock()
	now = now.Add(40 * time.Second)
	mu.Unlock()
	get(ctx, fresh, "1", value)

	// A config hash field that does not parse.
	rdb.HSet(bg, config.HashKey("urn"), "Get", "not json")
	p, err := config.NewRedis(bg, rdb, config.RedisOptions{Options: config.Options{Registerer: reg, MetricsPrefix: prefix, Logger: quiet}})
	if err != nil {
		t.Fatal(err)
	}
	p.Close()

	// The refresh runs in the background.
	waitFor(t, reg, "the early refresh", prefix+"gcache_refresh_counter_total", "", "")

	exerciseOutage(t, reg, prefix, newCache, useCase)

	// Failed invalidations against a dead Redis: more than the 100,000
	// that may wait to be written again (one is dropped), and the others
	// expire once no entry they guard can exist (WatermarkTTL after).
	var lostMu sync.Mutex
	lostNow := time.Now()
	lostClock := func() time.Time { lostMu.Lock(); defer lostMu.Unlock(); return lostNow }
	lost := newCache(dead.Addr(), gcache.Config{Clock: lostClock, WatermarkTTL: time.Minute, CloseTimeout: time.Millisecond})
	ids := make([]string, 100_001)
	for i := range ids {
		ids[i] = strconv.Itoa(i)
	}
	if err := lost.InvalidateMany(bg, "id", ids); err == nil {
		t.Fatal("invalidations against a dead Redis succeeded")
	}
	waitFor(t, reg, "the retry dropped", prefix+"gcache_invalidation_retry_counter_total", "result", "dropped")
	lostMu.Lock()
	lostNow = lostNow.Add(2 * time.Minute)
	lostMu.Unlock()
	waitFor(t, reg, "the retries expired", prefix+"gcache_invalidation_retry_counter_total", "result", "expired")
}

// exerciseOutage pauses the writes of a Redis (CLIENT PAUSE WRITE), which
// also holds up the heartbeats: a tracked local hit is then served by the
// outage mode; an invalidation fails, and lands when the pause ends; and
// misses queue more writes than may wait, so that one is dropped.
func exerciseOutage(t *testing.T, reg *prometheus.Registry, prefix string,
	newCache func(string, gcache.Config) *gcache.Cache,
	useCase func(*gcache.Cache, gcache.UseCaseSpec) *gcache.UseCase[string]) {
	t.Helper()
	bg := context.Background()
	ctx := gcache.Enable(bg)
	srv := redistest.Start(t)
	c := newCache(srv.Addr(), gcache.Config{BreakerThreshold: 1 << 30, CloseTimeout: time.Millisecond})
	tracked := useCase(c, gcache.UseCaseSpec{Name: "Outage", Tracked: true, Default: gcache.KeyConfig{Local: gcache.LayerConfig{TTL: time.Minute, Ramp: 100}}})
	remote := useCase(c, gcache.UseCaseSpec{Name: "Written", Default: gcache.KeyConfig{Remote: gcache.LayerConfig{TTL: time.Minute, Ramp: 100}}})
	get := func(uc *gcache.UseCase[string], id string) {
		b := gcache.AppendString(nil, id)
		_, _ = uc.Get(ctx, uc.Key(b, len(b)), func(context.Context) (string, error) { return "value", nil })
	}
	settleCache(t, c) // the events are current
	get(tracked, "1")

	srv.Do("CLIENT", "PAUSE", "60000", "WRITE")
	unpaused := false
	unpause := func() {
		if !unpaused {
			srv.Do("CLIENT", "UNPAUSE")
			unpaused = true
		}
	}
	defer unpause()
	// Hits of the entry made just before, while the heartbeats are held
	// up: past 75 ms the outage mode serves them (and an entry made during
	// the outage is stored under its rule, when the first is too old).
	deadline := time.Now().Add(10 * time.Second)
	for !hasFamily(t, reg, prefix+"gcache_outage_hit_counter_total") {
		if time.Now().After(deadline) {
			t.Fatal("no hit was served by the outage mode")
		}
		get(tracked, "1")
		time.Sleep(5 * time.Millisecond)
	}
	// The watermark's write waits for the pause and times out.
	if err := c.Invalidate(bg, "id", "1"); err == nil {
		t.Fatal("an invalidation went through a pause of writes")
	}
	// Misses of the remote tier: reads go through, their writes wait, at
	// most 8 at a time for their deadline; past 4,096 waiting, one is
	// dropped.
	var wg sync.WaitGroup
	var next atomic.Int64
	for range 8 {
		wg.Go(func() {
			for i := next.Add(1); i < 50_000 && !hasSample(t, reg, prefix+"gcache_error_counter_total", "error", "dropped"); i = next.Add(1) {
				for j := range 64 {
					get(remote, strconv.FormatInt(i*64+int64(j), 10))
				}
			}
		})
	}
	wg.Wait()
	if !hasSample(t, reg, prefix+"gcache_error_counter_total", "error", "dropped") {
		t.Fatal("no write was dropped")
	}
	unpause()
	settleCache(t, c) // the invalidation lands, and the writes drain
}

func settleCache(t *testing.T, c *gcache.Cache) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Settle(ctx); err != nil {
		t.Fatalf("Settle: %v", err)
	}
}

// waitFor waits until reg has a sample of name, with label=value unless
// label is "", for up to 10s.
func waitFor(t *testing.T, reg *prometheus.Registry, what, name, label, value string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !hasSample(t, reg, name, label, value) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s (%s{%s=%q})", what, name, label, value)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// hasSample reports whether reg has a sample of name, with label=value
// unless label is "". It may be called from any goroutine.
func hasSample(t *testing.T, reg *prometheus.Registry, name, label, value string) bool {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Error(err)
		return false
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if label == "" {
				return true
			}
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					return true
				}
			}
		}
	}
	return false
}

func TestMain(m *testing.M) {
	// go-redis logs the failed dials to the dead Redis servers itself.
	redis.SetLogger(silentRedisLog{})
	os.Exit(m.Run())
}

type silentRedisLog struct{}

func (silentRedisLog) Printf(context.Context, string, ...any) {}

func hasFamily(t *testing.T, reg *prometheus.Registry, name string) bool {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	i := sort.Search(len(mfs), func(i int) bool { return mfs[i].GetName() >= name })
	return i < len(mfs) && mfs[i].GetName() == name
}
