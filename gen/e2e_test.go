package gen_test

import (
	"context"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io"
	"io/fs"
	"log/slog"
	"math/big"
	"net/netip"
	"net/url"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"text/template"
	"time"

	"github.com/gcache-go/gcache/internal/redistest"
	"github.com/gcache-go/gcache/runtime"
	"github.com/gcache-go/gcache/testdata/basic"
	"github.com/gcache-go/gcache/testdata/collisions"
	"github.com/gcache-go/gcache/testdata/embedded"
	"github.com/gcache-go/gcache/testdata/generic"
	"github.com/gcache-go/gcache/testdata/keys"
	"github.com/gcache-go/gcache/testdata/shapes"
	"github.com/prometheus/client_golang/prometheus"
)

// The tests here run the decorators generated from the fixtures under
// testdata against the runtime and a private redis-server.

var on = gcache.Enable(context.Background())

type env struct {
	t     *testing.T
	c     *gcache.Cache
	reg   *prometheus.Registry
	redis *redistest.Server
}

// newEnv starts a redis-server and a Cache on it, with the settings of
// cfg, if given, besides those.
func newEnv(t *testing.T, cfg ...gcache.Config) *env {
	t.Helper()
	srv := redistest.Start(t)
	reg := prometheus.NewRegistry()
	var base gcache.Config
	if len(cfg) > 0 {
		base = cfg[0]
	}
	base.Redis = &gcache.RedisConfig{Addrs: []string{srv.Addr()}}
	base.Registerer = reg
	base.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	c, err := gcache.New(base)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	e := &env{t: t, c: c, reg: reg, redis: srv}
	e.settle(c) // subscribed to the other instances' events
	return e
}

// settle waits until c's background work is done: see gcache.Cache.Settle.
func (e *env) settle(c *gcache.Cache) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Settle(ctx); err != nil {
		e.t.Fatalf("Settle: %v", err)
	}
}

// keys returns the keys in Redis but watermarks and the use-case registry,
// sorted.
func (e *env) keys() []string {
	e.t.Helper()
	e.settle(e.c)
	all, err := e.redis.Client().Keys(context.Background(), "*").Result()
	if err != nil {
		e.t.Fatal(err)
	}
	var ks []string
	for _, k := range all {
		if !strings.HasSuffix(k, "#watermark") && !strings.Contains(k, ":gcache}:usecases") {
			ks = append(ks, k)
		}
	}
	sort.Strings(ks)
	return ks
}

func (e *env) flushRedis() {
	e.t.Helper()
	e.redis.Do("FLUSHALL")
}

// counter counts calls by name.
type counter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *counter) add(name string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[name]++
	return c.n[name]
}

func (c *counter) get(name string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[name]
}

type userStore struct {
	counter
	version int
}

func (s *userStore) GetUser(ctx context.Context, userID string) (*basic.User, error) {
	s.add("GetUser")
	return &basic.User{ID: userID, Name: fmt.Sprintf("v%d", s.version)}, nil
}

func (s *userStore) SearchUserPosts(ctx context.Context, userID string, page int, f basic.Filter, trace string) ([]basic.Post, error) {
	s.add("SearchUserPosts")
	return []basic.Post{{ID: int64(page), Title: userID + "/" + f.Tag}}, nil
}

func (s *userStore) UpdateUser(ctx context.Context, userID string, u basic.User) error {
	s.add("UpdateUser")
	if u.Name == "" {
		return errors.New("no name")
	}
	s.version++
	return nil
}

func (s *userStore) Ping(ctx context.Context) error { s.add("Ping"); return nil }

