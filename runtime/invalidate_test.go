package gcache

import (
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// versioned is a source whose value changes when it is told to, and which
// can hold a call in flight.
type versioned struct {
	version atomic.Int64
	calls   atomic.Int64
	hold    chan chan struct{} // a call sends a channel here and waits on it
}

func (v *versioned) fn(ctx context.Context) (string, error) {
	v.calls.Add(1)
	value := fmt.Sprint("v", v.version.Load()) // read before any wait, like a database read
	if v.hold != nil {
		release := make(chan struct{})
		v.hold <- release
		<-release
	}
	return value, nil
}

func trackedSpec(name string, layers KeyConfig) UseCaseSpec {
	return UseCaseSpec{Name: name, KeyType: "user_id", Tracked: true, Default: layers}
}

// pair is two instances of a service on one Redis.
func pair(t *testing.T, cfg Config) (a, b *harness) {
	t.Helper()
	a = withRedis(t, cfg)
	cfg.Redis = &RedisConfig{Addrs: []string{a.redis.Addr()}}
	b = newHarness(t, cfg)
	b.redis = a.redis
	b.waitLive()
	return a, b
}

// TestInFlightCallCannotOutliveInvalidation is the race that the seed
// needed a future buffer for: a call reads the old value, Invalidate runs
// and returns, then the call finishes. With a buffer of 0, no later read,
// on either instance, in either tier, returns what that call produced.
func TestInFlightCallCannotOutliveInvalidation(t *testing.T) {
	a, b := pair(t, Config{})
	for i := range 10 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			id := fmt.Sprint("u", i)
			src := &versioned{hold: make(chan chan struct{})}
			ucA := useCase[string](t, a.c, trackedSpec(fmt.Sprint("A", i), allLayers))
			ucB := useCase[string](t, b.c, trackedSpec(fmt.Sprint("A", i), allLayers))
			got := make(chan string)
			go func() {
				v, err := ucA.Get(enabled, keyOf(ucA, id), src.fn)
				if err != nil {
					t.Error(err)
				}
				got <- v
			}()
			release := <-src.hold // the call has read v0 and is in flight
			src.version.Store(1)  // the write commits...
			invalidator := a.c
			if i%2 == 1 {
				invalidator = b.c // ...and either instance invalidates
			}
			if err := invalidator.Invalidate(context.Background(), "user_id", id); err != nil {
				t.Fatal(err)
			}
			close(release)
			if v := <-got; v != "v0" {
				t.Fatalf("the in-flight call returned %q", v)
			}
			src.hold = nil
			a.settle()
			a.caughtUp() // reads on A start past the propagation bound
			// Redis holds no value: the write was refused.
			if n, _ := a.redis.Client().Exists(context.Background(), keyOf(ucA, id).String()).Result(); n != 0 {
				t.Errorf("Redis holds the in-flight call's value")
			}
			for _, uc := range []*UseCase[string]{ucA, ucB, ucA, ucB} {
				if v, _ := uc.Get(enabled, keyOf(uc, id), src.fn); v != "v1" {
					t.Fatalf("a read after the invalidation returned %q", v)
				}
			}
		})
	}
}

// TestInvalidationReachesOtherInstances: B caches locally; A invalidates;
// B stops serving its local copy once the event arrives.
func TestInvalidationReachesOtherInstances(t *testing.T) {
	a, b := pair(t, Config{})
	localOnly := KeyConfig{Local: LayerConfig{TTL: time.Hour, Ramp: 100}}
	ucB := useCase[string](t, b.c, trackedSpec("Profile", localOnly))
	useCase[string](t, a.c, trackedSpec("Profile", localOnly))
	src := &versioned{}
	if v, _ := ucB.Get(enabled, keyOf(ucB, "7"), src.fn); v != "v0" {
		t.Fatal(v)
	}
	src.version.Store(1)
	if v, _ := ucB.Get(enabled, keyOf(ucB, "7"), src.fn); v != "v0" {
		t.Fatalf("B's local tier should still hold v0, got %q", v)
	}
	if err := a.c.Invalidate(context.Background(), "user_id", "7"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "B drops its local copy", func() bool {
		v, _ := ucB.Get(enabled, keyOf(ucB, "7"), src.fn)
		return v == "v1"
	})
	if got := a.metric("gcache_invalidation_counter_total", "key_type", "user_id", "layer", "REMOTE"); got != 1 {
		t.Errorf("REMOTE invalidations = %v", got)
	}
}

