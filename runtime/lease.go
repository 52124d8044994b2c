package gcache

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"strconv"
	"time"
)

// A lease is this instance's hold on the lease of a key in Redis: while
// it holds, the other instances that miss the key wait for its value
// rather than call the function themselves. The zero lease holds nothing.
type lease struct{ key, token string }

// The pause between two looks at a leased key starts at leasePollMin and
// doubles up to a tenth of the lease, within leasePollMax.
const (
	leasePollMin = time.Millisecond
	leasePollMax = 50 * time.Millisecond
)

// awaitLease reads the call's key from Redis, as getRemote does, for a
// call with a lease configured: it is the single flight of a miss across
// instances. When Redis holds no value of use, it takes the key's lease
// into l and reports false, for the caller to call the function; or, while
// another instance holds the lease, it waits for that instance's value
// and reports true with it. When the holder's lease ends without a value,
// because its call failed, ran past the lease or its process died,
// awaitLease takes the lease in turn. When Redis fails, or the wait lasts
// two leases or half of what is left of the caller's time, it reports
// false with l empty: the caller calls the function on its own. When ctx
// ends it returns ctx's error.
func (u *UseCase[T]) awaitLease(ctx context.Context, p *plan, l *lease) (loaded[T], bool, error) {
	w := leaseWait[T]{u: u, p: p, lease: lease{leaseKey(p.key.str), newToken()}, pause: leasePollMin}
	waitCtx, cancel := waitContext(ctx, 2*p.cfg.Lease)
	defer cancel()
	for first := true; ; first = false {
		res, next, err := w.look(ctx, waitCtx, first)
		switch {
		case err != nil:
			u.waited(w.since, leaseAbandoned)
			return loaded[T]{}, false, ctx.Err()
		case next == gotValue:
			u.waited(w.since, leaseFilled)
			return res, true, nil
		case next == gotLease:
			*l = w.lease
			u.waited(w.since, leaseAcquired)
			return loaded[T]{}, false, nil
		case next == lookNow:
			continue
		}
		if !w.sleep(waitCtx) {
			u.waited(w.since, leaseAbandoned)
			return loaded[T]{}, false, ctx.Err()
		}
	}
}

// next is what a look at a leased key leads to.
type next uint8

const (
	keepWaiting next = iota // another instance holds the lease
	gotValue                // the key holds a value of use
	gotLease                // this call took the lease
	lookNow                 // the key holds a value of no use: take the lease all the same
)

// A leaseWait is one call's wait for the value of a leased key.
type leaseWait[T any] struct {
	u       *UseCase[T]
	p       *plan
	lease   lease     // this call's, if it takes it
	force   bool      // take the lease whatever the key holds
	useless []byte    // what the key held last that was of no use
	since   time.Time // when this instance began to wait; zero until then
	pause   time.Duration
}

// look reads the key and takes its lease when it may, and tells what
// comes next. The first look is the call's one request to Redis, counted
// as getRemote counts it, under the call's Redis budget; the looks while
// waiting are not requests of their own.
func (w *leaseWait[T]) look(ctx, waitCtx context.Context, first bool) (loaded[T], next, error) {
	u, key := w.u, w.p.key
	readAt, start := u.c.clk.local(), time.Now()
	rctx := waitCtx
	if first {
		var cancel context.CancelFunc
		rctx, cancel = u.c.redisContext(ctx)
		defer cancel()
	}
	rd, err := u.c.remote.readOrLease(rctx, key.str, key.watermarkKey(), w.lease.key, w.lease.token, w.p.cfg.Lease, w.force)
	if first {
		u.looked(rctx, start, err, 1)
	} else if err != nil && !errors.Is(err, errBreakerOpen) && !cancelled(rctx) {
		u.remoteError(classify(err), err)
	}
	if err != nil {
		return loaded[T]{}, keepWaiting, err
	}
	res, ok := w.found(rd, readAt, first)
	switch {
	case ok:
		if rd.took {
			u.releaseLater(w.lease)
		}
		return res, gotValue, nil
	case rd.took:
		return loaded[T]{}, gotLease, nil
	case rd.raw != nil && !w.force:
		w.force = true
		return loaded[T]{}, lookNow, nil
	}
	return loaded[T]{}, keepWaiting, nil
}

// found checks what a look found, counting a miss and a negative hit as
// getRemote does on the first look, and remembers a value of no use, so
// that it is counted once, not at every look.
func (w *leaseWait[T]) found(rd read, readAt int64, first bool) (res loaded[T], ok bool) {
	u, negative := w.u, w.u.servesNegative(w.p.cfg)
	switch {
	case rd.raw == nil || bytes.Equal(rd.raw, w.useless):
		if first {
			u.metrics.miss[Remote].child().Inc()
		}
		return res, false
	case first:
		res, ok = u.accept(w.p.key, rd, readAt, negative)
	default:
		if res, ok, _ = u.check(w.p.key, rd, readAt, negative); ok && res.negative {
			u.metrics.negativeHit[Remote].child().Inc()
		}
	}
	if !ok {
		w.useless = rd.raw
	}
	return res, ok
}

// sleep waits before the next look, a pause that doubles up to a tenth
// of the lease, and reports false when waitCtx ended first.
func (w *leaseWait[T]) sleep(waitCtx context.Context) bool {
	if w.since.IsZero() {
		w.since = time.Now()
		w.u.c.traceOf(waitCtx).leaseWaited()
		hook(&hooks.lease, func(f func()) { f() })
	}
	t := time.NewTimer(w.pause)
	defer t.Stop()
	select {
	case <-waitCtx.Done():
		return false
	case <-t.C:
	}
	w.pause = min(w.pause*2, max(min(w.p.cfg.Lease/10, leasePollMax), leasePollMin))
	return true
}

// waitContext returns ctx ending after d, or once half of the time ctx
// has left has passed, whichever is sooner: a wait that leaves the caller
// time to call the function itself.
func waitContext(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if deadline, ok := ctx.Deadline(); ok {
		d = min(d, time.Until(deadline)/2)
	}
	return context.WithTimeout(ctx, d)
}

// newToken returns a lease token: 64 random bits, which no other holder
// of the lease will draw.
func newToken() string { return strconv.FormatUint(rand.Uint64(), 36) }

// waited counts a wait for another instance's lease that began at start,
// if there was one.
func (u *UseCase[T]) waited(start time.Time, result leaseResult) {
	if start.IsZero() {
		return
	}
	u.metrics.leaseWait[result].child().Inc()
	u.metrics.leaseWaitTime.child().Observe(time.Since(start).Seconds())
}

// releaseLease gives l up, so that the instances waiting for it call the
// function rather than wait for the lease to end.
func (u *UseCase[T]) releaseLease(ctx context.Context, l lease) {
	if l.token == "" {
		return
	}
	err := u.c.remote.release(ctx, l.key, l.token)
	if err != nil && !errors.Is(err, errBreakerOpen) && !cancelled(ctx) {
		u.remoteError(classify(err), err)
	}
}
