package gcache

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gcache-go/gcache/internal/clocktest"
	"github.com/gcache-go/gcache/internal/redistest"
	"github.com/redis/go-redis/v9"
)

// peer returns another Cache on h's Redis, as another instance of a
// service would have, with cfg's other settings.
func (h *harness) peer(cfg Config) *harness {
	h.t.Helper()
	cfg.Redis = &RedisConfig{Addrs: []string{h.redis.Addr()}}
	p := newHarness(h.t, cfg)
	p.redis = h.redis
	p.waitLive()
	return p
}

// TestRefreshLandsAfterTheWriteItReplaces: the miss's write of value 1
// waits in the backlog (a starved worker) while a refresh makes value 2.
// The held write must not land after the refresh's and put 1 back in
// Redis: an untracked write is a plain SET, and the last to land wins.
func TestRefreshLandsAfterTheWriteItReplaces(t *testing.T) {
	clock := clocktest.New()
	h := withRedis(t, Config{Clock: clock.Now, RedisTimeout: 5 * time.Second})
	cfg := KeyConfig{Local: LayerConfig{TTL: 10 * time.Second, Ramp: 100}, Remote: LayerConfig{TTL: 10 * time.Second, Ramp: 100}, RefreshAt: 0.5}
	uc := useCase[int64](t, h.c, UseCaseSpec{Name: "uc", Default: cfg})
	key := keyOf(uc, "1")

	held, release := holdFirstWrite(t)
	var value atomic.Int64
	value.Store(1)
	fn := func(context.Context) (int64, error) { return value.Load(), nil }
	if v, err := uc.Get(enabled, key, fn); v != 1 || err != nil {
		t.Fatalf("first call: %d, %v", v, err)
	}
	<-held // the miss's write of 1 waits
	value.Store(2)
	clock.Advance(6 * time.Second) // past the refresh point
	if v, err := uc.Get(enabled, key, fn); v != 1 || err != nil {
		t.Fatalf("hit past the refresh point: %d, %v", v, err)
	}
	refreshed := func() bool {
		return h.metric("gcache_refresh_counter_total", "use_case", "uc", "layer", "LOCAL", "result", "ok") >= 1
	}
	// A refresh that does not wait for the held write is done within a
	// second; one that waits is not, and the held write goes then.
	for end := time.Now().Add(time.Second); !refreshed() && time.Now().Before(end); {
		time.Sleep(5 * time.Millisecond)
	}
	release()
	eventually(t, "the refresh is counted", refreshed)
	h.settle()
	if res, ok := uc.getRemote(enabled, &plan{key: &key, cfg: &cfg}); !ok || res.val != 2 {
		t.Errorf("Redis holds %v (found %v), want the refreshed 2: the older write landed after it", res.val, ok)
	}
}

// TestEarlyRefresh: past the refresh point a hit is served the value it
// finds at once while one background call refreshes it, however many hits
// come meanwhile; a refresh that fails leaves the old value served, and is
// counted.
func TestEarlyRefresh(t *testing.T) {
	clock := clocktest.New()
	// Redis has time to answer on a busy machine: the refresh's write lands.
	h := withRedis(t, Config{Clock: clock.Now, RedisTimeout: 5 * time.Second})
	cfg := KeyConfig{Local: LayerConfig{TTL: 10 * time.Second, Ramp: 100}, Remote: LayerConfig{TTL: 10 * time.Second, Ramp: 100}, RefreshAt: 0.5}
	uc := useCase[int64](t, h.c, UseCaseSpec{Name: "uc", Default: cfg})
	key := keyOf(uc, "1")

	var calls atomic.Int64
	var value atomic.Int64
	var fail atomic.Bool
	gate := make(chan struct{})
	fn := func(ctx context.Context) (int64, error) {
		if calls.Add(1) > 1 {
			<-gate // a refresh: held until the test lets it go
		}
		if fail.Load() {
			return 0, errors.New("backend down")
		}
		return value.Load(), nil
	}
	value.Store(1)
	if v, err := uc.Get(enabled, key, fn); v != 1 || err != nil {
		t.Fatalf("first call: %d, %v", v, err)
	}
	// Before the refresh point (at 45–50% of the TTL), hits refresh nothing.
	clock.Advance(4 * time.Second)
	if v, _ := uc.Get(enabled, key, fn); v != 1 || calls.Load() != 1 {
		t.Fatalf("before the refresh point: value %d, %d calls", v, calls.Load())
	}

	clock.Advance(2 * time.Second)
	value.Store(2)
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			if v, err := uc.Get(enabled, key, fn); v != 1 || err != nil {
				t.Errorf("hit during the refresh: %d, %v; want the old value at once", v, err)
			}
		})
	}
	wg.Wait() // every hit returned while the refresh is held at the gate
	eventually(t, "the refresh calls the function", func() bool { return calls.Load() == 2 })
	if n := calls.Load(); n != 2 {
		t.Fatalf("%d calls after 50 hits past the refresh point; want the first and one refresh", n)
	}
	gate <- struct{}{}
	eventually(t, "the refreshed value is served", func() bool {
		v, _ := uc.Get(enabled, key, fn)
		return v == 2
	})
	// The refresh is counted once it has written Redis, after the local
	// tier serves its value.
	eventually(t, "the refresh is counted", func() bool {
		return h.metric("gcache_refresh_counter_total", "use_case", "uc", "layer", "LOCAL", "result", "ok") >= 1
	})
	if got := h.metric("gcache_refresh_counter_total", "use_case", "uc", "layer", "LOCAL", "result", "ok"); got != 1 {
		t.Errorf("refresh_counter{result=ok} = %v, want 1", got)
	}
	// The refreshed value reached Redis too.
	h.settle()
	if res, ok := uc.getRemote(enabled, &plan{key: &key, cfg: &cfg}); !ok || res.val != 2 {
		t.Errorf("Redis holds %v (found %v), want the refreshed 2", res.val, ok)
	}

	// A refresh that fails keeps the old value.
	fail.Store(true)
	clock.Advance(6 * time.Second)
	if v, err := uc.Get(enabled, key, fn); v != 2 || err != nil {
		t.Fatalf("hit past the second refresh point: %d, %v", v, err)
	}
	gate <- struct{}{}
	eventually(t, "the failed refresh is counted", func() bool {
		return h.metric("gcache_refresh_counter_total", "use_case", "uc", "result", "error") == 1
	})
	if v, err := uc.Get(enabled, key, fn); v != 2 || err != nil {
		t.Errorf("after a failed refresh: %d, %v; want the old value", v, err)
	}
	if got := h.metric("gcache_error_counter_total", "use_case", "uc", "error", "function"); got < 1 {
		t.Errorf("the refresh's error is not counted as the function's")
	}
	close(gate)
}

