package testenv

import (
	"sync"
	"time"
)

// Clock is a settable time source, safe for concurrent use, for code that takes its
// clock as a func() time.Time (pass c.Now).
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a Clock reading t until it is Set.
func NewClock(t time.Time) *Clock { return &Clock{now: t} }

// Now returns the time last set.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Set makes Now return t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}
