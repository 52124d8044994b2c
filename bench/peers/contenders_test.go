package peers

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dgraph-io/ristretto"
	ekocache "github.com/eko/gocache/lib/v4/cache"
	ekomarshaler "github.com/eko/gocache/lib/v4/marshaler"
	ekostore "github.com/eko/gocache/lib/v4/store"
	ekoredis "github.com/eko/gocache/store/redis/v4"
	ekoristretto "github.com/eko/gocache/store/ristretto/v4"
	"github.com/gcache-go/gcache/runtime"
	rediscache "github.com/go-redis/cache/v9"
	"github.com/maypok86/otter/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/viccon/sturdyc"
	"github.com/vmihailenco/msgpack/v5"
)

// A mode is how a contender is configured for a workload.
type mode int

const (
	twoTier mode = iota // a local tier in front of Redis
	tracked             // twoTier, with reads that invalidation reaches
	remote              // Redis with the local tier off, or kept empty
	local               // the local tier alone, no Redis
)

// A contender is one cache, configured for a mode by build.
type contender struct {
	name string
	// prefix starts its keys: each peer has its own, all of one length,
	// so that no two read each other's bytes. gcache has none here: it
	// renders its keys itself, from the id.
	prefix string
	build  func(tb testing.TB, m mode, src *source) instance
	floor  bool // a bare lookup, the lower bound, not a cache to choose
}

// key returns the contender's key for id, in gcache's layout with the
// contender's prefix, or "" for gcache. Where the key space is fixed the
// keys are built before timing; for new ids they are built in the loop,
// as a user of the library would.
func (c contender) key(id string) string {
	if c.prefix == "" {
		return ""
	}
	return c.prefix + ":user_id:" + id + "#GetUser"
}

// keyOf returns the key of ids[k] for a local hit: a peer builds it from
// the id on every call, as its users do and as gcache's decorator does;
// a floor, the bare lookup, takes it from keys, built beforehand.
func (c contender) keyOf(keys []string, k uint32) string {
	if c.floor {
		return keys[k]
	}
	return c.key(ids[k])
}

// keys returns the keys of ids[:n].
func (c contender) keys(n int) []string {
	k := make([]string, n)
	for i := range k {
		k[i] = c.key(ids[i])
	}
	return k
}

// idOf returns the id in a key made by contender.key.
func idOf(key string) string {
	key = key[strings.Index(key, ":user_id:")+len(":user_id:"):]
	return key[:strings.LastIndexByte(key, '#')]
}

// An instance is a contender built for one benchmark.
type instance interface {
	// get returns user id through the cache, which loads it from the
	// source on a miss; key is the contender's key for id.
	get(ctx context.Context, id, key string) (*User, error)
	// invalidate makes the cached user id stale in both tiers.
	invalidate(ctx context.Context, id, key string) error
	// settle waits until the writes the contender makes in the
	// background have landed; n is how many keys Redis should hold.
	settle(tb testing.TB, n int)
}

// contenders, by name.
var (
	gcacheC        = contender{name: "gcache", build: buildGcache(false)}
	gcacheTrackedC = contender{name: "gcache-tracked", build: buildGcache(true)}
	goRedisCacheC  = contender{name: "go-redis-cache", prefix: "grc", build: buildGoRedisCache}
	ekoC           = contender{name: "eko-gocache", prefix: "eko", build: buildEko}
	sturdycC       = contender{name: "sturdyc", prefix: "stu", build: buildSturdyc}
	otterFloorC    = contender{name: "floor-otter", prefix: "ott", build: buildOtterFloor, floor: true}
	// otterNaiveC is the same bare otter lookup with its key built from the
	// id on every call, as a hand-written cache would: the naive floor.
	otterNaiveC = contender{name: "naive-otter", prefix: "otn", build: buildOtterFloor}
	redisFloorC = contender{name: "floor-redis", prefix: "flr", build: buildRedisFloor, floor: true}
	valuesC     = contender{name: "values-only", prefix: "val", build: buildValues}
)

// ---- gcache, through the generated decorator ----

type gcacheInstance struct {
	c    *gcache.Cache
	d    *UserStoreCache
	read func(ctx context.Context, id string) (*User, error) // the mode's method
}

