package orders_test

import (
	"context"
	"testing"

	"example.com/shop/catalog"
	"example.com/shop/inventory"
	"example.com/shop/orders"
	"github.com/gcache-go/gcache/runtime"
	"github.com/prometheus/client_golang/prometheus"
)

type store struct{ calls int }

func (s *store) GetProduct(ctx context.Context, id catalog.ProductID) (catalog.Product, error) {
	s.calls++
	return catalog.Product{ID: id}, nil
}

func (s *store) Forget(ctx context.Context, id catalog.ProductID) error { return nil }

// TestTwoStoresOnOneCache: two packages' Stores, embedding one reader,
// start on one Cache and cache apart.
func TestTwoStoresOnOneCache(t *testing.T) {
	c, err := gcache.New(gcache.Config{Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	os, is := &store{}, &store{}
	o, err := orders.NewStoreCache(os, c)
	if err != nil {
		t.Fatal(err)
	}
	i, err := inventory.NewStoreCache(is, c)
	if err != nil {
		t.Fatalf("inventory's Store on the Cache of orders' Store: %v", err)
	}
	ctx := gcache.Enable(context.Background())
	for range 2 {
		o.GetProduct(ctx, "p")
		i.GetProduct(ctx, "p")
	}
	if os.calls != 1 || is.calls != 1 {
		t.Errorf("calls = %d and %d, want one each", os.calls, is.calls)
	}
}