// TestEarlyRefreshAcrossInstances: with a lease, of several instances that
// hit an entry past its refresh point, one refreshes it; the others leave
// it to that one.
func TestEarlyRefreshAcrossInstances(t *testing.T) {
	clock := clocktest.New()
	cfg := KeyConfig{Local: LayerConfig{TTL: 10 * time.Second, Ramp: 100}, Remote: LayerConfig{TTL: time.Minute, Ramp: 100}, RefreshAt: 0.5, Lease: 5 * time.Second}
	first := withRedis(t, Config{Clock: clock.Now})
	hs := []*harness{first, first.peer(Config{Clock: clock.Now}), first.peer(Config{Clock: clock.Now}), first.peer(Config{Clock: clock.Now})}
	var calls atomic.Int64
	gate := make(chan struct{})
	fn := func(ctx context.Context) (int64, error) {
		if calls.Add(1) > 1 {
			<-gate
		}
		return calls.Load(), nil
	}
	ucs := make([]*UseCase[int64], len(hs))
	for i, h := range hs {
		ucs[i] = useCase[int64](t, h.c, UseCaseSpec{Name: "uc", Default: cfg})
		if v, err := ucs[i].Get(enabled, keyOf(ucs[i], "1"), fn); v != 1 || err != nil {
			t.Fatalf("instance %d: %d, %v", i, v, err)
		}
	}
	if calls.Load() != 1 {
		t.Fatalf("%d calls to fill 4 instances; want 1, then Redis", calls.Load())
	}
	clock.Advance(31 * time.Second) // past half of the remote TTL
	for i, uc := range ucs {
		// The local entries expired; Redis's is due for refresh.
		if v, err := uc.Get(enabled, keyOf(uc, "1"), fn); v != 1 || err != nil {
			t.Fatalf("instance %d past the refresh point: %d, %v", i, v, err)
		}
	}
	eventually(t, "three instances leave the refresh to the lease holder", func() bool {
		leased := 0.0
		for _, h := range hs {
			leased += h.metric("gcache_refresh_counter_total", "result", "leased")
		}
		return leased == 3
	})
	if n := calls.Load(); n != 2 {
		t.Errorf("%d calls; want the first and one refresh across 4 instances", n)
	}
	close(gate)
}

var errNoUser = errors.New("not found")

// TestNegativeCaching: the function's "not found" is cached in both tiers
// for its own TTL and replayed as the sentinel without calling the
// function; an invalidation clears it; other errors are never cached.
func TestNegativeCaching(t *testing.T) {
	a := withRedis(t, Config{})
	b := a.peer(Config{})
	cfg := KeyConfig{Local: LayerConfig{TTL: time.Minute, Ramp: 100}, Remote: LayerConfig{TTL: time.Hour, Ramp: 100}, NegativeTTL: 30 * time.Second}
	spec := UseCaseSpec{Name: "GetUser", KeyType: "user_id", Tracked: true, Negative: errNoUser, Default: cfg}
	ucA, ucB := useCase[string](t, a.c, spec), useCase[string](t, b.c, spec)

	var calls atomic.Int64
	var exists atomic.Bool
	fn := func(ctx context.Context) (string, error) {
		calls.Add(1)
		if !exists.Load() {
			return "", fmt.Errorf("user 7: %w", errNoUser)
		}
		return "ada", nil
	}
	_, err := ucA.Get(enabled, keyOf(ucA, "7"), fn)
	if !errors.Is(err, errNoUser) || err.Error() != "user 7: not found" {
		t.Fatalf("first call: %v; want the function's own error", err)
	}
	_, err = ucA.Get(enabled, keyOf(ucA, "7"), fn)
	if err != errNoUser || calls.Load() != 1 {
		t.Fatalf("second call: %v after %d calls; want the sentinel, from the local tier", err, calls.Load())
	}
	a.settle()
	_, err = ucB.Get(enabled, keyOf(ucB, "7"), fn)
	if err != errNoUser || calls.Load() != 1 {
		t.Fatalf("another instance: %v after %d calls; want the sentinel, from Redis", err, calls.Load())
	}
	if got := a.metric("gcache_negative_hit_counter_total", "use_case", "GetUser", "layer", "LOCAL"); got != 1 {
		t.Errorf("negative hits LOCAL = %v, want 1", got)
	}
	if got := b.metric("gcache_negative_hit_counter_total", "use_case", "GetUser", "layer", "REMOTE"); got != 1 {
		t.Errorf("negative hits REMOTE = %v, want 1", got)
	}
	key := keyOf(ucA, "7")
	if ttl := a.redis.Client().PTTL(context.Background(), key.String()).Val(); ttl <= 0 || ttl > 30*time.Second {
		t.Errorf("the negative entry lives %v in Redis, want its own 30s", ttl)
	}

	exists.Store(true)
	if err := a.c.Invalidate(context.Background(), "user_id", "7"); err != nil {
		t.Fatal(err)
	}
	if v, err := ucA.Get(enabled, keyOf(ucA, "7"), fn); v != "ada" || err != nil || calls.Load() != 2 {
		t.Fatalf("after Invalidate: %q, %v after %d calls; want the function's value", v, err, calls.Load())
	}
	eventually(t, "the other instance sees the user", func() bool {
		v, err := ucB.Get(enabled, keyOf(ucB, "7"), fn)
		return v == "ada" && err == nil
	})

	// Other errors are never cached, nor is "not found" without a TTL.
	other := useCase[string](t, a.c, UseCaseSpec{Name: "Other", KeyType: "user_id", Negative: errNoUser, Default: allLayers})
	boom := errors.New("boom")
	var otherCalls atomic.Int64
	for _, e := range []error{boom, boom, errNoUser, errNoUser} {
		_, err := other.Get(enabled, keyOf(other, "1"), func(context.Context) (string, error) { otherCalls.Add(1); return "", e })
		if err != e {
			t.Fatalf("got %v, want the function's %v", err, e)
		}
	}
	if otherCalls.Load() != 4 {
		t.Errorf("%d calls for 4 uncacheable errors", otherCalls.Load())
	}
}

