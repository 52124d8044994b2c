package faults

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gcache-go/gcache/internal/redistest"
	gcache "github.com/gcache-go/gcache/runtime"
	"github.com/redis/go-redis/v9"
)

var soakFor = flag.Duration("soak", 0, "run TestFaultSoak for this long; 0 runs the short version: one round of every fault, then until a minimum of work or 45 s")

// The soak's parameters.
const (
	soakInstances = 4
	soakKeys      = 40
	// propagation is the bound within which an invalidation that returned
	// on one instance reaches the others: the runtime serves tracked local
	// entries on the strength of its events only while it heard a
	// heartbeat within 75 ms, sent every 20 ms.
	propagation = 100 * time.Millisecond
	// outageStaleness is Config.OutageStaleness: its default.
	outageStaleness = gcache.DefaultOutageStaleness
)

// skews are the instances' clock offsets from the host's.
var skews = [soakInstances]time.Duration{-250 * time.Millisecond, -70 * time.Millisecond, 120 * time.Millisecond, 250 * time.Millisecond}

// soakFleet is four Caches, each reaching the primary and the replica of a
// Sentinel group through proxies of its own.
type soakFleet struct {
	g       group
	links   [soakInstances][]*link
	routers [soakInstances]*router
	insts   [soakInstances]*instance
	ucs     [soakInstances]*gcache.UseCase[item]
	admin   *redis.Client // to the primary, directly
}

func newSoakFleet(t *testing.T) *soakFleet {
	f := &soakFleet{g: startGroup(t)}
	x := newToxics()
	for i := range soakInstances {
		r := newRouter()
		f.routers[i] = r
		for _, s := range []*redistest.Server{f.g.Primary, f.g.Replica} {
			l := x.link(t, fmt.Sprintf("instance%d-%s", i, s.Addr()), s.Addr())
			r.route(s.Addr(), l)
			f.links[i] = append(f.links[i], l)
		}
		skew := skews[i]
		f.insts[i] = newInstance(t, r.failover(t, f.g.Sentinel.Sentinel.Addr(), f.g.MasterName, 100*time.Millisecond), gcache.Config{
			RedisTimeout:    100 * time.Millisecond,
			BreakerCooldown: 200 * time.Millisecond,
			OutageStaleness: outageStaleness,
			Clock:           func() time.Time { return time.Now().Add(skew) },
		})
		uc, err := gcache.NewUseCase[item](f.insts[i].c, gcache.UseCaseSpec{Name: "GetItem", KeyType: "item", Tracked: true,
			Default: gcache.KeyConfig{Local: gcache.LayerConfig{TTL: 30 * time.Second, Ramp: 100}, Remote: gcache.LayerConfig{TTL: 2 * time.Minute, Ramp: 100}}})
		if err != nil {
			t.Fatal(err)
		}
		f.ucs[i] = uc
	}
	f.admin = redis.NewFailoverClient(&redis.FailoverOptions{MasterName: f.g.MasterName, SentinelAddrs: []string{f.g.Sentinel.Sentinel.Addr()},
		ReadTimeout: 100 * time.Millisecond, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = f.admin.Close() })
	return f
}

// A fault is one kind of trouble, injected, held and healed.
type fault struct {
	kind string
	run  func(t *testing.T, target int)
}

// faults are the soak's faults, in the order of a round. SENTINEL
// FAILOVER comes first and the primary's death last: the sentinel starts
// no failover of its own within 10 s of the one before.
func (f *soakFleet) faults() []fault {
	each := func(target int, do func(*link) func()) func() {
		var undo []func()
		for _, l := range f.links[target] {
			undo = append(undo, do(l))
		}
		return func() {
			for _, u := range undo {
				u()
			}
		}
	}
	return []fault{
		{"SENTINEL FAILOVER", func(t *testing.T, _ int) {
			// The writers go on across it: what the old primary accepts
			// after the promotion is lost, watermarks included, and the
			// instances that know of them must notice.
			f.g.failover(t)
		}},
		{"writes paused (CLIENT PAUSE 400 WRITE)", func(t *testing.T, _ int) {
			if _, err := do(f.g.primary(t).Addr(), "CLIENT", "PAUSE", "400", "WRITE"); err != nil {
				t.Fatal(err)
			}
			time.Sleep(400 * time.Millisecond)
		}},
		{"subscriptions killed (CLIENT KILL TYPE pubsub)", func(t *testing.T, _ int) {
			for _, s := range []*redistest.Server{f.g.Primary, f.g.Replica} {
				if _, err := do(s.Addr(), "CLIENT", "KILL", "TYPE", "pubsub"); err != nil {
					t.Fatal(err)
				}
			}
		}},
		{"one instance delayed (150±50 ms)", func(t *testing.T, target int) {
			heal := each(target, func(l *link) func() { return l.delay(t, 150*time.Millisecond, 50*time.Millisecond) })
			time.Sleep(1500 * time.Millisecond)
			heal()
		}},
		{"one instance cut (proxy disabled 1 s)", func(t *testing.T, target int) {
			heal := each(target, func(l *link) func() { return l.cut(t) })
			time.Sleep(time.Second)
			heal()
		}},
		{"one instance reset (reset_peer 500 ms)", func(t *testing.T, target int) {
			heal := each(target, func(l *link) func() { return l.resetPeer(t) })
			time.Sleep(500 * time.Millisecond)
			heal()
		}},
		{"one instance black-holed (2 s)", func(t *testing.T, target int) {
			heal := each(target, func(l *link) func() { return l.blackHole(t) })
			time.Sleep(2 * time.Second)
			heal()
		}},
		{"primary killed (failover)", func(t *testing.T, _ int) { f.g.killPrimary(t) }},
	}
}

