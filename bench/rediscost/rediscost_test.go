package rediscost

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gcache-go/gcache/bench/internal/redisinfo"
	"github.com/gcache-go/gcache/internal/redistest"
	"github.com/gcache-go/gcache/runtime"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// Item is the cached value: about 1 KB once encoded, like a row with a
// few text columns.
type Item struct {
	ID      int64
	Name    string
	Tags    []string
	Body    string
	Updated time.Time
}

func newItem(id int64) *Item {
	return &Item{
		ID:      id,
		Name:    "item " + strconv.FormatInt(id, 10),
		Tags:    []string{"alpha", "beta", "gamma", "delta"},
		Body:    strings.Repeat("lorem ipsum dolor sit amet ", 34),
		Updated: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
	}
}

const (
	keyType = "item_id"
	hot     = 1000 // ids held in Redis for the hits
	batch   = 100  // ids per batch
)

// remoteOnly caches in Redis alone, so that every call reaches it.
var remoteOnly = gcache.KeyConfig{Remote: gcache.LayerConfig{TTL: time.Hour, Ramp: 100}}

// fresh numbers the ids that must be missing everywhere.
var fresh atomic.Int64

func freshID() int64 { return 1_000_000_000 + fresh.Add(1) }

// An op is one kind of operation, run once per call of run.
type op struct {
	name string
	// floor names the bare operations whose costs, added, are this one's
	// floor; none for the floors themselves and for invalidation.
	floor []string
	// fnCalls is how many times the cached function must run per call:
	// 0 for hits, which a silent fallback to the function would fake.
	fnCalls int64
	run     func(ctx context.Context, i int) error
}

// harness is the Redis server, gcache's Cache on it, and the clients
// whose commands are counted.
type harness struct {
	info      *redis.Client // reads INFO; not counted
	bare      *redis.Client // the floors' client
	cache     *gcache.Cache
	reg       *prometheus.Registry
	sent      *sentCounter // gcache's client and the bare one
	fnCalls   atomic.Int64
	payload   []byte // gcache's stored bytes of a hot item, for the floors
	results   map[string]result
	resultOrd []string
}

func newHarness(b *testing.B) *harness {
	b.Helper()
	srv := redistest.Start(b)
	h := &harness{sent: newSentCounter(), reg: prometheus.NewRegistry(), results: map[string]result{}}
	h.info = srv.Client()
	h.bare = srv.Client()
	h.bare.AddHook(h.sent)
	client := srv.Client()
	client.AddHook(h.sent)
	c, err := gcache.New(gcache.Config{RedisClient: client, Registerer: h.reg})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = c.Close() })
	h.cache = c
	return h
}

// useCase returns a remote-only use case named name.
func (h *harness) useCase(b *testing.B, name string, tracked bool) *gcache.UseCase[*Item] {
	b.Helper()
	uc, err := gcache.NewUseCase[*Item](h.cache, gcache.UseCaseSpec{Name: name, KeyType: keyType, Tracked: tracked, Default: remoteOnly})
	if err != nil {
		b.Fatal(err)
	}
	return uc
}

// get reads id through uc, loading it with newItem on a miss.
func (h *harness) get(ctx context.Context, uc *gcache.UseCase[*Item], id int64) error {
	kb := gcache.AppendInt(nil, id)
	it, err := uc.Get(ctx, uc.Key(kb, len(kb)), func(context.Context) (*Item, error) {
		h.fnCalls.Add(1)
		return newItem(id), nil
	})
	if err == nil && it.ID != id {
		err = fmt.Errorf("read item %d, got %d", id, it.ID)
	}
	return err
}

// getBatch reads ids through uc in one GetBatch.
func (h *harness) getBatch(ctx context.Context, uc *gcache.UseCase[*Item], ids []int64) error {
	got, err := gcache.GetBatch(ctx, uc, ids, func(b []byte, id int64) ([]byte, int, error) {
		b = gcache.AppendInt(b, id)
		return b, len(b), nil
	}, func(_ context.Context, ids []int64) (map[int64]*Item, error) {
		h.fnCalls.Add(1)
		out := make(map[int64]*Item, len(ids))
		for _, id := range ids {
			out[id] = newItem(id)
		}
		return out, nil
	})
	if err == nil && len(got) != len(ids) {
		err = fmt.Errorf("a batch of %d returned %d", len(ids), len(got))
	}
	return err
}