// countingClient returns a client of srv that logs every command it sends.
func countingClient(t *testing.T, srv *redistest.Server) (*redis.Client, *commandLog) {
	log := &commandLog{}
	client := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	client.AddHook(log.hook("single"))
	t.Cleanup(func() { _ = client.Close() })
	return client, log
}

func (l *commandLog) names() []string {
	var out []string
	for _, c := range l.data() {
		out = append(out, c[len("single "):])
	}
	return out
}

// TestBatch: a batch reads what the tiers hold and calls the function once
// for the rest; another instance then serves the whole batch with one
// MGET; invalidating one id reaches only that id, and only its key; the
// per-id keys are the single-call form.
func TestBatch(t *testing.T) {
	a := withRedis(t, Config{})
	client, log := countingClient(t, a.redis)
	b := newHarness(t, Config{RedisClient: client})
	b.redis = a.redis
	b.waitLive()
	spec := UseCaseSpec{Name: "GetUsers", KeyType: "user_id", Tracked: true, Default: allLayers}
	ucA, ucB := useCase[string](t, a.c, spec), useCase[string](t, b.c, spec)

	var mu sync.Mutex
	var batches [][]int
	fn := func(ctx context.Context, ids []int) (map[int]string, error) {
		mu.Lock()
		batches = append(batches, slices.Clone(ids))
		mu.Unlock()
		out := map[int]string{}
		for _, id := range ids {
			if id != 404 {
				out[id] = "user-" + strconv.Itoa(id)
			}
		}
		return out, nil
	}
	key := func(b []byte, id int) ([]byte, int, error) {
		b = AppendInt(b, int64(id))
		return b, len(b), nil
	}
	takeBatches := func() [][]int {
		mu.Lock()
		defer mu.Unlock()
		out := batches
		batches = nil
		return out
	}
	ids := make([]int, 100)
	for i := range ids {
		ids[i] = i
	}

	if _, err := GetBatch(enabled, ucA, ids[:10], key, fn); err != nil {
		t.Fatal(err)
	}
	takeBatches()
	got, err := GetBatch(enabled, ucA, append(ids, 5, 50), key, fn) // with repeats
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 100 || got[0] != "user-0" || got[99] != "user-99" {
		t.Fatalf("got %d values, [0]=%q [99]=%q", len(got), got[0], got[99])
	}
	calls := takeBatches()
	if len(calls) != 1 || !slices.Equal(calls[0], ids[10:]) {
		t.Fatalf("the function got %v; want one call with ids 10..99", calls)
	}
	a.settle()
	if keys := a.redisKeys(); !slices.Contains(keys, "{urn:user_id:7}#GetUsers") || !slices.Contains(keys, "{urn:user_id:99}#GetUsers") {
		t.Errorf("Redis keys %v; want one per id, in the single-call form", keys[:3])
	}

	log.reset()
	got, err = GetBatch(enabled, ucB, ids, key, fn)
	if err != nil || len(got) != 100 || got[42] != "user-42" {
		t.Fatalf("another instance: %d values, [42]=%q, %v", len(got), got[42], err)
	}
	if calls := takeBatches(); len(calls) != 0 {
		t.Errorf("the other instance called the function with %v", calls)
	}
	if cmds := log.names(); !slices.Equal(cmds, []string{"mget"}) {
		t.Errorf("the other instance sent %v; want one MGET for 100 ids", cmds)
	}

	// Invalidate one id: the next batch on either instance asks for it alone.
	before := time.Now().UnixNano()
	if err := a.c.Invalidate(context.Background(), "user_id", "7"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the invalidation reaches the other instance", func() bool {
		return b.c.wm.invalidatedSince("{urn:user_id:7}", before)
	})
	// Past the clocks' error: a call begun sooner may have begun before
	// the invalidation, and its value is not stored.
	a.pastClockError()
	b.pastClockError()
	if _, err := GetBatch(enabled, ucB, ids, key, fn); err != nil {
		t.Fatal(err)
	}
	if calls := takeBatches(); len(calls) != 1 || !slices.Equal(calls[0], []int{7}) {
		t.Errorf("after invalidating id 7 the function got %v; want [7] alone", calls)
	}
	b.settle()
	if _, err := GetBatch(enabled, ucA, ids, key, fn); err != nil {
		t.Fatal(err)
	}
	if calls := takeBatches(); len(calls) != 0 {
		t.Errorf("the instance that invalidated called the function with %v; the other refilled Redis", calls)
	}

	// An id the function leaves out is not found, and not cached.
	for range 2 {
		got, err := GetBatch(enabled, ucA, []int{1, 404}, key, fn)
		if _, ok := got[404]; ok || err != nil || got[1] != "user-1" {
			t.Fatalf("with a missing id: %v, %v", got, err)
		}
	}
	if calls := takeBatches(); len(calls) != 2 || !slices.Equal(calls[1], []int{404}) {
		t.Errorf("a missing id: the function got %v; want [404] each time", calls)
	}

	// Outside Enable, and on the function's error, the batch is the
	// function's.
	if _, err := GetBatch(context.Background(), ucA, ids[:3], key, fn); err != nil {
		t.Fatal(err)
	}
	if calls := takeBatches(); len(calls) != 1 || len(calls[0]) != 3 {
		t.Errorf("outside Enable the function got %v", calls)
	}
	boom := errors.New("boom")
	if m, err := GetBatch(enabled, ucA, []int{500, 501}, key, func(context.Context, []int) (map[int]string, error) { return nil, boom }); m != nil || err != boom {
		t.Errorf("on the function's error: %v, %v", m, err)
	}
}