func TestBasicDecorator(t *testing.T) {
	e := newEnv(t)
	src := &userStore{}
	store, err := basic.NewUserStoreCache(src, e.c)
	if err != nil {
		t.Fatal(err)
	}
	var _ basic.UserStore = store

	// Reads: one call to the source, then hits.
	for range 3 {
		u, err := store.GetUser(on, "123")
		if err != nil || u.ID != "123" {
			t.Fatalf("GetUser = %+v, %v", u, err)
		}
		posts, err := store.SearchUserPosts(on, "123", 2, basic.Filter{Tag: "go", Limit: 5}, "trace-a")
		if err != nil || len(posts) != 1 {
			t.Fatalf("SearchUserPosts = %v, %v", posts, err)
		}
	}
	// The ignored parameter is not part of the key.
	store.SearchUserPosts(on, "123", 2, basic.Filter{Tag: "go"}, "trace-b")
	if src.get("GetUser") != 1 || src.get("SearchUserPosts") != 1 {
		t.Errorf("source calls = %v, want one each", src.n)
	}
	want := []string{"urn:user_id:123?filter=go&page=2#SearchUserPosts", "{urn:user_id:123}#GetUser"}
	if got := e.keys(); !reflect.DeepEqual(got, want) {
		t.Errorf("Redis keys = %q, want %q", got, want)
	}

	// Pass-through.
	store.Ping(on)
	store.Ping(on)
	if src.get("Ping") != 2 {
		t.Errorf("Ping calls = %d, want 2", src.get("Ping"))
	}

	// Outside Enable, calls go straight to the source.
	store.GetUser(context.Background(), "123")
	if src.get("GetUser") != 2 {
		t.Errorf("a disabled call was served from the cache")
	}

	// A failed write invalidates nothing; a successful one invalidates
	// the entity in both tiers.
	if err := store.UpdateUser(on, "123", basic.User{}); err == nil {
		t.Fatal("UpdateUser without a name succeeded")
	}
	if u, _ := store.GetUser(on, "123"); u.Name != "v0" || src.get("GetUser") != 2 {
		t.Errorf("after a failed write: %+v, %d calls", u, src.get("GetUser"))
	}
	if err := store.UpdateUser(on, "123", basic.User{Name: "new"}); err != nil {
		t.Fatal(err)
	}
	if u, _ := store.GetUser(on, "123"); u.Name != "v1" {
		t.Errorf("after UpdateUser, GetUser = %+v, want the new version", u)
	}
	// SearchUserPosts is not tracked: invalidation does not reach it.
	store.SearchUserPosts(on, "123", 2, basic.Filter{Tag: "go"}, "")
	if src.get("SearchUserPosts") != 1 {
		t.Errorf("an untracked entry was invalidated")
	}
	wm, err := e.redis.Client().Get(context.Background(), "{urn:user_id:123}#watermark").Int64()
	if err != nil || wm < time.Now().Add(-time.Minute).UnixMilli() {
		t.Errorf("watermark = %d, %v", wm, err)
	}
}

func TestHostileIDsGetDistinctKeys(t *testing.T) {
	e := newEnv(t)
	src := &userStore{}
	store, err := basic.NewUserStoreCache(src, e.c)
	if err != nil {
		t.Fatal(err)
	}
	ids := []string{"1?x=2#y", "1", "a:b", "a", "{}", "", "1 2", "50%", "nil", "1%3Fx%3D2%23y"}
	for _, id := range ids {
		u, err := store.GetUser(on, id)
		if err != nil || u.ID != id {
			t.Fatalf("GetUser(%q) = %+v, %v", id, u, err)
		}
	}
	// Each id was a miss: no id reached another's entry.
	if n := src.get("GetUser"); n != len(ids) {
		t.Errorf("%d source calls for %d distinct ids", n, len(ids))
	}
	want := []string{
		"{urn:user_id:%7B%7D}#GetUser",
		"{urn:user_id:1%3Fx%3D2%23y}#GetUser",
		"{urn:user_id:1%253Fx%253D2%2523y}#GetUser",
		"{urn:user_id:1%202}#GetUser",
		"{urn:user_id:1}#GetUser",
		"{urn:user_id:50%25}#GetUser",
		"{urn:user_id:%6Eil}#GetUser",
		"{urn:user_id:a%3Ab}#GetUser",
		"{urn:user_id:a}#GetUser",
		"{urn:user_id:}#GetUser",
	}
	sort.Strings(want)
	if got := e.keys(); !reflect.DeepEqual(got, want) {
		t.Errorf("keys =\n%q\nwant\n%q", got, want)
	}
	// Every hostile id hits its own entry afterwards.
	for _, id := range ids {
		if u, _ := store.GetUser(on, id); u.ID != id {
			t.Errorf("GetUser(%q) hit %+v", id, u)
		}
	}
	if n := src.get("GetUser"); n != len(ids) {
		t.Errorf("second round called the source %d times", n-len(ids))
	}
	// Invalidating one hostile id reaches its entry only.
	if err := e.c.Invalidate(on, "user_id", "a:b"); err != nil {
		t.Fatal(err)
	}
	store.GetUser(on, "a:b")
	store.GetUser(on, "a")
	if n := src.get("GetUser"); n != len(ids)+1 {
		t.Errorf("after invalidating a:b, %d more calls, want 1", n-len(ids))
	}
}

