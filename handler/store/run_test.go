package store

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestAddToRunMergesConcurrentIncrements(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	start := time.Date(2025, 7, 1, 6, 0, 0, 0, time.UTC)
	const workers = 10
	var wg sync.WaitGroup
	for i := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := RunDelta{Manifests: 2, Enqueued: 1, Scanned: 1, StartedAt: start.Add(time.Duration(i) * time.Second), FinishedAt: start.Add(time.Duration(i+10) * time.Second)}
			if i%5 == 0 {
				d.Scanned, d.Failed, d.Failure = 0, 1, fmt.Sprintf("scan %d failed:\nboom", i)
			}
			if err := s.AddToRun(ctx, "2025-07-01", "run-1", d); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if err := s.AddToRun(ctx, "2025-07-01", "run-1", RunDelta{Repositories: 3, Retried: 1}); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetRun(ctx, "2025-07-01", "run-1")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(got.Failures, "\n")
	got.Failures = ""
	want := Run{Date: "2025-07-01", ID: "run-1", Repositories: 3, Manifests: 20, Enqueued: 10, Scanned: 8, Failed: 2, Retried: 1,
		StartedAt: start, FinishedAt: start.Add(19 * time.Second), DurationMs: 19000}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("run (-want +got):\n%s", diff)
	}
	if len(lines) != 2 || !strings.HasSuffix(lines[0], "failed: boom") {
		t.Errorf("failures = %q, want two single-line failures", lines)
	}

	t.Run("runs since a date are listed", func(t *testing.T) {
		if err := s.AddToRun(ctx, "2025-06-30", "run-0", RunDelta{Scanned: 1}); err != nil {
			t.Fatal(err)
		}
		runs, err := s.ListRuns(ctx, time.Date(2025, 7, 1, 12, 0, 0, 0, time.UTC))
		if err != nil {
			t.Fatal(err)
		}
		if len(runs) != 1 || runs[0].ID != "run-1" {
			t.Errorf("ListRuns = %+v, want only run-1", runs)
		}
	})
}

func TestRunFailuresStayBounded(t *testing.T) {
	r := Run{}
	long := strings.Repeat("x", 5000)
	for range 10 {
		r = r.apply(RunDelta{Failed: 1, Failure: long})
	}
	if r.Failed != 10 {
		t.Errorf("Failed = %d, want 10", r.Failed)
	}
	if utf16Len(r.Failures) > maxFailureUnits || !strings.Contains(r.Failures, TruncatedMarker) {
		t.Errorf("failures are %d units without a marker", utf16Len(r.Failures))
	}
}
