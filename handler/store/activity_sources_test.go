package store

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestActivityKeepsTheSourceOfEachTime(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	t0 := time.Date(2025, 4, 1, 9, 0, 0, 0, time.UTC)
	const reg, repo, digest = "r.example", "a/b", "sha256:x"
	steps := []struct {
		name  string
		obs   Activity
		pulls int64
		want  Activity
	}{
		{"a push from ACR records its time, source and platforms",
			Activity{LastPushedAt: t0, Source: "acr", PushSource: "acr", Platforms: "linux/amd64 sha256:y"}, 0,
			Activity{LastPushedAt: t0, Source: "acr", PushSource: "acr", Platforms: "linux/amd64 sha256:y"}},
		{"a pull keeps the push's source and adds its own",
			Activity{LastPulledAt: t0.Add(time.Hour), Source: "loganalytics", PullSource: "loganalytics"}, 2,
			Activity{LastPushedAt: t0, LastPulledAt: t0.Add(time.Hour), PullCount: 2, Source: "loganalytics", PushSource: "acr", PullSource: "loganalytics", Platforms: "linux/amd64 sha256:y"}},
		{"an older push from another source changes neither time nor source",
			Activity{LastPushedAt: t0.Add(-time.Hour), Source: "tags", PushSource: "tags"}, 0,
			Activity{LastPushedAt: t0, LastPulledAt: t0.Add(time.Hour), PullCount: 2, Source: "tags", PushSource: "acr", PullSource: "loganalytics", Platforms: "linux/amd64 sha256:y"}},
		{"a newer push from another source takes the time and the source",
			Activity{LastPushedAt: t0.Add(2 * time.Hour), Source: "webhook", PushSource: "webhook"}, 0,
			Activity{LastPushedAt: t0.Add(2 * time.Hour), LastPulledAt: t0.Add(time.Hour), PullCount: 2, Source: "webhook", PushSource: "webhook", PullSource: "loganalytics", Platforms: "linux/amd64 sha256:y"}},
	}
	for _, step := range steps {
		t.Run(step.name, func(t *testing.T) {
			step.obs.Registry, step.obs.Repository, step.obs.Digest = reg, repo, digest
			if err := s.RecordActivity(ctx, step.obs, step.pulls); err != nil {
				t.Fatal(err)
			}
			got, err := s.GetActivity(ctx, reg, repo, digest)
			if err != nil {
				t.Fatal(err)
			}
			step.want.Registry, step.want.Repository, step.want.Digest = reg, repo, digest
			if diff := cmp.Diff(step.want, got); diff != "" {
				t.Errorf("activity (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("UntrackedAt is set and cleared, and survives later observations", func(t *testing.T) {
		at := t0.Add(100 * 24 * time.Hour)
		if err := s.SetUntracked(ctx, reg, repo, digest, at); err != nil {
			t.Fatal(err)
		}
		if err := s.RecordActivity(ctx, Activity{Registry: reg, Repository: repo, Digest: digest, LastPulledAt: t0}, 1); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetActivity(ctx, reg, repo, digest)
		if err != nil {
			t.Fatal(err)
		}
		if !got.UntrackedAt.Equal(at) {
			t.Errorf("UntrackedAt = %s, want %s", got.UntrackedAt, at)
		}
		if err := s.SetUntracked(ctx, reg, repo, digest, time.Time{}); err != nil {
			t.Fatal(err)
		}
		if got, err = s.GetActivity(ctx, reg, repo, digest); err != nil || !got.UntrackedAt.IsZero() {
			t.Errorf("after clearing: UntrackedAt = %s, err %v; want zero", got.UntrackedAt, err)
		}
	})
	t.Run("SetUntracked on a digest without a row writes none", func(t *testing.T) {
		if err := s.SetUntracked(ctx, reg, repo, "sha256:none", t0); err != nil {
			t.Fatal(err)
		}
		if _, err := s.GetActivity(ctx, reg, repo, "sha256:none"); !errors.Is(err, ErrNotFound) {
			t.Errorf("GetActivity = %v, want ErrNotFound", err)
		}
	})
}

func TestRepositoryActivityIsNotADigest(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	t0 := time.Date(2025, 4, 1, 9, 0, 0, 0, time.UTC)
	if _, err := s.GetRepositoryActivity(ctx, "r.example", "a/b"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("before any listing: %v, want ErrNotFound", err)
	}
	want := RepositoryActivity{Registry: "r.example", Repository: "a/b", LastUpdateTime: t0, ListedAt: t0.Add(time.Minute), Source: "acr"}
	if err := s.PutRepositoryActivity(ctx, want); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordActivity(ctx, Activity{Registry: "r.example", Repository: "a/b", Digest: "sha256:x", LastPushedAt: t0}, 0); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetRepositoryActivity(ctx, "r.example", "a/b")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("repository activity (-want +got):\n%s", diff)
	}
	listed, err := s.ListActivity(ctx, "r.example", "a/b")
	if err != nil {
		t.Fatal(err)
	}
	var digests []string
	for _, a := range listed {
		digests = append(digests, a.Digest)
	}
	if diff := cmp.Diff([]string{"sha256:x"}, digests); diff != "" {
		t.Errorf("ListActivity digests (-want +got):\n%s", diff)
	}
}

func TestRepositoriesWithActivityAreThoseWithDigestRows(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	t0 := time.Date(2026, 3, 10, 6, 0, 0, 0, time.UTC)
	for _, a := range []Activity{
		{Registry: "r.example", Repository: "a", Digest: "sha256:1", LastPushedAt: t0},
		{Registry: "r.example", Repository: "a", Digest: "sha256:2", LastPushedAt: t0},
		{Registry: "r.example", Repository: "b/c", Digest: "sha256:1", LastPulledAt: t0},
		// Another registry whose name starts with this one's, and one that sorts next to it.
		{Registry: "r.example2", Repository: "x", Digest: "sha256:1", LastPushedAt: t0},
		{Registry: "r.exampla", Repository: "y", Digest: "sha256:1", LastPushedAt: t0},
	} {
		if err := s.RecordActivity(ctx, a, 0); err != nil {
			t.Fatal(err)
		}
	}
	// A repository's own row (ACR's last listing) is not digest activity.
	if err := s.PutRepositoryActivity(ctx, RepositoryActivity{Registry: "r.example", Repository: "listed/only", ListedAt: t0, Source: "acr"}); err != nil {
		t.Fatal(err)
	}
	got, err := s.RepositoriesWithActivity(ctx, "r.example")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]bool{"a": true, "b/c": true}, got); diff != "" {
		t.Errorf("repositories with activity (-want +got):\n%s", diff)
	}
}