type keySource struct{ counter }

func (k *keySource) Scalars(ctx context.Context, id int64, i int, i8 int8, u uint, u16 uint16, f32 float32, f64 float64, ok bool, name keys.Name, lvl keys.Level, raw []byte, blob keys.Blob, at time.Time, wait time.Duration) (string, error) {
	return fmt.Sprint("scalars", k.add("Scalars")), nil
}

func (k *keySource) Containers(ctx context.Context, id string, p *int, ps *string, tags []string, named keys.Tags, ptrs []*int, nested [][]string, levels []keys.Level, ips []netip.Addr) (string, error) {
	return fmt.Sprint("containers", k.add("Containers")), nil
}

func (k *keySource) Exprs(ctx context.Context, acct *keys.Account, home *keys.Home, q *keys.Query, r keys.Region, rp *keys.Region, lvl keys.Level) (string, error) {
	return fmt.Sprint("exprs", k.add("Exprs")), nil
}

func (k *keySource) Embedded(ctx context.Context, acct keys.Account) (string, error) {
	return fmt.Sprint("embedded", k.add("Embedded")), nil
}

func (k *keySource) Text(ctx context.Context, ip netip.Addr, prefix *netip.Prefix, since *time.Time) (string, error) {
	return fmt.Sprint("text", k.add("Text")), nil
}

func (k *keySource) Conv(ctx context.Context, n keys.Name) (string, error) {
	return fmt.Sprint("conv", k.add("Conv")), nil
}

func (k *keySource) Deref(ctx context.Context, p *string) (string, error) {
	return fmt.Sprint("deref", k.add("Deref")), nil
}

func TestKeyRendering(t *testing.T) {
	e := newEnv(t)
	src := &keySource{}
	k, err := keys.NewKeysCache(src, e.c)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2024, 5, 6, 7, 8, 9, 500, time.FixedZone("CEST", 7200))
	one, s := 1, "s:t"
	prefix := netip.MustParsePrefix("10.0.0.0/8")
	home := &keys.Home{City: "Paris", Geo: &keys.Geo{Lat: 48.85}}
	for _, tc := range []struct {
		call func() (string, error)
		key  string
	}{
		{func() (string, error) {
			return k.Scalars(on, -7, 1, -2, 3, 4, 0.5, 1e-7, true, "ada lovelace", 5, []byte("x&y"), keys.Blob("b"), at, 90*time.Second)
		}, "urn:k:-7?at=2024-05-06T05%3A08%3A09.0000005Z&blob=b&f32=0.5&f64=1e-07&i=1&i8=-2&lvl=5&name=ada%20lovelace&ok=true&raw=x%26y&u=3&u16=4&wait=1m30s#Scalars"},
		{func() (string, error) {
			return k.Containers(on, "c", &one, &s, []string{"a,b", "c"}, keys.Tags{"t"}, []*int{&one, nil}, [][]string{{"x"}, {}}, []keys.Level{1, 2}, []netip.Addr{netip.MustParseAddr("::1")})
		}, "urn:k:c?ips=[%253A%253A1]&levels=[1,2]&named=[t]&nested=[%5Bx%5D,]&p=1&ps=s%3At&ptrs=[1,nil]&tags=[a%2Cb,c]#Containers"},
		{func() (string, error) {
			return k.Containers(on, "c", nil, nil, nil, nil, nil, nil, nil, nil)
		}, "urn:k:c?ips=&levels=&named=&nested=&p=nil&ps=nil&ptrs=&tags=#Containers"},
		{func() (string, error) {
			return k.Exprs(on, &keys.Account{Email: "ada@x.org"}, home, &keys.Query{Terms: []string{"go"}}, keys.Region{Code: "eu"}, nil, 3)
		}, "urn:account:ada@x.org?acct=org&home=48.85&lvl=3&q=q%3Ago&r=eu&rp=nil#Exprs"},
		{func() (string, error) {
			return k.Embedded(on, keys.Account{Home: home})
		}, "urn:city:Paris#Embedded"},
		{func() (string, error) {
			return k.Text(on, netip.MustParseAddr("192.168.0.1"), &prefix, &at)
		}, "urn:ip:192.168.0.1?prefix=10.0.0.0/8&since=2024-05-06T05%3A08%3A09.0000005Z#Text"},
		{func() (string, error) { return k.Conv(on, "n") }, "urn:name:n?n=n#Conv"},
		{func() (string, error) { return k.Deref(on, &s) }, "urn:ptr:s%3At#Deref"},
	} {
		e.flushRedis()
		if _, err := tc.call(); err != nil {
			t.Fatal(err)
		}
		if got := e.keys(); len(got) != 1 || got[0] != tc.key {
			t.Errorf("keys = %q\nwant   %q", got, tc.key)
		}
	}
}

