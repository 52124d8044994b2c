package gcache

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gcache-go/gcache/internal/redistest"
)

// The tests here reproduce, each on a real redis-server, a way the
// promise "after Invalidate no instance serves a value computed before
// it" was once broken, and hold it fixed.

// held is a source whose first call reads the version, then waits until
// the test releases it; later calls read the version and return.
type held struct {
	versioned
	mu      sync.Mutex
	first   bool
	entered chan struct{}
	release chan struct{}
}

func newHeld() *held {
	return &held{first: true, entered: make(chan struct{}), release: make(chan struct{})}
}

func (h *held) fn(ctx context.Context) (string, error) {
	v, _ := h.versioned.fn(ctx)
	h.mu.Lock()
	first := h.first
	h.first = false
	h.mu.Unlock()
	if first {
		close(h.entered)
		<-h.release
	}
	return v, nil
}

// TestSkewedClocksDoNotServeStale: instance A's clock runs 50 ms ahead.
// A fills a key; B invalidates it just after; neither instance serves
// A's value afterwards. With created_at and watermarks taken on each
// host's clock, A's value read as made after B's invalidation, in Redis
// and in A's local tier, until its TTL.
func TestSkewedClocksDoNotServeStale(t *testing.T) {
	srv := redistest.Start(t)
	skewed := func(d time.Duration) Config {
		return Config{Redis: &RedisConfig{Addrs: []string{srv.Addr()}}, Clock: func() time.Time { return time.Now().Add(d) }}
	}
	a, b := newHarness(t, skewed(50*time.Millisecond)), newHarness(t, skewed(0))
	a.redis, b.redis = srv, srv
	a.waitLive()
	b.waitLive()
	ucA, ucB := useCase[string](t, a.c, trackedSpec("P", allLayers)), useCase[string](t, b.c, trackedSpec("P", allLayers))
	src := &versioned{}
	if v, _ := ucA.Get(enabled, keyOf(ucA, "1"), src.fn); v != "v0" {
		t.Fatal(v)
	}
	a.settle() // A's value is in Redis
	src.version.Store(1)
	if err := b.c.Invalidate(context.Background(), "user_id", "1"); err != nil {
		t.Fatal(err)
	}
	if v, _ := ucB.Get(enabled, keyOf(ucB, "1"), src.fn); v != "v1" {
		t.Errorf("B read %q from Redis after its own invalidation, want v1", v)
	}
	a.caughtUp()
	if v, _ := ucA.Get(enabled, keyOf(ucA, "1"), src.fn); v != "v1" {
		t.Errorf("A read %q from its local tier after B's invalidation reached it, want v1", v)
	}
}

// TestFailedInvalidationIsHonoured: while Redis refuses writes (CLIENT
// PAUSE WRITE, as during a failover), Invalidate fails and returns its
// error; this instance never serves the old value from Redis afterwards,
// and the watermark lands once Redis takes writes again, so that the
// other instances stop serving it too.
func TestFailedInvalidationIsHonoured(t *testing.T) {
	a, b := pair(t, Config{RedisTimeout: 100 * time.Millisecond, BreakerThreshold: 1000})
	remoteOnly := KeyConfig{Remote: LayerConfig{TTL: time.Hour, Ramp: 100}}
	ucA, ucB := useCase[string](t, a.c, trackedSpec("P", remoteOnly)), useCase[string](t, b.c, trackedSpec("P", remoteOnly))
	src := &versioned{}
	ucA.Get(enabled, keyOf(ucA, "7"), src.fn)
	a.settle()
	src.version.Store(1)
	a.redis.Do("CLIENT", "PAUSE", "1000", "WRITE")
	if err := a.c.Invalidate(context.Background(), "user_id", "7"); err == nil {
		t.Fatal("Invalidate succeeded while Redis refused writes")
	}
	if v, _ := ucA.Get(enabled, keyOf(ucA, "7"), src.fn); v != "v1" {
		t.Errorf("after its failed invalidation, A read %q from Redis, want v1", v)
	}
	eventually(t, "the watermark lands", func() bool {
		return a.redis.Do("EXISTS", "{urn:user_id:7}#watermark") == int64(1)
	})
	if v, _ := ucB.Get(enabled, keyOf(ucB, "7"), src.fn); v != "v1" {
		t.Errorf("after the retried watermark landed, B read %q, want v1", v)
	}
	if got := a.metric("gcache_invalidation_retry_counter_total", "result", "landed"); got != 1 {
		t.Errorf("landed retries = %v, want 1", got)
	}
	if got := a.metric("gcache_invalidation_error_counter_total", "key_type", "user_id"); got < 1 {
		t.Errorf("the failed invalidation was not counted")
	}
}

