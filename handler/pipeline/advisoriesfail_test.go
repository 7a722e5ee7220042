package pipeline_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tidewatch/tidewatch/handler/host"
	"github.com/tidewatch/tidewatch/handler/internal/testenv"
)

func TestASyncFailingWith500sUntilTheBudgetKeepsThePreviousGenerationServingAndRunsSaysWhy(t *testing.T) {
	reg := testenv.StartRegistry(t)
	base := loadSidecar(t, minbase)
	push(t, minbase, reg.Ref("demo/base:1"))
	b := startBucket(t)
	h := newHarness(t, reg.Host, withAdvisories(b.URL))
	if status := h.syncAdvisories(t); status != okStatus {
		t.Fatalf("first sync: HTTP %d", status)
	}
	serving, checkedAt := h.pointerOf(t)
	if status := h.scan(t, "demo/base", base.ManifestDigest, "1"); status != okStatus {
		t.Fatalf("scan: HTTP %d", status)
	}

	// The next tick runs on an instance with a short budget, and the source answers
	// 500 to every request until it is spent.
	b.failing.Store(true)
	later := newHarness(t, reg.Host, sharingStorageWith(h), withAdvisories(b.URL), withHostOptions(host.WithBudget(2*time.Second)))
	later.clock.Set(checkedAt.Add(2 * time.Hour))
	if status := later.syncAdvisories(t); status != http.StatusInternalServerError {
		t.Fatalf("failing sync: HTTP %d, want %d so the host tries again", status, http.StatusInternalServerError)
	}
	if got := b.answers()[http.StatusInternalServerError]; got < 2 {
		t.Errorf("the source answered %d 500s, want the sync to have retried", got)
	}

	t.Run("the runs row counts one failure naming the 500 and the generation that keeps serving, two hours old", func(t *testing.T) {
		run := later.advisoriesRun(t)
		if run.Failed != 1 || !strings.Contains(run.Failures, "500") {
			t.Errorf("advisories run = %+v, want one failure naming the 500", run)
		}
		if diff := cmp.Diff(used{serving, checkedAt}, used{run.Generation, run.AdvisoryCheckedAt}); diff != "" {
			t.Errorf("advisories run generation (-want +got):\n%s", diff)
		}
		if run.AdvisoryAgeMinutes != 120 {
			t.Errorf("AdvisoryAgeMinutes = %d, want 120", run.AdvisoryAgeMinutes)
		}
	})
	t.Run("the pointer is as it was and scans still use that generation", func(t *testing.T) {
		if gen, checked := h.pointerOf(t); gen != serving || !checked.Equal(checkedAt) {
			t.Errorf("pointer = %s checked %v, want %s checked %v", gen, checked, serving, checkedAt)
		}
		h.clock.Set(checkedAt.Add(3 * time.Hour)) // past the pointer recheck: read again
		if status := h.scan(t, "demo/base", base.ManifestDigest, "1"); status != okStatus {
			t.Fatalf("scan after the failed sync: HTTP %d", status)
		}
		if img := h.images(t, "demo/base")[base.ManifestDigest]; img.Generation != serving || !img.LastScannedAt.Equal(h.clock.Now()) {
			t.Errorf("images row = %+v, want scanned now with generation %s", img, serving)
		}
	})
}
