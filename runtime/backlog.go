package gcache

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// The writes that follow misses wait in a backlog of at most backlogSize,
// and at most backlogWorkers of them run at a time. Past the bound a write
// is dropped and counted: the value is then cached in the local tier only.
const (
	backlogSize    = 4096
	backlogWorkers = 8
)

// A backlog runs Redis writes in the background, so that a call returns
// when its function returns rather than after its value reached Redis.
// Close waits for the backlog to drain, within Config.CloseTimeout.
type backlog struct {
	jobs    chan ticketed
	pending atomic.Int64 // queued or running
	workers sync.WaitGroup

	mu       sync.Mutex
	closed   bool
	next     uint64              // the ticket of the next job
	inFlight map[uint64]struct{} // the tickets of the jobs not done
}

type ticketed struct {
	ticket uint64
	job    func(context.Context)
}

// start starts the workers. Jobs run with ctx, which ends the ones still
// waiting or running when Close gives up on them; each Redis operation
// bounds itself with the Redis deadline.
func (b *backlog) start(ctx context.Context) {
	b.jobs = make(chan ticketed, backlogSize)
	b.inFlight = map[uint64]struct{}{}
	for range backlogWorkers {
		b.workers.Go(func() {
			for t := range b.jobs {
				hook(&hooks.write, func(f func()) { f() })
				t.job(ctx)
				b.mu.Lock()
				delete(b.inFlight, t.ticket)
				b.mu.Unlock()
				b.pending.Add(-1)
			}
		})
	}
}

// add queues job, and reports false when the backlog is full or closed.
func (b *backlog) add(job func(context.Context)) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return false
	}
	select {
	case b.jobs <- ticketed{b.next, job}:
		b.inFlight[b.next] = struct{}{}
		b.next++
		b.pending.Add(1)
		return true
	default:
		return false
	}
}

// barrier waits until the jobs queued before it are done, or until ctx
// ends, and reports whether they are: Delete and Flush wait for the writes
// of the calls that returned before them, so that no such write lands
// after them.
func (b *backlog) barrier(ctx context.Context) bool {
	b.mu.Lock()
	upTo := b.next
	b.mu.Unlock()
	for pause := 100 * time.Microsecond; ; pause = min(2*pause, 10*time.Millisecond) {
		b.mu.Lock()
		waiting := false
		for t := range b.inFlight {
			if t < upTo {
				waiting = true
				break
			}
		}
		b.mu.Unlock()
		if !waiting {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(pause):
		}
	}
}

// close stops taking jobs and waits until the queued ones have run.
func (b *backlog) close() {
	b.mu.Lock()
	if !b.closed {
		b.closed = true
		close(b.jobs)
	}
	b.mu.Unlock()
	b.workers.Wait()
}
