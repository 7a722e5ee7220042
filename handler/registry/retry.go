package registry

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// RetryPolicy shapes Retry's back-off. The zero value is usable: every zero field
// takes the default documented on it.
type RetryPolicy struct {
	// Attempts is the most tries, the first included (default 5; 1 = no retry).
	Attempts int
	// BaseDelay is the back-off before the second try, doubled per retry and
	// jittered down by up to half (default 500 ms).
	BaseDelay time.Duration
	// MaxDelay caps the computed back-off (default 30 s). A longer Retry-After from
	// the registry is still honoured; the deadline check bounds it.
	MaxDelay time.Duration
	// Sleep waits d or until ctx is done (default: a timer). Tests inject a recorder.
	Sleep func(ctx context.Context, d time.Duration) error
	// Now is the clock used against the context deadline (default time.Now).
	Now func() time.Time
}

const (
	defaultAttempts  = 5
	defaultBaseDelay = 500 * time.Millisecond
	defaultMaxDelay  = 30 * time.Second
)

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.Attempts <= 0 {
		p.Attempts = defaultAttempts
	}
	if p.BaseDelay <= 0 {
		p.BaseDelay = defaultBaseDelay
	}
	if p.MaxDelay <= 0 {
		p.MaxDelay = defaultMaxDelay
	}
	if p.Sleep == nil {
		p.Sleep = sleepContext
	}
	if p.Now == nil {
		p.Now = time.Now
	}
	return p
}

// backoff is the jittered wait after the given failed attempt (1-based): a uniform
// pick in [d/2, d] where d = BaseDelay·2^(attempt-1), capped at MaxDelay.
func (p RetryPolicy) backoff(attempt int) time.Duration {
	d := p.MaxDelay
	if shift := attempt - 1; shift < 32 {
		d = min(p.BaseDelay<<shift, p.MaxDelay)
	}
	half := d / 2
	return half + rand.N(d-half+1)
}

// wait is how long to pause after a failed attempt: the back-off, or longer if the
// registry asked for it with Retry-After.
func (p RetryPolicy) wait(attempt int, err error) time.Duration {
	d := p.backoff(attempt)
	if ra, ok := retryAfterOf(err); ok {
		d = max(d, ra)
	}
	return d
}

// Retry runs op until it succeeds, fails permanently (IsTransient false), or
// Attempts are used up, pausing between tries as RetryPolicy says. It never sleeps
// past ctx's deadline: when the remaining time cannot cover the next wait, or the
// deadline passes during an attempt, it returns an error matching
// ErrBudgetExhausted that wraps the last failure. op receives ctx unchanged.
func Retry(ctx context.Context, policy RetryPolicy, op func(ctx context.Context) error) error {
	p := policy.withDefaults()
	for attempt := 1; ; attempt++ {
		err := op(ctx)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, ErrBudgetExhausted), !IsTransient(err):
			return err
		case ctx.Err() != nil:
			return stopped(ctx, err)
		case attempt >= p.Attempts:
			return fmt.Errorf("giving up after %d attempts: %w", attempt, err)
		}
		wait := p.wait(attempt, err)
		if deadline, ok := ctx.Deadline(); ok {
			if left := deadline.Sub(p.Now()); wait >= left {
				return fmt.Errorf("%w: next retry in %s, %s left before the deadline: %w",
					ErrBudgetExhausted, wait, max(left, 0).Round(time.Millisecond), err)
			}
		}
		if serr := p.Sleep(ctx, wait); serr != nil {
			if ctx.Err() != nil {
				return stopped(ctx, err)
			}
			return fmt.Errorf("waiting to retry: %w: %w", serr, err)
		}
	}
}

// stopped explains why Retry ended because ctx is done, keeping the last failure.
func stopped(ctx context.Context, last error) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("%w: deadline passed: %w", ErrBudgetExhausted, last)
	}
	return fmt.Errorf("retry stopped: %w: %w", context.Cause(ctx), last)
}

// sleepContext waits d or until ctx is done.
func sleepContext(ctx context.Context, d time.Duration) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
