package gcache

// Faults aimed at the guarantees, each where a defect would show first.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gcache-go/gcache/internal/redistest"
	"github.com/prometheus/client_golang/prometheus"
)

// TestJoinerAfterLostEvent: a
// load runs on A; the subscriptions are killed; B invalidates while A
// reconnects, so A never receives the event; a caller on A that joins the
// load after A resubscribed does not get the value from before the
// invalidation (the floor the resubscription raised covers it).
func TestJoinerAfterLostEvent(t *testing.T) {
	a, b := pair(t, Config{})
	ucA := useCase[string](t, a.c, trackedSpec("P", allLayers))
	useCase[string](t, b.c, trackedSpec("P", allLayers))
	src := &versioned{hold: make(chan chan struct{}, 1)}
	leader := make(chan string)
	go func() {
		v, _ := ucA.Get(enabled, keyOf(ucA, "1"), src.fn)
		leader <- v
	}()
	release := <-src.hold // the leader read v0 and waits
	src.version.Store(1)
	before := a.c.clk.local()
	if n, err := a.redis.Client().ClientKillByFilter(context.Background(), "TYPE", "pubsub").Result(); err != nil || n < 2 {
		t.Fatalf("CLIENT KILL TYPE pubsub = %d, %v", n, err)
	}
	if err := b.c.Invalidate(context.Background(), "user_id", "1"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "A resubscribed", func() bool { return a.c.live() && a.c.wm.floor.Load() > before })
	waiter := make(chan string)
	go func() {
		v, _ := ucA.Get(enabled, keyOf(ucA, "1"), src.fn)
		waiter <- v
	}()
	eventually(t, "the waiter joins the load", func() bool { return a.metric("gcache_miss_counter_total", "layer", "LOCAL") == 2 })
	src.hold = nil
	close(release)
	<-leader
	if v := <-waiter; v != "v1" {
		t.Errorf("a caller that joined the load after the lost invalidation got %q", v)
	}
}

// TestLaggingSubscriberWithOutageOff:
// with the outage mode off, an instance whose subscriber is held back
// stops serving its tracked local entries within the propagation bound,
// and its reads go to Redis, which holds the watermark.
func TestLaggingSubscriberWithOutageOff(t *testing.T) {
	hold := newHoldingHandler("malformed event")
	a := withRedis(t, Config{Logger: slog.New(hold), OutageStaleness: -1})
	defer close(hold.release)
	b := newHarness(t, Config{Redis: &RedisConfig{Addrs: []string{a.redis.Addr()}}})
	b.redis = a.redis
	b.waitLive()
	ucA := useCase[string](t, a.c, trackedSpec("Profile", allLayers))
	src := &versioned{}
	ucA.Get(enabled, keyOf(ucA, "7"), src.fn)
	a.settle()
	if err := a.redis.Client().Publish(context.Background(), a.c.channel(), "not an event").Err(); err != nil {
		t.Fatal(err)
	}
	<-hold.held
	src.version.Store(1)
	if err := b.c.Invalidate(context.Background(), "user_id", "7"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // the propagation bound
	if v, _ := ucA.Get(enabled, keyOf(ucA, "7"), src.fn); v != "v1" {
		t.Errorf("a lagging instance read %q past the propagation bound", v)
	}
}

// TestSkewedClocks: with the
// two instances' clocks 250 ms ahead and behind, B invalidates just after
// A's call began; neither tier of either instance serves A's value after.
func TestSkewedClocks(t *testing.T) {
	for _, skews := range [][2]time.Duration{{250 * time.Millisecond, -250 * time.Millisecond}, {-250 * time.Millisecond, 250 * time.Millisecond}} {
		t.Run(fmt.Sprint(skews), func(t *testing.T) {
			srv := redistest.Start(t)
			mk := func(skew time.Duration) *harness {
				h := newHarness(t, Config{Redis: &RedisConfig{Addrs: []string{srv.Addr()}}, Clock: func() time.Time { return time.Now().Add(skew) }})
				h.redis = srv
				h.waitLive()
				return h
			}
			a, b := mk(skews[0]), mk(skews[1])
			ucA := useCase[string](t, a.c, trackedSpec("P", allLayers))
			ucB := useCase[string](t, b.c, trackedSpec("P", allLayers))
			src := &versioned{hold: make(chan chan struct{})}
			got := make(chan string, 1)
			go func() {
				v, _ := ucA.Get(enabled, keyOf(ucA, "1"), src.fn)
				got <- v
			}()
			release := <-src.hold
			src.version.Store(1)
			if err := b.c.Invalidate(context.Background(), "user_id", "1"); err != nil {
				t.Fatal(err)
			}
			close(release)
			<-got
			src.hold = nil
			a.settle()
			a.caughtUp()
			for _, uc := range []*UseCase[string]{ucB, ucA, ucB, ucA} {
				if v, _ := uc.Get(enabled, keyOf(uc, "1"), src.fn); v != "v1" {
					t.Fatalf("read %q after the invalidation", v)
				}
			}
		})
	}
}

// TestOutageHotKey: with Redis
// frozen, 50 goroutines reading one hot tracked key for 3 s cause about
// one function call per OutageStaleness, and are never served a value
// made more than OutageStaleness before (plus a margin for scheduling).
func TestOutageHotKey(t *testing.T) {
	h := withRedis(t, Config{RedisTimeout: 50 * time.Millisecond})
	uc := useCase[int64](t, h.c, trackedSpec("Hot", allLayers))
	var version atomic.Int64
	var mu sync.Mutex
	made := map[int64]time.Time{}
	fn := func(context.Context) (int64, error) {
		v := version.Add(1)
		mu.Lock()
		made[v] = time.Now()
		mu.Unlock()
		return v, nil
	}
	uc.Get(enabled, keyOf(uc, "hot"), fn)
	h.settle()
	h.redis.Pause()
	defer h.redis.Resume()
	start := version.Load()
	const window = 3 * time.Second
	stop := time.Now().Add(window)
	var oldest atomic.Int64
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			for time.Now().Before(stop) {
				ctx, cancel := context.WithTimeout(enabled, time.Second)
				v, err := uc.Get(ctx, keyOf(uc, "hot"), fn)
				cancel()
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				age := time.Since(made[v])
				mu.Unlock()
				if v > start {
					raiseTo(&oldest, int64(age))
				}
				time.Sleep(time.Millisecond)
			}
		})
	}
	wg.Wait()
	calls := version.Load() - start
	if calls > int64(window/DefaultOutageStaleness)+2 {
		t.Errorf("%d function calls in %v of outage", calls, window)
	}
	if age := time.Duration(oldest.Load()); age > DefaultOutageStaleness+300*time.Millisecond {
		t.Errorf("a value made %v before was served in the outage", age)
	}
	t.Logf("%d function calls; oldest value served %v after it was made", calls, time.Duration(oldest.Load()).Round(time.Millisecond))
}

