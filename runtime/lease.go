package runtime

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
	key, cfg := p.key, p.cfg
	lk, token := leaseKey(key.str), newToken()
	negative := u.servesNegative(cfg)
	waitCtx, cancel := waitContext(ctx, 2*cfg.Lease)
	defer cancel()
	var waitStart time.Time // zero until this instance waits
	pause := leasePollMin
	force := false // what the key holds is of no use: take the lease anyway
	var useless []byte
	for first := true; ; first = false {
		readAt, start := u.c.clk.local(), time.Now()
		rctx := waitCtx
		if first {
			// The call's one look in Redis, counted as getRemote counts
			// it; the looks while waiting are not requests of their own.
			var cancel context.CancelFunc
			rctx, cancel = u.c.redisContext(ctx)
			defer cancel()
		}
		rd, err := u.c.remote.readOrLease(rctx, key.str, key.watermarkKey(), lk, token, cfg.Lease, force)
		if first {
			u.looked(rctx, start, err, 1)
		} else if err != nil && !errors.Is(err, errBreakerOpen) && !cancelled(rctx) {
			u.remoteError(classify(err), err)
		}
		if err != nil {
			u.waited(waitStart, leaseAbandoned)
			return loaded[T]{}, false, ctx.Err()
		}
		var res loaded[T]
		ok := false
		if rd.raw != nil && !bytes.Equal(rd.raw, useless) {
			if first {
				res, ok = u.accept(key, rd, readAt, negative)
			} else if res, ok, _ = u.check(key, rd, readAt, negative); ok && res.negative {
				u.metrics.negativeHit[Remote].child().Inc()
			}
			if !ok {
				useless = rd.raw
			}
		} else if first {
			u.metrics.miss[Remote].child().Inc()
		}
		switch {
		case ok:
			if rd.took {
				u.releaseLater(lease{lk, token})
			}
			u.waited(waitStart, leaseFilled)
			return res, true, nil
		case rd.took:
			*l = lease{lk, token}
			u.waited(waitStart, leaseAcquired)
			return loaded[T]{}, false, nil
		case rd.raw != nil && !force:
			force = true
			continue
		}
		if waitStart.IsZero() {
			waitStart = time.Now()
		}
		t := time.NewTimer(pause)
		select {
		case <-waitCtx.Done():
			t.Stop()
			u.waited(waitStart, leaseAbandoned)
			return loaded[T]{}, false, ctx.Err()
		case <-t.C:
		}
		pause = min(pause*2, max(min(cfg.Lease/10, leasePollMax), leasePollMin))
	}
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