// TestKilledSubscriptionDropsTrackedLocalEntries: when the event channel
// drops, invalidations may have been missed, so B's tracked local entries
// go; once B is subscribed again, events reach it again.
func TestKilledSubscriptionDropsTrackedLocalEntries(t *testing.T) {
	a, b := pair(t, Config{})
	localOnly := KeyConfig{Local: LayerConfig{TTL: time.Hour, Ramp: 100}}
	ucB := useCase[string](t, b.c, trackedSpec("Profile", localOnly))
	untracked := useCase[string](t, b.c, UseCaseSpec{Name: "Plain", KeyType: "user_id", Default: localOnly})
	src := &versioned{}
	ucB.Get(enabled, keyOf(ucB, "7"), src.fn)
	untracked.Get(enabled, keyOf(untracked, "7"), src.fn)
	src.version.Store(1)

	killed, err := a.redis.Client().ClientKillByFilter(context.Background(), "TYPE", "pubsub").Result()
	if err != nil || killed < 2 {
		t.Fatalf("CLIENT KILL TYPE pubsub = %d, %v; want both instances' subscriptions", killed, err)
	}
	eventually(t, "B drops its tracked local entry", func() bool {
		v, _ := ucB.Get(enabled, keyOf(ucB, "7"), src.fn)
		return v == "v1"
	})
	if v, _ := untracked.Get(enabled, keyOf(untracked, "7"), src.fn); v != "v0" {
		t.Errorf("an untracked entry was dropped: %q", v)
	}

	// Propagation works again once B is back.
	b.waitLive()
	eventually(t, "B caches again", func() bool {
		n := src.calls.Load()
		ucB.Get(enabled, keyOf(ucB, "7"), src.fn)
		return src.calls.Load() == n
	})
	src.version.Store(2)
	if err := a.c.Invalidate(context.Background(), "user_id", "7"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the next invalidation reaches B", func() bool {
		v, _ := ucB.Get(enabled, keyOf(ucB, "7"), src.fn)
		return v == "v2"
	})
}

func TestWatermarkNeverMovesBackwards(t *testing.T) {
	h := withRedis(t, Config{})
	ctx := context.Background()
	if err := h.c.Invalidate(ctx, "user_id", "1", WithFutureBuffer(10*time.Second)); err != nil {
		t.Fatal(err)
	}
	first := h.redis.Client().Get(ctx, "{urn:user_id:1}#watermark").Val()
	if err := h.c.Invalidate(ctx, "user_id", "1"); err != nil {
		t.Fatal(err)
	}
	after := h.redis.Client().Get(ctx, "{urn:user_id:1}#watermark").Val()
	ms, err := strconv.ParseInt(after, 10, 64)
	if err != nil || after != first {
		t.Fatalf("watermark went from %s to %s (%v)", first, after, err)
	}
	if ahead := time.Until(time.UnixMilli(ms)); ahead < 8*time.Second {
		t.Errorf("watermark is %v ahead, want the 10s buffer", ahead)
	}
	// The local table keeps the later watermark too.
	uc := useCase[string](t, h.c, trackedSpec("U", allLayers))
	src := &versioned{}
	uc.Get(enabled, keyOf(uc, "1"), src.fn)
	uc.Get(enabled, keyOf(uc, "1"), src.fn)
	if src.calls.Load() != 2 {
		t.Errorf("calls = %d: while the watermark is ahead, nothing may be cached", src.calls.Load())
	}
	if keys := h.redisKeys(); len(keys) != 1 || keys[0] != "{urn:user_id:1}#watermark" {
		t.Errorf("Redis keys = %q, want only the watermark", keys)
	}
}