func TestNilOnTheWayIsAKeyErrorServedUncached(t *testing.T) {
	e := newEnv(t)
	src := &keySource{}
	k, err := keys.NewKeysCache(src, e.c)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		// acct is the id's way: nil; home.Geo too.
		if v, err := k.Exprs(on, nil, nil, nil, keys.Region{}, nil, 0); err != nil || !strings.HasPrefix(v, "exprs") {
			t.Fatalf("Exprs = %q, %v", v, err)
		}
		if _, err := k.Embedded(on, keys.Account{}); err != nil {
			t.Fatal(err)
		}
		if _, err := k.Deref(on, nil); err != nil {
			t.Fatal(err)
		}
	}
	if src.get("Exprs") != 2 || src.get("Embedded") != 2 || src.get("Deref") != 2 {
		t.Errorf("calls = %v, want every call served by the source", src.n)
	}
	if got := metricSum(t, e.reg, "gcache_error_counter_total", "error", "key"); got != 6 {
		t.Errorf("key errors = %v, want 6", got)
	}
	if got := e.keys(); len(got) != 0 {
		t.Errorf("keys = %q", got)
	}
}

// metricSum sums the samples of a family whose label has the value.
func metricSum(t *testing.T, reg *prometheus.Registry, name, label, value string) float64 {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					sum += m.GetCounter().GetValue()
				}
			}
		}
	}
	return sum
}

type genericStore struct{ counter }

func (g *genericStore) Get(ctx context.Context, id string) (int, error) {
	return g.add("Get"), nil
}

func (g *genericStore) Find(ctx context.Context, id string, filters ...string) ([]int, error) {
	return []int{g.add("Find"), len(filters)}, nil
}

func (g *genericStore) GetMany(ctx context.Context, ids []string) (map[string]int, error) {
	n := g.add("GetMany")
	vals := map[string]int{}
	for _, id := range ids {
		vals[id] = n
	}
	return vals, nil
}

func (g *genericStore) Put(ctx context.Context, id string, v int) error { g.add("Put"); return nil }

type sku string

func (s sku) CacheKey() string { return "sku-" + string(s) }

type index struct{ counter }

func (i *index) Lookup(ctx context.Context, k sku) (int64, error) { return int64(i.add("Lookup")), nil }

func TestGenericDecorators(t *testing.T) {
	e := newEnv(t)
	src := &genericStore{}
	store, err := generic.NewStoreCache[string, int](src, e.c)
	if err != nil {
		t.Fatal(err)
	}
	var _ generic.Store[string, int] = store
	store.Get(on, "x")
	if v, _ := store.Get(on, "x"); v != 1 {
		t.Errorf("Get = %d, want the cached 1", v)
	}
	store.Find(on, "x", "a", "b")
	store.Find(on, "x", "a", "b")
	store.Find(on, "x")
	if src.get("Find") != 2 {
		t.Errorf("Find calls = %d, want 2", src.get("Find"))
	}
	for range 2 {
		if vals, _ := store.GetMany(on, []string{"x", "y"}); vals["x"] != 1 || vals["y"] != 1 {
			t.Errorf("GetMany = %v, want the cached first values", vals)
		}
	}
	if err := store.Put(on, "x", 1); err != nil {
		t.Fatal(err)
	}

	idx, err := generic.NewIndexCache[sku, int64](&index{}, e.c)
	if err != nil {
		t.Fatal(err)
	}
	idx.Lookup(on, "a1")
	if v, _ := idx.Lookup(on, "a1"); v != 1 {
		t.Errorf("Lookup = %d, want the cached 1", v)
	}
	// Generic use cases are local only by their defaults.
	if got := e.keys(); len(got) != 0 {
		t.Errorf("keys = %q", got)
	}
}

type docs struct {
	counter
	body map[string]string
}

func (d *docs) Read(ctx context.Context, id string) (string, error) {
	d.add("Read")
	return d.body[id], nil
}

func (d *docs) Write(ctx context.Context, id, body string) error {
	d.add("Write")
	d.body[id] = body
	return nil
}

func (d *docs) Size(ctx context.Context, id string) (int64, error) {
	d.add("Size")
	return int64(len(d.body[id])), nil
}