// TestBatchRemoteRefusesStaleFill: a batch whose function call began
// before an invalidation does not store its values for the invalidated
// entity.
func TestBatchRemoteRefusesStaleFill(t *testing.T) {
	h := withRedis(t, Config{})
	uc := useCase[string](t, h.c, UseCaseSpec{Name: "GetUsers", KeyType: "user_id", Tracked: true, Default: allLayers})
	key := func(b []byte, id int) ([]byte, int, error) {
		b = AppendInt(b, int64(id))
		return b, len(b), nil
	}
	fn := func(ctx context.Context, ids []int) (map[int]string, error) {
		if err := h.c.Invalidate(ctx, "user_id", "2"); err != nil {
			t.Error(err)
		}
		return map[int]string{1: "one", 2: "two (stale)"}, nil
	}
	if _, err := GetBatch(enabled, uc, []int{1, 2}, key, fn); err != nil {
		t.Fatal(err)
	}
	h.settle()
	keys := h.redisKeys()
	if !slices.Contains(keys, "{urn:user_id:1}#GetUsers") || slices.Contains(keys, "{urn:user_id:2}#GetUsers") {
		t.Errorf("Redis keys %v; want id 1's value and not id 2's", keys)
	}
	if _, ok := uc.lookupLocal("{urn:user_id:2}#GetUsers", &allLayers); ok {
		t.Error("the local tier serves id 2's value from before its invalidation")
	}
}

// stampede calls id on perInstance goroutines of each instance at once,
// with a function that takes work, and returns how many times the
// function ran.
func stampede(tb testing.TB, ucs []*UseCase[int64], id string, perInstance int, work time.Duration) int64 {
	var calls atomic.Int64
	fn := func(ctx context.Context) (int64, error) {
		calls.Add(1)
		time.Sleep(work)
		return 42, nil
	}
	start := make(chan struct{})
	var wg sync.WaitGroup
	for _, uc := range ucs {
		key := keyOf(uc, id)
		for range perInstance {
			wg.Go(func() {
				<-start
				if v, err := uc.Get(enabled, key, fn); v != 42 || err != nil {
					tb.Errorf("got %d, %v", v, err)
				}
			})
		}
	}
	close(start)
	wg.Wait()
	return calls.Load()
}

// TestLeaseStampede: 4 instances × 250 goroutines miss one key at once;
// with a lease the function runs once across all of them.
func TestLeaseStampede(t *testing.T) {
	first := withRedis(t, Config{})
	hs := []*harness{first, first.peer(Config{}), first.peer(Config{}), first.peer(Config{})}
	cfg := allLayers
	cfg.Lease = 5 * time.Second
	ucs := make([]*UseCase[int64], len(hs))
	for i, h := range hs {
		ucs[i] = useCase[int64](t, h.c, UseCaseSpec{Name: "uc", Default: cfg})
	}
	if n := stampede(t, ucs, "hot", 250, 50*time.Millisecond); n != 1 {
		t.Fatalf("the function ran %d times for 1,000 callers on 4 instances; want 1", n)
	}
	waits := 0.0
	for _, h := range hs {
		waits += h.metric("gcache_lease_wait_counter_total", "use_case", "uc", "layer", "REMOTE")
	}
	if waits < 1 || waits > 3 {
		t.Errorf("%v lease waits; want one per instance that missed while another held the lease", waits)
	}
	if keys := first.redisKeys(); !slices.Equal(keys, []string{"urn:T:hot#uc"}) {
		t.Errorf("Redis keys %v; want the value, and the lease released", keys)
	}
}

// TestLeaseHolderDies: while a dead holder's lease lasts nobody calls the
// function; when it ends, one instance takes the lease and calls it once.
func TestLeaseHolderDies(t *testing.T) {
	first := withRedis(t, Config{})
	hs := []*harness{first, first.peer(Config{})}
	cfg := allLayers
	cfg.Lease = 5 * time.Second
	ucs := []*UseCase[int64]{useCase[int64](t, hs[0].c, UseCaseSpec{Name: "uc", Default: cfg}), useCase[int64](t, hs[1].c, UseCaseSpec{Name: "uc", Default: cfg})}
	key := keyOf(ucs[0], "hot")
	// A holder took the lease and died: nobody will fill the key or
	// release the lease before its TTL.
	lk := leaseKey(key.String())
	if err := first.redis.Client().Set(context.Background(), lk, "dead-holder", time.Second).Err(); err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		stampedeCalls := stampede(t, ucs, "hot", 50, 0)
		calls.Store(stampedeCalls)
	}()
	time.Sleep(300 * time.Millisecond)
	if ttl := first.redis.Client().PTTL(context.Background(), lk).Val(); ttl <= 0 {
		t.Fatalf("the dead holder's lease ended too soon for the test (%v left)", ttl)
	}
	select {
	case <-done:
		t.Fatal("callers were served while the dead holder's lease lasted")
	default:
	}
	<-done
	if calls.Load() != 1 {
		t.Fatalf("the function ran %d times after the lease ended; want 1", calls.Load())
	}
	acquired := hs[0].metric("gcache_lease_wait_counter_total", "result", "acquired") + hs[1].metric("gcache_lease_wait_counter_total", "result", "acquired")
	filled := hs[0].metric("gcache_lease_wait_counter_total", "result", "filled") + hs[1].metric("gcache_lease_wait_counter_total", "result", "filled")
	if acquired != 1 || filled != 1 {
		t.Errorf("lease waits: %v acquired, %v filled; want one of each", acquired, filled)
	}
	if got := hs[0].metric("gcache_lease_wait_timer", "use_case", "uc") + hs[1].metric("gcache_lease_wait_timer", "use_case", "uc"); got != 2 {
		t.Errorf("lease_wait_timer has %v samples, want 2", got)
	}
}

