package scale

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gcache-go/gcache/bench/scale/catalog"
	"github.com/gcache-go/gcache/runtime"
	"github.com/prometheus/client_golang/prometheus"
)

// workerEnv holds a worker's config, as JSON: the test binary started with
// it set is an instance of the fleet, not a test run.
const workerEnv = "GCACHE_SCALE_WORKER"

// quietLog drops gcache's logs; its errors are counted by its metrics,
// which the results carry.
var quietLog = slog.New(slog.DiscardHandler)

// workerConfig is what the coordinator tells an instance.
type workerConfig struct {
	Addrs        []string
	Instance     int
	Keys         int64
	Concurrency  int
	WriteRatio   float64
	ZipfS        float64
	DBLatency    time.Duration
	LocalEntries int
	Seed         uint64
}

// workerResult is what an instance reports after "stop": its counts over
// the measured window, and its memory at the end.
type workerResult struct {
	Seconds        float64
	Reads, Writes  int64
	Errors         int64
	Latency        *latency // of reads
	LocalRequests  float64
	LocalMisses    float64
	RemoteRequests float64
	RemoteMisses   float64
	GcacheErrors   float64
	DBReads        int64
	DBWrites       int64
	HeapBytes      uint64
	RSSBytes       uint64
}

// The worker's protocol. It reads commands from stdin, one per line:
// "go" starts the load (the warm-up), "measure" starts counting, "stop"
// stops the load; it writes "ready" when it can take load, and its
// workerResult as one line of JSON after "stop". It exits when stdin
// closes, so that it never outlives the coordinator.
const (
	cmdGo      = "go"
	cmdMeasure = "measure"
	cmdStop    = "stop"
	msgReady   = "ready"
)

// phases of the load.
const (
	warming int32 = iota
	measuring
	stopped
)

// workerMain runs one instance, configured by the JSON in cfgJSON, and
// returns the process's exit code.
func workerMain(cfgJSON string, in io.Reader, out io.Writer) int {
	if err := runWorker(cfgJSON, in, out); err != nil {
		fmt.Fprintf(os.Stderr, "scale worker: %v\n", err)
		return 1
	}
	return 0
}

func runWorker(cfgJSON string, in io.Reader, out io.Writer) error {
	var cfg workerConfig
	if err := json.Unmarshal([]byte(cfgJSON), &cfg); err != nil {
		return fmt.Errorf("the config in %s: %w", workerEnv, err)
	}
	if cfg.Keys < 1 || cfg.Concurrency < 1 || cfg.ZipfS <= 1 {
		return fmt.Errorf("the config in %s wants Keys and Concurrency ≥ 1 and ZipfS > 1: %+v", workerEnv, cfg)
	}
	reg := prometheus.NewRegistry()
	c, err := gcache.New(gcache.Config{
		Redis:           &gcache.RedisConfig{Addrs: cfg.Addrs},
		Registerer:      reg,
		Logger:          quietLog,
		LocalMaxEntries: cfg.LocalEntries,
	})
	if err != nil {
		return err
	}
	defer c.Close()
	db := newDatabase(cfg.DBLatency)
	cat, err := catalog.NewCatalogCache(db, c)
	if err != nil {
		return err
	}
	ctx := gcache.Enable(context.Background())
	if err := waitSubscribed(ctx, cat); err != nil {
		return err
	}

	lines := bufio.NewScanner(in)
	expect := func(want string) error {
		if !lines.Scan() {
			return fmt.Errorf("stdin closed while waiting for %q", want)
		}
		if got := lines.Text(); got != want {
			return fmt.Errorf("got %q, want %q", got, want)
		}
		return nil
	}
	fmt.Fprintln(out, msgReady)
	if err := expect(cmdGo); err != nil {
		return err
	}

	var phase atomic.Int32
	loads := make([]*load, cfg.Concurrency)
	var wg sync.WaitGroup
	for g := range loads {
		l := &load{cat: cat, lat: newLatency(), phase: &phase, writeRatio: cfg.WriteRatio}
		r := rand.New(rand.NewPCG(cfg.Seed, uint64(cfg.Instance)<<16|uint64(g)))
		l.r, l.zipf = r, rand.NewZipf(r, cfg.ZipfS, 1, uint64(cfg.Keys-1))
		loads[g] = l
		wg.Go(func() { l.run(ctx) })
	}

	if err := expect(cmdMeasure); err != nil {
		phase.Store(stopped)
		wg.Wait()
		return err
	}
	m0, err := gather(reg)
	if err != nil {
		return err
	}
	reads0, writes0 := db.reads.Load(), db.writes.Load()
	start := time.Now()
	phase.Store(measuring)

	stopErr := expect(cmdStop)
	phase.Store(stopped)
	elapsed := time.Since(start)
	m1, err := gather(reg)
	if err != nil {
		return err
	}
	res := workerResult{
		Seconds:        elapsed.Seconds(),
		Latency:        newLatency(),
		LocalRequests:  m1.requests[gcache.Local.String()] - m0.requests[gcache.Local.String()],
		LocalMisses:    m1.misses[gcache.Local.String()] - m0.misses[gcache.Local.String()],
		RemoteRequests: m1.requests[gcache.Remote.String()] - m0.requests[gcache.Remote.String()],
		RemoteMisses:   m1.misses[gcache.Remote.String()] - m0.misses[gcache.Remote.String()],
		GcacheErrors:   m1.errors - m0.errors,
		DBReads:        db.reads.Load() - reads0,
		DBWrites:       db.writes.Load() - writes0,
	}
	wg.Wait() // the calls in flight end; they are not counted
	if stopErr != nil {
		return stopErr
	}
	for _, l := range loads {
		res.Reads += l.reads
		res.Writes += l.writes
		res.Errors += l.errors
		res.Latency.merge(l.lat)
	}
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	res.HeapBytes = ms.HeapAlloc
	if res.RSSBytes, err = rss(); err != nil {
		return err
	}
	runtime.KeepAlive(cat)
	return json.NewEncoder(out).Encode(res)
}

