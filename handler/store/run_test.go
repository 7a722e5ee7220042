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

func TestRunSummaryIsTheSumOfItsInvocations(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	start := time.Date(2025, 7, 1, 6, 0, 0, 0, time.UTC)

	t.Run("32 concurrent invocations leave a summary equal to their sum", func(t *testing.T) {
		const workers = 32
		var wg sync.WaitGroup
		for i := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				d := RunDelta{Manifests: 2, Enqueued: 1, Scanned: 1, StartedAt: start.Add(time.Duration(i) * time.Second), FinishedAt: start.Add(time.Duration(i+10) * time.Second)}
				if i%8 == 0 {
					d.Scanned, d.Failed, d.Failure = 0, 1, fmt.Sprintf("scan %d failed:\nboom", i)
				}
				if err := s.RecordInvocation(ctx, "2025-07-01", "run-1", fmt.Sprintf("message-%02d", i), d); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		got, err := s.GetRun(ctx, "2025-07-01", "run-1")
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(got.Failures, "\n")
		got.Failures = ""
		want := Run{Date: "2025-07-01", ID: "run-1", Manifests: 64, Enqueued: 32, Scanned: 28, Failed: 4, Invocations: 32, Deliveries: 32,
			StartedAt: start, FinishedAt: start.Add(41 * time.Second), DurationMs: 41000}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("summary row (-want +got):\n%s", diff)
		}
		if len(lines) != 4 || !strings.HasSuffix(lines[0], "failed: boom") {
			t.Errorf("failures = %q, want four single-line failures", lines)
		}
	})

	t.Run("a message recorded twice counts once, with its latest outcome", func(t *testing.T) {
		for _, d := range []RunDelta{
			{Retried: 1, Failure: "registry: 503", Deliveries: 1},
			{Scanned: 1, Deliveries: 2},
			{Scanned: 1, Deliveries: 2},
		} {
			if err := s.RecordInvocation(ctx, "2025-07-01", "run-2", "message-a", d); err != nil {
				t.Fatal(err)
			}
		}
		got, err := s.GetRun(ctx, "2025-07-01", "run-2")
		if err != nil {
			t.Fatal(err)
		}
		want := Run{Date: "2025-07-01", ID: "run-2", Scanned: 1, Invocations: 1, Deliveries: 2}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("summary row (-want +got):\n%s", diff)
		}
	})

	t.Run("runs since a date are listed as summaries only", func(t *testing.T) {
		if err := s.RecordInvocation(ctx, "2025-06-30", "run-0", "message-c", RunDelta{Scanned: 1}); err != nil {
			t.Fatal(err)
		}
		runs, err := s.ListRuns(ctx, time.Date(2025, 7, 1, 12, 0, 0, 0, time.UTC))
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, r := range runs {
			ids = append(ids, r.ID)
		}
		if diff := cmp.Diff([]string{"run-1", "run-2"}, ids); diff != "" {
			t.Errorf("ListRuns ids (-want +got):\n%s", diff)
		}
	})

	t.Run("a run id holding the separator is refused", func(t *testing.T) {
		if err := s.RecordInvocation(ctx, "2025-07-01", "a~b", "message-d", RunDelta{Scanned: 1}); err == nil {
			t.Error("RecordInvocation accepted run id \"a~b\"")
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
