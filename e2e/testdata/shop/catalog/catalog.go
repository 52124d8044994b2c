// Package catalog is a team's catalog, cached with gcache.
package catalog

import "context"

//go:generate go tool gcachegen

// ProductID identifies a product.
type ProductID string

// Product is a product of the catalog.
type Product struct {
	ID   ProductID
	Name string
}

// ProductReader reads products; orders and inventory embed it.
type ProductReader interface {
	//gcache:cache key_type=product id=id track
	//gcache:ttl local=1m
	GetProduct(ctx context.Context, id ProductID) (Product, error)
}

//gcache:wrap
type Catalog interface {
	ProductReader

	//gcache:invalidate key_type=product id=ids
	DeleteProducts(ctx context.Context, ids []ProductID) error
}

// Repo is a generic repository.
//
//gcache:wrap
type Repo[K ~string, V any] interface {
	//gcache:cache key_type=entity id=id
	//gcache:ttl local=1m
	Load(ctx context.Context, id K) (V, error)
}
