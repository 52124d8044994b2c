// Package clocktest provides a clock for tests: a Config.Clock that moves
// only when told to.
package clocktest

import (
	"sync"
	"time"
)

// A Clock tells a time that changes only by Advance. It is safe for
// concurrent use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// New returns a Clock at the current time.
func New() *Clock { return &Clock{now: time.Now()} }

// Now returns the Clock's time; it is what a Config.Clock takes.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the Clock d forward.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}
