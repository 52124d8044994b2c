package gcache

import (
	"context"
	"sync"
)

// flight runs one load per key at a time in this process; concurrent
// callers of the same key wait for its result instead of loading too.
//
// The load runs in the goroutine of the first caller, with that caller's
// context; do reports to the others that their result was shared. A waiter whose own context ends returns at once with its
// context's error. When the load ends because the first caller's context
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
		select {
		case <-c.done:
			if !c.retry {
				return c.val, c.err, true
			}
		case <-ctx.Done():
			var zero T
			return zero, ctx.Err(), true
		}
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
