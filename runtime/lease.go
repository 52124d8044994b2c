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

// awaitLease reads key from Redis, as getRemote does, for a caller with a
// lease configured: it is the single flight of a miss across instances.
// When Redis holds no value of use, it takes the key's lease into l and
// reports false, for the caller to call the function; or, while another
// instance holds the lease, it waits for that instance's value and reports
// true with it. When the holder's lease ends without a value, because its
// call failed, ran past the lease or its process died, awaitLease takes
// the lease in turn. When Redis fails, or the wait lasts two leases, it
// reports false with l empty: the caller calls the function on its own.
// When ctx ends it returns ctx's error.
func (u *UseCase[T]) awaitLease(ctx context.Context, key *Key, cfg *KeyConfig, l *lease) (loaded[T], bool, error) {
	lk, token := leaseKey(key.str), newToken()
	wmKey := ""
	if key.Tracked {
		wmKey = watermarkKey(key.entityKey())
	}
	negative := u.servesNegative(cfg)
	var waitStart time.Time // zero until this instance waits
	pause := leasePollMin
	force := false // what the key holds is of no use: take the lease anyway
	var useless []byte
	for first := true; ; first = false {
		start := time.Now()
		raw, wm, bad, took, err := u.c.remote.readOrLease(ctx, key.str, wmKey, lk, token, cfg.Lease, force)
		if first {
			// The call's one look in Redis, counted as getRemote counts
			// it; the looks while waiting are not requests of their own.
			if errors.Is(err, errBreakerOpen) {
				u.metrics.disabled[Remote][reasonServerDown].child().Inc()
				return loaded[T]{}, false, nil
			}
			u.metrics.request[Remote].child().Inc()
			u.metrics.get[Remote].child().Observe(time.Since(start).Seconds())
		}
		if err != nil {
			u.waited(waitStart, leaseAbandoned)
			if ctx.Err() != nil {
				return loaded[T]{}, false, ctx.Err()
			}
			if !errors.Is(err, errBreakerOpen) {
				u.remoteError(classify(err), err)
			}
			return loaded[T]{}, false, nil
		}
		var res loaded[T]
		ok := false
		if raw != nil && !bytes.Equal(raw, useless) {
			if first {
				res, ok = u.accept(key, raw, wm, bad, negative)
			} else if res, ok, _ = u.check(key, raw, wm, bad, negative); ok && res.negative {
				u.metrics.negativeHit[Remote].child().Inc()
			}
			if !ok {
				useless = raw
			}
		} else if first {
			u.metrics.miss[Remote].child().Inc()
		}
		switch {
		case ok:
			if took {
				u.releaseLease(ctx, &lease{lk, token})
			}
			u.waited(waitStart, leaseFilled)
			return res, true, nil
		case took:
			*l = lease{lk, token}
			u.waited(waitStart, leaseAcquired)
			return loaded[T]{}, false, nil
		case raw != nil && !force:
			force = true
			continue
		}
		if waitStart.IsZero() {
			waitStart = time.Now()
		} else if time.Since(waitStart) > 2*cfg.Lease {
			u.waited(waitStart, leaseAbandoned)
			return loaded[T]{}, false, nil
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			u.waited(waitStart, leaseAbandoned)
			return loaded[T]{}, false, ctx.Err()
		case <-t.C:
		}
		pause = min(pause*2, max(min(cfg.Lease/10, leasePollMax), leasePollMin))
	}
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
func (u *UseCase[T]) releaseLease(ctx context.Context, l *lease) {
	if l == nil || l.token == "" {
		return
	}
	err := u.c.remote.release(context.WithoutCancel(ctx), l.key, l.token)
	if err != nil && !errors.Is(err, errBreakerOpen) {
		u.remoteError(classify(err), err)
	}
}
