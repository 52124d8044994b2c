package runtime

import (
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

// awaitLease is the single flight of a Redis miss across instances. It
// takes key's lease into l and reports false, for the caller to call the
// function; or, while another instance holds the lease, it waits for that
// instance's value, and reports true with it. When the holder's lease ends
// without a value, because its call failed, ran past the lease or its
// process died, awaitLease takes the lease in turn. When Redis fails, or
// ctx ends, it reports false with l empty: the caller calls the function
// on its own.
func (u *UseCase[T]) awaitLease(ctx context.Context, key *Key, cfg *KeyConfig, l *lease) (loaded[T], bool) {
	r := u.c.remote
	lk, token := leaseKey(key.str), newToken()
	var waitStart time.Time // zero until this instance waits
	pause := leasePollMin
	for {
		ok, err := r.acquire(ctx, lk, token, cfg.Lease)
		if err != nil {
			if !errors.Is(err, errBreakerOpen) && ctx.Err() == nil {
				u.remoteError(classify(err), err)
			}
			u.waited(waitStart, leaseAbandoned)
			return loaded[T]{}, false
		}
		if ok {
			*l = lease{lk, token}
			u.waited(waitStart, leaseAcquired)
			return loaded[T]{}, false
		}
		if waitStart.IsZero() {
			waitStart = time.Now()
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			u.waited(waitStart, leaseAbandoned)
			return loaded[T]{}, false
		case <-t.C:
		}
		pause = min(pause*2, max(min(cfg.Lease/10, leasePollMax), leasePollMin))
		if res, ok := u.getRemote(ctx, key); ok {
			u.waited(waitStart, leaseFilled)
			return res, true
		}
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
