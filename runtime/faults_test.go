package gcache

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gcache-go/gcache/internal/redistest"
)

// database is a versioned source: each entity has a version, which a write
// bumps. Reads return the version they saw.
type database struct {
	mu       sync.Mutex
	versions map[string]int64
	calls    atomic.Int64
	failing  func(id string) bool // ids whose reads fail, the function's own errors
}

var errNotFound = errors.New("not found")

func (d *database) read(id string) (int64, error) {
	d.calls.Add(1)
	if d.failing != nil && d.failing(id) {
		return 0, errNotFound
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.versions[id], nil
}

func (d *database) write(id string) int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.versions == nil {
		d.versions = map[string]int64{}
	}
	d.versions[id]++
	return d.versions[id]
}

// staleChecker records the invalidations that returned and the reads
// served, and reports a read that returned a version older than one whose
// invalidation had returned before the read began: at once on the
// instance that invalidated, after grace on the others (the time an event
// takes to reach them).
type staleChecker struct {
	grace time.Duration

	mu      sync.Mutex
	commits map[string][]commit
	stale   []string
	reads   int
}

type commit struct {
	version  int64
	at       time.Time
	instance int
}

func (c *staleChecker) invalidated(id string, version int64, instance int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.commits == nil {
		c.commits = map[string][]commit{}
	}
	c.commits[id] = append(c.commits[id], commit{version, time.Now(), instance})
}

func (c *staleChecker) read(id string, got int64, instance int, started time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reads++
	for _, w := range c.commits[id] {
		after := w.at
		if w.instance != instance {
			after = after.Add(c.grace)
		}
		if w.version > got && started.After(after) {
			c.stale = append(c.stale, fmt.Sprintf("instance %d read %s v%d at %v, after v%d was invalidated at %v by instance %d",
				instance, id, got, started.Format("15:04:05.000"), w.version, w.at.Format("15:04:05.000"), w.instance))
			return
		}
	}
}

func (c *staleChecker) report(t *testing.T) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	invalidations := 0
	for _, commits := range c.commits {
		invalidations += len(commits)
	}
	t.Logf("checked %d reads against %d invalidations: %d stale", c.reads, invalidations, len(c.stale))
	if len(c.stale) > 0 {
		n := min(len(c.stale), 10)
		t.Errorf("%d stale reads of %d, such as:\n%v", len(c.stale), c.reads, c.stale[:n])
	}
}

// TestRedisKilledUnderLoad: while Redis is dead every call is served by
// the function, failures are counted, and the breaker stops calls from
// trying Redis, so that they stop paying for it; once Redis is back and
// the cooldown over, the same Cache caches again.
func TestRedisKilledUnderLoad(t *testing.T) {
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	h := withRedis(t, Config{Clock: clock, RedisTimeout: 100 * time.Millisecond, BreakerThreshold: 5, BreakerCooldown: time.Second})
	uc := useCase[int64](t, h.c, UseCaseSpec{Name: "uc", Default: KeyConfig{Remote: LayerConfig{TTL: time.Hour, Ramp: 100}}})
	db := &database{}
	get := func(id string) (int64, error) {
		return uc.Get(enabled, keyOf(uc, id), func(context.Context) (int64, error) { return db.read(id) })
	}
	h.redis.Kill()
	db.write("x")
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				id := fmt.Sprint("k", g, "-", i%5)
				if v, err := get(id); err != nil || v != 0 {
					t.Errorf("call with Redis dead = %d, %v", v, err)
				}
				if v, err := get("x"); err != nil || v != 1 {
					t.Errorf("call with Redis dead = %d, %v", v, err)
				}
			}
		})
	}
	wg.Wait()
	// Reads and writes try Redis until the breaker opens, and calls in
	// flight when it opens still fail; every read after that skips Redis.
	// (Callers that share another's load, or take a value whose write is
	// under way, make no Redis call at all.)
	tried := h.metric("gcache_get_timer", "layer", "REMOTE") // reads that reached the client
	skipped := h.metric("gcache_disabled_counter_total", "reason", "server_down")

	if errs := h.metric("gcache_error_counter_total", "layer", "REMOTE"); errs < 5 {
		t.Errorf("REMOTE errors = %v, want at least the threshold", errs)
	}
	if tried > 5+8 {
		t.Errorf("%v reads tried a dead Redis: want the threshold, plus at most the calls in flight", tried)
	}
	if skipped == 0 {
		t.Errorf("server_down = %v: the breaker did not hold Redis off", skipped)
	}

	h.redis.Restart()
	mu.Lock()
	now = now.Add(2 * time.Second)
	mu.Unlock()
	eventually(t, "the same Cache caches again", func() bool {
		get("y")
		n := db.calls.Load()
		get("y")
		return db.calls.Load() == n
	})
}

