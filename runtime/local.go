package gcache

import "strings"

// usable is the rule by which a value of the key str is handed to a caller
// under cfg, whether it comes from the local tier, from a load the caller
// shares, or from a batch: a negative answer only when cfg serves them,
// and a tracked value only when the watermark table finds it fresh (see
// watermarks.check). A hit that only the outage mode serves is counted.
func (u *UseCase[T]) usable(str string, created, validated int64, negative bool, cfg *KeyConfig) bool {
	if negative && !u.servesNegative(cfg) {
		return false
	}
	if !u.shape.tracked {
		return true
	}
	switch u.c.wm.check(entityOf(str), created, validated, u.c.clk.local()) {
	case fresh:
		return true
	case outageFresh:
		u.metrics.outageHit.child().Inc()
		return true
	}
	return false
}

// entityOf returns "{prefix:key_type:id}" of a tracked key. An id never
// holds a raw '}', so the first one closes the entity.
func entityOf(key string) string { return key[:strings.IndexByte(key, '}')+1] }

// lookupLocal returns the local entry of key when it is usable under cfg.
func (u *UseCase[T]) lookupLocal(key string, cfg *KeyConfig) (entry[T], bool) {
	e, ok := u.local.GetIfPresent(key)
	if !ok || !u.usable(key, e.created, e.validated, e.negative, cfg) {
		return entry[T]{}, false
	}
	return e, true
}

// setLocal stores res in the local tier under p, unless it is tracked and
// the watermark table would not serve it.
func (u *UseCase[T]) setLocal(p *plan, res loaded[T]) {
	e := entry[T]{val: res.val, created: res.created, validated: res.validated, ttl: p.cfg.Local.TTL, negative: res.negative}
	if res.negative {
		e.ttl = p.cfg.NegativeTTL
	} else {
		e.refreshAt = refreshPoint(p.cfg, u.origin(res), p.remote)
	}
	if p.key.Tracked {
		if u.c.wm.check(p.key.entityKey(), res.created, res.validated, u.c.clk.local()) == stale {
			return
		}
		e.ttl = min(e.ttl, u.c.cfg.WatermarkTTL)
		u.c.wm.guard(e.ttl)
	}
	u.local.Set(p.key.str, e)
}

// origin returns when res was made, in local ns, as near as it is known:
// what its refresh point counts from.
func (u *UseCase[T]) origin(res loaded[T]) int64 {
	if res.created == 0 {
		return res.validated
	}
	return u.c.clk.toLocal(res.created)
}

func (u *UseCase[T]) deleteLocal(key string) bool {
	_, ok := u.local.Invalidate(key)
	return ok
}

func (u *UseCase[T]) clearLocal() { u.local.InvalidateAll() }

func (u *UseCase[T]) close() { u.local.StopAllGoroutines() }