// TestLeaseFill: a fill whose call began before an invalidation is not
// written, and releases its lease, so that nobody waits it out; a call
// slower than its lease still fills the key; one whose lease passed to
// another holder leaves the key to that holder.
func TestLeaseFill(t *testing.T) {
	h := withRedis(t, Config{})
	cfg := allLayers
	cfg.Lease = time.Minute
	uc := useCase[int64](t, h.c, UseCaseSpec{Name: "uc", KeyType: "user_id", Tracked: true, Default: cfg})
	key := keyOf(uc, "7")
	fn := func(ctx context.Context) (int64, error) {
		if err := h.c.Invalidate(ctx, "user_id", "7"); err != nil {
			t.Error(err)
		}
		return 1, nil
	}
	if _, err := uc.Get(enabled, key, fn); err != nil {
		t.Fatal(err)
	}
	h.settle()
	if keys := h.redisKeys(); !slices.Equal(keys, []string{"{urn:user_id:7}#watermark"}) {
		t.Errorf("Redis keys %v; want the watermark alone: no stale fill, no lease left", keys)
	}

	short := allLayers
	short.Lease = 50 * time.Millisecond
	slow := useCase[int64](t, h.c, UseCaseSpec{Name: "slow", Default: short})
	skey := keyOf(slow, "1")
	if _, err := slow.Get(enabled, skey, func(context.Context) (int64, error) { time.Sleep(120 * time.Millisecond); return 1, nil }); err != nil {
		t.Fatal(err)
	}
	h.settle()
	if n := h.redis.Client().Exists(context.Background(), skey.String()).Val(); n != 1 {
		t.Error("a call slower than its lease did not fill the key")
	}

	passed := useCase[int64](t, h.c, UseCaseSpec{Name: "passed", Default: short})
	pkey := keyOf(passed, "1")
	if _, err := passed.Get(enabled, pkey, func(context.Context) (int64, error) {
		time.Sleep(120 * time.Millisecond)
		// The lease expired and another instance took it.
		h.redis.Client().Set(context.Background(), leaseKey(pkey.String()), "other", time.Minute)
		return 1, nil
	}); err != nil {
		t.Fatal(err)
	}
	h.settle()
	if n := h.redis.Client().Exists(context.Background(), pkey.String()).Val(); n != 0 {
		t.Error("a fill whose lease passed to another holder was written")
	}
	if v := h.redis.Client().Get(context.Background(), leaseKey(pkey.String())).Val(); v != "other" {
		t.Errorf("the other holder's lease is %q; the fill must leave it alone", v)
	}
}

// TestLeaseCountsOneRequest: a call that waits for another instance's
// value is one request to Redis, a miss, and one lease wait.
func TestLeaseCountsOneRequest(t *testing.T) {
	h := withRedis(t, Config{})
	cfg := allLayers
	cfg.Lease = 5 * time.Second
	uc := useCase[int64](t, h.c, UseCaseSpec{Name: "uc", Default: cfg})
	key := keyOf(uc, "1")
	lk := leaseKey(key.String())
	h.redis.Client().Set(context.Background(), lk, "other", time.Minute)
	go func() {
		time.Sleep(30 * time.Millisecond)
		raw := sealEnvelope(uc.codec.id, time.Now().UnixMilli(), uc.fp, mustMarshal(t, uc, 5))
		h.redis.Client().Set(context.Background(), key.String(), raw, time.Minute)
	}()
	if v, err := uc.Get(enabled, key, func(context.Context) (int64, error) { return 0, errors.New("called") }); v != 5 || err != nil {
		t.Fatalf("got %d, %v; want the holder's 5", v, err)
	}
	for name, want := range map[string]float64{"gcache_request_counter_total": 1, "gcache_miss_counter_total": 1} {
		if got := h.metric(name, "layer", "REMOTE"); got != want {
			t.Errorf("%s{REMOTE} = %v, want %v", name, got, want)
		}
	}
	if got := h.metric("gcache_lease_wait_counter_total", "result", "filled"); got != 1 {
		t.Errorf("lease waits filled = %v, want 1", got)
	}
}

