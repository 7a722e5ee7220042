package lifecycle

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tidewatch/tidewatch/handler/store"
)

func TestPushTag(t *testing.T) {
	at := t0.Add(time.Hour)
	tests := []struct {
		name        string
		view        []store.Tag
		wantRow     store.Tag
		wantChanged bool
	}{
		{
			name:        "a tag never seen is written at the digest",
			wantRow:     store.Tag{Name: "1", Digest: "sha256:b", ChangedAt: at},
			wantChanged: true,
		},
		{
			name:        "a tag at another digest moves, the old digest joining its history",
			view:        []store.Tag{{Name: "1", Digest: "sha256:a", ChangedAt: t0}},
			wantRow:     store.Tag{Name: "1", Digest: "sha256:b", ChangedAt: at, History: []store.TagMove{{Digest: "sha256:a", Until: at}}},
			wantChanged: true,
		},
		{
			name: "a tag changed after the push is newer and stays",
			view: []store.Tag{{Name: "1", Digest: "sha256:c", ChangedAt: at.Add(time.Minute)}},
		},
		{
			name: "a tag deleted after the push stays deleted",
			view: []store.Tag{{Name: "1", Digest: "sha256:b", ChangedAt: t0, Deleted: true, DeletedAt: at.Add(time.Minute)}},
		},
		{
			name:        "a tag deleted before the push is back",
			view:        []store.Tag{{Name: "1", Digest: "sha256:b", ChangedAt: t0, Deleted: true, DeletedAt: t0.Add(time.Minute)}},
			wantRow:     store.Tag{Name: "1", Digest: "sha256:b", ChangedAt: at},
			wantChanged: true,
		},
		{
			name: "the same push again changes nothing",
			view: []store.Tag{{Name: "1", Digest: "sha256:b", ChangedAt: at}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			row, after, changed := PushTag(tt.view, "1", "sha256:b", at)
			if changed != tt.wantChanged {
				t.Fatalf("changed = %v, want %v", changed, tt.wantChanged)
			}
			if !changed {
				if diff := cmp.Diff(tt.view, after); diff != "" {
					t.Errorf("view changed (-before +after):\n%s", diff)
				}
				return
			}
			if diff := cmp.Diff(tt.wantRow, row); diff != "" {
				t.Errorf("row (-want +got):\n%s", diff)
			}
			if got := TagsByDigest(after)["sha256:b"]; !cmp.Equal(got, []string{"1"}) {
				t.Errorf("view after the push tags sha256:b with %v, want [1]", got)
			}
		})
	}
}

func TestDeleteDigest(t *testing.T) {
	at := t0.Add(time.Hour)
	view := []store.Tag{
		{Name: "1", Digest: "sha256:a", ChangedAt: t0},
		{Name: "latest", Digest: "sha256:a", ChangedAt: t0},
		{Name: "2", Digest: "sha256:b", ChangedAt: t0},
		{Name: "next", Digest: "sha256:a", ChangedAt: at.Add(time.Minute)}, // re-pushed after the delete
	}
	rows, after := DeleteDigest(view, "sha256:a", at)
	want := []store.Tag{
		{Name: "1", Digest: "sha256:a", ChangedAt: t0, Deleted: true, DeletedAt: at},
		{Name: "latest", Digest: "sha256:a", ChangedAt: t0, Deleted: true, DeletedAt: at},
	}
	if diff := cmp.Diff(want, rows); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string][]string{"sha256:a": {"next"}, "sha256:b": {"2"}}, TagsByDigest(after)); diff != "" {
		t.Errorf("current tags after the delete (-want +got):\n%s", diff)
	}
	if again, _ := DeleteDigest(after, "sha256:a", at); len(again) != 0 {
		t.Errorf("deleting again writes %v, want nothing", again)
	}
}
