// Package generic is the generator fixture of generic interfaces: the
// decorators are generic too.
package generic

import "context"

// A Keyer renders itself into keys.
type Keyer interface {
	comparable
	CacheKey() string
}

// Store has ids whose type set has one underlying type, string.
//
//gcache:wrap
type Store[K ~string, V any] interface {
	//gcache:cache key_type=item id=id use_case=GenericGet
	//gcache:ttl local=1m
	Get(ctx context.Context, id K) (V, error)

	//gcache:cache key_type=item id=id use_case=GenericFind
	//gcache:ttl local=1m
	Find(ctx context.Context, id K, filters ...string) ([]V, error)

	//gcache:cache key_type=item id=ids use_case=GenericGetMany batch
	//gcache:ttl local=1m
	GetMany(ctx context.Context, ids []K) (map[K]V, error)

	//gcache:invalidate key_type=item id=id external
	Put(ctx context.Context, id K, v V) error
}

// Index has ids that render themselves.
//
//gcache:wrap
type Index[K Keyer, V interface{ ~int | ~int64 }] interface {
	//gcache:cache key_type=index id=k use_case=IndexLookup
	//gcache:ttl local=1m
	Lookup(ctx context.Context, k K) (V, error)
}
