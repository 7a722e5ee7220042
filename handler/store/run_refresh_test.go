package store

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// refreshedAt is the error a test refresh returns: when it began.
type refreshedAt struct{ start time.Time }

func (r refreshedAt) Error() string { return "refreshed at " + r.start.String() }

func TestRunRefreshesCoalesceConcurrentCallers(t *testing.T) {
	var (
		r                 runRefreshes
		inFlight, maxSeen atomic.Int32
		calls             atomic.Int32
	)
	refresh := func(ctx context.Context) error {
		calls.Add(1)
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			m := maxSeen.Load()
			if n <= m || maxSeen.CompareAndSwap(m, n) {
				break
			}
		}
		start := time.Now()
		time.Sleep(20 * time.Millisecond) // a listing of the run's rows
		return refreshedAt{start}
	}
	const callers = 50
	var wg sync.WaitGroup
	errs := make([]error, callers)
	called := make([]time.Time, callers)
	for i := range callers {
		wg.Go(func() {
			called[i] = time.Now()
			errs[i] = r.do(context.Background(), "2026-12-02/run", refresh)
		})
	}
	wg.Wait()

	for i, err := range errs {
		var at refreshedAt
		if !errors.As(err, &at) {
			t.Fatalf("caller %d got %v, want its refresh's result", i, err)
		}
		if at.start.Before(called[i]) {
			t.Errorf("caller %d was answered by a refresh that began %v before it called: its row may be missing", i, called[i].Sub(at.start))
		}
	}
	if m := maxSeen.Load(); m != 1 {
		t.Errorf("%d refreshes of one run ran at once, want 1", m)
	}
	if n := calls.Load(); n >= callers/2 {
		t.Errorf("%d refreshes for %d concurrent callers, want them coalesced (fewer than %d)", n, callers, callers/2)
	}
}

func TestRunRefreshesOfDifferentRunsDoNotWaitForEachOther(t *testing.T) {
	var r runRefreshes
	release := make(chan struct{})
	blocked := make(chan error, 1)
	go func() {
		blocked <- r.do(context.Background(), "run-a", func(context.Context) error { <-release; return nil })
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.do(ctx, "run-b", func(context.Context) error { return nil }); err != nil {
		t.Errorf("refreshing run-b while run-a's refresh is blocked: %v", err)
	}
	close(release)
	if err := <-blocked; err != nil {
		t.Errorf("run-a's refresh: %v", err)
	}
}
