package lifecycle

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/tidewatch/tidewatch/handler/store"
)

func TestReconcileTags(t *testing.T) {
	at := t0.Add(time.Hour)
	tests := []struct {
		name       string
		view       []store.Tag
		listing    map[string]string
		wantRows   []store.Tag
		wantPushed []string
	}{
		{
			name:       "a tag never seen is new and a push",
			listing:    map[string]string{"1": "sha256:a"},
			wantRows:   []store.Tag{{Name: "1", Digest: "sha256:a", ChangedAt: at}},
			wantPushed: []string{"sha256:a"},
		},
		{
			name:    "a tag at the same digest changes nothing",
			view:    []store.Tag{{Name: "1", Digest: "sha256:a", ChangedAt: t0}},
			listing: map[string]string{"1": "sha256:a"},
		},
		{
			name:    "a moved tag keeps its previous digest in its history",
			view:    []store.Tag{{Name: "1", Digest: "sha256:b", ChangedAt: t0, History: []store.TagMove{{Digest: "sha256:a", Until: t0}}}},
			listing: map[string]string{"1": "sha256:c"},
			wantRows: []store.Tag{{Name: "1", Digest: "sha256:c", ChangedAt: at,
				History: []store.TagMove{{Digest: "sha256:a", Until: t0}, {Digest: "sha256:b", Until: at}}}},
			wantPushed: []string{"sha256:c"},
		},
		{
			name:     "a tag no longer listed is marked deleted",
			view:     []store.Tag{{Name: "1", Digest: "sha256:a", ChangedAt: t0}},
			listing:  map[string]string{},
			wantRows: []store.Tag{{Name: "1", Digest: "sha256:a", ChangedAt: t0, Deleted: true, DeletedAt: at}},
		},
		{
			name:    "a deleted tag stays deleted without a new row",
			view:    []store.Tag{{Name: "1", Digest: "sha256:a", ChangedAt: t0, Deleted: true, DeletedAt: t0}},
			listing: map[string]string{},
		},
		{
			name:    "a deleted tag listed again at another digest comes back moved",
			view:    []store.Tag{{Name: "1", Digest: "sha256:a", ChangedAt: t0, Deleted: true, DeletedAt: t0}},
			listing: map[string]string{"1": "sha256:b"},
			wantRows: []store.Tag{{Name: "1", Digest: "sha256:b", ChangedAt: at,
				History: []store.TagMove{{Digest: "sha256:a", Until: at}}}},
			wantPushed: []string{"sha256:b"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ReconcileTags(tt.view, tt.listing, at)
			if diff := cmp.Diff(tt.wantRows, got.Rows, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("rows (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantPushed, got.Pushed, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("pushes (-want +got):\n%s", diff)
			}
			again := ReconcileTags(got.View, tt.listing, at.Add(time.Hour))
			if len(again.Rows) != 0 || len(again.Pushed) != 0 {
				t.Errorf("the same listing again changed %+v", again)
			}
		})
	}
	t.Run("history is bounded", func(t *testing.T) {
		view := []store.Tag{{Name: "1", Digest: "sha256:0"}}
		for i := 1; i <= maxTagHistory+5; i++ {
			view = ReconcileTags(view, map[string]string{"1": fmt.Sprintf("sha256:%d", i)}, at).View
		}
		h := view[0].History
		if len(h) != maxTagHistory || h[len(h)-1].Digest != fmt.Sprintf("sha256:%d", maxTagHistory+4) {
			t.Errorf("history of %d entries ending %v, want %d ending sha256:%d", len(h), h[len(h)-1], maxTagHistory, maxTagHistory+4)
		}
	})
}

func TestReleases(t *testing.T) {
	tests := []struct {
		name string
		view []store.Tag
		want []release
	}{
		{"a digest left by its only tag is released to the tag's digest",
			[]store.Tag{tag("1", "sha256:c", "sha256:a", "sha256:b")},
			[]release{{Digest: "sha256:a", Tag: "1", At: t0.Add(time.Minute), By: "sha256:c"},
				{Digest: "sha256:b", Tag: "1", At: t0.Add(2 * time.Minute), By: "sha256:c"}}},
		{"a digest another tag still points at is not released",
			[]store.Tag{tag("1", "sha256:b", "sha256:a"), tag("2", "sha256:a")}, []release{}},
		{"the tag that left a digest last decides",
			[]store.Tag{tag("1", "sha256:b", "sha256:a"), tag("2", "sha256:c", "sha256:x", "sha256:a")},
			[]release{{Digest: "sha256:a", Tag: "2", At: t0.Add(2 * time.Minute), By: "sha256:c"},
				{Digest: "sha256:x", Tag: "2", At: t0.Add(time.Minute), By: "sha256:c"}}},
		{"a deleted tag releases its digest as deleted",
			[]store.Tag{deleted(tag("1", "sha256:a"), t0.Add(time.Hour))},
			[]release{{Digest: "sha256:a", Tag: "1", At: t0.Add(time.Hour), Deleted: true}}},
		{"moving back to a digest makes it tracked again",
			[]store.Tag{tag("1", "sha256:a", "sha256:a", "sha256:b")},
			[]release{{Digest: "sha256:b", Tag: "1", At: t0.Add(2 * time.Minute), By: "sha256:a"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, releases(tt.view), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("releases (-want +got):\n%s", diff)
			}
		})
	}
}