// TestJoinerAfterLostEventsLoadsAgain: a load runs on A; A's
// subscription is cut off (its user loses the right to its channels,
// which disconnects it) while B invalidates; A subscribes again; a caller
// that joins A's load after that must not get its value, made before an
// invalidation A may have missed. The check for callers that share a load
// looked at the entity's watermark alone, not at the floor a lost
// subscription raises.
func TestJoinerAfterLostEventsLoadsAgain(t *testing.T) {
	srv := redistest.Start(t)
	for _, u := range []string{"a", "b"} {
		srv.Do("ACL", "SETUSER", u, "on", ">pw-"+u, "~*", "&*", "+@all")
	}
	as := func(user string) Config {
		return Config{Redis: &RedisConfig{Addrs: []string{srv.Addr()}, Username: user, Password: "pw-" + user}}
	}
	a, b := newHarness(t, as("a")), newHarness(t, as("b"))
	a.redis, b.redis = srv, srv
	a.waitLive()
	b.waitLive()
	ucA := useCase[string](t, a.c, trackedSpec("P", allLayers))
	useCase[string](t, b.c, trackedSpec("P", allLayers))
	src := newHeld()
	leader := make(chan string)
	go func() {
		v, _ := ucA.Get(enabled, keyOf(ucA, "9"), src.fn)
		leader <- v
	}()
	<-src.entered // A's load read v0 and is in flight

	srv.Do("ACL", "SETUSER", "a", "resetchannels")
	eventually(t, "A loses its subscription", func() bool { return !a.c.sub.up.Load() })
	src.version.Store(1)
	if err := b.c.Invalidate(context.Background(), "user_id", "9"); err != nil {
		t.Fatal(err)
	}
	srv.Do("ACL", "SETUSER", "a", "allchannels")
	eventually(t, "A subscribes again", a.c.sub.up.Load)
	a.waitLive()

	joiner := make(chan string)
	misses := a.metric("gcache_miss_counter_total", "layer", "LOCAL")
	go func() {
		v, _ := ucA.Get(enabled, keyOf(ucA, "9"), src.fn)
		joiner <- v
	}()
	eventually(t, "the caller joins the load", func() bool {
		return a.metric("gcache_miss_counter_total", "layer", "LOCAL") > misses
	})
	close(src.release)
	if v := <-leader; v != "v0" {
		t.Errorf("the load's own caller got %q, want the v0 it read", v)
	}
	if v := <-joiner; v != "v1" {
		t.Errorf("a caller that joined the load after the lost events got %q, want v1", v)
	}
}

// TestTrimNeverHidesAnInvalidation: at every step of a trim of the
// watermark table, an entry made before its entity's invalidation reads
// as stale: the trim raises its floor before it forgets an entity.
func TestTrimNeverHidesAnInvalidation(t *testing.T) {
	now := time.Unix(100, 0)
	w := newWatermarks(8, fixedClock(&now), time.Second, time.Hour)
	w.alwaysCurrent()
	w.guard(time.Hour)
	const entities = 40
	// An entry of each entity, made and checked at 1000+i; its
	// invalidation comes at 2000+i.
	made := func(i int) int64 { return int64(1000 + i) }
	steps := 0
	f := func() {
		steps++
		for i := range entities {
			if _, ok := w.entries.GetIfPresent(fmt.Sprint("{e", i, "}")); !ok && w.floor.Load() < made(i) {
				continue // not invalidated yet
			}
			if w.check(fmt.Sprint("{e", i, "}"), made(i), made(i), made(i)) != stale {
				t.Errorf("step %d: entity %d's entry, made before its invalidation, reads as fresh", steps, i)
			}
		}
	}
	hooks.forget.Store(&f)
	defer hooks.forget.Store(nil)
	for i := range entities {
		w.raise(fmt.Sprint("{e", i, "}"), int64(2000+i))
	}
	if steps == 0 {
		t.Fatal("the table never trimmed")
	}
}