// fill reads ids 0..hot-1 through uc, so that Redis holds them.
func (h *harness) fill(b *testing.B, uc *gcache.UseCase[*Item]) {
	b.Helper()
	ctx := gcache.Enable(context.Background())
	for id := range int64(hot) {
		if err := h.get(ctx, uc, id); err != nil {
			b.Fatal(err)
		}
	}
}

// copyPayload keeps the bytes gcache stored for one item of useCase and
// writes them under the bare keys "bare:0".."bare:<hot-1>".
func (h *harness) copyPayload(b *testing.B, useCase string) {
	b.Helper()
	ctx := context.Background()
	keys, _, err := h.info.Scan(ctx, 0, "*#"+useCase, 10*hot).Result()
	if err != nil || len(keys) == 0 {
		b.Fatalf("no key of %s in Redis (%v)", useCase, err)
	}
	if h.payload, err = h.info.Get(ctx, keys[0]).Bytes(); err != nil {
		b.Fatal(err)
	}
	for i := range hot {
		if err := h.info.Set(ctx, bareKey(i), h.payload, time.Hour).Err(); err != nil {
			b.Fatal(err)
		}
	}
}

func bareKey(i int) string { return "bare:" + strconv.Itoa(i%hot) }

// ops returns the operations, floors first. Each hit reads one of the hot
// ids; each miss a fresh one.
func (h *harness) ops(b *testing.B) []op {
	hit := h.useCase(b, "hit", false)
	hitTracked := h.useCase(b, "hit-tracked", true)
	miss := h.useCase(b, "miss", false)
	missTracked := h.useCase(b, "miss-tracked", true)
	batchHit := h.useCase(b, "batch-hit", false)
	batchHitTracked := h.useCase(b, "batch-hit-tracked", true)
	batchMiss := h.useCase(b, "batch-miss", false)
	for _, uc := range []*gcache.UseCase[*Item]{hit, hitTracked, batchHit, batchHitTracked} {
		h.fill(b, uc)
	}
	h.copyPayload(b, "hit")
	hotIDs := func(i int) []int64 {
		ids := make([]int64, batch)
		for j := range ids {
			ids[j] = int64((i*batch + j) % hot)
		}
		return ids
	}
	freshIDs := func() []int64 {
		ids := make([]int64, batch)
		for j := range ids {
			ids[j] = freshID()
		}
		return ids
	}
	return []op{
		{name: "bare GET", run: func(ctx context.Context, i int) error {
			return h.bare.Get(ctx, bareKey(i)).Err()
		}},
		{name: "bare SET", run: func(ctx context.Context, i int) error {
			return h.bare.Set(ctx, bareKey(i), h.payload, time.Hour).Err()
		}},
		{name: "bare MGET 100", run: func(ctx context.Context, i int) error {
			keys := make([]string, batch)
			for j := range keys {
				keys[j] = bareKey(i*batch + j)
			}
			return h.bare.MGet(ctx, keys...).Err()
		}},
		{name: "bare SET ×100, pipelined", run: func(ctx context.Context, i int) error {
			_, err := h.bare.Pipelined(ctx, func(p redis.Pipeliner) error {
				for j := range batch {
					p.Set(ctx, bareKey(i*batch+j), h.payload, time.Hour)
				}
				return nil
			})
			return err
		}},
		{name: "remote hit", floor: []string{"bare GET"}, run: func(ctx context.Context, i int) error {
			return h.get(ctx, hit, int64(i%hot))
		}},
		{name: "remote hit, tracked", floor: []string{"bare GET"}, run: func(ctx context.Context, i int) error {
			return h.get(ctx, hitTracked, int64(i%hot))
		}},
		{name: "miss and fill", floor: []string{"bare GET", "bare SET"}, fnCalls: 1, run: func(ctx context.Context, _ int) error {
			return h.get(ctx, miss, freshID())
		}},
		{name: "miss and fill, tracked", floor: []string{"bare GET", "bare SET"}, fnCalls: 1, run: func(ctx context.Context, _ int) error {
			return h.get(ctx, missTracked, freshID())
		}},
		{name: "invalidation", run: func(ctx context.Context, i int) error {
			return h.cache.Invalidate(ctx, keyType, strconv.Itoa(i%hot))
		}},
		{name: "batch of 100 remote hits", floor: []string{"bare MGET 100"}, run: func(ctx context.Context, i int) error {
			return h.getBatch(ctx, batchHit, hotIDs(i))
		}},
		{name: "batch of 100 remote hits, tracked", floor: []string{"bare MGET 100"}, run: func(ctx context.Context, i int) error {
			return h.getBatch(ctx, batchHitTracked, hotIDs(i))
		}},
		{name: "batch of 100 misses and fills", floor: []string{"bare MGET 100", "bare SET ×100, pipelined"}, fnCalls: 1, run: func(ctx context.Context, _ int) error {
			return h.getBatch(ctx, batchMiss, freshIDs())
		}},
	}
}

