package store

import (
	"context"
	"sync"
	"time"
)

// refreshTimeout bounds one coalesced refresh of a run summary.
const refreshTimeout = time.Minute

// runRefreshes coalesces the summary refreshes of one Store, per run: while a refresh
// of a run is under way, callers that arrive wait for the next one, which begins after
// they arrived and so lists their invocation rows. However many invocations of a run
// finish at once in a process, at most one refresh of it runs and one more is pending,
// instead of one listing of every invocation row per invocation, all racing for the
// summary's ETag. (Each refresh lists the run's invocation rows: without coalescing a
// sweep of n repositories reads O(n²) rows and its late refreshes time out.)
type runRefreshes struct {
	mu      sync.Mutex
	pending map[string]*runRefresh
}

// runRefresh is the state of one run's refreshes: whether a refresher is running and
// the callers waiting for the refresh after the current one.
type runRefresh struct {
	running bool
	next    []chan error
}

// do waits for a run of refresh that begins after do was called, starting one when
// none is under way. refresh gets a context of its own (bounded by refreshTimeout):
// a waiter giving up does not fail the others.
func (r *runRefreshes) do(ctx context.Context, key string, refresh func(context.Context) error) error {
	done := make(chan error, 1)
	r.mu.Lock()
	if r.pending == nil {
		r.pending = map[string]*runRefresh{}
	}
	st := r.pending[key]
	if st == nil {
		st = &runRefresh{}
		r.pending[key] = st
	}
	st.next = append(st.next, done)
	if !st.running {
		st.running = true
		go r.loop(context.WithoutCancel(ctx), key, st, refresh)
	}
	r.mu.Unlock()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// loop refreshes for each batch of waiters until none is left.
func (r *runRefreshes) loop(ctx context.Context, key string, st *runRefresh, refresh func(context.Context) error) {
	for {
		r.mu.Lock()
		batch := st.next
		st.next = nil
		if len(batch) == 0 {
			st.running = false
			delete(r.pending, key)
			r.mu.Unlock()
			return
		}
		r.mu.Unlock()
		rctx, cancel := context.WithTimeout(ctx, refreshTimeout)
		err := refresh(rctx)
		cancel()
		for _, done := range batch {
			done <- err
		}
	}
}
