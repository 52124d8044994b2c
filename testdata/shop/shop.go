// Package shop is the generator fixture of what teams adopting gcache
// write: invalidation by a slice of ids, a generic repository served in
// several instantiations, and a named integer keyed by its String.
package shop

import (
	"context"
	"strconv"
)

// ProductID identifies a product.
type ProductID string

// Region is where a price applies; its keys use its name, not its number.
type Region int

// The regions.
const (
	EU Region = iota + 1
	US
)

// String returns the region's name.
func (r Region) String() string {
	switch r {
	case EU:
		return "eu"
	case US:
		return "us"
	}
	return "region" + strconv.Itoa(int(r))
}

// Product is a product of the catalog.
type Product struct {
	ID    ProductID
	Name  string
	Cents int
}

//gcache:wrap
type Catalog interface {
	//gcache:cache key_type=product id=id track
	//gcache:ttl local=1m remote=5m
	GetProduct(ctx context.Context, id ProductID) (Product, error)

	//gcache:cache key_type=product id=id track
	//gcache:ttl local=1m remote=5m
	Price(ctx context.Context, id ProductID, region Region) (int, error)

	//gcache:invalidate key_type=product id=ids
	DeleteProducts(ctx context.Context, ids []ProductID) error

	//gcache:invalidate key_type=product id=ids
	Touch(ctx context.Context, ids ...ProductID) error

	//gcache:invalidate key_type=product id=id
	SetPrice(ctx context.Context, id ProductID, region Region, cents int) error
}

// Repo loads entities of any kind by id.
//
//gcache:wrap
type Repo[K ~string, V any] interface {
	//gcache:cache key_type=repo id=id
	//gcache:ttl local=1m remote=5m
	Load(ctx context.Context, id K) (V, error)
}
