package pipeline

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tidewatch/tidewatch/handler/inventory"
	"github.com/tidewatch/tidewatch/handler/store"
)

func TestADigestIsDueForAScanOnlyWhenItsActivityAndRowsSaySo(t *testing.T) {
	window := store.Window{PushDays: 7, PullDays: 30}
	today := testNow.Format(time.DateOnly)
	yesterday := testNow.AddDate(0, 0, -1).Format(time.DateOnly)
	pushedHourAgo := store.Activity{LastPushedAt: testNow.Add(-time.Hour)}
	scanned := func(status string, at time.Time, generation string) store.Image {
		return store.Image{Digest: digestA, Status: status, LastScannedAt: at, Generation: generation}
	}
	fresh := testNow.Add(-2 * time.Hour)
	stored := func(img store.Image, analyzer string) store.Image {
		img.InventoryRef, img.Analyzer = "inventories/"+img.Digest+".json.gz", analyzer
		return img
	}
	stale := testNow.Add(-25 * time.Hour)
	type want struct {
		Reason string
		Due    bool
		Mine   bool
	}
	tests := []struct {
		name       string
		act        store.Activity
		images     []store.Image
		generation string
		want       want
	}{
		{name: "a digest pushed inside the push window and never scanned is due for the push",
			act: pushedHourAgo, want: want{Reason: "push", Due: true}},
		{name: "a digest pulled inside the pull window and never scanned is due for the pull",
			act: store.Activity{LastPulledAt: testNow.AddDate(0, 0, -20)}, want: want{Reason: "pull", Due: true}},
		{name: "a digest pushed before the push window and never pulled is not due",
			act: store.Activity{LastPushedAt: testNow.AddDate(0, 0, -8)}},
		{name: "a digest pulled before the pull window is not due",
			act: store.Activity{LastPulledAt: testNow.AddDate(0, 0, -31)}},
		{name: "a digest with no push or pull time is not due",
			act: store.Activity{}},
		{name: "a digest pushed exactly at the window's edge is still due",
			act: store.Activity{LastPushedAt: testNow.AddDate(0, 0, -7)}, want: want{Reason: "push", Due: true}},
		{name: "a digest claimed today by this message is not due and is mine",
			act:  store.Activity{LastPushedAt: pushedHourAgo.LastPushedAt, ScanClaimedOn: today, ScanClaimedBy: "msg-1"},
			want: want{Mine: true}},
		{name: "a digest claimed today by another message is not due and not mine",
			act: store.Activity{LastPushedAt: pushedHourAgo.LastPushedAt, ScanClaimedOn: today, ScanClaimedBy: "msg-2"}},
		{name: "a digest claimed today by nobody in particular is not mine",
			act: store.Activity{LastPushedAt: pushedHourAgo.LastPushedAt, ScanClaimedOn: today}},
		{name: "a digest claimed yesterday and never scanned is due again",
			act:  store.Activity{LastPushedAt: pushedHourAgo.LastPushedAt, ScanClaimedOn: yesterday, ScanClaimedBy: "msg-1"},
			want: want{Reason: "push", Due: true}},
		{name: "a digest scanned two hours ago with the current generation is not due",
			act: pushedHourAgo, images: []store.Image{scanned("scanned", fresh, "gen-1")}, generation: "gen-1"},
		{name: "a digest scanned more than a day ago is due for a rescan",
			act: pushedHourAgo, images: []store.Image{scanned("scanned", testNow.Add(-25*time.Hour), "gen-1")}, generation: "gen-1",
			want: want{Reason: "rescan", Due: true}},
		{name: "a digest scanned with an older advisory generation is due for a rescan",
			act: pushedHourAgo, images: []store.Image{scanned("scanned", fresh, "gen-0")}, generation: "gen-1",
			want: want{Reason: "rescan", Due: true}},
		{name: "a digest's generation is not judged before advisories are loaded",
			act: pushedHourAgo, images: []store.Image{scanned("scanned", fresh, "gen-0")}, generation: ""},
		{name: "a digest whose row is failed is due for a rescan",
			act: pushedHourAgo, images: []store.Image{scanned("failed", fresh, "gen-1")}, generation: "gen-1",
			want: want{Reason: "rescan", Due: true}},
		{name: "a digest that failed since its last good scan is due for a rescan",
			act: pushedHourAgo, generation: "gen-1",
			images: []store.Image{{Digest: digestA, Status: "scanned", LastScannedAt: fresh, Generation: "gen-1",
				LastError: "registry down", LastErrorAt: fresh.Add(time.Minute)}},
			want: want{Reason: "rescan", Due: true}},
		{name: "a digest whose error is older than its last good scan is not due",
			act: pushedHourAgo, generation: "gen-1",
			images: []store.Image{{Digest: digestA, Status: "scanned", LastScannedAt: fresh, Generation: "gen-1",
				LastError: "registry down", LastErrorAt: fresh.Add(-time.Minute)}}},
		{name: "a digest whose scan is incomplete is settled and not due",
			act: pushedHourAgo, images: []store.Image{scanned("incomplete", fresh, "gen-1")}, generation: "gen-1"},
		{name: "a digest whose platform is unsupported is settled and not due",
			act: pushedHourAgo, images: []store.Image{scanned("unsupported", fresh, "gen-1")}, generation: "gen-1"},
		{name: "an index with one settled platform and one failed platform is due for a rescan",
			act: pushedHourAgo, generation: "gen-1",
			images: []store.Image{
				{Digest: digestB, IndexDigest: digestA, Status: "scanned", LastScannedAt: fresh, Generation: "gen-1"},
				{Digest: digestC, IndexDigest: digestA, Status: "failed", LastScannedAt: fresh, Generation: "gen-1"},
			},
			want: want{Reason: "rescan", Due: true}},
		{name: "a digest matched more than a day ago whose inventory is current is due for a rematch, not a scan",
			act: pushedHourAgo, images: []store.Image{stored(scanned("scanned", stale, "gen-1"), inventory.Analyzer)}, generation: "gen-1",
			want: want{Reason: "rematch", Due: true}},
		{name: "a digest matched with another generation whose inventory is current is due for a rematch",
			act: pushedHourAgo, images: []store.Image{stored(scanned("incomplete", fresh, "gen-0"), inventory.Analyzer)}, generation: "gen-1",
			want: want{Reason: "rematch", Due: true}},
		{name: "a digest re-matched an hour ago after a scan two days ago is not due",
			act: pushedHourAgo, generation: "gen-1",
			images: []store.Image{func() store.Image {
				img := stored(scanned("scanned", testNow.Add(-48*time.Hour), "gen-1"), inventory.Analyzer)
				img.LastMatchedAt = testNow.Add(-time.Hour)
				return img
			}()}},
		{name: "a stale digest whose inventory an older analyzer wrote is due for a scan",
			act: pushedHourAgo, images: []store.Image{stored(scanned("scanned", stale, "gen-1"), "tidewatch-layer/1 os/dpkg@0")}, generation: "gen-1",
			want: want{Reason: "rescan", Due: true}},
		{name: "a stale digest without a stored inventory is due for a scan",
			act: pushedHourAgo, images: []store.Image{scanned("scanned", stale, "gen-1")}, generation: "gen-1",
			want: want{Reason: "rescan", Due: true}},
		{name: "a stale index with one platform lacking an inventory is due for a scan",
			act: pushedHourAgo, generation: "gen-1",
			images: []store.Image{
				stored(store.Image{Digest: digestB, IndexDigest: digestA, Status: "scanned", LastScannedAt: stale, Generation: "gen-1"}, inventory.Analyzer),
				{Digest: digestC, IndexDigest: digestA, Status: "scanned", LastScannedAt: stale, Generation: "gen-1"},
			},
			want: want{Reason: "rescan", Due: true}},
		{name: "a digest that failed since its last good scan is scanned even with a current inventory",
			act: pushedHourAgo, generation: "gen-1",
			images: []store.Image{func() store.Image {
				img := stored(scanned("scanned", stale, "gen-1"), inventory.Analyzer)
				img.LastErrorAt = stale.Add(time.Minute)
				return img
			}()},
			want: want{Reason: "rescan", Due: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reason, due, mine := scanDue(tt.act, window, tt.images, tt.generation, "msg-1", testNow)
			if diff := cmp.Diff(tt.want, want{Reason: reason, Due: due, Mine: mine}); diff != "" {
				t.Errorf("scanDue (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDueForScanReadsTheDigestsOwnActivityRow(t *testing.T) {
	task := store.ListTask{Registry: testRegistry, Repository: testRepo, Window: store.Window{PushDays: 7, PullDays: 30}}
	tests := []struct {
		name     string
		activity []store.Activity
		wantDue  bool
	}{
		{name: "a digest without an activity row is not due", wantDue: false},
		{name: "a digest whose activity row records a recent push is due",
			activity: []store.Activity{{Registry: testRegistry, Repository: testRepo, Digest: digestA, LastPushedAt: testNow.Add(-time.Hour)}},
			wantDue:  true},
		{name: "a digest pushed recently in another repository is not due in this one",
			activity: []store.Activity{{Registry: testRegistry, Repository: "other", Digest: digestA, LastPushedAt: testNow.Add(-time.Hour)}},
			wantDue:  false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMemStore()
			for _, a := range tt.activity {
				m.activity[key(a.Registry, a.Repository, a.Digest)] = a
			}
			p := unitPipeline(t, m, fakeRegistry{})
			acts, err := p.readActivity(context.Background(), task)
			if err != nil {
				t.Fatal(err)
			}
			_, due, _ := p.dueForScan(acts, task, digestA, nil, "msg-1", testNow)
			if due != tt.wantDue {
				t.Errorf("due = %v, want %v", due, tt.wantDue)
			}
		})
	}
}