func (d *docs) Mode(ctx context.Context, id string) (fs.FileMode, error) {
	d.add("Mode")
	if _, ok := d.body[id]; !ok {
		return 0, fs.ErrNotExist
	}
	return 0o644, nil
}

func (d *docs) Close() error { d.add("Close"); return nil }

func TestEmbeddedDecorator(t *testing.T) {
	e := newEnv(t)
	src := &docs{body: map[string]string{"d1": "hello"}}
	dc, err := embedded.NewDocsCache(src, e.c)
	if err != nil {
		t.Fatal(err)
	}
	var _ io.Closer = dc
	for range 2 {
		if s, _ := dc.Read(on, "d1"); s != "hello" {
			t.Fatalf("Read = %q", s)
		}
		dc.Size(on, "d1")
	}
	want := []string{"urn:doc:d1#DocsSize", "{urn:doc:d1}#embedded.Docs.Read"}
	if got := e.keys(); !reflect.DeepEqual(got, want) {
		t.Errorf("keys = %q, want %q", got, want)
	}
	if err := dc.Write(on, "d1", "bye"); err != nil {
		t.Fatal(err)
	}
	if s, _ := dc.Read(on, "d1"); s != "bye" {
		t.Errorf("after Write, Read = %q: the embedded write's invalidation did not reach it", s)
	}
	// The embedded package's sentinel, of a package this one does not
	// import, is cached as "not found".
	for range 2 {
		if _, err := dc.Mode(on, "nope"); err != fs.ErrNotExist {
			t.Errorf("Mode = %v, want fs.ErrNotExist", err)
		}
	}
	if src.get("Mode") != 1 {
		t.Errorf("Mode calls = %d, want the not-found cached", src.get("Mode"))
	}
	dc.Close()
	if src.get("Close") != 1 || src.get("Read") != 2 || src.get("Size") != 1 {
		t.Errorf("calls = %v", src.n)
	}
}

type shapeSource struct{ counter }

func (s *shapeSource) Variadic(ctx context.Context, q string, opts ...int) ([]string, error) {
	s.add("Variadic")
	return []string{q, fmt.Sprint(opts)}, nil
}

func (s *shapeSource) ValueOnly(ctx context.Context, q string) int { return s.add("ValueOnly") }

func (s *shapeSource) Pointer(ctx context.Context, q string) (*url.URL, error) {
	return &url.URL{Host: q}, nil
}

func (s *shapeSource) Map(ctx context.Context, q string) (map[string]*big.Int, error) {
	return map[string]*big.Int{q: big.NewInt(1)}, nil
}

func (s *shapeSource) Struct(ctx context.Context, q string) (shapes.Result, error) {
	return shapes.Result{}, nil
}

func (s *shapeSource) Anonymous(ctx context.Context, q string) (struct {
	A int `json:"a"`
	B []byte
}, error) {
	return struct {
		A int `json:"a"`
		B []byte
	}{A: 1}, nil
}

func (s *shapeSource) Pair(context.Context, string, ...byte) (int, string, error) {
	return 1, "two", nil
}

func (s *shapeSource) Chan(ctx context.Context) (<-chan int, chan<- string) { return nil, nil }

func (s *shapeSource) Func(ctx context.Context, f func(int, ...string) error) func() bool {
	return func() bool { return f(1, "x") == nil }
}

func (s *shapeSource) Tree(ctx context.Context, q string) (*shapes.Tree, error) {
	return &shapes.Tree{Name: q}, nil
}

func (s *shapeSource) Update(ctx context.Context, q string) (int, error) { return s.add("Update"), nil }

func (s *shapeSource) Touch(ctx context.Context, q string) { s.add("Touch") }

func TestShapes(t *testing.T) {
	e := newEnv(t)
	src := &shapeSource{}
	sh, err := shapes.NewShapesCache(src, e.c)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if v, _ := sh.Variadic(on, "q", 1, 2); !slices.Equal(v, []string{"q", "[1 2]"}) {
			t.Errorf("Variadic = %q", v)
		}
		sh.Variadic(on, "q")
		if v := sh.ValueOnly(on, "q"); v != 1 {
			t.Errorf("ValueOnly = %d, want the cached 1", v)
		}
	}
	if src.get("Variadic") != 2 {
		t.Errorf("Variadic calls = %d, want 2 (one per argument list)", src.get("Variadic"))
	}
	if n, err := sh.Update(on, "q"); n != 1 || err != nil {
		t.Errorf("Update = %d, %v", n, err)
	}
	sh.Touch(on, "q")
	if n, s, err := sh.Pair(on, "x", 1, 2); n != 1 || s != "two" || err != nil {
		t.Errorf("Pair = %d, %q, %v", n, s, err)
	}
	if f := sh.Func(on, func(int, ...string) error { return nil }); !f() {
		t.Error("Func did not pass through")
	}
}

