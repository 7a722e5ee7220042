package store

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestPutTags(t *testing.T) {
	counter := &batchCounter{}
	s := newTestStore(t, WithPerCallPolicy(counter))
	ctx := context.Background()
	const reg, repo = "r.example", "team/app"
	t0 := time.Date(2025, 5, 1, 0, 0, 0, 0, time.UTC)
	var tags []Tag
	for i := range 150 {
		tags = append(tags, Tag{Name: fmt.Sprintf("v%03d", i), Digest: "sha256:b", ChangedAt: t0.Add(time.Hour),
			History: []TagMove{{Digest: "sha256:a", Until: t0.Add(time.Hour)}}})
	}
	tags[0].Deleted, tags[0].DeletedAt = true, t0.Add(2*time.Hour)
	if err := s.PutTags(ctx, reg, repo, tags); err != nil {
		t.Fatal(err)
	}
	t.Run("150 new tags land in two transactions", func(t *testing.T) {
		if diff := cmp.Diff([]int{100, 50}, counter.take()); diff != "" {
			t.Errorf("transaction sizes (-want +got):\n%s", diff)
		}
	})
	listed, err := s.ListTags(ctx, reg, repo)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("rows round-trip with history and deletion in one listing", func(t *testing.T) {
		want := make([]Tag, len(tags))
		for i, tag := range tags {
			tag.Registry, tag.Repository = reg, repo
			want[i] = tag
		}
		if diff := cmp.Diff(want, listed, cmpopts.IgnoreFields(Tag{}, "ETag")); diff != "" {
			t.Errorf("tags (-want +got):\n%s", diff)
		}
	})
	t.Run("a row read at its ETag can be replaced", func(t *testing.T) {
		next := listed[1]
		next.History = append(next.History, TagMove{Digest: next.Digest, Until: t0.Add(3 * time.Hour)})
		next.Digest = "sha256:c"
		if err := s.PutTags(ctx, reg, repo, []Tag{next}); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetTag(ctx, reg, repo, next.Name)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(next, got, cmpopts.IgnoreFields(Tag{}, "ETag")); diff != "" {
			t.Errorf("tag (-want +got):\n%s", diff)
		}
	})
	t.Run("a stale ETag is a conflict", func(t *testing.T) {
		stale := listed[1]
		stale.Digest = "sha256:d"
		if err := s.PutTags(ctx, reg, repo, []Tag{stale}); !errors.Is(err, ErrConflict) {
			t.Fatalf("PutTags with a stale ETag: %v, want ErrConflict", err)
		}
	})
	t.Run("creating a row that exists is a conflict", func(t *testing.T) {
		again := tags[2]
		if err := s.PutTags(ctx, reg, repo, []Tag{again}); !errors.Is(err, ErrConflict) {
			t.Fatalf("PutTags creating an existing row: %v, want ErrConflict", err)
		}
	})
}