func mustMarshal[T any](t *testing.T, uc *UseCase[T], v T) []byte {
	t.Helper()
	b, err := uc.codec.marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRefreshBacksOff: a refresh that fails is not tried again on every
// hit, and one that panics does not take the process down.
func TestRefreshBacksOff(t *testing.T) {
	clock := clocktest.New()
	h := withRedis(t, Config{Clock: clock.Now})
	cfg := KeyConfig{Local: LayerConfig{TTL: time.Minute, Ramp: 100}, RefreshAt: 0.5}
	uc := useCase[int64](t, h.c, UseCaseSpec{Name: "uc", Default: cfg})
	key := keyOf(uc, "1")
	var calls atomic.Int64
	var mode atomic.Int32 // 0 value, 1 error, 2 panic
	fn := func(context.Context) (int64, error) {
		calls.Add(1)
		switch mode.Load() {
		case 1:
			return 0, errors.New("backend down")
		case 2:
			panic("boom")
		}
		return 1, nil
	}
	if _, err := uc.Get(enabled, key, fn); err != nil {
		t.Fatal(err)
	}
	mode.Store(1)
	clock.Advance(31 * time.Second)
	for range 200 {
		if v, err := uc.Get(enabled, key, fn); v != 1 || err != nil {
			t.Fatalf("got %d, %v", v, err)
		}
	}
	eventually(t, "the refresh fails", func() bool { return h.metric("gcache_refresh_counter_total", "result", "error") == 1 })
	for range 200 {
		uc.Get(enabled, key, fn)
	}
	if n := calls.Load(); n != 2 {
		t.Fatalf("%d calls for 400 hits past the refresh point of a failing backend; want the first and one refresh", n)
	}
	// After the back-off (3s, a twentieth of the TTL), one more try: a panic.
	mode.Store(2)
	clock.Advance(4 * time.Second)
	if v, _ := uc.Get(enabled, key, fn); v != 1 {
		t.Fatalf("got %d", v)
	}
	eventually(t, "the panicking refresh is counted", func() bool { return h.metric("gcache_refresh_counter_total", "result", "error") == 2 })
	if v, _ := uc.Get(enabled, key, fn); v != 1 {
		t.Errorf("after a refresh panicked, got %d; want the old value", v)
	}
}

// TestRefreshTakesANewerValue: with a lease, an instance past its refresh
// point whose peer refreshed the key already takes the peer's value
// rather than call the function again.
func TestRefreshTakesANewerValue(t *testing.T) {
	clock := clocktest.New()
	cfg := KeyConfig{Local: LayerConfig{TTL: 10 * time.Minute, Ramp: 100}, Remote: LayerConfig{TTL: 10 * time.Minute, Ramp: 100}, RefreshAt: 0.5, Lease: 5 * time.Second}
	a := withRedis(t, Config{Clock: clock.Now})
	b := a.peer(Config{Clock: clock.Now})
	ucA := useCase[int64](t, a.c, UseCaseSpec{Name: "uc", Default: cfg})
	ucB := useCase[int64](t, b.c, UseCaseSpec{Name: "uc", Default: cfg})
	var calls atomic.Int64
	fn := func(context.Context) (int64, error) { return calls.Add(1), nil }
	ucA.Get(enabled, keyOf(ucA, "1"), fn)
	ucB.Get(enabled, keyOf(ucB, "1"), fn) // from Redis
	clock.Advance(6 * time.Minute)
	ucA.Get(enabled, keyOf(ucA, "1"), fn)
	eventually(t, "A refreshes", func() bool { return a.metric("gcache_refresh_counter_total", "result", "ok") == 1 })
	ucB.Get(enabled, keyOf(ucB, "1"), fn)
	eventually(t, "B takes A's value", func() bool { return b.metric("gcache_refresh_counter_total", "result", "leased") == 1 })
	if n := calls.Load(); n != 2 {
		t.Errorf("%d calls; want the first and A's refresh", n)
	}
	if v, _ := ucB.Get(enabled, keyOf(ucB, "1"), fn); v != 2 {
		t.Errorf("B serves %d, want A's refreshed 2", v)
	}
}

// TestNegativeEntryNotServed: a negative answer in a tier is a miss for a
// use case that does not cache them, or no longer does.
func TestNegativeEntryNotServed(t *testing.T) {
	a := withRedis(t, Config{})
	b := a.peer(Config{})
	cfg := allLayers
	cfg.NegativeTTL = time.Minute
	ucA := useCase[string](t, a.c, UseCaseSpec{Name: "GetUser", Negative: errNoUser, Default: cfg})
	ucB := useCase[string](t, b.c, UseCaseSpec{Name: "GetUser", Default: allLayers})
	ucA.Get(enabled, keyOf(ucA, "7"), func(context.Context) (string, error) { return "", errNoUser })
	called := 0
	fn := func(context.Context) (string, error) { called++; return "ada", nil }
	if v, err := ucB.Get(enabled, keyOf(ucB, "7"), fn); v != "ada" || err != nil || called != 1 {
		t.Errorf("a use case without Negative got (%q, %v) after %d calls; want the function's", v, err, called)
	}
}

// TestBatchEdges: an empty batch calls nothing; a batch whose key cannot
// be built goes to the function whole, each id once.
func TestBatchEdges(t *testing.T) {
	h := withRedis(t, Config{})
	uc := useCase[string](t, h.c, UseCaseSpec{Name: "GetUsers", KeyType: "user_id", Default: allLayers})
	var got [][]int
	fn := func(ctx context.Context, ids []int) (map[int]string, error) {
		got = append(got, ids)
		return map[int]string{}, nil
	}
	bad := func(b []byte, id int) ([]byte, int, error) { return b, 0, errors.New("no key") }
	if m, err := GetBatch(enabled, uc, nil, bad, fn); m == nil || len(m) != 0 || err != nil || len(got) != 0 {
		t.Errorf("an empty batch: %v, %v, with calls %v", m, err, got)
	}
	if _, err := GetBatch(enabled, uc, []int{1, 1, 2}, bad, fn); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || !slices.Equal(got[0], []int{1, 2}) {
		t.Errorf("with a bad key the function got %v; want [1 2]", got)
	}
}

// TestKeyConfigFeaturesValidate: the new knobs are checked like the old.
func TestKeyConfigFeaturesValidate(t *testing.T) {
	for _, c := range []KeyConfig{{RefreshAt: 1}, {RefreshAt: -0.1}, {NegativeTTL: -1}, {Lease: -time.Second}} {
		if c.Validate() == nil {
			t.Errorf("%+v validates", c)
		}
	}
	h := newHarness(t, Config{})
	if _, err := NewUseCase[int](h.c, UseCaseSpec{Name: "x", KeyType: "T", Default: KeyConfig{RefreshAt: 2}}); err == nil {
		t.Error("a default config with RefreshAt 2 is accepted")
	}
}

// topoBatch: batches of tracked and untracked ids read what another
// instance wrote, whichever node holds each id.
func topoBatch(t *testing.T, be *backend) {
	prefix, a, b := onBackend(t, be)
	key := func(b []byte, id int) ([]byte, int, error) {
		b = AppendInt(b, int64(id))
		return b, len(b), nil
	}
	for _, tracked := range []bool{true, false} {
		spec := UseCaseSpec{Name: fmt.Sprint("Batch", tracked), KeyType: "user_id", Tracked: tracked, Default: allLayers}
		ucA, ucB := useCase[int](t, a.c, spec), useCase[int](t, b.c, spec)
		var calls atomic.Int64
		fn := func(ctx context.Context, ids []int) (map[int]int, error) {
			calls.Add(int64(len(ids)))
			out := map[int]int{}
			for _, id := range ids {
				out[id] = id * 10
			}
			return out, nil
		}
		ids := make([]int, 40)
		for i := range ids {
			ids[i] = i
		}
		if _, err := GetBatch(enabled, ucA, ids, key, fn); err != nil {
			t.Fatal(err)
		}
		a.settle()
		got, err := GetBatch(enabled, ucB, ids, key, fn)
		if err != nil || len(got) != 40 || got[39] != 390 {
			t.Fatalf("tracked=%v: %d values, [39]=%d, %v", tracked, len(got), got[39], err)
		}
		if calls.Load() != 40 {
			t.Errorf("tracked=%v: the function got %d ids for two batches of 40 on two instances; want 40", tracked, calls.Load())
		}
	}
	if n := len(be.keys(t, prefix)); n != 80 {
		t.Errorf("%d keys in Redis, want 80", n)
	}
}

// topoLease: leases, their fills and negative answers work for tracked
// and untracked keys, whichever node holds them.
func topoLease(t *testing.T, be *backend) {
	prefix, a, b := onBackend(t, be)
	cfg := allLayers
	cfg.Lease, cfg.NegativeTTL = 5*time.Second, time.Minute
	for _, tracked := range []bool{true, false} {
		spec := UseCaseSpec{Name: fmt.Sprint("Lease", tracked), KeyType: "user_id", Tracked: tracked, Negative: errNoUser, Default: cfg}
		ucs := []*UseCase[int64]{useCase[int64](t, a.c, spec), useCase[int64](t, b.c, spec)}
		if n := stampede(t, ucs, "hot", 20, 20*time.Millisecond); n != 1 {
			t.Errorf("tracked=%v: the function ran %d times for 2 instances", tracked, n)
		}
		var calls atomic.Int64
		missing := func(context.Context) (int64, error) { calls.Add(1); return 0, errNoUser }
		for _, uc := range ucs {
			if _, err := uc.Get(enabled, keyOf(uc, "gone"), missing); !errors.Is(err, errNoUser) {
				t.Fatalf("tracked=%v: %v", tracked, err)
			}
		}
		if calls.Load() != 1 {
			t.Errorf("tracked=%v: the other instance called the function for a cached negative answer", tracked)
		}
	}
	for _, k := range be.keys(t, prefix) {
		if strings.HasSuffix(k, leaseSuffix) {
			t.Errorf("lease %s outlived its fill", k)
		}
	}
}

// TestLeaseWaitFailsOpen: a caller waiting on another instance's lease is
// served by the function when Redis stops answering, not held until the
// lease ends.
func TestLeaseWaitFailsOpen(t *testing.T) {
	h := withRedis(t, Config{RedisTimeout: 100 * time.Millisecond})
	cfg := allLayers
	cfg.Lease = time.Hour
	uc := useCase[int64](t, h.c, UseCaseSpec{Name: "uc", Default: cfg})
	key := keyOf(uc, "1")
	if err := h.redis.Client().Set(context.Background(), leaseKey(key.String()), "other", time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	waiting := make(chan struct{})
	f := func() { close(waiting) }
	hooks.lease.Store(&f)
	defer hooks.lease.Store(nil)
	got := make(chan int64)
	go func() {
		v, _ := uc.Get(enabled, key, func(context.Context) (int64, error) { return 7, nil })
		got <- v
	}()
	<-waiting // the caller waits on the lease
	h.redis.Pause()
	defer h.redis.Resume()
	if v := <-got; v != 7 {
		t.Fatalf("got %d, want the function's 7", v)
	}
	if n := h.metric("gcache_lease_wait_counter_total", "result", "abandoned"); n != 1 {
		t.Errorf("abandoned lease waits = %v, want 1", n)
	}
}

// TestNegativeSharedAcrossAnInvalidation: a caller that joins a call
// begun before an invalidation does not get that call's "not found"; it
// loads again, as it would for a value.
func TestNegativeSharedAcrossAnInvalidation(t *testing.T) {
	h := withRedis(t, Config{})
	cfg := allLayers
	cfg.NegativeTTL = time.Minute
	uc := useCase[string](t, h.c, UseCaseSpec{Name: "GetUser", KeyType: "user_id", Tracked: true, Negative: errNoUser, Default: cfg})
	var exists atomic.Bool
	started, gate := make(chan struct{}), make(chan struct{})
	var calls atomic.Int64
	fn := func(ctx context.Context) (string, error) {
		if calls.Add(1) == 1 {
			close(started)
			<-gate
			return "", errNoUser // what it read before the row came
		}
		if !exists.Load() {
			return "", errNoUser
		}
		return "ada", nil
	}
	first := make(chan error, 1)
	go func() {
		_, err := uc.Get(enabled, keyOf(uc, "7"), fn)
		first <- err
	}()
	<-started
	exists.Store(true)
	if err := h.c.Invalidate(context.Background(), "user_id", "7"); err != nil {
		t.Fatal(err)
	}
	late := make(chan string, 1)
	go func() {
		v, _ := uc.Get(enabled, keyOf(uc, "7"), fn)
		late <- v
	}()
	eventually(t, "the late caller joins the call under way", func() bool {
		return h.metric("gcache_miss_counter_total", "layer", "LOCAL") == 2
	})
	close(gate)
	if err := <-first; err != errNoUser {
		t.Fatalf("the first caller got %v, its own call's answer", err)
	}
	if v := <-late; v != "ada" {
		t.Errorf("the caller that came after the invalidation got %q; want the user, loaded again", v)
	}
}

// TestLeaseHolderHangs: a holder whose call outlives its lease is taken
// over once the lease ends; when its call returns at last, its older value
// does not replace the newer one in Redis.
func TestLeaseHolderHangs(t *testing.T) {
	first := withRedis(t, Config{})
	b := first.peer(Config{})
	cfg := allLayers
	cfg.Lease = 300 * time.Millisecond
	ucA := useCase[int64](t, first.c, UseCaseSpec{Name: "uc", Default: cfg})
	ucB := useCase[int64](t, b.c, UseCaseSpec{Name: "uc", Default: cfg})
	key := keyOf(ucA, "1")
	hung, release := make(chan struct{}), make(chan struct{})
	done := make(chan int64)
	go func() {
		v, _ := ucA.Get(enabled, key, func(context.Context) (int64, error) {
			close(hung)
			<-release
			return 1, nil
		})
		done <- v
	}()
	<-hung
	var calls atomic.Int64
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			v, err := ucB.Get(enabled, keyOf(ucB, "1"), func(context.Context) (int64, error) { calls.Add(1); return 2, nil })
			if v != 2 || err != nil {
				t.Errorf("got %d, %v; want the value of the instance that took over", v, err)
			}
		})
	}
	wg.Wait()
	if calls.Load() != 1 {
		t.Errorf("%d calls after the hung holder's lease ended; want 1", calls.Load())
	}
	close(release)
	if v := <-done; v != 1 {
		t.Errorf("the hung holder got %d, its own call's 1", v)
	}
	first.settle()
	b.settle()
	if res, ok := ucB.getRemote(enabled, &plan{key: &key, cfg: &cfg}); !ok || res.val != 2 {
		t.Errorf("Redis holds %d (%v); the hung holder's older value must not replace the newer 2", res.val, ok)
	}
}

