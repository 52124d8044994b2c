// Package inventory has a Store, as another package of the shop does.
package inventory

import (
	"context"

	"example.com/shop/catalog"
)

//go:generate go tool gcachegen

//gcache:wrap
type Store interface {
	catalog.ProductReader

	//gcache:invalidate key_type=product id=id
	Forget(ctx context.Context, id catalog.ProductID) error
}