// TestRetriesKeepTheLaterAndCloseFlushes: two
// failed invalidations of one entity land as the later one, and Close
// lands what is still pending within CloseTimeout.
func TestRetriesKeepTheLaterAndCloseFlushes(t *testing.T) {
	srv := redistest.Start(t)
	c, err := New(Config{Redis: &RedisConfig{Addrs: []string{srv.Addr()}}, RedisTimeout: 50 * time.Millisecond, CloseTimeout: 5 * time.Second,
		Registerer: prometheus.NewRegistry(), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	(&harness{t: t, c: c}).waitLive()
	if got := srv.Do("CLIENT", "PAUSE", "700", "WRITE"); got != "OK" {
		t.Fatal(got)
	}
	ctx := context.Background()
	if err := c.Invalidate(ctx, "user_id", "1", WithFutureBuffer(time.Hour)); err == nil {
		t.Fatal("Invalidate returned nil with writes paused")
	}
	if err := c.Invalidate(ctx, "user_id", "1"); err == nil {
		t.Fatal("Invalidate returned nil with writes paused")
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	ms, err := srv.Client().Get(ctx, "{urn:user_id:1}#watermark").Int64()
	if err != nil {
		t.Fatalf("no watermark in Redis after Close: %v", err)
	}
	if ahead := time.Until(time.UnixMilli(ms)); ahead < 50*time.Minute {
		t.Errorf("the watermark that landed is %v ahead: not the later invalidation", ahead)
	}
}

// TestFillingBufferHonoursOwnInvalidation: a
// value on its way to Redis (the filling buffer) is not handed to a call
// that starts after this instance invalidated its entity, by Get or by
// GetBatch.
func TestFillingBufferHonoursOwnInvalidation(t *testing.T) {
	h := withRedis(t, Config{RedisTimeout: 2 * time.Second})
	remoteOnly := KeyConfig{Remote: LayerConfig{TTL: time.Hour, Ramp: 100}}
	uc := useCase[string](t, h.c, trackedSpec("P", remoteOnly))
	src := &versioned{}
	if got := h.redis.Do("CLIENT", "PAUSE", "500", "WRITE"); got != "OK" {
		t.Fatal(got)
	}
	uc.Get(enabled, keyOf(uc, "1"), src.fn) // v0, its write held by the pause
	if _, ok := uc.filling.get(keyOf(uc, "1").String()); !ok {
		t.Fatal("setup: the write should be in transit")
	}
	src.version.Store(1)
	invalidated := make(chan error, 1)
	go func() { invalidated <- h.c.Invalidate(context.Background(), "user_id", "1") }() // held by the pause too
	defer func() { <-invalidated }()
	key := keyOf(uc, "1")
	eventually(t, "the invalidation is known", func() bool { return h.c.wm.invalidatedSince(key.entityKey(), 1) })
	if v, _ := uc.Get(enabled, keyOf(uc, "1"), src.fn); v != "v1" {
		t.Errorf("Get read %q from the filling buffer after this instance's invalidation", v)
	}
	got, err := GetBatch(enabled, uc, []string{"1"}, func(b []byte, id string) ([]byte, int, error) {
		b = AppendString(b, id)
		return b, len(b), nil
	}, func(_ context.Context, ids []string) (map[string]string, error) {
		return map[string]string{"1": fmt.Sprint("v", src.version.Load())}, nil
	})
	if err != nil || got["1"] != "v1" {
		t.Errorf("GetBatch = %v, %v after this instance's invalidation", got, err)
	}
	h.settle()
}

// TestDeleteWaitsForWrites: a Delete right
// after a miss waits for the miss's background write, so the write does
// not land after it.
func TestDeleteWaitsForWrites(t *testing.T) {
	h := withRedis(t, Config{RedisTimeout: 2 * time.Second})
	uc := useCase[string](t, h.c, UseCaseSpec{Name: "Plain", KeyType: "T", Default: allLayers})
	if got := h.redis.Do("CLIENT", "PAUSE", "300", "WRITE"); got != "OK" {
		t.Fatal(got)
	}
	uc.Get(enabled, keyOf(uc, "1"), func(context.Context) (string, error) { return "v", nil })
	if _, err := h.c.Delete(context.Background(), keyOf(uc, "1")); err != nil {
		t.Fatal(err)
	}
	if keys := h.redisKeys(); len(keys) != 0 {
		t.Errorf("Redis holds %q after Delete", keys)
	}
}

// TestNegativeAnswerInvalidated: a cached "not
// found" of a tracked entity is not served after Invalidate, on either
// instance.
func TestNegativeAnswerInvalidated(t *testing.T) {
	a, b := pair(t, Config{})
	errNo := errors.New("no such user")
	cfg := allLayers
	cfg.NegativeTTL = time.Hour
	spec := UseCaseSpec{Name: "U", KeyType: "user_id", Tracked: true, Negative: errNo, Default: cfg}
	ucA, ucB := useCase[string](t, a.c, spec), useCase[string](t, b.c, spec)
	var exists atomic.Bool
	fn := func(context.Context) (string, error) {
		if exists.Load() {
			return "found", nil
		}
		return "", errNo
	}
	for _, uc := range []*UseCase[string]{ucA, ucB} {
		if _, err := uc.Get(enabled, keyOf(uc, "1"), fn); !errors.Is(err, errNo) {
			t.Fatal(err)
		}
	}
	a.settle()
	exists.Store(true)
	if err := a.c.Invalidate(context.Background(), "user_id", "1"); err != nil {
		t.Fatal(err)
	}
	b.caughtUp()
	for _, uc := range []*UseCase[string]{ucA, ucB} {
		if v, err := uc.Get(enabled, keyOf(uc, "1"), fn); err != nil || v != "found" {
			t.Errorf("after Invalidate: %q, %v", v, err)
		}
	}
}

// TestHungRedisBudgetWhenTheClockIsKnown: once the fleet clock is known, with Redis frozen, callers
// with 50 ms, 100 ms and 1 s deadlines are all served, the function never
// runs with an expired context and starts with at least (about) half of
// the deadline left (checked at a quarter, a margin for scheduling), and
// the breaker opens and counts.
func TestHungRedisBudgetWhenTheClockIsKnown(t *testing.T) {
	h := withRedis(t, Config{RedisTimeout: 200 * time.Millisecond})
	uc := useCase[string](t, h.c, UseCaseSpec{Name: "Plain", KeyType: "T", Default: allLayers})
	h.redis.Pause()
	defer h.redis.Resume()
	for _, d := range []time.Duration{50 * time.Millisecond, 100 * time.Millisecond, time.Second} {
		for i := range 8 {
			ctx, cancel := context.WithTimeout(enabled, d)
			var left time.Duration
			v, err := uc.Get(ctx, keyOf(uc, fmt.Sprint(d, i)), func(ctx context.Context) (string, error) {
				if ctx.Err() != nil {
					return "", ctx.Err()
				}
				dl, _ := ctx.Deadline()
				left = time.Until(dl)
				return "v", nil
			})
			cancel()
			if err != nil || v != "v" {
				t.Fatalf("deadline %v: %q, %v", d, v, err)
			}
			if left < d/4 {
				t.Errorf("deadline %v: the function started with %v left", d, left)
			}
		}
	}
	if h.metric("gcache_error_counter_total", "error", "timeout") < float64(DefaultBreakerThreshold) {
		t.Error("timeouts not counted")
	}
	if h.metric("gcache_disabled_counter_total", "reason", "server_down") == 0 {
		t.Error("the breaker never opened")
	}
}
