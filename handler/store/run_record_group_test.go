package store

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"
)

func TestRecordsOfARunAreGroupedIntoTransactions(t *testing.T) {
	var (
		r       runRecords
		mu      sync.Mutex
		groups  [][]string
		release = make(chan struct{})
		started = make(chan struct{})
	)
	commit := func(_ context.Context, group []*invocationRecord) error {
		var names []string
		for _, rec := range group {
			names = append(names, rec.invocation)
		}
		mu.Lock()
		groups = append(groups, names)
		first := len(groups) == 1
		mu.Unlock()
		if first {
			close(started)
			<-release // the first transaction is under way while the others queue
		}
		return nil
	}
	var wg sync.WaitGroup
	record := func(ctx context.Context, invocation string) {
		wg.Go(func() {
			if err := r.record(ctx, "d/run", &invocationRecord{invocation: invocation}, commit); err != nil && ctx.Err() == nil {
				t.Errorf("recording %s: %v", invocation, err)
			}
		})
	}
	record(context.Background(), "first")
	<-started
	// While it commits: 120 distinct invocations, the first of them twice, and a
	// caller that gives up before its turn.
	// Each waits for the one before to be queued, so the order is known.
	names := []string{"m000", "m000"}
	for i := 1; i < 120; i++ {
		names = append(names, fmt.Sprintf("m%03d", i))
	}
	for i, name := range names {
		record(context.Background(), name)
		waitQueued(t, &r, "d/run", i+1)
	}
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	record(gone, "gone")
	waitQueued(t, &r, "d/run", 122)
	close(release)
	wg.Wait()

	sizes := []int{}
	seenIn := map[string][]int{}
	for i, g := range groups {
		sizes = append(sizes, len(g))
		for _, name := range g {
			seenIn[name] = append(seenIn[name], i)
		}
	}
	if want := []int{1, 99, 22}; fmt.Sprint(sizes) != fmt.Sprint(want) {
		t.Errorf("transaction sizes %v, want %v (at most 99 rows beside the summary)", sizes, want)
	}
	if g := seenIn["m000"]; len(g) != 2 || g[0] != 1 || g[1] != 2 {
		t.Errorf("m000, recorded twice, was in transactions %v, want [1 2]", g)
	}
	if g := seenIn["gone"]; len(g) != 0 {
		t.Errorf("a record whose caller gave up was committed in transactions %v", g)
	}
}

// waitQueued waits until n records wait in key's queue.
func waitQueued(t *testing.T, r *runRecords, key string, n int) {
	t.Helper()
	for {
		r.mu.Lock()
		queued := len(r.pending[key].queue)
		r.mu.Unlock()
		if queued >= n {
			return
		}
		if t.Context().Err() != nil {
			t.Fatal("gave up waiting")
		}
		runtime.Gosched()
	}
}
