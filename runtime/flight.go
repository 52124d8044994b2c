package gcache

import (
	"context"
	"errors"
	"sync"
	"time"
)

// flight runs one load per key at a time in this process; concurrent
// callers of the same key wait for its result instead of loading too.
//
// The load runs in the goroutine of the first caller, with that caller's
// context; do reports to the others that their result was shared. A waiter
// whose own context ends returns at once with its context's error; one
// whose context has a deadline waits at most half the time it has left,
// then returns errWaitedEnough, so that it can still call the function
// itself: the load it joined was sized on another caller's deadline. When the load ends because the first caller's context
// ended, or panics, its result is not shared: the waiters start over and one
// of them loads.
type flight[T any] struct {
	mu    sync.Mutex
	calls map[string]*flightCall[T]
}

type flightCall[T any] struct {
	done  chan struct{}
	val   T
	err   error
	retry bool
}

// errWaitedEnough is what a waiter gets when the load it joined outlasted
// half of its remaining time.
var errWaitedEnough = errors.New("gcache: waited half the deadline for another caller's load")

func (f *flight[T]) do(ctx context.Context, key string, load func(context.Context) (T, error)) (v T, err error, shared bool) {
	for {
		f.mu.Lock()
		if f.calls == nil {
			f.calls = make(map[string]*flightCall[T])
		}
		c, ok := f.calls[key]
		if !ok {
			c = &flightCall[T]{done: make(chan struct{})}
			f.calls[key] = c
			f.mu.Unlock()
			v, err = f.lead(ctx, key, c, load)
			return v, err, false
		}
		f.mu.Unlock()
		var zero T
		if done, err := wait(ctx, c.done); err != nil {
			return zero, err, true
		} else if done && !c.retry {
			return c.val, c.err, true
		}
	}
}

// wait waits for done, at most until ctx ends or half of the time ctx has
// left has passed.
func wait(ctx context.Context, done <-chan struct{}) (bool, error) {
	var enough <-chan time.Time
	if deadline, ok := ctx.Deadline(); ok {
		t := time.NewTimer(time.Until(deadline) / 2)
		defer t.Stop()
		enough = t.C
	}
	select {
	case <-done:
		return true, nil
	case <-ctx.Done():
		return false, ctx.Err()
	case <-enough:
		return false, errWaitedEnough
	}
}

func (f *flight[T]) lead(ctx context.Context, key string, c *flightCall[T], load func(context.Context) (T, error)) (T, error) {
	c.retry = true // until load returns normally
	defer func() {
		f.mu.Lock()
		delete(f.calls, key)
		f.mu.Unlock()
		close(c.done)
	}()
	c.val, c.err = load(ctx)
	c.retry = c.err != nil && ctx.Err() != nil
	return c.val, c.err
}
