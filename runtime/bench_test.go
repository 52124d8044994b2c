package gcache

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/gcache-go/gcache/internal/redistest"
	"github.com/prometheus/client_golang/prometheus"
)

// The benchmarks call the runtime the way a generated decorator does: check
// Enabled, build the key with the Append functions, then Get with a closure
// over the call's arguments.

type benchUser struct {
	ID        int64
	Name      string
	Email     string
	Bio       string
	Tags      []string
	Addresses []benchAddress
	Created   time.Time
	Active    bool
}

type benchAddress struct{ Street, City, Zip, Country string }

func sampleUser(id int64) *benchUser {
	return &benchUser{
		ID: id, Name: "Ada Lovelace", Email: "ada@example.com",
		Bio:  "Mathematician and writer, chiefly known for her work on the Analytical Engine; the first to see that the machine had applications beyond calculation.",
		Tags: []string{"math", "computing", "poetry", "engines", "notes"},
		Addresses: []benchAddress{
			{"12 St James's Square", "London", "SW1Y 4JH", "UK"},
			{"Ockham Park", "Ockham", "GU23 6NL", "UK"},
		},
		Created: time.Date(2024, 5, 6, 7, 8, 9, 10, time.UTC), Active: true,
	}
}

type store interface {
	SearchPosts(ctx context.Context, userID string, page int) (*benchUser, error)
}

type db struct{ u *benchUser }

func (d *db) SearchPosts(ctx context.Context, userID string, page int) (*benchUser, error) {
	return d.u, nil
}

// decorator is what gcachegen emits for store.
type decorator struct {
	next store
	uc   *UseCase[*benchUser]
}

func (c *decorator) SearchPosts(ctx context.Context, userID string, page int) (*benchUser, error) {
	if !c.uc.Enabled(ctx) {
		return c.next.SearchPosts(ctx, userID, page)
	}
	b := make([]byte, 0, 128)
	b = AppendString(b, userID)
	idLen := len(b)
	b = append(b, "?page="...)
	b = AppendInt(b, int64(page))
	return c.uc.GetRendered(ctx, b, idLen, func() func(context.Context) (*benchUser, error) {
		return func(ctx context.Context) (*benchUser, error) {
			return c.next.SearchPosts(ctx, userID, page)
		}
	})
}

func benchCache(b *testing.B, cfg Config, layers KeyConfig) (*Cache, *decorator) {
	b.Helper()
	return benchCacheSpec(b, cfg, UseCaseSpec{Name: "SearchPosts", KeyType: "user_id", Default: layers})
}

func benchCacheSpec(b *testing.B, cfg Config, spec UseCaseSpec) (*Cache, *decorator) {
	b.Helper()
	cfg.Registerer = prometheus.NewRegistry()
	cfg.Logger = quiet
	c, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = c.Close() })
	uc, err := NewUseCase[*benchUser](c, spec)
	if err != nil {
		b.Fatal(err)
	}
	benchSettle(b, c)
	return c, &decorator{next: &db{sampleUser(1)}, uc: uc}
}

// benchSettle waits until c knows the fleet's clock and hears the events,
// and its background writes have landed, so that a benchmark measures the
// steady state from its first iteration (with -benchtime=Nx there is no
// warm-up run).
func benchSettle(b *testing.B, c *Cache) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Settle(ctx); err != nil {
		b.Fatalf("settle: %v", err)
	}
}

var sink *benchUser

func BenchmarkDirectCall(b *testing.B) {
	var s store = &db{sampleUser(1)}
	ctx := context.Background()
	for b.Loop() {
		sink, _ = s.SearchPosts(ctx, "123", 2)
	}
}

func BenchmarkDisabledCall(b *testing.B) {
	_, d := benchCache(b, Config{}, allLayers)
	var s store = d
	ctx := context.Background()
	for b.Loop() {
		sink, _ = s.SearchPosts(ctx, "123", 2)
	}
}

