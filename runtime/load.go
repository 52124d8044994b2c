package gcache

import (
	"context"
	"errors"
	"sync"
	"time"
)

// A plan is how one call that missed the local tier loads its value: its
// key, its config, and the layers that take part.
type plan struct {
	key           *Key
	cfg           *KeyConfig
	local, remote bool
}

// made is what the caller that loaded a value learns of how it was made:
// by the function, and under which lease, for the write to Redis.
type made struct {
	byFn  bool
	lease lease
}

// load serves a local miss. One caller per key at a time leads: it looks
// at the local tier again, then reads Redis (waiting for another
// instance's lease when one is configured), then calls the function. The
// others share its result if they may have it: a caller that came after an
// invalidation it knows of does not get a value from before it, and loads
// again. The function's value goes to Redis in the background.
//
// newFn makes the function; only the caller that calls it makes it.
func (u *UseCase[T]) load(ctx context.Context, p *plan, newFn func() func(context.Context) (T, error)) (T, error) {
	ctx, trace := u.c.startTrace(ctx, p.key, 0, 0)
	defer trace.end()
	start := time.Now()
	for {
		var m made
		res, err, shared := u.flight.do(ctx, p.key.str, func(ctx context.Context) (loaded[T], error) {
			return u.lead(ctx, p, &m, newFn)
		})
		if errors.Is(err, errWaitedEnough) {
			// The load it joined is slow for this caller's deadline.
			m.byFn, shared = true, false
			res, err = u.produce(ctx, p, newFn())
		}
		if shared && (err == nil || res.negative) && !u.usable(p.key.str, res.created, res.validated, res.negative, p.cfg) {
			continue
		}
		if p.local {
			u.metrics.fallback[Local].child().Observe(time.Since(start).Seconds())
		}
		if m.byFn && p.remote {
			if err == nil || res.negative {
				u.fillLater(ctx, p, res, m.lease)
			} else {
				u.releaseLater(m.lease)
			}
		}
		trace.loaded(shared, m.byFn, m.lease.token != "", res.negative, err)
		return res.val, err
	}
}

// lead loads the value of a call for every caller of its key.
func (u *UseCase[T]) lead(ctx context.Context, p *plan, m *made, newFn func() func(context.Context) (T, error)) (res loaded[T], err error) {
	defer func() {
		if r := recover(); r != nil {
			// The function panicked: give the lease up, so that no
			// instance waits it out, and let the panic go on.
			u.releaseLease(context.WithoutCancel(ctx), m.lease)
			panic(r)
		}
	}()
	if p.local {
		// A load that ended just before this one began may have filled
		// the local tier while its Redis write is still under way: look
		// again rather than miss Redis too.
		if e, ok := u.lookupLocal(p.key.str, p.cfg); ok {
			u.c.traceOf(ctx).served(ServedByLocal)
			res := loaded[T]{val: e.val, created: e.created, validated: e.validated, negative: e.negative}
			return res, u.errOf(res)
		}
	}
	if p.remote {
		// A value on its way to Redis is as good as one there.
		if res, ok := u.filling.get(p.key.str); ok && u.usable(p.key.str, res.created, res.validated, res.negative, p.cfg) {
			u.metrics.request[Remote].child().Inc()
			u.c.traceOf(ctx).served(ServedByRemote)
			return res, u.errOf(res)
		}
		res, ok, err := u.fromRemote(ctx, p, &m.lease, newFn)
		if ok || err != nil {
			return res, err
		}
	}
	m.byFn = true
	return u.produce(ctx, p, newFn())
}

// fromRemote reads the call's key from Redis, or with a lease configured,
// waits for the instance that holds it; a value found there fills the
// local tier and, past its refresh point, starts a refresh. ok is false
// when the function must be called, under the lease l took, if any. err is
// the caller's own context's end, or the negative answer found.
func (u *UseCase[T]) fromRemote(ctx context.Context, p *plan, l *lease, newFn func() func(context.Context) (T, error)) (res loaded[T], ok bool, err error) {
	if p.cfg.Lease > 0 {
		res, ok, err = u.awaitLease(ctx, p, l)
		if err != nil {
			return res, false, err
		}
	} else {
		res, ok = u.getRemote(ctx, p)
	}
	if !ok {
		return res, false, nil
	}
	if p.local {
		u.setLocal(p, res)
	}
	if point := refreshPoint(p.cfg, u.origin(res), true); point != 0 && !res.negative && res.validated >= point && u.refreshing.claim(p.key.str, res.validated) {
		u.refresh(ctx, *p, res.created, Remote, newFn())
		u.c.traceOf(ctx).refreshed()
	}
	u.c.traceOf(ctx).served(ServedByRemote)
	return res, true, u.errOf(res)
}

// produce calls fn for the call's key and stores its value, or its
// negative answer, in the local tier. A negative answer is no failure: it
// is not counted as the function's error.
func (u *UseCase[T]) produce(ctx context.Context, p *plan, fn func(context.Context) (T, error)) (loaded[T], error) {
	var res loaded[T]
	res.created, res.validated = u.c.started()
	start := time.Now()
	v, err := fn(ctx)
	res.negative = err != nil && u.isNegative(err, p.cfg)
	u.called(start, err != nil && !res.negative, p.remote)
	if !res.negative {
		res.val = v
	}
	if (err == nil || res.negative) && p.local {
		u.setLocal(p, res)
	}
	return res, err
}

