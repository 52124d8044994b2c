package faults

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Shopify/toxiproxy/v2"
	gcache "github.com/gcache-go/gcache/runtime"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"
)

// enabled is a context in which cached calls use the cache.
var enabled = gcache.Enable(context.Background())

func TestMain(m *testing.M) {
	// go-redis logs every failed dial and every failover it follows.
	redis.SetLogger(quiet{})
	os.Exit(m.Run())
}

type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

// toxics is an in-process toxiproxy: the proxies between Caches and Redis
// servers, through which tests add latency, cut connections and black-hole
// them.
type toxics struct{ api *toxiproxy.ApiServer }

func newToxics() *toxics {
	return &toxics{api: toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())}
}

// A link is one proxy: the route from one Cache to one Redis server.
type link struct {
	name   string
	p      *toxiproxy.Proxy
	listen string
}

// link starts a proxy to upstream on a free loopback port, stopped when the
// test ends.
func (x *toxics) link(t testing.TB, name, upstream string) *link {
	t.Helper()
	p := toxiproxy.NewProxy(x.api, name, "127.0.0.1:0", upstream)
	if err := p.Start(); err != nil {
		t.Fatalf("starting proxy %s: %v", name, err)
	}
	p.Lock()
	listen := p.Listen
	p.Unlock()
	t.Cleanup(p.Stop)
	return &link{name: name, p: p, listen: listen}
}

// addToxic adds a toxic of kind typ with attrs on the stream ("upstream":
// towards Redis, "downstream": back from it), named name.
func (l *link) addToxic(t testing.TB, name, typ, stream string, attrs map[string]any) {
	t.Helper()
	b, err := json.Marshal(map[string]any{"name": name, "type": typ, "stream": stream, "toxicity": 1.0, "attributes": attrs})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.p.Toxics.AddToxicJson(strings.NewReader(string(b))); err != nil {
		t.Fatalf("adding toxic %s to %s: %v", name, l.name, err)
	}
}

// removeToxic removes the toxic name. Removing a timeout toxic closes the
// connections it held.
func (l *link) removeToxic(t testing.TB, name string) {
	t.Helper()
	if err := l.p.Toxics.RemoveToxic(context.Background(), name); err != nil {
		t.Fatalf("removing toxic %s from %s: %v", name, l.name, err)
	}
}

// The faults a link can carry.

// delay adds latency (and jitter) to what Redis sends back.
func (l *link) delay(t testing.TB, latency, jitter time.Duration) func() {
	l.addToxic(t, "delay", "latency", "downstream", map[string]any{"latency": latency.Milliseconds(), "jitter": jitter.Milliseconds()})
	return func() { l.removeToxic(t, "delay") }
}

// blackHole drops everything both ways and closes nothing: connections,
// new ones included, stay open and silent until it is removed, which
// closes them.
func (l *link) blackHole(t testing.TB) func() {
	l.addToxic(t, "hole_up", "timeout", "upstream", map[string]any{"timeout": 0})
	l.addToxic(t, "hole_down", "timeout", "downstream", map[string]any{"timeout": 0})
	return func() {
		l.removeToxic(t, "hole_up")
		l.removeToxic(t, "hole_down")
	}
}

// resetPeer resets (TCP RST) every connection as soon as it carries data,
// until it is removed.
func (l *link) resetPeer(t testing.TB) func() {
	l.addToxic(t, "reset", "reset_peer", "upstream", map[string]any{"timeout": 0})
	return func() { l.removeToxic(t, "reset") }
}

// cut disables the proxy: open connections close, new ones are refused.
func (l *link) cut(t testing.TB) func() {
	l.p.Stop()
	return func() {
		if err := l.p.Start(); err != nil {
			t.Errorf("enabling proxy %s again: %v", l.name, err)
		}
	}
}

// A router dials Redis servers through their links: a go-redis Dialer that
// maps each server's address to its proxy's. Addresses it does not know
// (a sentinel's) are dialled directly.
type router struct {
	mu    sync.Mutex
	to    map[string]string
	dials []string // the first ones: when, and to which server
}

func newRouter() *router { return &router{to: map[string]string{}} }

func (r *router) route(server string, via *link) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.to[server] = via.listen
}

func (r *router) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	r.mu.Lock()
	if len(r.dials) < 200 {
		r.dials = append(r.dials, describe(time.Now())+" "+addr)
	}
	if to, ok := r.to[addr]; ok {
		addr = to
	}
	r.mu.Unlock()
	var d net.Dialer
	return d.DialContext(ctx, network, addr)
}

// client returns a client of one server, dialled through r.
func (r *router) client(t testing.TB, addr string, timeout time.Duration) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: addr, Dialer: r.dial, DialTimeout: time.Second,
		ReadTimeout: timeout, WriteTimeout: timeout, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// failover returns a client of a sentinel group's primary, dialled
// through r.
func (r *router) failover(t testing.TB, sentinel, master string, timeout time.Duration) *redis.Client {
	c := redis.NewFailoverClient(&redis.FailoverOptions{MasterName: master, SentinelAddrs: []string{sentinel}, Dialer: r.dial,
		DialTimeout: time.Second, ReadTimeout: timeout, WriteTimeout: timeout, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// instance is one Cache with its own metrics.
type instance struct {
	c   *gcache.Cache
	reg *prometheus.Registry
}

// newInstance returns a Cache on client with the metrics of a registry of
// its own, closed when the test ends.
func newInstance(t testing.TB, client redis.UniversalClient, cfg gcache.Config) *instance {
	t.Helper()
	reg := prometheus.NewRegistry()
	cfg.RedisClient, cfg.Registerer = client, reg
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	c, err := gcache.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return &instance{c: c, reg: reg}
}

// metric sums the series of the metric name whose labels include the
// given name/value pairs: a counter's value, or a histogram's count.
func (in *instance) metric(name string, labels ...string) float64 {
	families, err := in.reg.Gather()
	if err != nil {
		panic(err)
	}
	sum := 0.0
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	series:
		for _, m := range f.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, l := range m.GetLabel() {
					if l.GetName() == labels[i] && l.GetValue() == labels[i+1] {
						found = true
					}
				}
				if !found {
					continue series
				}
			}
			switch {
			case m.Counter != nil:
				sum += m.Counter.GetValue()
			case m.Histogram != nil:
				sum += float64(m.Histogram.GetSampleCount())
			}
		}
	}
	return sum
}

// settle waits, within d, for the instance's background work.
func (in *instance) settle(d time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return in.c.Settle(ctx)
}

// item is what the database returns: a version of one entity, and when
// the function made it.
type item struct {
	Version int64
	Made    time.Time
}

// versions is a database of versioned entities.
type versions struct {
	mu    sync.Mutex
	v     map[string]int64
	calls int64
}

func newVersions() *versions { return &versions{v: map[string]int64{}} }

// bump writes a new version of id and returns it.
func (d *versions) bump(id string) int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.v[id]++
	return d.v[id]
}

// read returns the current version of id.
func (d *versions) read(id string) item {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls++
	return item{Version: d.v[id], Made: time.Now()}
}

// readCount returns how many reads the database served.
func (d *versions) readCount() int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.calls
}

// eventually polls cond for up to d, and reports whether it held.
func eventually(d time.Duration, cond func() bool) bool {
	for end := time.Now().Add(d); ; time.Sleep(10 * time.Millisecond) {
		if cond() {
			return true
		}
		if time.Now().After(end) {
			return false
		}
	}
}

// describe formats a time of day to the ms.
func describe(t time.Time) string { return t.Format("15:04:05.000") }