func BenchmarkLocalHit(b *testing.B) {
	_, d := benchCache(b, Config{}, allLayers)
	var s store = d
	ctx := Enable(context.Background())
	sink, _ = s.SearchPosts(ctx, "123", 2)
	b.Run("serial", func(b *testing.B) {
		for b.Loop() {
			sink, _ = s.SearchPosts(ctx, "123", 2)
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			var u *benchUser // a shared sink would be the contention measured
			for pb.Next() {
				u, _ = s.SearchPosts(ctx, "123", 2)
			}
			_ = u
		})
	})
}

// BenchmarkLocalHitByHand builds the same key through the handle directly.
func BenchmarkLocalHitByHand(b *testing.B) {
	_, d := benchCache(b, Config{}, allLayers)
	ctx := Enable(context.Background())
	fn := func(context.Context) (*benchUser, error) { return d.next.SearchPosts(ctx, "123", 2) }
	key := func() Key {
		buf := AppendString(make([]byte, 0, 64), "123")
		return d.uc.Key(append(buf, "?page=2"...), 3)
	}
	sink, _ = d.uc.Get(ctx, key(), fn)
	for b.Loop() {
		sink, _ = d.uc.Get(ctx, key(), fn)
	}
}

func remoteOnly() KeyConfig { return KeyConfig{Remote: LayerConfig{TTL: time.Hour, Ramp: 100}} }

func BenchmarkRemoteHit(b *testing.B) {
	srv := redistest.Start(b)
	c, d := benchCache(b, Config{Redis: &RedisConfig{Addrs: []string{srv.Addr()}}}, remoteOnly())
	ctx := Enable(context.Background())
	if _, err := d.SearchPosts(ctx, "123", 2); err != nil {
		b.Fatal(err)
	}
	benchSettle(b, c)
	for b.Loop() {
		sink, _ = d.SearchPosts(ctx, "123", 2)
	}
}

// BenchmarkRemoteHitTracked is BenchmarkRemoteHit on a tracked use case:
// the entry and its entity's watermark are read in one round trip.
func BenchmarkRemoteHitTracked(b *testing.B) {
	srv := redistest.Start(b)
	c, d := benchCacheSpec(b, Config{Redis: &RedisConfig{Addrs: []string{srv.Addr()}}},
		UseCaseSpec{Name: "SearchPosts", KeyType: "user_id", Tracked: true, Default: remoteOnly()})
	ctx := Enable(context.Background())
	if _, err := d.SearchPosts(ctx, "123", 2); err != nil {
		b.Fatal(err)
	}
	benchSettle(b, c)
	for b.Loop() {
		sink, _ = d.SearchPosts(ctx, "123", 2)
	}
}

// BenchmarkInvalidationPropagation measures how long an invalidation takes
// to reach another instance: from the call of Invalidate on one Cache
// until the entity's watermark is in the table of a second Cache on the
// same Redis, which from then on serves no tracked local entry of it made
// before. It reports the median and the 99th percentile; ns/op is the
// mean, Invalidate's round trip included.
func BenchmarkInvalidationPropagation(b *testing.B) {
	srv := redistest.Start(b)
	cfg := Config{Redis: &RedisConfig{Addrs: []string{srv.Addr()}}}
	a, _ := benchCache(b, cfg, allLayers)
	other, _ := benchCache(b, cfg, allLayers)
	deadline := time.Now().Add(10 * time.Second)
	for !a.live() || !other.live() {
		if time.Now().After(deadline) {
			b.Fatal("the event subscriptions are not live after 10s")
		}
		time.Sleep(time.Millisecond)
	}
	ctx := context.Background()
	var took []time.Duration
	i := 0
	for b.Loop() {
		i++
		id := strconv.Itoa(i)
		entity := "{" + a.cfg.KeyPrefix + ":user_id:" + id + "}"
		start := time.Now()
		if err := a.Invalidate(ctx, "user_id", id); err != nil {
			b.Fatal(err)
		}
		// Spin for the first 500µs, for precision, then poll: a longer
		// spin would take one of the machine's cores from Redis and the
		// subscriber, and make the tail it measures. Past 500µs the
		// resolution is the timer's, about 1ms.
		for !other.wm.invalidatedSince(entity, 0) {
			if time.Since(start) > 500*time.Microsecond {
				time.Sleep(20 * time.Microsecond)
			}
		}
		took = append(took, time.Since(start))
	}
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(took[len(took)*99/100].Nanoseconds()), "p99-ns")
}