// BenchmarkRedisCost runs each operation for the benchmark's time and
// reports what Redis spent on it, then prints the tables. Custom metrics
// per operation: sent/op (commands gcache's client sent), trips/op (round
// trips), srv-cmds/op (commands the server ran, a script's included),
// srv-cmd-µs/op (the server's time in the commands sent), srv-cpu-µs/op
// (the server process's CPU).
func BenchmarkRedisCost(b *testing.B) {
	h := newHarness(b)
	ops := h.ops(b)
	ctx := gcache.Enable(context.Background())
	for _, o := range ops {
		b.Run(o.name, func(b *testing.B) {
			for i := range 200 { // connections dialled, scripts loaded
				if err := o.run(ctx, i); err != nil {
					b.Fatal(err)
				}
			}
			h.sent.reset()
			fnBefore := h.fnCalls.Load()
			errsBefore := h.redisErrors(b)
			before, err := redisinfo.Read(context.Background(), h.info)
			if err != nil {
				b.Fatal(err)
			}
			start := time.Now()
			i := 0
			for b.Loop() {
				if err := o.run(ctx, i); err != nil {
					b.Fatal(err)
				}
				i++
			}
			elapsed := time.Since(start)
			after, err := redisinfo.Read(context.Background(), h.info)
			if err != nil {
				b.Fatal(err)
			}
			if got, want := h.fnCalls.Load()-fnBefore, o.fnCalls*int64(i); got != want {
				b.Fatalf("the function ran %d times in %d operations, want %d: a Redis read or write did not do what it should", got, i, want)
			}
			if n := h.redisErrors(b) - errsBefore; n != 0 {
				b.Fatalf("gcache counted %v Redis errors", n)
			}
			r := result{n: i, sent: h.sent.snapshot(), server: after.Sub(before), clientNs: float64(elapsed.Nanoseconds()) / float64(i)}
			h.record(o, r)
			b.ReportMetric(r.perOp(r.sentTotal()), "sent/op")
			b.ReportMetric(r.perOp(r.sent.trips), "trips/op")
			b.ReportMetric(r.perOp(r.server.Calls()), "srv-cmds/op")
			b.ReportMetric(r.commandUsec(), "srv-cmd-µs/op")
			b.ReportMetric(r.cpuUsec(), "srv-cpu-µs/op")
		})
	}
	h.print(os.Stdout, ops)
}

// redisErrors returns gcache's error counter, all kinds and layers.
func (h *harness) redisErrors(b *testing.B) float64 {
	b.Helper()
	mfs, err := h.reg.Gather()
	if err != nil {
		b.Fatal(err)
	}
	var n float64
	for _, mf := range mfs {
		if strings.HasSuffix(mf.GetName(), "gcache_error_counter_total") {
			for _, m := range mf.GetMetric() {
				n += m.GetCounter().GetValue()
			}
		}
	}
	return n
}

