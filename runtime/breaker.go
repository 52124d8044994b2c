package gcache

import (
	"sync/atomic"
	"time"
)

// breaker stops calls to Redis after threshold failures in a row. Once
// open, it lets one call through per cooldown to probe; the first success
// closes it.
type breaker struct {
	breakerConfig

	failures  atomic.Int32
	openUntil atomic.Int64 // Unix ns; 0 while closed
}

type breakerConfig struct {
	threshold int32
	cooldown  time.Duration
	clock     func() time.Time
}

// allow reports whether a Redis call may go ahead.
func (b *breaker) allow() bool {
	until := b.openUntil.Load()
	if until == 0 {
		return true
	}
	now := b.clock().UnixNano()
	// A cooldown longer than the breaker's own is a clock stepped back:
	// it is over.
	if now < until && until-now <= int64(b.cooldown) {
		return false
	}
	// The cooldown is over: this call probes; the others wait another one.
	return b.openUntil.CompareAndSwap(until, now+int64(b.cooldown))
}

func (b *breaker) success() {
	if b.failures.Load() != 0 {
		b.failures.Store(0)
	}
	if b.openUntil.Load() != 0 {
		b.openUntil.Store(0)
	}
}

func (b *breaker) failure() {
	if b.failures.Add(1) >= b.threshold {
		b.openUntil.Store(b.clock().Add(b.cooldown).UnixNano())
	}
}

// open reports whether the breaker is holding calls back.
func (b *breaker) open() bool { return b.openUntil.Load() != 0 }
