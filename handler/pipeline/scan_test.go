package pipeline_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tidewatch/tidewatch/handler/host"
	"github.com/tidewatch/tidewatch/handler/internal/testenv"
	"github.com/tidewatch/tidewatch/handler/pipeline"
	"github.com/tidewatch/tidewatch/handler/store"
)

// TestScanDuplicateDelivery delivers the same scan-task envelope twice, an hour apart:
// the second delivery must leave every row as the first wrote it, except the
// "last seen/scanned/matched" times, which move to the second delivery's clock.
func TestScanDuplicateDelivery(t *testing.T) {
	reg := testenv.StartRegistry(t)
	truth := loadSidecar(t, multiarch)
	push(t, multiarch, reg.Ref("demo/multi:1"))
	h := newHarness(t, reg.Host)

	env := delivery(pipeline.FuncScan, h.scanTask(t, "demo/multi", truth.IndexDigest, "1"), 1, host.HostEncoding)
	first := h.clock.Now()
	if status := h.call(t, pipeline.FuncScan, env); status != okStatus {
		t.Fatalf("first delivery: HTTP %d, want %d", status, okStatus)
	}
	imagesBefore := h.images(t, "demo/multi")
	findingsBefore := map[string]map[string]store.Finding{}
	for _, m := range truth.Manifests {
		findingsBefore[m.ManifestDigest] = h.findings(t, m.ManifestDigest)
		if len(findingsBefore[m.ManifestDigest]) == 0 {
			t.Fatalf("no findings for %s (%s) after the first delivery", m.ManifestDigest, m.Platform)
		}
	}

	second := first.Add(time.Hour)
	h.clock.Set(second)
	if status := h.call(t, pipeline.FuncScan, env); status != okStatus {
		t.Fatalf("second delivery: HTTP %d, want %d", status, okStatus)
	}

	wantImages := map[string]store.Image{}
	for d, img := range imagesBefore {
		img.LastScannedAt, img.LastMatchedAt = second, second
		wantImages[d] = img
	}
	if diff := cmp.Diff(wantImages, h.images(t, "demo/multi")); diff != "" {
		t.Errorf("images rows after the duplicate delivery (-want +got):\n%s", diff)
	}
	for digest, before := range findingsBefore {
		want := map[string]store.Finding{}
		for k, f := range before {
			if !f.FirstSeenAt.Equal(first) || !f.LastSeenAt.Equal(first) {
				t.Errorf("%s %s: first delivery wrote FirstSeenAt %v LastSeenAt %v, want both %v",
					digest, k, f.FirstSeenAt, f.LastSeenAt, first)
			}
			f.LastSeenAt = second
			want[k] = f
		}
		if diff := cmp.Diff(want, h.findings(t, digest)); diff != "" {
			t.Errorf("findings of %s after the duplicate delivery (-want +got):\n%s", digest, diff)
		}
	}
}