func (h *harness) record(o op, r result) {
	if _, ok := h.results[o.name]; !ok {
		h.resultOrd = append(h.resultOrd, o.name)
	}
	h.results[o.name] = r
}

// A result is what one operation cost, over n of them.
type result struct {
	n        int
	sent     sent            // by gcache's client (or the bare one)
	server   redisinfo.Stats // the server's counters' differences
	clientNs float64         // wall time per operation, at the client
}

func (r result) perOp(v int64) float64 { return float64(v) / float64(r.n) }

// sentScripts reports whether the client sent scripts, whose commands
// the server counts too.
func (r result) sentScripts() bool {
	for name := range r.sent.commands {
		if strings.HasPrefix(name, "eval") || strings.HasPrefix(name, "fcall") {
			return true
		}
	}
	return false
}

func (r result) sentTotal() int64 {
	var n int64
	for _, c := range r.sent.commands {
		n += c
	}
	return n
}

// commandUsec is the server's time per operation in the commands the
// client sent. A command that scripts also run is charged for the share of
// its calls the client sent: a script's time already holds its commands'.
func (r result) commandUsec() float64 {
	var usec float64
	for name, c := range r.server.Commands {
		sent := r.sent.commands[name]
		if sent == 0 || c.Calls == 0 {
			continue
		}
		usec += float64(c.Usec) * min(1, float64(sent)/float64(c.Calls))
	}
	return usec / float64(r.n)
}

func (r result) cpuUsec() float64 {
	return float64(r.server.CPU.Microseconds()) / float64(r.n)
}

// floorOf adds up the results of names, by f; false when one is missing.
func (h *harness) floorOf(names []string, f func(result) float64) (float64, bool) {
	var sum float64
	for _, n := range names {
		r, ok := h.results[n]
		if !ok {
			return 0, false
		}
		sum += f(r)
	}
	return sum, len(names) > 0
}

// print writes the summary table and the commandstats of each operation.
func (h *harness) print(w *os.File, ops []op) {
	floors := map[string][]string{}
	for _, o := range ops {
		floors[o.name] = o.floor
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| operation | sent/op | round trips/op | server commands/op | server command µs/op | vs floor | server CPU µs/op | vs floor | client µs/op |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|")
	ratio := func(v float64, names []string, f func(result) float64) string {
		fl, ok := h.floorOf(names, f)
		if !ok || fl == 0 {
			return "–"
		}
		return fmt.Sprintf("%.2f×", v/fl)
	}
	for _, name := range h.resultOrd {
		r := h.results[name]
		fmt.Fprintf(w, "| %s | %.2f | %.2f | %.2f | %.2f | %s | %.2f | %s | %.1f |\n", name,
			r.perOp(r.sentTotal()), r.perOp(r.sent.trips), r.perOp(r.server.Calls()),
			r.commandUsec(), ratio(r.commandUsec(), floors[name], result.commandUsec),
			r.cpuUsec(), ratio(r.cpuUsec(), floors[name], result.cpuUsec),
			r.clientNs/1e3)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| operation | command | calls/op | usec_per_call | run by |")
	fmt.Fprintln(w, "|---|---|---:|---:|---|")
	for _, name := range h.resultOrd {
		r := h.results[name]
		var cmds []string
		for c := range r.server.Commands {
			if c != "info" {
				cmds = append(cmds, c)
			}
		}
		slices.Sort(cmds)
		for _, c := range cmds {
			st := r.server.Commands[c]
			by := "client"
			switch sent := r.sent.commands[c]; {
			case r.perOp(st.Calls) < 0.01:
				by = "background" // the subscription's health check, say
			case sent == 0 && r.sentScripts():
				by = "script"
			case sent == 0:
				by = "background"
			case sent < st.Calls:
				by = fmt.Sprintf("client %.2f/op, script", r.perOp(sent))
			}
			fmt.Fprintf(w, "| %s | %s | %.2f | %.2f | %s |\n", name, strings.ToUpper(c), r.perOp(st.Calls), float64(st.Usec)/float64(st.Calls), by)
		}
	}
}
