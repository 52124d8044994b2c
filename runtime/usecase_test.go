package gcache

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestDisabledByDefault(t *testing.T) {
	h := newHarness(t, Config{})
	uc := useCase[int64](t, h.c, UseCaseSpec{Name: "uc", Default: allLayers})
	var src source
	for i := range 3 {
		src.value.Store(int64(i))
		v, err := uc.Get(context.Background(), keyOf(uc, "1"), src.fn)
		if err != nil || v != int64(i) {
			t.Fatalf("call %d = %d, %v; want the live value", i, v, err)
		}
	}
	if got := h.metric("gcache_disabled_counter_total", "layer", "GLOBAL", "reason", "context", "use_case", "uc", "key_type", "T"); got != 3 {
		t.Errorf("disabled{GLOBAL,context} = %v, want 3", got)
	}
	if got := h.metric("gcache_request_counter_total"); got != 0 {
		t.Errorf("requests = %v, want 0", got)
	}
}

func TestEnableDisableNest(t *testing.T) {
	h := newHarness(t, Config{})
	uc := useCase[int64](t, h.c, UseCaseSpec{Name: "uc", Default: allLayers})
	var src source
	get := func(ctx context.Context) int64 {
		v, err := uc.Get(ctx, keyOf(uc, "123"), src.fn)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	on := Enable(context.Background())
	src.value.Store(5)
	if get(on) != 5 {
		t.Fatal("first enabled call")
	}
	src.value.Store(10)
	if v := get(on); v != 5 {
		t.Errorf("enabled = %d, want the cached 5", v)
	}
	off := Disable(on)
	if v := get(off); v != 10 || Enabled(off) {
		t.Errorf("disabled inside enabled = %d, want 10", v)
	}
	if v := get(Enable(off)); v != 5 {
		t.Errorf("enabled inside disabled = %d, want 5", v)
	}
	if v := get(on); v != 5 || !Enabled(on) {
		t.Errorf("outer context changed: %d", v)
	}
}

func TestMiddlewareEnablesReads(t *testing.T) {
	var got = map[string]bool{}
	var mu sync.Mutex
	handler := Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got[r.Method] = Enabled(r.Context())
		mu.Unlock()
	}))
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodDelete} {
		handler.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(m, "/", nil))
	}
	want := map[string]bool{"GET": true, "HEAD": true, "POST": false, "PUT": false, "DELETE": false}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("enabled per method = %v, want %v", got, want)
	}
}

