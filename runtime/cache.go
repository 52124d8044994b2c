package gcache

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/maypok86/otter/v2"
)

// A Cache holds the tiers, the runtime configuration and the metrics that
// its use cases share. It is safe for concurrent use. Create it with [New]
// and release it with [Cache.Close].
type Cache struct {
	cfg     Config // with defaults filled in
	log     *limitedLog
	metrics *metrics
	clk     *clock
	clock   otter.Clock        // the local tiers' clock
	coarse  *otter.CoarseClock // stopped by Close; nil with Config.Clock
	remote  *remote            // nil: local only
	ownsRC  bool               // Close closes the Redis client

	wm       *watermarks
	sub      *subscriber // nil: local only
	retries  *retries    // nil: local only
	writes   backlog
	registry *registry

	mu       sync.Mutex
	useCases map[string]useCaseHandle
	closed   atomic.Bool

	// stopping ends when Close is called; bg counts the goroutines that
	// run in the background, which Close waits for. draining ends when
	// Close gives up on the background writes.
	stopping context.Context
	stop     context.CancelFunc
	bg       sync.WaitGroup
	draining context.Context
	abandon  context.CancelFunc
}

// useCaseHandle is what the Cache needs of a registered use case.
type useCaseHandle interface {
	deleteLocal(key string) bool
	clearLocal()
	close()
}

// New returns a Cache configured by cfg. It never connects to Redis, so a
// Redis that is down at start does not fail it; calls are served by their
// functions until Redis answers. A configuration mistake is an error.
func New(cfg Config) (*Cache, error) {
	userClock := cfg.Clock != nil
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	m, err := newMetrics(cfg.Registerer, cfg.MetricsPrefix)
	if err != nil {
		return nil, fmt.Errorf("gcache: registering metrics: %w", err)
	}
	c := &Cache{
		cfg:      cfg,
		log:      newLimitedLog(cfg.Logger, cfg.Clock),
		metrics:  m,
		useCases: map[string]useCaseHandle{},
	}
	c.stopping, c.stop = context.WithCancel(context.Background())
	c.draining, c.abandon = context.WithCancel(context.Background())
	c.clk = newClock(cfg.Clock, userClock)
	if userClock {
		c.clock = clockAdapter{cfg.Clock}
	} else {
		// Reading the precise time is a large part of a local hit.
		c.coarse = otter.NewCoarseClock(clockResolution)
		c.clock = c.coarse
	}
	c.wm = newWatermarks(maxWatermarks, c.clk, cfg.OutageStaleness, cfg.WatermarkTTL)
	client := cfg.RedisClient
	if cfg.Redis != nil {
		client, c.ownsRC = cfg.Redis.client(cfg.RedisTimeout), true
		traceRedis(client, cfg.Tracer)
	}
	if client == nil {
		// No other instance can invalidate, and no other clock matters.
		c.clk.fixed()
		c.wm.alwaysCurrent()
		c.registry = newRegistry(c)
		return c, nil
	}
	c.remote = newRemote(client, cfg.RedisTimeout, breakerConfig{threshold: int32(cfg.BreakerThreshold), cooldown: cfg.BreakerCooldown, clock: cfg.Clock})
	c.writes.start(c.draining)
	c.retries = newRetries(c)
	go c.retries.run(c.stopping)
	c.sub = startSubscriber(c)
	c.registry = newRegistry(c)
	return c, nil
}

// clockResolution is how far the local tiers' clock may lag: entries expire
// up to this much late.
const clockResolution = 10 * time.Millisecond

// clockAdapter gives otter the Config's clock. It does not tick: expired
// entries are dropped when they are read, not in the background.
type clockAdapter struct{ now func() time.Time }

func (c clockAdapter) NowNano() int64                      { return c.now().UnixNano() }
func (c clockAdapter) Tick(time.Duration) <-chan time.Time { return nil }

// Close stops the Cache's background work and, when the Cache created the
// Redis client from Config.Redis, closes it. It cancels the context of
// early refreshes under way and waits for them to return: a function that
// ignores its context holds Close until it returns. It then waits, within
// Config.CloseTimeout, for the writes to Redis still in the background and
// for the invalidations still to be written. Calls made after Close are
// served by their functions.
func (c *Cache) Close() error {
	c.mu.Lock()
	if c.closed.Load() {
		c.mu.Unlock()
		return nil
	}
	c.closed.Store(true)
	useCases := c.useCases
	c.mu.Unlock()
	c.stop()
	c.bg.Wait()

	if c.remote != nil {
		giveUp := time.AfterFunc(c.cfg.CloseTimeout, c.abandon)
		c.writes.close()
		<-c.retries.done
		if !c.retries.flush(c.draining) {
			c.log.error("Close gave up on invalidations that could not be written", "pending", c.retries.size())
		}
		giveUp.Stop()
		c.sub.stop()
	}
	c.abandon()
	for _, uc := range useCases {
		uc.close()
	}
	if c.coarse != nil {
		c.coarse.Stop()
	}
	if c.ownsRC {
		return c.remote.client.Close()
	}
	return nil
}

