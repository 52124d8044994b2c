package gcache

import (
	"context"
	"sync"
	"time"
)

// maxRetries bounds the invalidations waiting to be written again, in
// entities. Past it a failed invalidation is dropped, counted and logged.
const maxRetries = 100_000

// The pause between two attempts starts at retryMin and doubles up to
// retryMax.
const (
	retryMin = 50 * time.Millisecond
	retryMax = time.Second
)

// retries writes again, in the background, the watermarks that failed to
// reach Redis: per entity, the latest; in one round trip per key type and
// attempt; until they land, or until no entry they guard can exist any
// more (Config.WatermarkTTL after the latest invalidation of the entity,
// its future buffer included). Close flushes them
// within Config.CloseTimeout.
type retries struct {
	c    *Cache
	wake chan struct{}
	done chan struct{}

	mu      sync.Mutex
	pending map[string]*retry // by entity
}

type retry struct {
	keyType, id string // escaped id
	at          int64  // the invalidation, local ns (future buffer included)
	failed      int64  // local ns of the first failure
}

func newRetries(c *Cache) *retries {
	return &retries{c: c, wake: make(chan struct{}, 1), done: make(chan struct{}), pending: map[string]*retry{}}
}

// add queues inv's entities, keeping the later invalidation of each.
func (r *retries) add(inv invalidation) {
	now := r.c.clk.local()
	r.mu.Lock()
	dropped := 0
	for _, id := range inv.ids {
		entity := r.c.entity(inv.keyType, id)
		if p, ok := r.pending[entity]; ok {
			// A new value, so that an attempt under way with the old
			// one does not take the later invalidation for landed.
			r.pending[entity] = &retry{keyType: p.keyType, id: p.id, at: max(p.at, inv.at), failed: p.failed}
			continue
		}
		if len(r.pending) >= maxRetries {
			dropped++
			continue
		}
		r.pending[entity] = &retry{keyType: inv.keyType, id: id, at: inv.at, failed: now}
	}
	r.mu.Unlock()
	if dropped > 0 {
		r.c.metrics.retried(inv.keyType, retryDropped, dropped)
		r.c.log.error("too many invalidations wait to be written again; some are dropped", "key_type", inv.keyType, "dropped", dropped)
	}
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// size returns the number of entities waiting.
func (r *retries) size() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.pending)
}

// run writes the pending watermarks until ctx ends.
func (r *retries) run(ctx context.Context) {
	defer close(r.done)
	pause := retryMin
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.wake:
		}
		for r.size() > 0 {
			if r.attempt(ctx) {
				pause = retryMin
				continue
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(pause):
			}
			pause = min(2*pause, retryMax)
		}
	}
}

// flush tries to land what is pending until ctx ends, and reports whether
// it did.
func (r *retries) flush(ctx context.Context) bool {
	for r.size() > 0 {
		if r.attempt(ctx) {
			continue
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(retryMin):
		}
	}
	return true
}

// attempt writes every pending watermark once, a round trip per key type
// (each at the latest time among them: a watermark only errs late), and
// reports whether all of them landed. Those too old to matter go.
func (r *retries) attempt(ctx context.Context) bool {
	now := r.c.clk.local()
	keep := int64(r.c.cfg.WatermarkTTL)
	byType := map[string][]*retry{}
	r.mu.Lock()
	for entity, p := range r.pending {
		// Entries made before the invalidation's time (its future buffer
		// included) live up to WatermarkTTL past it.
		if now-p.at > keep {
			delete(r.pending, entity)
			r.c.metrics.retried(p.keyType, retryExpired, 1)
			continue
		}
		byType[p.keyType] = append(byType[p.keyType], p)
	}
	r.mu.Unlock()
	ok := true
	for keyType, ps := range byType {
		for len(ps) > 0 {
			chunk := ps[:min(len(ps), batchChunk)]
			ps = ps[len(chunk):]
			inv := invalidation{keyType: keyType, ids: make([]string, len(chunk))}
			for i, p := range chunk {
				inv.ids[i], inv.at = p.id, max(inv.at, p.at)
			}
			ctx, cancel := context.WithTimeout(ctx, r.c.cfg.RedisTimeout)
			err := r.c.sendWatermarks(ctx, inv)
			cancel()
			if err != nil {
				ok = false
				break
			}
			r.landed(chunk)
		}
	}
	return ok
}

// landed removes the retries that landed, unless a later invalidation of
// their entity came meanwhile.
func (r *retries) landed(chunk []*retry) {
	now := r.c.clk.local()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range chunk {
		entity := r.c.entity(p.keyType, p.id)
		if cur := r.pending[entity]; cur == p {
			delete(r.pending, entity)
			r.c.metrics.retried(p.keyType, retryLanded, 1)
			r.c.metrics.retryTime.WithLabelValues(p.keyType).Observe(time.Duration(now - p.failed).Seconds())
		}
	}
}