func TestRamp(t *testing.T) {
	for _, tc := range []struct {
		ramp     int
		min, max int // cached calls out of 2000
	}{
		{0, 0, 0},
		{100, 2000, 2000},
		// Binomial(2000, 0.5): mean 1000, sd 22.4; ±6 sd.
		{50, 1000 - 135, 1000 + 135},
	} {
		t.Run(fmt.Sprint(tc.ramp), func(t *testing.T) {
			h := newHarness(t, Config{})
			uc := useCase[int64](t, h.c, UseCaseSpec{Name: "uc", Default: KeyConfig{Local: LayerConfig{TTL: time.Hour, Ramp: tc.ramp}}})
			var src source
			src.value.Store(1)
			if _, err := uc.Get(enabled, keyOf(uc, "k"), src.fn); err != nil {
				t.Fatal(err)
			}
			// Once the entry is in, a call through the layer hits; one
			// ramped down calls the function.
			if tc.ramp == 0 {
				uc.local.Set(keyOf(uc, "k").str, entry[int64]{val: 1, ttl: time.Hour})
			}
			src.calls.Store(0)
			for range 2000 {
				if _, err := uc.Get(enabled, keyOf(uc, "k"), src.fn); err != nil {
					t.Fatal(err)
				}
			}
			cached := 2000 - int(src.calls.Load())
			if cached < tc.min || cached > tc.max {
				t.Errorf("ramp %d: %d of 2000 calls cached, want %d–%d", tc.ramp, cached, tc.min, tc.max)
			}
			ramped := h.metric("gcache_disabled_counter_total", "layer", "LOCAL", "reason", "ramped_down")
			if int(ramped) != 2000-cached+boolInt(tc.ramp == 0) {
				t.Errorf("ramped_down = %v, want %d", ramped, 2000-cached)
			}
		})
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestConfigResolution(t *testing.T) {
	provided := &KeyConfig{Local: LayerConfig{TTL: time.Hour, Ramp: 100}}
	errProvider := errors.New("provider down")
	for _, tc := range []struct {
		name     string
		provider ConfigProvider
		def      KeyConfig
		cached   bool
		labels   []string // a disabled{} sample that must be 1
	}{
		{"provider overrides", func(context.Context, *Key) (*KeyConfig, error) { return provided, nil }, KeyConfig{}, true, nil},
		{"provider nil uses default", func(context.Context, *Key) (*KeyConfig, error) { return nil, nil }, allLayers, true, nil},
		{"no provider uses default", nil, allLayers, true, nil},
		{"provider error", func(context.Context, *Key) (*KeyConfig, error) { return nil, errProvider }, allLayers, false,
			[]string{"layer", "LOCAL", "reason", "config_error"}},
		{"provider panic", func(context.Context, *Key) (*KeyConfig, error) { panic("boom") }, allLayers, false,
			[]string{"layer", "LOCAL", "reason", "config_error"}},
		{"provider garbage", func(context.Context, *Key) (*KeyConfig, error) {
			return &KeyConfig{Local: LayerConfig{TTL: -time.Second, Ramp: 500}}, nil
		}, allLayers, false, []string{"layer", "LOCAL", "reason", "config_error"}},
		{"nothing", func(context.Context, *Key) (*KeyConfig, error) { return nil, nil }, KeyConfig{}, false,
			[]string{"layer", "LOCAL", "reason", "missing_config"}},
		{"provider turns the layer off", func(context.Context, *Key) (*KeyConfig, error) { return &KeyConfig{}, nil }, allLayers, false,
			[]string{"layer", "LOCAL", "reason", "missing_config"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var seen []Key
			var mu sync.Mutex
			provider := tc.provider
			if provider != nil {
				provider = func(ctx context.Context, k *Key) (*KeyConfig, error) {
					mu.Lock()
					seen = append(seen, *k)
					mu.Unlock()
					return tc.provider(ctx, k)
				}
			}
			h := newHarness(t, Config{ConfigProvider: provider})
			uc := useCase[int64](t, h.c, UseCaseSpec{Name: "GetUser", KeyType: "user_id", Default: tc.def})
			var src source
			for range 2 {
				if _, err := uc.Get(enabled, keyOf(uc, "42"), src.fn); err != nil {
					t.Fatal(err)
				}
			}
			if cached := src.calls.Load() == 1; cached != tc.cached {
				t.Errorf("function called %d times; cached = %v, want %v", src.calls.Load(), cached, tc.cached)
			}
			if tc.labels != nil {
				labels := append([]string{"use_case", "GetUser", "key_type", "user_id"}, tc.labels...)
				if got := h.metric("gcache_disabled_counter_total", labels...); got != 2 {
					t.Errorf("disabled%v = %v, want 2", tc.labels, got)
				}
			}
			if provider != nil && (len(seen) != 2 || seen[0].UseCase != "GetUser" || seen[0].KeyType != "user_id" || seen[0].ID != "42" || seen[0].String() != "urn:user_id:42#GetUser") {
				t.Errorf("provider saw %+v", seen)
			}
		})
	}
}

func TestLocalOnly(t *testing.T) {
	h := newHarness(t, Config{})
	uc := useCase[string](t, h.c, UseCaseSpec{Name: "uc", Default: allLayers})
	calls := 0
	fn := func(context.Context) (string, error) { calls++; return "v", nil }
	for range 3 {
		if v, err := uc.Get(enabled, keyOf(uc, "1"), fn); v != "v" || err != nil {
			t.Fatalf("Get = %q, %v", v, err)
		}
	}
	if calls != 1 {
		t.Errorf("function called %d times, want 1", calls)
	}
	if got := h.metric("gcache_request_counter_total", "layer", "LOCAL"); got != 3 {
		t.Errorf("LOCAL requests = %v, want 3", got)
	}
	if got := h.metric("gcache_miss_counter_total", "layer", "LOCAL"); got != 1 {
		t.Errorf("LOCAL misses = %v, want 1", got)
	}
	if got := h.metric("gcache_request_counter_total", "layer", "REMOTE") + h.metric("gcache_disabled_counter_total", "layer", "REMOTE"); got != 0 {
		t.Errorf("REMOTE samples = %v, want none without Redis", got)
	}
}

func TestLocalTTLIsPerEntry(t *testing.T) {
	var mu sync.Mutex
	now := time.Unix(1_700_000_000, 0)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	ttl := time.Minute
	var ttlMu sync.Mutex
	provider := func(context.Context, *Key) (*KeyConfig, error) {
		ttlMu.Lock()
		defer ttlMu.Unlock()
		return &KeyConfig{Local: LayerConfig{TTL: ttl, Ramp: 100}}, nil
	}
	h := newHarness(t, Config{Clock: clock, ConfigProvider: provider})
	uc := useCase[int64](t, h.c, UseCaseSpec{Name: "uc"})
	var src source
	get := func(id string) {
		if _, err := uc.Get(enabled, keyOf(uc, id), src.fn); err != nil {
			t.Fatal(err)
		}
	}
	get("a") // written with a 1m TTL
	ttlMu.Lock()
	ttl = time.Hour
	ttlMu.Unlock()
	get("b") // written with a 1h TTL: the new config applies at once
	advance(2 * time.Minute)
	src.calls.Store(0)
	get("a")
	get("b")
	if src.calls.Load() != 1 {
		t.Errorf("after 2m, %d calls; want 1 (a expired, b alive)", src.calls.Load())
	}
}

func TestRemoteHitAcrossCaches(t *testing.T) {
	type Address struct{ City, Zip string }
	type User struct {
		ID      int64
		Name    string
		Tags    []string
		Scores  map[string]float64
		Home    *Address
		Created time.Time
		Latency time.Duration
	}
	a := withRedis(t, Config{})
	b := newHarness(t, Config{Redis: &RedisConfig{Addrs: []string{a.redis.Addr()}}})
	spec := UseCaseSpec{Name: "GetUser", KeyType: "user_id", Default: allLayers}
	ucA, ucB := useCase[*User](t, a.c, spec), useCase[*User](t, b.c, spec)
	want := &User{ID: 7, Name: "Ada", Tags: []string{"x", "y"}, Scores: map[string]float64{"a": 1.5},
		Home: &Address{"London", "N1"}, Created: time.Date(2024, 1, 2, 3, 4, 5, 6, time.UTC), Latency: 1500 * time.Millisecond}
	got, err := ucA.Get(enabled, keyOf(ucA, "7"), func(context.Context) (*User, error) { return want, nil })
	if err != nil || got != want {
		t.Fatalf("A: %v, %v", got, err)
	}
	if keys := a.redisKeys(); !reflect.DeepEqual(keys, []string{"urn:user_id:7#GetUser"}) {
		t.Fatalf("Redis keys = %q", keys)
	}
	got, err = ucB.Get(enabled, keyOf(ucB, "7"), func(context.Context) (*User, error) {
		t.Error("B called the function: want a remote hit")
		return nil, nil
	})
	if err != nil || !got.Created.Equal(want.Created) {
		t.Fatalf("B: %+v, %v", got, err)
	}
	got.Created = want.Created
	if !reflect.DeepEqual(got, want) {
		t.Errorf("B decoded %+v, want %+v", got, want)
	}
	if got := b.metric("gcache_request_counter_total", "layer", "REMOTE"); got != 1 {
		t.Errorf("B REMOTE requests = %v", got)
	}
	if got := b.metric("gcache_miss_counter_total", "layer", "REMOTE"); got != 0 {
		t.Errorf("B REMOTE misses = %v", got)
	}
}

func TestFunctionErrorIsReturnedAndNotCached(t *testing.T) {
	h := withRedis(t, Config{})
	uc := useCase[int64](t, h.c, UseCaseSpec{Name: "uc", Default: allLayers})
	boom := errors.New("boom")
	src := source{err: fmt.Errorf("wrapped: %w", boom)}
	for range 2 {
		if _, err := uc.Get(enabled, keyOf(uc, "1"), src.fn); !errors.Is(err, boom) || err != src.err {
			t.Fatalf("err = %v, want the function's error unchanged", err)
		}
	}
	if src.calls.Load() != 2 {
		t.Errorf("calls = %d, want 2: errors are never cached", src.calls.Load())
	}
	if got := h.metric("gcache_error_counter_total", "in_fallback", "True", "error", "function"); got != 2 {
		t.Errorf("function errors counted %v times, want once per call", got)
	}
	if keys := h.redisKeys(); len(keys) != 0 {
		t.Errorf("Redis holds %q", keys)
	}
}

func TestFunctionRunsOnceWhenTheWriteFails(t *testing.T) {
	h := withRedis(t, Config{})
	uc := useCase[int64](t, h.c, UseCaseSpec{Name: "uc", Default: allLayers})
	// Reads still work; every write is refused.
	h.redis.Do("CONFIG", "SET", "maxmemory", "1")
	h.redis.Do("CONFIG", "SET", "maxmemory-policy", "noeviction")
	var src source
	src.value.Store(9)
	v, err := uc.Get(enabled, keyOf(uc, "1"), src.fn)
	if err != nil || v != 9 || src.calls.Load() != 1 {
		t.Fatalf("Get = %d, %v after %d calls; want 9, nil, 1 call", v, err, src.calls.Load())
	}
	h.settle()
	if got := h.metric("gcache_error_counter_total", "layer", "REMOTE", "error", "redis", "in_fallback", "False"); got != 1 {
		t.Errorf("REMOTE write errors = %v, want 1", got)
	}
}

func TestSingleFlight(t *testing.T) {
	h := withRedis(t, Config{})
	uc := useCase[int64](t, h.c, UseCaseSpec{Name: "uc", Default: allLayers})
	release := make(chan struct{})
	var src source
	fn := func(ctx context.Context) (int64, error) {
		<-release
		return src.fn(ctx)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for range 100 {
		wg.Go(func() {
			if _, err := uc.Get(enabled, keyOf(uc, "hot"), fn); err != nil {
				errs <- err
			}
		})
	}
	// Let every goroutine reach the flight before the function returns.
	eventually(t, "100 callers are waiting", func() bool {
		uc.flight.mu.Lock()
		defer uc.flight.mu.Unlock()
		return len(uc.flight.calls) == 1 && h.metric("gcache_miss_counter_total", "layer", "LOCAL") == 100
	})
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := src.calls.Load(); n != 1 {
		t.Errorf("function ran %d times for 100 concurrent misses, want 1", n)
	}
}

func TestCancelledWaiterDoesNotFailOthers(t *testing.T) {
	h := newHarness(t, Config{})
	uc := useCase[int64](t, h.c, UseCaseSpec{Name: "uc", Default: allLayers})
	release := make(chan struct{})
	started := make(chan struct{})
	fn := func(ctx context.Context) (int64, error) {
		close(started)
		<-release
		return 7, nil
	}
	leader := make(chan error, 1)
	go func() {
		_, err := uc.Get(enabled, keyOf(uc, "k"), fn)
		leader <- err
	}()
	<-started
	ctx, cancel := context.WithCancel(enabled)
	waiter := make(chan error, 1)
	go func() {
		_, err := uc.Get(ctx, keyOf(uc, "k"), fn)
		waiter <- err
	}()
	eventually(t, "the waiter waits", func() bool { return h.metric("gcache_miss_counter_total") == 2 })
	cancel()
	if err := <-waiter; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled waiter: %v, want context.Canceled", err)
	}
	close(release)
	if err := <-leader; err != nil {
		t.Errorf("leader: %v", err)
	}
}

func TestCancelledLeaderHandsOver(t *testing.T) {
	h := newHarness(t, Config{})
	uc := useCase[int64](t, h.c, UseCaseSpec{Name: "uc", Default: allLayers})
	leaderCtx, cancelLeader := context.WithCancel(enabled)
	started := make(chan struct{})
	var calls sync.Map
	leader := make(chan error, 1)
	go func() {
		_, err := uc.Get(leaderCtx, keyOf(uc, "k"), func(ctx context.Context) (int64, error) {
			calls.Store("leader", true)
			close(started)
			<-ctx.Done()
			return 0, ctx.Err()
		})
		leader <- err
	}()
	<-started
	waiter := make(chan int64, 1)
	go func() {
		v, err := uc.Get(enabled, keyOf(uc, "k"), func(context.Context) (int64, error) {
			calls.Store("waiter", true)
			return 42, nil
		})
		if err != nil {
			t.Error(err)
		}
		waiter <- v
	}()
	eventually(t, "the waiter waits", func() bool { return h.metric("gcache_miss_counter_total") == 2 })
	cancelLeader()
	if err := <-leader; !errors.Is(err, context.Canceled) {
		t.Errorf("leader: %v, want its own context's error", err)
	}
	if v := <-waiter; v != 42 {
		t.Errorf("waiter got %d, want 42 from its own call", v)
	}
	if got := h.metric("gcache_error_counter_total", "error", "function"); got != 1 {
		t.Errorf("function errors = %v", got)
	}
}

func TestRedisDownAtStart(t *testing.T) {
	h := newHarness(t, Config{Redis: &RedisConfig{Addrs: []string{"127.0.0.1:1"}}, RedisTimeout: 50 * time.Millisecond})
	uc := useCase[int64](t, h.c, UseCaseSpec{Name: "uc", Default: KeyConfig{Remote: LayerConfig{TTL: time.Minute, Ramp: 100}}})
	var src source
	for i := range 20 {
		src.value.Store(int64(i))
		if v, err := uc.Get(enabled, keyOf(uc, fmt.Sprint(i)), src.fn); v != int64(i) || err != nil {
			t.Fatalf("call %d = %d, %v", i, v, err)
		}
	}
	// go-redis retries the refused dial until the deadline: a timeout.
	if got := h.metric("gcache_error_counter_total", "layer", "REMOTE", "in_fallback", "False"); got < 1 {
		t.Errorf("REMOTE errors = %v, want some", got)
	}
	if got := h.metric("gcache_disabled_counter_total", "layer", "REMOTE", "reason", "server_down"); got < 1 {
		t.Errorf("server_down = %v, want the breaker to open", got)
	}
}

func TestRedisKilledAndBack(t *testing.T) {
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	h := withRedis(t, Config{Clock: clock, RedisTimeout: 100 * time.Millisecond, BreakerCooldown: time.Second})
	uc := useCase[int64](t, h.c, UseCaseSpec{Name: "uc", Default: KeyConfig{Remote: LayerConfig{TTL: time.Hour, Ramp: 100}}})
	var src source
	get := func(id string) int64 {
		t.Helper()
		v, err := uc.Get(enabled, keyOf(uc, id), src.fn)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	src.value.Store(1)
	get("a")
	h.redis.Kill()
	src.value.Store(2)
	for i := range 20 {
		if v := get(fmt.Sprint("k", i)); v != 2 {
			t.Fatalf("with Redis down, call %d = %d, want the function's 2", i, v)
		}
	}
	if h.metric("gcache_error_counter_total", "layer", "REMOTE") < 1 || h.metric("gcache_disabled_counter_total", "reason", "server_down") < 1 {
		t.Error("errors and server_down not counted")
	}
	h.redis.Restart()
	mu.Lock()
	now = now.Add(2 * time.Second) // past the breaker's cooldown
	mu.Unlock()
	eventually(t, "caching resumes", func() bool {
		get("b")
		n := src.calls.Load()
		get("b")
		return src.calls.Load() == n
	})
}

func TestFlushKeepsForeignKeys(t *testing.T) {
	h := withRedis(t, Config{KeyPrefix: "urn:app"})
	uc := useCase[int64](t, h.c, UseCaseSpec{Name: "uc", Default: allLayers})
	tracked := useCase[int64](t, h.c, UseCaseSpec{Name: "tr", Tracked: true, Default: allLayers})
	rdb := h.redis.Client()
	ctx := context.Background()
	for _, k := range []string{"foreign", "urn:other:T:1#uc", "urn:application:T:1#uc"} {
		rdb.Set(ctx, k, "x", 0)
	}
	var src source
	for i := range 5 {
		id := fmt.Sprint(i)
		uc.Get(enabled, keyOf(uc, id), src.fn)
		tracked.Get(enabled, keyOf(tracked, id), src.fn)
	}
	h.settle() // or the invalidation may refuse the fill of tracked 0
	if err := h.c.Invalidate(ctx, "T", "0"); err != nil {
		t.Fatal(err)
	}
	if n := len(h.redisKeys()); n != 3+10+1 {
		t.Fatalf("before Flush: %d keys", n)
	}
	if err := h.c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	want := []string{"foreign", "urn:application:T:1#uc", "urn:other:T:1#uc", "{urn:app:T:0}#watermark"}
	if keys := h.redisKeys(); !reflect.DeepEqual(keys, want) {
		t.Errorf("after Flush: %q, want %q", keys, want)
	}
	src.calls.Store(0)
	uc.Get(enabled, keyOf(uc, "1"), src.fn)
	if src.calls.Load() != 1 {
		t.Error("the local tier survived Flush")
	}
}

func TestDelete(t *testing.T) {
	h := withRedis(t, Config{})
	uc := useCase[int64](t, h.c, UseCaseSpec{Name: "uc", Default: allLayers})
	var src source
	uc.Get(enabled, keyOf(uc, "123"), src.fn)
	ok, err := h.c.Delete(context.Background(), Key{KeyType: "T", ID: "123", UseCase: "uc"})
	if !ok || err != nil {
		t.Fatalf("Delete = %v, %v", ok, err)
	}
	if keys := h.redisKeys(); len(keys) != 0 {
		t.Errorf("Redis holds %q", keys)
	}
	uc.Get(enabled, keyOf(uc, "123"), src.fn)
	if src.calls.Load() != 2 {
		t.Error("the entry survived Delete")
	}
	ok, err = h.c.Delete(context.Background(), Key{KeyType: "T", ID: "absent", UseCase: "uc"})
	if ok || err != nil {
		t.Errorf("Delete of an absent key = %v, %v", ok, err)
	}
}

func TestBadBytesAreACountedMiss(t *testing.T) {
	// Redis has time to answer on a busy machine: every read decodes.
	h := withRedis(t, Config{RedisTimeout: 5 * time.Second})
	type V struct{ A, B string }
	uc := useCase[V](t, h.c, UseCaseSpec{Name: "uc", Default: KeyConfig{Remote: LayerConfig{TTL: time.Minute, Ramp: 100}}})
	other := sealEnvelope(codecCBOR, 1, 12345, []byte{0xa0})
	huge := sealEnvelope(codecCBOR, 1, uc.fp, []byte{0x9b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	bomb := append(sealEnvelope(codecCBOR, 1, uc.fp, nil), 0xff, 0xff, 0xff, 0xff, 0x0f)
	bomb[3] |= flagS2
	for i, raw := range [][]byte{
		[]byte("truncated"), []byte("gc"), []byte("not ours, a pickle"), other, huge, bomb,
		sealEnvelope(codecCBOR, 1, uc.fp, []byte{0xff, 0x00}),
	} {
		key := keyOf(uc, fmt.Sprint(i))
		h.redis.Client().Set(context.Background(), key.str, raw, 0)
		want := V{A: fmt.Sprint(i)}
		v, err := uc.Get(enabled, key, func(context.Context) (V, error) { return want, nil })
		if err != nil || v != want {
			t.Errorf("bad value %d: Get = %v, %v", i, v, err)
		}
		h.settle() // the miss writes to Redis in the background
		got, _ := h.redis.Client().Get(context.Background(), key.str).Bytes()
		if _, payload, err := openEnvelope(got, codecCBOR, uc.fp, 1<<20); err != nil || len(payload) == 0 {
			t.Errorf("bad value %d was not overwritten: %q", i, got)
		}
	}
	if got := h.metric("gcache_error_counter_total", "error", "decode", "layer", "REMOTE"); got != 7 {
		t.Errorf("decode errors = %v, want 7", got)
	}
}

func TestOversizedValuesStayLocal(t *testing.T) {
	h := withRedis(t, Config{MaxValueSize: 1024})
	uc := useCase[[]byte](t, h.c, UseCaseSpec{Name: "uc", Default: allLayers})
	big := make([]byte, 4096)
	_, _ = rand.NewChaCha8([32]byte{1}).Read(big) // incompressible
	calls := 0
	for range 2 {
		uc.Get(enabled, keyOf(uc, "1"), func(context.Context) ([]byte, error) { calls++; return big, nil })
	}
	if calls != 1 {
		t.Errorf("calls = %d: the local tier should hold the value", calls)
	}
	if keys := h.redisKeys(); len(keys) != 0 {
		t.Errorf("Redis holds %q", keys)
	}
	if got := h.metric("gcache_error_counter_total", "error", "too_large"); got != 1 {
		t.Errorf("too_large = %v", got)
	}
}

func TestUseCaseRegistration(t *testing.T) {
	h := newHarness(t, Config{})
	if _, err := NewUseCase[int](h.c, UseCaseSpec{Name: "a", KeyType: "T"}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		spec UseCaseSpec
		want string
	}{
		{UseCaseSpec{Name: "a", KeyType: "T"}, "already registered"},
		{UseCaseSpec{Name: "watermark", KeyType: "T"}, "reserved"},
		{UseCaseSpec{Name: "a b", KeyType: "T"}, "use case name"},
		{UseCaseSpec{Name: "", KeyType: "T"}, "use case name"},
		{UseCaseSpec{Name: "b", KeyType: "T:1"}, "key type"},
		{UseCaseSpec{Name: "b", KeyType: "T", Default: KeyConfig{Local: LayerConfig{Ramp: 101}}}, "ramp 101"},
		{UseCaseSpec{Name: "b", KeyType: "T", Default: KeyConfig{Remote: LayerConfig{TTL: -1}}}, "negative"},
	} {
		_, err := NewUseCase[int](h.c, tc.spec)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewUseCase(%+v) = %v, want an error about %q", tc.spec, err, tc.want)
		}
	}
	_, err := NewUseCase[int](h.c, UseCaseSpec{Name: "a", KeyType: "T"})
	if !errors.Is(err, ErrUseCaseExists) {
		t.Errorf("duplicate: %v, want ErrUseCaseExists", err)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	client := redis.NewClient(&redis.Options{Addr: "x:1"})
	defer client.Close()
	ring := redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"a": "x:1", "b": "x:2"}})
	defer ring.Close()
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{Redis: &RedisConfig{Addrs: []string{"x:1"}}, RedisClient: client}, "both"},
		{Config{RedisClient: ring}, "Ring"},
		{Config{KeyPrefix: "a b"}, "KeyPrefix"},
		{Config{KeyPrefix: "a::b"}, "KeyPrefix"},
		{Config{KeyPrefix: ":a"}, "KeyPrefix"},
		{Config{KeyPrefix: "{a}"}, "KeyPrefix"},
		{Config{LocalMaxEntries: -1}, "LocalMaxEntries"},
		{Config{RedisTimeout: -time.Second}, "RedisTimeout"},
		{Config{BreakerCooldown: -1}, "BreakerCooldown"},
		{Config{MaxKeyLength: 10}, "MaxKeyLength"},
		{Config{Redis: &RedisConfig{}}, "Addrs"},
		{Config{Redis: &RedisConfig{Addrs: []string{"x:1"}, DB: -1}}, "DB"},
		{Config{Redis: &RedisConfig{Addrs: []string{"x:1"}, PoolSize: -1}}, "PoolSize"},
	} {
		c, err := New(tc.cfg)
		if err == nil {
			c.Close()
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%+v) = %v, want an error about %q", tc.cfg, err, tc.want)
		}
	}
}

