package store

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestRecordPulls(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	push := time.Date(2025, 4, 1, 9, 0, 0, 0, time.UTC)
	sweep1 := push.Add(6 * time.Hour)
	sweep2 := sweep1.Add(6 * time.Hour)
	digest := "sha256:" + "ab"
	key := Activity{Registry: "r.example", Repository: "a/b", Digest: digest}
	with := func(f func(*Activity)) Activity { a := key; f(&a); return a }

	if err := s.RecordActivity(ctx, with(func(a *Activity) { a.LastPushedAt = push; a.Source = "tags" }), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ClaimScanAs(ctx, key.Registry, key.Repository, digest, push, "msg-1"); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name string
		obs  Activity
		want Activity
	}{
		{
			name: "a first count sets the window count and keeps the push and the claim",
			obs: with(func(a *Activity) {
				a.LastPulledAt, a.PullCount, a.PullsCountedAt, a.Source = sweep1.Add(-time.Hour), 7, sweep1, "loganalytics"
			}),
			want: with(func(a *Activity) {
				a.LastPushedAt, a.LastPulledAt, a.PullCount, a.PullsCountedAt, a.Source = push, sweep1.Add(-time.Hour), 7, sweep1, "loganalytics"
				a.PullSource = "loganalytics"
				a.ScanClaimedOn, a.ScanClaimedBy = "2025-04-01", "msg-1"
			}),
		},
		{
			name: "the same count written again changes nothing",
			obs: with(func(a *Activity) {
				a.LastPulledAt, a.PullCount, a.PullsCountedAt, a.Source = sweep1.Add(-time.Hour), 7, sweep1, "loganalytics"
			}),
			want: with(func(a *Activity) {
				a.LastPushedAt, a.LastPulledAt, a.PullCount, a.PullsCountedAt, a.Source = push, sweep1.Add(-time.Hour), 7, sweep1, "loganalytics"
				a.PullSource = "loganalytics"
				a.ScanClaimedOn, a.ScanClaimedBy = "2025-04-01", "msg-1"
			}),
		},
		{
			name: "a later count replaces the count instead of adding to it",
			obs: with(func(a *Activity) {
				a.LastPulledAt, a.PullCount, a.PullsCountedAt, a.Source = sweep2.Add(-time.Minute), 9, sweep2, "loganalytics"
			}),
			want: with(func(a *Activity) {
				a.LastPushedAt, a.LastPulledAt, a.PullCount, a.PullsCountedAt, a.Source = push, sweep2.Add(-time.Minute), 9, sweep2, "loganalytics"
				a.PullSource = "loganalytics"
				a.ScanClaimedOn, a.ScanClaimedBy = "2025-04-01", "msg-1"
			}),
		},
		{
			name: "an older count arriving late keeps the newer count and last pull",
			obs: with(func(a *Activity) {
				a.LastPulledAt, a.PullCount, a.PullsCountedAt, a.Source = sweep1.Add(-time.Hour), 7, sweep1, "loganalytics"
			}),
			want: with(func(a *Activity) {
				a.LastPushedAt, a.LastPulledAt, a.PullCount, a.PullsCountedAt, a.Source = push, sweep2.Add(-time.Minute), 9, sweep2, "loganalytics"
				a.PullSource = "loganalytics"
				a.ScanClaimedOn, a.ScanClaimedBy = "2025-04-01", "msg-1"
			}),
		},
	}
	for _, step := range steps {
		t.Run(step.name, func(t *testing.T) {
			if err := s.RecordPulls(ctx, step.obs); err != nil {
				t.Fatal(err)
			}
			got, err := s.GetActivity(ctx, key.Registry, key.Repository, digest)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(step.want, got); diff != "" {
				t.Errorf("activity (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("a later push keeps the counted pulls", func(t *testing.T) {
		pushed := sweep2.Add(time.Hour)
		if err := s.RecordActivity(ctx, with(func(a *Activity) { a.LastPushedAt, a.Source = pushed, "tags" }), 0); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetActivity(ctx, key.Registry, key.Repository, digest)
		if err != nil {
			t.Fatal(err)
		}
		want := with(func(a *Activity) {
			a.LastPushedAt, a.LastPulledAt, a.PullCount, a.PullsCountedAt, a.Source = pushed, sweep2.Add(-time.Minute), 9, sweep2, "tags"
			a.PullSource = "loganalytics"
			a.ScanClaimedOn, a.ScanClaimedBy = "2025-04-01", "msg-1"
		})
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("activity (-want +got):\n%s", diff)
		}
	})
}