// TestLaggingSubscriberStopsLocalHits: a subscriber held back, as a
// starved process holds it, does not apply B's invalidation; A must stop
// serving its tracked local entry once its view of the events is more
// than the propagation bound behind, and read Redis instead. The
// subscription was not down, only behind, and nothing bounded how far.
func TestLaggingSubscriberStopsLocalHits(t *testing.T) {
	a, b := pair(t, Config{OutageStaleness: -1})
	ucA := useCase[string](t, a.c, trackedSpec("P", allLayers))
	src := &versioned{}
	ucA.Get(enabled, keyOf(ucA, "3"), src.fn)
	a.settle()

	held, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	f := func(c *Cache) {
		if c == a.c {
			once.Do(func() { close(held) })
			<-release
		}
	}
	hooks.message.Store(&f)
	defer func() { hooks.message.Store(nil); close(release) }()
	<-held // A's subscriber is stuck before a message
	src.version.Store(1)
	if err := b.c.Invalidate(context.Background(), "user_id", "3"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(eventLag + 10*time.Millisecond) // past the bound on A's view
	if v, _ := ucA.Get(enabled, keyOf(ucA, "3"), src.fn); v != "v1" {
		t.Errorf("A, its events held back, served %q; want v1 from Redis", v)
	}
}

// TestFillAfterRestartIsRefused: a load on A begins before B's
// invalidation; Redis restarts empty, its watermark gone; the load's value
// must not reach the new Redis, where another instance would take it for
// fresh. The fill script checked only Redis's watermark.
func TestFillAfterRestartIsRefused(t *testing.T) {
	a, b := pair(t, Config{RedisTimeout: 500 * time.Millisecond})
	ucA := useCase[string](t, a.c, trackedSpec("P", allLayers))
	src := newHeld()
	done := make(chan string)
	go func() {
		v, _ := ucA.Get(enabled, keyOf(ucA, "5"), src.fn)
		done <- v
	}()
	<-src.entered
	src.version.Store(1)
	if err := b.c.Invalidate(context.Background(), "user_id", "5"); err != nil {
		t.Fatal(err)
	}
	a.caughtUp()
	a.redis.Kill()
	a.redis.Restart()
	a.waitLive()
	close(src.release)
	if v := <-done; v != "v0" {
		t.Fatalf("the load returned %q", v)
	}
	a.settle()
	if n := a.redis.Do("EXISTS", keyOf(ucA, "5").String()); n != int64(0) {
		t.Error("the load's value, made before the invalidation, reached the restarted Redis")
	}
	c := a.peer(Config{})
	ucC := useCase[string](t, c.c, trackedSpec("P", allLayers))
	if v, _ := ucC.Get(enabled, keyOf(ucC, "5"), src.fn); v != "v1" {
		t.Errorf("a new instance read %q, want v1", v)
	}
}

// TestCompressedValueOverTheLimit: a value whose encoding is over
// MaxValueSize is not written, even when it compresses under it: the
// writer checked the compressed size and the reader the decompressed one,
// so it was written and never read, a decode error on every miss.
func TestCompressedValueOverTheLimit(t *testing.T) {
	h := withRedis(t, Config{MaxValueSize: 1024})
	uc := useCase[string](t, h.c, UseCaseSpec{Name: "uc", Default: KeyConfig{Remote: LayerConfig{TTL: time.Minute, Ramp: 100}}})
	big := strings.Repeat("a", 8<<10) // compresses to a few hundred bytes
	calls := 0
	fn := func(context.Context) (string, error) { calls++; return big, nil }
	for range 3 {
		if v, err := uc.Get(enabled, keyOf(uc, "1"), fn); v != big || err != nil {
			t.Fatalf("Get = %d bytes, %v", len(v), err)
		}
		h.settle()
	}
	if got := h.metric("gcache_error_counter_total", "error", "decode"); got != 0 {
		t.Errorf("%v decode errors: a value was written that cannot be read", got)
	}
	if got := h.metric("gcache_error_counter_total", "error", "too_large"); got != 3 {
		t.Errorf("too_large = %v, want 3", got)
	}
	if keys := h.redisKeys(); len(keys) != 0 {
		t.Errorf("Redis holds %q", keys)
	}
}

// TestInterfaceValuesNeedACodec: an interface type cannot round-trip
// through the default codec, so a use case of one with Redis and no Codec
// is refused; without Redis, or with a Codec, it is accepted.
func TestInterfaceValuesNeedACodec(t *testing.T) {
	h := withRedis(t, Config{})
	if _, err := NewUseCase[any](h.c, UseCaseSpec{Name: "any", KeyType: "T"}); err == nil || !strings.Contains(err.Error(), "Codec") {
		t.Errorf("an interface type without a Codec: %v, want an error that names the Codec", err)
	}
	if _, err := NewUseCase[error](h.c, UseCaseSpec{Name: "err", KeyType: "T"}); err == nil {
		t.Error("a non-empty interface type without a Codec was accepted")
	}
	if _, err := NewUseCase[any](newHarness(t, Config{}).c, UseCaseSpec{Name: "any", KeyType: "T"}); err != nil {
		t.Errorf("a local-only interface use case: %v", err)
	}
	if _, err := NewUseCase[any](h.c, UseCaseSpec{Name: "coded", KeyType: "T", Codec: anyCodec{}}); err != nil {
		t.Errorf("an interface use case with a Codec: %v", err)
	}
}

type anyCodec struct{}

func (anyCodec) Marshal(v any) ([]byte, error)   { return nil, errors.New("not used") }
func (anyCodec) Unmarshal(b []byte, v any) error { return errors.New("not used") }