// TestRedisHung: a Redis that accepts connections and answers nothing
// (SIGSTOP) holds no call past the deadline; once it answers again, the
// Cache recovers.
func TestRedisHung(t *testing.T) {
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	h := withRedis(t, Config{Clock: clock, RedisTimeout: 100 * time.Millisecond})
	uc := useCase[int64](t, h.c, trackedSpec("uc", KeyConfig{Remote: LayerConfig{TTL: time.Hour, Ramp: 100}}).withKeyType("T"))
	db := &database{}
	get := func(ctx context.Context, id string) (int64, error) {
		return uc.Get(ctx, keyOf(uc, id), func(context.Context) (int64, error) { return db.read(id) })
	}
	h.redis.Pause()
	var slow atomic.Int64
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 10 {
				// A watchdog, not a timing assertion: a call held past 5 s
				// by a 100 ms deadline is a hang.
				ctx, cancel := context.WithTimeout(enabled, 5*time.Second)
				start := time.Now()
				v, err := get(ctx, fmt.Sprint(g, i))
				cancel()
				if err != nil || v != 0 {
					t.Errorf("call with Redis hung = %d, %v", v, err)
				}
				if time.Since(start) > 2*time.Second {
					slow.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if slow.Load() > 0 {
		t.Errorf("%d calls were held for seconds by a hung Redis", slow.Load())
	}
	if h.metric("gcache_error_counter_total", "error", "timeout") < 1 {
		t.Error("no timeout counted")
	}
	h.redis.Resume()
	mu.Lock()
	now = now.Add(2 * time.Second)
	mu.Unlock()
	eventually(t, "the Cache caches again", func() bool {
		get(enabled, "after")
		n := db.calls.Load()
		get(enabled, "after")
		return db.calls.Load() == n
	})
}

func (s UseCaseSpec) withKeyType(kt string) UseCaseSpec { s.KeyType = kt; return s }

// TestCloseWithRedisHung: Close returns while Redis answers nothing.
func TestCloseWithRedisHung(t *testing.T) {
	h := withRedis(t, Config{RedisTimeout: 100 * time.Millisecond})
	h.redis.Pause()
	defer h.redis.Resume()
	done := make(chan error, 1)
	go func() { done <- h.c.Close() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close hung with Redis paused")
	}
}

// TestRedisRestartedEmpty: a restart takes the watermarks with the
// entries. No tracked value invalidated meanwhile is served afterwards,
// from either tier of either instance: local tracked entries made before
// the instances resubscribed are dropped. With the outage mode off, none
// is served during the outage either.
func TestRedisRestartedEmpty(t *testing.T) {
	a, b := pair(t, Config{RedisTimeout: 100 * time.Millisecond, BreakerCooldown: 50 * time.Millisecond, OutageStaleness: -1})
	db := &database{}
	ucs := []*UseCase[int64]{
		useCase[int64](t, a.c, trackedSpec("P", allLayers)),
		useCase[int64](t, b.c, trackedSpec("P", allLayers)),
	}
	get := func(i int) int64 {
		v, err := ucs[i].Get(enabled, keyOf(ucs[i], "7"), func(context.Context) (int64, error) { return db.read("7") })
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	db.write("7")
	get(0)
	get(1) // both instances hold v1 locally, Redis holds it too
	a.redis.Kill()
	v := db.write("7")
	if err := a.c.Invalidate(context.Background(), "user_id", "7"); err == nil {
		t.Fatal("Invalidate succeeded with Redis dead")
	}
	for i := range 2 {
		if got := get(i); got != v {
			t.Errorf("instance %d during the outage read v%d, want v%d", i, got, v)
		}
	}
	a.redis.Restart()
	a.waitLive()
	b.waitLive()
	for range 3 {
		for i := range 2 {
			if got := get(i); got != v {
				t.Errorf("instance %d after the restart read v%d, want v%d", i, got, v)
			}
		}
	}
}

// TestSubscriptionKilledRepeatedlyUnderLoad kills the event subscriptions
// again and again while two instances read and invalidate; no read is
// stale, and propagation recovers each time.
func TestSubscriptionKilledRepeatedlyUnderLoad(t *testing.T) {
	a, b := pair(t, Config{})
	caches := []*harness{a, b}
	localOnly := KeyConfig{Local: LayerConfig{TTL: time.Hour, Ramp: 100}}
	ucs := []*UseCase[int64]{useCase[int64](t, a.c, trackedSpec("P", localOnly)), useCase[int64](t, b.c, trackedSpec("P", localOnly))}
	db := &database{}
	check := &staleChecker{grace: time.Second}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for inst := range 2 {
		for g := range 4 {
			wg.Go(func() {
				r := rand.New(rand.NewPCG(uint64(inst), uint64(g)))
				for {
					select {
					case <-stop:
						return
					default:
					}
					id := fmt.Sprint(r.IntN(5))
					if r.IntN(10) == 0 {
						v := db.write(id)
						if caches[inst].c.Invalidate(context.Background(), "user_id", id) == nil {
							check.invalidated(id, v, inst)
						}
						continue
					}
					start := time.Now()
					v, err := ucs[inst].Get(enabled, keyOf(ucs[inst], id), func(context.Context) (int64, error) { return db.read(id) })
					if err != nil {
						t.Error(err)
						return
					}
					check.read(id, v, inst, start)
				}
			})
		}
	}
	for range 10 {
		time.Sleep(100 * time.Millisecond)
		a.redis.Client().ClientKillByFilter(context.Background(), "TYPE", "pubsub")
	}
	time.Sleep(200 * time.Millisecond)
	close(stop)
	wg.Wait()
	check.report(t)
	// Propagation works after the last kill.
	a.waitLive()
	b.waitLive()
	v := db.write("0")
	if err := a.c.Invalidate(context.Background(), "user_id", "0"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "B sees the last invalidation", func() bool {
		got, _ := ucs[1].Get(enabled, keyOf(ucs[1], "0"), func(context.Context) (int64, error) { return db.read("0") })
		return got == v
	})
}

// TestProviderFaults: a provider that blocks until its context ends, or
// past it, leaves the call served by the function and counted.
func TestProviderFaults(t *testing.T) {
	block := func(ctx context.Context, _ *Key) (*KeyConfig, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	overrun := func(ctx context.Context, _ *Key) (*KeyConfig, error) {
		<-ctx.Done()
		return &allLayers, nil // late, and it ignores the context's error
	}
	for name, p := range map[string]ConfigProvider{"blocks until its context ends": block, "answers after its context ended": overrun} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, Config{ConfigProvider: p})
			uc := useCase[int64](t, h.c, UseCaseSpec{Name: "uc", Default: allLayers})
			ctx, cancel := context.WithTimeout(enabled, 20*time.Millisecond)
			defer cancel()
			v, err := uc.Get(ctx, keyOf(uc, "1"), func(context.Context) (int64, error) { return 42, nil })
			if v != 42 || err != nil {
				t.Errorf("Get = %d, %v; want the function's 42", v, err)
			}
			if got := h.metric("gcache_disabled_counter_total", "reason", "config_error"); got != 1 {
				t.Errorf("config_error = %v, want 1", got)
			}
		})
	}
}

