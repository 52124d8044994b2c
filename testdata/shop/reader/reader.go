// Package reader declares an interface that two packages of the shop
// fixture embed, with its annotations.
package reader

import "context"

// ProductReader reads product names.
type ProductReader interface {
	//gcache:cache key_type=product id=id track
	//gcache:ttl local=1m remote=5m
	GetProduct(ctx context.Context, id string) (string, error)
}