// TestPythonInterop: a watermark written by anyone (here redis-cli, as the
// Python library would) makes a Go entry stale; the watermark Go writes is
// the plain integer of milliseconds the Python library reads.
func TestPythonInterop(t *testing.T) {
	h := withRedis(t, Config{})
	ctx := context.Background()
	remoteOnly := KeyConfig{Remote: LayerConfig{TTL: time.Hour, Ramp: 100}}
	uc := useCase[string](t, h.c, UseCaseSpec{Name: "Get", KeyType: "T", Tracked: true, Default: remoteOnly})
	src := &versioned{}
	uc.Get(enabled, keyOf(uc, "123"), src.fn)
	h.settle()
	if keys := h.redisKeys(); len(keys) != 1 || keys[0] != "{urn:T:123}#Get" {
		t.Fatalf("keys = %q", keys)
	}
	time.Sleep(2 * time.Millisecond) // the watermark must be after the entry's ms
	host, port, _ := strings.Cut(h.redis.Addr(), ":")
	now := strconv.FormatInt(time.Now().UnixMilli(), 10)
	out, err := exec.Command("redis-cli", "-h", host, "-p", port, "SET", "{urn:T:123}#watermark", now).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "OK" {
		t.Fatalf("redis-cli SET: %v: %s", err, out)
	}
	src.version.Store(1)
	if v, _ := uc.Get(enabled, keyOf(uc, "123"), src.fn); v != "v1" {
		t.Errorf("after a foreign watermark, Get = %q, want the fresh v1", v)
	}
	h.settle()
	// A watermark stored as a decimal, as older writers did, works too.
	h.pastClockError()
	h.redis.Client().Set(ctx, "{urn:T:123}#watermark", strconv.FormatInt(time.Now().UnixMilli(), 10)+".5", 0)
	src.version.Store(2)
	if v, _ := uc.Get(enabled, keyOf(uc, "123"), src.fn); v != "v2" {
		t.Errorf("after a decimal watermark, Get = %q, want v2", v)
	}

	before := time.Now().UnixMilli()
	if err := h.c.Invalidate(ctx, "T", "456"); err != nil {
		t.Fatal(err)
	}
	out, err = exec.Command("redis-cli", "-h", host, "-p", port, "GET", "{urn:T:456}#watermark").CombinedOutput()
	ms, perr := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
	if err != nil || perr != nil || ms < before || ms > time.Now().UnixMilli() {
		t.Errorf("GET watermark = %q (%v, %v), want a plain integer of ms around now", out, err, perr)
	}
	ttl := h.redis.Client().PTTL(ctx, "{urn:T:456}#watermark").Val()
	if ttl < DefaultWatermarkTTL-time.Minute || ttl > DefaultWatermarkTTL {
		t.Errorf("watermark TTL = %v, want about %v", ttl, DefaultWatermarkTTL)
	}
}

