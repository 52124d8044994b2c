package gcache

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gcache-go/gcache/internal/names"
)

// An InvalidateOption modifies an invalidation.
type InvalidateOption func(*invalidateOptions)

type invalidateOptions struct{ buffer time.Duration }

// WithFutureBuffer sets the watermark d into the future, so that entries
// written until then are stale too: for writers that commit after they
// invalidate.
func WithFutureBuffer(d time.Duration) InvalidateOption {
	return func(o *invalidateOptions) { o.buffer = d }
}

func invalidateOptionsOf(keyType string, opts []InvalidateOption) (invalidateOptions, error) {
	var o invalidateOptions
	if !names.Valid(keyType) {
		return o, fmt.Errorf("gcache: key type %q: %s", keyType, names.Want)
	}
	for _, opt := range opts {
		opt(&o)
	}
	if o.buffer < 0 {
		return o, fmt.Errorf("gcache: future buffer %v is negative", o.buffer)
	}
	return o, nil
}

// Invalidate makes every tracked entry of the entity keyType:id stale, in
// every use case, with every argument, in both tiers of every instance
// sharing this Cache's Redis and prefix. Entries whose function call started
// before Invalidate are never served after it returns: by this instance at
// once, from either tier; by the others once the watermark is in Redis and
// the event has reached them.
//
// The watermark it writes is the one the Python gcache library reads and
// writes, so services in both languages invalidate each other. It only
// moves forward. When it cannot be written, Invalidate returns the error,
// and the Cache goes on writing it in the background until it lands, or
// until no entry it guards can exist any more (Config.WatermarkTTL);
// meanwhile this instance serves none of the entity's older entries.
func (c *Cache) Invalidate(ctx context.Context, keyType, id string, opts ...InvalidateOption) error {
	o, err := invalidateOptionsOf(keyType, opts)
	if err != nil {
		return err
	}
	return c.invalidate(ctx, keyType, []string{EscapeID(id)}, o.buffer)
}

// InvalidateMany invalidates the entities keyType:id of each of ids, as
// Invalidate does one, in one round trip per Redis server, and tells the
// other instances in one event. An empty ids does nothing.
func (c *Cache) InvalidateMany(ctx context.Context, keyType string, ids []string, opts ...InvalidateOption) error {
	o, err := invalidateOptionsOf(keyType, opts)
	if err != nil {
		return err
	}
	escaped := make([]string, len(ids))
	for i, id := range ids {
		escaped[i] = EscapeID(id)
	}
	return c.invalidate(ctx, keyType, escaped, o.buffer)
}

// invalidate invalidates the entities of keyType whose escaped ids are
// escapedIDs: this process's view at once, then Redis's and the other
// instances' through one event, or in the background when that fails.
func (c *Cache) invalidate(ctx context.Context, keyType string, escapedIDs []string, buffer time.Duration) error {
	if len(escapedIDs) == 0 {
		return nil
	}
	inv := invalidation{keyType: keyType, ids: escapedIDs, at: c.clk.local() + int64(buffer)}
	// The local view learns it first, on the late side of the clock.
	for _, id := range escapedIDs {
		c.wm.raiseOwn(c.entity(keyType, id), inv.at)
	}
	c.metrics.invalidation.WithLabelValues(keyType, Local.String()).Add(float64(len(escapedIDs)))
	if c.remote == nil {
		return nil
	}
	err := c.sendWatermarks(ctx, inv)
	if err != nil {
		c.retries.add(inv)
		if len(escapedIDs) == 1 {
			return fmt.Errorf("gcache: invalidate %s: %w", c.entity(keyType, escapedIDs[0]), err)
		}
		return fmt.Errorf("gcache: invalidate %d entities of %s: %w", len(escapedIDs), keyType, err)
	}
	return nil
}

// entity returns "{prefix:key_type:id}" for an escaped id.
func (c *Cache) entity(keyType, escapedID string) string {
	return "{" + c.cfg.KeyPrefix + ":" + keyType + ":" + escapedID + "}"
}

// An invalidation is a set of entities of one key type to invalidate as
// of local time at (its future buffer included).
type invalidation struct {
	keyType string
	ids     []string // escaped
	at      int64    // local ns
}