// buildGcache builds gcache; with alwaysTracked, reads go through the
// tracked use case in every mode (the local hit of a tracked entry).
func buildGcache(alwaysTracked bool) func(testing.TB, mode, *source) instance {
	return func(tb testing.TB, m mode, src *source) instance {
		tb.Helper()
		cfg := gcache.Config{
			Registerer:      prometheus.NewRegistry(),
			LocalMaxEntries: localCapacity,
		}
		if m != local {
			flushRedis(tb)
			cfg.Redis = &gcache.RedisConfig{Addrs: []string{redisAddr}}
		}
		c, err := gcache.New(cfg)
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { _ = c.Close() })
		d, err := NewUserStoreCache(backend{src}, c)
		if err != nil {
			tb.Fatal(err)
		}
		g := &gcacheInstance{c: c, d: d, read: d.GetUser}
		switch {
		case m == remote && alwaysTracked:
			g.read = d.GetUserRemoteTracked
			waitSubscribed(tb, d)
		case m == remote:
			g.read = d.GetUserRemote
		case m == tracked || alwaysTracked:
			g.read = d.GetUserTracked
			waitSubscribed(tb, d)
		}
		return g
	}
}

func (g *gcacheInstance) get(ctx context.Context, id, _ string) (*User, error) {
	return g.read(ctx, id)
}

func (g *gcacheInstance) invalidate(ctx context.Context, id, _ string) error {
	return g.d.UpdateUser(ctx, id, nil)
}

// settle waits for the writes to Redis that the calls made in the background.
func (g *gcacheInstance) settle(tb testing.TB, _ int) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := g.c.Settle(ctx); err != nil {
		tb.Fatalf("settle: %v", err)
	}
}