// TestFaultSoak: four instances with skewed clocks (±250 ms) write and
// read a versioned database over a Sentinel group through proxies, while
// every fault the runtime must survive is injected in turn; every read is
// checked for staleness (see checker). No read is stale, no call fails,
// and the function never runs with an expired context.
func TestFaultSoak(t *testing.T) {
	f := newSoakFleet(t)
	db := newVersions()
	chk := newChecker(db, soakInstances, propagation, outageStaleness)

	var (
		failedCalls, expiredRuns atomic.Int64
		invOK, invFailed         atomic.Int64
		landMu                   sync.Mutex
		longestLanding           time.Duration
		longestLandingOf         string
		neverLanded              atomic.Int64
	)
	var notesMu sync.Mutex
	var notes []string
	note := func(s string) {
		notesMu.Lock()
		defer notesMu.Unlock()
		if len(notes) < 10 {
			notes = append(notes, describe(time.Now())+" "+s)
		}
	}
	stop := make(chan struct{})
	pollCtx, stopPolls := context.WithCancel(context.Background())
	defer stopPolls()
	var work, polls sync.WaitGroup

	// The outage mode of each instance, sampled.
	work.Go(func() {
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			for i, in := range f.insts {
				chk.outages[i].sample(func() float64 { return in.metric("gcache_outage_hit_counter_total") })
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	})
	// Deferred reads, checked once what they depend on is known.
	work.Go(func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(200 * time.Millisecond):
				chk.recheck(false)
			}
		}
	})
	// awaitLanding polls Redis for the watermark of a failed invalidation:
	// it has landed when it is at least the time the invalidation began
	// (Redis and this process read one host clock).
	awaitLanding := func(inv *invalidation) {
		defer polls.Done()
		key := "{urn:item:" + inv.id + "}#watermark"
		for {
			v, err := f.admin.Get(pollCtx, key).Int64()
			if err == nil && v >= inv.began.UnixMilli() {
				now := time.Now()
				chk.landed(inv, now)
				landMu.Lock()
				if d := now.Sub(inv.returned); d > longestLanding {
					longestLanding, longestLandingOf = d, fmt.Sprintf("%s v%d by instance %d", inv.id, inv.version, inv.instance)
				}
				landMu.Unlock()
				return
			}
			select {
			case <-pollCtx.Done():
				neverLanded.Add(1)
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}

	for i := range soakInstances {
		in, uc := f.insts[i], f.ucs[i]
		// A writer: a new version, then Invalidate.
		work.Go(func() {
			r := rand.New(rand.NewPCG(uint64(i), 1))
			zipf := rand.NewZipf(r, 1.2, 1, soakKeys-1)
			for {
				select {
				case <-stop:
					return
				case <-time.After(time.Duration(5+r.IntN(20)) * time.Millisecond):
				}
				id := strconv.FormatUint(zipf.Uint64(), 10)
				inv := chk.write(i, id)
				err := in.c.Invalidate(context.Background(), "item", id)
				chk.returned(inv, err != nil)
				if err != nil {
					invFailed.Add(1)
					polls.Add(1)
					go awaitLanding(inv)
				} else {
					invOK.Add(1)
				}
			}
		})
		// Readers.
		for g := range 3 {
			work.Go(func() {
				r := rand.New(rand.NewPCG(uint64(i), uint64(g+2)))
				zipf := rand.NewZipf(r, 1.2, 1, soakKeys-1)
				for n := 0; ; n++ {
					if n%64 == 0 {
						select {
						case <-stop:
							return
						default:
						}
					}
					id := strconv.FormatUint(zipf.Uint64(), 10)
					b := gcache.AppendString(nil, id)
					ctx, cancel := context.WithTimeout(enabled, time.Second)
					start := time.Now()
					got, err := uc.Get(ctx, uc.Key(b, len(b)), func(ctx context.Context) (item, error) {
						if err := ctx.Err(); err != nil {
							expiredRuns.Add(1)
							note(fmt.Sprintf("instance %d: the function of %s was called %v after the call began, with its context expired", i, id, time.Since(start).Round(time.Millisecond)))
							return item{}, err
						}
						return db.read(id), nil
					})
					end := time.Now()
					cancel()
					if err != nil {
						failedCalls.Add(1)
						note(fmt.Sprintf("instance %d: a call of %s failed after %v: %v", i, id, end.Sub(start).Round(time.Millisecond), err))
						continue
					}
					chk.read(read{instance: i, id: id, version: got.Version, start: start, end: end})
				}
			})
		}
	}

	// The fault schedule, in this goroutine.
	injected := map[string]int{}
	var timeline []string
	faults := f.faults()
	began := time.Now()
	short := *soakFor == 0
	const (
		minReads         = 50_000
		minInvalidations = 1_000
		shortLimit       = 45 * time.Second
	)
	r := rand.New(rand.NewPCG(42, 42))
	for done := false; !done; done = short || time.Since(began) >= *soakFor {
		for _, ft := range faults {
			time.Sleep(time.Duration(700+r.IntN(800)) * time.Millisecond)
			target, from := r.IntN(soakInstances), time.Now()
			ft.run(t, target)
			injected[ft.kind]++
			if len(timeline) < 40 {
				timeline = append(timeline, fmt.Sprintf("%s-%s %s (instance %d)", describe(from), describe(time.Now()), ft.kind, target))
			}
		}
	}
	if short {
		// One round done: go on until the minimum of work, or the limit.
		for time.Since(began) < shortLimit {
			if chk.reads.Load() >= minReads && invOK.Load()+invFailed.Load() >= minInvalidations {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	time.Sleep(time.Second) // calm, to end on
	close(stop)
	work.Wait()
	for i, in := range f.insts {
		if err := in.settle(10 * time.Second); err != nil {
			t.Errorf("instance %d did not settle: %v", i, err)
		}
	}
	// Give the pollers a last chance, then stop them.
	time.Sleep(200 * time.Millisecond)
	stopPolls()
	polls.Wait()
	// Samples after every read's end, for the last deferred reads.
	for i, in := range f.insts {
		chk.outages[i].sample(func() float64 { return in.metric("gcache_outage_hit_counter_total") })
	}
	chk.recheck(true)

	stats, text := chk.report()
	var b strings.Builder
	fmt.Fprintf(&b, "ran %v\n", time.Since(began).Round(time.Second))
	fmt.Fprintf(&b, "invalidations: %d ok, %d failed\n", invOK.Load(), invFailed.Load())
	kinds := make([]string, 0, len(injected))
	total := 0
	for k, n := range injected {
		kinds = append(kinds, k)
		total += n
	}
	sort.Strings(kinds)
	fmt.Fprintf(&b, "faults injected: %d\n", total)
	for _, k := range kinds {
		fmt.Fprintf(&b, "  %-48s %d\n", k, injected[k])
	}
	b.WriteString(text)
	fmt.Fprintf(&b, "the first faults:\n  %s\n", strings.Join(timeline, "\n  "))
	landMu.Lock()
	fmt.Fprintf(&b, "longest from a failed Invalidate to its watermark in Redis: %v (%s); never seen landing: %d\n",
		longestLanding.Round(time.Millisecond), longestLandingOf, neverLanded.Load())
	landMu.Unlock()
	fmt.Fprintf(&b, "calls failed: %d; function runs with an expired context: %d; database reads: %d\n",
		failedCalls.Load(), expiredRuns.Load(), db.readCount())
	notesMu.Lock()
	for _, n := range notes {
		fmt.Fprintf(&b, "  %s\n", n)
	}
	notesMu.Unlock()
	for i, in := range f.insts {
		fmt.Fprintf(&b, "instance %d (clock %+v): outage hits %.0f, Redis errors %.0f, skipped by the breaker %.0f, invalidation errors %.0f, retries landed %.0f\n",
			i, skews[i], in.metric("gcache_outage_hit_counter_total"), in.metric("gcache_error_counter_total", "layer", "REMOTE"),
			in.metric("gcache_disabled_counter_total", "reason", "server_down"), in.metric("gcache_invalidation_error_counter_total"),
			in.metric("gcache_invalidation_retry_counter_total", "result", "landed"))
	}
	t.Log("\n" + b.String())

	if stats.stale > 0 {
		t.Errorf("%d stale reads", stats.stale)
		t.Logf("primary %s, replica %s", f.g.Primary.Addr(), f.g.Replica.Addr())
		for i, r := range f.routers {
			r.mu.Lock()
			t.Logf("instance %d dialled:\n%s", i, strings.Join(r.dials, "\n"))
			r.mu.Unlock()
		}
	}
	if failedCalls.Load() > 0 || expiredRuns.Load() > 0 {
		t.Errorf("%d calls failed, %d function runs had an expired context", failedCalls.Load(), expiredRuns.Load())
	}
	if len(injected) != len(faults) {
		t.Errorf("%d kinds of fault injected, want %d", len(injected), len(faults))
	}
	// A floor below which the check would be empty, not a target.
	if stats.reads < 1000 || invOK.Load()+invFailed.Load() < 50 {
		t.Errorf("the soak checked almost nothing: %d reads, %d invalidations", stats.reads, invOK.Load()+invFailed.Load())
	}
}
