package store

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestRecordActivity(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	push := time.Date(2025, 4, 1, 9, 0, 0, 0, time.UTC)
	pull1 := push.Add(48 * time.Hour)
	pull2 := push.Add(24 * time.Hour) // arrives late, older than pull1
	obs := []struct {
		a     Activity
		pulls int64
	}{
		{Activity{Registry: "r.example", Repository: "a/b", Digest: "sha256:x", LastPushedAt: push, Source: "webhook"}, 0},
		{Activity{Registry: "r.example", Repository: "a/b", Digest: "sha256:x", LastPulledAt: pull1, Source: "webhook"}, 3},
		{Activity{Registry: "r.example", Repository: "a/b", Digest: "sha256:x", LastPulledAt: pull2}, 2},
	}
	for _, o := range obs {
		if err := s.RecordActivity(ctx, o.a, o.pulls); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.GetActivity(ctx, "r.example", "a/b", "sha256:x")
	if err != nil {
		t.Fatal(err)
	}
	want := Activity{Registry: "r.example", Repository: "a/b", Digest: "sha256:x", LastPushedAt: push, LastPulledAt: pull1, PullCount: 5, Source: "webhook"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("activity (-want +got):\n%s", diff)
	}
	listed, err := s.ListActivity(ctx, "r.example", "a/b")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]Activity{want}, listed); diff != "" {
		t.Errorf("listed (-want +got):\n%s", diff)
	}
}

func TestClaimScan(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	day := time.Date(2025, 4, 1, 23, 0, 0, 0, time.UTC)

	t.Run("exactly one of many concurrent claimers wins", func(t *testing.T) {
		const claimers = 8
		var wins atomic.Int32
		var wg sync.WaitGroup
		for range claimers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ok, err := s.ClaimScan(ctx, "r.example", "app", "sha256:c", day)
				if err != nil {
					t.Error(err)
				}
				if ok {
					wins.Add(1)
				}
			}()
		}
		wg.Wait()
		if wins.Load() != 1 {
			t.Fatalf("%d claimers won, want exactly 1", wins.Load())
		}
	})

	steps := []struct {
		name string
		at   time.Time
		want bool
	}{
		{"a time that is already tomorrow in its own zone is still today in UTC", day.In(time.FixedZone("UTC+2", 2*3600)), false},
		{"the next UTC day can be claimed again", day.Add(2 * time.Hour), true},
		{"and only once", day.Add(3 * time.Hour), false},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			got, err := s.ClaimScan(ctx, "r.example", "app", "sha256:c", st.at)
			if err != nil {
				t.Fatal(err)
			}
			if got != st.want {
				t.Errorf("ClaimScan at %v = %v, want %v", st.at, got, st.want)
			}
		})
	}

	t.Run("claiming keeps recorded activity", func(t *testing.T) {
		pushed := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
		if err := s.RecordActivity(ctx, Activity{Registry: "r.example", Repository: "app", Digest: "sha256:d", LastPushedAt: pushed}, 4); err != nil {
			t.Fatal(err)
		}
		if ok, err := s.ClaimScan(ctx, "r.example", "app", "sha256:d", day); err != nil || !ok {
			t.Fatalf("ClaimScan = %v, %v; want true", ok, err)
		}
		got, err := s.GetActivity(ctx, "r.example", "app", "sha256:d")
		if err != nil {
			t.Fatal(err)
		}
		want := Activity{Registry: "r.example", Repository: "app", Digest: "sha256:d", LastPushedAt: pushed, PullCount: 4, ScanClaimedOn: "2025-04-01"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("activity (-want +got):\n%s", diff)
		}
	})
}