// TestUnreadableWatermarkIsStale: a watermark that is not a number cannot
// vouch for an entry, so the entry is not served (and the mistake counted).
func TestUnreadableWatermarkIsStale(t *testing.T) {
	h := withRedis(t, Config{})
	remoteOnly := KeyConfig{Remote: LayerConfig{TTL: time.Hour, Ramp: 100}}
	uc := useCase[string](t, h.c, UseCaseSpec{Name: "Get", KeyType: "T", Tracked: true, Default: remoteOnly})
	src := &versioned{}
	uc.Get(enabled, keyOf(uc, "1"), src.fn)
	h.settle() // the value is in Redis
	h.redis.Client().Set(context.Background(), "{urn:T:1}#watermark", "garbage", 0)
	uc.Get(enabled, keyOf(uc, "1"), src.fn)
	if src.calls.Load() != 2 {
		t.Errorf("calls = %d: an entry was served under an unreadable watermark", src.calls.Load())
	}
	if got := h.metric("gcache_error_counter_total", "error", "decode"); got < 1 {
		t.Error("the unreadable watermark was not counted")
	}
	// An invalidation replaces it with a number.
	if err := h.c.Invalidate(context.Background(), "T", "1"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.redis.Client().Get(context.Background(), "{urn:T:1}#watermark").Int64(); err != nil {
		t.Errorf("after Invalidate the watermark is still unreadable: %v", err)
	}
}

// TestTrackedEntriesDieBeforeTheirWatermark: the watermark must outlive
// every entry it guards, so tracked entries live no longer than it.
func TestTrackedEntriesDieBeforeTheirWatermark(t *testing.T) {
	h := withRedis(t, Config{WatermarkTTL: 30 * time.Second})
	longTTL := KeyConfig{Remote: LayerConfig{TTL: 24 * time.Hour, Ramp: 100}}
	tracked := useCase[string](t, h.c, UseCaseSpec{Name: "T", KeyType: "k", Tracked: true, Default: longTTL})
	plain := useCase[string](t, h.c, UseCaseSpec{Name: "P", KeyType: "k", Default: longTTL})
	src := &versioned{}
	tracked.Get(enabled, keyOf(tracked, "1"), src.fn)
	plain.Get(enabled, keyOf(plain, "1"), src.fn)
	h.settle()
	rdb := h.redis.Client()
	ctx := context.Background()
	if ttl := rdb.PTTL(ctx, "{urn:k:1}#T").Val(); ttl <= 0 || ttl > 30*time.Second {
		t.Errorf("tracked entry TTL = %v, want at most the watermark TTL", ttl)
	}
	if ttl := rdb.PTTL(ctx, "urn:k:1#P").Val(); ttl < 23*time.Hour {
		t.Errorf("untracked entry TTL = %v, want its own 24h", ttl)
	}
	if err := h.c.Invalidate(ctx, "k", "1", WithFutureBuffer(5*time.Second)); err != nil {
		t.Fatal(err)
	}
	if ttl := rdb.PTTL(ctx, "{urn:k:1}#watermark").Val(); ttl < 30*time.Second {
		t.Errorf("watermark TTL = %v, want the watermark TTL plus the buffer", ttl)
	}
}

func TestDeleteReachesOtherInstances(t *testing.T) {
	a, b := pair(t, Config{})
	localOnly := KeyConfig{Local: LayerConfig{TTL: time.Hour, Ramp: 100}}
	ucA := useCase[string](t, a.c, UseCaseSpec{Name: "P", KeyType: "k", Default: localOnly})
	ucB := useCase[string](t, b.c, UseCaseSpec{Name: "P", KeyType: "k", Default: localOnly})
	src := &versioned{}
	ucA.Get(enabled, keyOf(ucA, "1"), src.fn)
	ucB.Get(enabled, keyOf(ucB, "1"), src.fn)
	src.version.Store(1)
	ok, err := a.c.Delete(context.Background(), keyOf(ucA, "1"))
	if err != nil || !ok {
		t.Fatalf("Delete = %v, %v", ok, err)
	}
	if v, _ := ucA.Get(enabled, keyOf(ucA, "1"), src.fn); v != "v1" {
		t.Errorf("A after Delete = %q", v)
	}
	eventually(t, "B drops its copy", func() bool {
		v, _ := ucB.Get(enabled, keyOf(ucB, "1"), src.fn)
		return v == "v1"
	})
}

func TestFlushReachesOtherInstances(t *testing.T) {
	a, b := pair(t, Config{})
	localOnly := KeyConfig{Local: LayerConfig{TTL: time.Hour, Ramp: 100}}
	useCase[string](t, a.c, UseCaseSpec{Name: "P", KeyType: "k", Default: localOnly})
	ucB := useCase[string](t, b.c, UseCaseSpec{Name: "P", KeyType: "k", Default: localOnly})
	src := &versioned{}
	ucB.Get(enabled, keyOf(ucB, "1"), src.fn)
	src.version.Store(1)
	if err := a.c.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	eventually(t, "B empties its local tier", func() bool {
		v, _ := ucB.Get(enabled, keyOf(ucB, "1"), src.fn)
		return v == "v1"
	})
}

func TestInvalidateErrors(t *testing.T) {
	h := newHarness(t, Config{Redis: &RedisConfig{Addrs: []string{"127.0.0.1:1"}}, RedisTimeout: 50 * time.Millisecond, CloseTimeout: 100 * time.Millisecond})
	uc := useCase[string](t, h.c, trackedSpec("U", KeyConfig{Local: LayerConfig{TTL: time.Hour, Ramp: 100}}))
	h.c.wm.alwaysCurrent() // as if subscribed: this test is about the local table
	src := &versioned{}
	uc.Get(enabled, keyOf(uc, "1"), src.fn)
	err := h.c.Invalidate(context.Background(), "user_id", "1")
	if err == nil || !strings.Contains(err.Error(), "{urn:user_id:1}") {
		t.Errorf("Invalidate with Redis down = %v, want an error naming the entity", err)
	}
	// The local tier was invalidated all the same.
	src.version.Store(1)
	if v, _ := uc.Get(enabled, keyOf(uc, "1"), src.fn); v != "v1" {
		t.Errorf("local entry survived a failed Invalidate: %q", v)
	}
	if got := h.metric("gcache_invalidation_error_counter_total", "layer", "REMOTE", "key_type", "user_id"); got < 1 {
		t.Error("the failure was not counted")
	}
	if got := h.metric("gcache_error_counter_total", "use_case", ""); got != 0 {
		t.Errorf("the failure was counted with an empty use case %v times", got)
	}
	for _, bad := range []string{"", "a b", "x:y"} {
		if err := h.c.Invalidate(context.Background(), bad, "1"); err == nil {
			t.Errorf("Invalidate with key type %q succeeded", bad)
		}
	}
	if err := h.c.Invalidate(context.Background(), "k", "1", WithFutureBuffer(-time.Second)); err == nil {
		t.Error("a negative buffer was accepted")
	}
	// The generated path reports through metrics only.
	inv, err := NewInvalidator(h.c, "user_id")
	if err != nil {
		t.Fatal(err)
	}
	before := h.metric("gcache_invalidation_error_counter_total")
	inv.Invalidate(context.Background(), []byte("2"), nil)
	inv.Invalidate(context.Background(), nil, fmt.Errorf("no id"))
	if got := h.metric("gcache_invalidation_error_counter_total") - before; got < 2 {
		t.Errorf("Invalidator failures counted %v times, want 2 or more", got)
	}
	if got := h.metric("gcache_invalidation_error_counter_total", "error", "key"); got != 1 {
		t.Errorf("id errors counted %v times, want 1", got)
	}
}

// fixedClock returns a clock that tells *now, with the fleet clock equal
// to it.
func fixedClock(now *time.Time) *clock {
	c := newClock(func() time.Time { return *now }, true)
	c.fixed()
	return c
}

// TestWatermarkTableForgetsSafely: an evicted watermark raises the floor,
// so that forgetting an invalidation never revives a stale entry.
func TestWatermarkTableForgetsSafely(t *testing.T) {
	now := time.Unix(0, 0)
	w := newWatermarks(8, fixedClock(&now), time.Second, time.Hour)
	w.alwaysCurrent()
	w.guard(time.Hour)
	for i := range 50 {
		w.raise(fmt.Sprint("{e", i, "}"), int64(1000+i))
	}
	if n := w.count.Load(); n > 8 {
		t.Fatalf("table holds %d watermarks, want at most 8", n)
	}
	for i := range 50 {
		if w.check(fmt.Sprint("{e", i, "}"), int64(1000+i), int64(1000+i), 0) != stale {
			t.Errorf("entity %d: an entry created at its invalidation is not stale", i)
		}
	}
	// The oldest were forgotten, not the newest: the floor stayed below
	// the latest invalidations.
	if f := w.floor.Load(); f >= 1049 || f < 1000 {
		t.Errorf("floor = %d, want below the newest watermark", f)
	}
	if w.check("{other}", 1049, 1049, 0) == stale {
		t.Error("an entry created after every forgotten watermark is stale")
	}

	// Expired watermarks go first, and raise the floor only to their own
	// time: every entry stored before it has expired.
	x := newWatermarks(4, fixedClock(&now), time.Second, time.Hour)
	x.alwaysCurrent()
	x.guard(time.Minute)
	for i := range 4 {
		x.raise(fmt.Sprint("{old", i, "}"), int64(i))
	}
	now = now.Add(2 * time.Minute)
	x.raise("{new}", now.UnixNano())
	if x.floor.Load() != 3 || x.count.Load() != 1 {
		t.Errorf("after expiry: floor %d, %d watermarks; want 3 and 1", x.floor.Load(), x.count.Load())
	}
	if x.check("{old0}", 2, 2, 2) != stale {
		t.Error("a load that began before a forgotten watermark is served")
	}
	if x.check("{old0}", 4, 4, 4) == stale {
		t.Error("a load that began after every forgotten watermark is not served")
	}

	// An own invalidation that has not reached Redis is kept past its
	// local entries (Redis may hand out what it invalidates), and
	// forgotten last; forgetting it makes every value made before it
	// stale.
	y := newWatermarks(4, fixedClock(&now), time.Second, time.Hour)
	y.alwaysCurrent()
	base := now.UnixNano()
	y.raiseOwn("{own}", base)
	for i := range 4 {
		y.raise(fmt.Sprint("{e", i, "}"), base+int64(i+1))
	}
	if _, ok := y.entries.GetIfPresent("{own}"); !ok {
		t.Fatal("an own invalidation not in Redis was forgotten before those in Redis")
	}
	for i := range 4 {
		y.raiseOwn(fmt.Sprint("{own", i, "}"), base+int64(10+i))
	}
	if _, ok := y.entries.GetIfPresent("{own}"); ok {
		t.Fatal("the oldest own invalidation was kept past the bound")
	}
	if y.check("{other}", base, base+100, base+100) != stale || !y.refuses("{other}", base, base+100) {
		t.Error("a value made before a forgotten own invalidation is served or written")
	}
	if y.check("{other}", base+11, base+100, base+100) == stale {
		t.Error("a value made after every forgotten own invalidation is stale")
	}
}

// TestWaiterAfterInvalidationGetsAFreshValue: a caller that joins a load
// in flight after an invalidation returned does not share that load's
// value, read before the invalidation; it loads again. (The soak found
// this: single-flight used to hand the old value to every waiter.)
func TestWaiterAfterInvalidationGetsAFreshValue(t *testing.T) {
	h := withRedis(t, Config{})
	uc := useCase[string](t, h.c, trackedSpec("P", allLayers))
	src := &versioned{hold: make(chan chan struct{}, 1)}
	leader := make(chan string)
	go func() {
		v, _ := uc.Get(enabled, keyOf(uc, "1"), src.fn)
		leader <- v
	}()
	release := <-src.hold // the leader read v0 and waits
	src.version.Store(1)
	if err := h.c.Invalidate(context.Background(), "user_id", "1"); err != nil {
		t.Fatal(err)
	}
	waiter := make(chan string)
	go func() {
		v, _ := uc.Get(enabled, keyOf(uc, "1"), src.fn)
		waiter <- v
	}()
	eventually(t, "the waiter joins the load", func() bool { return h.metric("gcache_miss_counter_total", "layer", "LOCAL") == 2 })
	src.hold = nil
	close(release)
	if v := <-leader; v != "v0" {
		t.Errorf("leader = %q", v)
	}
	if v := <-waiter; v != "v1" {
		t.Errorf("the waiter that came after the invalidation got %q, want v1", v)
	}
}

// TestEventsCarryAnyID: ids with non-ASCII white space, which keys keep as
// they are, reach other instances intact.
func TestEventsCarryAnyID(t *testing.T) {
	a, b := pair(t, Config{})
	localOnly := KeyConfig{Local: LayerConfig{TTL: time.Hour, Ramp: 100}}
	ucB := useCase[string](t, b.c, trackedSpec("P", localOnly))
	plainB := useCase[string](t, b.c, UseCaseSpec{Name: "Q", KeyType: "user_id", Default: localOnly})
	useCase[string](t, a.c, UseCaseSpec{Name: "Q", KeyType: "user_id", Default: localOnly})
	for _, id := range []string{"Jean\u00a0Dupont", "a\u3000b", "x\u0085y", "tab\tx", "plain"} {
		src := &versioned{}
		ucB.Get(enabled, keyOf(ucB, id), src.fn)
		plainB.Get(enabled, keyOf(plainB, id), src.fn)
		src.version.Store(1)
		if err := a.c.Invalidate(context.Background(), "user_id", id); err != nil {
			t.Fatal(err)
		}
		if _, err := a.c.Delete(context.Background(), keyOf(plainB, id)); err != nil {
			t.Fatal(err)
		}
		eventually(t, fmt.Sprintf("B applies the events of %q", id), func() bool {
			v1, _ := ucB.Get(enabled, keyOf(ucB, id), src.fn)
			v2, _ := plainB.Get(enabled, keyOf(plainB, id), src.fn)
			return v1 == "v1" && v2 == "v1"
		})
	}
}

// TestLaterInstanceCachesRemoteEntriesLocally: an instance that
// subscribed after a tracked value was written to Redis still keeps it in
// its local tier once it has read it (it was checked against the
// watermark in Redis when read). It used not to: every read went to Redis.
func TestLaterInstanceCachesRemoteEntriesLocally(t *testing.T) {
	a := withRedis(t, Config{})
	ucA := useCase[string](t, a.c, trackedSpec("P", allLayers))
	src := &versioned{}
	ucA.Get(enabled, keyOf(ucA, "1"), src.fn)

	b := newHarness(t, Config{Redis: &RedisConfig{Addrs: []string{a.redis.Addr()}}})
	b.waitLive() // subscribed after the value was written
	ucB := useCase[string](t, b.c, trackedSpec("P", allLayers))
	for range 3 {
		if v, _ := ucB.Get(enabled, keyOf(ucB, "1"), src.fn); v != "v0" {
			t.Fatalf("B read %q", v)
		}
	}
	if got := b.metric("gcache_request_counter_total", "layer", "REMOTE"); got != 1 {
		t.Errorf("B asked Redis %v times for 3 reads, want 1", got)
	}
	if src.calls.Load() != 1 {
		t.Errorf("calls = %d", src.calls.Load())
	}
	// And an invalidation still reaches B's local copy.
	src.version.Store(1)
	if err := a.c.Invalidate(context.Background(), "user_id", "1"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "B drops its copy", func() bool { v, _ := ucB.Get(enabled, keyOf(ucB, "1"), src.fn); return v == "v1" })
}

// TestNewLoadFindsAFillThatJustLanded: a caller that missed the local tier
// just before another caller's load filled it becomes the leader of a new
// load; it finds the fill instead of reading Redis, where the first load's
// write may still be under way, and calling the function again. (The
// peer benchmarks' stampede found it, about once in 300.)
func TestNewLoadFindsAFillThatJustLanded(t *testing.T) {
	h := withRedis(t, Config{})
	for _, tracked := range []bool{false, true} {
		uc := useCase[string](t, h.c, UseCaseSpec{Name: fmt.Sprint("P", tracked), KeyType: "user_id", Tracked: tracked, Default: allLayers})
		src := &versioned{}
		uc.Get(enabled, keyOf(uc, "1"), src.fn) // the first load filled both tiers
		key := keyOf(uc, "1")
		cfg := allLayers
		before := h.metric("gcache_request_counter_total", "layer", "REMOTE")
		// As the straggler: straight to a load, past the local lookup.
		if v, err := uc.load(enabled, &plan{key: &key, cfg: &cfg, local: true, remote: true}, func() func(context.Context) (string, error) { return src.fn }); err != nil || v != "v0" {
			t.Fatalf("load = %q, %v", v, err)
		}
		if src.calls.Load() != 1 {
			t.Errorf("tracked=%v: the function ran again", tracked)
		}
		if got := h.metric("gcache_request_counter_total", "layer", "REMOTE") - before; got != 0 {
			t.Errorf("tracked=%v: the new load read Redis %v times, want the local fill", tracked, got)
		}
	}
}

// TestEventCarriesTheWatermarkInForce: when a later watermark is kept,
// the event the script publishes carries it, so other instances keep the
// later one too.
func TestEventCarriesTheWatermarkInForce(t *testing.T) {
	a, b := pair(t, Config{})
	ctx := context.Background()
	if err := a.c.Invalidate(ctx, "user_id", "9", WithFutureBuffer(10*time.Second)); err != nil {
		t.Fatal(err)
	}
	ms, _ := strconv.ParseInt(a.redis.Client().Get(ctx, "{urn:user_id:9}#watermark").Val(), 10, 64)
	entity := "{urn:user_id:9}"
	eventually(t, "B learns the buffered watermark", func() bool { return b.c.wm.invalidatedSince(entity, ms*1e6) })
	// A fresh instance hears only the second invalidation, which keeps
	// the later watermark: it must learn that one, to the last ns of its ms.
	c := newHarness(t, Config{Redis: &RedisConfig{Addrs: []string{a.redis.Addr()}}})
	c.waitLive()
	if err := a.c.Invalidate(ctx, "user_id", "9"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "C learns the kept watermark", func() bool { return c.c.wm.invalidatedSince(entity, msToNs(ms)) })
}
