package store

import (
	"context"
	"errors"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestObserveTag(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	t0 := time.Date(2025, 5, 1, 0, 0, 0, 0, time.UTC)
	steps := []struct {
		name   string
		digest string
		want   TagChange
	}{
		{"a tag seen for the first time is new", "sha256:a", TagChange{New: true}},
		{"the same digest again is no change", "sha256:a", TagChange{}},
		{"another digest is a move from the old one", "sha256:b", TagChange{Moved: true, PreviousDigest: "sha256:a"}},
		{"moving back is a move too", "sha256:a", TagChange{Moved: true, PreviousDigest: "sha256:b"}},
	}
	for i, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			got, err := s.ObserveTag(ctx, "r.example", "app", "latest", st.digest, t0.Add(time.Duration(i)*time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(st.want, got); diff != "" {
				t.Errorf("change (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("the row holds the latest move", func(t *testing.T) {
		got, err := s.GetTag(ctx, "r.example", "app", "latest")
		if err != nil {
			t.Fatal(err)
		}
		got.ETag = ""
		want := Tag{Registry: "r.example", Repository: "app", Name: "latest", Digest: "sha256:a", PreviousDigest: "sha256:b", ChangedAt: t0.Add(3 * time.Hour)}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("tag (-want +got):\n%s", diff)
		}
	})
	t.Run("a stale ETag is a conflict", func(t *testing.T) {
		stale, err := s.GetTag(ctx, "r.example", "app", "latest")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.ObserveTag(ctx, "r.example", "app", "latest", "sha256:c", t0); err != nil {
			t.Fatal(err)
		}
		stale.Digest = "sha256:d"
		if err := s.PutTag(ctx, stale); !errors.Is(err, ErrConflict) {
			t.Fatalf("PutTag with stale ETag: %v, want ErrConflict", err)
		}
		stale.ETag = ""
		if err := s.PutTag(ctx, stale); !errors.Is(err, ErrConflict) {
			t.Fatalf("PutTag creating an existing row: %v, want ErrConflict", err)
		}
	})
}

func TestConcurrentTagObserversDoNotLosePreviousDigest(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	now := time.Date(2025, 5, 1, 0, 0, 0, 0, time.UTC)
	if _, err := s.ObserveTag(ctx, "r.example", "app", "v1", "sha256:start", now); err != nil {
		t.Fatal(err)
	}
	digests := []string{"sha256:b", "sha256:c", "sha256:d", "sha256:e"}
	changes := make([]TagChange, len(digests))
	var wg sync.WaitGroup
	for i, d := range digests {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := s.ObserveTag(ctx, "r.example", "app", "v1", d, now)
			if err != nil {
				t.Error(err)
			}
			changes[i] = c
		}()
	}
	wg.Wait()
	final, err := s.GetTag(ctx, "r.example", "app", "v1")
	if err != nil {
		t.Fatal(err)
	}
	// Serialised moves form one chain start → x → y → z → final: every observer moved
	// from a distinct predecessor, and the row's PreviousDigest is the last of them.
	var prevs []string
	for i, c := range changes {
		if !c.Moved {
			t.Fatalf("observer of %s saw %+v, want a move", digests[i], c)
		}
		prevs = append(prevs, c.PreviousDigest)
	}
	var chain []string
	for _, d := range append([]string{"sha256:start"}, digests...) {
		if d != final.Digest {
			chain = append(chain, d)
		}
	}
	sort.Strings(prevs)
	sort.Strings(chain)
	if diff := cmp.Diff(chain, prevs); diff != "" {
		t.Errorf("previous digests are not a chain (-want +got):\n%s", diff)
	}
	var finalMove TagChange
	for i, d := range digests {
		if d == final.Digest {
			finalMove = changes[i]
		}
	}
	if final.PreviousDigest != finalMove.PreviousDigest {
		t.Errorf("row PreviousDigest = %s, but the final move came from %s", final.PreviousDigest, finalMove.PreviousDigest)
	}
}
