package deploy_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/gcache-go/gcache/config"
	"github.com/gcache-go/gcache/internal/redistest"
	"github.com/gcache-go/gcache/runtime"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
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
		"gcache_config_reload_error_counter_total",
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
// lease, and a config reload that fails.
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
	deadline := time.Now().Add(10 * time.Second)
	for !hasFamily(t, reg, prefix+"gcache_refresh_counter_total") {
		if time.Now().After(deadline) {
			t.Fatal("the early refresh never ran")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func hasFamily(t *testing.T, reg *prometheus.Registry, name string) bool {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	i := sort.Search(len(mfs), func(i int) bool { return mfs[i].GetName() >= name })
	return i < len(mfs) && mfs[i].GetName() == name
}