// sendWatermarks writes the watermarks of inv to Redis and announces them,
// and feeds back into the local view any later watermark it finds there.
// It counts its outcome.
func (c *Cache) sendWatermarks(ctx context.Context, inv invalidation) error {
	if _, _, ok := c.clk.fleet(); !ok && c.sub != nil {
		// The clock is not known yet: learn it now, or fail.
		if err := c.sub.sync(ctx); err != nil {
			c.countInvalidationError(inv.keyType, err)
			return err
		}
	}
	// The watermark, on the late side of the clock's error.
	wm, _ := c.clk.late(inv.at)
	wmKeys := make([]string, len(inv.ids))
	for i, id := range inv.ids {
		wmKeys[i] = watermarkKey(c.entity(inv.keyType, id))
	}
	inForce, err := c.remote.raiseWatermarks(ctx, wmKeys, inv.ids, wm, c.cfg.WatermarkTTL+time.Duration(max(0, wm-c.fleetNow())), c.channel(), eventInvalidate+" "+inv.keyType)
	landed := 0
	for i, ms := range inForce {
		if ms == 0 {
			continue
		}
		landed++
		entity := c.entity(inv.keyType, inv.ids[i])
		c.wm.landOwn(entity, wm, inv.at)
		if ms > wm/1e6 { // a later invalidation, from elsewhere
			c.wm.raise(entity, msToNs(ms))
		}
	}
	c.metrics.invalidation.WithLabelValues(inv.keyType, Remote.String()).Add(float64(landed))
	if err != nil {
		c.countInvalidationError(inv.keyType, err)
	}
	return err
}

// fleetNow returns the fleet time, or the local time before it is known.
func (c *Cache) fleetNow() int64 {
	if now, _, ok := c.clk.fleet(); ok {
		return now
	}
	return c.clk.local()
}

// countInvalidationError counts and logs a watermark write that failed.
func (c *Cache) countInvalidationError(keyType string, err error) {
	kind := classify(err)
	if errors.Is(err, errBreakerOpen) {
		kind = errConnection
	}
	c.metrics.invalidationErrors.WithLabelValues(keyType, Remote.String(), string(kind)).Inc()
	c.log.error("invalidation failed; it is retried in the background", "key_type", keyType, "error", err)
}

// An Invalidator invalidates entities of one key type after writes; it is
// what a generated //gcache:invalidate method calls.
type Invalidator struct {
	c       *Cache
	keyType string
	buffer  time.Duration
}

// NewInvalidator returns an Invalidator of keyType.
func NewInvalidator(c *Cache, keyType string, opts ...InvalidateOption) (*Invalidator, error) {
	o, err := invalidateOptionsOf(keyType, opts)
	if err != nil {
		return nil, err
	}
	return &Invalidator{c: c, keyType: keyType, buffer: o.buffer}, nil
}

// Invalidate invalidates the entity whose id, rendered by the Append
// functions, is id; idErr is the error of rendering it, if any. It runs
// after a write has succeeded, so it reports nothing back: a watermark
// that cannot be written is counted, logged, and written in the
// background until it lands (see [Cache.Invalidate]). It outlives the
// caller's cancellation.
func (inv *Invalidator) Invalidate(ctx context.Context, id []byte, idErr error) {
	if idErr != nil {
		inv.keyError(idErr)
		return
	}
	_ = inv.c.invalidate(context.WithoutCancel(ctx), inv.keyType, []string{string(id)}, inv.buffer)
}

// InvalidateEach is Invalidate for many ids, each rendered by the Append
// functions: one round trip per Redis server, one event.
func (inv *Invalidator) InvalidateEach(ctx context.Context, ids [][]byte, idErr error) {
	if idErr != nil {
		inv.keyError(idErr)
		return
	}
	escaped := make([]string, len(ids))
	for i, id := range ids {
		escaped[i] = string(id)
	}
	_ = inv.c.invalidate(context.WithoutCancel(ctx), inv.keyType, escaped, inv.buffer)
}

func (inv *Invalidator) keyError(err error) {
	inv.c.metrics.invalidationErrors.WithLabelValues(inv.keyType, layerGlobal, string(errKey)).Inc()
	inv.c.log.error("could not render the id to invalidate", "key_type", inv.keyType, "error", err)
}