func TestRedisConfigRedactsPassword(t *testing.T) {
	r := RedisConfig{Addrs: []string{"h:1"}, Username: "app", Password: "s3cr3t", SentinelPassword: "s3cr3t"}
	for _, s := range []string{r.String(), fmt.Sprint(r), fmt.Sprintf("%v", &r), r.LogValue().String()} {
		if strings.Contains(s, "s3cr3t") || !strings.Contains(s, "REDACTED") {
			t.Errorf("%q shows the password or hides that there is one", s)
		}
	}
}

func TestInfiniteValues(t *testing.T) {
	h := withRedis(t, Config{})
	uc := useCase[float64](t, h.c, UseCaseSpec{Name: "uc", Default: KeyConfig{Remote: LayerConfig{TTL: time.Minute, Ramp: 100}}})
	for _, f := range []float64{math.Inf(1), math.NaN(), -0.0} {
		uc.Get(enabled, keyOf(uc, fmt.Sprint(f)), func(context.Context) (float64, error) { return f, nil })
		h.settle()
		v, _ := uc.Get(enabled, keyOf(uc, fmt.Sprint(f)), func(context.Context) (float64, error) { return 0, errors.New("miss") })
		if math.Float64bits(v) != math.Float64bits(f) && !(math.IsNaN(v) && math.IsNaN(f)) {
			t.Errorf("%v round-tripped as %v", f, v)
		}
	}
}

func TestCallsAfterCloseAreServedUncached(t *testing.T) {
	h := withRedis(t, Config{})
	uc := useCase[int64](t, h.c, UseCaseSpec{Name: "uc", Default: allLayers})
	var src source
	uc.Get(enabled, keyOf(uc, "1"), src.fn)
	uc.Get(enabled, keyOf(uc, "1"), src.fn)
	if err := h.c.Close(); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := uc.Get(enabled, keyOf(uc, "1"), src.fn); err != nil {
			t.Fatal(err)
		}
	}
	if src.calls.Load() != 3 {
		t.Errorf("calls = %d, want 1 before Close and one per call after", src.calls.Load())
	}
	if got := h.metric("gcache_error_counter_total"); got != 0 {
		t.Errorf("%v errors counted after Close", got)
	}
	if _, err := NewUseCase[int](h.c, UseCaseSpec{Name: "late", KeyType: "T"}); err == nil {
		t.Error("a use case registered on a closed Cache")
	}
}
