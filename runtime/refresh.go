package runtime

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"
)

// refreshPoint returns when a value made at created (ns) is due for an
// early refresh under cfg, or 0 for never. The TTL it is a fraction of is
// the one the value lives by: Redis's when Redis takes part, as a local
// entry filled from Redis is as old as the value there. A random tenth of
// the fraction is taken off, so that values made together are not
// refreshed together.
func refreshPoint(cfg *KeyConfig, created int64, remote bool) int64 {
	if cfg.RefreshAt == 0 {
		return 0
	}
	f := cfg.RefreshAt * (1 - rand.Float64()/10)
	return created + int64(f*float64(lifetime(cfg, remote)))
}

// lifetime is the TTL a value lives by under cfg.
func lifetime(cfg *KeyConfig, remote bool) time.Duration {
	if remote {
		return cfg.Remote.TTL
	}
	return cfg.Local.TTL
}

// refresh calls fn in the background to refresh key, unless this process
// is refreshing it already; the hit that started it, on layer from, is
// served the value it found. The refresh runs for at most the value's TTL,
// with the values of ctx but not its cancellation. A failed refresh
// leaves the old value in place, to be served until it expires.
func (u *UseCase[T]) refresh(ctx context.Context, key Key, cfg KeyConfig, from Layer, local, remote bool, fn func(context.Context) (T, error)) {
	if !u.refreshing.add(key.str) {
		return
	}
	started := u.c.background(ctx, lifetime(&cfg, remote), func(ctx context.Context) {
		defer u.refreshing.remove(key.str)
		result := u.refreshNow(ctx, &key, &cfg, local, remote, fn)
		u.metrics.refresh[from][result].child().Inc()
	})
	if !started {
		u.refreshing.remove(key.str)
	}
}

// refreshNow refreshes key. With a lease configured, only the instance
// that takes the key's lease refreshes it.
func (u *UseCase[T]) refreshNow(ctx context.Context, key *Key, cfg *KeyConfig, local, remote bool, fn func(context.Context) (T, error)) refreshResult {
	l := &lease{}
	if remote && cfg.Lease > 0 {
		lk, token := leaseKey(key.str), newToken()
		ok, err := u.c.remote.acquire(ctx, lk, token, cfg.Lease)
		switch {
		case err != nil:
			u.remoteError(classify(err), err) // refresh without the lease
		case !ok:
			return refreshLeased
		default:
			*l = lease{lk, token}
		}
	}
	res, err := u.produce(ctx, key, cfg, local, remote, fn)
	if err != nil && !res.negative {
		u.releaseLease(ctx, l)
		return refreshError
	}
	if remote {
		u.setRemote(ctx, key, res, cfg, l)
	}
	return refreshOK
}

// keySet is a set of keys that is safe for concurrent use.
type keySet struct {
	mu   sync.Mutex
	keys map[string]struct{}
}

// add adds k and reports whether it was not there.
func (s *keySet) add(k string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.keys[k]; ok {
		return false
	}
	if s.keys == nil {
		s.keys = map[string]struct{}{}
	}
	s.keys[k] = struct{}{}
	return true
}

func (s *keySet) remove(k string) {
	s.mu.Lock()
	delete(s.keys, k)
	s.mu.Unlock()
}