// A load is one goroutine's closed loop of calls.
type load struct {
	cat        *catalog.CatalogCache
	r          *rand.Rand
	zipf       *rand.Zipf
	writeRatio float64
	phase      *atomic.Int32

	// Counted while measuring; read after the goroutine ended.
	reads, writes, errors int64
	lat                   *latency
}

func (l *load) run(ctx context.Context) {
	for {
		p := l.phase.Load()
		if p == stopped {
			return
		}
		id := int64(l.zipf.Uint64()) + 1
		write := l.r.Float64() < l.writeRatio
		start := time.Now()
		var err error
		if write {
			err = l.cat.UpdateItem(ctx, id)
		} else {
			var it *catalog.Item
			it, err = l.cat.GetItem(ctx, id)
			if err == nil && it.ID != id {
				err = fmt.Errorf("read item %d, got %d", id, it.ID)
			}
		}
		took := time.Since(start)
		if p != measuring || l.phase.Load() != measuring {
			continue // a call of the warm-up, or one the stop cut
		}
		switch {
		case err != nil:
			l.errors++
		case write:
			l.writes++
		default:
			l.reads++
			l.lat.record(took)
		}
	}
}

// waitSubscribed waits until the instance keeps tracked entries locally,
// which it does once its invalidation events are subscribed to: two reads
// in a row then return the same pointer. Each probe reads a new id, out
// of the key space (a tracked value written before the subscription is
// never kept locally).
func waitSubscribed(ctx context.Context, cat *catalog.CatalogCache) error {
	deadline := time.Now().Add(10 * time.Second)
	for probe := int64(-1); ; probe-- {
		a, err1 := cat.GetItem(ctx, probe)
		b, err2 := cat.GetItem(ctx, probe)
		if err := errors.Join(err1, err2); err != nil {
			return err
		}
		if a == b {
			return nil
		}
		if time.Now().After(deadline) {
			return errors.New("the instance did not keep tracked entries locally within 10s: is Redis up?")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// counters are the worker's gcache metrics, summed over use cases.
type counters struct {
	requests, misses map[string]float64 // by layer
	errors           float64
}

func gather(reg *prometheus.Registry) (counters, error) {
	c := counters{requests: map[string]float64{}, misses: map[string]float64{}}
	mfs, err := reg.Gather()
	if err != nil {
		return c, err
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			layer := ""
			for _, lp := range m.GetLabel() {
				if lp.GetName() == "layer" {
					layer = lp.GetValue()
				}
			}
			v := m.GetCounter().GetValue()
			switch mf.GetName() {
			case "gcache_request_counter_total":
				c.requests[layer] += v
			case "gcache_miss_counter_total":
				c.misses[layer] += v
			case "gcache_error_counter_total":
				c.errors += v
			}
		}
	}
	return c, nil
}

// rss returns the process's resident set, in bytes.
func rss() (uint64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb * 1024, err
		}
	}
	return 0, errors.New("no VmRSS in /proc/self/status")
}