var soakFor = flag.Duration("soak", 8*time.Second, "how long TestSoak runs at least")

// Past soakFor, TestSoak goes on until it has done this much, or for
// soakLimit in all: a starved machine does less in the same time.
const (
	soakReads         = 10_000
	soakInvalidations = 200
	soakLimit         = 2 * time.Minute
)

// TestSoak runs two instances × 32 goroutines of reads, misses, failing
// calls and invalidations over zipf-distributed keys (8 s at least; -soak
// sets it), with a Redis restart in the middle. A read is stale when it
// returns a version older than one whose invalidation returned before it
// began: on the invalidating instance at once, on the other within the
// outage mode's bound plus the events' (the other instance may be in the
// outage mode while Redis is down, or while it is starved).
func TestSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("the soak runs in the full suite")
	}
	const (
		keys     = 2000
		maxLocal = 300
	)
	duration := *soakFor
	srv := redistest.Start(t)
	startGoroutines := runtime.NumGoroutine()
	cfg := Config{LocalMaxEntries: maxLocal, RedisTimeout: 100 * time.Millisecond, BreakerCooldown: 100 * time.Millisecond,
		Redis: &RedisConfig{Addrs: []string{srv.Addr()}}}
	a, b := newHarness(t, cfg), newHarness(t, cfg)
	a.redis, b.redis = srv, srv
	a.waitLive()
	b.waitLive()
	caches := []*harness{a, b}
	db := &database{failing: func(id string) bool { return len(id) > 0 && id[len(id)-1] == '7' && len(id) > 2 }}
	check := &staleChecker{grace: DefaultOutageStaleness + 100*time.Millisecond}
	var ucs [2][2]*UseCase[int64]
	for i, h := range caches {
		ucs[i][0] = useCase[int64](t, h.c, trackedSpec("Tracked", allLayers))
		ucs[i][1] = useCase[int64](t, h.c, UseCaseSpec{Name: "Plain", KeyType: "item", Default: allLayers})
	}
	var served, failed, ownErrors, invalidations atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for inst := range 2 {
		for g := range 32 {
			wg.Go(func() {
				r := rand.New(rand.NewPCG(uint64(inst), uint64(g)))
				zipf := rand.NewZipf(r, 1.1, 1, keys-1)
				for {
					select {
					case <-stop:
						return
					default:
					}
					id := fmt.Sprint(zipf.Uint64())
					tracked := r.IntN(2) == 0
					if tracked && r.IntN(20) == 0 {
						v := db.write(id)
						if caches[inst].c.Invalidate(context.Background(), "user_id", id) == nil {
							check.invalidated(id, v, inst)
							invalidations.Add(1)
						}
						continue
					}
					uc := ucs[inst][1]
					if tracked {
						uc = ucs[inst][0]
					}
					start := time.Now()
					v, err := uc.Get(enabled, keyOf(uc, id), func(context.Context) (int64, error) { return db.read(id) })
					switch {
					case errors.Is(err, errNotFound):
						ownErrors.Add(1)
					case err != nil:
						failed.Add(1)
						t.Errorf("a call failed: %v", err)
					default:
						served.Add(1)
						if tracked {
							check.read(id, v, inst, start)
						}
					}
				}
			})
		}
	}
	began := time.Now()
	time.Sleep(duration / 2)
	a.redis.Kill()
	time.Sleep(300 * time.Millisecond)
	a.redis.Restart()
	time.Sleep(duration / 2)
	for time.Since(began) < soakLimit && (served.Load() < soakReads || invalidations.Load() < soakInvalidations) {
		time.Sleep(100 * time.Millisecond)
	}
	close(stop)
	wg.Wait()

	t.Logf("in %v: served %d calls, %d of the function's own errors, %d failures, %d invalidations",
		time.Since(began).Round(time.Millisecond), served.Load(), ownErrors.Load(), failed.Load(), invalidations.Load())
	if served.Load() < soakReads || invalidations.Load() < soakInvalidations {
		t.Logf("the soak did less than it aims to in %v: a starved machine", soakLimit)
	}
	check.report(t)
	for i, h := range caches {
		for j, uc := range ucs[i] {
			uc.local.CleanUp()
			if n := uc.local.EstimatedSize(); n > maxLocal {
				t.Errorf("instance %d use case %d: %d local entries, over the bound of %d", i, j, n, maxLocal)
			}
		}
		h.c.Close()
	}
	eventually(t, "the goroutines end", func() bool {
		return runtime.NumGoroutine() <= startGoroutines
	})
}