// TestLeaseReleasedWhenTheFunctionPanics: a panic in the function reaches
// the caller and gives the lease up, so that the next call does not wait.
func TestLeaseReleasedWhenTheFunctionPanics(t *testing.T) {
	h := withRedis(t, Config{})
	cfg := allLayers
	cfg.Lease = time.Hour
	uc := useCase[int64](t, h.c, UseCaseSpec{Name: "uc", Default: cfg})
	key := keyOf(uc, "1")
	func() {
		defer func() {
			if r := recover(); r != "boom" {
				t.Errorf("recovered %v, want the function's panic", r)
			}
		}()
		uc.Get(enabled, key, func(context.Context) (int64, error) { panic("boom") })
	}()
	if n := h.redis.Client().Exists(context.Background(), leaseKey(key.String())).Val(); n != 0 {
		t.Fatal("the lease outlived the call that panicked")
	}
	if v, err := uc.Get(enabled, key, func(context.Context) (int64, error) { return 7, nil }); v != 7 || err != nil {
		t.Errorf("got %d, %v", v, err)
	}
}

// TestClaimsSweep: releasing many backed-off claims keeps
// the set small and costs little per release.
func TestClaimsSweep(t *testing.T) {
	var c claims
	for i := range 20_000 {
		k := strconv.Itoa(i)
		if !c.claim(k, int64(i)) {
			t.Fatalf("claim %s refused", k)
		}
		c.release(k, int64(i)+10, int64(i)) // backs off 10 ns
	}
	if n := len(c.until); n >= 2*claimsSwept {
		t.Errorf("%d claims kept; lapsed ones should be swept", n)
	}
	if c.claim("19999", 20_000) {
		t.Error("a claim backing off was granted")
	}
	if !c.claim("19999", 20_010) {
		t.Error("a lapsed claim was refused")
	}
}

