package catalog

import (
	"context"
	"testing"

	"github.com/gcache-go/gcache/runtime"
	"github.com/prometheus/client_golang/prometheus"
)

type products struct{ calls map[ProductID]int }

func (p *products) GetProduct(ctx context.Context, id ProductID) (Product, error) {
	p.calls[id]++
	return Product{ID: id, Name: "product " + string(id)}, nil
}

func (p *products) DeleteProducts(ctx context.Context, ids []ProductID) error { return nil }

type repo[K ~string, V any] struct{ calls int }

func (r *repo[K, V]) Load(ctx context.Context, id K) (V, error) {
	r.calls++
	var v V
	return v, nil
}

func TestCatalog(t *testing.T) {
	c, err := gcache.New(gcache.Config{Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	src := &products{calls: map[ProductID]int{}}
	cat, err := NewCatalogCache(src, c)
	if err != nil {
		t.Fatal(err)
	}
	ctx := gcache.Enable(context.Background())
	for _, id := range []ProductID{"p-1", "p-2", "p-1", "p-2"} {
		if p, err := cat.GetProduct(ctx, id); err != nil || p.ID != id {
			t.Fatalf("GetProduct(%s) = %+v, %v", id, p, err)
		}
	}
	if err := cat.DeleteProducts(ctx, []ProductID{"p-1", "p-2"}); err != nil {
		t.Fatal(err)
	}
	cat.GetProduct(ctx, "p-1")
	cat.GetProduct(ctx, "p-2")
	if src.calls["p-1"] != 2 || src.calls["p-2"] != 2 {
		t.Errorf("calls = %v, want 2 each: one cached, one after the invalidation", src.calls)
	}

	users, items := &repo[ProductID, string]{}, &repo[string, int]{}
	u, err := NewRepoCache[ProductID, string](users, c)
	if err != nil {
		t.Fatal(err)
	}
	i, err := NewRepoCache[string, int](items, c)
	if err != nil {
		t.Fatalf("a second instantiation on one Cache: %v", err)
	}
	for range 2 {
		u.Load(ctx, "x")
		i.Load(ctx, "x")
	}
	if users.calls != 1 || items.calls != 1 {
		t.Errorf("loads = %d and %d, want one each", users.calls, items.calls)
	}
}
