// Package named is the generator fixture of //gcache:wrap name=, and of a
// file with two wrapped interfaces.
package named

import "context"

//gcache:wrap name=CachedCatalog
type Catalog interface {
	//gcache:cache key_type=sku id=sku use_case=CatalogPrice
	//gcache:ttl local=10s remote=1m
	//gcache:ramp local=0 remote=25
	Price(ctx context.Context, sku string) (float64, error)
}

//gcache:wrap
type Stock interface {
	//gcache:cache key_type=sku id=sku use_case=StockCount
	Count(ctx context.Context, sku string) (int, error)
}