type render struct{ counter }

func (r *render) Page(context context.Context, gcache string, time time.Duration, c, b, key, err, val, idLen, next int) (string, error) {
	return fmt.Sprint(gcache, r.add("Page")), nil
}

func (r *render) Templates(ctx context.Context, id string, text *template.Template, html *htmltemplate.Template) (string, error) {
	return fmt.Sprint(id, r.add("Templates")), nil
}

func (r *render) Next(ctx context.Context) error                      { r.add("Next"); return nil }
func (r *render) Cache(ctx context.Context) error                     { r.add("Cache"); return nil }
func (r *render) Alias(ctx collisions.Ctx, id string) (string, error) { return id, nil }
func (r *render) Save(ctx context.Context, id string) collisions.Failure {
	if r.add("Save") == 1 {
		return errors.New("first save fails")
	}
	return nil
}
func (r *render) C(ctx context.Context, id string) (int, error) { return r.add("C"), nil }
func (r *render) Err(ctx context.Context) error                 { return nil }
func (r *render) Pages(ctx context.Context, ids []string, id int, template string) (map[string]string, error) {
	n := r.add("Pages")
	pages := map[string]string{}
	for _, p := range ids {
		pages[p] = fmt.Sprint(p, id, template, n)
	}
	return pages, nil
}
func (r *render) Gone(ctx context.Context, id string) (string, error) {
	r.add("Gone")
	return "", context.Canceled
}
func (r *render) String(ctx context.Context, id string) (string, error) {
	return fmt.Sprint(id, r.add("String")), nil
}

func TestCollisions(t *testing.T) {
	e := newEnv(t)
	src := &render{}
	rc, err := collisions.NewRenderCache(src, e.c)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if v, _ := rc.Page(on, "home", time.Second, 1, 2, 3, 4, 5, 6, 7); v != "home1" {
			t.Errorf("Page = %q", v)
		}
		rc.Templates(on, "t", nil, nil)
	}
	rc.Next(on)
	rc.Cache(on)
	if v, _ := rc.Alias(on, "x"); v != "x" {
		t.Errorf("Alias = %q", v)
	}
	rc.C(on, "c")
	if v, _ := rc.C(on, "c"); v != 1 {
		t.Errorf("C = %d, want the cached 1", v)
	}
	rc.String(on, "s")
	if v, _ := rc.String(on, "s"); v != "s1" {
		t.Errorf("String = %q, want the cached s1", v)
	}
	for range 2 {
		if p, _ := rc.Pages(on, []string{"x", "y"}, 1, "t"); p["x"] != "x1t1" || p["y"] != "y1t1" {
			t.Errorf("Pages = %q", p)
		}
		if _, err := rc.Gone(on, "g"); err != context.Canceled {
			t.Errorf("Gone = %v", err)
		}
	}
	if src.get("Pages") != 1 || src.get("Gone") != 1 {
		t.Errorf("Pages and Gone calls = %v, want one each", src.n)
	}
	// Save returns error under another name: it invalidates only on nil.
	if err := rc.Save(on, "x"); err == nil {
		t.Error("the first Save should fail")
	}
	if got := metricSum(t, e.reg, "gcache_invalidation_counter_total", "key_type", "page"); got != 0 {
		t.Errorf("a failed Save invalidated (%v)", got)
	}
	if err := rc.Save(on, "x"); err != nil {
		t.Fatal(err)
	}
	if got := metricSum(t, e.reg, "gcache_invalidation_counter_total", "key_type", "page"); got != 2 {
		t.Errorf("a successful Save invalidated %v layers, want LOCAL and REMOTE", got)
	}
	if src.get("Page") != 1 || src.get("Templates") != 1 || src.get("Next") != 1 || src.get("Cache") != 1 {
		t.Errorf("calls = %v", src.n)
	}
	want := "urn:page:home?b=2&c=1&err=4&idLen=6&key=3&next=7&time=1s&val=5#collisions.Render.Page"
	if got := e.keys(); len(got) == 0 || got[0] != want {
		t.Errorf("keys = %q, want %q", got, want)
	}
}