// background runs f in a goroutine of its own, with the values of ctx but
// not its cancellation, for at most timeout; Close cancels it and waits
// for it. After Close it runs nothing and reports false. f does not see
// the trace of the call that started it (see untraced): it runs under the
// call's span, if the Tracer put one in ctx, but reports nothing to it.
func (c *Cache) background(ctx context.Context, timeout time.Duration, f func(context.Context)) bool {
	c.mu.Lock()
	if c.closed.Load() {
		c.mu.Unlock()
		return false
	}
	c.bg.Add(1)
	c.mu.Unlock()
	go func() {
		defer c.bg.Done()
		ctx, cancel := context.WithTimeout(c.untraced(context.WithoutCancel(ctx)), timeout)
		defer cancel()
		defer context.AfterFunc(c.stopping, cancel)()
		f(ctx)
	}()
	return true
}

// msToNs turns a time from Redis, in ms, into the last ns it may stand for:
// a watermark errs on the side of staleness.
func msToNs(ms int64) int64 { return ms*1e6 + 999_999 }

// ErrUseCaseExists is returned when a use case name is registered twice on
// one Cache.
var ErrUseCaseExists = errors.New("gcache: use case is already registered")

func (c *Cache) register(spec UseCaseSpec, uc useCaseHandle) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.closed.Load():
		return errors.New("gcache: the Cache is closed")
	case c.useCases[spec.Name] != nil:
		return fmt.Errorf("%w: %q", ErrUseCaseExists, spec.Name)
	}
	c.useCases[spec.Name] = uc
	c.registry.add(spec)
	return nil
}

func (c *Cache) useCase(name string) useCaseHandle {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.useCases[name]
}

func (c *Cache) eachUseCase(f func(useCaseHandle)) {
	c.mu.Lock()
	all := make([]useCaseHandle, 0, len(c.useCases))
	for _, uc := range c.useCases {
		all = append(all, uc)
	}
	c.mu.Unlock()
	for _, uc := range all {
		f(uc)
	}
}

// Delete removes one key from both tiers and tells the other instances to
// drop their local copy. It reports whether a tier held the key. A Key
// written as a literal is rendered with this Cache's prefix and no
// arguments. It first waits, within the Redis deadline, for the writes to
// Redis of the calls that returned before it.
func (c *Cache) Delete(ctx context.Context, key Key) (bool, error) {
	key = key.rendered(c.cfg.KeyPrefix)
	c.awaitWrites(ctx)
	deleted := false
	if uc := c.useCase(key.UseCase); uc != nil {
		deleted = uc.deleteLocal(key.str)
	}
	if c.remote == nil {
		return deleted, nil
	}
	inRedis, err := c.remote.del(ctx, key.str)
	if err == nil {
		err = c.publish(ctx, eventDelete+" "+key.str)
	}
	if err != nil {
		c.countError(key.UseCase, key.KeyType, Remote.String(), err)
		return deleted || inRedis, fmt.Errorf("gcache: delete %s: %w", key.str, err)
	}
	return deleted || inRedis, nil
}

// Flush removes every entry of this Cache's prefix from both tiers, and
// tells the other instances to empty their local tiers. Keys of other
// prefixes are left alone, and so are watermarks, which keep guarding
// against writes that were under way, and the config hash and use-case
// registry under the prefix. It never runs FLUSHALL. Like Delete, it first
// waits for the writes of the calls that returned before it.
func (c *Cache) Flush(ctx context.Context) error {
	c.awaitWrites(ctx)
	c.eachUseCase(useCaseHandle.clearLocal)
	if c.remote == nil {
		return nil
	}
	p := c.cfg.KeyPrefix
	_, err := c.remote.unlink(ctx, isEntry, p+":*", "{"+p+":*")
	if err == nil {
		err = c.publish(ctx, eventFlush)
	}
	if err != nil {
		c.countError("", "", Remote.String(), err)
		return fmt.Errorf("gcache: flush: %w", err)
	}
	return nil
}

// Settle waits until the background work begun before it is done: the
// writes to Redis of the calls that returned, the invalidations that
// failed and are written again, and the events the other instances
// published, which this instance has then heard. It returns ctx's error
// when ctx ends first. A call returns as soon as its function does, and
// writes its value to Redis in the background: tests that read Redis, or
// another instance, right after a call settle first.
func (c *Cache) Settle(ctx context.Context) error {
	if c.remote == nil {
		return nil
	}
	now := c.clk.local()
	if !c.writes.barrier(ctx) {
		return ctx.Err()
	}
	for c.retries.size() > 0 || c.wm.asOf.Load() < now {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Millisecond):
		}
	}
	return nil
}

// awaitWrites waits, within the Redis deadline, for the background writes
// of the calls that returned before it.
func (c *Cache) awaitWrites(ctx context.Context) {
	if c.remote == nil {
		return
	}
	ctx, cancel := c.remote.bounded(ctx)
	defer cancel()
	if !c.writes.barrier(ctx) {
		c.log.error("writes of earlier calls are still under way; they may land after this delete or flush")
	}
}

// countError counts and logs an error of a Cache-wide operation.
func (c *Cache) countError(useCase, keyType, layer string, err error) {
	kind := classify(err)
	if errors.Is(err, errBreakerOpen) {
		kind = errConnection
	}
	c.metrics.errors.WithLabelValues(useCase, keyType, layer, string(kind), "False").Inc()
	c.log.error("Redis operation failed", "layer", layer, "key_type", keyType, "error", err)
}
