package store

import (
	"context"
	"sort"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestListRepositoryActivityReadsOneRegistrysRepositoriesOnly(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	t0 := time.Date(2025, 4, 1, 9, 0, 0, 0, time.UTC)
	want := []RepositoryActivity{
		{Registry: "r.example", Repository: "a/b", LastUpdateTime: t0, ListedAt: t0.Add(time.Minute), Source: "acr"},
		{Registry: "r.example", Repository: "a/b/c", LastUpdateTime: t0.Add(time.Hour), ListedAt: t0.Add(2 * time.Hour), Source: "acr"},
		{Registry: "r.example", Repository: "z", LastUpdateTime: t0.Add(123456700), ListedAt: t0, Source: "acr"},
	}
	others := []RepositoryActivity{
		{Registry: "r.example:5000", Repository: "a/b", LastUpdateTime: t0, ListedAt: t0, Source: "acr"},
		{Registry: "other.example", Repository: "a/b", LastUpdateTime: t0, ListedAt: t0, Source: "acr"},
	}
	for _, a := range append(append([]RepositoryActivity{}, want...), others...) {
		if err := s.PutRepositoryActivity(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	// A digest row of one of the repositories must not be read as a repository.
	if err := s.RecordActivity(ctx, Activity{Registry: "r.example", Repository: "a/b", Digest: "sha256:x", LastPushedAt: t0}, 0); err != nil {
		t.Fatal(err)
	}

	got, err := s.ListRepositoryActivity(ctx, "r.example")
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(got, func(i, j int) bool { return got[i].Repository < got[j].Repository })
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ListRepositoryActivity (-want +got):\n%s", diff)
	}
	one, err := s.GetRepositoryActivity(ctx, "r.example", "a/b/c")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want[1], one); diff != "" {
		t.Errorf("GetRepositoryActivity (-want +got):\n%s", diff)
	}
}