// TestBatchLargerThanAChunk: a batch of more ids than one command takes
// reads and writes them all, in chunks.
func TestBatchLargerThanAChunk(t *testing.T) {
	a := withRedis(t, Config{})
	b := a.peer(Config{})
	spec := UseCaseSpec{Name: "GetUsers", KeyType: "user_id", Tracked: true, Default: allLayers}
	ucA, ucB := useCase[int](t, a.c, spec), useCase[int](t, b.c, spec)
	key := func(b []byte, id int) ([]byte, int, error) {
		b = AppendInt(b, int64(id))
		return b, len(b), nil
	}
	var calls atomic.Int64
	fn := func(ctx context.Context, ids []int) (map[int]int, error) {
		calls.Add(int64(len(ids)))
		out := map[int]int{}
		for _, id := range ids {
			out[id] = -id
		}
		return out, nil
	}
	ids := make([]int, 3*batchChunk+7)
	for i := range ids {
		ids[i] = i
	}
	if _, err := GetBatch(enabled, ucA, ids, key, fn); err != nil {
		t.Fatal(err)
	}
	a.settle()
	got, err := GetBatch(enabled, ucB, ids, key, fn)
	if err != nil || len(got) != len(ids) || got[len(ids)-1] != -(len(ids)-1) {
		t.Fatalf("%d values, %v", len(got), err)
	}
	if n := calls.Load(); n != int64(len(ids)) {
		t.Errorf("the function got %d ids for %d, read from Redis by the second instance", n, len(ids))
	}
}