// BenchmarkRemoteHitCluster is BenchmarkRemoteHit on a three-master
// cluster.
func BenchmarkRemoteHitCluster(b *testing.B) {
	cluster := redistest.StartCluster(b, 3)
	c, d := benchCache(b, Config{Redis: &RedisConfig{Addrs: cluster.Addrs()}}, remoteOnly())
	ctx := Enable(context.Background())
	if _, err := d.SearchPosts(ctx, "123", 2); err != nil {
		b.Fatal(err)
	}
	benchSettle(b, c)
	for b.Loop() {
		sink, _ = d.SearchPosts(ctx, "123", 2)
	}
}

// BenchmarkBareRedisGet is the floor of a remote hit: a GET of the same
// bytes and a CBOR decode, with no cache around them.
func BenchmarkBareRedisGet(b *testing.B) {
	srv := redistest.Start(b)
	rdb := srv.Client()
	ctx := context.Background()
	payload, err := CBOR.Marshal(sampleUser(1))
	if err != nil {
		b.Fatal(err)
	}
	rdb.Set(ctx, "urn:user_id:123?page=2#SearchPosts", payload, time.Hour)
	for b.Loop() {
		raw, err := rdb.Get(ctx, "urn:user_id:123?page=2#SearchPosts").Bytes()
		if err != nil {
			b.Fatal(err)
		}
		var u *benchUser
		if err := CBOR.Unmarshal(raw, &u); err != nil {
			b.Fatal(err)
		}
		sink = u
	}
}

// BenchmarkMiss measures a miss in both tiers: a Redis read, the function
// (which returns at once) and one Redis write.
func BenchmarkMiss(b *testing.B) {
	srv := redistest.Start(b)
	_, d := benchCache(b, Config{Redis: &RedisConfig{Addrs: []string{srv.Addr()}}}, allLayers)
	ctx := Enable(context.Background())
	i := 0
	for b.Loop() {
		i++
		sink, _ = d.SearchPosts(ctx, strconv.Itoa(i), 2)
	}
}

func BenchmarkKeyBuild(b *testing.B) {
	_, d := benchCache(b, Config{}, allLayers)
	var k Key
	for b.Loop() {
		buf := make([]byte, 0, 128)
		buf = AppendString(buf, "123")
		n := len(buf)
		buf = append(buf, "?page="...)
		buf = AppendInt(buf, 2)
		k = d.uc.Key(buf, n)
	}
	_ = k
}

// TestHotPathsAllocateNothing holds the budget of the hot paths in
// allocations, which a benchmark reports but does not enforce: a disabled
// call and a local hit, untracked and tracked, allocate nothing, with
// tracing off and with a Tracer, which local hits do not reach.
func TestHotPathsAllocateNothing(t *testing.T) {
	for _, traced := range []bool{false, true} {
		for _, tracked := range []bool{false, true} {
			cfg, rec := Config{}, &recorder{}
			if traced {
				cfg.Tracer = rec
			}
			h := newHarness(t, cfg)
			uc := useCase[*benchUser](t, h.c, UseCaseSpec{Name: fmt.Sprint("P", tracked), KeyType: "user_id", Tracked: tracked, Default: allLayers})
			var s store = &decorator{next: &db{sampleUser(1)}, uc: uc}
			on, off := Enable(context.Background()), context.Background()
			s.SearchPosts(on, "123", 2)
			if n := len(rec.taken()); traced && n != 1 {
				t.Fatalf("tracked=%v: %d spans for the call that filled the local tier, want 1", tracked, n)
			}
			for name, ctx := range map[string]context.Context{"local hit": on, "disabled call": off} {
				if n := testing.AllocsPerRun(1000, func() { sink, _ = s.SearchPosts(ctx, "123", 2) }); n != 0 {
					t.Errorf("traced=%v tracked=%v: a %s allocates %v times", traced, tracked, name, n)
				}
			}
			if n := len(rec.taken()); n != 0 {
				t.Errorf("traced=%v tracked=%v: %d spans for local hits and disabled calls, want none", traced, tracked, n)
			}
		}
	}
}
