package gen_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/gcache-go/gcache/runtime"
	"github.com/gcache-go/gcache/testdata/shop"
	"github.com/gcache-go/gcache/testdata/shop/inventory"
	"github.com/gcache-go/gcache/testdata/shop/orders"
	"github.com/prometheus/client_golang/prometheus"
)

type catalog struct{ counter }

func (c *catalog) GetProduct(ctx context.Context, id shop.ProductID) (shop.Product, error) {
	return shop.Product{ID: id, Cents: c.add("GetProduct " + string(id))}, nil
}

func (c *catalog) Price(ctx context.Context, id shop.ProductID, region shop.Region) (int, error) {
	return c.add("Price"), nil
}

func (c *catalog) DeleteProducts(ctx context.Context, ids []shop.ProductID) error { return nil }

func (c *catalog) Touch(ctx context.Context, ids ...shop.ProductID) error { return nil }

func (c *catalog) SetPrice(ctx context.Context, id shop.ProductID, region shop.Region, cents int) error {
	return nil
}

// TestInvalidateEachID: a slice or variadic id on //gcache:invalidate
// invalidates each id, not one entity named after the list.
func TestInvalidateEachID(t *testing.T) {
	e := newEnv(t)
	src := &catalog{}
	cat, err := shop.NewCatalogCache(src, e.c)
	if err != nil {
		t.Fatal(err)
	}
	get := func(id shop.ProductID) int {
		t.Helper()
		p, err := cat.GetProduct(on, id)
		if err != nil {
			t.Fatal(err)
		}
		return p.Cents
	}
	for _, id := range []shop.ProductID{"p-1", "p-2", "p-3", "p-4"} {
		get(id)
		if v := get(id); v != 1 {
			t.Fatalf("GetProduct(%s) = version %d, want the cached 1", id, v)
		}
	}
	if err := cat.DeleteProducts(on, []shop.ProductID{"p-1", "p-2"}); err != nil {
		t.Fatal(err)
	}
	if err := cat.Touch(on, "p-3"); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[shop.ProductID]int{"p-1": 2, "p-2": 2, "p-3": 2, "p-4": 1} {
		if v := get(id); v != want {
			t.Errorf("after the invalidations GetProduct(%s) = version %d, want %d", id, v, want)
		}
	}
	var watermarks []string
	for _, k := range e.redis.Client().Keys(context.Background(), "*#watermark").Val() {
		watermarks = append(watermarks, k)
	}
	if len(watermarks) != 3 || strings.Contains(strings.Join(watermarks, " "), "[") {
		t.Errorf("watermarks = %q, want one for each of p-1, p-2 and p-3", watermarks)
	}
}

// TestStringerKeyedByName: a named integer with a String method renders
// by name, so that renumbering its constants keeps what keys mean.
func TestStringerKeyedByName(t *testing.T) {
	e := newEnv(t)
	cat, err := shop.NewCatalogCache(&catalog{}, e.c)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cat.Price(on, "p-1", shop.EU); err != nil {
		t.Fatal(err)
	}
	want := "{urn:product:p-1}?region=eu#shop.Catalog.Price"
	if got := e.keys(); len(got) != 1 || got[0] != want {
		t.Errorf("keys = %q, want %q", got, want)
	}
}

type (
	userID    string
	productID string
	user      struct{ Name string }
	product   struct{ Title string }
)

type repo[K ~string, V any] struct {
	counter
	make func(K) V
}

func (r *repo[K, V]) Load(ctx context.Context, id K) (V, error) {
	r.add("Load")
	return r.make(id), nil
}

