// Package orders wraps a Store that embeds reader.ProductReader, as another
// package of the shop fixture does under the same names.
package orders

import (
	"context"

	"github.com/gcache-go/gcache/testdata/shop/reader"
)

//gcache:wrap
type Store interface {
	reader.ProductReader

	//gcache:invalidate key_type=product id=id
	Forget(ctx context.Context, id string) error
}