// started returns the created_at (fleet ns, early by the clock's error)
// and the local time of a call that starts now. Before the fleet clock is
// known (the subscriber measures it as soon as Redis answers), created_at
// is 0, older than any watermark: the call does not wait for Redis a
// second time, and its value is of no use to a tracked read elsewhere.
func (c *Cache) started() (created, local int64) {
	local = c.clk.local()
	if fleet, err, ok := c.clk.toFleet(local); ok {
		created = fleet - err
	}
	return created, local
}

// getRemote reads the call's key from Redis. Any failure is counted and
// logged, and reads as a miss.
func (u *UseCase[T]) getRemote(ctx context.Context, p *plan) (loaded[T], bool) {
	ctx, cancel := u.c.redisContext(ctx)
	defer cancel()
	readAt, start := u.c.clk.local(), time.Now()
	rd, err := u.c.remote.get(ctx, p.key.str, p.key.watermarkKey())
	if !u.looked(ctx, start, err, 1) {
		return loaded[T]{}, false
	}
	return u.accept(p.key, rd, readAt, u.servesNegative(p.cfg))
}

// redisContext returns the context of the Redis part of a call: it ends
// after Config.RedisTimeout, or once half of the time ctx has left has
// passed, whichever is sooner, so that the function still has time to run
// when Redis does not answer.
func (c *Cache) redisContext(ctx context.Context) (context.Context, context.CancelFunc) {
	d := c.cfg.RedisTimeout
	if deadline, ok := ctx.Deadline(); ok {
		d = min(d, time.Until(deadline)/2)
	}
	return context.WithTimeout(ctx, d)
}

// looked counts a call's look at n keys in Redis that began at start and
// ended with err, and reports whether it read anything: a look the breaker
// held back is counted as server_down; any other is n requests, timed,
// and its error, unless the caller cancelled it.
func (u *UseCase[T]) looked(ctx context.Context, start time.Time, err error, n int) bool {
	u.c.traceOf(ctx).redisFailed(ctx, err)
	if errors.Is(err, errBreakerOpen) {
		u.metrics.disabled[Remote][reasonServerDown].child().Add(uint64(n))
		return false
	}
	u.metrics.request[Remote].child().Add(uint64(n))
	u.metrics.get[Remote].child().Observe(time.Since(start).Seconds())
	if err != nil {
		if !cancelled(ctx) {
			u.remoteError(classify(err), err)
		}
		return false
	}
	return true
}

// errBacklogFull is the error of a write to Redis dropped at the bound.
var errBacklogFull = errors.New("gcache: too many writes to Redis wait; one is dropped")

// fillLater writes res, which the function made for the call's key under
// the lease l, to Redis in the background. When the backlog is full, the
// write is dropped and counted, and the lease left to expire.
func (u *UseCase[T]) fillLater(ctx context.Context, p *plan, res loaded[T], l lease) {
	key, cfg := *p.key, *p.cfg
	f := u.filling.add(key.str, res)
	if !u.c.writes.add(func(ctx context.Context) {
		u.fill(ctx, &key, &cfg, res, l)
		u.filling.done(key.str, f)
	}) {
		u.filling.done(key.str, f)
		u.remoteError(errDropped, errBacklogFull)
	}
}

// filling holds the values on their way to Redis, by key, so that a call
// that misses in this process while one is under way takes it rather than
// miss Redis too: a use case cached in Redis alone would otherwise call
// its function again for a call that follows a miss at once.
type filling[T any] struct {
	mu sync.Mutex
	m  map[string]*loaded[T]
}

// add records res as on its way to Redis under key, and returns its record.
func (f *filling[T]) add(key string, res loaded[T]) *loaded[T] {
	r := &res
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.m == nil {
		f.m = map[string]*loaded[T]{}
	}
	f.m[key] = r
	return r
}

// get returns the value on its way to Redis under key, if there is one.
func (f *filling[T]) get(key string) (loaded[T], bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r, ok := f.m[key]; ok {
		return *r, true
	}
	return loaded[T]{}, false
}

// done forgets r, the record of a write that ended, unless a later one
// replaced it.
func (f *filling[T]) done(key string, r *loaded[T]) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.m[key] == r {
		delete(f.m, key)
	}
}

// releaseLater gives l up in the background.
func (u *UseCase[T]) releaseLater(l lease) {
	if l.token != "" {
		u.c.writes.add(func(ctx context.Context) { u.releaseLease(ctx, l) })
	}
}

// fill writes res, which the function made for key, to Redis, under the
// lease l when this instance holds one, unless this instance knows it to
// be stale: the Redis script checks Redis's watermark, this process its
// own, which may be ahead (an invalidation still to be written, a Redis
// that restarted without its watermarks). This process checks last thing
// before the write, after encoding.
func (u *UseCase[T]) fill(ctx context.Context, key *Key, cfg *KeyConfig, res loaded[T], l lease) {
	w := u.write(key, res, cfg)
	if w == nil || key.Tracked && u.c.wm.refuses(key.entityKey(), res.created, res.validated) {
		u.releaseLease(ctx, l)
		return
	}
	w.lease, w.token = l.key, l.token
	refusedBy, newer, err := u.c.remote.put(ctx, w)
	if newer {
		// A later call's value is in Redis: the local tier takes it on
		// its next miss rather than serve this older one.
		u.deleteLocal(key.str)
	}
	if refusedBy > 0 {
		// An invalidation came while the function ran: the value just
		// stored locally is stale, which the local tier learns now
		// rather than when the event arrives.
		u.c.wm.raiseMs(key.entityKey(), refusedBy)
	}
	if err != nil && !errors.Is(err, errBreakerOpen) && !cancelled(ctx) {
		u.remoteError(classify(err), err)
	}
}