// waitSubscribed waits until gcache uses tracked local entries, which it
// does once its invalidation events are subscribed to: two reads in a row
// then return the same pointer, the second from the local tier. Each probe
// reads a new id: a tracked value written to Redis before the subscription
// is never kept in the local tier (the subscription's floor is after it),
// so reading the same id again would never succeed.
func waitSubscribed(tb testing.TB, d *UserStoreCache) {
	tb.Helper()
	ctx := gcache.Enable(context.Background())
	deadline := time.Now().Add(10 * time.Second)
	for {
		id := uniqueID()
		a, err1 := d.GetUserTracked(ctx, id)
		b, err2 := d.GetUserTracked(ctx, id)
		if err := errors.Join(err1, err2); err != nil {
			tb.Fatal(err)
		}
		if a == b {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatal("gcache did not serve tracked entries locally within 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// ---- github.com/go-redis/cache/v9: TinyLFU in front of Redis ----

type goRedisCacheInstance struct {
	c         *rediscache.Cache
	src       *source
	skipLocal bool
}

func buildGoRedisCache(tb testing.TB, m mode, src *source) instance {
	tb.Helper()
	opt := &rediscache.Options{LocalCache: rediscache.NewTinyLFU(localCapacity, ttl)}
	if m != local {
		flushRedis(tb)
		opt.Redis = newRedis(tb)
	}
	// In remote mode every item skips the local tier, which then stays
	// empty: the library's own way to read Redis alone.
	return &goRedisCacheInstance{c: rediscache.New(opt), src: src, skipLocal: m == remote}
}

func (g *goRedisCacheInstance) get(ctx context.Context, id, key string) (*User, error) {
	var u *User
	err := g.c.Once(&rediscache.Item{
		Ctx:            ctx,
		Key:            key,
		Value:          &u,
		TTL:            ttl,
		SkipLocalCache: g.skipLocal,
		Do:             func(*rediscache.Item) (any, error) { return g.src.load(ctx, id) },
	})
	return u, err
}

func (g *goRedisCacheInstance) invalidate(ctx context.Context, _, key string) error {
	return g.c.Delete(ctx, key)
}

func (g *goRedisCacheInstance) settle(testing.TB, int) {} // it writes before it returns

// ---- github.com/eko/gocache/lib/v4: a chain of ristretto and Redis ----

// eko's values go through its marshaler (msgpack), since its Redis store
// holds bytes; the loader is a LoadableCache, eko's get-or-load, which
// runs one load per key at a time and stores what it loaded in the
// background. So: marshaler → loadable → chain(ristretto, Redis).
type ekoInstance struct {
	m    *ekomarshaler.Marshaler
	ris  *ristretto.Cache // nil in remote mode
	rdb  *redis.Client    // nil in local mode
	last atomic.Pointer[string]
}

func buildEko(tb testing.TB, m mode, src *source) instance {
	tb.Helper()
	e := &ekoInstance{}
	var tiers []ekocache.SetterCacheInterface[any]
	if m != remote {
		// Sized as ristretto's README says: counters ten times the
		// entries, a cost of 1 per entry so that MaxCost counts entries.
		ris, err := ristretto.NewCache(&ristretto.Config{
			NumCounters:        10 * localCapacity,
			MaxCost:            localCapacity,
			BufferItems:        64,
			IgnoreInternalCost: true,
		})
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(ris.Close)
		e.ris = ris
		tiers = append(tiers, ekocache.New[any](ekoristretto.NewRistretto(ris, ekostore.WithCost(1), ekostore.WithExpiration(ttl))))
	} else {
		// The chain's local tier always misses: eko has no switch for it,
		// and a real one would be refilled in the background by the chain
		// after each Redis hit.
		tiers = append(tiers, ekocache.New[any](emptyStore{}))
	}
	if m != local {
		flushRedis(tb)
		e.rdb = newRedis(tb)
		tiers = append(tiers, ekocache.New[any](ekoredis.NewRedis(e.rdb, ekostore.WithExpiration(ttl))))
	}
	var c ekocache.CacheInterface[any]
	if len(tiers) == 1 {
		c = tiers[0]
	} else {
		c = ekocache.NewChain[any](tiers...)
	}
	load := func(ctx context.Context, key any) (any, []ekostore.Option, error) {
		k := key.(string)
		u, err := src.load(ctx, idOf(k))
		if err != nil {
			return nil, nil, err
		}
		e.last.Store(&k)
		b, err := msgpack.Marshal(u) // what the marshaler reads back
		return b, nil, err
	}
	loadable := ekocache.NewLoadable[any](load, c)
	tb.Cleanup(func() { _ = loadable.Close() })
	e.m = ekomarshaler.New(loadable)
	return e
}

func (e *ekoInstance) get(ctx context.Context, _, key string) (*User, error) {
	v, err := e.m.Get(ctx, key, new(User))
	if err != nil {
		return nil, err
	}
	return v.(*User), nil
}

func (e *ekoInstance) invalidate(ctx context.Context, _, key string) error {
	return e.m.Delete(ctx, key)
}

// settle waits for the loadable's background writes: every key in Redis
// (the chain writes ristretto first), or, with no Redis, the last key
// loaded in ristretto; then for ristretto's own write buffer.
func (e *ekoInstance) settle(tb testing.TB, n int) {
	tb.Helper()
	if e.rdb != nil {
		waitRedisKeys(tb, e.rdb, int64(n))
	} else if last := e.last.Load(); last != nil {
		deadline := time.Now().Add(10 * time.Second)
		for {
			e.ris.Wait()
			if _, ok := e.ris.Get(*last); ok {
				break
			}
			if time.Now().After(deadline) {
				tb.Fatal("eko: the last key loaded is not in ristretto after 10s")
			}
			time.Sleep(time.Millisecond)
		}
	}
	if e.ris != nil {
		e.ris.Wait()
	}
}

// localMissing returns the keys ristretto does not hold: it drops writes
// when its buffers are full, which a prefill must make up for.
func (e *ekoInstance) localMissing(keys []string) []string {
	if e.ris == nil {
		return nil
	}
	var missing []string
	for _, k := range keys {
		if _, ok := e.ris.Get(k); !ok {
			missing = append(missing, k)
		}
	}
	return missing
}

// emptyStore is an eko store that holds nothing.
type emptyStore struct{}

var errNotHeld = ekostore.NotFoundWithCause(errors.New("the empty store holds nothing"))

func (emptyStore) Get(context.Context, any) (any, error) { return nil, errNotHeld }
func (emptyStore) GetWithTTL(context.Context, any) (any, time.Duration, error) {
	return nil, 0, errNotHeld
}
func (emptyStore) Set(context.Context, any, any, ...ekostore.Option) error        { return nil }
func (emptyStore) Delete(context.Context, any) error                              { return nil }
func (emptyStore) Invalidate(context.Context, ...ekostore.InvalidateOption) error { return nil }
func (emptyStore) Clear(context.Context) error                                    { return nil }
func (emptyStore) GetType() string                                                { return "empty" }

// ---- github.com/viccon/sturdyc: in-memory, with distributed storage ----

type sturdycInstance struct {
	c        *sturdyc.Client[*User]
	src      *source
	storage  *sturdycRedis // nil in local mode
	clearing bool          // remote mode: drop the local entry before each read
}

func buildSturdyc(tb testing.TB, m mode, src *source) instance {
	tb.Helper()
	s := &sturdycInstance{src: src, clearing: m == remote}
	var opts []sturdyc.Option
	if m != local {
		flushRedis(tb)
		s.storage = &sturdycRedis{rdb: newRedis(tb)}
		opts = append(opts, sturdyc.WithDistributedStorage(s.storage))
	}
	// The README's example: 10 shards, evict 10% of a full shard.
	s.c = sturdyc.New[*User](localCapacity, 10, ttl, 10, opts...)
	return s
}

func (s *sturdycInstance) get(ctx context.Context, id, key string) (*User, error) {
	if s.clearing {
		// sturdyc always keeps what it reads from the distributed storage
		// in memory: drop it so that every read goes to Redis.
		s.c.Delete(key)
	}
	return s.c.GetOrFetch(ctx, key, func(ctx context.Context) (*User, error) {
		return s.src.load(ctx, id)
	})
}

// invalidate deletes the key from both tiers. sturdyc's Delete reaches its
// memory only; the distributed storage is the user's to delete from.
func (s *sturdycInstance) invalidate(ctx context.Context, _, key string) error {
	s.c.Delete(key)
	if s.storage != nil {
		s.storage.Delete(ctx, key)
	}
	return nil
}

func (s *sturdycInstance) settle(tb testing.TB, n int) {
	if s.storage != nil {
		waitRedisKeys(tb, s.storage.rdb, int64(n)) // writes go in goroutines
	}
}

// sturdycRedis is sturdyc's DistributedStorage over go-redis, which
// sturdyc leaves to its users. The TTL is the storage's to set.
type sturdycRedis struct{ rdb *redis.Client }

func (r *sturdycRedis) Get(ctx context.Context, key string) ([]byte, bool) {
	b, err := r.rdb.Get(ctx, key).Bytes()
	return b, err == nil
}

func (r *sturdycRedis) Set(ctx context.Context, key string, value []byte) {
	r.rdb.Set(ctx, key, value, ttl)
}

func (r *sturdycRedis) GetBatch(ctx context.Context, keys []string) map[string][]byte {
	vals, err := r.rdb.MGet(ctx, keys...).Result()
	records := make(map[string][]byte, len(keys))
	if err != nil {
		return records
	}
	for i, v := range vals {
		if s, ok := v.(string); ok {
			records[keys[i]] = []byte(s)
		}
	}
	return records
}

func (r *sturdycRedis) SetBatch(ctx context.Context, records map[string][]byte) {
	p := r.rdb.Pipeline()
	for k, v := range records {
		p.Set(ctx, k, v, ttl)
	}
	_, _ = p.Exec(ctx)
}

func (r *sturdycRedis) Delete(ctx context.Context, key string) { r.rdb.Del(ctx, key) }

func (r *sturdycRedis) DeleteBatch(ctx context.Context, keys []string) { r.rdb.Del(ctx, keys...) }

// ---- floors ----

// otterFloor is a bare otter cache of values: the local tier alone, with
// the source called on a miss. Its mode is always local.
type otterFloor struct {
	c   *otter.Cache[string, *User]
	src *source
}

func buildOtterFloor(tb testing.TB, _ mode, src *source) instance {
	c := otter.Must(&otter.Options[string, *User]{MaximumSize: localCapacity})
	tb.Cleanup(func() { c.StopAllGoroutines() })
	return &otterFloor{c: c, src: src}
}

func (o *otterFloor) get(ctx context.Context, id, key string) (*User, error) {
	if u, ok := o.c.GetIfPresent(key); ok {
		return u, nil
	}
	u, err := o.src.load(ctx, id)
	if err == nil {
		o.c.Set(key, u)
	}
	return u, err
}

func (o *otterFloor) invalidate(_ context.Context, _, key string) error {
	o.c.Invalidate(key)
	return nil
}

func (o *otterFloor) settle(testing.TB, int) {}

// redisFloor is a bare go-redis GET and a decode with gcache's codec; on a
// miss, the source, an encode and a SET. Its mode is always remote.
type redisFloor struct {
	rdb *redis.Client
	src *source
}

func buildRedisFloor(tb testing.TB, _ mode, src *source) instance {
	flushRedis(tb)
	return &redisFloor{rdb: newRedis(tb), src: src}
}

func (r *redisFloor) get(ctx context.Context, id, key string) (*User, error) {
	raw, err := r.rdb.Get(ctx, key).Bytes()
	if errors.Is(err, redis.Nil) {
		u, err := r.src.load(ctx, id)
		if err != nil {
			return nil, err
		}
		b, err := gcache.CBOR.Marshal(u)
		if err != nil {
			return nil, err
		}
		return u, r.rdb.Set(ctx, key, b, ttl).Err()
	}
	if err != nil {
		return nil, err
	}
	var u *User
	err = gcache.CBOR.Unmarshal(raw, &u)
	return u, err
}

func (r *redisFloor) invalidate(ctx context.Context, _, key string) error {
	return r.rdb.Del(ctx, key).Err()
}

func (r *redisFloor) settle(testing.TB, int) {}

// values keeps what it loads in a slice: the memory of the values alone,
// for the memory workload.
type values struct {
	held []*User
	src  *source
}

func buildValues(_ testing.TB, _ mode, src *source) instance {
	return &values{held: make([]*User, 0, memEntries), src: src}
}

func (v *values) get(ctx context.Context, id, _ string) (*User, error) {
	u, err := v.src.load(ctx, id)
	if err == nil {
		v.held = append(v.held, u)
	}
	return u, err
}

func (v *values) invalidate(context.Context, string, string) error { return nil }

func (v *values) settle(testing.TB, int) {}
