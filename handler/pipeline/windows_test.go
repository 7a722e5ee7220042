package pipeline_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tidewatch/tidewatch/handler/config"
	"github.com/tidewatch/tidewatch/handler/internal/testenv"
	"github.com/tidewatch/tidewatch/handler/store"
)

// TestFindingsFollowTheActivityWindows scans an image pushed to a fake ACR (serving
// the image from a real docker-registry), then moves the clock past the push window:
// its findings are untracked and its images row counts nothing active; a re-import
// brings them back; past the window again, a pull brings them back.
func TestFindingsFollowTheActivityWindows(t *testing.T) {
	reg := testenv.StartRegistry(t)
	push(t, minbase, reg.Ref("team/api:1"))
	base := loadSidecar(t, minbase)
	wantActive := expected(t, testenv.NewDebianOracle(t), base, "linux/amd64")
	f := testenv.StartACR(t, reg.Host)
	h := newACRHarness(t, f)
	start := h.clock.Now().UTC()
	pushed := start.Add(-time.Hour)
	f.SetManifest("team/api", testenv.ACRManifest{Digest: base.ManifestDigest, CreatedTime: pushed, LastUpdateTime: pushed, Tags: []string{"1"}})
	h.sweep(t, "team/api")

	untracked := rowState{State: "resolved", Reason: "untracked"}
	list := func(t *testing.T, at time.Time) {
		t.Helper()
		h.clock.Set(at)
		task := store.ListTask{Registry: f.Host, Repository: "team/api", RunID: "test-run",
			Window: store.Window{PushDays: config.DefaultPushDays, PullDays: config.DefaultPullDays}}
		if status := h.runList(t, task); status != okStatus {
			t.Fatalf("listrepo: HTTP %d", status)
		}
	}
	check := func(t *testing.T, want rowState, active bool) {
		t.Helper()
		if diff := cmp.Diff(allIn(wantActive, want), h.states(t, "team/api", base.ManifestDigest)); diff != "" {
			t.Errorf("findings (-want +got):\n%s", diff)
		}
		img, ok := h.images(t, "team/api")[base.ManifestDigest]
		if !ok {
			t.Fatal("no images row")
		}
		if counted := img.Counts != (store.Counts{}); counted != active {
			t.Errorf("images row counts %+v, want active findings counted: %v", img.Counts, active)
		}
		assertCountsMatchActiveFindings(t, h)
	}
	pushWindow := time.Duration(config.DefaultPushDays) * 24 * time.Hour

	t.Run("a scanned digest pushed an hour ago has its findings active", func(t *testing.T) {
		check(t, active, true)
	})
	left := start.Add(pushWindow + time.Hour)
	t.Run("a digest pushed longer ago than the push window and never pulled is untracked", func(t *testing.T) {
		list(t, left)
		check(t, untracked, false)
	})
	t.Run("listing it again changes nothing", func(t *testing.T) {
		list(t, left.Add(time.Hour))
		check(t, untracked, false)
	})
	t.Run("a re-import (lastUpdateTime new, createdTime old) reactivates its findings", func(t *testing.T) {
		imported := left.Add(90 * time.Minute)
		f.SetManifest("team/api", testenv.ACRManifest{Digest: base.ManifestDigest, CreatedTime: pushed, LastUpdateTime: imported, Tags: []string{"1"}})
		list(t, left.Add(2*time.Hour))
		check(t, active, true)
	})
	again := left.Add(pushWindow + 3*time.Hour)
	t.Run("past the window again it is untracked again", func(t *testing.T) {
		list(t, again)
		check(t, untracked, false)
	})
	t.Run("a new tag on it that ACR does not date as a push leaves it untracked", func(t *testing.T) {
		f.SetManifest("team/api", testenv.ACRManifest{Digest: base.ManifestDigest, CreatedTime: pushed, LastUpdateTime: left.Add(90 * time.Minute), Tags: []string{"1", "2"}})
		list(t, again.Add(time.Minute))
		check(t, untracked, false)
	})
	t.Run("a pull within the pull window reactivates its findings", func(t *testing.T) {
		pull := store.Activity{Registry: f.Host, Repository: "team/api", Digest: base.ManifestDigest,
			LastPulledAt: again.Add(10 * time.Minute), Source: "loganalytics", PullSource: "loganalytics"}
		if err := h.store.RecordActivity(context.Background(), pull, 1); err != nil {
			t.Fatal(err)
		}
		list(t, again.Add(time.Hour))
		check(t, active, true)
		act, err := h.store.GetActivity(context.Background(), f.Host, "team/api", base.ManifestDigest)
		if err != nil {
			t.Fatal(err)
		}
		type sources struct{ Push, Pull string }
		if diff := cmp.Diff(sources{"acr", "loganalytics"}, sources{act.PushSource, act.PullSource}); diff != "" {
			t.Errorf("activity sources (-want +got):\n%s", diff)
		}
	})
}
