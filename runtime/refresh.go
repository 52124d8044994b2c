package gcache

import (
	"context"
	"errors"
	"math/rand/v2"
	"runtime/debug"
	"strings"
	"sync"
	"time"
)

// refreshPoint returns when a value made at origin (local ns) is due for an
// early refresh under cfg, or 0 for never. The TTL it is a fraction of is
// the one the value lives by: Redis's when Redis takes part, as a local
// entry filled from Redis is as old as the value there. A random tenth of
// the fraction is taken off, so that values made together are not
// refreshed together.
func refreshPoint(cfg *KeyConfig, origin int64, remote bool) int64 {
	if cfg.RefreshAt == 0 {
		return 0
	}
	f := cfg.RefreshAt * (1 - rand.Float64()/10)
	return origin + int64(f*float64(lifetime(cfg, remote)))
}

// lifetime is the TTL a value lives by under cfg.
func lifetime(cfg *KeyConfig, remote bool) time.Duration {
	if remote {
		return cfg.Remote.TTL
	}
	return cfg.Local.TTL
}

// refreshBackoff is how long a key whose refresh failed is left alone: a
// twentieth of the value's TTL, within a second and a minute. The old value
// is served meanwhile.
func refreshBackoff(ttl time.Duration) time.Duration {
	return min(max(ttl/20, time.Second), time.Minute)
}

// refresh calls fn in the background to refresh the key of p, whose
// value, made at created (fleet ns), a hit on layer from found past its
// refresh point; the caller claimed the key's refresh. The hit is served
// the value it found. The refresh runs for what is left of the value's TTL,
// but at least a second, with the values of ctx but not its cancellation.
// One that fails, or panics, leaves the old value in place, to be served
// until it expires, and the key is not refreshed again for a while.
func (u *UseCase[T]) refresh(ctx context.Context, p plan, created int64, from Layer, fn func(context.Context) (T, error)) {
	key, cfg := *p.key, *p.cfg
	p.key, p.cfg = &key, &cfg
	ttl := lifetime(&cfg, p.remote)
	left := time.Duration(u.origin(loaded[T]{created: created, validated: u.c.clk.local()}) + int64(ttl) - u.c.clk.local())
	started := u.c.background(ctx, min(max(left, time.Second), ttl), func(ctx context.Context) {
		result := refreshError
		defer func() {
			if r := recover(); r != nil {
				u.metrics.error(layerGlobal, errFunction, true)
				u.c.log.error("early refresh panicked", "use_case", u.name, "panic", r, "stack", string(debug.Stack()))
			}
			now := u.c.clk.local()
			var until int64 // a refreshed key can be claimed again at once
			switch result {
			case refreshError:
				until = now + int64(refreshBackoff(ttl))
			case refreshLeased:
				until = now + int64(cfg.Lease)
			}
			u.refreshing.release(key.str, until, now)
			u.metrics.refresh[from][result].child().Inc()
		}()
		result = u.refreshNow(ctx, &p, created, fn)
	})
	if !started {
		u.refreshing.release(key.str, 0, 0)
	}
}

// refreshNow refreshes the key of p, whose value was made at created.
// With a lease configured, only the instance that takes the key's lease
// refreshes it, and none does when Redis holds a newer value than created:
// another instance refreshed it, and this one takes its value.
func (u *UseCase[T]) refreshNow(ctx context.Context, p *plan, created int64, fn func(context.Context) (T, error)) refreshResult {
	var l lease
	handedOff := false // the fill releases the lease
	defer func() {
		if !handedOff {
			u.releaseLease(ctx, l)
		}
	}()
	if p.remote && p.cfg.Lease > 0 {
		lk, token := leaseKey(p.key.str), newToken()
		readAt := u.c.clk.local()
		rd, err := u.c.remote.readOrLease(ctx, p.key.str, p.key.watermarkKey(), lk, token, p.cfg.Lease, true)
		switch {
		case errors.Is(err, errBreakerOpen):
			// Refresh without the lease.
		case err != nil:
			u.remoteError(classify(err), err) // refresh without the lease
		default:
			if rd.took {
				l = lease{lk, token}
			}
			if rd.raw != nil {
				if res, ok, _ := u.check(p.key, rd, readAt, u.servesNegative(p.cfg)); ok && res.created > created {
					if p.local {
						u.setLocal(p, res)
					}
					return refreshLeased
				}
			}
			if !rd.took {
				return refreshLeased
			}
		}
	}
	res, err := u.produce(ctx, p, fn)
	if err != nil && !res.negative {
		return refreshError
	}
	if p.remote {
		// The write of the value this refresh replaces may still wait in
		// the backlog: landing after this one, it would put the older value
		// back in Redis (an untracked write is a plain SET). A refresh that
		// cannot wait for it, its time up, writes nothing, and gives its
		// lease back in the background.
		handedOff = true // by the fill, or to the backlog
		if !u.c.writes.barrier(ctx) {
			u.releaseLater(l)
			return refreshError
		}
		u.fill(ctx, p.key, p.cfg, res, l)
	}
	return refreshOK
}

// claims holds the keys whose refresh is under way, and those whose last
// refresh failed or was left to another instance, until they may be
// refreshed again. It is safe for concurrent use.
type claims struct {
	mu        sync.Mutex
	until     map[string]int64 // ns; 0 while the refresh is under way
	sweepFrom int              // the size at which release sweeps next
}

// claimsSwept is the size from which releasing a key sweeps out the claims
// that have lapsed: then, and whenever the set has doubled since it last
// did, so that sweeping costs a constant per release.
const claimsSwept = 1024

// claim claims the refresh of k at now (ns), unless it is under way or
// was released until later. k may borrow a caller's buffer.
func (c *claims) claim(k string, now int64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if until, ok := c.until[k]; ok && (until == 0 || now < until) {
		return false
	}
	if c.until == nil {
		c.until = map[string]int64{}
	}
	c.until[strings.Clone(k)] = 0
	return true
}

// release ends the refresh of k; k may not be claimed again before until
// (ns; 0 for at once). now is the time, in ns.
func (c *claims) release(k string, until, now int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if until == 0 {
		delete(c.until, k)
		return
	}
	c.until[k] = until
	if len(c.until) >= max(c.sweepFrom, claimsSwept) {
		for k, t := range c.until {
			if t != 0 && t <= now {
				delete(c.until, k)
			}
		}
		c.sweepFrom = 2 * len(c.until)
	}
}