// TestGenericInstantiationsCoexist: two instantiations of one generic
// decorator register on one Cache, and on two Caches sharing one Redis
// each reads its own entries.
func TestGenericInstantiationsCoexist(t *testing.T) {
	e := newEnv(t)
	users := &repo[userID, user]{make: func(id userID) user { return user{Name: "user " + string(id)} }}
	products := &repo[productID, product]{make: func(id productID) product { return product{Title: "product " + string(id)} }}
	open := func(c *gcache.Cache) (*shop.RepoCache[userID, user], *shop.RepoCache[productID, product]) {
		t.Helper()
		u, err := shop.NewRepoCache[userID, user](users, c)
		if err != nil {
			t.Fatal(err)
		}
		p, err := shop.NewRepoCache[productID, product](products, c)
		if err != nil {
			t.Fatalf("a second instantiation on the same Cache: %v", err)
		}
		return u, p
	}
	u1, p1 := open(e.c)
	for range 2 {
		if v, _ := u1.Load(on, "x"); v.Name != "user x" {
			t.Errorf("users.Load = %+v", v)
		}
		if v, _ := p1.Load(on, "x"); v.Title != "product x" {
			t.Errorf("products.Load = %+v", v)
		}
	}
	if users.get("Load") != 1 || products.get("Load") != 1 {
		t.Errorf("loads = %d users, %d products; want one each", users.get("Load"), products.get("Load"))
	}
	want := []string{
		"urn:repo:x#shop.Repo.Load--gen_test.productID--gen_test.product",
		"urn:repo:x#shop.Repo.Load--gen_test.userID--gen_test.user",
	}
	if got := e.keys(); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("keys = %q, want %q", got, want)
	}

	// Another instance on the same Redis reads each entry with its own
	// instantiation.
	other := newCacheOn(t, e)
	u2, p2 := open(other)
	if v, _ := u2.Load(on, "x"); v.Name != "user x" {
		t.Errorf("the other instance's users.Load = %+v", v)
	}
	if v, _ := p2.Load(on, "x"); v.Title != "product x" {
		t.Errorf("the other instance's products.Load = %+v", v)
	}
	if users.get("Load") != 1 || products.get("Load") != 1 {
		t.Errorf("the other instance loaded again: %d users, %d products", users.get("Load"), products.get("Load"))
	}
	if got := metricSum(t, e.reg, "gcache_error_counter_total", "layer", "REMOTE"); got != 0 {
		t.Errorf("%v remote errors", got)
	}
}

type productReader struct{ counter }

func (r *productReader) GetProduct(ctx context.Context, id string) (string, error) {
	return id + "#" + string(rune('0'+r.add(id))), nil
}

func (r *productReader) Forget(ctx context.Context, id string) error { return nil }

// TestPackagesEmbeddingOneInterface: two packages whose Store embeds the
// same annotated interface start on one Cache and cache apart.
func TestPackagesEmbeddingOneInterface(t *testing.T) {
	e := newEnv(t)
	ordersSrc, inventorySrc := &productReader{}, &productReader{}
	o, err := orders.NewStoreCache(ordersSrc, e.c)
	if err != nil {
		t.Fatal(err)
	}
	i, err := inventory.NewStoreCache(inventorySrc, e.c)
	if err != nil {
		t.Fatalf("the second package's Store on the same Cache: %v", err)
	}
	for range 2 {
		if v, _ := o.GetProduct(on, "p"); v != "p#1" {
			t.Errorf("orders.GetProduct = %q, want the cached p#1", v)
		}
		if v, _ := i.GetProduct(on, "p"); v != "p#1" {
			t.Errorf("inventory.GetProduct = %q, want the cached p#1", v)
		}
	}
	want := []string{"{urn:product:p}#inventory.Store.GetProduct", "{urn:product:p}#orders.Store.GetProduct"}
	if got := e.keys(); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("keys = %q, want %q", got, want)
	}
	// Invalidating through one reaches both: they share the entity.
	if err := o.Forget(on, "p"); err != nil {
		t.Fatal(err)
	}
	if v, _ := i.GetProduct(on, "p"); v != "p#2" {
		t.Errorf("after orders.Forget, inventory.GetProduct = %q, want p#2", v)
	}
}

// newCacheOn returns another Cache on the Redis of e, as a second
// instance of a service would have.
func newCacheOn(t *testing.T, e *env) *gcache.Cache {
	t.Helper()
	c, err := gcache.New(gcache.Config{
		Redis:      &gcache.RedisConfig{Addrs: []string{e.redis.Addr()}},
		Registerer: prometheus.NewRegistry(),
		Logger:     slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestSecondDecoratorOnOneCacheSaysWhatToDo: a decorator made twice on one
// Cache fails at start-up with an error that says what to do.
func TestSecondDecoratorOnOneCacheSaysWhatToDo(t *testing.T) {
	e := newEnv(t)
	if _, err := orders.NewStoreCache(&productReader{}, e.c); err != nil {
		t.Fatal(err)
	}
	_, err := orders.NewStoreCache(&productReader{}, e.c)
	if !errors.Is(err, gcache.ErrUseCaseExists) || !strings.Contains(err.Error(), `"orders.Store.GetProduct", by NewStoreCache: a Cache takes one decorator of an interface (make one and share it)`) {
		t.Errorf("second decorator: %v", err)
	}
}
